package enroll

import (
	"errors"
	"sync"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// crlRetryAfter is how long a node waits after a list failed to be signed
// before it tries that CA's again for someone who asks: anonymous requests
// for a list must not make a node sign in a loop.
const crlRetryAfter = 10 * time.Second

// CRLPublisher is a node's signer of revocation lists. It signs one list
// at a time per CA, and coalesces: revocations that come while a list is
// being signed wait for the next one, which names them all, so a burst of
// revocations costs a few lists, not one each. Nodes coordinate through
// the store (one signer per CA at a time, cluster-wide; a list covers the
// revision it was read after). It also keeps the bytes of the list it last
// served per CA, read again only when the store has a newer one. Nothing
// in it is state another node needs.
type CRLPublisher struct {
	mu      sync.Mutex
	flights map[records.CRLScope]*crlFlight
	served  map[records.CRLScope]servedCRL
}

// NewCRLPublisher returns a node's publisher; it lives as long as the
// plugin, across configurations.
func NewCRLPublisher() *CRLPublisher {
	return &CRLPublisher{flights: map[records.CRLScope]*crlFlight{}, served: map[records.CRLScope]servedCRL{}}
}

// crlFlight is the signing of one CA's lists on this node.
type crlFlight struct {
	running bool
	// started counts the runs started; a waiter needs one that started
	// after it came, or one that covered its revision.
	started  int64
	waiters  []*crlWaiter
	failedAt time.Time
	failure  error
	// sign is the newest core's way to sign this CA's list.
	sign func() (*records.CRL, error)
}

type crlWaiter struct {
	revision int64
	seen     int64
	done     chan crlResult
}

type crlResult struct {
	crl *records.CRL
	err error
}

type servedCRL struct {
	number int64
	der    []byte
}

// await has ca's list signed when it is due and waits, at most wait, for a
// list that covers revision (0: any list signed from a run that started
// now). It returns that list, or nil when the wait ran out first; the
// signing goes on either way.
func (p *CRLPublisher) await(c *Core, connectorName string, ca connector.IssuingCA, revision int64, wait time.Duration) (*records.CRL, error) {
	done := p.request(crlScope(connectorName, ca), revision, func() (*records.CRL, error) { return c.signCRL(connectorName, ca) }, c.now)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case result := <-done:
		return result.crl, result.err
	case <-timer.C:
		return nil, nil
	}
}

// request adds a waiter for scope's list and starts a run unless one is
// going; a node that failed to sign it within crlRetryAfter answers with
// that failure at once.
func (p *CRLPublisher) request(scope records.CRLScope, revision int64, sign func() (*records.CRL, error), now func() time.Time) <-chan crlResult {
	done := make(chan crlResult, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.flights[scope]
	if f == nil {
		f = &crlFlight{}
		p.flights[scope] = f
	}
	f.sign = sign
	if !f.running && f.failure != nil && now().Sub(f.failedAt) < crlRetryAfter {
		done <- crlResult{err: f.failure}
		return done
	}
	f.waiters = append(f.waiters, &crlWaiter{revision: revision, seen: f.started, done: done})
	if !f.running {
		f.running = true
		go p.run(scope, f, now)
	}
	return done
}

// run signs scope's list until every waiter has one.
func (p *CRLPublisher) run(scope records.CRLScope, f *crlFlight, now func() time.Time) {
	for {
		p.mu.Lock()
		if len(f.waiters) == 0 {
			f.running = false
			p.mu.Unlock()
			return
		}
		f.started++
		run, sign := f.started, f.sign
		p.mu.Unlock()

		crl, err := safeSign(sign)

		p.mu.Lock()
		if err != nil {
			f.failure, f.failedAt = err, now()
		} else {
			f.failure = nil
		}
		kept := f.waiters[:0]
		for _, w := range f.waiters {
			if w.seen < run || (err == nil && crl != nil && crl.Covered >= w.revision && w.revision > 0) {
				w.done <- crlResult{crl: crl, err: err}
				continue
			}
			kept = append(kept, w)
		}
		f.waiters = kept
		if crl != nil && crl.DER != nil {
			p.served[scope] = servedCRL{number: crl.Number, der: crl.DER}
		}
		p.mu.Unlock()
	}
}

// safeSign turns a panic while signing into an error: the flight must end,
// or every later revocation would wait on it.
func safeSign(sign func() (*records.CRL, error)) (crl *records.CRL, err error) {
	defer func() {
		if r := recover(); r != nil {
			crl, err = nil, errors.New("signing the revocation list failed unexpectedly")
		}
	}()
	return sign()
}

// bytes returns the DER of the list crl describes: from this node's copy
// when it is the same number, else read once from the store.
func (p *CRLPublisher) bytes(store Inventory, scope records.CRLScope, crl *records.CRL) ([]byte, error) {
	if crl.DER != nil {
		return crl.DER, nil
	}
	p.mu.Lock()
	served, ok := p.served[scope]
	p.mu.Unlock()
	if ok && served.number == crl.Number {
		return served.der, nil
	}
	der, err := store.CRLBytes(scope, crl.Number)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if current, ok := p.served[scope]; !ok || current.number < crl.Number {
		p.served[scope] = servedCRL{number: crl.Number, der: der}
	}
	p.mu.Unlock()
	return der, nil
}
