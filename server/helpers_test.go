package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stretchr/testify/mock"
)

func wrap64(der []byte) string {
	s := base64.StdEncoding.EncodeToString(der)
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

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
func rootOf(t *testing.T, s *services) []byte {
	t.Helper()
	chain, err := s.connectors["builtin"].Chain(context.Background())
	require.NoError(t, err)
	return chain[len(chain)-1].Raw
}
