package portal

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/config"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// Second factors of local accounts: an authenticator app (TOTP) or a
// passkey. After the password, an account that has one gives it before the
// session opens; where the settings require one, an account without sets
// one up first. Mattermost users and single sign-on have their own.
const (
	routeVerify         = "/signin/second-factor"
	routeVerifyPasskey  = "/signin/passkey"
	routeFactors        = "/second-factor"
	routeFactorsTOTP    = "/second-factor/totp"
	routeFactorsPasskey = "/second-factor/passkey"
	routeRemoveTOTP     = "/second-factor/totp/remove"
	routeRemovePasskey  = "/second-factor/passkeys/{id}/remove"
)

// SecondFactors are a local account's factors as the site's settings
// make them: the TOTP secrets sealed with its key, passkeys for its host.
type SecondFactors struct {
	TOTP     *local.TOTP
	Passkeys *local.Passkeys
}

func (d *Door) mountSecondFactors(r *mux.Router) {
	r.Handle(routeVerify, d.staged(d.handleVerifyPage)).Methods(http.MethodGet)
	r.Handle(routeVerify, d.staged(d.handleVerifyTOTP)).Methods(http.MethodPost)
	r.Handle(routeVerifyPasskey, d.staged(d.handleVerifyPasskey)).Methods(http.MethodPost)
	r.Handle(routeFactors, d.staged(d.handleFactorsPage)).Methods(http.MethodGet)
	r.Handle(routeFactorsTOTP, d.staged(d.handleConfirmTOTP)).Methods(http.MethodPost)
	r.Handle(routeFactorsPasskey, d.staged(d.handleRegisterPasskey)).Methods(http.MethodPost)
	r.Handle(routeRemoveTOTP, d.signedIn(d.handleRemoveTOTP)).Methods(http.MethodPost)
	r.Handle(routeRemovePasskey, d.signedIn(d.handleRemovePasskey)).Methods(http.MethodPost)
}

// stagePage is where a session at stage goes on.
func (d *Door) stagePage(stage string) string {
	if stage == StageSetUpFactor {
		return d.base + routeFactors
	}
	return d.base + routeVerify
}

// stageAfterPassword is the stage a local account's session starts at once
// its password was right: open, a factor to give, or one to set up.
func (d *Door) stageAfterPassword(c *config.Configuration, account *store.LocalAccount) (string, error) {
	if c.PortalSecondFactor == config.SecondFactorOff || d.Factors == nil {
		return "", nil
	}
	factors, err := local.Factors(d.FactorStore, account.ID)
	if err != nil {
		return "", err
	}
	switch {
	case factors.Any():
		return StageSecondFactor, nil
	case c.PortalSecondFactor == config.SecondFactorRequired:
		return StageSetUpFactor, nil
	}
	return "", nil
}

// localAccount is the local account of a visit; others have no factors
// here.
func (d *Door) localAccount(v *visit) (*store.LocalAccount, error) {
	if v.session.Principal.Kind() != local.KindLocal {
		return nil, &web.Error{Status: http.StatusNotFound, Message: "Second factors are for local accounts; your sign-in has its own."}
	}
	return d.Accounts.Store.LocalAccount(v.session.Principal.ID())
}

// factorsOf are a visit's local account and the second factors of the
// settings in use.
func (d *Door) factorsOf(v *visit) (*store.LocalAccount, *SecondFactors, error) {
	account, err := d.localAccount(v)
	if err != nil {
		return nil, nil, err
	}
	f, err := d.Factors()
	if err != nil {
		return nil, nil, err
	}
	return account, f, nil
}

// failure reports whether err is ours (a 5xx), not a refusal to show on
// the page.
func failure(err error) bool { return web.AsError(err).Status >= http.StatusInternalServerError }

// open opens the session after its stage was passed: a new session, with a
// new id, then on to where the person was going.
func (d *Door) open(w http.ResponseWriter, r *http.Request, v *visit, how string) error {
	session, err := d.Sessions.Start(w, r, v.session.Principal)
	if err != nil {
		return err
	}
	d.audit("portal_sign_in", session.Principal, how)
	http.Redirect(w, r, d.returnTo(r.PostFormValue(returnToParam)), http.StatusSeeOther)
	return nil
}

type verifyPage struct {
	CSRF, ReturnTo string
	TOTP           bool
	Passkey        *local.PasskeyCeremony
	Error          string
}

