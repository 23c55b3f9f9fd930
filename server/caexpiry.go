package main

import (
	"context"
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// caExpiryNotices are how long before a CA certificate expires the system
// admins are told, each once.
var caExpiryNotices = []int{90, 30, 7, 1}

// noticeExpiringCAs tells the system admins of CA certificates that expire
// soon: once a day it looks, and each notice goes out once per certificate
// and threshold, whatever node sends it.
func (p *Plugin) noticeExpiringCAs(s *app.Snapshot) {
	if !p.dailyDuty("ca-expiry") {
		return
	}
	now := p.now()
	for _, ca := range s.Core.ExpiringCAs(context.Background(), time.Duration(caExpiryNotices[0])*24*time.Hour) {
		left := ca.Certificate.NotAfter.Sub(now)
		threshold := caExpiryNotices[0]
		for _, d := range caExpiryNotices {
			if left <= time.Duration(d)*24*time.Hour {
				threshold = d
			}
		}
		mark := fmt.Sprintf("ca-expiry:%s:%d", pki.Fingerprint(ca.Certificate), threshold)
		if first, err := p.store.ClaimToken(mark, 400*24*time.Hour); err != nil || !first {
			continue
		}
		p.noticeAdmins(fmt.Sprintf("**Client Certificates:** the CA certificate `%s` of connector `%s` expires on %s (in %d days). "+
			"Certificates under it stop being trusted then: renew the CA before that day.",
			markdownCell(ca.Certificate.Subject.String()), ca.Connector, ca.Certificate.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24)))
	}
}
