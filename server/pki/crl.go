package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Revoked is one entry of a certificate revocation list.
type Revoked struct {
	Serial     *big.Int
	RevokedAt  time.Time
	ReasonCode int
}

// oidReasonCode is the CRL entry extension that says why (RFC 5280 5.3.1).
var oidReasonCode = []int{2, 5, 29, 21}

// SignCRL makes the CA's certificate revocation list (RFC 5280): number
// must grow with every list the CA issues, and relying parties fetch the
// next one before nextUpdate.
//
// The standard library signs the list's frame (issuer, times, the
// authority key identifier and the number) with no entries; the entries
// are encoded here, spliced into that frame and the result signed with the
// frame's algorithm. x509.CreateRevocationList marshals every entry by
// reflection: a hundred thousand entries cost it over a second of CPU, and
// this a few hundredths. Tests hold the two byte for byte equal.
func (ca *CA) SignCRL(number int64, revoked []Revoked, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	frame, err := x509.CreateRevocationList(randReader, &x509.RevocationList{
		Number:     big.NewInt(number),
		ThisUpdate: thisUpdate.UTC(),
		NextUpdate: nextUpdate.UTC(),
	}, ca.Certificate, ca.Signer)
	if err != nil {
		return nil, fmt.Errorf("sign the CRL: %w", err)
	}
	if len(revoked) == 0 {
		return frame, nil
	}
	parsed, err := x509.ParseRevocationList(frame)
	if err != nil {
		return nil, fmt.Errorf("sign the CRL: read its frame: %w", err)
	}
	tbs, err := spliceEntries(parsed.RawTBSRevocationList, revoked)
	if err != nil {
		return nil, fmt.Errorf("sign the CRL: %w", err)
	}
	signature, err := signWith(ca.Signer, parsed.SignatureAlgorithm, tbs)
	if err != nil {
		return nil, fmt.Errorf("sign the CRL: %w", err)
	}
	// A signer that does not match the CA (a key swapped in a store) must
	// not publish a list no relying party can check.
	if err := ca.Certificate.CheckSignature(parsed.SignatureAlgorithm, tbs, signature); err != nil {
		return nil, fmt.Errorf("sign the CRL: the signature does not verify: %w", err)
	}
	algorithm, err := outerAlgorithm(frame)
	if err != nil {
		return nil, fmt.Errorf("sign the CRL: read its frame: %w", err)
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, len(tbs)+len(algorithm)+len(signature)+16))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(algorithm)
		b.AddASN1BitString(signature)
	})
	return b.Bytes()
}

// spliceEntries puts the revokedCertificates of a TBSCertList without
// them between its nextUpdate and its extensions.
func spliceEntries(frameTBS []byte, revoked []Revoked) ([]byte, error) {
	input := cryptobyte.String(frameTBS)
	var body cryptobyte.String
	if !input.ReadASN1(&body, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, errors.New("malformed TBSCertList")
	}
	whole := len(body)
	var thisUpdate, nextUpdate cryptobyte.String
	var thisTag, nextTag cbasn1.Tag
	if !body.SkipASN1(cbasn1.INTEGER) || !body.SkipASN1(cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.SEQUENCE) ||
		!body.ReadAnyASN1Element(&thisUpdate, &thisTag) || !body.ReadAnyASN1Element(&nextUpdate, &nextTag) {
		return nil, errors.New("malformed TBSCertList")
	}
	head := frameTBS[len(frameTBS)-whole : len(frameTBS)-len(body)]
	b := cryptobyte.NewBuilder(make([]byte, 0, len(frameTBS)+len(revoked)*48+16))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(head)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, r := range revoked {
				addEntry(b, r)
			}
		})
		b.AddBytes(body) // the extensions
	})
	return b.Bytes()
}

// addEntry encodes one revokedCertificates entry as x509 does: serial,
// time, and the reason code unless it is unspecified (RFC 5280 5.3.1).
func addEntry(b *cryptobyte.Builder, r Revoked) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if r.Serial == nil {
			b.SetError(errors.New("a revoked certificate has no serial"))
			return
		}
		b.AddASN1BigInt(r.Serial)
		addTime(b, r.RevokedAt)
		if r.ReasonCode != 0 {
			b.AddBytes(reasonExtensions(r.ReasonCode))
		}
	})
}

// reasonExtensionsByCode are the crlEntryExtensions that carry each reason
// code, encoded once: they are the same in every entry of that reason.
var reasonExtensionsByCode sync.Map // int -> []byte

// reasonExtensions is the encoded crlEntryExtensions with one reasonCode.
func reasonExtensions(code int) []byte {
	if der, ok := reasonExtensionsByCode.Load(code); ok {
		return der.([]byte)
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidReasonCode)
			b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
				b.AddASN1Enum(int64(code))
			})
		})
	})
	der := b.BytesOrPanic()
	reasonExtensionsByCode.Store(code, der)
	return der
}

// addTime writes a time as RFC 5280 4.1.2.5 wants it, and as x509 does:
// UTCTime through 2049, GeneralizedTime from 2050.
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC().Truncate(time.Second)
	if t.Year() >= 1950 && t.Year() < 2050 {
		b.AddASN1UTCTime(t)
		return
	}
	b.AddASN1GeneralizedTime(t)
}

// outerAlgorithm is the signatureAlgorithm of a CertificateList, as
// encoded.
func outerAlgorithm(list []byte) ([]byte, error) {
	input := cryptobyte.String(list)
	var body, algorithm cryptobyte.String
	var tag cbasn1.Tag
	if !input.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.SEQUENCE) || !body.ReadAnyASN1Element(&algorithm, &tag) {
		return nil, errors.New("malformed CertificateList")
	}
	return algorithm, nil
}

// signWith signs data as x509 signs with algorithm.
func signWith(signer crypto.Signer, algorithm x509.SignatureAlgorithm, data []byte) ([]byte, error) {
	var hash crypto.Hash
	switch algorithm {
	case x509.ECDSAWithSHA256, x509.SHA256WithRSA:
		hash = crypto.SHA256
	case x509.ECDSAWithSHA384, x509.SHA384WithRSA:
		hash = crypto.SHA384
	case x509.ECDSAWithSHA512, x509.SHA512WithRSA:
		hash = crypto.SHA512
	case x509.PureEd25519:
		return signer.Sign(randReader, data, crypto.Hash(0))
	default:
		return nil, fmt.Errorf("signature algorithm %s is not supported for revocation lists", algorithm)
	}
	h := hash.New()
	h.Write(data)
	return signer.Sign(randReader, h.Sum(nil), hash)
}
