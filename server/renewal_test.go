package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/enrollment"
)

func TestRenewCommandGivesALinkForTheCertificatesReplacement(t *testing.T) {
	env := newTestEnvWithCatalog(t, `{"profiles": [{"name": "vpn", "limits": {"active": 1}, "renewal": {"revoke_replaced": true}}]}`)
	first := env.issueJSON(env.tokenFor("alice", "vpn"))
	assert.Contains(t, env.run("alice", "/cert download vpn"), "the most it allows", "the one place is taken")

	reply := env.run("alice", "/cert renew "+first.Serial)
	assert.Contains(t, reply, "[Get my renewed certificate](")
	assert.Contains(t, reply, "It replaces `"+first.Serial+"`, which is revoked as soon as the new one is issued.")
	link := linkPattern.FindString(reply)
	require.NotEmpty(t, link, reply)
	second := env.issueJSON(strings.TrimPrefix(link, "https://chat.example.com/plugins/certs/issue?token="))
	list := env.run("alice", "/cert list")
	assert.Contains(t, tableRowWith(list, first.Serial), "| revoked |", "the replaced one, as its profile says")
	assert.Contains(t, tableRowWith(list, second.Serial), "| issued |")

	assert.Contains(t, env.run("bob", "/cert renew "+second.Serial), "No certificate with this serial belongs to you")
}

func TestRenewAPI(t *testing.T) {
	env := newTestEnv(t)
	first := env.issueJSON(env.token("alice"))
	w := env.request(http.MethodPost, "/api/v1/certificates/"+first.Serial+"/renew", "", "alice")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	resp := decodeJSON[enrollment.LinkView](t, w.Body.Bytes())
	assert.Equal(t, first.Serial, resp.Renews)
	assert.Equal(t, "download", resp.Kind)
	assert.True(t, strings.HasPrefix(resp.URL, "https://chat.example.com/plugins/certs/issue?token="), resp.URL)
	second := env.issueJSON(strings.TrimPrefix(resp.URL, "https://chat.example.com/plugins/certs/issue?token="))
	assert.NotEqual(t, first.Serial, second.Serial)

	w = env.request(http.MethodPost, "/api/v1/certificates/"+first.Serial+"/renew", "", "bob")
	assert.Equal(t, http.StatusNotFound, w.Code, "not bob's: as if it did not exist")
	w = env.request(http.MethodGet, "/api/v1/certificates/"+first.Serial+"/renew", "", "alice")
	assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, w.Code, "a state change is a POST")
	w = env.request(http.MethodPost, "/api/v1/certificates/"+first.Serial+"/renew", "", "")
	assert.Equal(t, http.StatusUnauthorized, w.Code)

	w = env.request(http.MethodGet, "/api/v1/certificates", "", "alice")
	require.Equal(t, http.StatusOK, w.Code)
	views := decodeJSON[[]web.CertificateView](t, w.Body.Bytes())
	require.Len(t, views, 2)
	assert.Equal(t, first.Serial, views[1].Renews)
}