func (d *Door) verifyPage(w http.ResponseWriter, r *http.Request, v *visit, status int, refusal error) error {
	if v.session.Stage != StageSecondFactor {
		http.Redirect(w, r, d.base+routeHome, http.StatusSeeOther)
		return nil
	}
	account, err := d.localAccount(v)
	if err != nil {
		return err
	}
	factors, err := local.Factors(d.FactorStore, account.ID)
	if err != nil {
		return err
	}
	page := verifyPage{CSRF: v.session.CSRF, ReturnTo: d.returnTo(r.FormValue(returnToParam)), TOTP: factors.TOTP}
	if factors.Passkeys > 0 {
		f, err := d.Factors()
		if err != nil {
			return err
		}
		if page.Passkey, err = f.Passkeys.BeginLogin(account); err != nil {
			return err
		}
	}
	if refusal != nil {
		page.Error = d.words(refusal)
	}
	return d.pages.Render(w, status, "verify", page)
}

func (d *Door) handleVerifyPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.verifyPage(w, r, v, http.StatusOK, nil)
}

// handleVerifyTOTP checks an authenticator app's code. A wrong code counts
// as a failed sign-in of the account: the throttle that slows passwords
// slows codes, and decides before the code is checked.
func (d *Door) handleVerifyTOTP(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.session.Stage != StageSecondFactor {
		return ErrNoSession
	}
	account, f, err := d.factorsOf(v)
	if err != nil {
		return err
	}
	address := d.Current.Site().ClientAddress(r)
	if err := d.Accounts.Throttle.Attempt(account.Username, address); err != nil {
		return d.verifyPage(w, r, v, web.AsError(err).Status, err)
	}
	if err := f.TOTP.Verify(account.ID, r.PostFormValue("code")); err != nil {
		if failure(err) {
			return err
		}
		d.audit("portal_sign_in", "", "wrong_code")
		return d.verifyPage(w, r, v, http.StatusUnauthorized, err)
	}
	if err := d.Accounts.Throttle.Succeeded(account.Username, address); err != nil {
		return err
	}
	return d.open(w, r, v, "password+totp")
}

// handleVerifyPasskey checks a passkey's answer to the sign-in ceremony.
func (d *Door) handleVerifyPasskey(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.session.Stage != StageSecondFactor {
		return ErrNoSession
	}
	account, f, err := d.factorsOf(v)
	if err != nil {
		return err
	}
	if _, err := f.Passkeys.FinishLogin(account, r.PostFormValue("ceremony"), []byte(r.PostFormValue("response"))); err != nil {
		if failure(err) {
			return err
		}
		d.audit("portal_sign_in", "", "passkey_refused")
		return d.verifyPage(w, r, v, http.StatusUnauthorized, err)
	}
	return d.open(w, r, v, "password+passkey")
}

// factorsPage sets up and lists a local account's second factors.
type factorsPage struct {
	CSRF     string
	Required bool
	// Setting up is the stage the session is at: nothing else opens yet.
	SettingUp  bool
	TOTPActive bool
	// TOTPQR is a new secret's QR code (a data: URL) and Secret the same
	// to type, while no app is set up; none while one is being confirmed
	// (a code was refused: the app has the secret already).
	TOTPQR       template.URL
	TOTPSecret   string
	Confirming   bool
	Passkeys     []store.Passkey
	Registration *local.PasskeyCeremony
	Error, Done  string
	Off          bool
}

func (d *Door) factorsPage(w http.ResponseWriter, v *visit, status int, refusal error, done string) error {
	account, err := d.localAccount(v)
	if err != nil {
		return err
	}
	c := v.snapshot.Config
	page := factorsPage{CSRF: v.session.CSRF, Required: c.PortalSecondFactor == config.SecondFactorRequired,
		SettingUp: v.session.Stage == StageSetUpFactor, Off: c.PortalSecondFactor == config.SecondFactorOff || d.Factors == nil, Done: done}
	if refusal != nil {
		page.Error = d.words(refusal)
	}
	if page.Off {
		return d.pages.Render(w, status, "factors", page)
	}
	f, err := d.Factors()
	if err != nil {
		return err
	}
	factors, err := local.Factors(d.FactorStore, account.ID)
	if err != nil {
		return err
	}
	page.TOTPActive = factors.TOTP
	page.Confirming = refusal != nil && !factors.TOTP && factors.PendingTOTP
	if !factors.TOTP && !page.Confirming {
		enrolment, err := f.TOTP.Begin(account.ID)
		if err != nil {
			return err
		}
		page.TOTPQR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(enrolment.QRCodePNG)) // #nosec G203 -- our own base64
		page.TOTPSecret = enrolment.Secret
	}
	if page.Passkeys, err = f.Passkeys.List(account.ID); err != nil {
		return err
	}
	if page.Registration, err = f.Passkeys.BeginRegistration(account); err != nil {
		return err
	}
	return d.pages.Render(w, status, "factors", page)
}

