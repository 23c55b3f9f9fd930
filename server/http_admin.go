package main

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/builtinca"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// Routes for system admins: every certificate, read-only.
const (
	routeAdminCertificates = "/admin/certificates"
	routeAdminCertificate  = "/admin/certificates/{serial}"
	routeAdminCounts       = "/admin/counts"
	routeAdminExport       = "/admin/certificates.csv"
	routeAdminCARenew      = "/admin/ca/rollover"
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
	s, admin, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	filter, err := p.adminFilter(r)
	if err != nil {
		return err
	}
	page, err := s.Core.SearchCertificates(admin, filter)
	if err != nil {
		return err
	}
	views := make([]certificateView, 0, len(page.Certificates))
	for _, c := range page.Certificates {
		views = append(views, p.viewOf(c))
	}
	web.WriteJSON(w, http.StatusOK, adminPage{Certificates: views, Next: page.Next})
	return nil
}

// handleAdminCertificate is GET /api/v1/admin/certificates/{serial}.
func (p *Plugin) handleAdminCertificate(w http.ResponseWriter, r *http.Request, userID string) error {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	if serial == "" {
		return &web.Error{Status: http.StatusBadRequest, Message: "not a certificate serial"}
	}
	s, admin, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	record, err := s.Core.CertificateBySerial(admin, serial)
	if err != nil {
		return err
	}
	view := p.viewOf(record)
	web.WriteJSON(w, http.StatusOK, struct {
		certificateView
		Owner string `json:"owner"`
	}{view, string(record.Owner)})
	return nil
}

// handleAdminCounts is GET /api/v1/admin/counts: certificates by state.
func (p *Plugin) handleAdminCounts(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, admin, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	counts, err := s.Core.CountCertificates(admin)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, counts)
	return nil
}

// adminFilter reads a listing's filters: owner (a Mattermost user id),
// state (issued, expired, revoked), profile, expiring_within_days, and the
// page (after, limit).
func (p *Plugin) adminFilter(r *http.Request) (records.CertificateFilter, error) {
	q := r.URL.Query()
	filter := records.CertificateFilter{State: q.Get("state"), Profile: q.Get("profile"), After: q.Get("after")}
	if owner := q.Get("owner"); owner != "" {
		filter.Owner = sessionPrincipal(owner)
	}
	if v := q.Get("limit"); v != "" {
		limit, err := strconv.Atoi(v)
		if err != nil || limit < 1 {
			return filter, &web.Error{Status: http.StatusBadRequest, Message: "limit must be a positive number"}
		}
		filter.Limit = limit
	}
	if v := q.Get("expiring_within_days"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 0 || days > 3650 {
			return filter, &web.Error{Status: http.StatusBadRequest, Message: "expiring_within_days must be a number of days from 0 to 3650"}
		}
		before := p.now().Add(time.Duration(days) * 24 * time.Hour)
		filter.ExpiringBefore = &before
	}
	return filter, nil
}

// exportPageSize is how many certificates each page of an export reads.
const exportPageSize = 1000

// handleAdminExport is GET /api/v1/admin/certificates.csv: every
// certificate the filters select, page after page, as CSV.
func (p *Plugin) handleAdminExport(w http.ResponseWriter, r *http.Request, userID string) error {
	s, admin, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	filter, err := p.adminFilter(r)
	if err != nil {
		return err
	}
	filter.Limit = exportPageSize
	page, err := s.Core.SearchCertificates(admin, filter)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="certificates.csv"`)
	out := csv.NewWriter(w)
	_ = out.Write([]string{"serial", "owner", "subject", "emails", "profile", "connector", "origin", "key_type",
		"not_before", "not_after", "state", "revoked_at", "revocation_reason", "fingerprint_sha256", "renews", "email_changed_at"})
	now := p.now()
	for {
		for _, c := range page.Certificates {
			revokedAt, emailChangedAt := "", ""
			if c.RevokedAt != nil {
				revokedAt = c.RevokedAt.UTC().Format(time.RFC3339)
			}
			if c.EmailChangedAt != nil {
				emailChangedAt = c.EmailChangedAt.UTC().Format(time.RFC3339)
			}
			_ = out.Write([]string{c.Serial, string(c.Owner), csvSafe(c.Subject), csvSafe(strings.Join(c.Emails, " ")), csvSafe(c.Profile), c.Connector,
				c.Origin, c.KeyType, c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), c.StateAt(now),
				revokedAt, c.RevocationReason, c.Fingerprint, c.Renews, emailChangedAt})
		}
		if page.Next == "" {
			break
		}
		filter.After = page.Next
		if page, err = s.Core.SearchCertificates(admin, filter); err != nil {
			// The header is sent: the export ends here, and says so.
			p.API.LogError("A certificate export stopped", "error", err.Error())
			_ = out.Write([]string{"# the export stopped early: " + err.Error()})
			break
		}
	}
	out.Flush()
	return nil
}

// csvSafe keeps a field from being read as a formula by a spreadsheet.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// caRenewalView is the answer to a forced renewal of the built-in issuing
// CA.
type caRenewalView struct {
	Generation int       `json:"generation"`
	IssuingCA  string    `json:"issuing_ca"`
	NotAfter   time.Time `json:"not_after"`
	Previous   string    `json:"previous"`
	// PreviousNotAfter is until when the previous issuing CA, and the
	// certificates it signed, stay valid.
	PreviousNotAfter time.Time `json:"previous_not_after"`
}

// handleAdminCARenew is POST /api/v1/admin/ca/rollover: a system admin
// renews the built-in issuing CA now rather than when it is due (a
// suspected key compromise, a test of the relying parties). The admins are
// told as for a scheduled renewal.
func (p *Plugin) handleAdminCARenew(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, requester, err := p.sessionRequester(userID)
	if err != nil {
		return err
	}
	if !s.Core.IsAdmin(requester) {
		return &web.Error{Status: http.StatusForbidden, Message: "only a system admin may renew the CA"}
	}
	if s.BuiltinCA == nil && !s.Config.UsesCustomCA() {
		return &web.Error{Status: http.StatusConflict, Message: "no connector uses the built-in CA"}
	}
	r, err := p.caKeeper.Renew(s.Config, builtinca.RenewalThreshold(s.Catalog), true)
	var impossible *builtinca.ErrRenewalNotPossible
	if errors.As(err, &impossible) {
		return &web.Error{Status: http.StatusConflict, Message: impossible.Reason}
	}
	if err != nil {
		return err
	}
	if r == nil {
		return &web.Error{Status: http.StatusConflict, Message: "the built-in CA has not been made yet"}
	}
	p.API.LogInfo("A system admin renewed the built-in issuing CA", "user_id", userID, "generation", r.Generation)
	web.WriteJSON(w, http.StatusOK, caRenewalView{
		Generation: r.Generation, IssuingCA: r.Current.Subject.String(), NotAfter: r.Current.NotAfter,
		Previous: r.Previous.Subject.String(), PreviousNotAfter: r.Previous.NotAfter,
	})
	return nil
}
