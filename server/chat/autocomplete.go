package chat

import (
	"fmt"
	"net/http"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// The lists the command's autocomplete fetches as the user types.

// handleAutocompleteProfiles backs `/cert download [profile]`.
func (d *Door) handleAutocompleteProfiles(w http.ResponseWriter, _ *http.Request, caller records.Principal) error {
	s, requester, err := d.callers().Resolve(caller)
	if err != nil {
		return err
	}
	items := []model.AutocompleteListItem{}
	for _, prof := range s.Core.UsableProfiles(requester) {
		hint := fmt.Sprintf("%d days, %s", prof.ValidityDays, prof.GeneratedKeyType().Label())
		if prof.Name == s.Catalog.DefaultProfile {
			hint += ", default"
		}
		items = append(items, model.AutocompleteListItem{Item: prof.Name, Hint: hint, HelpText: prof.Description})
	}
	web.WriteJSON(w, http.StatusOK, items)
	return nil
}

// handleAutocompleteSerials backs `/cert revoke <serial>`: the user's
// certificates that can still be revoked, newest first.
func (d *Door) handleAutocompleteSerials(w http.ResponseWriter, _ *http.Request, caller records.Principal) error {
	s, err := d.Current.Get()
	if err != nil {
		return err
	}
	certs, err := s.Core.Certificates(caller)
	if err != nil {
		return err
	}
	now := d.Now()
	items := []model.AutocompleteListItem{}
	for i := len(certs) - 1; i >= 0; i-- {
		c := certs[i]
		if c.StateAt(now) != string(records.CertIssued) {
			continue
		}
		items = append(items, model.AutocompleteListItem{
			Item:     c.Serial,
			Hint:     c.CommonName,
			HelpText: "expires " + c.NotAfter.UTC().Format("2006-01-02") + ", issued " + c.CreatedAt.UTC().Format("2006-01-02 15:04"),
		})
	}
	web.WriteJSON(w, http.StatusOK, items)
	return nil
}