func (d *Door) handleFactorsPage(w http.ResponseWriter, _ *http.Request, v *visit) error {
	if v.session.Stage == StageSecondFactor {
		return ErrNoSession
	}
	return d.factorsPage(w, v, http.StatusOK, nil, "")
}

// factorAdded opens a session that was setting its first factor up, or
// shows the factors again.
func (d *Door) factorAdded(w http.ResponseWriter, r *http.Request, v *visit, how, done string) error {
	d.audit("portal_second_factor_added", v.session.Principal, how)
	if v.session.Stage == StageSetUpFactor {
		return d.open(w, r, v, "password+"+how+"_set_up")
	}
	return d.factorsPage(w, v, http.StatusOK, nil, done)
}

func (d *Door) handleConfirmTOTP(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.session.Stage == StageSecondFactor {
		return ErrNoSession
	}
	account, f, err := d.factorsOf(v)
	if err != nil {
		return err
	}
	if err := f.TOTP.Confirm(account.ID, r.PostFormValue("code")); err != nil {
		if failure(err) {
			return err
		}
		return d.factorsPage(w, v, http.StatusBadRequest, err, "")
	}
	return d.factorAdded(w, r, v, "totp", "Your authenticator app is set up.")
}

func (d *Door) handleRegisterPasskey(w http.ResponseWriter, r *http.Request, v *visit) error {
	if v.session.Stage == StageSecondFactor {
		return ErrNoSession
	}
	account, f, err := d.factorsOf(v)
	if err != nil {
		return err
	}
	if _, err := f.Passkeys.FinishRegistration(account, r.PostFormValue("ceremony"), r.PostFormValue("name"), []byte(r.PostFormValue("response"))); err != nil {
		if failure(err) {
			return err
		}
		return d.factorsPage(w, v, http.StatusBadRequest, err, "")
	}
	return d.factorAdded(w, r, v, "passkey", "Your passkey is registered.")
}

// errLastFactor refuses to remove the only factor where one is required.
var errLastFactor = &web.Error{Status: http.StatusConflict, Message: "A second factor is required here: add another one before you remove this one."}

// mayRemove refuses to remove a factor that is the last one, where one is
// required.
func (d *Door) mayRemove(v *visit, accountID string, removing local.SecondFactors) error {
	if v.snapshot.Config.PortalSecondFactor != config.SecondFactorRequired {
		return nil
	}
	factors, err := local.Factors(d.FactorStore, accountID)
	if err != nil {
		return err
	}
	left := local.SecondFactors{TOTP: factors.TOTP && !removing.TOTP, Passkeys: factors.Passkeys - removing.Passkeys}
	if !left.Any() {
		return errLastFactor
	}
	return nil
}

func (d *Door) handleRemoveTOTP(w http.ResponseWriter, _ *http.Request, v *visit) error {
	return d.removeFactor(w, v, local.SecondFactors{TOTP: true}, "totp", "Your authenticator app is removed.",
		func(f *SecondFactors, accountID string) error {
			if err := f.TOTP.Remove(accountID); err != nil && !errors.Is(err, local.ErrNoTOTP) {
				return err
			}
			return nil
		})
}

func (d *Door) handleRemovePasskey(w http.ResponseWriter, r *http.Request, v *visit) error {
	return d.removeFactor(w, v, local.SecondFactors{Passkeys: 1}, "passkey", "The passkey is removed.",
		func(f *SecondFactors, accountID string) error { return f.Passkeys.Remove(accountID, mux.Vars(r)["id"]) })
}

// removeFactor removes a factor of the visit's account, unless it is the
// last one where one is required, and shows the factors left.
func (d *Door) removeFactor(w http.ResponseWriter, v *visit, removing local.SecondFactors, how, done string,
	remove func(f *SecondFactors, accountID string) error) error {
	account, f, err := d.factorsOf(v)
	if err != nil {
		return err
	}
	if err := d.mayRemove(v, account.ID, removing); err != nil {
		return d.factorsPage(w, v, http.StatusConflict, err, "")
	}
	if err := remove(f, account.ID); err != nil {
		return err
	}
	d.audit("portal_second_factor_removed", v.session.Principal, how)
	return d.factorsPage(w, v, http.StatusOK, nil, done)
}

// words is a refusal as the page says it, with what to do.
func (d *Door) words(err error) string {
	he := web.AsError(err)
	text := he.Message
	if hint := d.pages.Hint(he); hint != "" {
		text += " " + hint
	}
	return text
}
