package records

// SealedKey is a private key encrypted at rest, with the id of the key that
// sealed it.
type SealedKey struct {
	KeyID  string `json:"key_id"`
	Sealed []byte `json:"sealed"`
}
