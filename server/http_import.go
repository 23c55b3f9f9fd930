package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/mattermost"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
)

// importPage is the form that registers an existing certificate.
type importPage struct {
	Username string
	IsAdmin  bool
	Error    string
	// Registered is the certificate just registered, if any.
	Registered *web.CertificateView
}

// importForm is what an import asks for, from the form or the API.
type importForm struct {
	// Owner is the username to register the certificate for (admins);
	// empty means the signed-in user.
	Owner string `json:"owner"`
	// Certificate is PEM, or DER in base64.
	Certificate string `json:"certificate"`
	// AnyNames (admins) registers a certificate whose names are not the
	// owner's.
	AnyNames bool `json:"any_names"`
}

// sessionUser is the Mattermost user whose session made the request.
func (p *Plugin) sessionUser(r *http.Request) (*model.User, error) {
	userID := r.Header.Get(web.MattermostUserHeader)
	if userID == "" {
		return nil, &web.Error{Status: http.StatusUnauthorized, Message: "Sign in to Mattermost in this browser first.", Hint: "Then run /cert import again and open its link."}
	}
	user, appErr := p.API.GetUser(userID)
	if appErr != nil {
		return nil, appErr
	}
	return user, nil
}

func (p *Plugin) handleImportPage(w http.ResponseWriter, r *http.Request) error {
	user, err := p.sessionUser(r)
	if err != nil {
		return err
	}
	return p.pages.Render(w, http.StatusOK, "import", importPage{Username: user.Username, IsAdmin: p.API.HasPermissionTo(user.Id, model.PermissionManageSystem)})
}

func (p *Plugin) handleImportSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := parseUploadForm(r); err != nil {
		return err
	}
	user, err := p.sessionUser(r)
	if err != nil {
		return err
	}
	data, err := formFileOrText(r, "certificate")
	if err != nil {
		return err
	}
	form := importForm{Owner: r.PostFormValue("owner"), AnyNames: r.PostFormValue("any_names") == "on"}
	page := importPage{Username: user.Username, IsAdmin: p.API.HasPermissionTo(user.Id, model.PermissionManageSystem)}
	record, err := p.serveImport(r.Context(), user, form, data)
	denied := web.AsError(err)
	switch {
	case denied != nil && denied.Status < http.StatusInternalServerError:
		page.Error = denied.Message
		return p.pages.Render(w, denied.Status, "import", page)
	case err != nil:
		return err
	}
	view := web.ViewOf(record, p.now())
	page.Registered = &view
	return p.pages.Render(w, http.StatusCreated, "import", page)
}

// handleImportCertificate is POST /api/v1/certificates/import: JSON or
// multipart, the same checks as the page.
func (p *Plugin) handleImportCertificate(w http.ResponseWriter, r *http.Request, userID string) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxUploadBytes)
	var form importForm
	var data []byte
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := parseUploadForm(r); err != nil {
			return err
		}
		var err error
		if data, err = formFileOrText(r, "certificate"); err != nil {
			return err
		}
		form.Owner = r.PostFormValue("owner")
		form.AnyNames = r.PostFormValue("any_names") == "true"
	} else {
		if err := web.DecodeOptionalJSON(r, &form); err != nil {
			return err
		}
		data = textOrBase64(form.Certificate)
	}
	user, appErr := p.API.GetUser(userID)
	if appErr != nil {
		return appErr
	}
	record, err := p.serveImport(r.Context(), user, form, data)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, web.ViewOf(record, p.now()))
	return nil
}

// serveImport registers a certificate for form.Owner (or the caller).
// The owner named by username is looked up now, and from then on known by
// their id.
func (p *Plugin) serveImport(ctx context.Context, caller *model.User, form importForm, data []byte) (*records.Certificate, error) {
	s, err := p.current.Get()
	if err != nil {
		return nil, &web.Error{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	reg := enroll.Registration{By: mattermost.RequesterOf(caller), Data: data, AnyNames: form.AnyNames}
	ownerName := strings.TrimPrefix(strings.TrimSpace(form.Owner), "@")
	if ownerName != "" && ownerName != caller.Username {
		if !s.Core.IsAdmin(reg.By) {
			return nil, &web.Error{Status: http.StatusForbidden, Message: "Only system admins may register certificates for other users or with other names."}
		}
		u, appErr := p.API.GetUserByUsername(ownerName)
		if appErr != nil {
			return nil, &web.Error{Status: http.StatusNotFound, Message: "No active user is called @" + ownerName + "."}
		}
		reg.Owner = mattermost.RequesterOf(u)
	}
	return s.Core.Register(ctx, reg)
}
