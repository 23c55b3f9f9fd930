package store

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// SearchCertificates is the administrator's listing over the KV records: a
// scan of every certificate key. Versions up to 0.1 had no other way; the
// database answers it with an index (server/sqlstore). Kept for the unit
// tests' in-memory inventory.
func (s *Store) SearchCertificates(filter records.CertificateFilter, now time.Time) (*records.CertificatePage, error) {
	switch filter.State {
	case "", string(records.CertIssued), "expired", string(records.CertRevoked):
	default:
		return nil, fmt.Errorf("%w: unknown certificate state %q", records.ErrInvalidFilter, filter.State)
	}
	var all []*records.Certificate
	err := s.EachCertificate(func(c *records.Certificate) error {
		if (filter.Owner != "" && c.Owner != filter.Owner) || (filter.Profile != "" && c.Profile != filter.Profile) {
			return nil
		}
		if filter.State != "" && c.StateAt(now) != filter.State {
			return nil
		}
		if filter.ExpiringBefore != nil && (c.StateAt(now) != string(records.CertIssued) || !c.NotAfter.Before(*filter.ExpiringBefore)) {
			return nil
		}
		all = append(all, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	key := func(c *records.Certificate) string { return c.Serial }
	if filter.ExpiringBefore != nil {
		key = func(c *records.Certificate) string {
			return fmt.Sprintf("%020d:%s", c.NotAfter.UnixMilli(), c.Serial)
		}
	}
	after, err := cursorKey(filter)
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return key(all[i]) < key(all[j]) })
	page := &records.CertificatePage{}
	limit := filter.Limit
	if limit <= 0 || limit > maxPage {
		limit = maxPage
	}
	for _, c := range all {
		if filter.After != "" && key(c) <= after {
			continue
		}
		if len(page.Certificates) == limit {
			page.Next = key(page.Certificates[limit-1])
			if filter.ExpiringBefore != nil {
				last := page.Certificates[limit-1]
				page.Next = strconv.FormatInt(last.NotAfter.UnixMilli(), 10) + ":" + last.Serial
			}
			break
		}
		page.Certificates = append(page.Certificates, c)
	}
	return page, nil
}

// maxPage bounds one page of a listing, as the database store's does.
const maxPage = 1000

// cursorKey is where a page starts, in the order of the listing's keys; a
// cursor of the listing by expiry that it did not give is
// records.ErrInvalidFilter.
func cursorKey(filter records.CertificateFilter) (string, error) {
	if filter.ExpiringBefore == nil || filter.After == "" {
		return filter.After, nil
	}
	at, serial, ok := strings.Cut(filter.After, ":")
	ms, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return "", fmt.Errorf("%w: the cursor %q is not one this listing gave", records.ErrInvalidFilter, filter.After)
	}
	return fmt.Sprintf("%020d:%s", ms, serial), nil
}

// CountCertificates counts the KV records in each state, by a scan.
func (s *Store) CountCertificates(now time.Time) (records.StateCounts, error) {
	var counts records.StateCounts
	err := s.EachCertificate(func(c *records.Certificate) error {
		switch c.StateAt(now) {
		case string(records.CertIssued):
			counts.Issued++
		case string(records.CertRevoked):
			counts.Revoked++
		default:
			counts.Expired++
		}
		return nil
	})
	return counts, err
}

// DueReminders lists, by a scan, valid certificates expiring between from
// and to that have not had the reminder days yet, soonest first.
func (s *Store) DueReminders(days int, from, to time.Time, limit int) ([]*records.Certificate, error) {
	var out []*records.Certificate
	err := s.EachCertificate(func(c *records.Certificate) error {
		if c.State != records.CertIssued || !c.NotAfter.After(from) || c.NotAfter.After(to) {
			return nil
		}
		used, err := s.TokenUsed("reminder:" + c.Serial + ":" + strconv.Itoa(days))
		if err != nil || used {
			return err
		}
		out = append(out, c)
		return nil
	})
	slices.SortFunc(out, func(a, b *records.Certificate) int {
		return cmp.Or(a.NotAfter.Compare(b.NotAfter), strings.Compare(a.Serial, b.Serial))
	})
	return out[:max(0, min(limit, len(out)))], err
}

// CountOwned counts an owner's valid certificates of a profile, and those
// created since, as the database store does (see its CountOwned).
func (s *Store) CountOwned(owner records.Principal, quota records.Quota, now time.Time) (records.OwnerCounts, error) {
	var counts records.OwnerCounts
	certs, err := s.ListCertificates(owner)
	if err != nil {
		return counts, err
	}
	replaced := map[string]bool{quota.Renews: true}
	for _, c := range certs {
		if c.Renews != "" && c.StateAt(now) == string(records.CertIssued) && !c.CreatedAt.Before(quota.OverlapSince) && c.Serial != quota.Renews {
			replaced[c.Renews] = true
		}
	}
	for _, c := range certs {
		if !c.CreatedAt.Before(quota.Since) {
			counts.RecentAll++
		}
		if c.Profile != quota.Profile {
			continue
		}
		if c.StateAt(now) == string(records.CertIssued) && !replaced[c.Serial] {
			counts.Active++
		}
		if !c.CreatedAt.Before(quota.Since) {
			counts.Recent++
		}
	}
	return counts, nil
}

// OverlapsEnded lists, by a scan, valid certificates of a profile that a
// valid renewal (of any profile) made before before replaces, by serial.
func (s *Store) OverlapsEnded(profile string, before, now time.Time, limit int) ([]*records.Certificate, error) {
	valid := map[string]*records.Certificate{}
	replaced := map[string]bool{}
	err := s.EachCertificate(func(c *records.Certificate) error {
		if c.StateAt(now) != string(records.CertIssued) {
			return nil
		}
		if c.Profile == profile {
			valid[c.Serial] = c
		}
		if c.Renews != "" && c.CreatedAt.Before(before) {
			replaced[c.Renews] = true
		}
		return nil
	})
	var out []*records.Certificate
	for serial := range replaced {
		if old, ok := valid[serial]; ok {
			out = append(out, old)
		}
	}
	return firstBySerial(out, limit), err
}

// PendingRevocations lists, by a scan, certificates whose revocation their
// CA has not accepted yet, the soonest due for another try first (those
// never tried before all others).
func (s *Store) PendingRevocations(limit int) ([]*records.Certificate, error) {
	var out []*records.Certificate
	err := s.EachCertificate(func(c *records.Certificate) error {
		if c.RevocationPending {
			out = append(out, c)
		}
		return nil
	})
	due := func(c *records.Certificate) int64 {
		if c.RevocationRetryAt == nil {
			return 0
		}
		return c.RevocationRetryAt.UnixMilli()
	}
	slices.SortFunc(out, func(a, b *records.Certificate) int {
		return cmp.Or(cmp.Compare(due(a), due(b)), strings.Compare(a.Serial, b.Serial))
	})
	return out[:min(limit, len(out))], err
}
