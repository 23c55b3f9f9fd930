package enroll

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPollDelayBacksOff(t *testing.T) {
	assert.Equal(t, time.Minute, pollDelay(0))
	assert.Equal(t, 2*time.Minute, pollDelay(1))
	assert.Equal(t, 32*time.Minute, pollDelay(5))
	assert.Equal(t, time.Hour, pollDelay(6))
	assert.Equal(t, time.Hour, pollDelay(100))
}
