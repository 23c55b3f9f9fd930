package main

import (
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi/cluster"

	"github.com/clientcerts/mattermost-plugin-certs/server/store"
)

// requestJobInterval paces the background job that expires requests nobody
// decided or collected and polls CAs (each request has its own backoff on
// top). cluster.Schedule runs it on one node at a time.
const requestJobInterval = time.Minute

func (p *Plugin) scheduleJobs() error {
	job, err := cluster.Schedule(p.API, "certs-requests", cluster.MakeWaitForRoundedInterval(requestJobInterval), p.runRequestJob)
	if err != nil {
		return err
	}
	p.requestJob = job
	return nil
}

// runRequestJob expires stale requests and asks CAs about those they hold.
func (p *Plugin) runRequestJob() {
	p.expireRequests()
	open, err := p.store.ListOpenRequests()
	if err != nil {
		p.API.LogError("Could not list open certificate requests", "error", err.Error())
		return
	}
	p.pollWaitingRequests(open)
}

// expireRequests ends requests whose time is up and tells their owners.
func (p *Plugin) expireRequests() {
	open, err := p.store.ListOpenRequests()
	if err != nil {
		p.API.LogError("Could not list open certificate requests", "error", err.Error())
		return
	}
	now := p.now()
	for _, req := range open {
		if !now.After(req.ExpiresAt) {
			continue
		}
		expired, err := p.store.MoveRequest(req.ID, now, nil, store.RequestExpired, func(r *store.Request) error {
			if !now.After(r.ExpiresAt) {
				return &store.ErrTransition{From: r.State, To: store.RequestExpired}
			}
			r.PendingKey = nil
			return nil
		})
		if err != nil {
			continue // decided or collected meanwhile
		}
		p.releaseRequestKey(expired)
		p.closeApprovalPosts(expired, "expired without a decision")
		if owner, appErr := p.API.GetUser(expired.Owner.MattermostUserID()); appErr == nil {
			p.notifyUser(owner, "Certificate request expired", "Your certificate request `"+expired.ID+
				"` expired. Run `/cert download "+expired.Profile+"` to ask again.")
		}
		p.API.LogInfo("Certificate request expired", "request", expired.ID)
	}
}
