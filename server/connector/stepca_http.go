package connector

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// httpClient returns a client that never follows redirects, over a
// transport with tlsConf.
func (s *StepCA) httpClient(tlsConf *tls.Config) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   s.cfg.timeout,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			TLSClientConfig:       tlsConf,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   s.cfg.timeout,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// call sends one request, JSON-encoding in if it is not nil, and returns the
// status and the body (bounded). Transport failures come back as connector
// errors.
func (s *StepCA) call(ctx context.Context, client *http.Client, method, path string, in any) (int, []byte, error) {
	reqCtx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, s.fail(KindMisconfigured, "the request could not be encoded", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, s.cfg.base+path, body)
	if err != nil {
		return 0, nil, s.fail(KindMisconfigured, "the request could not be built", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mattermost-plugin-certs")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, s.transportError(ctx, method, path, err)
	}
	defer resp.Body.Close()
	limit := int64(stepCAMaxBody)
	if resp.StatusCode >= 300 {
		limit = stepCAMaxErrorBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, s.transportError(ctx, method, path, err)
	}
	if int64(len(data)) > limit {
		if resp.StatusCode >= 300 {
			return resp.StatusCode, data[:limit], nil
		}
		return 0, nil, s.fail(KindMisconfigured, "the certificate authority's answer is too large",
			fmt.Errorf("%s %s%s: body over %d bytes", method, s.cfg.base, path, limit))
	}
	return resp.StatusCode, data, nil
}

// transportError classifies a failed request.
func (s *StepCA) transportError(ctx context.Context, method, path string, err error) error {
	if ctx.Err() != nil {
		return s.ctxError(ctx, err)
	}
	cause := fmt.Errorf("%s %s%s: %w", method, s.cfg.base, stripQuery(path), err)
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		record           tls.RecordHeaderError
		netErr           net.Error
	)
	switch {
	case errors.As(err, &unknownAuthority):
		return s.failField("RootFingerprint", "the certificate authority's TLS certificate does not chain to the root with the configured fingerprint", cause)
	case errors.As(err, &hostname):
		return s.failField("URL", "the certificate authority's TLS certificate is not valid for the host name in its URL", cause)
	case errors.As(err, &invalid):
		return s.failField("URL", "the certificate authority's TLS certificate is not valid", cause)
	case errors.As(err, &record), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http turns a plain-HTTP answer into a text-only error.
		return s.failField("URL", "the certificate authority's URL does not answer with TLS", cause)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return s.fail(KindUnavailable, fmt.Sprintf("the certificate authority did not answer within %s", s.cfg.timeout), cause)
	default:
		return s.fail(KindUnavailable, "the certificate authority could not be reached", cause)
	}
}

// ctxError reports the caller's context ending. The cause wraps ctx.Err(),
// so errors.Is(err, context.Canceled) holds.
func (s *StepCA) ctxError(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil {
		cerr = err
	}
	if errors.Is(cerr, context.DeadlineExceeded) {
		return s.fail(KindUnavailable, "the certificate authority did not answer in time", cerr)
	}
	return s.fail(KindUnavailable, "the request to the certificate authority was cancelled", cerr)
}

// statusError maps an HTTP error status from op to a connector error. 4xx
// answers quote step-ca's own message, which is meant for its clients: a
// refusal's Message is that reason alone, without a final stop, for the
// caller to put after its own "the certificate authority refused" words.
func (s *StepCA) statusError(op string, status int, data []byte) error {
	cause := fmt.Errorf("%s at %s: HTTP %d: %s", op, s.cfg.base, status, stepCAQuote(data, status))
	switch {
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		return s.fail(KindUnavailable, fmt.Sprintf("the certificate authority is unavailable (HTTP %d)", status), cause)
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return s.failField("URL", fmt.Sprintf("the certificate authority does not serve %s requests: is the URL a step-ca?", op), cause)
	case status >= 400:
		return s.fail(KindRejected, strings.TrimSuffix(stepCAQuote(data, status), "."), cause)
	default:
		return s.fail(KindMisconfigured, fmt.Sprintf("unexpected answer from the certificate authority (HTTP %d)", status), cause)
	}
}

func (s *StepCA) protocolError(op string, err error) error {
	return s.failField("URL", fmt.Sprintf("the certificate authority's answer to %s cannot be read: is the URL a step-ca?", op),
		fmt.Errorf("%s at %s: %w", op, s.cfg.base, err))
}

func (s *StepCA) fail(kind Kind, message string, err error) *Error {
	return &Error{Kind: kind, Connector: s.name, Message: message, Err: err}
}

// failField is a KindMisconfigured failure that shows the setting field
// (a StepCAConfig field name) to be wrong.
func (s *StepCA) failField(field, message string, err error) *Error {
	return &Error{Kind: KindMisconfigured, Connector: s.name, Message: message, Err: err, field: field}
}

// stepCAMessageOf returns the "message" of a step-ca error answer, cleaned,
// or "".
func stepCAMessageOf(data []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) != nil {
		return ""
	}
	return stepCAClean(e.Message, stepCAMaxMessage)
}

// stepCAQuote is the CA's message, or the HTTP status text when it has none.
func stepCAQuote(data []byte, status int) string {
	if m := stepCAMessageOf(data); m != "" {
		return m
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "HTTP " + strconv.Itoa(status)
}

// stepCAClean keeps text printable, on one line and at most max runes.
func stepCAClean(s string, max int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

func stripQuery(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

// stepCALazy holds a value loaded once on demand. Concurrent callers share one
// load; a failed load is not kept, so the next caller tries again. The load
// runs detached from the callers' contexts (its requests have their own
// timeouts), so a caller that gives up neither cancels it for the others nor
// wastes its work.
type stepCALazy[T comparable] struct {
	mu   sync.Mutex
	val  T
	ok   bool
	call *stepCALoad[T]
}

type stepCALoad[T comparable] struct {
	done chan struct{}
	val  T
	err  error
}

func (l *stepCALazy[T]) get(ctx context.Context, load func(context.Context) (T, error)) (T, error) {
	l.mu.Lock()
	if l.ok {
		v := l.val
		l.mu.Unlock()
		return v, nil
	}
	c := l.call
	if c == nil {
		c = &stepCALoad[T]{done: make(chan struct{})}
		l.call = c
		detached := context.WithoutCancel(ctx)
		go func() {
			v, err := load(detached)
			l.mu.Lock()
			c.val, c.err = v, err
			if err == nil {
				l.val, l.ok = v, true
			}
			l.call = nil
			l.mu.Unlock()
			close(c.done)
		}()
	}
	l.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// forget drops v if it is still the value held, so the next get loads again.
func (l *stepCALazy[T]) forget(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ok && l.val == v {
		var zero T
		l.val, l.ok = zero, false
	}
}
