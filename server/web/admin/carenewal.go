package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/builtinca"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// routeAdminCARenew renews the built-in issuing CA now.
const routeAdminCARenew = "/admin/ca/rollover"

// CARenewal is the answer to a forced renewal of the built-in issuing CA.
type CARenewal struct {
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
func (h *Routes) handleAdminCARenew(w http.ResponseWriter, _ *http.Request, caller records.Principal) error {
	s, err := h.adminOnly(caller, "renew the CA")
	if err != nil {
		return err
	}
	if s.BuiltinCA == nil && !s.Config.UsesCustomCA() {
		return &web.Error{Status: http.StatusConflict, Message: "no connector uses the built-in CA"}
	}
	r, err := h.RenewCA(s.Config, builtinca.RenewalThreshold(s.Catalog), true)
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
	h.Log.LogInfo("A system admin renewed the built-in issuing CA", "user_id", caller.MattermostUserID(), "generation", r.Generation)
	web.WriteJSON(w, http.StatusOK, CARenewal{
		Generation: r.Generation, IssuingCA: r.Current.Subject.String(), NotAfter: r.Current.NotAfter,
		Previous: r.Previous.Subject.String(), PreviousNotAfter: r.Previous.NotAfter,
	})
	return nil
}
