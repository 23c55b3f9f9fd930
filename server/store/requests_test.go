package store

import (
	"testing"

	"github.com/clientcerts/mattermost-plugin-certs/server/records"

	"github.com/stretchr/testify/assert"
)

func TestRequestStateMachine(t *testing.T) {
	allowed := map[records.RequestState][]records.RequestState{
		records.RequestPending:   {records.RequestApproved, records.RequestWaitingCA, records.RequestDenied, records.RequestCancelled, records.RequestExpired},
		records.RequestWaitingCA: {records.RequestIssued, records.RequestApproved, records.RequestDenied, records.RequestCancelled, records.RequestExpired},
		records.RequestApproved:  {records.RequestIssued, records.RequestWaitingCA, records.RequestExpired, records.RequestCancelled},
	}
	all := []records.RequestState{records.RequestPending, records.RequestWaitingCA, records.RequestApproved, records.RequestIssued, records.RequestDenied, records.RequestCancelled, records.RequestExpired}
	for _, from := range all {
		for _, to := range all {
			want := false
			for _, ok := range allowed[from] {
				want = want || ok == to
			}
			assert.Equal(t, want, from.CanMoveTo(to), "%s → %s", from, to)
		}
		assert.Equal(t, len(allowed[from]) == 0, from.Final(), "%s final", from)
	}
}
