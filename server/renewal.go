package main

import (
	"net/http"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/linktoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/observe"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// Renewal's API door: POST /api/v1/certificates/{serial}/renew (the
// chat's, `/cert renew <serial>` and the Renew button of a reminder, are
// in server/chat).

// renewResponse answers POST /api/v1/certificates/{serial}/renew with the
// link of the renewal.
type renewResponse struct {
	URL       string    `json:"url"`
	Kind      string    `json:"kind"`
	ExpiresAt time.Time `json:"expires_at"`
	Profile   string    `json:"profile"`
	Renews    string    `json:"renews"`
}

// handleRenewCertificate starts the renewal of one of the caller's
// certificates: a link (201), or a request that waits for an approver (202).
func (p *Plugin) handleRenewCertificate(w http.ResponseWriter, r *http.Request, userID string) error {
	serial, s, requester, err := p.serialRoute(r, userID)
	if err != nil {
		return err
	}
	renewal, err := s.Core.StartEnrollment(requester, enroll.StartRequest{Renews: serial})
	observe.AuditRenewal(p.API, requester, serial, renewal, err)
	if err != nil {
		return err
	}
	if renewal.Request != nil {
		return p.respondRequest(w, true, renewal.Request)
	}
	u, err := p.site().LinkURL(renewal.Link)
	if err != nil {
		return err
	}
	kind := "download"
	if renewal.Link.Purpose == linktoken.PurposeCSR {
		kind = "csr"
	}
	web.WriteJSON(w, http.StatusCreated, renewResponse{URL: u, Kind: kind, ExpiresAt: renewal.Link.ExpiresAt, Profile: renewal.Link.Profile, Renews: serial})
	return nil
}
