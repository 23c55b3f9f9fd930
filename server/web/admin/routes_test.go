package admin

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

func TestCSVSafeKeepsFormulasOutOfSpreadsheets(t *testing.T) {
	for _, v := range []string{"=cmd", "+1", "-1", "@SUM(A1)", "\tx", "\rx"} {
		assert.Equal(t, "'"+v, csvSafe(v), v)
	}
	assert.Equal(t, "alice", csvSafe("alice"))
	assert.Empty(t, csvSafe(""))
}

func TestOwnerFilterTakesAPrincipalOrAMattermostUserID(t *testing.T) {
	assert.Equal(t, records.Principal("mm:abc"), ownerPrincipal("abc"))
	assert.Equal(t, records.Principal("mm:abc"), ownerPrincipal("mm:abc"))
	assert.Equal(t, records.Principal("oidc:xyz"), ownerPrincipal("oidc:xyz"))
}
