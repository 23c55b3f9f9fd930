package enroll

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// The line for RSA keys holds seconds of work, not a number of requests:
// sixty RSA-2048 keys per generator, or five RSA-4096, and the generators
// leave one core free.
func TestRSAKeyQueueHoldsSecondsOfWork(t *testing.T) {
	workers := max(1, runtime.NumCPU()-1)
	for kt, perWorker := range map[pki.KeyType]int{pki.KeyRSA2048: 60, pki.KeyRSA3072: 15, pki.KeyRSA4096: 5} {
		q := NewRSAKeyQueue()
		admitted := 0
		for {
			ticket, err := q.Admit(kt.GenerationCost())
			if err != nil {
				break
			}
			defer ticket.Release()
			admitted++
		}
		assert.Equal(t, perWorker*workers, admitted, kt)
	}
}
