package portal

import (
	"encoding/pem"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// homePage is the signed-in person's page: their certificates, their
// requests, and a new certificate.
type homePage struct {
	Name        string
	Kind        string
	CSRF        string
	Profiles    []profileChoice
	Valid       []certificateRow
	Past        []certificateRow
	Requests    []requestRow
	CAChainURLs []chainLink
	// SecondFactor links a local account to its second factors.
	SecondFactor bool
}

type profileChoice struct {
	Name, Description string
	ValidityDays      int
	KeyType           string
	// ServerKey: the server may make the key; OwnKey: a CSR upload is
	// accepted (always, today).
	ServerKey, Default bool
}

type certificateRow struct {
	web.CertificateView
	Valid   bool
	Expires string
}

type requestRow struct {
	ID, Profile, State, Created string
	Collect                     bool
}

type chainLink struct{ Connector, URL string }

// kindWords name each kind of account on the page.
var kindWords = map[string]string{records.KindMattermost: "Mattermost account", "local": "local account", "oidc": "single sign-on"}

func (d *Door) handleHome(w http.ResponseWriter, _ *http.Request, v *visit) error {
	core := v.snapshot.Core
	page := homePage{Name: v.requester.Username, Kind: kindWords[v.requester.Principal.Kind()], CSRF: v.session.CSRF,
		SecondFactor: v.requester.Principal.Kind() == local.KindLocal && d.Factors != nil && v.snapshot.Config.PortalSecondFactor != config.SecondFactorOff}
	for _, prof := range core.UsableProfiles(v.requester) {
		page.Profiles = append(page.Profiles, profileChoice{
			Name: prof.Name, Description: prof.Description, ValidityDays: prof.ValidityDays,
			KeyType: pki.KeyType(prof.GeneratedKeyType()).Label(), ServerKey: prof.ServerKeysAllowed(),
			Default: prof.Name == v.snapshot.Catalog.DefaultProfile,
		})
	}
	certs, err := core.Certificates(v.requester.Principal)
	if err != nil {
		return err
	}
	now := d.Now()
	connectors := map[string]bool{}
	for _, c := range certs {
		row := certificateRow{CertificateView: web.ViewOf(c, now), Expires: formatDay(c.NotAfter)}
		row.Valid = row.State == string(records.CertIssued)
		if row.Valid {
			page.Valid = append(page.Valid, row)
			connectors[c.Connector] = true
		} else {
			page.Past = append(page.Past, row)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(connectors)) {
		page.CAChainURLs = append(page.CAChainURLs, chainLink{Connector: name, URL: d.Current.Site().CAChainURL(name)})
	}
	reqs, err := core.Requests(v.requester.Principal)
	if err != nil {
		return err
	}
	for _, req := range reqs {
		if req.State != records.RequestPending && req.State != records.RequestWaitingCA && req.State != records.RequestApproved {
			continue
		}
		page.Requests = append(page.Requests, requestRow{
			ID: req.ID, Profile: req.Profile, State: requestWords[req.State],
			Created: req.CreatedAt.UTC().Format("2006-01-02 15:04 MST"), Collect: req.State == records.RequestApproved,
		})
	}
	return d.pages.Render(w, http.StatusOK, "home", page)
}

var requestWords = map[records.RequestState]string{
	records.RequestPending:   "waiting for approval",
	records.RequestWaitingCA: "waiting for the CA",
	records.RequestApproved:  "approved: ready to collect",
}

// handleNew starts a certificate: the profile, and who makes the key.
func (d *Door) handleNew(w http.ResponseWriter, r *http.Request, v *visit) error {
	key := enroll.KeyFromServer
	if r.PostFormValue("key") == "csr" {
		key = enroll.KeyFromCSR
	}
	start, err := v.snapshot.Core.StartEnrollment(v.requester, enroll.StartRequest{Profile: r.PostFormValue("profile"), Key: key})
	if err != nil {
		return err
	}
	return d.goOn(w, r, start)
}

// goOn follows an enrollment started: to the page its link opens, or to
// a page that says it waits for an approver.
func (d *Door) goOn(w http.ResponseWriter, r *http.Request, start *enroll.Start) error {
	if start.Request != nil {
		return d.pages.RenderMessage(w, http.StatusAccepted, "Waiting for approval",
			"Your request "+start.Request.ID+" for a certificate of profile "+start.Profile.Name+" waits for an approver.",
			"You will get an email when it is decided; an approved request is collected from your certificates page.")
	}
	http.Redirect(w, r, d.base+app.LinkPath(start.Link), http.StatusSeeOther)
	return nil
}

// ownCertificate is one of the person's certificates, named by the route.
func (d *Door) ownCertificate(r *http.Request, v *visit) (*records.Certificate, error) {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	certs, err := v.snapshot.Core.Certificates(v.requester.Principal)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		if c.Serial == serial {
			return c, nil
		}
	}
	return nil, &web.Error{Status: http.StatusNotFound, Message: "You have no certificate with this serial."}
}

type revokePage struct {
	CSRF    string
	Cert    certificateRow
	Reasons []string
}

func (d *Door) handleRevokePage(w http.ResponseWriter, r *http.Request, v *visit) error {
	c, err := d.ownCertificate(r, v)
	if err != nil {
		return err
	}
	row := certificateRow{CertificateView: web.ViewOf(c, d.Now()), Expires: formatDay(c.NotAfter)}
	return d.pages.Render(w, http.StatusOK, "revoke", revokePage{CSRF: v.session.CSRF, Cert: row, Reasons: records.Reasons()})
}

func (d *Door) handleRevoke(w http.ResponseWriter, r *http.Request, v *visit) error {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	revoked, err := v.snapshot.Core.Revoke(r.Context(), v.requester, serial, r.PostFormValue("reason"))
	if err != nil {
		return err
	}
	hint := "Relying parties that check revocation refuse it from now on."
	if !revoked.AtCA {
		hint = "The CA has not been told yet; it will be as soon as it answers."
	}
	return d.pages.RenderMessage(w, http.StatusOK, "Certificate revoked",
		"The certificate "+serial+" is revoked ("+revoked.Record.RevocationReason+").", hint)
}

func (d *Door) handleRenew(w http.ResponseWriter, r *http.Request, v *visit) error {
	serial := pki.NormalizeSerial(mux.Vars(r)["serial"])
	start, err := v.snapshot.Core.StartEnrollment(v.requester, enroll.StartRequest{Renews: serial})
	if err != nil {
		return err
	}
	return d.goOn(w, r, start)
}

// handleDownload gives one of the person's certificates, as PEM.
func (d *Door) handleDownload(w http.ResponseWriter, r *http.Request, v *visit) error {
	c, err := d.ownCertificate(r, v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="`+c.Serial+`.pem"`)
	_, err = w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}))
	return err
}

// handleCollect collects an approved request: a new link, followed at once.
func (d *Door) handleCollect(w http.ResponseWriter, r *http.Request, v *visit) error {
	_, link, err := v.snapshot.Core.Pickup(v.requester, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	http.Redirect(w, r, d.base+app.LinkPath(link), http.StatusSeeOther)
	return nil
}

// formatDay is how the pages show a date.
func formatDay(t time.Time) string { return t.UTC().Format("2006-01-02") }
