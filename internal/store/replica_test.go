package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/lib/pq"

	"tenantry/internal/pgembed"
	"tenantry/internal/secrets"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// replicaEnv is a primary and a hot standby cloned from it with pg_basebackup, both started from
// the installed PostgreSQL binaries, with a migrated database, a workspace and two tenants with
// activity.
type replicaEnv struct {
	primary, standby *pgembed.Cluster
	standbyDir       string
	keys             *secrets.KeyRing
	direct           *store.DB // the primary, no replica
	onReplica        *store.DB // the standby alone (read-only transactions, no fallback)
	super            *sql.DB   // the primary as superuser, past RLS
	superStandby     *sql.DB   // the standby as superuser (pausing replay, hand-written SQL)
	ws               *tenancy.Workspace
	a, b             *tenancy.Tenant
}

// clusterParent is a fresh directory a non-root server account can reach (as root the server
// runs as postgres or nobody, and t.TempDir makes 0700 directories).
func clusterParent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		for _, p := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func newReplicaEnv(t *testing.T) *replicaEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a primary and a standby PostgreSQL cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	parent := clusterParent(t)
	e := &replicaEnv{standbyDir: filepath.Join(parent, "standby")}
	var err error
	e.primary, err = pgembed.Start(ctx, pgembed.Options{Dir: filepath.Join(parent, "primary"), Logger: log, Replication: true})
	if errors.Is(err, pgembed.ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.primary.Stop() })
	if err := e.primary.EnsureDatabase(ctx, "tenantry"); err != nil {
		t.Fatal(err)
	}
	if e.keys, err = secrets.ParseKeyRing(secrets.GenerateKeySpec("test")); err != nil {
		t.Fatal(err)
	}
	e.direct = e.open(t, e.primary.URL("tenantry"))
	if err := e.direct.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e.super = e.sqlDB(t, e.primary.URL("tenantry"))

	// A workspace, two tenants, activity for each and for the workspace itself.
	e.ws, _, err = e.direct.CreateWorkspace(ctx, "replica", "Replica")
	if err != nil {
		t.Fatal(err)
	}
	e.a = mustTenant(t, e.direct, e.ws.ID, "a", "Tenant A")
	e.b = mustTenant(t, e.direct, e.ws.ID, "b", "Tenant B")
	for i := range 6 {
		tn := []*tenancy.Tenant{e.a, e.b}[i%2]
		e.record(t, tn.ID, fmt.Sprintf("seed %d of %s", i, tn.InternalID))
	}
	e.record(t, uuid.Nil, "workspace-level entry")

	// The standby is cloned after the data exists (and streams what comes later).
	e.standby, err = pgembed.Start(ctx, pgembed.Options{Dir: e.standbyDir, Logger: log, StandbyOf: e.primary})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.standby.Stop() })
	e.superStandby = e.sqlDB(t, e.standby.URL("tenantry"))
	e.waitReplayed(t)
	// A replica of a DB whose checker never runs after the first check: Replica() is the standby
	// alone, so a read that could not run there fails instead of falling back.
	e.onReplica = e.routed(t, store.ReplicaOptions{MaxLag: time.Hour, CheckEvery: time.Hour}).Replica()
	return e
}

