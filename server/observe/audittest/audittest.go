// Package audittest keeps the audit records a test's server was given, as
// they arrive after crossing the plugin RPC.
package audittest

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/require"
)

// Log is the audit log of a test: safe for many goroutines.
type Log struct {
	mu      sync.Mutex
	records []*model.AuditRecord
}

// Add keeps rec after it went through gob as over the plugin RPC: a meta
// value of a type gob does not know breaks the call, and fails t.
func (l *Log) Add(t testing.TB, rec *model.AuditRecord) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(rec); err != nil {
		t.Errorf("audit record %s does not cross the plugin RPC: %v", rec.EventName, err)
		return
	}
	var sent model.AuditRecord
	if err := gob.NewDecoder(&buf).Decode(&sent); err != nil {
		t.Errorf("audit record %s does not cross the plugin RPC: %v", rec.EventName, err)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, &sent)
}

// All are every record kept.
func (l *Log) All() []*model.AuditRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*model.AuditRecord(nil), l.records...)
}

// Of are the records of one event.
func (l *Log) Of(event string) []*model.AuditRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*model.AuditRecord
	for _, rec := range l.records {
		if rec.EventName == event {
			out = append(out, rec)
		}
	}
	return out
}

// One is the one record of event.
func (l *Log) One(t testing.TB, event string) *model.AuditRecord {
	t.Helper()
	recs := l.Of(event)
	require.Len(t, recs, 1, "one %s record; all: %s", event, l.Text())
	return recs[0]
}

// Text is every record as text, to look for what must not be there.
func (l *Log) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, rec := range l.records {
		fmt.Fprintf(&b, "%+v\n", *rec)
	}
	return b.String()
}
