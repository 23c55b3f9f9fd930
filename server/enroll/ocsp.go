package enroll

import (
	"errors"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// OCSPAnswer is a signed OCSP response and from when until when it may be
// cached (its thisUpdate and nextUpdate); both are zero for an unsigned
// refusal.
type OCSPAnswer struct {
	DER        []byte
	ThisUpdate time.Time
	NextUpdate time.Time
}

// OCSP answers an OCSP request (RFC 6960) about a certificate of a CA the
// plugin signs for: good, revoked (when, and why) or unknown, from the
// inventory. A request that cannot be read, or about another CA, gets the
// protocol's unsigned refusal.
func (c *Core) OCSP(der []byte) (*OCSPAnswer, error) {
	req, err := pki.ParseOCSPRequest(der)
	if err != nil {
		return &OCSPAnswer{DER: pki.OCSPMalformed()}, nil
	}
	for name, conn := range c.Connectors {
		signer, ok := connector.Capability[connector.OCSPSigner](conn)
		if !ok {
			continue
		}
		issuer, ok := signer.AnswersOCSP(req)
		if !ok {
			continue
		}
		answer := pki.OCSPAnswer{Serial: req.SerialNumber, Status: pki.OCSPUnknown}
		record, err := c.store.GetCertificate(pki.FormatSerial(req.SerialNumber))
		switch {
		case errors.Is(err, records.ErrNotFound):
		case err != nil:
			return nil, err
		case record.Connector != name, record.Issuer != issuer:
			// Not this CA's: a serial is only ever good under its issuer.
		case record.State == records.CertRevoked && RevokesAtCA(record):
			answer.Status = pki.OCSPRevoked
			answer.RevokedAt = record.CreatedAt
			if record.RevokedAt != nil {
				answer.RevokedAt = *record.RevokedAt
			}
			answer.ReasonCode = records.ReasonCode(record.RevocationReason)
		default:
			answer.Status = pki.OCSPGood
		}
		signed, err := signer.SignOCSP(answer, req)
		if err != nil {
			return nil, err
		}
		return &OCSPAnswer{DER: signed.DER, ThisUpdate: signed.ThisUpdate, NextUpdate: signed.NextUpdate}, nil
	}
	return &OCSPAnswer{DER: pki.OCSPUnauthorized()}, nil
}
