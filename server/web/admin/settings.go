package admin

import (
	"net/http"

	"github.com/clientcerts/mattermost-plugin-certs/server/profile"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// routeSettingsCheck checks settings the System Console has not saved yet.
const routeSettingsCheck = "/admin/settings/check"

// SettingsCheck is the body of a settings check: the settings to judge,
// as the System Console would save them. The other settings are those in
// use.
type SettingsCheck struct {
	// ConnectorsAndProfiles is the catalog JSON; empty means the default
	// catalog, as in the settings.
	ConnectorsAndProfiles *string `json:"connectors_and_profiles"`
}

// SettingsProblem is one mistake in the settings: its words, those a save
// would refuse with, and the path of the field in the catalog JSON
// ("profiles[1].validity_days", indexes from 0); Field is empty when the
// mistake is not about one field.
type SettingsProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// SettingsCheckResult is the answer to a settings check; no problems means
// a save would take the settings (as far as they can be judged without
// asking the CAs or looking up the approvers and teams they name).
type SettingsCheckResult struct {
	Problems []SettingsProblem `json:"problems"`
}

// handleSettingsCheck is POST /api/v1/admin/settings/check: a system admin's
// settings form asks what a save would say of the connectors and profiles,
// each mistake with the field it is about. It parses and checks them with
// the function the save hook uses (config.Configuration.CheckCatalog), and
// changes nothing.
func (h *Routes) handleSettingsCheck(w http.ResponseWriter, r *http.Request, caller records.Principal) error {
	s, err := h.adminOnly(caller, "check the plugin's settings")
	if err != nil {
		return err
	}
	var body SettingsCheck
	if err := web.DecodeOptionalJSON(r, &body); err != nil {
		return err
	}
	if body.ConnectorsAndProfiles == nil {
		return &web.Error{Status: http.StatusBadRequest, Message: `the body must be {"connectors_and_profiles": "<the setting's JSON>"}`}
	}
	next := s.Config.Clone()
	next.ConnectorsAndProfiles = *body.ConnectorsAndProfiles
	_, err = next.CheckCatalog()
	result := SettingsCheckResult{Problems: []SettingsProblem{}}
	for _, fe := range profile.ProblemsOf(err) {
		result.Problems = append(result.Problems, SettingsProblem{Field: fe.Path, Message: fe.Error()})
	}
	web.WriteJSON(w, http.StatusOK, result)
	return nil
}
