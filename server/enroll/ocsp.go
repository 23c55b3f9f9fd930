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
// plugin signs for, from the inventory (see ocspStatus). A request that
// cannot be read, or about another CA, gets the protocol's unsigned
// refusal. Connectors are asked in the catalog's order, so that the answer
// never depends on a map's.
func (c *Core) OCSP(der []byte) (*OCSPAnswer, error) {
	req, err := pki.ParseOCSPRequest(der)
	if err != nil {
		return &OCSPAnswer{DER: pki.OCSPMalformed()}, nil
	}
	for _, spec := range c.Catalog.Connectors {
		name := spec.Name
		signer, ok := connector.Capability[connector.OCSPSigner](c.Connectors[name])
		if !ok {
			continue
		}
		issuer, ok := signer.AnswersOCSP(req)
		if !ok {
			continue
		}
		answer := pki.OCSPAnswer{Serial: req.SerialNumber, Status: pki.OCSPUnknown}
		record, err := c.store.CertificateStanding(pki.FormatSerial(req.SerialNumber))
		switch {
		case errors.Is(err, records.ErrNotFound):
		case err != nil:
			return nil, err
		case record.Connector == name && record.Issuer == issuer:
			answer = ocspStatus(record, answer)
		}
		signed, err := signer.SignOCSP(answer, req)
		if err != nil {
			return nil, err
		}
		return &OCSPAnswer{DER: signed.DER, ThisUpdate: signed.ThisUpdate, NextUpdate: signed.NextUpdate}, nil
	}
	return &OCSPAnswer{DER: pki.OCSPUnauthorized()}, nil
}

// ocspStatus is what the responder says of a certificate its CA signed:
// revoked once revoked here, whoever registered it (its CRL lists it too);
// good when the plugin issued it or an admin registered it; unknown when
// only its owner registered it, as before: registering a certificate
// proves one holds a copy, not that the CA meant it.
func ocspStatus(record *records.Certificate, answer pki.OCSPAnswer) pki.OCSPAnswer {
	switch {
	case record.State == records.CertRevoked:
		answer.Status = pki.OCSPRevoked
		answer.RevokedAt = record.CreatedAt
		if record.RevokedAt != nil {
			answer.RevokedAt = *record.RevokedAt
		}
		answer.ReasonCode = records.ReasonCode(record.RevocationReason)
	case record.Origin != records.OriginImported || record.RevocableAtCA:
		answer.Status = pki.OCSPGood
	}
	return answer
}
