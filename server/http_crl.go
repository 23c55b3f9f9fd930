package main

import (
	"encoding/pem"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// handleCRL serves a CA's certificate revocation list to anyone (VPN,
// Wi-Fi/RADIUS and TLS servers fetch it; it is signed, so plain HTTP is
// safe): DER at /crl/<connector>.crl, PEM at /crl/<connector>.pem, the
// bytes the list was signed into, never made again per request. Caches
// may keep a copy but must ask again before each use (no-cache): a
// revocation is on the list within seconds, and the ETag, the list's
// number, makes asking again cost a 304.
func (p *Plugin) handleCRL(w http.ResponseWriter, r *http.Request) {
	s, err := p.current.Get()
	if err != nil {
		web.WriteJSONError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	name := mux.Vars(r)["connector"]
	generation := 1
	if g, ok := mux.Vars(r)["generation"]; ok {
		if generation, err = strconv.Atoi(g); err != nil || generation < 2 {
			// The first generation has one address only: the one its
			// certificates name.
			web.WriteJSONError(w, http.StatusNotFound, "no such revocation list")
			return
		}
	}
	crl, err := s.Core.CRL(name, generation)
	if errors.Is(err, enroll.ErrNoCRL) && generation > 1 && p.caKeeper.ReloadIfRenewed(s) {
		// Another node renewed the CA: this one learns of it now.
		if s, err = p.current.Get(); err == nil {
			crl, err = s.Core.CRL(name, generation)
		}
	}
	if he := web.AsError(err); he != nil {
		web.WriteJSONError(w, he.Status, he.Message)
		return
	}
	if err != nil {
		p.API.LogError("Could not make a certificate revocation list", "connector", name, "error", err.Error())
		web.WriteJSONError(w, http.StatusServiceUnavailable, "the revocation list is not available right now")
		return
	}
	asPEM := strings.HasSuffix(r.URL.Path, ".pem")
	etag := `"` + strconv.FormatInt(crl.Number, 10)
	if asPEM {
		etag += "-pem"
	}
	etag += `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "public, no-cache")
	w.Header().Set("Last-Modified", crl.ThisUpdate.UTC().Format(http.TimeFormat))
	if web.NotModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if asPEM {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.DER}))
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Content-Disposition", `inline; filename="`+name+`.crl"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(crl.DER)))
	_, _ = w.Write(crl.DER)
}
