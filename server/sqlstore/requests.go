package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

const requestColumns = `id, owner, profile, connector, state, csr_pem, attestation, ca_request_id, created_at, updated_at,
	expires_at, approvals, decided_by, decided_at, reason, serial, approval_posts, next_poll, polls, pending_key,
	pending_key_copies, key_type, certificate_der, chain_der, renews, version`

// openStates are the states of a request that is not final.
var openStates = []string{string(records.RequestPending), string(records.RequestWaitingCA), string(records.RequestApproved)}

func requestValues(r *records.Request) ([]any, error) {
	attestation, err := nullableJSON(r.Attestation)
	if err != nil {
		return nil, err
	}
	approvals, err := jsonValue(nonNil(r.Approvals))
	if err != nil {
		return nil, err
	}
	posts, err := jsonValue(nonNil(r.ApprovalNotices))
	if err != nil {
		return nil, err
	}
	pendingKey, err := nullableJSON(r.PendingKey)
	if err != nil {
		return nil, err
	}
	copies, err := jsonValue(nonNil(r.PendingKeyCopies))
	if err != nil {
		return nil, err
	}
	chain, err := jsonValue(nonNil(r.ChainDER))
	if err != nil {
		return nil, err
	}
	var certificate any
	if len(r.CertificateDER) > 0 {
		certificate = r.CertificateDER
	}
	return []any{r.ID, string(r.Owner), r.Profile, r.Connector, string(r.State), r.CSRPEM, attestation, r.CARequestID,
		millis(r.CreatedAt), millis(r.UpdatedAt), millis(r.ExpiresAt), approvals, r.DecidedBy, nullMillis(r.DecidedAt), r.Reason, r.Serial,
		posts, nullMillis(r.NextPoll), r.Polls, pendingKey, copies, r.KeyType, certificate, chain, r.Renews}, nil
}

func scanRequest(row scanner) (*records.Request, int, error) {
	var (
		r                                         records.Request
		owner, state                              string
		attestation, approvals, posts, pendingKey []byte
		copies, chain                             []byte
		decidedAt, nextPoll                       sql.NullInt64
		createdAt, updatedAt, expiresAt           int64
		version                                   int
	)
	err := row.Scan(&r.ID, &owner, &r.Profile, &r.Connector, &state, &r.CSRPEM, &attestation, &r.CARequestID,
		&createdAt, &updatedAt, &expiresAt, &approvals, &r.DecidedBy, &decidedAt, &r.Reason, &r.Serial,
		&posts, &nextPoll, &r.Polls, &pendingKey, &copies, &r.KeyType, &r.CertificateDER, &chain, &r.Renews, &version)
	if err != nil {
		return nil, 0, err
	}
	r.Owner, r.State = records.Principal(owner), records.RequestState(state)
	r.DecidedAt, r.NextPoll = timePtr(decidedAt), timePtr(nextPoll)
	r.CreatedAt, r.UpdatedAt, r.ExpiresAt = fromMillis(createdAt), fromMillis(updatedAt), fromMillis(expiresAt)
	if len(attestation) > 0 {
		r.Attestation = &records.Attestation{}
		if err := fromJSON(attestation, r.Attestation); err != nil {
			return nil, 0, err
		}
	}
	if len(pendingKey) > 0 {
		r.PendingKey = &records.SealedKey{}
		if err := fromJSON(pendingKey, r.PendingKey); err != nil {
			return nil, 0, err
		}
	}
	for _, field := range []struct {
		data []byte
		into any
	}{{approvals, &r.Approvals}, {posts, &r.ApprovalNotices}, {copies, &r.PendingKeyCopies}, {chain, &r.ChainDER}} {
		if err := fromJSON(field.data, field.into); err != nil {
			return nil, 0, err
		}
	}
	emptyToNil(&r)
	return &r, version, nil
}

// emptyToNil keeps the records a store hands out alike whatever store it
// is: an empty list is nil.
func emptyToNil(r *records.Request) {
	if len(r.Approvals) == 0 {
		r.Approvals = nil
	}
	if len(r.ApprovalNotices) == 0 {
		r.ApprovalNotices = nil
	}
	if len(r.PendingKeyCopies) == 0 {
		r.PendingKeyCopies = nil
	}
	if len(r.ChainDER) == 0 {
		r.ChainDER = nil
	}
	if len(r.CertificateDER) == 0 {
		r.CertificateDER = nil
	}
}

