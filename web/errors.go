package web

import (
	"context"
	"errors"
	"net/http"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// handlerFunc is a handler that returns its error instead of writing it, so that one place
// (serveError) decides how each kind of error looks and which are incidents.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// StatusOf maps a domain error to its HTTP status: the one table of error kinds.
func StatusOf(err error) int {
	if errors.Is(err, context.Canceled) {
		return 499 // the client went away: not a server fault, not logged as one
	}
	if v, ok := tenancy.AsValidation(err); ok {
		if v.Conflict {
			return http.StatusConflict
		}
		return http.StatusUnprocessableEntity
	}
	switch {
	case errors.Is(err, tenancy.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, tenancy.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, tenancy.ErrForbidden), errors.Is(err, tenancy.ErrTenantArchived):
		return http.StatusForbidden
	case errors.Is(err, tenancy.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, tenancy.ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, tenancy.ErrLastAdmin), errors.Is(err, tenancy.ErrInvalidSelection):
		return http.StatusBadRequest
	case store.Unavailable(err):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// httpError is an error that already knows its status and public message.
type httpError struct {
	status  int
	message string
}

func (e *httpError) Error() string { return e.message }

func errStatus(status int, message string) error { return &httpError{status, message} }
