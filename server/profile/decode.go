package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// rawCatalog is the top level of the admin's JSON, each entry kept raw so
// it is decoded on its own and its errors name it.
type rawCatalog struct {
	Connectors     []json.RawMessage `json:"connectors"`
	Profiles       []json.RawMessage `json:"profiles"`
	DefaultProfile string            `json:"default_profile"`
}

// decodeCatalog reads the JSON strictly: an unknown field or a value of the
// wrong type is refused with the connector or profile and the field named.
// Each entry is decoded on its own, so the Problems it returns hold the
// mistakes of every entry.
func decodeCatalog(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw rawCatalog
	if err := dec.Decode(&raw); err != nil {
		if msg, path, ok := fieldError(err, data, reflect.TypeFor[rawCatalog]()); ok {
			return nil, Problems{{Path: path, Err: errors.New(msg)}}
		}
		return nil, Problems{{Err: fmt.Errorf("the JSON cannot be read: %w", err)}}
	}
	if dec.More() {
		return nil, Problems{{Err: errors.New("unexpected data after the JSON object")}}
	}
	var problems Problems
	c := &Catalog{DefaultProfile: raw.DefaultProfile}
	c.Connectors = make([]Connector, len(raw.Connectors))
	for i, entry := range raw.Connectors {
		if fe := decodeEntry(entry, &c.Connectors[i], "connector", entryPath("connectors", i), i); fe != nil {
			problems = append(problems, fe)
		}
	}
	c.Profiles = make([]Profile, len(raw.Profiles))
	for i, entry := range raw.Profiles {
		if fe := decodeEntry(entry, &c.Profiles[i], "profile", entryPath("profiles", i), i); fe != nil {
			problems = append(problems, fe)
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return c, nil
}

// decodeEntry decodes one connector or profile into v, its "name" read
// first so that an error says which entry it is in; path is where the
// entry is in the JSON.
func decodeEntry[T any](entry json.RawMessage, v *T, kind, path string, i int) *FieldError {
	where := entryName(kind, i, "")
	var head struct {
		Name any `json:"name"`
	}
	if json.Unmarshal(entry, &head) == nil {
		if name, ok := head.Name.(string); ok {
			where = entryName(kind, i, name)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(entry))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if msg, field, ok := fieldError(err, entry, reflect.TypeFor[T]()); ok {
			return &FieldError{Path: joinPath(path, field), Err: fmt.Errorf("%s: %s", where, msg)}
		}
		return &FieldError{Path: path, Err: fmt.Errorf("%s: %w", where, err)}
	}
	return nil
}

// entryName is how messages name a connector or profile: by its name, or
// by its place (from 1) when it has none.
func entryName(kind string, i int, name string) string {
	if name != "" {
		return fmt.Sprintf("%s %q", kind, name)
	}
	return fmt.Sprintf("%s %d", kind, i+1)
}

// fieldError words a decoding error about one field: an unknown field, or
// a value of the wrong type. data and t are what was being decoded. path
// is the field's place in data ("subject.email_san"), empty for data
// itself.
func fieldError(err error, data []byte, t reflect.Type) (msg, path string, ok bool) {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		want := describeType(typeErr.Type)
		if typeErr.Field == "" {
			return "must be " + want, "", true
		}
		if strings.HasPrefix(typeErr.Value, "number") && typeErr.Value != "number" && isInteger(typeErr.Type) {
			want = "a whole number"
		}
		return fmt.Sprintf("field %q must be %s", typeErr.Field, want), typeErr.Field, true
	}
	const unknownPrefix = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknownPrefix) {
		key, uerr := strconv.Unquote(strings.TrimPrefix(msg, unknownPrefix))
		if uerr != nil {
			return "", "", false
		}
		var tree any
		if json.Unmarshal(data, &tree) == nil {
			if path, ok := unknownPath(tree, t, key); ok {
				key = path
			}
		}
		return fmt.Sprintf("unknown field %q", key), key, true
	}
	return "", "", false
}

// describeType says in words what JSON a Go type takes.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[json.RawMessage]():
		return "an object" // only connectors and profiles are kept raw
	case isInteger(t):
		return "a number"
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		switch elem := describeType(t.Elem()); elem {
		case "a number", "a string", "an object":
			return "a list of " + strings.TrimPrefix(strings.TrimPrefix(elem, "an "), "a ") + "s"
		}
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}

func isInteger(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// unknownPath finds, in the decoded JSON tree, the key named key that the
// struct type t (or a struct within it) does not have, and returns its
// dotted path, so a typo in a nested object is named with its parent.
func unknownPath(tree any, t reflect.Type, key string) (string, bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "", false
	}
	switch v := tree.(type) {
	case []any:
		for _, elem := range v {
			if path, ok := unknownPath(elem, t, key); ok {
				return path, true
			}
		}
	case map[string]any:
		for k, child := range v {
			name, ft, known := structField(t, k)
			if !known {
				if k == key {
					return k, true
				}
				continue
			}
			if path, ok := unknownPath(child, ft, key); ok {
				return name + "." + path, true
			}
		}
	}
	return "", false
}

// structField is the JSON name and type of the field of t that the key k
// decodes into, matched as encoding/json does: exactly, else without regard
// to case.
func structField(t reflect.Type, k string) (string, reflect.Type, bool) {
	var fold *reflect.StructField
	foldName := ""
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == k {
			return name, f.Type, true
		}
		if fold == nil && strings.EqualFold(name, k) {
			fold, foldName = &f, name
		}
	}
	if fold != nil {
		return foldName, fold.Type, true
	}
	return "", nil, false
}
