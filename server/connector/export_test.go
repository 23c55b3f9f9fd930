package connector

// The OCSP responder's periods, for the tests that cross them.
const (
	ResponderValidity = responderValidity
	ResponderRenewal  = responderRenewal
	OCSPValidity      = ocspValidity
	OCSPRefresh       = ocspRefresh
)
