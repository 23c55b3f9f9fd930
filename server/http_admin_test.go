package main

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web/admin"
)

func TestAdminListingIsForSystemAdminsOnly(t *testing.T) {
	env := newTestEnv(t)
	var serials []string
	for _, user := range []string{"alice", "alice", "bob"} {
		serials = append(serials, env.issueJSON(env.token(user)).Serial)
	}
	assert.Contains(t, env.run("bob", "/cert revoke "+serials[2]), "is now revoked")

	for _, path := range []string{"/api/v1/admin/certificates", "/api/v1/admin/counts", "/api/v1/admin/certificates/" + serials[0]} {
		w := env.request(http.MethodGet, path, "", "alice")
		assert.Equal(t, http.StatusForbidden, w.Code, path)
	}

	w := env.request(http.MethodGet, "/api/v1/admin/counts", "", "carol")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, records.StateCounts{Issued: 2, Revoked: 1}, decodeJSON[records.StateCounts](t, w.Body.Bytes()))

	var listed []string
	after := ""
	for {
		w := env.request(http.MethodGet, "/api/v1/admin/certificates?limit=2&after="+after, "", "carol")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		page := decodeJSON[admin.Page](t, w.Body.Bytes())
		for _, c := range page.Certificates {
			listed = append(listed, c.Serial)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	assert.ElementsMatch(t, serials, listed)

	w = env.request(http.MethodGet, "/api/v1/admin/certificates?owner="+env.user("alice").Id, "", "carol")
	assert.Len(t, decodeJSON[admin.Page](t, w.Body.Bytes()).Certificates, 2)
	w = env.request(http.MethodGet, "/api/v1/admin/certificates?state=revoked", "", "carol")
	assert.Len(t, decodeJSON[admin.Page](t, w.Body.Bytes()).Certificates, 1)
	w = env.request(http.MethodGet, "/api/v1/admin/certificates?expiring_within_days=400", "", "carol")
	assert.Len(t, decodeJSON[admin.Page](t, w.Body.Bytes()).Certificates, 2, "valid ones, within the year")
	w = env.request(http.MethodGet, "/api/v1/admin/certificates?state=lost", "", "carol")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	w = env.request(http.MethodGet, "/api/v1/admin/certificates?limit=-1", "", "carol")
	assert.Equal(t, http.StatusBadRequest, w.Code)

	w = env.request(http.MethodGet, "/api/v1/admin/certificates/"+serials[0], "", "carol")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `"owner":"mm:`+env.user("alice").Id+`"`)
	w = env.request(http.MethodGet, "/api/v1/admin/certificates/abcdef", "", "carol")
	assert.Equal(t, http.StatusNotFound, w.Code)

	env.advance(400 * 24 * time.Hour)
	w = env.request(http.MethodGet, "/api/v1/admin/counts", "", "carol")
	assert.Equal(t, records.StateCounts{Expired: 2, Revoked: 1}, decodeJSON[records.StateCounts](t, w.Body.Bytes()))
}

func TestAdminExportIsCSVOfEverythingTheFiltersSelect(t *testing.T) {
	env := newTestEnv(t)
	var serials []string
	for range 3 {
		serials = append(serials, env.issueJSON(env.token("alice")).Serial)
	}
	env.issueJSON(env.token("bob"))
	assert.Equal(t, http.StatusForbidden, env.request(http.MethodGet, "/api/v1/admin/certificates.csv", "", "alice").Code)

	w := env.request(http.MethodGet, "/api/v1/admin/certificates.csv?owner="+env.user("alice").Id, "", "carol")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "text/csv; charset=utf-8", w.Header().Get("Content-Type"))
	rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4, "a header and alice's three")
	assert.Equal(t, "serial", rows[0][0])
	var got []string
	for _, row := range rows[1:] {
		got = append(got, row[0])
		assert.Equal(t, "issued", row[10])
	}
	assert.ElementsMatch(t, serials, got)
}