func (e *replicaEnv) open(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url, e.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func (e *replicaEnv) sqlDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// record writes an activity entry on the primary (tenant Nil: a workspace-level entry).
func (e *replicaEnv) record(t *testing.T, tenant uuid.UUID, message string) uuid.UUID {
	t.Helper()
	id := tenancy.NewID()
	err := e.direct.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		return tx.Record(context.Background(), store.Activity{ID: id, Type: "action.run", TenantID: tenant, Message: message})
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitReplayed waits until the standby has replayed everything the primary has written.
func (e *replicaEnv) waitReplayed(t *testing.T) {
	t.Helper()
	var target string
	if err := e.super.QueryRow(`SELECT pg_current_wal_lsn()::text`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done bool
		err := e.superStandby.QueryRow(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, target).Scan(&done)
		if err == nil && done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby did not replay up to %s within 30s (last error %v)", target, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *replicaEnv) pauseReplay(t *testing.T) {
	t.Helper()
	if _, err := e.superStandby.Exec(`SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "replay paused", func() bool {
		var state string
		return e.superStandby.QueryRow(`SELECT pg_get_wal_replay_pause_state()`).Scan(&state) == nil && state == "paused"
	})
}

func (e *replicaEnv) resumeReplay(t *testing.T) {
	t.Helper()
	if _, err := e.superStandby.Exec(`SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listActivity returns the ids of every entry the scope lists, newest first.
func listActivity(t *testing.T, db *store.DB, scope tenancy.Scope) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	err := db.InScope(context.Background(), scope, func(tx *store.Tx) error {
		ids = nil
		page, err := tx.ListActivity(context.Background(), store.ActivityFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, en := range page.Items {
			ids = append(ids, en.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list activity: %v", err)
	}
	return ids
}

// exportActivity is the export path: EachActivity over every entry.
func exportActivity(t *testing.T, db *store.DB, scope tenancy.Scope) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	err := db.InScope(context.Background(), scope, func(tx *store.Tx) error {
		ids = nil
		return tx.EachActivity(context.Background(), store.ActivityFilter{}, func(en *tenancy.ActivityEntry) error {
			ids = append(ids, en.ID)
			return nil
		})
	})
	if err != nil {
		t.Fatalf("export activity: %v", err)
	}
	return ids
}

func tenantKeys(t *testing.T, db *store.DB, scope tenancy.Scope, search string) []string {
	t.Helper()
	var keys []string
	err := db.InScope(context.Background(), scope, func(tx *store.Tx) error {
		keys = nil
		page, err := tx.ListTenants(context.Background(), store.TenantFilter{Search: search, IncludeArchived: true})
		if err != nil {
			return err
		}
		for _, tn := range page.Items {
			keys = append(keys, tn.InternalID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list tenants: %v", err)
	}
	return keys
}

func (e *replicaEnv) scopes() map[string]tenancy.Scope {
	return map[string]tenancy.Scope{
		"tenant A":       tenancy.TenantScope(e.ws.ID, e.a.ID),
		"tenant B":       tenancy.TenantScope(e.ws.ID, e.b.ID),
		"workspace-wide": tenancy.SystemScope(e.ws.ID),
	}
}

// TestReplicaRowLevelSecurity: scoped reads on the hot standby give exactly what they give on
// the primary, a tenant sees only its own rows there, and hand-written SQL as the app role in a
// standby's read-only transaction is held by the same policies.
func TestReplicaRowLevelSecurity(t *testing.T) {
	e := newReplicaEnv(t)
	for name, scope := range e.scopes() {
		onPrimary, onStandby := listActivity(t, e.direct, scope), listActivity(t, e.onReplica, scope)
		if len(onPrimary) == 0 || !slices.Equal(onPrimary, onStandby) {
			t.Errorf("%s: activity on the primary %v, on the standby %v", name, onPrimary, onStandby)
		}
		if ex := exportActivity(t, e.onReplica, scope); !slices.Equal(ex, onPrimary) {
			t.Errorf("%s: export on the standby %v, want %v", name, ex, onPrimary)
		}
		for _, search := range []string{"", "tenant"} {
			tp, ts := tenantKeys(t, e.direct, scope, search), tenantKeys(t, e.onReplica, scope, search)
			if len(tp) == 0 || !slices.Equal(tp, ts) {
				t.Errorf("%s, search %q: tenants on the primary %v, on the standby %v", name, search, tp, ts)
			}
		}
	}
	// Workspace-wide: 6 tenant entries, the workspace entry, and what creating the tenants recorded.
	if n := len(listActivity(t, e.onReplica, tenancy.SystemScope(e.ws.ID))); n < 7 {
		t.Errorf("workspace-wide scope sees %d entries on the standby, want at least 7", n)
	}
	if got := tenantKeys(t, e.onReplica, tenancy.TenantScope(e.ws.ID, e.a.ID), ""); !slices.Equal(got, []string{"a"}) {
		t.Errorf("tenant A lists tenants %v on the standby, want only itself", got)
	}
	// Every entry tenant A sees on the standby is its own.
	err := e.onReplica.InScope(context.Background(), tenancy.TenantScope(e.ws.ID, e.a.ID), func(tx *store.Tx) error {
		page, err := tx.ListActivity(context.Background(), store.ActivityFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, en := range page.Items {
			if en.TenantID != e.a.ID {
				t.Errorf("tenant A sees entry %s of tenant %v on the standby", en.ID, en.TenantID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Hand-written SQL as the app role on the standby, in a read-only transaction.
	ctx := context.Background()
	count := func(settings string, query string) (int, error) {
		tx, err := e.superStandby.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return 0, err
		}
		defer tx.Rollback()
		if _, err := tx.Exec(`SET LOCAL ROLE ` + store.AppRole); err != nil {
			return 0, fmt.Errorf("SET LOCAL ROLE on the standby: %w", err)
		}
		if settings != "" {
			if _, err := tx.Exec(settings); err != nil {
				return 0, fmt.Errorf("set_config on the standby: %w", err)
			}
		}
		var n int
		err = tx.QueryRow(query).Scan(&n)
		return n, err
	}
	scopeA := fmt.Sprintf(`SELECT set_config('tenantry.workspace_id', '%s', true), set_config('tenantry.tenant_id', '%s', true)`, e.ws.ID, e.a.ID)
	var totalA, totalAll int
	if err := e.super.QueryRow(`SELECT count(*) FILTER (WHERE tenant_id = $1), count(*) FROM activity_log WHERE workspace_id = $2`,
		e.a.ID, e.ws.ID).Scan(&totalA, &totalAll); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, settings, query string
		want                  int
	}{
		{"tenant A, all its activity", scopeA, `SELECT count(*) FROM activity_log`, totalA},
		{"tenant A, asking for B's activity", scopeA, fmt.Sprintf(`SELECT count(*) FROM activity_log WHERE tenant_id = '%s'`, e.b.ID), 0},
		{"tenant A, workspace-level entries", scopeA, `SELECT count(*) FROM activity_log WHERE tenant_id IS NULL`, 0},
		{"tenant A, tenants", scopeA, `SELECT count(*) FROM tenants`, 1},
		{"tenant A, tenant B by id", scopeA, fmt.Sprintf(`SELECT count(*) FROM tenants WHERE id = '%s'`, e.b.ID), 0},
		{"no scope set", "", `SELECT count(*) FROM activity_log`, 0},
		{"no scope set, tenants", "", `SELECT count(*) FROM tenants`, 0},
		{"workspace-wide", fmt.Sprintf(`SELECT set_config('tenantry.workspace_id', '%s', true), set_config('tenantry.tenant_id', '*', true)`, e.ws.ID),
			`SELECT count(*) FROM activity_log`, totalAll},
	} {
		n, err := count(c.settings, c.query)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if n != c.want {
			t.Errorf("%s: %d rows on the standby, want %d", c.name, n, c.want)
		}
	}
	if totalA < 3 {
		t.Fatalf("fixture: tenant A has %d entries", totalA)
	}
	// The standby refuses writes, whatever the scope allows.
	_, err = count(scopeA, fmt.Sprintf(`WITH d AS (DELETE FROM activity_log WHERE tenant_id = '%s' RETURNING 1) SELECT count(*) FROM d`, e.a.ID))
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a delete on the standby: %v, want a read-only refusal", err)
	}
}

// routed is the primary with the standby as its read replica.
func (e *replicaEnv) routed(t *testing.T, opts store.ReplicaOptions) *store.DB {
	t.Helper()
	db := e.open(t, e.primary.URL("tenantry"))
	if err := db.UseReplica(context.Background(), e.standby.URL("tenantry"), opts); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "replica usable", func() bool { return db.ReplicaStatus().Usable })
	return db
}

// TestReplicaRouting: lag-tolerant reads go to the replica while it is within the bound (a row
// written to the primary while replay is paused is missing from them), to the primary once the
// replica lags past the bound, back to the replica when it catches up; reads after a write in the
// same transaction stay on the primary; a stopped replica costs no request an error.
func TestReplicaRouting(t *testing.T) {
	e := newReplicaEnv(t)
	const maxLag, checkEvery = 2 * time.Second, 100 * time.Millisecond
	db := e.routed(t, store.ReplicaOptions{MaxLag: maxLag, CheckEvery: checkEvery})
	ctx := context.Background()
	scopeA, wide := tenancy.TenantScope(e.ws.ID, e.a.ID), tenancy.SystemScope(e.ws.ID)
	base := listActivity(t, db, scopeA)
	if !slices.Equal(base, listActivity(t, e.direct, scopeA)) {
		t.Fatal("routed read differs from the primary before any lag")
	}

	// (2) Replay paused: a row written to the primary is missing from routed reads (they are
	// served by the replica) and present on the primary.
	e.pauseReplay(t)
	paused := time.Now()
	fresh := e.record(t, e.a.ID, "written while replay is paused")
	if !slices.Contains(listActivity(t, e.direct, scopeA), fresh) {
		t.Fatal("the primary does not have the fresh entry")
	}
	if got := listActivity(t, db, scopeA); slices.Contains(got, fresh) || !slices.Equal(got, base) {
		t.Fatalf("routed list while replay is paused (%s ago, bound %s): %v, want the replica's %v",
			time.Since(paused), maxLag, got, base)
	}
	if got := exportActivity(t, db, scopeA); slices.Contains(got, fresh) {
		t.Fatal("routed export has the entry the replica has not replayed")
	}
	// InReadScope (the usage dashboard) runs on the replica too.
	var n int
	err := db.InReadScope(ctx, scopeA, func(tx *store.Tx) error {
		return tx.GetContext(ctx, &n, `SELECT count(*) FROM activity_log WHERE id = $1`, fresh)
	})
	if err != nil || n != 0 {
		t.Fatalf("InReadScope while paused: %d rows of the fresh entry, err %v; want 0 (replica)", n, err)
	}
	if !db.ReplicaStatus().Usable {
		t.Fatalf("replica marked unusable too early: %+v (paused %s ago)", db.ReplicaStatus(), time.Since(paused))
	}
	// Read-your-own-write: after a write in the same transaction, the read stays on the primary.
	var own uuid.UUID
	var sawOwn, sawFresh bool
	err = db.InScope(ctx, scopeA, func(tx *store.Tx) error {
		own = tenancy.NewID()
		if err := tx.Record(ctx, store.Activity{ID: own, Type: "action.run", Message: "own write"}); err != nil {
			return err
		}
		page, err := tx.ListActivity(ctx, store.ActivityFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, en := range page.Items {
			sawOwn = sawOwn || en.ID == own
			sawFresh = sawFresh || en.ID == fresh
		}
		return nil
	})
	if err != nil || !sawOwn || !sawFresh {
		t.Fatalf("list after a write in the same transaction: own %v, fresh %v, err %v; want both (primary)", sawOwn, sawFresh, err)
	}

	// (4) Still paused, past the bound: the replica is set aside and reads come from the primary.
	waitFor(t, maxLag+10*time.Second, "replica set aside for lag", func() bool { return !db.ReplicaStatus().Usable })
	// The lag counts from the last WAL sample the replica reached, taken up to one check before
	// the write: never less than the time since the write.
	if st := db.ReplicaStatus(); time.Since(paused) < maxLag-2*checkEvery || !strings.HasPrefix(st.Reason, "lagging") {
		t.Fatalf("set aside %s after the write (bound %s), status %+v", time.Since(paused), maxLag, st)
	}
	if got := listActivity(t, db, scopeA); !slices.Contains(got, fresh) || !slices.Contains(got, own) {
		t.Fatal("a lagging replica still served the routed read")
	}
	if got := tenantKeys(t, db, wide, ""); !slices.Equal(got, tenantKeys(t, e.direct, wide, "")) {
		t.Fatalf("tenant list while lagging: %v", got)
	}
	// Resumed: it catches up and serves again — proved by pausing once more.
	e.resumeReplay(t)
	waitFor(t, 15*time.Second, "replica back in use", func() bool { return db.ReplicaStatus().Usable })
	if got := listActivity(t, db, scopeA); !slices.Contains(got, fresh) || !slices.Contains(got, own) {
		t.Fatal("caught-up replica misses entries")
	}
	e.pauseReplay(t)
	again := e.record(t, e.b.ID, "second entry while paused")
	if got := listActivity(t, db, wide); slices.Contains(got, again) || !slices.Contains(got, fresh) {
		t.Fatal("after catching up, routed reads are not served by the replica")
	}
	e.resumeReplay(t)
	e.waitReplayed(t)
	waitFor(t, 15*time.Second, "replica in use", func() bool { return db.ReplicaStatus().Usable })

	// (3) Replica stopped. onFirstFailure checks only once (when set up), so it still believes
	// the replica healthy and its first routed read must fail over to the primary inside the call.
	onFirstFailure := e.routed(t, store.ReplicaOptions{MaxLag: time.Hour, CheckEvery: time.Hour})
	port := e.standby.Port()
	if err := e.standby.Stop(); err != nil {
		t.Fatal(err)
	}
	want := listActivity(t, e.direct, wide)
	for _, d := range []*store.DB{onFirstFailure, db} {
		if got := listActivity(t, d, wide); !slices.Equal(got, want) {
			t.Fatalf("routed read with the replica stopped: %d entries, want %d", len(got), len(want))
		}
		if got := exportActivity(t, d, wide); !slices.Equal(got, want) {
			t.Fatalf("routed export with the replica stopped: %d entries, want %d", len(got), len(want))
		}
		var used float64
		if err := d.InReadScope(ctx, wide, func(tx *store.Tx) (err error) {
			used, err = tx.WorkspaceCreditUsage(ctx)
			return err
		}); err != nil || used != 0 {
			t.Fatalf("InReadScope with the replica stopped: %g used, %v", used, err)
		}
	}
	if st := onFirstFailure.ReplicaStatus(); st.Usable || !strings.HasPrefix(st.Reason, "unreachable") {
		t.Fatalf("a replica that failed a read is still in use: %+v", st)
	}
	waitFor(t, 10*time.Second, "checker notices the stopped replica", func() bool {
		st := db.ReplicaStatus()
		return !st.Usable && strings.HasPrefix(st.Reason, "unreachable")
	})
	if got := tenantKeys(t, db, wide, "tenant"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("tenant list with the replica stopped: %v", got)
	}

	// Restarted on the same port, it is used again.
	e.standby, err = pgembed.Start(ctx, pgembed.Options{Dir: e.standbyDir, StandbyOf: e.primary, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.standby.Stop() })
	waitFor(t, 20*time.Second, "restarted replica back in use", func() bool { return db.ReplicaStatus().Usable })
	if got := listActivity(t, db, wide); !slices.Equal(got, listActivity(t, e.direct, wide)) {
		t.Fatal("restarted replica serves different rows")
	}
}
