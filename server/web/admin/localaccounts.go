package admin

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/clientcerts/mattermost-plugin-certs/server/local"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/store"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// Routes of the portal's local accounts, relative to /api/v1.
const (
	routeLocalAccounts      = "/admin/local-accounts"
	routeLocalAccountReset  = "/admin/local-accounts/{username}/reset"
	routeLocalAccountUnlock = "/admin/local-accounts/{username}/unlock"
	routeLocalAccountRemove = "/admin/local-accounts/{username}/remove"
)

// LocalAccountView is a local account as the admin API shows it: never its
// password hash.
type LocalAccountView struct {
	ID          string     `json:"id"`
	Principal   string     `json:"principal"`
	Username    string     `json:"username"`
	Email       string     `json:"email"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	PasswordSet bool       `json:"password_set"`
	PasswordAt  *time.Time `json:"password_at,omitempty"`
	// SetPasswordURL is the single-use link made by an add or a reset,
	// for the admin to pass on (it is also emailed).
	SetPasswordURL string `json:"set_password_url,omitempty"`
}

func localAccountView(a *store.LocalAccount) LocalAccountView {
	v := LocalAccountView{ID: a.ID, Principal: string(local.PrincipalOf(a)), Username: a.Username, Email: a.Email,
		CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy, PasswordSet: len(a.PasswordHash) > 0}
	if v.PasswordSet {
		at := a.PasswordAt
		v.PasswordAt = &at
	}
	return v
}

func (h *Routes) mountLocalAccounts(api *mux.Router) {
	api.Handle(routeLocalAccounts, web.API(h.Log, h.Auth, h.handleListLocalAccounts)).Methods(http.MethodGet)
	api.Handle(routeLocalAccounts, web.API(h.Log, h.Auth, h.handleAddLocalAccount)).Methods(http.MethodPost)
	api.Handle(routeLocalAccountReset, web.API(h.Log, h.Auth, h.handleResetLocalAccount)).Methods(http.MethodPost)
	api.Handle(routeLocalAccountUnlock, web.API(h.Log, h.Auth, h.handleUnlockLocalAccount)).Methods(http.MethodPost)
	api.Handle(routeLocalAccountRemove, web.API(h.Log, h.Auth, h.handleRemoveLocalAccount)).Methods(http.MethodPost)
}

func (h *Routes) handleListLocalAccounts(w http.ResponseWriter, _ *http.Request, caller records.Principal) error {
	if _, err := h.adminOnly(caller, "manage local accounts"); err != nil {
		return err
	}
	accounts, err := h.Accounts.List()
	if err != nil {
		return err
	}
	views := make([]LocalAccountView, 0, len(accounts))
	for _, a := range accounts {
		views = append(views, localAccountView(a))
	}
	web.WriteJSON(w, http.StatusOK, views)
	return nil
}

func (h *Routes) handleAddLocalAccount(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	if _, err := h.adminOnly(caller, "manage local accounts"); err != nil {
		return err
	}
	var body struct {
		Username string `json:"username"`
		Email    string `json:"email"`
	}
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return err
	}
	account, token, err := h.Accounts.Add(body.Username, body.Email, string(caller))
	if err != nil {
		return err
	}
	return h.respondPasswordLink(w, http.StatusCreated, account, token)
}

func (h *Routes) handleResetLocalAccount(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	if _, err := h.adminOnly(caller, "manage local accounts"); err != nil {
		return err
	}
	account, token, err := h.Accounts.Reset(mux.Vars(r)["username"])
	if err != nil {
		return err
	}
	return h.respondPasswordLink(w, http.StatusOK, account, token)
}

func (h *Routes) handleUnlockLocalAccount(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	if _, err := h.adminOnly(caller, "manage local accounts"); err != nil {
		return err
	}
	if err := h.Accounts.Unlock(mux.Vars(r)["username"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Routes) handleRemoveLocalAccount(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	if _, err := h.adminOnly(caller, "manage local accounts"); err != nil {
		return err
	}
	account, err := h.Accounts.Remove(mux.Vars(r)["username"], string(caller))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, localAccountView(account))
	return nil
}

// respondPasswordLink answers an add or a reset with the account and its
// set-password link, which it also mails to the account's owner.
func (h *Routes) respondPasswordLink(w http.ResponseWriter, status int, account *store.LocalAccount, token string) error {
	view := localAccountView(account)
	view.SetPasswordURL = h.Current.Site().PasswordLinkURL(token)
	if h.MailPasswordLink != nil {
		h.MailPasswordLink(account, view.SetPasswordURL)
	}
	web.WriteJSON(w, status, view)
	return nil
}
