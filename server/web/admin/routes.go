// Package admin is the system admins' JSON API: every certificate,
// read-only, as a listing, a count and a CSV export; the renewal of the
// built-in issuing CA on demand; and the check of unsaved settings for the
// System Console's settings form.
package admin

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/builtinca"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
	"github.com/gorilla/mux"
)

// Routes serves the admin API; every route asks the core whether the
// caller is an administrator.
type Routes struct {
	Callers *web.Callers
	Auth    web.Authenticator
	Log     Logger
	Now     func() time.Time
	// RenewCA renews the built-in issuing CA of a configuration; force
	// renews it however long it has left (builtinca.Keeper.Renew).
	RenewCA func(c *config.Configuration, threshold time.Duration, force bool) (*builtinca.Renewal, error)
	// Accounts are the portal's local accounts; nil mounts no route for
	// them. MailPasswordLink mails a set-password link to its account.
	Accounts         *local.Accounts
	MailPasswordLink func(account *store.LocalAccount, link string)
	Current          *app.Current
}

// Logger is the log of the admin API: what went wrong, and what an admin
// did that changes the CA.
type Logger interface {
	web.Logger
	LogInfo(msg string, keyValuePairs ...any)
}

// Mount adds the routes to api, the router of /api/v1.
//
// In a subrouter, gorilla/mux forgets that a route matched the path but not
// the method (405) as soon as a later route is tried, and answers 404: the
// routes whose 405 the tests pin (the CA renewal) come last.
func (h *Routes) Mount(api *mux.Router) {
	api.Handle(routeSettingsCheck, web.API(h.Log, h.Auth, h.handleSettingsCheck)).Methods(http.MethodPost)
	if h.Accounts != nil {
		h.mountLocalAccounts(api)
	}
	api.Handle(routeAdminCertificates, web.API(h.Log, h.Auth, h.handleAdminCertificates)).Methods(http.MethodGet)
	api.Handle(routeAdminCounts, web.API(h.Log, h.Auth, h.handleAdminCounts)).Methods(http.MethodGet)
	api.Handle(routeAdminExport, web.API(h.Log, h.Auth, h.handleAdminExport)).Methods(http.MethodGet)
	api.Handle(routeAdminCertificate, web.API(h.Log, h.Auth, h.handleAdminCertificate)).Methods(http.MethodGet)
	api.Handle(routeAdminCARenew, web.API(h.Log, h.Auth, h.handleAdminCARenew)).Methods(http.MethodPost)
}

// adminOnly resolves the caller, who must administer certificates; what
// words the refusal ("only a system admin may <what>").
func (h *Routes) adminOnly(caller records.Principal, what string) (*app.Snapshot, error) {
	s, requester, err := h.Callers.Resolve(caller)
	if err != nil {
		return nil, err
	}
	if !s.Core.IsAdmin(requester) {
		return nil, &web.Error{Status: http.StatusForbidden, Message: "only a system admin may " + what}
	}
	return s, nil
}

// ownerPrincipal reads the owner filter: a principal (mm:…), or a bare
// Mattermost user id as the API took before principals had kinds.
func ownerPrincipal(owner string) records.Principal {
	if strings.Contains(owner, ":") {
		return records.Principal(owner)
	}
	return records.MattermostUser(owner)
}

// Routes for system admins: every certificate, read-only.
const (
	routeAdminCertificates = "/admin/certificates"
	routeAdminCertificate  = "/admin/certificates/{serial}"
	routeAdminCounts       = "/admin/counts"
	routeAdminExport       = "/admin/certificates.csv"
)

// Page is one page of the admin listing.
type Page struct {
	Certificates []CertificateView `json:"certificates"`
	// Next is the cursor of the next page (the after parameter); empty
	// after the last.
	Next string `json:"next,omitempty"`
}

// CertificateView is a certificate as administrators see it: whose it is,
// and which kind of account that is (mm: a Mattermost user; local and
// oidc: the portal's people).
type CertificateView struct {
	web.CertificateView
	Owner     string `json:"owner"`
	OwnerKind string `json:"owner_kind"`
}

func viewOf(c *records.Certificate, now time.Time) CertificateView {
	return CertificateView{CertificateView: web.ViewOf(c, now), Owner: string(c.Owner), OwnerKind: c.Owner.Kind()}
}

// handleAdminCertificates is GET /api/v1/admin/certificates: filters owner
// (a Mattermost user id), state (issued, expired, revoked),
// expiring_within_days; paged with after (the previous page's next) and
// limit (at most 1000).
func (h *Routes) handleAdminCertificates(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	s, admin, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	filter, err := h.adminFilter(r)
	if err != nil {
		return err
	}
	page, err := s.Core.SearchCertificates(admin, filter)
	if err != nil {
		return err
	}
	views := make([]CertificateView, 0, len(page.Certificates))
	for _, c := range page.Certificates {
		views = append(views, viewOf(c, h.Now()))
	}
	web.WriteJSON(w, http.StatusOK, Page{Certificates: views, Next: page.Next})
	return nil
}

// handleAdminCertificate is GET /api/v1/admin/certificates/{serial}.
func (h *Routes) handleAdminCertificate(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	if serial == "" {
		return &web.Error{Status: http.StatusBadRequest, Message: "not a certificate serial"}
	}
	s, admin, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	record, err := s.Core.CertificateBySerial(admin, serial)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, viewOf(record, h.Now()))
	return nil
}

// handleAdminCounts is GET /api/v1/admin/counts: certificates by state.
func (h *Routes) handleAdminCounts(w http.ResponseWriter, _ *http.Request, caller records.Principal) error {
	s, admin, err := h.Callers.Resolve(caller)
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

// adminFilter reads a listing's filters: owner (a principal, or a
// Mattermost user id),
// state (issued, expired, revoked), profile, expiring_within_days, and the
// page (after, limit).
func (h *Routes) adminFilter(r *http.Request) (records.CertificateFilter, error) {
	q := r.URL.Query()
	filter := records.CertificateFilter{State: q.Get("state"), Profile: q.Get("profile"), After: q.Get("after")}
	if owner := q.Get("owner"); owner != "" {
		filter.Owner = ownerPrincipal(owner)
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
		before := h.Now().Add(time.Duration(days) * 24 * time.Hour)
		filter.ExpiringBefore = &before
	}
	return filter, nil
}

// exportPageSize is how many certificates each page of an export reads.
const exportPageSize = 1000

// handleAdminExport is GET /api/v1/admin/certificates.csv: every
// certificate the filters select, page after page, as CSV.
func (h *Routes) handleAdminExport(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	s, admin, err := h.Callers.Resolve(caller)
	if err != nil {
		return err
	}
	filter, err := h.adminFilter(r)
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
		"not_before", "not_after", "state", "revoked_at", "revocation_reason", "fingerprint_sha256", "renews", "email_changed_at", "owner_kind"})
	now := h.Now()
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
				revokedAt, c.RevocationReason, c.Fingerprint, c.Renews, emailChangedAt, c.Owner.Kind()})
		}
		if page.Next == "" {
			break
		}
		filter.After = page.Next
		if page, err = s.Core.SearchCertificates(admin, filter); err != nil {
			// The header is sent: the export ends here, and says so.
			h.Log.LogError("A certificate export stopped", "error", err.Error())
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
