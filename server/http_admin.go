package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// Routes for system admins: every certificate, read-only.
const (
	routeAdminCertificates = "/admin/certificates"
	routeAdminCertificate  = "/admin/certificates/{serial}"
	routeAdminCounts       = "/admin/counts"
)

// adminPage is one page of the admin listing.
type adminPage struct {
	Certificates []certificateView `json:"certificates"`
	// Next is the cursor of the next page (the after parameter); empty
	// after the last.
	Next string `json:"next,omitempty"`
}

// handleAdminCertificates is GET /api/v1/admin/certificates: filters owner
// (a Mattermost user id), state (issued, expired, revoked),
// expiring_within_days; paged with after (the previous page's next) and
// limit (at most 1000).
func (p *Plugin) handleAdminCertificates(w http.ResponseWriter, r *http.Request, userID string) error {
	s, admin, err := p.sessionAdmin(userID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	filter := records.CertificateFilter{State: q.Get("state"), After: q.Get("after")}
	if owner := q.Get("owner"); owner != "" {
		filter.Owner = sessionPrincipal(owner)
	}
	if v := q.Get("limit"); v != "" {
		if filter.Limit, err = strconv.Atoi(v); err != nil || filter.Limit < 1 {
			return &httpError{Status: http.StatusBadRequest, Message: "limit must be a positive number"}
		}
	}
	if v := q.Get("expiring_within_days"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 0 || days > 3650 {
			return &httpError{Status: http.StatusBadRequest, Message: "expiring_within_days must be a number of days from 0 to 3650"}
		}
		before := p.now().Add(time.Duration(days) * 24 * time.Hour)
		filter.ExpiringBefore = &before
	}
	page, err := s.core.SearchCertificates(admin, filter)
	if err != nil {
		return err
	}
	views := make([]certificateView, 0, len(page.Certificates))
	for _, c := range page.Certificates {
		views = append(views, p.viewOf(c))
	}
	writeJSON(w, http.StatusOK, adminPage{Certificates: views, Next: page.Next})
	return nil
}

// handleAdminCertificate is GET /api/v1/admin/certificates/{serial}.
func (p *Plugin) handleAdminCertificate(w http.ResponseWriter, r *http.Request, userID string) error {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	if serial == "" {
		return &httpError{Status: http.StatusBadRequest, Message: "not a certificate serial"}
	}
	s, admin, err := p.sessionAdmin(userID)
	if err != nil {
		return err
	}
	record, err := s.core.CertificateBySerial(admin, serial)
	if err != nil {
		return err
	}
	view := p.viewOf(record)
	writeJSON(w, http.StatusOK, struct {
		certificateView
		Owner string `json:"owner"`
	}{view, string(record.Owner)})
	return nil
}

// handleAdminCounts is GET /api/v1/admin/counts: certificates by state.
func (p *Plugin) handleAdminCounts(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, admin, err := p.sessionAdmin(userID)
	if err != nil {
		return err
	}
	counts, err := s.core.CountCertificates(admin)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, counts)
	return nil
}

// sessionAdmin is the signed-in account of an admin route, an admin only
// if Mattermost's permission system says so (manage_system), whatever its
// role is called.
func (p *Plugin) sessionAdmin(userID string) (*services, *enroll.Requester, error) {
	s, r, err := p.sessionRequester(userID)
	if err != nil {
		return nil, nil, err
	}
	r.Admin = p.API.HasPermissionTo(userID, model.PermissionManageSystem)
	return s, r, nil
}
