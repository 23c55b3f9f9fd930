// Package public serves what relying parties and devices fetch without
// signing in: the CA chains, the revocation lists and the OCSP responder.
package public

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/gorilla/mux"
)

// Routes, relative to the plugin's root.
const (
	routeCAPEM            = "/ca.pem"
	routeConnectorCAPEM   = "/ca/{connector}.pem"
	routeCRL              = "/crl/{connector}.crl"
	routeCRLPEM           = "/crl/{connector}.pem"
	routeGenerationCRL    = "/crl/{connector}/{generation:[0-9]+}.crl"
	routeGenerationCRLPEM = "/crl/{connector}/{generation:[0-9]+}.pem"
	// OCSPPath is the OCSP responder, which certificates name.
	OCSPPath = "/ocsp"
)

// Routes serves the public routes from the services in use.
type Routes struct {
	Current *app.Current
	Log     web.Logger
	Now     func() time.Time
	// ReloadIfCARenewed rereads the CA when another node may have renewed
	// it, and reports whether it did: a list or an answer this node does
	// not know may be a new CA's.
	ReloadIfCARenewed func(*app.Snapshot) bool
}

// Mount adds the routes to r.
func (h *Routes) Mount(r *mux.Router) {
	r.HandleFunc(routeCAPEM, h.handleCAPEM).Methods(http.MethodGet)
	r.HandleFunc(routeConnectorCAPEM, h.handleCAPEM).Methods(http.MethodGet)
	r.HandleFunc(routeCRL, h.handleCRL).Methods(http.MethodGet)
	r.HandleFunc(routeCRLPEM, h.handleCRL).Methods(http.MethodGet)
	r.HandleFunc(routeGenerationCRL, h.handleCRL).Methods(http.MethodGet)
	r.HandleFunc(routeGenerationCRLPEM, h.handleCRL).Methods(http.MethodGet)
	r.HandleFunc(OCSPPath, h.handleOCSP).Methods(http.MethodPost)
	r.PathPrefix(OCSPPath + "/").HandlerFunc(h.handleOCSP).Methods(http.MethodGet)
}

// CRLPath is where the list of generation of a connector's issuing CA is
// served: the first keeps the path certificates named before CAs renewed
// themselves, each later one has its own, so that the distribution point
// in a certificate always names the list of the CA that signed it.
func CRLPath(connectorName string, generation int) string {
	if generation <= 1 {
		return "/crl/" + url.PathEscape(connectorName) + ".crl"
	}
	return "/crl/" + url.PathEscape(connectorName) + "/" + strconv.Itoa(generation) + ".crl"
}

// handleCAPEM serves a CA chain (issuing CA first, root last) to anyone:
// clients and RADIUS/VPN servers need it to trust issued certificates.
// /ca.pem is the chain of the default profile's connector; /ca/<name>.pem
// that of any connector.
func (h *Routes) handleCAPEM(w http.ResponseWriter, r *http.Request) {
	s, err := h.Current.Get()
	if err != nil {
		web.WriteJSONError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	name, named := mux.Vars(r)["connector"]
	if !named {
		prof, _ := s.Catalog.Profile("")
		name = prof.Connector
	}
	conn, ok := s.Core.Connectors[name]
	if !ok {
		web.WriteJSONError(w, http.StatusNotFound, "no such CA connector")
		return
	}
	var chain []*x509.Certificate
	if trust, ok := connector.Capability[connector.TrustChainer](conn); ok {
		// After a renewal, both issuing CAs: certificates of either verify.
		chain, err = trust.TrustChain(r.Context())
	} else {
		chain, err = conn.Chain(r.Context())
	}
	if err != nil {
		h.Log.LogError("Could not get a CA chain", "connector", name, "error", err.Error())
		web.WriteJSONError(w, http.StatusBadGateway, "the CA chain is not available right now")
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `inline; filename="`+name+`-ca.pem"`)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(pki.EncodeCertificatesPEM(chain))
}
