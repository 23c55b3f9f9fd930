package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxOCSPRequestBytes bounds an OCSP request; a real one is about 100 bytes.
const maxOCSPRequestBytes = 10 << 10

// handleOCSP is the OCSP responder of the built-in CA (RFC 6960), for
// anyone: POST with the request as the body, or GET with it in base64 in
// the path. Answers are signed and may be cached until their next update.
func (p *Plugin) handleOCSP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	var err error
	if r.Method == http.MethodGet {
		encoded, _ := url.PathUnescape(strings.TrimPrefix(r.URL.Path, routeOCSP+"/"))
		der, err = base64.StdEncoding.DecodeString(encoded)
	} else {
		der, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxOCSPRequestBytes))
	}
	s, servicesErr := p.getServices()
	if servicesErr != nil {
		writeJSONError(w, http.StatusServiceUnavailable, servicesErr.Error())
		return
	}
	if err != nil {
		der = nil // answered as malformed
	}
	answer, err := s.core.OCSP(der)
	if err == nil && answer.NextUpdate.IsZero() && der != nil && p.reloadIfCARenewed(s) {
		// Perhaps a CA another node renewed: this one learns of it now.
		if s, err = p.getServices(); err == nil {
			answer, err = s.core.OCSP(der)
		}
	}
	if err != nil {
		p.API.LogError("Could not answer an OCSP request", "error", err.Error())
		writeJSONError(w, http.StatusServiceUnavailable, "the OCSP responder cannot answer right now")
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	if !answer.NextUpdate.IsZero() {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(max(0, int(time.Until(answer.NextUpdate).Seconds()))))
	}
	_, _ = w.Write(answer.DER)
}
