package main

import (
	"net/http"

	"github.com/clientcerts/mattermost-plugin-certs/server/web"
)

// requestView is a request as the API shows it.
type requestView struct {
	ID        string `json:"id"`
	Profile   string `json:"profile"`
	State     string `json:"state"`
	CreatedAt string `json:"created_at"`
	Reason    string `json:"reason,omitempty"`
	Serial    string `json:"serial,omitempty"`
}

func (p *Plugin) handleListRequests(w http.ResponseWriter, _ *http.Request, userID string) error {
	s, err := p.current.Get()
	if err != nil {
		return &web.Error{Status: http.StatusServiceUnavailable, Message: err.Error()}
	}
	reqs, err := s.Core.Requests(sessionPrincipal(userID))
	if err != nil {
		return err
	}
	views := make([]requestView, 0, len(reqs))
	for _, r := range reqs {
		views = append(views, requestView{ID: r.ID, Profile: r.Profile, State: string(r.State),
			CreatedAt: r.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), Reason: r.Reason, Serial: r.Serial})
	}
	web.WriteJSON(w, http.StatusOK, views)
	return nil
}
