package profile

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector/connectortest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "https://" + addr
}

func stepCACatalog(t *testing.T, connectors ...string) *Catalog {
	t.Helper()
	c, err := Parse(`{"connectors": [{"name": "local", "type": "builtin"}, `+strings.Join(connectors, ", ")+`],
	  "profiles": [{"name": "p", "connector": "local"}]}`, defaults)
	require.NoError(t, err)
	return c
}

func stepCAConnectorJSON(name, url, password string) string {
	return `{"name": "` + name + `", "type": "stepca", "stepca": {"url": "` + url + `", "root_fingerprint": "` + fingerprint +
		`", "provisioner": "mm", "provisioner_password": "` + password + `"}}`
}

func TestCheckStepCA(t *testing.T) {
	ctx := context.Background()
	// A step-ca that knows no root by that fingerprint answers 404 with a
	// JSON message.
	noSuchRoot := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"status": 404, "message": "The requested resource could not be found."}`))
	}))
	t.Cleanup(noSuchRoot.Close)

	t.Run("no step-ca connectors", func(t *testing.T) {
		unchecked, err := Default(defaults).CheckStepCA(ctx, time.Second, nil)
		require.NoError(t, err)
		assert.Empty(t, unchecked)
	})
	t.Run("a wrong setting names the connector and field", func(t *testing.T) {
		c := stepCACatalog(t, stepCAConnectorJSON("corp", noSuchRoot.URL, "pw"))
		_, err := c.CheckStepCA(ctx, 5*time.Second, nil)
		require.Error(t, err)
		assert.Equal(t, `connectors and profiles: connector "corp": stepca.root_fingerprint: the certificate authority has no root certificate with the configured fingerprint`, err.Error())
		var fe *connector.StepCAConfigError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "RootFingerprint", fe.Field)
		var field *FieldError
		require.ErrorAs(t, err, &field)
		assert.Equal(t, "connectors[1].stepca.root_fingerprint", field.Path, "after the builtin one")
	})
	t.Run("an unreachable CA is unchecked, not wrong", func(t *testing.T) {
		down := closedURL(t)
		c := stepCACatalog(t, stepCAConnectorJSON("down", down, "pw"), stepCAConnectorJSON("wrong", noSuchRoot.URL, "pw"),
			stepCAConnectorJSON("down2", down, "pw"))
		unchecked, err := c.CheckStepCA(ctx, 5*time.Second, nil)
		assert.ErrorContains(t, err, `connector "wrong": stepca.root_fingerprint:`)
		require.Len(t, unchecked, 2)
		assert.Equal(t, "down", unchecked[0].Connector)
		assert.Equal(t, "down2", unchecked[1].Connector)
		assert.True(t, connector.IsUnavailable(unchecked[0].Err), "%v", unchecked[0].Err)

		c = stepCACatalog(t, stepCAConnectorJSON("down", down, "pw"))
		unchecked, err = c.CheckStepCA(ctx, 5*time.Second, nil)
		require.NoError(t, err)
		require.Len(t, unchecked, 1)
	})
	t.Run("the stored password is opened first", func(t *testing.T) {
		c := stepCACatalog(t, stepCAConnectorJSON("a", noSuchRoot.URL, "sealed:1"), stepCAConnectorJSON("b", noSuchRoot.URL, "sealed:2"))
		var (
			mu   sync.Mutex
			seen []string
		)
		unchecked, err := c.CheckStepCA(ctx, 5*time.Second, func(stored string) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, stored)
			if stored == "sealed:1" {
				return "", errors.New("the stored password is missing; enter it again")
			}
			return "clear", nil
		})
		assert.ElementsMatch(t, []string{"sealed:1", "sealed:2"}, seen)
		require.Len(t, unchecked, 1, "a password that cannot be read is not a wrong setting")
		assert.Equal(t, "a", unchecked[0].Connector)
		assert.EqualError(t, unchecked[0].Err, "the provisioner password cannot be read: the stored password is missing; enter it again")
		assert.ErrorContains(t, err, `connector "b": stepca.root_fingerprint:`)
	})
	t.Run("the timeout bounds each CA", func(t *testing.T) {
		addr := connectortest.SilentServer(t)
		c := stepCACatalog(t, stepCAConnectorJSON("slow", "https://"+addr, "pw"))
		unchecked, err := c.CheckStepCA(ctx, 200*time.Millisecond, nil)
		require.NoError(t, err)
		require.Len(t, unchecked, 1)
		assert.True(t, connector.IsUnavailable(unchecked[0].Err))
	})
}
