package profile

import (
	"errors"
	"fmt"
)

// FieldError is one mistake in the admin's catalog JSON and where it is.
// Its words are those the settings save shows ("profile "vpn":
// validity_days must be ..."); Path is the place in the JSON, for a form
// to show the words beside the field: "profiles[1].validity_days",
// "connectors[0].stepca.url", "default_profile" (list indexes count from
// 0). Path is empty when the mistake is about the whole JSON, such as a
// syntax error.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Problems is every mistake found in a catalog, in the order of the JSON.
// As an error it says what the first one says, which is what a save
// refuses with.
type Problems []*FieldError

func (p Problems) Error() string {
	if len(p) == 0 {
		return "no problems"
	}
	return p[0].Error()
}

// Unwrap lets errors.As find the *FieldError of the first problem.
func (p Problems) Unwrap() []error {
	out := make([]error, 0, len(p))
	for _, fe := range p {
		out = append(out, fe)
	}
	return out
}

// add records a mistake at path, in words prefixed with where.
func (p *Problems) add(path, where string, err error) {
	if where != "" {
		err = fmt.Errorf("%s: %w", where, err)
	}
	*p = append(*p, &FieldError{Path: path, Err: err})
}

// orNil is p as an error, or nil when it holds no mistake.
func (p Problems) orNil() error {
	if len(p) == 0 {
		return nil
	}
	return p
}

// ProblemsOf lists the mistakes err reports, each with the path of its
// field where it has one. An error that names no field is one problem
// without a path.
func ProblemsOf(err error) Problems {
	if err == nil {
		return nil
	}
	var problems Problems
	if errors.As(err, &problems) && len(problems) > 0 {
		return problems
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return Problems{fe}
	}
	return Problems{{Err: err}}
}

// joinPath appends a field to a path: "profiles[1]" and "subject.email_san"
// make "profiles[1].subject.email_san".
func joinPath(base, field string) string {
	switch {
	case field == "":
		return base
	case base == "":
		return field
	}
	return base + "." + field
}

// entryPath is the path of the i-th entry of a list: "profiles[1]".
func entryPath(list string, i int) string { return fmt.Sprintf("%s[%d]", list, i) }
