package enroll_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
	"github.com/clientcerts/mattermost-plugin-certs/server/connector/connectortest"
	"github.com/clientcerts/mattermost-plugin-certs/server/enroll"
	"github.com/clientcerts/mattermost-plugin-certs/server/records"
)

// recordingLog keeps what the core logs.
type recordingLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLog) add(level, msg string, kv []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+msg+" "+fmt.Sprint(kv...))
}
func (l *recordingLog) LogInfo(msg string, kv ...any)  { l.add("info", msg, kv) }
func (l *recordingLog) LogWarn(msg string, kv ...any)  { l.add("warn", msg, kv) }
func (l *recordingLog) LogError(msg string, kv ...any) { l.add("error", msg, kv) }

func (l *recordingLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// revocationBed is a core over the bed whose CA is scripted, with a clock
// the test moves and a log it reads.
type revocationBed struct {
	*bed
	core *enroll.Core
	ca   *connectortest.ScriptedRevocations
	log  *recordingLog
	mu   sync.Mutex
	now  time.Time
}

func newRevocationBed(t *testing.T) *revocationBed {
	t.Helper()
	b := &revocationBed{bed: newBed(t, ""), log: &recordingLog{}, now: time.Now()}
	b.ca = &connectortest.ScriptedRevocations{Connector: b.settings.Connectors["builtin"]}
	settings := b.settings
	settings.Connectors = map[string]connector.Connector{"builtin": b.ca}
	ports := b.ports
	ports.Clock = b.clock
	ports.Log = b.log
	b.core = enroll.New(settings, ports)
	return b
}

func (b *revocationBed) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *revocationBed) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

// pendingRevocation issues alice a certificate and revokes it while the CA
// cannot be reached: revoked here, pending at the CA.
func (b *revocationBed) pendingRevocation(t *testing.T) string {
	t.Helper()
	alice := requester("alice")
	_, grant := issueLink(t, b.core, alice, "")
	outcome, err := b.core.RedeemLink(context.Background(), grant, enroll.Options{})
	require.NoError(t, err)
	b.ca.Set(&connector.Error{Kind: connector.KindUnavailable, Connector: "builtin", Message: "the certificate authority could not be reached"})
	revoked, err := b.core.Revoke(context.Background(), alice, outcome.Issued.Record.Serial, "")
	require.NoError(t, err)
	require.True(t, revoked.PendingAtCA)
	return outcome.Issued.Record.Serial
}

func (b *revocationBed) record(t *testing.T, serial string) *records.Certificate {
	t.Helper()
	c, err := b.store.GetCertificate(serial)
	require.NoError(t, err)
	return c
}

// notAccepted are the notices telling the admins a revocation is still
// pending at its CA.
func (b *revocationBed) notAccepted() []notice {
	b.admins.mu.Lock()
	defer b.admins.mu.Unlock()
	var out []notice
	for _, n := range b.admins.notices {
		if n.kind == "revocation-not-accepted" {
			out = append(out, n)
		}
	}
	return out
}

// unauthorized is step-ca's answer to a token signed with a provisioner key
// it no longer has; its cause holds what only the log should.
var unauthorized = &connector.Error{Kind: connector.KindRejected, Connector: "builtin",
	Message: "The request lacked necessary authorization to be completed",
	Err:     errors.New("revoke at https://ca.example.com: HTTP 401: The request lacked necessary authorization to be completed")}

// A CA that refuses a revocation told again has not accepted it: it stays
// pending, with what the CA said, and is told again later, after a delay
// that grows, not at every run; once the CA accepts, it is settled.
func TestARefusedRevocationStaysPendingAndIsToldAgainLater(t *testing.T) {
	b := newRevocationBed(t)
	serial := b.pendingRevocation(t)
	tries := b.ca.Count()

	b.ca.Set(unauthorized)
	b.advance(time.Minute)
	b.core.RetryRevocations(context.Background())
	assert.Equal(t, tries+1, b.ca.Count())
	c := b.record(t, serial)
	assert.True(t, c.RevocationPending, "a refusal is not an acceptance")
	assert.Equal(t, 1, c.RevocationAttempts)
	assert.Equal(t, "The request lacked necessary authorization to be completed", c.RevocationCAAnswer)
	require.NotNil(t, c.RevocationRetryAt)
	assert.True(t, b.clock().Add(time.Minute).Equal(*c.RevocationRetryAt), "next try %s", c.RevocationRetryAt)
	assert.NotContains(t, b.log.text(), "accepted")
	assert.Contains(t, b.log.text(), "stays pending at the CA")

	// Not due yet: the CA is not asked again.
	b.core.RetryRevocations(context.Background())
	b.advance(59 * time.Second)
	b.core.RetryRevocations(context.Background())
	assert.Equal(t, tries+1, b.ca.Count())

	b.advance(time.Second)
	b.core.RetryRevocations(context.Background())
	assert.Equal(t, tries+2, b.ca.Count())
	c = b.record(t, serial)
	assert.True(t, c.RevocationPending)
	assert.Equal(t, 2, c.RevocationAttempts)
	assert.True(t, b.clock().Add(2*time.Minute).Equal(*c.RevocationRetryAt), "the delay doubles: next try %s", c.RevocationRetryAt)

	// The refusal passes (the connector has fetched the new key): the CA
	// accepts at the next due try, and the revocation is settled.
	b.ca.Set(nil)
	b.advance(2 * time.Minute)
	b.core.RetryRevocations(context.Background())
	assert.Equal(t, tries+3, b.ca.Count())
	c = b.record(t, serial)
	assert.False(t, c.RevocationPending)
	assert.Zero(t, c.RevocationAttempts)
	assert.Nil(t, c.RevocationRetryAt)
	assert.Empty(t, c.RevocationCAAnswer)
	assert.Equal(t, records.CertRevoked, c.State)
	assert.Contains(t, b.log.text(), "A CA accepted a revocation it missed")

	b.advance(time.Hour)
	b.core.RetryRevocations(context.Background())
	assert.Equal(t, tries+3, b.ca.Count(), "and not again")
	assert.Empty(t, b.notAccepted(), "settled within the day: nobody needs telling")
}

