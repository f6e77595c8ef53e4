package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/lib/pq"

	"tenantry/internal/tenancy"
)

func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("store: begin: %w", refused), true},
		{"bad conn", fmt.Errorf("store: set scope: %w", driver.ErrBadConn), true},
		{"conn done", sql.ErrConnDone, true},
		{"unexpected EOF", fmt.Errorf("store: commit: %w", io.ErrUnexpectedEOF), true},
		{"admin shutdown 57P01", &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"shutting down 57P03", fmt.Errorf("x: %w", &pq.Error{Code: "57P03", Message: "the database system is shutting down"}), true},
		{"connection failure 08006", &pq.Error{Code: "08006"}, true},
		{"unique violation", &pq.Error{Code: "23505"}, false},
		{"query canceled 57014", &pq.Error{Code: "57014"}, false},
		{"not found", tenancy.ErrNotFound, false},
		{"no rows", sql.ErrNoRows, false},
		{"plain", errors.New("boom"), false},
		{"nil", nil, false},
	} {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
