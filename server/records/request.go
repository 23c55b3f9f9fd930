package records

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// RequestState is where a certificate request stands.
type RequestState string

// A request moves pending → approved → issued, or ends denied, cancelled or
// expired. "waiting_ca" is a request the CA itself left pending.
const (
	RequestPending   RequestState = "pending"
	RequestWaitingCA RequestState = "waiting_ca"
	RequestApproved  RequestState = "approved"
	RequestIssued    RequestState = "issued"
	RequestDenied    RequestState = "denied"
	RequestCancelled RequestState = "cancelled"
	RequestExpired   RequestState = "expired"
)

// requestTransitions lists, for each state, the states it may move to.
var requestTransitions = map[RequestState][]RequestState{
	RequestPending:   {RequestApproved, RequestWaitingCA, RequestDenied, RequestCancelled, RequestExpired},
	RequestWaitingCA: {RequestIssued, RequestApproved, RequestDenied, RequestCancelled, RequestExpired},
	RequestApproved:  {RequestIssued, RequestWaitingCA, RequestExpired, RequestCancelled},
}

// Final reports whether nothing more can happen to a request in state s.
func (s RequestState) Final() bool { return len(requestTransitions[s]) == 0 }

// CanMoveTo reports whether a request in state s may move to next.
func (s RequestState) CanMoveTo(next RequestState) bool {
	return slices.Contains(requestTransitions[s], next)
}

// ErrTransition is a state change the request's current state does not allow
// (it was decided, cancelled or issued meanwhile).
type ErrTransition struct {
	From, To RequestState
}

func (e *ErrTransition) Error() string {
	return fmt.Sprintf("the request is %s and cannot become %s", e.From, e.To)
}

// ApprovalNotice is where a notifier asked an approver to decide a
// request (for Mattermost, the post with Approve and Deny buttons), kept
// so that every copy can be closed once someone decides. Ref is the
// notifier's own reference, opaque to everyone else; the approver's kind
// says which notifier made it.
type ApprovalNotice struct {
	Approver Principal `json:"user_id"`
	Ref      string    `json:"post_id"`
}

// UnmarshalJSON reads a notice stored before approvers were principals
// too (a bare Mattermost user id: see ActorOf).
func (n *ApprovalNotice) UnmarshalJSON(data []byte) error {
	type stored ApprovalNotice
	var v stored
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*n = ApprovalNotice(v)
	n.Approver = ActorOf(string(n.Approver))
	return nil
}

// Approval is one approver's yes.
type Approval struct {
	By Principal `json:"user_id"`
	At time.Time `json:"at"`
}

// UnmarshalJSON reads an approval stored before approvers were principals
// (a bare Mattermost user id: see ActorOf).
func (a *Approval) UnmarshalJSON(data []byte) error {
	type stored Approval
	var v stored
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*a = Approval(v)
	a.By = ActorOf(string(a.By))
	return nil
}

// Request is a certificate request that could not be served at once: it
// waits for an approver or for the CA. It never holds a private key: for a
// server-generated key the key is made only when the user picks the
// certificate up.
type Request struct {
	ID        string       `json:"id"`
	Owner     Principal    `json:"owner"`
	Profile   string       `json:"profile"`
	Connector string       `json:"connector"`
	State     RequestState `json:"state"`
	// CSRPEM is the user's CSR; empty when the server generates the key.
	CSRPEM string `json:"csr_pem,omitempty"`
	// Attestation is the CSR key's verified attestation, if any.
	Attestation *Attestation `json:"attestation,omitempty"`
	// CARequestID is the CA's own id for a request it left pending.
	CARequestID string    `json:"ca_request_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Approvals are the approvers who said yes so far, for a profile that
	// needs more than one.
	Approvals []Approval `json:"approvals,omitempty"`
	// DecidedBy is the approver who decided, a principal (ActorOf reads
	// it); "" when the CA refused a request it held.
	DecidedBy string     `json:"decided_by,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Serial    string     `json:"serial,omitempty"`
	// ApprovalNotices are where the approvers were asked.
	ApprovalNotices []ApprovalNotice `json:"approval_posts,omitempty"`
	// NextPoll and Polls pace the background job's questions to the CA.
	NextPoll *time.Time `json:"next_poll,omitempty"`
	Polls    int        `json:"polls,omitempty"`
	// PendingKey is a server-generated private key, sealed, kept only while
	// the CA holds its request; it is dropped when the certificate is
	// collected.
	PendingKey *SealedKey `json:"pending_key,omitempty"`
	// PendingKeyCopies are the same key sealed under other encryption
	// secrets, added when the admin changes the secret.
	PendingKeyCopies []SealedKey `json:"pending_key_copies,omitempty"`
	KeyType          string      `json:"key_type,omitempty"`
	// CertificateDER and ChainDER hold what the CA issued until pickup.
	CertificateDER []byte   `json:"certificate_der,omitempty"`
	ChainDER       [][]byte `json:"chain_der,omitempty"`
	// Renews is the serial of the certificate the request is to replace.
	Renews string `json:"renews,omitempty"`
}

// KeepIdentity restores in r what identifies the request recorded
// as it was: its id, owner, profile, connector, when it was made and what
// it renews. A store's UpdateRequest never changes them, whatever the
// change did.
func (r *Request) KeepIdentity(recorded *Request) {
	r.ID, r.Owner, r.Profile, r.Connector = recorded.ID, recorded.Owner, recorded.Profile, recorded.Connector
	r.CreatedAt, r.Renews = recorded.CreatedAt, recorded.Renews
}

// Move is the change that moves a request to state to, only from one of
// the states in from (any state the machine allows when from is empty),
// with edit's other changes; any other current state is *ErrTransition, so
// of two concurrent moves only one happens. Stores run it as one
// conditional update.
func Move(from []RequestState, to RequestState, edit func(*Request) error) func(*Request) error {
	return func(r *Request) error {
		if !r.State.CanMoveTo(to) || (len(from) > 0 && !slices.Contains(from, r.State)) {
			return &ErrTransition{From: r.State, To: to}
		}
		if edit != nil {
			if err := edit(r); err != nil {
				return err
			}
		}
		r.State = to
		return nil
	}
}
