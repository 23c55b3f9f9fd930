package mailer

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWithoutSecretRedactsThePassword(t *testing.T) {
	t.Parallel()
	const password = "s3cr3t-pa55"
	echoed := newError(KindRejected, "the SMTP server refused", errors.New(`535 "bad credentials for s3cr3t-pa55"`))

	redacted := withoutSecret(echoed, password)

	assert.NotContains(t, redacted.Error(), password)
	assert.Contains(t, redacted.Error(), "[password]")
	assert.Equal(t, KindRejected, redacted.Kind)
}

func TestWithoutSecretKeepsOtherErrorsIntact(t *testing.T) {
	t.Parallel()
	cause := errors.New("connection refused")
	original := newError(KindUnavailable, "cannot connect", cause)

	assert.ErrorIs(t, withoutSecret(original, "s3cr3t-pa55"), cause)
	assert.ErrorIs(t, withoutSecret(original, ""), cause)
}
