package enrollment

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

func TestIssueOptionsReadThePagesFormAndScripts(t *testing.T) {
	form := func(fields map[string]string) func(string) string {
		return func(name string) string { return fields[name] }
	}
	opts, err := issueOptions(form(nil))
	require.NoError(t, err)
	assert.Equal(t, enroll.Options{}, opts, "nothing asked: the admin's format, no PEM, no email")

	opts, err = issueOptions(form(map[string]string{"format": "modern", "key_pem": "true", "email": "on"}))
	require.NoError(t, err)
	assert.Equal(t, pki.PKCS12Modern, opts.Format)
	assert.True(t, opts.KeyPEM)
	assert.True(t, opts.Email)

	_, err = issueOptions(form(map[string]string{"format": "rc2"}))
	he := web.AsError(err)
	require.NotNil(t, he)
	assert.Equal(t, http.StatusBadRequest, he.Status)
	assert.Contains(t, he.Message, "compatible or modern")

	// The JSON body of POST /api/v1/enrollments is read as the form.
	body := enrollmentRequest{Format: "compatible", KeyPEM: true}
	opts, err = issueOptions(body.field)
	require.NoError(t, err)
	assert.Equal(t, pki.PKCS12Compatible, opts.Format)
	assert.True(t, opts.KeyPEM)
	assert.False(t, opts.Email)
}

func TestFormFlagsAreTickedBoxesOrTrue(t *testing.T) {
	for v, want := range map[string]bool{"on": true, "true": true, "1": true, "": false, "false": false, "off": false, "yes": false} {
		assert.Equal(t, want, formFlag(v), v)
	}
}

func TestUploadsArePEMOrBase64DER(t *testing.T) {
	pemText := "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----"
	assert.Equal(t, []byte(pemText), textOrBase64("  "+pemText+"\n"))
	der := []byte{0x30, 0x82, 0x01, 0x0a}
	assert.Equal(t, der, textOrBase64(base64.StdEncoding.EncodeToString(der)))
	assert.Equal(t, []byte("not base64!"), textOrBase64("not base64!"), "left for the parser to explain")
	assert.Empty(t, textOrBase64("  "))
}

func TestTheConfirmPageOffersTheAdminsFormatFirst(t *testing.T) {
	choices := p12Choices(pki.PKCS12Compatible)
	require.Len(t, choices, 2)
	assert.Equal(t, string(pki.PKCS12Compatible), choices[0].Value)
	assert.True(t, choices[0].Checked)
	assert.False(t, choices[1].Checked)

	choices = p12Choices(pki.PKCS12Modern)
	assert.Equal(t, string(pki.PKCS12Modern), choices[0].Value)
	assert.True(t, choices[0].Checked)
	assert.False(t, choices[1].Checked)
}

func TestTheConfirmPageOffersEmailAsTheAdminAllows(t *testing.T) {
	alice := &enroll.Requester{Username: "alice", Email: "alice@example.com"}
	assert.Equal(t, emailOption{}, emailChoice(&config.Configuration{EmailDelivery: config.EmailDeliveryOff}, alice))
	assert.Equal(t, emailOption{Offered: true, Address: "alice@example.com"}, emailChoice(&config.Configuration{EmailDelivery: config.EmailDeliveryAllowed}, alice))
	assert.Equal(t, emailOption{Offered: true, Checked: true, Address: "alice@example.com"}, emailChoice(&config.Configuration{EmailDelivery: config.EmailDeliveryDefault}, alice))
	assert.Equal(t, emailOption{}, emailChoice(&config.Configuration{EmailDelivery: config.EmailDeliveryDefault}, &enroll.Requester{Username: "bob"}), "no address, no offer")
}

// Every step a refusal may leave that the pages word points back to
// Mattermost, where the pages are opened from.
func TestThePagesWordTheStepsInMattermostsTerms(t *testing.T) {
	for next, words := range pageNext {
		assert.NotEqual(t, enroll.NextNone, next)
		assert.NotEmpty(t, words)
	}
	assert.Contains(t, pageNext[enroll.NextNewLink], "/cert download")
}
