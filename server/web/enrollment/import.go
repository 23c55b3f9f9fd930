package enrollment

import (
	"context"
	"net/http"
	"strings"

	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
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
	// empty means the caller.
	Owner string `json:"owner"`
	// Certificate is PEM, or DER in base64.
	Certificate string `json:"certificate"`
	// AnyNames (admins) registers a certificate whose names are not the
	// owner's.
	AnyNames bool `json:"any_names"`
}

// errSignInFirst is the import page without a session: it has no link,
// so the session is all that says whose certificate it registers.
var errSignInFirst = &web.Error{Status: http.StatusUnauthorized, Message: "Sign in to Mattermost in this browser first.", Hint: "Then run /cert import again and open its link."}

// pageCaller is who is signed in to this browser, as the import page
// needs them: the requester, and whether they may register certificates
// for others.
func (h *Routes) pageCaller(r *http.Request) (*enroll.Requester, bool, error) {
	caller, err := h.Auth(r)
	if he := web.AsError(err); he != nil && he.Status == http.StatusUnauthorized {
		return nil, false, errSignInFirst
	}
	if err != nil {
		return nil, false, err
	}
	requester, err := h.Callers.Lookup(caller)
	if err != nil {
		return nil, false, err
	}
	isAdmin := false
	if s, err := h.Current.Get(); err == nil {
		isAdmin = s.Core.IsAdmin(requester)
	}
	return requester, isAdmin, nil
}

func (h *Routes) handleImportPage(w http.ResponseWriter, r *http.Request) error {
	requester, isAdmin, err := h.pageCaller(r)
	if err != nil {
		return err
	}
	return h.pages.Render(w, http.StatusOK, "import", importPage{Username: requester.Username, IsAdmin: isAdmin})
}

func (h *Routes) handleImportSubmit(w http.ResponseWriter, r *http.Request) error {
	if err := parseUploadForm(r); err != nil {
		return err
	}
	requester, isAdmin, err := h.pageCaller(r)
	if err != nil {
		return err
	}
	data, err := formFileOrText(r, "certificate")
	if err != nil {
		return err
	}
	form := importForm{Owner: r.PostFormValue("owner"), AnyNames: r.PostFormValue("any_names") == "on"}
	page := importPage{Username: requester.Username, IsAdmin: isAdmin}
	record, err := h.serveImport(r.Context(), requester, form, data)
	denied := web.AsError(err)
	switch {
	case denied != nil && denied.Status < http.StatusInternalServerError:
		page.Error = denied.Message
		return h.pages.Render(w, denied.Status, "import", page)
	case err != nil:
		return err
	}
	view := web.ViewOf(record, h.Now())
	page.Registered = &view
	return h.pages.Render(w, http.StatusCreated, "import", page)
}

// handleImportCertificate is POST /api/v1/certificates/import: JSON or
// multipart, the same checks as the page.
func (h *Routes) handleImportCertificate(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes)
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
	requester, err := h.Callers.Lookup(caller)
	if err != nil {
		return err
	}
	record, err := h.serveImport(r.Context(), requester, form, data)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, web.ViewOf(record, h.Now()))
	return nil
}

// serveImport registers a certificate for form.Owner (or the caller).
// The owner named by username is looked up now, and from then on known by
// their principal.
func (h *Routes) serveImport(ctx context.Context, caller *enroll.Requester, form importForm, data []byte) (*records.Certificate, error) {
	s, err := h.Current.Get()
	if err != nil {
		return nil, err
	}
	reg := enroll.Registration{By: caller, Data: data, AnyNames: form.AnyNames}
	ownerName := strings.TrimPrefix(strings.TrimSpace(form.Owner), "@")
	if ownerName != "" && ownerName != caller.Username {
		if !s.Core.IsAdmin(reg.By) {
			return nil, &web.Error{Status: http.StatusForbidden, Message: "Only system admins may register certificates for other users or with other names."}
		}
		owner, err := h.LookupUsername(ownerName)
		if err != nil {
			return nil, &web.Error{Status: http.StatusNotFound, Message: "No active user is called @" + ownerName + ".", Err: err}
		}
		reg.Owner = owner
	}
	return s.Core.Register(ctx, reg)
}
