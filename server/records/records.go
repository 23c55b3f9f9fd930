// Package records holds what the plugin keeps about certificates and
// requests: the records themselves, their states and the errors of their
// stores, whatever store holds them (the KV store today, database tables
// next). It knows no store and no plugin API.
package records

import "errors"

// ErrNotFound is returned for a key that holds nothing.
var ErrNotFound = errors.New("not found")
