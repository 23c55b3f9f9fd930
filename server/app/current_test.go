package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
)

func TestCurrentSaysWhyItHasNoServices(t *testing.T) {
	c := &Current{}
	_, err := c.Get()
	var notReady *ErrNotReady
	require.True(t, errors.As(err, &notReady))
	assert.Contains(t, err.Error(), "the plugin is starting")

	c.Fail("Key type: unknown")
	_, err = c.Get()
	assert.Contains(t, err.Error(), "Key type: unknown", "the admin's reason")

	s := &Snapshot{}
	c.Store(s)
	got, err := c.Get()
	require.NoError(t, err)
	assert.Same(t, s, got)

	c.Store(nil)
	_, err = c.Get()
	assert.Contains(t, err.Error(), "the plugin is starting", "a stopped plugin has no reason of the last failure")
}

func TestLinksNameThePageOfTheirPurpose(t *testing.T) {
	site := &Site{URL: "https://chat.example.com", PluginID: "certs"}
	u, err := site.LinkURL(&enroll.Link{Token: "a.b+c", Purpose: linktoken.PurposeIssue})
	require.NoError(t, err)
	assert.Equal(t, "https://chat.example.com/plugins/certs/issue?token=a.b%2Bc", u)
	u, err = site.LinkURL(&enroll.Link{Token: "t", Purpose: linktoken.PurposeCSR})
	require.NoError(t, err)
	assert.Equal(t, "https://chat.example.com/plugins/certs/csr?token=t", u)
	assert.Equal(t, "https://chat.example.com/plugins/certs/ca/builtin.pem", site.CAChainURL("builtin"))

	_, err = (&Site{PluginID: "certs"}).LinkURL(&enroll.Link{Token: "t"})
	e := enroll.AsError(err)
	require.NotNil(t, e, "no Site URL, no link")
	assert.Equal(t, enroll.CodeUnavailable, e.Code)
	assert.Equal(t, enroll.NextAskAdmin, e.Next)
}

func TestTheSiteIsNamedEvenWithoutAName(t *testing.T) {
	assert.Equal(t, "Mattermost", (&Site{}).DisplayName())
	assert.Equal(t, "Acme Chat", (&Site{Name: "Acme Chat"}).DisplayName())
	assert.NotNil(t, (&Current{}).Site(), "an empty site before the first read")
}

func TestTheClientAddressIsReadAsMattermostReadsIt(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/portal/signin", nil)
	r.RemoteAddr = "10.0.0.5:41234"
	r.Header.Set("X-Forwarded-For", "203.0.113.7, 10.0.0.5")
	assert.Equal(t, "10.0.0.5", (&Site{}).ClientAddress(r), "no trusted header: the peer, whatever a client claims")
	site := &Site{TrustedIPHeaders: []string{"X-Real-IP", "X-Forwarded-For"}}
	assert.Equal(t, "203.0.113.7", site.ClientAddress(r), "behind the proxy: the client it names")
	r.Header.Set("X-Real-IP", "198.51.100.9")
	assert.Equal(t, "198.51.100.9", site.ClientAddress(r), "the first trusted header that is set")
}
