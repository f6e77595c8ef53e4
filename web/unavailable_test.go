package web

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/lib/pq"
)

func TestStatusOfDatabaseUnavailable(t *testing.T) {
	if st := StatusOf(fmt.Errorf("store: begin: %w", &pq.Error{Code: "57P03"})); st != http.StatusServiceUnavailable {
		t.Errorf("database shutting down: %d, want 503", st)
	}
	if st := StatusOf(fmt.Errorf("x: %w", &pq.Error{Code: "42P01"})); st != http.StatusInternalServerError {
		t.Errorf("an SQL error: %d, want 500", st)
	}
}
