package randtoken

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokensAreLongRandomAndHashedApart(t *testing.T) {
	a, err := New()
	require.NoError(t, err)
	b, err := New()
	require.NoError(t, err)
	assert.Len(t, a, 43)
	assert.NotEqual(t, a, b)
	assert.Len(t, Hash(a), 64)
	assert.Equal(t, Hash(a), Hash(a))
	assert.NotEqual(t, Hash(a), Hash(b))
	assert.NotContains(t, Hash(a), a)
}
