package store

import (
	"strings"

	"github.com/pkg/errors"
)

// A binding ties a name an admin wrote in the settings (an approver's
// username, a team's name) to the immutable id of the account or team it
// named when the admin saved it. Names can be taken over; ids cannot.

// BindingKind is what a binding names.
type BindingKind string

const (
	BindUser BindingKind = "user"
	BindTeam BindingKind = "team"
)

func bindingKey(kind BindingKind, name string) string {
	return "binding:" + string(kind) + ":" + strings.ToLower(name)
}

// Binding returns the id a name is bound to, or "" when it is not bound.
func (s *Store) Binding(kind BindingKind, name string) (string, error) {
	var id string
	if err := s.kv.Get(bindingKey(kind, name), &id); err != nil {
		return "", errors.Wrap(err, "read binding")
	}
	return id, nil
}

// Bind binds a name to id, replacing any binding it had: an admin saved it.
func (s *Store) Bind(kind BindingKind, name, id string) error {
	_, err := s.kv.Set(bindingKey(kind, name), id)
	return errors.Wrap(err, "save binding")
}

// BindIfAbsent binds a name that has no binding yet and returns the id it
// is bound to now, which is another node's if it bound the name first.
func (s *Store) BindIfAbsent(kind BindingKind, name, id string) (string, error) {
	saved, err := s.kv.Set(bindingKey(kind, name), id, setIfAbsent())
	if err != nil {
		return "", errors.Wrap(err, "save binding")
	}
	if saved {
		return id, nil
	}
	return s.Binding(kind, name)
}
