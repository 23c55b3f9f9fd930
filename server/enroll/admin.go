package enroll

import (
	"context"
	"errors"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// ErrNotAdmin is an administrator's tool used by someone else.
var ErrNotAdmin = &Error{Code: CodeForbidden, Message: "Only system admins may see every certificate."}

// adminPageSize is a listing page when the caller asks for none.
const adminPageSize = 100

// SearchCertificates is an administrator's listing of every certificate:
// by owner, state, or those expiring within a time, a page at a time.
func (c *Core) SearchCertificates(admin *Requester, filter records.CertificateFilter) (*records.CertificatePage, error) {
	if !c.IsAdmin(admin) {
		return nil, ErrNotAdmin
	}
	if filter.Limit <= 0 {
		filter.Limit = adminPageSize
	}
	page, err := c.store.SearchCertificates(filter, c.now())
	if errors.Is(err, records.ErrInvalidFilter) {
		return nil, &Error{Code: CodeInvalid, Message: "This listing cannot be made: " + err.Error() + ".", Err: err}
	}
	return page, err
}

// ExpiringWithin is the first page of the valid certificates that expire
// within d, soonest first.
func (c *Core) ExpiringWithin(admin *Requester, d time.Duration, after string, limit int) (*records.CertificatePage, error) {
	before := c.now().Add(d)
	return c.SearchCertificates(admin, records.CertificateFilter{ExpiringBefore: &before, After: after, Limit: limit})
}

// CertificateBySerial is any certificate, for an administrator.
func (c *Core) CertificateBySerial(admin *Requester, serial string) (*records.Certificate, error) {
	if !c.IsAdmin(admin) {
		return nil, ErrNotAdmin
	}
	record, err := c.store.GetCertificate(serial)
	if errors.Is(err, records.ErrNotFound) {
		return nil, refuse(CodeNotFound, "No certificate has the serial %s.", serial)
	}
	return record, err
}

// CountCertificates counts every certificate by state, for an
// administrator.
func (c *Core) CountCertificates(admin *Requester) (records.StateCounts, error) {
	if !c.IsAdmin(admin) {
		return records.StateCounts{}, ErrNotAdmin
	}
	return c.store.CountCertificates(c.now())
}

// AdminRevoke revokes any certificate, for an administrator, for one of
// the RFC 5280 reasons (a revoked one again for keyCompromise, when its
// key turns out compromised later); the owner is told.
func (c *Core) AdminRevoke(ctx context.Context, admin *Requester, serial, reason string) (*Revoked, error) {
	record, err := c.CertificateBySerial(admin, serial)
	if err != nil {
		return nil, err
	}
	reason, err = records.ParseReason(reason)
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Message: capitalize(err.Error()) + ".", Err: err}
	}
	revoked, err := c.revokeRecord(ctx, record, reason, string(admin.Principal))
	if err != nil {
		return nil, err
	}
	if owner, err := c.lookup(record.Owner); err == nil && owner.Principal != admin.Principal {
		c.notifierOf(owner.Principal).CertificateRevoked(owner, revoked.Record, admin)
	}
	return revoked, nil
}

// OpenRequests lists every request that waits (for an approver, the CA or
// its pickup), for an administrator.
func (c *Core) OpenRequests(admin *Requester) ([]*records.Request, error) {
	if !c.IsAdmin(admin) {
		return nil, ErrNotAdmin
	}
	return c.store.ListOpenRequests()
}
