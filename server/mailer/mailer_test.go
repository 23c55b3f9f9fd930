package mailer_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/mailer"
	"github.com/clientcerts/mattermost-plugin-certs/server/mailer/smtptest"
)

const (
	sender    = "certs@example.com"
	recipient = "alice@example.com"
	// waitTime bounds waiting for a message that should already be there.
	waitTime = 2 * time.Second
)

func startServer(t *testing.T, opts smtptest.Options) *smtptest.Server {
	t.Helper()
	server, err := smtptest.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Close() })
	return server
}

func settingsFor(server *smtptest.Server, security mailer.Security) mailer.Settings {
	return mailer.Settings{
		Host:     server.Host(),
		Port:     server.Port(),
		Security: security,
		From:     sender,
		FromName: "Client Certificates",
		RootCAs:  server.RootCAs(),
		Timeout:  5 * time.Second,
	}
}

func newSender(t *testing.T, settings mailer.Settings) mailer.Sender {
	t.Helper()
	s, err := mailer.New(settings)
	require.NoError(t, err)
	return s
}

func simpleMessage() mailer.Message {
	return mailer.Message{To: recipient, Subject: "Your certificate", Text: "Hello"}
}

// requireKind asserts that err is a *mailer.Error of the given kind.
func requireKind(t *testing.T, err error, kind mailer.Kind) *mailer.Error {
	t.Helper()
	require.Error(t, err)
	mailerErr := mailer.AsError(err)
	require.NotNil(t, mailerErr, "not a *mailer.Error: %v", err)
	require.Equal(t, kind, mailerErr.Kind, "error: %v", err)
	return mailerErr
}

func TestSendDeliversTextAndAttachments(t *testing.T) {
	t.Parallel()
	server := startServer(t, smtptest.Options{})
	pkcs12 := make([]byte, 3000)
	_, err := rand.Read(pkcs12)
	require.NoError(t, err)

	err = newSender(t, settingsFor(server, mailer.SecurityNone)).Send(context.Background(), mailer.Message{
		To:      recipient,
		ToName:  "Zoë Tester",
		Subject: "Your certificate — ready",
		Text:    "Grüße,\nyour certificate is attached.\n",
		Attachments: []mailer.Attachment{
			{Filename: "alice.p12", ContentType: "application/x-pkcs12", Data: pkcs12},
			{Filename: "readme.txt", Data: []byte("no content type given")},
		},
	})
	require.NoError(t, err)

	received, err := server.WaitForMessages(1, waitTime)
	require.NoError(t, err)
	require.Len(t, received, 1)
	assert.Equal(t, sender, received[0].From)
	assert.Equal(t, []string{recipient}, received[0].To)
	assert.False(t, received[0].TLS)

	parsed, err := received[0].Parse()
	require.NoError(t, err)
	assert.Equal(t, "Your certificate — ready", parsed.Subject)
	assert.Equal(t, "Client Certificates", parsed.From.Name)
	assert.Equal(t, sender, parsed.From.Address)
	require.Len(t, parsed.To, 1)
	assert.Equal(t, "Zoë Tester", parsed.To[0].Name)
	assert.Equal(t, recipient, parsed.To[0].Address)
	assert.Equal(t, "Grüße,\nyour certificate is attached.\n", parsed.Text)

	require.Len(t, parsed.Attachments, 2)
	assert.Equal(t, "alice.p12", parsed.Attachments[0].Filename)
	assert.Equal(t, "application/x-pkcs12", parsed.Attachments[0].ContentType)
	assert.Equal(t, pkcs12, parsed.Attachments[0].Data, "attachment must decode byte for byte")
	assert.Equal(t, "readme.txt", parsed.Attachments[1].Filename)
	assert.Equal(t, "application/octet-stream", parsed.Attachments[1].ContentType)
	assert.Equal(t, []byte("no content type given"), parsed.Attachments[1].Data)
}

func TestSendOverTLS(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		options  smtptest.Options
		security mailer.Security
	}{
		"STARTTLS":     {smtptest.Options{TLS: true}, mailer.SecuritySTARTTLS},
		"implicit TLS": {smtptest.Options{ImplicitTLS: true}, mailer.SecurityTLS},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			server := startServer(t, tc.options)
			attachment := mailer.Attachment{Filename: "bob.p12", ContentType: "application/x-pkcs12", Data: []byte{0, 1, 2, 0xff}}
			message := simpleMessage()
			message.Attachments = []mailer.Attachment{attachment}

			require.NoError(t, newSender(t, settingsFor(server, tc.security)).Send(context.Background(), message))

			received, err := server.WaitForMessages(1, waitTime)
			require.NoError(t, err)
			assert.True(t, received[0].TLS, "the message must travel encrypted")
			parsed, err := received[0].Parse()
			require.NoError(t, err)
			require.Len(t, parsed.Attachments, 1)
			assert.Equal(t, attachment.Data, parsed.Attachments[0].Data)
		})
	}
}

