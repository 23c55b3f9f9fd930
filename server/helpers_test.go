package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"

	"github.com/stretchr/testify/mock"
)

func removeCalls(calls []*mock.Call, method string) []*mock.Call {
	var kept []*mock.Call
	for _, c := range calls {
		if c.Method != method {
			kept = append(kept, c)
		}
	}
	return kept
}

func parsePKCS8(der []byte) (any, error) {
	return x509.ParsePKCS8PrivateKey(der)
}

// rootOf is the root certificate of the built-in connector.
func rootOf(t *testing.T, s *app.Snapshot) []byte {
	t.Helper()
	chain, err := s.Core.Connectors["builtin"].Chain(context.Background())
	require.NoError(t, err)
	return chain[len(chain)-1].Raw
}

// withConnector is s with the connector name replaced by conn.
func withConnector(s *app.Snapshot, name string, conn connector.Connector) *app.Snapshot {
	connectors := maps.Clone(s.Core.Connectors)
	connectors[name] = conn
	swapped := *s
	swapped.Core = s.Core.WithConnectors(connectors)
	return &swapped
}

// linkURL starts an enrollment for a user and profile, as /cert download
// (or /cert csr) does, and returns its link.
func (env *testEnv) linkURL(s *app.Snapshot, username, profileName string, purpose linktoken.Purpose) (string, error) {
	key := enroll.KeyFromServer
	if purpose == linktoken.PurposeCSR {
		key = enroll.KeyFromCSR
	}
	start, err := s.Core.StartEnrollment(mattermost.RequesterOf(env.user(username)), enroll.StartRequest{Profile: profileName, Key: key})
	if err != nil {
		return "", err
	}
	if start.Link == nil {
		return "", fmt.Errorf("profile %q asks an approver first", profileName)
	}
	return env.p.current.Site().LinkURL(start.Link)
}

// pkiLeaf is a client certificate template for alice, valid for an hour.
func pkiLeaf(env *testEnv) pki.LeafSpec {
	return pki.LeafSpec{CommonName: "alice", NotBefore: env.now(), NotAfter: env.now().Add(time.Hour),
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}

// pemOf is a certificate as PEM.
func pemOf(cert *x509.Certificate) []byte {
	return pki.EncodeCertificatesPEM([]*x509.Certificate{cert})
}
