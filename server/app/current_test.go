package app

import (
	"errors"
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
