package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/lib/pq"
)

// A database that is down or shutting down is a 503 the SDK can retry, not a 500.
func TestToErrorDatabaseUnavailable(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("store: begin: %w", &pq.Error{Code: "57P03", Message: "the database system is shutting down"}),
		fmt.Errorf("store: commit: %w", &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"}),
	} {
		e := toError(err)
		if e.Status != http.StatusServiceUnavailable || e.Key != "service_unavailable" || e.Type == "" || e.Message == "" {
			t.Errorf("toError(%v) = %+v, want 503 service_unavailable", err, e)
		}
	}
	if e := toError(fmt.Errorf("x: %w", &pq.Error{Code: "42P01"})); e.Status != http.StatusInternalServerError {
		t.Errorf("an SQL error is %d, want 500", e.Status)
	}
}

// A request whose client went away is a 499, not a logged 500.
func TestToErrorClientClosed(t *testing.T) {
	e := toError(fmt.Errorf("store: scoped read: %w", context.Canceled))
	if e.Status != 499 || e.Key != "client_closed_request" {
		t.Fatalf("cancelled request = %d %s", e.Status, e.Key)
	}
}