// A revocation that stays pending, whatever keeps it so, is told to the
// admins once it has been pending a day, and once only; the CA is asked
// a bounded number of times meanwhile (a minute, doubling to an hour), and
// the notice carries the CA's words, not the details of the log.
func TestAdminsAreToldOnceARevocationHasBeenPendingADay(t *testing.T) {
	for name, answer := range map[string]error{
		"refused":               unauthorized,
		"unreachable":           &connector.Error{Kind: connector.KindUnavailable, Connector: "builtin", Message: "the certificate authority could not be reached", Err: errors.New("dial tcp 10.0.0.1:443: connect: connection refused")},
		"not a connector error": errors.New("something the log alone should say"),
	} {
		t.Run(name, func(t *testing.T) {
			b := newRevocationBed(t)
			serial := b.pendingRevocation(t)
			b.ca.Set(answer)
			tries := b.ca.Count()

			// The job runs every minute for a day, less a minute.
			for range 24*60 - 1 {
				b.advance(time.Minute)
				b.core.RetryRevocations(context.Background())
			}
			assert.Empty(t, b.notAccepted(), "not before a day")
			assert.True(t, b.record(t, serial).RevocationPending)
			asked := b.ca.Count() - tries
			assert.GreaterOrEqual(t, asked, 20)
			assert.LessOrEqual(t, asked, 32, "a minute, doubling to an hour: not every run")

			for range 3 * 60 {
				b.advance(time.Minute)
				b.core.RetryRevocations(context.Background())
			}
			notices := b.notAccepted()
			require.Len(t, notices, 1, "told once")
			c := b.record(t, serial)
			assert.True(t, c.RevocationPending)
			assert.Equal(t, serial+" "+c.RevocationCAAnswer, notices[0].detail)
			require.NotNil(t, c.RevocationNoticeAt)
			if ce := connector.AsError(answer); ce != nil {
				assert.Equal(t, ce.Message, c.RevocationCAAnswer)
				assert.NotContains(t, c.RevocationCAAnswer, ce.Err.Error())
			} else {
				assert.Equal(t, "an unexpected error (the server log has it)", c.RevocationCAAnswer)
			}
			assert.LessOrEqual(t, b.ca.Count()-tries, 32+3, "an hour apart after the first hours")
		})
	}
}

// A revocation whose connector was removed from the settings cannot be
// told: it stays pending, paced like any other, and the admins are told.
func TestARevocationWhoseConnectorIsGoneStaysPending(t *testing.T) {
	b := newRevocationBed(t)
	serial := b.pendingRevocation(t)
	gone := enroll.New(enroll.Settings{Catalog: b.settings.Catalog, Connectors: map[string]connector.Connector{}, Minter: b.settings.Minter,
		SealKey: b.settings.SealKey}, enroll.Ports{Inventory: b.store, Directories: b.ports.Directories, Notifiers: b.ports.Notifiers,
		Admins: b.ports.Admins, Mailer: b.mail, Log: b.log, Clock: b.clock})
	b.advance(time.Minute)
	gone.RetryRevocations(context.Background())
	c := b.record(t, serial)
	assert.True(t, c.RevocationPending)
	assert.Equal(t, 1, c.RevocationAttempts)
	assert.Equal(t, `the CA connector "builtin" is no longer configured`, c.RevocationCAAnswer)

	b.advance(enroll.RevocationNoticeAfter)
	gone.RetryRevocations(context.Background())
	require.Len(t, b.notAccepted(), 1)
}
