// Package store is the only code that speaks SQL. Every method that touches workspace or tenant
// data runs inside InScope: one transaction, as the app role, with the scope set as
// transaction-local settings that PostgreSQL's row-level security policies enforce. The few
// lookups that must happen before a scope exists live in lookup.go and are named as such.
// One file per aggregate.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"

	"tenantry/internal/secrets"
	"tenantry/internal/tenancy"
	"tenantry/migrations"
)

// AppRole is the role every scoped transaction runs as: NOLOGIN, not superuser, no BYPASSRLS,
// owning nothing. The migrations create it.
const AppRole = "tenantry_app"

// DB is Tenantry's database.
type DB struct {
	db   *sqlx.DB
	keys *secrets.KeyRing
	log  *slog.Logger
	read *replica // the optional read replica (replica.go); nil: every read on the primary
	dsn  string   // the URL Open was given: the scoped-read batcher's own connections use it
	// txPooler: the URL leads to a transaction-mode pooler (SetTransactionPooler).
	txPooler atomic.Bool
	// reads coalesces concurrent ReadScoped calls (readbatch.go).
	reads readBatcher

	// txOptions begin InScope's transactions: nil (read-write) on the primary, read-only on a
	// replica, where lib/pq's explicit BEGIN READ WRITE is refused.
	txOptions *sql.TxOptions
}

// Open connects to url and checks the connection. keys seals and opens secrets at rest.
func Open(ctx context.Context, url string, keys *secrets.KeyRing, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := sqlx.Open("postgres", withBinaryParameters(url))
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return &DB{db: db, keys: keys, log: log, dsn: url}, nil
}

// withBinaryParameters turns on lib/pq's binary_parameters, which sends a parameterized query as
// Parse+Bind+Execute in one round trip instead of two. Its one catch: []byte arguments go over
// in binary, so JSON must be passed as a string (jsonb's binary form differs from its text).
func withBinaryParameters(url string) string { return withURLOption(url, "binary_parameters", "yes") }

// withURLOption adds key=value to a connection string (URL or key=value form) unless it names
// key already.
func withURLOption(url, key, value string) string {
	if strings.Contains(url, key+"=") {
		return url
	}
	if strings.Contains(url, "://") {
		if strings.Contains(url, "?") {
			return url + "&" + key + "=" + value
		}
		return url + "?" + key + "=" + value
	}
	return url + " " + key + "=" + value
}

// Close closes every connection (and stops the read replica's checker).
func (d *DB) Close() error {
	d.read.close()
	d.reads.close()
	return d.db.Close()
}

// SQL returns the underlying pool, for tests and tools that must look past the app role.
func (d *DB) SQL() *sqlx.DB { return d.db }

// Keys returns the key ring for secrets at rest.
func (d *DB) Keys() *secrets.KeyRing { return d.keys }

// migrateLockKey serializes migrations and catalog loads across processes.
const migrateLockKey = 7_301_884_126

// Migrate applies every pending migration, then loads the universe catalog and makes sure the
// activity log's partitions exist. It runs as the connecting user, not the app role: migrations
// are one of the two things that run outside a scope.
//
// Only pending migrations take the session-level lock that keeps two processes from migrating at
// once (goose runs on connections of its own, so no single transaction can hold it); a schema that
// is already current — every start but the first after an upgrade — takes only transaction-level
// locks, which is what lets `serve` start through a transaction-mode pooler (docs/SCALING.md).
func (d *DB) Migrate(ctx context.Context) error {
	p, err := d.migrator()
	if err != nil {
		return err
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if cur, latest, err := p.GetVersions(ctx); err != nil || cur < latest {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey)
		results, err := p.Up(ctx)
		for _, r := range results {
			d.log.Info("migration applied", "version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration)
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if err := loadUniverse(ctx, conn); err != nil {
		return fmt.Errorf("migrate: universe: %w", err)
	}
	if _, _, _, err := d.MaintainActivity(ctx, false, 0); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MigrationStatus reports whether every migration has been applied.
func (d *DB) MigrationStatus(ctx context.Context) (current, latest int64, err error) {
	p, err := d.migrator()
	if err != nil {
		return 0, 0, err
	}
	current, latest, err = p.GetVersions(ctx)
	return current, latest, err
}

func (d *DB) migrator() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations.FS, ".")
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, d.db.DB, sub)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return p, nil
}

// Ready checks that the database answers and is migrated to the version this binary expects.
func (d *DB) Ready(ctx context.Context) error {
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	cur, latest, err := d.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	if cur < latest {
		return fmt.Errorf("database at migration %d, want %d: run `tenantry migrate`", cur, latest)
	}
	return nil
}

// pqCode returns the PostgreSQL error code of err, or "".
func pqCode(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	return ""
}

// Unavailable reports whether err means the database could not be reached or went away (refused
// or broken connections, a server shutting down, starting up or in recovery), as opposed to a
// query it answered: the request may succeed when retried, so callers answer 503.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	code := pqCode(err)
	switch {
	case strings.HasPrefix(code, "08"), // connection_exception
		strings.HasPrefix(code, "57P"): // admin/crash shutdown, cannot_connect_now, database dropped
		return true
	case code != "":
		return false
	}
	var oe *net.OpError
	return errors.Is(err, errConnection) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &oe)
}

// isUniqueViolation reports a unique constraint failure, optionally of one constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "23505" {
		return false
	}
	return constraint == "" || pe.Constraint == constraint
}

func notFound(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// writeError wraps a failed write. A foreign-key violation means the input named something that
// is not there (or not visible in scope): a validation error, not a server fault.
func writeError(op string, err error) error {
	if pqCode(err) == "23503" {
		return &tenancy.ValidationError{Fields: []tenancy.FieldError{{Message: "refers to something that does not exist"}}}
	}
	return fmt.Errorf("%s: %w", op, err)
}
