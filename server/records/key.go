package records

// A public key is certified once. Its mark, keyed by the key's SHA-256
// fingerprint, says who holds it: an upload being served, a request waiting
// for a decision, or a certificate. A second CSR for the same key (a replayed
// or double-submitted upload, or one key reused for many certificates) is
// refused while the mark lives.

// KeyHolder is what holds a public key's mark.
type KeyHolder struct {
	// Kind is "upload" (being served now), "request" or "certificate".
	Kind string
	// ID is the request id or the certificate serial.
	ID string
}

const (
	KeyHeldByUpload      = "upload"
	KeyHeldByRequest     = "request"
	KeyHeldByCertificate = "certificate"
)