func TestSendFailsWhenTLSCannotBeEstablished(t *testing.T) {
	t.Parallel()
	tlsServer := startServer(t, smtptest.Options{TLS: true})
	plainServer := startServer(t, smtptest.Options{})

	untrusted := settingsFor(tlsServer, mailer.SecuritySTARTTLS)
	untrusted.RootCAs = nil // system roots do not know the test certificate

	for name, settings := range map[string]mailer.Settings{
		"untrusted certificate": untrusted,
		"no STARTTLS offered":   settingsFor(plainServer, mailer.SecuritySTARTTLS),
		"implicit TLS on plain": settingsFor(plainServer, mailer.SecurityTLS),
	} {
		t.Run(name, func(t *testing.T) {
			err := newSender(t, settings).Send(context.Background(), simpleMessage())
			requireKind(t, err, mailer.KindUnavailable)
		})
	}
	assert.Empty(t, tlsServer.Messages())
	assert.Empty(t, plainServer.Messages())
}

func TestSendSkipsCertificateVerificationWhenAsked(t *testing.T) {
	t.Parallel()
	server := startServer(t, smtptest.Options{TLS: true})
	settings := settingsFor(server, mailer.SecuritySTARTTLS)
	settings.RootCAs = nil
	settings.SkipCertificateVerification = true

	require.NoError(t, newSender(t, settings).Send(context.Background(), simpleMessage()))
	_, err := server.WaitForMessages(1, waitTime)
	require.NoError(t, err)
}

func TestSendAuthenticates(t *testing.T) {
	t.Parallel()
	const username, password = "mailer", "correct-horse-battery-staple"
	server := startServer(t, smtptest.Options{TLS: true, Username: username, Password: password})
	settings := settingsFor(server, mailer.SecuritySTARTTLS)

	t.Run("right password", func(t *testing.T) {
		settings := settings
		settings.Username, settings.Password = username, password
		require.NoError(t, newSender(t, settings).Send(context.Background(), simpleMessage()))
		received, err := server.WaitForMessages(1, waitTime)
		require.NoError(t, err)
		assert.Equal(t, username, received[0].Username)
	})

	t.Run("wrong password", func(t *testing.T) {
		const wrong = "wrong-password-do-not-print"
		settings := settings
		settings.Username, settings.Password = username, wrong
		err := newSender(t, settings).Send(context.Background(), simpleMessage())
		requireKind(t, err, mailer.KindRejected)
		assert.NotContains(t, err.Error(), wrong)
		assert.NotContains(t, err.Error(), password)
		assert.Contains(t, err.Error(), "535")
	})

	t.Run("no credentials", func(t *testing.T) {
		err := newSender(t, settings).Send(context.Background(), simpleMessage())
		requireKind(t, err, mailer.KindRejected)
	})

	assert.Len(t, server.Messages(), 1, "only the authenticated send may deliver")
}

func TestSendAuthenticatesInClearTextOnLoopback(t *testing.T) {
	t.Parallel()
	server := startServer(t, smtptest.Options{Username: "mailer", Password: "secret"})
	settings := settingsFor(server, mailer.SecurityNone)
	settings.Username, settings.Password = "mailer", "secret"

	require.NoError(t, newSender(t, settings).Send(context.Background(), simpleMessage()))
	received, err := server.WaitForMessages(1, waitTime)
	require.NoError(t, err)
	assert.Equal(t, "mailer", received[0].Username)
}

func TestSendReportsRefusedRecipient(t *testing.T) {
	t.Parallel()
	server := startServer(t, smtptest.Options{RejectRecipients: true})

	err := newSender(t, settingsFor(server, mailer.SecurityNone)).Send(context.Background(), simpleMessage())

	requireKind(t, err, mailer.KindRejected)
	assert.Contains(t, err.Error(), "550")
	assert.Empty(t, server.Messages())
}

