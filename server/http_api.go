package main

import (
	"fmt"
	"net/http"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
	"github.com/clientcerts/mattermost-plugin-certs/server/web"

	"github.com/mattermost/mattermost/server/public/model"
)

// The routes of the user's JSON API are the enrollment door's
// (server/web/enrollment); these back the /cert command's autocomplete.

// handleAutocompleteProfiles backs `/cert download [profile]`.
func (p *Plugin) handleAutocompleteProfiles(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, requester, err := p.sessionRequester(userID)
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
func (p *Plugin) handleAutocompleteSerials(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, err := p.current.Get()
	if err != nil {
		return &web.Error{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	certs, err := s.Core.Certificates(sessionPrincipal(userID))
	if err != nil {
		return err
	}
	now := p.now()
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
