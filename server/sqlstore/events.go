package sqlstore

import (
	"errors"
	"fmt"
)

// RecordEvent writes an event no record change carries, such as a change
// of the plugin's settings: kind names it, actor is who did it when known
// ("" otherwise), and detail is written as JSON and must hold no secret.
func (s *Store) RecordEvent(kind, actor string, detail any) error {
	if kind == "" {
		return errors.New("an event needs a kind")
	}
	if detail == nil {
		detail = map[string]any{}
	}
	data, err := jsonValue(detail)
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(`INSERT INTO certs_events (at, kind, actor, detail) VALUES ($1, $2, $3, $4)`,
		millis(s.now()), kind, actor, data); err != nil {
		return fmt.Errorf("record event %s: %w", kind, err)
	}
	return nil
}
