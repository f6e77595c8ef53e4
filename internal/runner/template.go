// Package runner runs a tenant's actions and flows against external apps: it builds the request
// from the action's effective config with a small template language, authenticates as the
// integration says, calls only the integration's host with timeouts and a size cap, and reshapes
// the result with a field mapping. It knows nothing of SQL or HTTP handlers; the API calls it
// with what the store resolved.
package runner

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The template language: {{path}} where path is dotted names and indexes into the run's data —
// input, fields (the tenant's), credentials (the connection's), connection, tenant, steps (a
// flow's earlier outputs) — e.g. {{input.email}}, {{steps.list.output.results.0.id}}. Nothing
// else: no calls, no expressions, no code. A string that is exactly one placeholder becomes the
// value itself with its JSON type ("{{input}}" is the whole input object); placeholders inside a
// longer string are replaced by the value's text. A missing value is an error naming it, so a
// typo fails the run instead of sending an empty string.

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}`)

// Data is what templates can read.
type Data map[string]any

// MissingError names a placeholder that has no value.
type MissingError struct{ Path string }

func (e *MissingError) Error() string { return "no value for {{" + e.Path + "}}" }

// Lookup finds a dotted path in d.
func (d Data) Lookup(path string) (any, bool) {
	var cur any = map[string]any(d)
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Render expands the placeholders of every string in v (objects and arrays walked), with escape
// applied to values inserted into a longer string (nil: as they are).
func (d Data) Render(v any, escape func(string) string) (any, error) {
	switch x := v.(type) {
	case string:
		return d.renderString(x, escape)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			r, err := d.Render(val, escape)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			r, err := d.Render(val, escape)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// RenderString expands s to text.
func (d Data) RenderString(s string, escape func(string) string) (string, error) {
	v, err := d.renderString(s, escape)
	if err != nil {
		return "", err
	}
	// A string that is one placeholder came back as the value itself: escape it too.
	if m := placeholder.FindStringSubmatch(s); m != nil && m[0] == s && escape != nil {
		return escape(text(v)), nil
	}
	return text(v), nil
}

func (d Data) renderString(s string, escape func(string) string) (any, error) {
	if m := placeholder.FindStringSubmatch(s); m != nil && m[0] == strings.TrimSpace(s) && strings.TrimSpace(s) == s {
		v, ok := d.Lookup(m[1])
		if !ok {
			return nil, &MissingError{Path: m[1]}
		}
		return v, nil
	}
	var err error
	out := placeholder.ReplaceAllStringFunc(s, func(p string) string {
		path := placeholder.FindStringSubmatch(p)[1]
		v, ok := d.Lookup(path)
		if !ok {
			if err == nil {
				err = &MissingError{Path: path}
			}
			return ""
		}
		t := text(v)
		if escape != nil {
			t = escape(t)
		}
		return t
	})
	return out, err
}

// text is a value as it reads inside a string: strings as they are, numbers without exponent
// where possible, null as empty, objects and arrays as JSON.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
