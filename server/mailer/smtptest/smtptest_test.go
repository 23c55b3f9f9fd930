package smtptest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A message written by hand, not by go-mail, so that Parse is checked
// against the formats other mailers use too.
const handwritten = "From: =?utf-8?q?Certs_=C3=84?= <certs@example.com>\r\n" +
	"To: Alice <alice@example.com>, bob@example.com\r\n" +
	"Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=outer\r\n" +
	"\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Gr=C3=BC=C3=9Fe,\r\n" +
	"a soft=\r\n" +
	" break\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html\r\n" +
	"\r\n" +
	"<p>ignored</p>\r\n" +
	"--inner--\r\n" +
	"--outer\r\n" +
	"Content-Type: application/x-pkcs12\r\n" +
	"Content-Disposition: attachment; filename*=utf-8''Zo%C3%AB.p12\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"AAEC\r\n" +
	"/w==\r\n" +
	"--outer--\r\n"

func TestParse(t *testing.T) {
	t.Parallel()
	parsed, err := Received{Data: []byte(handwritten)}.Parse()
	require.NoError(t, err)

	assert.Equal(t, "Grüße", parsed.Subject)
	assert.Equal(t, "Certs Ä", parsed.From.Name)
	assert.Equal(t, "certs@example.com", parsed.From.Address)
	require.Len(t, parsed.To, 2)
	assert.Equal(t, "alice@example.com", parsed.To[0].Address)
	assert.Equal(t, "bob@example.com", parsed.To[1].Address)
	assert.Equal(t, "Grüße,\na soft break", parsed.Text)
	require.Len(t, parsed.Attachments, 1)
	assert.Equal(t, ParsedAttachment{Filename: "Zoë.p12", ContentType: "application/x-pkcs12", Data: []byte{0, 1, 2, 0xff}},
		parsed.Attachments[0])
}

func TestParseRefusesUnknownTransferEncoding(t *testing.T) {
	t.Parallel()
	raw := strings.Replace(handwritten, "quoted-printable", "x-uuencode", 1)
	_, err := Received{Data: []byte(raw)}.Parse()
	assert.ErrorContains(t, err, "x-uuencode")
}

func TestWaitForMessagesTimesOut(t *testing.T) {
	t.Parallel()
	server, err := Start(Options{})
	require.NoError(t, err)

	_, err = server.WaitForMessages(1, 50*time.Millisecond)
	assert.ErrorContains(t, err, "0 of 1 messages")
	assert.Empty(t, server.Messages())

	require.NoError(t, server.Close())
	assert.NoError(t, server.Close(), "Close may be called again")
}
