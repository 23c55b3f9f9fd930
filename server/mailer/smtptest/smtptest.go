// Package smtptest runs a real SMTP server on the loopback interface for
// tests. It records every message it accepts and can offer STARTTLS or
// implicit TLS with a certificate made at start, require AUTH PLAIN, and
// refuse recipients.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options shape the server.
type Options struct {
	// TLS offers STARTTLS with a self-signed certificate (ECDSA P-256,
	// valid for 127.0.0.1 and localhost) that RootCAs trusts.
	TLS bool
	// ImplicitTLS speaks TLS from the first byte, with the same kind of
	// certificate.
	ImplicitTLS bool
	// Username and Password, when Username is set, make the server offer
	// AUTH PLAIN (also without TLS) and refuse mail until a client has
	// authenticated with exactly these.
	Username string
	Password string
	// RejectRecipients answers every RCPT TO with 550.
	RejectRecipients bool
}

// Received is a message the server accepted.
type Received struct {
	// From and To are the envelope (MAIL FROM and RCPT TO) addresses.
	From string
	To   []string
	// Data is the raw RFC 5322 message, as the client sent it.
	Data []byte
	// TLS tells whether the connection was encrypted when the message
	// was sent.
	TLS bool
	// Username is who authenticated, or "" when no one did.
	Username string
}

// Server is a running test SMTP server.
type Server struct {
	opts     Options
	smtp     *smtp.Server
	listener net.Listener
	rootCAs  *x509.CertPool
	served   chan struct{}
	close    sync.Once
	closeErr error

	mu       sync.Mutex
	messages []Received
	// arrived is closed and replaced whenever a message is recorded, to
	// wake WaitForMessages.
	arrived chan struct{}
}

// Start starts a server listening on 127.0.0.1 on a free port. Close it
// when done.
func Start(opts Options) (*Server, error) {
	s := &Server{
		opts:    opts,
		served:  make(chan struct{}),
		arrived: make(chan struct{}),
		rootCAs: x509.NewCertPool(),
	}
	s.smtp = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.smtp.Domain = "localhost"
	// The server is only reachable on loopback, where clients may
	// legitimately authenticate in clear text.
	s.smtp.AllowInsecureAuth = true
	// Failed handshakes and dropped connections are what tests provoke;
	// they are not worth printing.
	s.smtp.ErrorLog = log.New(io.Discard, "", 0)

	var tlsConfig *tls.Config
	if opts.TLS || opts.ImplicitTLS {
		certificate, err := selfSignedCertificate()
		if err != nil {
			return nil, err
		}
		s.rootCAs.AddCert(certificate.Leaf)
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{certificate}, MinVersion: tls.VersionTLS12}
	}
	if opts.TLS {
		s.smtp.TLSConfig = tlsConfig
	}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtptest: listen: %w", err)
	}
	s.listener = listener
	if opts.ImplicitTLS {
		listener = tls.NewListener(listener, tlsConfig)
	}
	go func() {
		defer close(s.served)
		_ = s.smtp.Serve(listener) // returns once Close is called
	}()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Host is the IP address the server listens on, 127.0.0.1.
func (s *Server) Host() string { return s.listener.Addr().(*net.TCPAddr).IP.String() }

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.listener.Addr().(*net.TCPAddr).Port }

// RootCAs trusts the server's certificate (and is empty without TLS).
func (s *Server) RootCAs() *x509.CertPool { return s.rootCAs }

// Messages returns a copy of the messages accepted so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyMessages(s.messages)
}

// WaitForMessages waits until at least n messages have been accepted and
// returns a copy of them, or an error when timeout passes first.
func (s *Server) WaitForMessages(n int, timeout time.Duration) ([]Received, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.messages) >= n {
			messages := copyMessages(s.messages)
			s.mu.Unlock()
			return messages, nil
		}
		arrived, got := s.arrived, len(s.messages)
		s.mu.Unlock()

		select {
		case <-arrived:
		case <-deadline.C:
			return nil, fmt.Errorf("smtptest: %d of %d messages arrived within %s", got, n, timeout)
		}
	}
}

// Close stops the server and drops any open connection. It may be called
// more than once.
func (s *Server) Close() error {
	s.close.Do(func() {
		s.closeErr = s.smtp.Close()
		// go-smtp closes only the listeners Serve has registered, which it
		// may not have done yet if Close follows Start closely.
		if err := s.listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) && s.closeErr == nil {
			s.closeErr = err
		}
		// Bounded, so a test never hangs on a server that does not stop (seen
		// once, not reproduced); the error says so instead.
		select {
		case <-s.served:
		case <-time.After(5 * time.Second):
			if s.closeErr == nil {
				s.closeErr = errors.New("smtptest: the server did not stop within 5 s")
			}
		}
	})
	return s.closeErr
}

func (s *Server) record(m Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func copyMessages(messages []Received) []Received {
	copies := make([]Received, len(messages))
	for i, m := range messages {
		m.To = slices.Clone(m.To)
		m.Data = slices.Clone(m.Data)
		copies[i] = m
	}
	return copies
}

// session is one client's SMTP conversation; go-smtp starts a new one
// after STARTTLS.
type session struct {
	server   *Server
	conn     *smtp.Conn
	username string // authenticated user
	from     string
	to       []string
}

func (s *Server) newSession(conn *smtp.Conn) (smtp.Session, error) {
	return &session{server: s, conn: conn}, nil
}

func (s *session) authRequired() bool { return s.server.opts.Username != "" }

func (s *session) AuthMechanisms() []string {
	if !s.authRequired() {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mechanism string) (sasl.Server, error) {
	if !s.authRequired() || mechanism != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != s.server.opts.Username || password != s.server.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.username = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.authRequired() && s.username == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.server.opts.RejectRecipients {
		return &smtp.SMTPError{
			Code:         550,
			EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message:      "Recipient refused by smtptest",
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.server.record(Received{
		From:     s.from,
		To:       slices.Clone(s.to),
		Data:     data,
		TLS:      isTLS,
		Username: s.username,
	})
	return nil
}

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }

func selfSignedCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("smtptest: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("smtptest: serial number: %w", err)
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "smtptest"},
		// Backdated so that a client whose clock is slightly behind
		// still accepts it.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("smtptest: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("smtptest: parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
