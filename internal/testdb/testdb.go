// Package testdb gives tests a real, freshly migrated PostgreSQL database of their own.
//
// The server is, in order of preference: TEST_DATABASE_URL, DATABASE_URL, or the private cluster
// in <repo root>/.data/test-postgres that internal/pgembed starts (or reuses when another test
// binary already started it; it is left running for the next run). On each server the migrations
// are applied once, to a template database named after a hash of the migration files; every New
// or URL then costs one CREATE DATABASE … TEMPLATE, and the database is dropped when the test
// ends.
//
// The connecting user must be a superuser (or at least a CREATEDB user owning the template) for
// the tests that look past row-level security.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"tenantry/internal/pgembed"
	"tenantry/internal/secrets"
	"tenantry/internal/store"
	"tenantry/migrations"
)

// setupTimeout bounds starting the embedded server, migrating the template and creating a
// database.
const setupTimeout = 2 * time.Minute

// templateLockKey serialises template creation between concurrent test binaries (session-level
// advisory lock, taken on a connection to the maintenance database "postgres").
const templateLockKey int64 = 0x7465_7374_6462 // "testdb"

// New returns a store connected to a freshly migrated database private to t. The store is closed
// and the database dropped when t ends.
func New(t testing.TB) *store.DB {
	t.Helper()
	u := URL(t)
	keys, err := secrets.ParseKeyRing(secrets.GenerateKeySpec("test"))
	if err != nil {
		t.Fatalf("testdb: key ring: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, u, keys, nil)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	// Registered after URL's cleanup, so it runs before the database is dropped.
	t.Cleanup(func() { _ = db.Close() })
	// Many test databases share one server's max_connections while packages and parallel tests
	// run at once: each test's pool stays small.
	db.SQL().SetMaxOpenConns(20)
	db.SQL().SetMaxIdleConns(8)
	// The template may be days old: today's activity partitions are made here, as at start.
	if _, _, _, err := db.MaintainActivity(ctx, false, 0); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return db
}

// URL returns the lib/pq URL of a freshly migrated database private to t, without connecting to
// it (for tests that start the server binary). The database is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	srv, err := getServer(ctx)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	name := "tenantry_test_" + randomHex(8)
	if _, err := srv.admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+
		" TEMPLATE "+pq.QuoteIdentifier(srv.template)); err != nil {
		t.Fatalf("testdb: create database %s from %s: %v", name, srv.template, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := srv.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("testdb: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(srv.base, name)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return u
}

// server is one PostgreSQL server with its migrated template, shared by the whole test binary.
type server struct {
	base     string  // the URL or DSN the server was found by
	admin    *sql.DB // connections to the maintenance database "postgres"
	template string  // name of the migrated template database
}

var (
	serverMu    sync.Mutex
	serverCache = map[string]*serverResult{}
)

type serverResult struct {
	srv *server
	err error
}

// getServer resolves and prepares the server once per test binary (an error is remembered too,
// so that a missing server fails every test quickly instead of retrying in each).
func getServer(ctx context.Context) (*server, error) {
	source, base := os.Getenv("TEST_DATABASE_URL"), ""
	switch {
	case source != "":
		base = source
	case os.Getenv("DATABASE_URL") != "":
		source = os.Getenv("DATABASE_URL")
		base = source
	default:
		source = "embedded"
	}
	serverMu.Lock()
	defer serverMu.Unlock()
	if r, ok := serverCache[source]; ok {
		return r.srv, r.err
	}
	srv, err := prepareServer(ctx, source, base)
	serverCache[source] = &serverResult{srv: srv, err: err}
	return srv, err
}

func prepareServer(ctx context.Context, source, base string) (*server, error) {
	if source == "embedded" {
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(root, ".data", "test-postgres")
		// Never stopped: other test binaries may be using it, and the next run reuses it.
		c, err := pgembed.Start(ctx, pgembed.Options{Dir: dir})
		if err != nil {
			if errors.Is(err, pgembed.ErrNoBinaries) {
				return nil, fmt.Errorf("no database for tests: set TEST_DATABASE_URL or DATABASE_URL, or install PostgreSQL: %w", err)
			}
			return nil, fmt.Errorf("embedded PostgreSQL in %s: %w", dir, err)
		}
		base = c.URL("postgres")
	}
	adminURL, err := withDatabase(base, "postgres")
	if err != nil {
		return nil, err
	}
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redact(adminURL), err)
	}
	admin.SetMaxIdleConns(2)
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect %s: %w", redact(adminURL), err)
	}
	hash, err := migrationsHash()
	if err != nil {
		admin.Close()
		return nil, err
	}
	srv := &server{base: base, admin: admin, template: "tenantry_template_" + hash}
	if err := srv.ensureTemplate(ctx); err != nil {
		admin.Close()
		return nil, err
	}
	return srv, nil
}

// ensureTemplate creates and migrates the template database unless it exists. It is built under
// a temporary name and renamed when complete, so an existing template is always fully migrated
// even if a test binary died halfway through building one.
func (s *server) ensureTemplate(ctx context.Context) error {
	conn, err := s.admin.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("template lock: %w", err)
	}
	// Session-level: release it explicitly, conn.Close only returns the session to the pool.
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", templateLockKey)

	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", s.template).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	build := s.template + "_build"
	if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(build)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop stale %s: %w", build, err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(build)); err != nil {
		return fmt.Errorf("create %s: %w", build, err)
	}
	buildURL, err := withDatabase(s.base, build)
	if err != nil {
		return err
	}
	keys, err := secrets.ParseKeyRing(secrets.GenerateKeySpec("test"))
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, buildURL, keys, nil)
	if err != nil {
		return fmt.Errorf("template %s: %w", build, err)
	}
	err = db.Migrate(ctx)
	// CREATE DATABASE … TEMPLATE and RENAME need the template to have no other connections.
	db.Close()
	if err != nil {
		return fmt.Errorf("template %s: %w", build, err)
	}
	if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(build)+" RENAME TO "+pq.QuoteIdentifier(s.template)); err != nil {
		return fmt.Errorf("rename %s: %w", build, err)
	}
	return nil
}

// migrationsHash is a short hash of every migration's (and the universe catalog's) name and
// content: a changed or added migration gets a new template.
func migrationsHash() (string, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", err
	}
	catalog, err := fs.Glob(migrations.FS, "universe/*.json")
	if err != nil {
		return "", err
	}
	names = append(names, catalog...)
	if len(names) == 0 {
		return "", errors.New("no migrations embedded")
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(migrations.FS, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// withDatabase returns base (a postgres:// URL or a key=value DSN) pointing at database name.
func withDatabase(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("database URL: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// A later keyword wins in lib/pq's DSN parser.
	return strings.TrimSpace(base) + " dbname='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(name) + "'", nil
}

// redact hides a password in a URL for error messages.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return s
}

// repoRoot walks up from the working directory to the one holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
