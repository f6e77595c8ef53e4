package tenancy

import (
	"errors"
	"fmt"
	"strings"
)

// The few errors the rest of the code tests for with errors.Is. The web layer maps each to one
// status in one table (web/errors.go).
var (
	ErrNotFound         = errors.New("not found")
	ErrConflict         = errors.New("already exists")
	ErrForbidden        = errors.New("access denied")
	ErrUnauthenticated  = errors.New("not authenticated")
	ErrRateLimited      = errors.New("rate limit exceeded")
	ErrTenantArchived   = errors.New("tenant is archived")
	ErrLastAdmin        = errors.New("a workspace must keep at least one admin")
	ErrInvalidSelection = errors.New("invalid selection")
)

// FieldError is one problem with one input field, named by its path ("fields.plan", "name").
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError says what is wrong with an input, field by field.
type ValidationError struct {
	Fields []FieldError
	// Conflict marks a problem that is a clash with existing data (a duplicate key): the API
	// answers 409 instead of 422.
	Conflict bool
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		if f.Path == "" {
			parts[i] = f.Message
		} else {
			parts[i] = f.Path + ": " + f.Message
		}
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a problem with path.
func (e *ValidationError) Add(path, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds a problem, or nil.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// For returns the message for path, or "".
func (e *ValidationError) For(path string) string {
	if e == nil {
		return ""
	}
	for _, f := range e.Fields {
		if f.Path == path {
			return f.Message
		}
	}
	return ""
}

// Invalid returns a ValidationError with one problem.
func Invalid(path, format string, args ...any) error {
	v := &ValidationError{}
	v.Add(path, format, args...)
	return v
}

// AsValidation returns the ValidationError inside err, if any.
func AsValidation(err error) (*ValidationError, bool) {
	var v *ValidationError
	ok := errors.As(err, &v)
	return v, ok
}
