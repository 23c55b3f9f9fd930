package connector_test

import (
	"errors"
	"fmt"
	"testing"

	pkgerrors "github.com/pkg/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		kind connector.Kind
		want bool
	}{
		{connector.KindUnavailable, true},
		{connector.KindMisconfigured, true},
		{connector.KindRejected, false},
		{connector.KindUnsupported, false},
		{connector.Kind(""), false},
		{connector.Kind("something new"), false},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			e := &connector.Error{Kind: tc.kind, Connector: "ca", Message: "m"}
			assert.Equal(t, tc.want, e.Retryable())
		})
	}
}

func TestAsError(t *testing.T) {
	ce := &connector.Error{Kind: connector.KindUnavailable, Connector: "stepca", Message: "the CA did not answer"}

	tests := []struct {
		name string
		err  error
		want *connector.Error
	}{
		{"itself", ce, ce},
		{"wrapped with %w", fmt.Errorf("issue: %w", ce), ce},
		{"wrapped twice", fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", ce)), ce},
		{"wrapped with pkg/errors", pkgerrors.Wrap(ce, "issue"), ce},
		{"joined", errors.Join(errors.New("other"), ce), ce},
		{"plain error", errors.New("boom"), nil},
		{"wrapped with %v", fmt.Errorf("issue: %v", ce), nil},
		{"nil", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := connector.AsError(tc.err)
			if tc.want == nil {
				assert.Nil(t, got)
				return
			}
			assert.Same(t, tc.want, got)
		})
	}
}

func TestErrorMessageAndUnwrap(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.1:443: connection refused")
	withCause := &connector.Error{Kind: connector.KindUnavailable, Connector: "stepca", Message: "the CA could not be reached", Err: cause}
	assert.Equal(t, `CA connector "stepca": the CA could not be reached: dial tcp 10.0.0.1:443: connection refused`, withCause.Error())
	assert.ErrorIs(t, withCause, cause)
	assert.Same(t, cause, errors.Unwrap(withCause))

	without := &connector.Error{Kind: connector.KindRejected, Connector: "stepca", Message: "validity too long"}
	assert.Equal(t, `CA connector "stepca": validity too long`, without.Error())
	assert.NoError(t, errors.Unwrap(without))

	// Through a wrapper, both the connector error and its cause are found.
	wrapped := fmt.Errorf("issue certificate: %w", withCause)
	require.NotNil(t, connector.AsError(wrapped))
	assert.ErrorIs(t, wrapped, cause)
}
