package connector

import (
	"crypto"
	"errors"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

const (
	// responderValidity is how long a delegated OCSP key is certified for;
	// a new one is made when less than responderRenewal is left.
	responderValidity = 30 * 24 * time.Hour
	responderRenewal  = 7 * 24 * time.Hour
	// responderMinInterval bounds how often a node makes a responder for
	// one CA while the one it has is valid, whatever the clock does.
	responderMinInterval = time.Hour
	// ocspValidity is how long an OCSP answer may be cached.
	ocspValidity = time.Hour
	// ocspRefresh is how long a signed answer is served again while the
	// certificate's status stays the same: HTTP caches then meet the same
	// answer (and ETag) again, and each is fresh for at least 45 minutes.
	ocspRefresh = ocspValidity / 4
	// maxSignedAnswers bounds the answers kept per CA (about 1 KiB each).
	maxSignedAnswers = 4096
)

// ocspResponder holds this node's delegated OCSP key for one CA, and the
// answers it signed lately. Each node has its own: any of them answers
// validly, and no key is stored anywhere.
type ocspResponder struct {
	mu      sync.Mutex
	current *pki.OCSPResponder
	// tried is when a responder was last made, or failed to be.
	tried   time.Time
	answers map[answerKey]*signedAnswer
}

// answerKey is what a signed answer is about: the certificate, named with
// the hash its request chose.
type answerKey struct {
	hash   crypto.Hash
	serial string
}

// signedAnswer is an answer as it was signed, and by which responder.
type signedAnswer struct {
	answer    pki.OCSPAnswer
	responder *pki.OCSPResponder
	signed    *pki.SignedOCSP
}

// get is the responder to sign with now, and now: read under the lock, so
// that a responder another request has just made is never newer than the
// time it signs for.
func (r *ocspResponder) get(ca *pki.CA, clock func() time.Time) (*pki.OCSPResponder, time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := clock()
	if r.current != nil && !r.due(ca, now) {
		return r.current, now, nil
	}
	r.tried = now
	next, err := ca.NewOCSPResponder(now, responderValidity)
	if err != nil {
		if r.current != nil && validAt(r.current, now) {
			return r.current, now, nil
		}
		return nil, now, err
	}
	r.current = next
	return next, now, nil
}

// due says whether to make a new responder: when the current one is not
// valid at now, or when it nears its end and a new one would outlive it.
// Within a week of the CA's own end both would end with the CA: a new one
// buys nothing, and every request made one. Never twice within
// responderMinInterval while the current one is valid.
func (r *ocspResponder) due(ca *pki.CA, now time.Time) bool {
	end := r.current.Certificate.NotAfter
	newEnd := now.Add(responderValidity)
	if caEnd := ca.Certificate.NotAfter; newEnd.After(caEnd) {
		newEnd = caEnd // as NewOCSPResponder caps it
	}
	if !validAt(r.current, now) {
		// A new one is valid now unless the CA has ended too.
		return newEnd.After(now)
	}
	if end.After(now.Add(responderRenewal)) || !newEnd.After(end) {
		return false
	}
	return !now.Before(r.tried.Add(responderMinInterval))
}

func validAt(r *pki.OCSPResponder, t time.Time) bool {
	return !t.Before(r.Certificate.NotBefore) && t.Before(r.Certificate.NotAfter)
}

// sign answers about a certificate of ca: the answer signed lately when
// nothing it says has changed, else a new one. Its thisUpdate is when it
// was signed, its nextUpdate within the responder certificate's life.
func (r *ocspResponder) sign(ca *pki.CA, answer pki.OCSPAnswer, hash crypto.Hash, clock func() time.Time) (*pki.SignedOCSP, error) {
	responder, now, err := r.get(ca, clock)
	if err != nil {
		return nil, err
	}
	key := answerKey{hash: hash, serial: answer.Serial.Text(16)}
	if signed := r.reuse(key, answer, responder, now); signed != nil {
		return signed, nil
	}
	next := now.Add(ocspValidity)
	if end := responder.Certificate.NotAfter; next.After(end) && end.After(now) {
		// Near the CA's end: a cached answer must not outlive its signer.
		next = end
	}
	signed, err := responder.SignOCSP(ca, answer, hash, now, next)
	if err != nil {
		return nil, err
	}
	if answer.Status != pki.OCSPUnknown {
		// Unknown serials are not kept: anyone may ask about any number of
		// them, and would push out the answers about real certificates.
		r.keep(key, &signedAnswer{answer: answer, responder: responder, signed: signed})
	}
	return signed, nil
}

// reuse is the answer signed lately about key, if it says what answer
// says, by the responder of now, and is younger than ocspRefresh.
func (r *ocspResponder) reuse(key answerKey, answer pki.OCSPAnswer, responder *pki.OCSPResponder, now time.Time) *pki.SignedOCSP {
	r.mu.Lock()
	kept := r.answers[key]
	r.mu.Unlock()
	if kept == nil || kept.responder != responder || !sameAnswer(kept.answer, answer) ||
		now.Before(kept.signed.ThisUpdate) || !now.Before(kept.signed.ThisUpdate.Add(ocspRefresh)) || !now.Before(kept.signed.NextUpdate) {
		return nil
	}
	return kept.signed
}

func sameAnswer(a, b pki.OCSPAnswer) bool {
	return a.Status == b.Status && a.RevokedAt.Equal(b.RevokedAt) && a.ReasonCode == b.ReasonCode
}

func (r *ocspResponder) keep(key answerKey, kept *signedAnswer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.answers == nil {
		r.answers = make(map[answerKey]*signedAnswer)
	}
	if _, replaces := r.answers[key]; !replaces && len(r.answers) >= maxSignedAnswers {
		for k := range r.answers { // one at random: map order is
			delete(r.answers, k)
			break
		}
	}
	r.answers[key] = kept
}

// OCSPResponders keeps the OCSP responder of each issuing CA for as long as
// the plugin runs: connectors built for a new configuration go on with the
// key and the answers of the ones before instead of making their own.
type OCSPResponders struct {
	mu sync.Mutex
	// byCA is keyed by the CA certificate's DER.
	byCA map[string]*ocspResponder
}

// NewOCSPResponders returns an empty set.
func NewOCSPResponders() *OCSPResponders {
	return &OCSPResponders{byCA: map[string]*ocspResponder{}}
}

func (rs *OCSPResponders) of(ca *pki.CA) *ocspResponder {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byCA[string(ca.Certificate.Raw)]
	if !ok {
		r = &ocspResponder{}
		rs.byCA[string(ca.Certificate.Raw)] = r
	}
	return r
}

// WithOCSPResponders is the connector signing OCSP answers with the
// responders of rs.
func (b *Builtin) WithOCSPResponders(rs *OCSPResponders) *Builtin {
	copied := *b
	copied.issuers = make([]*issuer, len(b.issuers))
	for i, is := range b.issuers {
		copied.issuers[i] = &issuer{IssuingCA: is.IssuingCA, responder: rs.of(is.CA)}
	}
	return &copied
}

// issuerOf is the issuing CA an OCSP request names (by name and key
// hash), or nil.
func (b *Builtin) issuerOf(req *ocsp.Request) *issuer {
	for _, is := range b.issuers {
		if pki.IssuedBy(req, is.CA) {
			return is
		}
	}
	return nil
}

// AnswersOCSP reports whether an OCSP request asks about the certificates
// of one of this connector's issuing CAs, and names that CA as IssuerID
// names the issuer of its certificates.
func (b *Builtin) AnswersOCSP(req *ocsp.Request) (string, bool) {
	is := b.issuerOf(req)
	if is == nil {
		return "", false
	}
	return pki.SubjectID(is.CA.Certificate), true
}

// SignOCSP signs the answer about a certificate of the issuing CA the
// request names, with that CA's own delegated responder.
func (b *Builtin) SignOCSP(answer pki.OCSPAnswer, req *ocsp.Request) (*pki.SignedOCSP, error) {
	is := b.issuerOf(req)
	if is == nil {
		return nil, errors.New("the OCSP request names none of this connector's CAs")
	}
	return is.responder.sign(is.CA, answer, req.HashAlgorithm, b.now)
}
