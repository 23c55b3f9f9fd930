package builtinca

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/app"
	"github.com/clientcerts/mattermost-plugin-certs/server/pki"
)

// caExpiryNotices are how long before a CA certificate expires the system
// admins are told, each once.
var caExpiryNotices = []int{90, 30, 7, 1}

// NoticeExpiringCAs tells the system admins of CA certificates that expire
// soon: once a day it looks, and each notice goes out once per certificate
// and threshold, whatever node sends it.
func (k *Keeper) NoticeExpiringCAs(s *app.Snapshot) {
	if !k.Store.DailyDuty("ca-expiry", k.Now()) {
		return
	}
	now := k.Now()
	for _, ca := range s.Core.ExpiringCAs(context.Background(), time.Duration(caExpiryNotices[0])*24*time.Hour) {
		left := ca.Certificate.NotAfter.Sub(now)
		threshold := caExpiryNotices[0]
		for _, d := range caExpiryNotices {
			if left <= time.Duration(d)*24*time.Hour {
				threshold = d
			}
		}
		mark := fmt.Sprintf("ca-expiry:%s:%d", pki.Fingerprint(ca.Certificate), threshold)
		if first, err := k.Store.ClaimToken(mark, 400*24*time.Hour); err != nil || !first {
			continue
		}
		k.NoticeAdmins(fmt.Sprintf("**Client Certificates:** the CA certificate `%s` of connector `%s` expires on %s (in %d days). "+
			"Certificates under it stop being trusted then: renew the CA before that day.",
			markdownCell(ca.Certificate.Subject.String()), ca.Connector, ca.Certificate.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24)))
	}
}

// markdownCell keeps certificate text from breaking the Markdown of a
// notice or injecting formatting (as the /cert command's tables do).
func markdownCell(s string) string {
	r := strings.NewReplacer("|", "\\|", "`", "'", "\n", " ", "\r", " ")
	return r.Replace(s)
}