func TestSendReportsServerDownAtOnce(t *testing.T) {
	t.Parallel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := listener.Addr().(*net.TCPAddr).Port
	require.NoError(t, listener.Close())

	// With a timeout this long, a send that retried or waited instead of
	// reporting the refused connection would not return within the test.
	settings := mailer.Settings{Host: "127.0.0.1", Port: port, Security: mailer.SecurityNone, From: sender, Timeout: time.Hour}
	err = newSender(t, settings).Send(context.Background(), simpleMessage())

	requireKind(t, err, mailer.KindUnavailable)
	assert.Contains(t, err.Error(), "cannot connect")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

// silentServer accepts connections and never answers, like a stuck server:
// a send to it ends only when its context does. Each accepted connection is
// sent on the returned channel. Its timeout is an hour; tests that want the
// settings' timeout to end the send lower it.
func silentServer(t *testing.T) (mailer.Settings, <-chan struct{}) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = listener.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			_ = conn.Close()
		}
	})
	return mailer.Settings{
		Host:     "127.0.0.1",
		Port:     listener.Addr().(*net.TCPAddr).Port,
		Security: mailer.SecurityNone,
		From:     sender,
		Timeout:  time.Hour,
	}, accepted
}

func TestSendStopsWhenContextIsCancelled(t *testing.T) {
	t.Parallel()
	settings, accepted := silentServer(t)
	sender := newSender(t, settings)
	// Cancel once the send is connected and waiting for the greeting.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-accepted
		cancel()
	}()

	err := sender.Send(ctx, simpleMessage())

	requireKind(t, err, mailer.KindUnavailable)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

func TestSendStopsAtContextDeadline(t *testing.T) {
	t.Parallel()
	settings, _ := silentServer(t)
	sender := newSender(t, settings)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()

	err := sender.Send(ctx, simpleMessage())

	requireKind(t, err, mailer.KindUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestSendStopsAtSettingsTimeout(t *testing.T) {
	t.Parallel()
	settings, _ := silentServer(t)
	settings.Timeout = 150 * time.Millisecond

	// The server never answers, and the caller's context has no deadline:
	// only the settings' timeout can end the send.
	err := newSender(t, settings).Send(context.Background(), simpleMessage())

	requireKind(t, err, mailer.KindUnavailable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "did not finish in time")
}

func TestSendWithCancelledContextFails(t *testing.T) {
	t.Parallel()
	server := startServer(t, smtptest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := newSender(t, settingsFor(server, mailer.SecurityNone)).Send(ctx, simpleMessage())

	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, server.Messages())
}

func TestSenderIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	server := startServer(t, smtptest.Options{TLS: true})
	sender := newSender(t, settingsFor(server, mailer.SecuritySTARTTLS))

	const sends = 4
	errs := make(chan error, sends)
	for i := range sends {
		go func() {
			message := simpleMessage()
			message.Subject = fmt.Sprintf("message %d", i)
			errs <- sender.Send(context.Background(), message)
		}()
	}
	for range sends {
		require.NoError(t, <-errs)
	}
	_, err := server.WaitForMessages(sends, waitTime)
	require.NoError(t, err)
}

func validSettings() mailer.Settings {
	return mailer.Settings{Host: "smtp.example.com", Port: 587, Security: mailer.SecuritySTARTTLS, From: sender}
}

func TestValidateAcceptsGoodSettings(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*mailer.Settings){
		"minimal":                   func(*mailer.Settings) {},
		"with credentials":          func(s *mailer.Settings) { s.Username, s.Password = "u", "p" },
		"IPv6 host":                 func(s *mailer.Settings) { s.Host = "2001:db8::1" },
		"clear text auth to itself": func(s *mailer.Settings) { s.Host, s.Security, s.Username = "localhost", mailer.SecurityNone, "u" },
		"implicit TLS":              func(s *mailer.Settings) { s.Port, s.Security = 465, mailer.SecurityTLS },
		"display name":              func(s *mailer.Settings) { s.FromName = "Client Certificates — Äcme" },
	} {
		settings := validSettings()
		change(&settings)
		assert.NoError(t, settings.Validate(), name)
	}
}

func TestValidateRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		change  func(*mailer.Settings)
		message string
	}{
		"missing host":      {func(s *mailer.Settings) { s.Host = "" }, "host is missing"},
		"host with port":    {func(s *mailer.Settings) { s.Host = "smtp.example.com:587" }, "must not include a port"},
		"host with newline": {func(s *mailer.Settings) { s.Host = "smtp.example.com\r\n" }, "control characters"},
		"port zero":         {func(s *mailer.Settings) { s.Port = 0 }, "port 0"},
		"port too big":      {func(s *mailer.Settings) { s.Port = 70000 }, "port 70000"},
		"no security":       {func(s *mailer.Settings) { s.Security = "" }, "unknown SMTP connection security"},
		"unknown security":  {func(s *mailer.Settings) { s.Security = "ssl" }, `"ssl"`},
		"missing From":      {func(s *mailer.Settings) { s.From = "" }, "sender address is missing"},
		"invalid From":      {func(s *mailer.Settings) { s.From = "not-an-address" }, "not a valid email address"},
		"From with name":    {func(s *mailer.Settings) { s.From = "Certs <certs@example.com>" }, "bare address"},
		"From injection":    {func(s *mailer.Settings) { s.From = "certs@example.com\r\nBcc: x@example.com" }, "line breaks"},
		"FromName injection": {
			func(s *mailer.Settings) { s.FromName = "Certs\r\nBcc: x@example.com" }, "sender name must not contain line breaks",
		},
		"negative timeout": {func(s *mailer.Settings) { s.Timeout = -time.Second }, "negative"},
		"password in clear text": {
			func(s *mailer.Settings) { s.Security, s.Username, s.Password = mailer.SecurityNone, "u", "hunter2" },
			"unencrypted",
		},
	} {
		t.Run(name, func(t *testing.T) {
			settings := validSettings()
			tc.change(&settings)

			err := settings.Validate()
			requireKind(t, err, mailer.KindMisconfigured)
			assert.Contains(t, err.Error(), tc.message)
			assert.NotContains(t, err.Error(), "hunter2")

			sender, err := mailer.New(settings)
			requireKind(t, err, mailer.KindMisconfigured)
			assert.Nil(t, sender)
		})
	}
}

func TestSendRefusesBadMessages(t *testing.T) {
	t.Parallel()
	server := startServer(t, smtptest.Options{})
	sender := newSender(t, settingsFor(server, mailer.SecurityNone))

	for name, tc := range map[string]struct {
		change  func(*mailer.Message)
		message string
	}{
		"missing recipient":   {func(m *mailer.Message) { m.To = "" }, "recipient address is missing"},
		"invalid recipient":   {func(m *mailer.Message) { m.To = "alice" }, "not a valid email address"},
		"two recipients":      {func(m *mailer.Message) { m.To = "alice@example.com, bob@example.com" }, "not a valid"},
		"recipient with name": {func(m *mailer.Message) { m.To = "Alice <alice@example.com>" }, "bare address"},
		"recipient injection": {
			func(m *mailer.Message) { m.To = "alice@example.com\r\nBcc: eve@example.com" }, "line breaks",
		},
		"name injection":    {func(m *mailer.Message) { m.ToName = "Alice\nBcc: eve@example.com" }, "recipient name"},
		"subject injection": {func(m *mailer.Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }, "subject"},
		"attachment without name": {
			func(m *mailer.Message) { m.Attachments = []mailer.Attachment{{Data: []byte("x")}} }, "no file name",
		},
		"file name injection": {
			func(m *mailer.Message) {
				m.Attachments = []mailer.Attachment{{Filename: "a.p12\r\nX-Evil: 1", Data: []byte("x")}}
			},
			"file name",
		},
		"invalid content type": {
			func(m *mailer.Message) {
				m.Attachments = []mailer.Attachment{{Filename: "a.p12", ContentType: "not a type", Data: []byte("x")}}
			},
			"not a MIME type",
		},
		"content type injection": {
			func(m *mailer.Message) {
				m.Attachments = []mailer.Attachment{{Filename: "a.p12", ContentType: "text/plain\r\nX-Evil: 1"}}
			},
			"content type",
		},
	} {
		t.Run(name, func(t *testing.T) {
			message := simpleMessage()
			tc.change(&message)
			err := sender.Send(context.Background(), message)
			requireKind(t, err, mailer.KindMisconfigured)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
	assert.Empty(t, server.Messages(), "nothing may be sent for an invalid message")
}

func TestAsError(t *testing.T) {
	t.Parallel()
	assert.Nil(t, mailer.AsError(nil))
	assert.Nil(t, mailer.AsError(errors.New("other")))

	original := &mailer.Error{Kind: mailer.KindRejected, Message: "refused", Err: errors.New("550 no")}
	assert.Same(t, original, mailer.AsError(fmt.Errorf("wrapped: %w", original)))
	assert.Equal(t, "refused: 550 no", original.Error())
	assert.Equal(t, "rejected", mailer.KindRejected.String())
}
