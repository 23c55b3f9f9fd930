package connectortest

import (
	"context"
	"sync"

	"github.com/clientcerts/mattermost-plugin-certs/server/connector"
)

// ScriptedRevocations is a CA that signs as the one it wraps and answers
// revocations with the error a test sets; nil passes them on to that CA.
// It counts the revocations it was told.
type ScriptedRevocations struct {
	connector.Connector
	mu      sync.Mutex
	answer  error
	revokes int
}

func (s *ScriptedRevocations) Revoke(ctx context.Context, req connector.RevokeRequest) error {
	s.mu.Lock()
	s.revokes++
	answer := s.answer
	s.mu.Unlock()
	if answer != nil {
		return answer
	}
	return s.Connector.Revoke(ctx, req)
}

// Set is the answer to the revocations that come next.
func (s *ScriptedRevocations) Set(answer error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

// Count is how many revocations the CA was told.
func (s *ScriptedRevocations) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revokes
}