// CreateRequest stores a new request.
func (s *Store) CreateRequest(r *records.Request) error {
	if r.ID == "" || r.Owner == "" || r.State == "" {
		return errors.New("a request needs an id, an owner and a state")
	}
	values, err := requestValues(r)
	if err != nil {
		return err
	}
	values = append(values, millis(s.now()))
	_, err = s.db.Exec(`WITH request AS (INSERT INTO certs_requests (`+requestColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, 1)
			RETURNING id, owner, state)
		INSERT INTO certs_events (at, kind, owner, request_id) SELECT $26, 'request.' || state, owner, id FROM request`, values...)
	if isUniqueViolation(err) {
		return fmt.Errorf("a request with id %s already exists", r.ID)
	}
	return err
}

// GetRequest returns the request id, or records.ErrNotFound.
func (s *Store) GetRequest(id string) (*records.Request, error) {
	r, _, err := s.getRequest(id)
	return r, err
}

func (s *Store) getRequest(id string) (*records.Request, int, error) {
	r, version, err := scanRequest(s.db.QueryRow(`SELECT `+requestColumns+` FROM certs_requests WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, records.ErrNotFound
	}
	return r, version, err
}

// UpdateRequest changes a request with a conditional update. change sees
// the current request and may edit it or return an error to leave it alone;
// a change of State must be allowed by the state machine, and writes its
// event in the same statement. What identifies the request is kept as it
// was made (see records.Request.KeepIdentity). Of two racing changes, the
// second sees the first's.
func (s *Store) UpdateRequest(id string, now time.Time, change func(*records.Request) error) (*records.Request, error) {
	for range updateAttempts {
		current, version, err := s.getRequest(id)
		if err != nil {
			return nil, err
		}
		recorded := *current
		before := current.State
		if err := change(current); err != nil {
			return nil, err
		}
		current.KeepIdentity(&recorded)
		if current.State != before && !before.CanMoveTo(current.State) {
			return nil, &records.ErrTransition{From: before, To: current.State}
		}
		current.UpdatedAt = now
		kind := ""
		if current.State != before {
			kind = "request." + string(current.State)
		}
		values, err := requestValues(current)
		if err != nil {
			return nil, err
		}
		// Every column but id, owner, profile, connector, created_at and
		// renews, which never change.
		changed := append([]any{current.ID}, values[4:8]...)
		changed = append(changed, values[9:len(values)-1]...)
		changed = append(changed, version, kind)
		var updated int
		err = s.db.QueryRow(`WITH request AS (UPDATE certs_requests SET state = $2, csr_pem = $3, attestation = $4, ca_request_id = $5,
				updated_at = $6, expires_at = $7, approvals = $8, decided_by = $9, decided_at = $10, reason = $11, serial = $12,
				approval_posts = $13, next_poll = $14, polls = $15, pending_key = $16, pending_key_copies = $17, key_type = $18,
				certificate_der = $19, chain_der = $20, version = version + 1
				WHERE id = $1 AND version = $21 RETURNING id, owner, decided_by),
			event AS (INSERT INTO certs_events (at, kind, owner, request_id, actor)
				SELECT $6, $22, owner, id, decided_by FROM request WHERE $22 <> '')
			SELECT COUNT(*) FROM request`, changed...).Scan(&updated)
		if err != nil {
			return nil, fmt.Errorf("update request %s: %w", id, err)
		}
		if updated == 1 {
			return current, nil
		}
	}
	return nil, fmt.Errorf("update request %s: changed by others %d times in a row", id, updateAttempts)
}

// MoveRequest changes a request's state to to, only from one of the states
// in from (any state the machine allows when from is empty). edit may change
// other fields, or return an error to refuse. Any other current state gives
// *records.ErrTransition, so of two concurrent moves only one happens.
func (s *Store) MoveRequest(id string, now time.Time, from []records.RequestState, to records.RequestState, edit func(*records.Request) error) (*records.Request, error) {
	return s.UpdateRequest(id, now, records.Move(from, to, edit))
}

// ListRequests returns an owner's requests, oldest first.
func (s *Store) ListRequests(owner records.Principal) ([]*records.Request, error) {
	return s.listRequests(`WHERE owner = $1 ORDER BY created_at, id LIMIT $2`, string(owner), maxList)
}

// ListOpenRequests returns every request that is not final, oldest first.
func (s *Store) ListOpenRequests() ([]*records.Request, error) {
	return s.listRequests(`WHERE state IN ($1, $2, $3) ORDER BY created_at, id LIMIT $4`, openStates[0], openStates[1], openStates[2], maxList)
}

func (s *Store) listRequests(where string, args ...any) ([]*records.Request, error) {
	rows, err := s.db.Query(`SELECT `+requestColumns+` FROM certs_requests `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	defer rows.Close()
	var out []*records.Request
	for rows.Next() {
		r, _, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
