package main

import (
	"context"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi/cluster"
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

// runRequestJob renews the built-in issuing CA when it is due, expires
// stale requests, asks CAs about those they hold, signs revocation lists
// that are due or behind the inventory, tells CAs the revocations they
// missed, revokes what a compromised key left valid and what renewals
// replaced once their overlap is over, and once a day acts
// on users deactivated while the plugin was not running.
func (p *Plugin) runRequestJob() {
	s, err := p.current.Get()
	if err != nil {
		return
	}
	p.caKeeper.RenewIfDue(s)
	if s, err = p.current.Get(); err != nil {
		return
	}
	open, err := p.inventory.ListOpenRequests()
	if err != nil {
		p.API.LogError("Could not list open certificate requests", "error", err.Error())
		return
	}
	s.Core.ExpireRequests(open)
	s.Core.PollWaitingRequests(open)
	s.Core.RefreshCRLs()
	s.Core.RetryRevocations(context.Background())
	s.Core.RevokeCompromisedLeftovers(context.Background())
	s.Core.EndRenewalOverlaps(context.Background())
	if days, err := s.Config.ReminderDayList(); err == nil && len(days) > 0 {
		s.Core.SendReminders(days)
	}
	if p.dailyDuty("deactivations") {
		p.deactivations.Reconcile()
	}
	if p.dailyDuty("emails") {
		// Certificates that name an email their owner no longer has.
		s.Core.ReconcileEmails()
	}
	p.caKeeper.NoticeExpiringCAs(s)
}

// dailyDuty reports whether a duty of the job that runs once a day (name)
// is due, and marks it done: the job runs on one node at a time, so
// whichever node runs it, the duty runs once a day.
func (p *Plugin) dailyDuty(name string) bool {
	return p.store.DailyDuty(name, p.now())
}
