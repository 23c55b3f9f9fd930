package sqlstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// maxPage bounds one page of a listing.
const maxPage = 1000

// SearchCertificates returns one page of the certificates filter selects:
// by serial, or, for those expiring before a time, by expiry. Each page is
// one indexed query that starts where the previous one ended (a cursor, not
// an offset), so the thousandth page costs what the first does.
func (s *Store) SearchCertificates(filter records.CertificateFilter, now time.Time) (*records.CertificatePage, error) {
	limit := filter.Limit
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if filter.Owner != "" {
		where = append(where, "owner = "+arg(string(filter.Owner)))
	}
	if filter.Profile != "" {
		where = append(where, "profile = "+arg(filter.Profile))
	}
	switch filter.State {
	case "":
	case string(records.CertIssued):
		where = append(where, "state = 'issued' AND not_after >= "+arg(millis(now)))
	case "expired":
		where = append(where, "state = 'issued' AND not_after < "+arg(millis(now)))
	case string(records.CertRevoked):
		where = append(where, "state = 'revoked'")
	default:
		return nil, fmt.Errorf("%w: unknown certificate state %q", records.ErrInvalidFilter, filter.State)
	}
	order := "serial"
	if filter.ExpiringBefore != nil {
		where = append(where, "state = 'issued' AND not_after >= "+arg(millis(now))+" AND not_after < "+arg(millis(*filter.ExpiringBefore)))
		order = "not_after, serial"
	}
	if filter.After != "" {
		cond, err := afterCursor(filter.After, filter.ExpiringBefore != nil, arg)
		if err != nil {
			return nil, err
		}
		where = append(where, cond)
	}
	rest := ""
	if len(where) > 0 {
		rest = ` WHERE ` + strings.Join(where, " AND ")
	}
	rest += ` ORDER BY ` + order + ` LIMIT ` + arg(limit+1)
	var list []*records.Certificate
	err := s.bounded(func(q querier) error {
		var err error
		list, err = listCertificatesWith(q, rest, "c."+strings.ReplaceAll(order, ", ", ", c."), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("search certificates: %w", err)
	}
	page := &records.CertificatePage{Certificates: list}
	if len(page.Certificates) > limit {
		page.Certificates = page.Certificates[:limit]
		last := page.Certificates[limit-1]
		page.Next = last.Serial
		if filter.ExpiringBefore != nil {
			page.Next = strconv.FormatInt(millis(last.NotAfter), 10) + ":" + last.Serial
		}
	}
	return page, nil
}

// afterCursor is the condition that starts a page after cursor.
func afterCursor(cursor string, byExpiry bool, arg func(any) string) (string, error) {
	if !byExpiry {
		return "serial > " + arg(cursor), nil
	}
	at, serial, ok := strings.Cut(cursor, ":")
	ms, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return "", fmt.Errorf("%w: the cursor %q is not one this listing gave", records.ErrInvalidFilter, cursor)
	}
	return "(not_after, serial) > (" + arg(ms) + ", " + arg(serial) + ")", nil
}

// CountCertificates counts the certificates in each state as users see it.
func (s *Store) CountCertificates(now time.Time) (records.StateCounts, error) {
	var counts records.StateCounts
	// Three counts, each a range of the (state, not_after) index, rather
	// than one pass over every row.
	err := s.bounded(func(q querier) error {
		return q.QueryRow(`SELECT
			(SELECT COUNT(*) FROM certs_certificates WHERE state = 'issued' AND not_after >= $1),
			(SELECT COUNT(*) FROM certs_certificates WHERE state = 'issued' AND not_after < $1),
			(SELECT COUNT(*) FROM certs_certificates WHERE state = 'revoked')`, millis(now)).Scan(&counts.Issued, &counts.Expired, &counts.Revoked)
	})
	if err != nil {
		return counts, fmt.Errorf("count certificates: %w", err)
	}
	return counts, nil
}

// CountOwned counts an owner's valid certificates of a profile, and those
// created since, of the profile and of all: the owner's range of its index,
// one round trip. The certificate the quota renews, and one that a valid
// renewal made since quota.OverlapSince replaces (but not the renewal
// being renewed now), take no place of their own.
func (s *Store) CountOwned(owner records.Principal, quota records.Quota, now time.Time) (records.OwnerCounts, error) {
	return countOwned(s.db, owner, quota, now)
}

func countOwned(q querier, owner records.Principal, quota records.Quota, now time.Time) (records.OwnerCounts, error) {
	var counts records.OwnerCounts
	err := q.QueryRow(`SELECT
			COUNT(*) FILTER (WHERE profile = $2 AND state = 'issued' AND not_after >= $3 AND serial <> $5 AND NOT EXISTS (
				SELECT 1 FROM certs_certificates r WHERE r.renews = c.serial AND r.state = 'issued' AND r.not_after >= $3
					AND r.created_at >= $6 AND r.serial <> $5)),
			COUNT(*) FILTER (WHERE profile = $2 AND created_at >= $4),
			COUNT(*) FILTER (WHERE created_at >= $4)
		FROM certs_certificates c WHERE owner = $1`, string(owner), quota.Profile, millis(now), millis(quota.Since), quota.Renews,
		millis(quota.OverlapSince)).Scan(&counts.Active, &counts.Recent, &counts.RecentAll)
	if err != nil {
		return counts, fmt.Errorf("count an owner's certificates: %w", err)
	}
	return counts, nil
}

// OverlapsEnded lists valid certificates of a profile that a valid renewal
// made before before replaces: their overlap is over.
func (s *Store) OverlapsEnded(profile string, before, now time.Time, limit int) ([]*records.Certificate, error) {
	return s.listCertificates(`c WHERE profile = $1 AND state = 'issued' AND not_after >= $2 AND EXISTS (
			SELECT 1 FROM certs_certificates r WHERE r.renews = c.serial AND r.state = 'issued' AND r.not_after >= $2 AND r.created_at < $3)
		ORDER BY serial LIMIT $4`, "c.serial", profile, millis(now), millis(before), limit)
}

// PendingRevocations lists certificates whose revocation their CA has not
// accepted yet, the soonest due for another try first (those never tried
// before all others).
func (s *Store) PendingRevocations(limit int) ([]*records.Certificate, error) {
	return s.listCertificates(`WHERE revocation_pending ORDER BY COALESCE(revocation_retry_at, 0), serial LIMIT $1`,
		"COALESCE(c.revocation_retry_at, 0), c.serial", limit)
}
