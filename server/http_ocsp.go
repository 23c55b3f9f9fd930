package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// maxOCSPRequestBytes bounds an OCSP request; a real one is about 100 bytes.
const maxOCSPRequestBytes = 10 << 10

// handleOCSP is the OCSP responder of the built-in CA (RFC 6960), for
// anyone: POST with the request as the body, or GET with it in base64 in
// the path. Signed answers carry the caching headers of RFC 5019 section 6,
// and a GET whose If-None-Match names the answer of now gets a 304.
func (p *Plugin) handleOCSP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	var err error
	if r.Method == http.MethodGet {
		encoded, _ := url.PathUnescape(strings.TrimPrefix(r.URL.Path, routeOCSP+"/"))
		der, err = base64.StdEncoding.DecodeString(encoded)
	} else {
		der, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxOCSPRequestBytes))
	}
	s, servicesErr := p.current.Get()
	if servicesErr != nil {
		web.WriteJSONError(w, http.StatusServiceUnavailable, servicesErr.Error())
		return
	}
	if err != nil {
		der = nil // answered as malformed
	}
	answer, err := s.Core.OCSP(der)
	if err == nil && answer.NextUpdate.IsZero() && der != nil && p.caKeeper.ReloadIfRenewed(s) {
		// Perhaps a CA another node renewed: this one learns of it now.
		if s, err = p.current.Get(); err == nil {
			answer, err = s.Core.OCSP(der)
		}
	}
	if err != nil {
		p.API.LogError("Could not answer an OCSP request", "error", err.Error())
		web.WriteJSONError(w, http.StatusServiceUnavailable, "the OCSP responder cannot answer right now")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	if answer.NextUpdate.IsZero() {
		// An unsigned refusal: not cached (no-store, as every route).
		_, _ = w.Write(answer.DER)
		return
	}
	etag := ocspETag(answer.DER)
	maxAge := max(0, int(answer.NextUpdate.Sub(p.now()).Seconds()))
	h.Set("Cache-Control", "max-age="+strconv.Itoa(maxAge)+", public, no-transform, must-revalidate")
	h.Set("Expires", answer.NextUpdate.UTC().Format(http.TimeFormat))
	h.Set("ETag", etag)
	// If-Modified-Since alone gets the whole answer: a date names only a
	// second, and two answers signed within one second may differ (before
	// and after a revocation, or on two nodes), so a 304 could keep a
	// status that changed, or bytes whose own nextUpdate is not the one the
	// 304 announces. The tag names the very bytes.
	if r.Method == http.MethodGet && web.NotModified(r, etag) {
		// The cache's copy is this very answer: its freshness is renewed.
		h.Del("Content-Type")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Last-Modified", answer.ThisUpdate.UTC().Format(http.TimeFormat))
	_, _ = w.Write(answer.DER)
}

// ocspETag names one signed answer: the same bytes, the same tag, so a
// cache that holds the answer served now revalidates it with a 304.
func ocspETag(der []byte) string {
	sum := sha256.Sum256(der)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
