package store

import (
	"slices"
	"time"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/pkg/errors"
)

func requestKey(id string) string { return "request:" + id }

func ownerRequestsKey(owner records.Principal) string { return "owner:" + string(owner) + ":requests" }

// openRequestsKey indexes the requests that are not final, for the
// background job; one key, because their number stays small.
const openRequestsKey = "requests:open"

// CreateRequest stores a new request and indexes it.
func (s *Store) CreateRequest(r *records.Request) error {
	if r.ID == "" || r.Owner == "" || r.State == "" {
		return errors.New("a request needs an id, an owner and a state")
	}
	saved, err := s.kv.Set(requestKey(r.ID), r, setIfAbsent())
	if err != nil {
		return errors.Wrap(err, "save request")
	}
	if !saved {
		return errors.Errorf("a request with id %s already exists", r.ID)
	}
	if err := s.addToIndex(ownerRequestsKey(r.Owner), r.ID); err != nil {
		return err
	}
	if !r.State.Final() {
		return s.addToIndex(openRequestsKey, r.ID)
	}
	return nil
}

// GetRequest returns the request id, or records.ErrNotFound.
func (s *Store) GetRequest(id string) (*records.Request, error) {
	return getJSON[records.Request](s, requestKey(id), "request "+id)
}

// UpdateRequest changes a request with a compare-and-set. change sees the
// current request and may edit it or return an error to leave it alone; a
// change of State must be allowed by the state machine. What identifies
// the request is kept as it was made (see records.Request.KeepIdentity).
// A request that becomes final leaves the open index.
func (s *Store) UpdateRequest(id string, now time.Time, change func(*records.Request) error) (*records.Request, error) {
	updated, err := updateJSON(s, requestKey(id), "request "+id, func(r *records.Request) error {
		recorded := *r
		before := r.State
		if err := change(r); err != nil {
			return err
		}
		r.KeepIdentity(&recorded)
		if r.State != before && !before.CanMoveTo(r.State) {
			return &records.ErrTransition{From: before, To: r.State}
		}
		r.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	if updated.State.Final() {
		if err := s.removeFromIndex(openRequestsKey, id); err != nil {
			return updated, err
		}
	}
	return updated, nil
}

// MoveRequest changes a request's state to to, with a compare-and-set, only
// from one of the states in from (any state the machine allows when from is
// empty). edit may change other fields, or return an error to refuse. Any
// other current state gives *records.ErrTransition, so of two concurrent moves only
// one happens.
func (s *Store) MoveRequest(id string, now time.Time, from []records.RequestState, to records.RequestState, edit func(*records.Request) error) (*records.Request, error) {
	return s.UpdateRequest(id, now, records.Move(from, to, edit))
}

// ListRequests returns an owner's requests, oldest first.
func (s *Store) ListRequests(owner records.Principal) ([]*records.Request, error) {
	return s.requestsIn(ownerRequestsKey(owner), false)
}

// ListOpenRequests returns every request that is not final, oldest first.
func (s *Store) ListOpenRequests() ([]*records.Request, error) {
	return s.requestsIn(openRequestsKey, true)
}

// requestsIn reads the requests an index names; openOnly leaves out those
// that are final (the index may still name one whose removal failed).
func (s *Store) requestsIn(indexKey string, openOnly bool) ([]*records.Request, error) {
	var raw []byte
	if err := s.kv.Get(indexKey, &raw); err != nil {
		return nil, errors.Wrap(err, "read request index")
	}
	ids, err := decodeIndex(raw)
	if err != nil {
		return nil, err
	}
	out := make([]*records.Request, 0, len(ids))
	for _, id := range ids {
		r, err := s.GetRequest(id)
		if errors.Is(err, records.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if openOnly && r.State.Final() {
			continue
		}
		out = append(out, r)
	}
	// By time, as the database; requests made at one instant stay in the
	// order they were made, where the database orders them by id.
	slices.SortStableFunc(out, func(a, b *records.Request) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

func (s *Store) addToIndex(key, id string) error {
	err := s.update(key, func(old []byte) (any, error) {
		ids, err := decodeIndex(old)
		if err != nil {
			return nil, err
		}
		if slices.Contains(ids, id) {
			return ids, nil
		}
		return append(ids, id), nil
	})
	return errors.Wrapf(err, "add %s to %s", id, key)
}

func (s *Store) removeFromIndex(key, id string) error {
	err := s.update(key, func(old []byte) (any, error) {
		ids, err := decodeIndex(old)
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(ids, func(v string) bool { return v == id }), nil
	})
	return errors.Wrapf(err, "remove %s from %s", id, key)
}
