package portal

import (
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/randtoken"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// signInPage is the sign-in page: the methods this server allows.
type signInPage struct {
	LocalAccounts bool
	// OIDCLabel is the words of the single sign-on button; none without a
	// provider.
	OIDCLabel string
	// MattermostURL signs a Mattermost user in, then comes back.
	MattermostURL string
	ReturnTo      string
	CSRF          string
	Username      string
	Error         string
	SignedOut     bool
}

// errWrongCredentials is every failed password sign-in, whether or not the
// account exists.
var errWrongCredentials = &web.Error{Status: http.StatusUnauthorized, Message: "The username or the password is wrong."}

func (d *Door) handleSignInPage(w http.ResponseWriter, r *http.Request) error {
	page, err := d.signInPage(w, r)
	if err != nil {
		return err
	}
	page.SignedOut = r.URL.Query().Get("signed_out") != ""
	return d.pages.Render(w, http.StatusOK, "signin", page)
}

// signInPage fills the page, with the form's token: a sign-in form has no
// session yet, so its token is a random value in a cookie of its own that
// the form repeats, and a form posted from another site cannot.
func (d *Door) signInPage(w http.ResponseWriter, r *http.Request) (*signInPage, error) {
	s, err := d.Current.Get()
	if err != nil {
		return nil, err
	}
	token := ""
	if c, err := r.Cookie(signInFormCookie); err == nil && len(c.Value) >= 32 {
		token = c.Value
	} else {
		if token, err = randtoken.New(); err != nil {
			return nil, err
		}
		cookie := d.Sessions.cookie(token, d.Now().Add(IdleTimeout))
		cookie.Name = signInFormCookie
		http.SetCookie(w, cookie)
	}
	returnTo := d.returnTo(r.FormValue(returnToParam))
	site := d.Current.Site()
	oidcLabel := ""
	if d.OIDC != nil && s.Config.OIDCEnabled() {
		oidcLabel = s.Config.OIDCButtonLabel
	}
	return &signInPage{
		OIDCLabel:     oidcLabel,
		LocalAccounts: s.Config.PortalLocalAccounts,
		MattermostURL: site.URL + "/login?redirect_to=" + url.QueryEscape(returnTo),
		ReturnTo:      returnTo,
		CSRF:          token,
	}, nil
}

// handleSignIn signs a local account in with its password. The throttle
// decides first, so that guessing costs a KV read, not a bcrypt; every
// failure reads the same.
func (d *Door) handleSignIn(w http.ResponseWriter, r *http.Request) error {
	page, err := d.signInPage(w, r)
	if err != nil {
		return err
	}
	if c, err := r.Cookie(signInFormCookie); err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue(CSRFField))) != 1 {
		return ErrBadCSRF
	}
	if !page.LocalAccounts {
		return errLocalAccountsOff
	}
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	page.Username = username
	refuse := func(status int, err error) error {
		he := web.AsError(err)
		page.Error = d.words(err)
		if he.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(he.RetryAfter.Seconds()))))
		}
		return d.pages.Render(w, status, "signin", page)
	}
	address := d.Current.Site().ClientAddress(r)
	if err := d.Accounts.Throttle.Attempt(username, address); err != nil {
		d.audit("portal_sign_in", "", "throttled")
		return refuse(web.AsError(err).Status, err)
	}
	account, err := d.Accounts.Verify(username, password)
	switch {
	case errors.Is(err, local.ErrWrongCredentials):
		// The attempt was counted as failed before it was tried.
		d.audit("portal_sign_in", "", "wrong_credentials")
		return refuse(http.StatusUnauthorized, errWrongCredentials)
	case errors.Is(err, local.ErrTooManySignIns):
		if err := d.Accounts.Throttle.Withdrawn(username, address); err != nil {
			return err
		}
		return refuse(web.AsError(err).Status, err)
	case err != nil:
		return err
	}
	s, err := d.Current.Get()
	if err != nil {
		return err
	}
	stage, err := d.stageAfterPassword(s.Config, account)
	if err != nil {
		return err
	}
	// A right password takes its own charge back; the account's failures
	// are forgotten only once the whole sign-in succeeds, so that knowing
	// the password buys no fresh guesses at the second factor.
	settle := d.Accounts.Throttle.Succeeded
	if stage != "" {
		settle = d.Accounts.Throttle.Withdrawn
	}
	if err := settle(account.Username, address); err != nil {
		return err
	}
	session, err := d.Sessions.StartAt(w, r, local.PrincipalOf(account), stage)
	if err != nil {
		return err
	}
	if stage != "" {
		d.audit("portal_password_accepted", session.Principal, stage)
		http.Redirect(w, r, d.stagePage(stage)+"?"+returnToParam+"="+url.QueryEscape(page.ReturnTo), http.StatusSeeOther)
		return nil
	}
	d.audit("portal_sign_in", session.Principal, "password")
	http.Redirect(w, r, page.ReturnTo, http.StatusSeeOther)
	return nil
}

// handleSignOut ends the session on the server and in the browser. It
// needs the session's token, so no other site can sign anyone out.
func (d *Door) handleSignOut(w http.ResponseWriter, r *http.Request) error {
	session, err := d.Sessions.Current(w, r)
	if err == nil {
		if err := CheckCSRF(r, session); err != nil {
			return err
		}
		d.Sessions.End(w, r)
		d.audit("portal_sign_out", session.Principal, "")
	}
	http.Redirect(w, r, d.base+routeSignIn+"?signed_out=1", http.StatusSeeOther)
	return nil
}

// passwordPage sets a local account's password through its link.
type passwordPage struct {
	Token    string
	Username string
	MinChars int
	Error    string
	Done     bool
}

func (d *Door) handlePasswordPage(w http.ResponseWriter, r *http.Request) error {
	token := r.URL.Query().Get("token")
	account, err := d.Accounts.PasswordLinkAccount(token)
	if err != nil {
		return err
	}
	return d.pages.Render(w, http.StatusOK, "password", passwordPage{Token: token, Username: account.Username, MinChars: local.MinPasswordLength})
}

// handleSetPassword sets the password; the link is its own proof, and a
// password the rules refuse leaves it usable.
func (d *Door) handleSetPassword(w http.ResponseWriter, r *http.Request) error {
	token := r.PostFormValue("token")
	page := passwordPage{Token: token, MinChars: local.MinPasswordLength}
	account, err := d.Accounts.PasswordLinkAccount(token)
	if err != nil {
		return err
	}
	page.Username = account.Username
	password := r.PostFormValue("password")
	if password != r.PostFormValue("confirm") {
		page.Error = "The two passwords differ."
		return d.pages.Render(w, http.StatusBadRequest, "password", page)
	}
	if _, err := d.Accounts.SetPassword(token, password); err != nil {
		var e *enroll.Error
		if errors.As(err, &e) && e.Code == enroll.CodeInvalid {
			page.Error = e.Message
			return d.pages.Render(w, http.StatusBadRequest, "password", page)
		}
		return err
	}
	d.audit("portal_password_set", local.PrincipalOf(account), "")
	page.Done, page.Token = true, ""
	return d.pages.Render(w, http.StatusOK, "password", page)
}
