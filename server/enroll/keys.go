package enroll

import (
	"runtime"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/admission"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// rsaQueuePerWorker is how much RSA key generation may be in line per
// generator, in RSA-2048 keys (pki.KeyType.GenerationCost): about six
// seconds of work, so that the last in line still gets its certificate in
// seconds. It holds sixty RSA-2048 requests, or five RSA-4096.
const rsaQueuePerWorker = 60

// NewRSAKeyQueue runs RSA key generation on every core but one, so that a
// burst of RSA requests always leaves a core for everything else.
func NewRSAKeyQueue() *admission.Queue {
	workers := max(1, runtime.NumCPU()-1)
	return admission.NewQueue(workers, rsaQueuePerWorker*int64(workers))
}

// RetryBusyAfter is what a request turned away as busy is told to wait.
const RetryBusyAfter = 5 * time.Second

// ErrBusyCreatingKeys turns away a request while too many slow keys (RSA)
// wait to be generated.
var ErrBusyCreatingKeys = &Error{Code: CodeBusy, RetryAfter: RetryBusyAfter,
	Message: "The server is busy creating other keys right now.", Next: NextTryAgain, Hint: "Try again in a moment."}

// admitKeyGeneration takes a place in line for the key a request will have
// generated (none for a certificate the CA already issued, or for a CSR).
// It runs before the link is claimed, so that a request turned away as
// busy has used up nothing. ECDSA keys take microseconds and never queue.
func (c *Core) admitKeyGeneration(keyType pki.KeyType, generates bool) (*admission.Ticket, error) {
	if !generates || !keyType.IsRSA() {
		return nil, nil
	}
	return c.keys.Admit(keyType.GenerationCost())
}
