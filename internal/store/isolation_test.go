package store_test

// Isolation is enforced by PostgreSQL itself: these tests talk to a real database and, for the
// most part, use raw SQL in transactions that begin exactly as store.InScope begins them, so what
// they prove is what the row-level security policies, grants and role attributes do, not what
// the Go code remembers to add to a WHERE clause. Fixture rows are written as the connecting
// superuser, which bypasses row-level security.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"tenantry/internal/testdb"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// isoFixture: workspaces W1 and W2; tenants A ("acme") and B ("beta") in W1, C ("acme") in W2;
// rows of A, B and C in every tenant table; workspace-level rows in both workspaces; a universe
// element; a manager, membership and session per workspace.
type isoFixture struct {
	db             *store.DB
	w1, w2         uuid.UUID
	a, b, c        uuid.UUID
	m1, m2         uuid.UUID
	i1, i2         uuid.UUID
	ids            map[string]uuid.UUID // every named id, for placeholders in SQL
	placeholderSub *strings.Replacer
}

// sql replaces {NAME} placeholders with the quoted ids of the fixture.
func (f *isoFixture) sql(s string) string { return f.placeholderSub.Replace(s) }

func newIsoFixture(t *testing.T) *isoFixture {
	t.Helper()
	ctx := context.Background()
	db := newDB(t)
	f := &isoFixture{db: db}
	f.w1 = mustWorkspace(t, db, "iso-one").ID
	f.w2 = mustWorkspace(t, db, "iso-two").ID
	f.a = mustTenant(t, db, f.w1, "acme", "Tenant A").ID
	f.b = mustTenant(t, db, f.w1, "beta", "Tenant B").ID
	f.c = mustTenant(t, db, f.w2, "acme", "Tenant C").ID
	f.m1 = mustManager(t, db, "m1@iso.example").ID
	f.m2 = mustManager(t, db, "m2@iso.example").ID
	if err := setMembership(db, f.w1, f.m1, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := setMembership(db, f.w2, f.m2, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, f.m1, f.w1, "iso-session-1"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, f.m2, f.w2, "iso-session-2"); err != nil {
		t.Fatal(err)
	}
	f.i1, f.i2 = tenancy.NewID(), tenancy.NewID()
	f.ids = map[string]uuid.UUID{
		"W1": f.w1, "W2": f.w2, "A": f.a, "B": f.b, "C": f.c, "M1": f.m1, "M2": f.m2, "I1": f.i1, "I2": f.i2,
	}
	for _, n := range []string{"CA", "CB", "CC", "U", "T1", "T2", "EA", "EB", "EC"} {
		f.ids[n] = tenancy.NewID()
	}
	var pairs []string
	for k, v := range f.ids {
		pairs = append(pairs, "{"+k+"}", "'"+v.String()+"'")
	}
	f.placeholderSub = strings.NewReplacer(pairs...)

	// As the superuser: past row-level security.
	for _, q := range []string{
		`INSERT INTO integrations (workspace_id, id, key, name) VALUES ({W1}, {I1}, 'crm', 'CRM 1'), ({W2}, {I2}, 'crm', 'CRM 2')`,
		`INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name) VALUES
			({W1}, {CA}, {A}, {I1}, 'conn A'), ({W1}, {CB}, {B}, {I1}, 'conn B'), ({W2}, {CC}, {C}, {I2}, 'conn C')`,
		`INSERT INTO universe_elements (id, kind, key, name) VALUES ({U}, 'connector', 'universal-crm', 'Universal CRM')`,
		`INSERT INTO elements (workspace_id, id, tenant_id, connection_id, parent_id, universal_parent_id, kind, key, name) VALUES
			({W1}, {T1}, NULL, NULL, NULL, {U}, 'action', 'sync', 'W1 template'),
			({W2}, {T2}, NULL, NULL, NULL, {U}, 'action', 'sync', 'W2 template'),
			({W1}, {EA}, {A}, {CA}, {T1}, NULL, 'action', 'sync', 'A custom'),
			({W1}, {EB}, {B}, {CB}, {T1}, NULL, 'action', 'sync', 'B custom'),
			({W2}, {EC}, {C}, {CC}, {T2}, NULL, 'action', 'sync', 'C custom')`,
		`INSERT INTO portal_sessions (workspace_id, token_hash, tenant_id, expires_at) VALUES
			({W1}, decode(md5('pa'), 'hex'), {A}, now() + interval '1 hour'), ({W1}, decode(md5('pb'), 'hex'), {B}, now() + interval '1 hour'),
			({W2}, decode(md5('pc'), 'hex'), {C}, now() + interval '1 hour')`,
		`INSERT INTO flow_runs (workspace_id, id, tenant_id, connection_id, flow_id, flow_key) VALUES
			({W1}, gen_random_uuid(), {A}, {CA}, {T1}, 'sync'), ({W1}, gen_random_uuid(), {B}, {CB}, {T1}, 'sync'),
			({W2}, gen_random_uuid(), {C}, {CC}, {T2}, 'sync')`,
		`INSERT INTO rate_limit_counters (workspace_id, scope_key, window_start, count) VALUES
			({W1}, {A}::text, now(), 1), ({W1}, {B}::text, now(), 2), ({W1}, '*', now(), 3), ({W2}, {C}::text, now(), 4), ({W2}, '*', now(), 4)`,
		`INSERT INTO signin_failures (key_hash) VALUES (sha256('e:someone@example.com')), (sha256('a:10.0.0.1'))`,
		`INSERT INTO event_subscriptions (workspace_id, id, tenant_id, connection_id, event_type) VALUES
			({W1}, gen_random_uuid(), {A}, {CA}, 'deal.created'), ({W1}, gen_random_uuid(), {B}, {CB}, 'deal.created'),
			({W2}, gen_random_uuid(), {C}, {CC}, 'deal.created')`,
		`INSERT INTO activity_log (workspace_id, id, tenant_id, type, actor_type, message) VALUES
			({W1}, gen_random_uuid(), NULL, 'settings.updated', 'system', 'W1 workspace-level'),
			({W2}, gen_random_uuid(), NULL, 'settings.updated', 'system', 'W2 workspace-level'),
			({W1}, gen_random_uuid(), {A}, 'action.run', 'tenant-token', 'A ran'),
			({W1}, gen_random_uuid(), {B}, 'action.run', 'tenant-token', 'B ran'),
			({W2}, gen_random_uuid(), {C}, 'action.run', 'tenant-token', 'C ran')`,
		`INSERT INTO ai_credit_ledger (workspace_id, id, tenant_id, credits) VALUES
			({W1}, gen_random_uuid(), {A}, 1), ({W1}, gen_random_uuid(), {A}, 2),
			({W1}, gen_random_uuid(), {B}, 3), ({W2}, gen_random_uuid(), {C}, 4)`,
	} {
		if _, err := db.SQL().ExecContext(ctx, f.sql(q)); err != nil {
			t.Fatalf("fixture: %v\n%s", err, q)
		}
	}
	return f
}

// beginner is a pool or one pinned connection.
type beginner interface {
	BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error)
}

// rawScope begins a transaction exactly as store.InScope does: one simple-protocol statement
// that becomes the app role and sets the scope transaction-locally. tenant is a tenant's uuid,
// "*" for workspace-wide, or "" (like workspace) for none. With set false only the role is
// changed and no setting is touched.
func rawScope(t *testing.T, b beginner, workspace, tenant string, set bool) *sqlx.Tx {
	t.Helper()
	tx, err := b.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	stmt := "SET LOCAL ROLE tenantry_app"
	if set {
		stmt += fmt.Sprintf("; SELECT set_config('tenantry.workspace_id', '%s', true); SELECT set_config('tenantry.tenant_id', '%s', true)",
			workspace, tenant)
	}
	if _, err := tx.ExecContext(context.Background(), stmt); err != nil {
		_ = tx.Rollback()
		t.Fatalf("begin scope: %v", err)
	}
	return tx
}

func (f *isoFixture) tenantScope(t *testing.T, b beginner, ws, tenant uuid.UUID) *sqlx.Tx {
	return rawScope(t, b, ws.String(), tenant.String(), true)
}

func (f *isoFixture) wideScope(t *testing.T, b beginner, ws uuid.UUID) *sqlx.Tx {
	return rawScope(t, b, ws.String(), "*", true)
}

// rowKeys returns the sorted keys of the rows `SELECT * FROM table [WHERE where]` returns.
func rowKeys(t *testing.T, q sqlx.QueryerContext, table string, keyCols []string, where string) []string {
	t.Helper()
	query := "SELECT * FROM " + table
	if where != "" {
		query += " WHERE " + where
	}
	rows, err := q.QueryxContext(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		m := map[string]any{}
		if err := rows.MapScan(m); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, k := range keyCols {
			v, ok := m[k]
			if !ok {
				t.Fatalf("%s has no column %s", table, k)
			}
			if b, isBytes := v.([]byte); isBytes {
				if utf8.Valid(b) {
					v = string(b)
				} else {
					v = fmt.Sprintf("%x", b)
				}
			}
			parts = append(parts, fmt.Sprint(v))
		}
		out = append(out, strings.Join(parts, "/"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// snapshot returns every row of table as JSON, as the superuser.
func (f *isoFixture) snapshot(t *testing.T, table string) []string {
	t.Helper()
	var out []string
	if err := f.db.SQL().SelectContext(context.Background(), &out, "SELECT row_to_json(x)::text FROM "+table+" x ORDER BY 1"); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantRLSViolation asserts err is a row-level security WITH CHECK failure.
func wantRLSViolation(t *testing.T, err error, what string) {
	t.Helper()
	if pqCode(err) != "42501" || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("%s: error = %v, want a row-level security violation (42501)", what, err)
	}
}

// wantPermissionDenied asserts err is a missing grant.
func wantPermissionDenied(t *testing.T, err error, what string) {
	t.Helper()
	if pqCode(err) != "42501" || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("%s: error = %v, want permission denied (42501)", what, err)
	}
}

// execInScope runs stmt in a fresh transaction of the given scope and returns rows affected and
// the error; it commits when the statement succeeded, so that a wrongly successful write would
// stick and show in the superuser's snapshot.
func execInScope(t *testing.T, f *isoFixture, ws uuid.UUID, tenant string, stmt string) (int64, error) {
	t.Helper()
	tx := rawScope(t, f.db.SQL(), ws.String(), tenant, true)
	res, err := tx.ExecContext(context.Background(), f.sql(stmt))
	if err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	n, _ := res.RowsAffected()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return n, nil
}

// execRolledBack runs stmt in the given scope and rolls back: for positive controls.
func execRolledBack(t *testing.T, f *isoFixture, ws uuid.UUID, tenant string, stmt string) (int64, error) {
	t.Helper()
	tx := rawScope(t, f.db.SQL(), ws.String(), tenant, true)
	defer tx.Rollback()
	res, err := tx.ExecContext(context.Background(), f.sql(stmt))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// tenantTable describes one table holding tenant rows. Predicates use fixture placeholders and
// are evaluated by the superuser to compute what a scope should see.
type tenantTable struct {
	name       string
	keys       []string
	inA        string // rows tenant A's scope sees
	inW1       string // rows W1's workspace-wide scope sees
	of         string // rows of tenant {X}
	set        string // a harmless SET clause
	move       string // a SET clause that would hand A's rows to someone else
	appendOnly bool   // no UPDATE/DELETE grant at all
	insert     string // an INSERT of a row of tenant {X} in workspace {WS} (integration {I})
	selfInsert bool   // the INSERT with A's own ids succeeds in A's scope (positive control)
}

var tenantTables = []tenantTable{
	{name: "tenants", keys: []string{"id"}, inA: "id = {A}", inW1: "workspace_id = {W1}", of: "id = {X}",
		set: "name = name", move: "workspace_id = {W2}",
		insert: `INSERT INTO tenants (workspace_id, id, internal_id, name) VALUES ({WS}, {X}, 'new-' || gen_random_uuid(), 'New')`},
	{name: "connections", keys: []string{"id"}, inA: "tenant_id = {A}", inW1: "workspace_id = {W1}", of: "tenant_id = {X}",
		set: "name = name", move: "tenant_id = {B}",
		insert:     `INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name) VALUES ({WS}, gen_random_uuid(), {X}, {I}, 'new')`,
		selfInsert: true},
	{name: "elements", keys: []string{"id"}, inA: "tenant_id = {A} OR (tenant_id IS NULL AND workspace_id = {W1})",
		inW1: "workspace_id = {W1}", of: "tenant_id = {X}", set: "name = name", move: "tenant_id = {B}, connection_id = NULL",
		insert:     `INSERT INTO elements (workspace_id, id, tenant_id, kind, key, name) VALUES ({WS}, gen_random_uuid(), {X}, 'flow', 'new', 'New')`,
		selfInsert: true},
	{name: "event_subscriptions", keys: []string{"id"}, inA: "tenant_id = {A}", inW1: "workspace_id = {W1}", of: "tenant_id = {X}",
		set: "event_type = event_type", move: "tenant_id = {B}",
		insert: `INSERT INTO event_subscriptions (workspace_id, id, tenant_id, connection_id, event_type)
			VALUES ({WS}, gen_random_uuid(), {X}, {CA}, 'e-' || gen_random_uuid())`,
		selfInsert: true},
	{name: "flow_runs", keys: []string{"id"}, inA: "tenant_id = {A}", inW1: "workspace_id = {W1}", of: "tenant_id = {X}",
		set: "state = state", move: "tenant_id = {B}",
		insert: `INSERT INTO flow_runs (workspace_id, id, tenant_id, connection_id, flow_id, flow_key)
			VALUES ({WS}, gen_random_uuid(), {X}, {CA}, gen_random_uuid(), 'f')`,
		selfInsert: true},
	{name: "rate_limit_counters", keys: []string{"scope_key", "workspace_id"}, inA: "workspace_id = {W1} AND scope_key = {A}::text",
		inW1: "workspace_id = {W1}", of: "scope_key = {X}::text", set: "count = count", move: "scope_key = {B}::text",
		insert:     `INSERT INTO rate_limit_counters (workspace_id, scope_key, window_start) VALUES ({WS}, {X}::text, now() + random() * interval '1 day')`,
		selfInsert: true},
	{name: "activity_log", keys: []string{"id"}, inA: "tenant_id = {A}", inW1: "workspace_id = {W1}", of: "tenant_id = {X}",
		set: "message = message", appendOnly: true,
		insert:     `INSERT INTO activity_log (workspace_id, id, tenant_id, type, actor_type) VALUES ({WS}, gen_random_uuid(), {X}, 'test', 'system')`,
		selfInsert: true},
	{name: "ai_credit_ledger", keys: []string{"id"}, inA: "tenant_id = {A}", inW1: "workspace_id = {W1}", of: "tenant_id = {X}",
		set: "credits = credits", appendOnly: true,
		insert:     `INSERT INTO ai_credit_ledger (workspace_id, id, tenant_id, credits) VALUES ({WS}, gen_random_uuid(), {X}, 1)`,
		selfInsert: true},
}

// workspaceTables are read by scopes but hold no tenant rows.
var workspaceTables = []struct {
	name      string
	keys      []string
	inA, inW1 string // "" = not checked for that scope
}{
	{"integrations", []string{"id"}, "workspace_id = {W1}", "workspace_id = {W1}"},
	{"universe_elements", []string{"id"}, "true", "true"},
	{"workspaces", []string{"id"}, "id = {W1}", "id = {W1}"},
	{"memberships", []string{"workspace_id", "manager_id"}, "", "workspace_id = {W1}"},
	{"manager_sessions", []string{"token_hash"}, "", "workspace_id = {W1}"},
	{"managers", []string{"id"}, "", "id = {M1}"},
}

// publicTables lists every table in schema public but goose's, from the catalog. Partitions are
// reached through their parent (rlsProblems checks that they cannot be read directly), and the
// weekly activity partitions are mostly empty, so they are not listed.
func publicTables(t *testing.T, q sqlx.QueryerContext) []string {
	t.Helper()
	var out []string
	if err := sqlx.SelectContext(context.Background(), q, &out, `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> 'goose_db_version'
		  AND NOT c.relispartition
		ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIsoFixture(t)
	db := f.db

	// Every table has rows, so that "sees nothing" below means hidden, not empty.
	for _, tbl := range publicTables(t, db.SQL()) {
		var n int
		if err := db.SQL().GetContext(ctx, &n, "SELECT count(*) FROM "+pq.QuoteIdentifier(tbl)); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("fixture: table %s has no rows; add some to newIsoFixture", tbl)
		}
	}

	t.Run("a tenant scope sees only its rows", func(t *testing.T) {
		tx := f.tenantScope(t, db.SQL(), f.w1, f.a)
		defer tx.Rollback()
		check := func(table string, keys []string, pred string) {
			want := rowKeys(t, db.SQL(), table, keys, f.sql(pred))
			got := rowKeys(t, tx, table, keys, "")
			if len(want) == 0 {
				t.Fatalf("%s: the fixture has no rows matching %s", table, pred)
			}
			if !slices.Equal(got, want) {
				t.Errorf("SELECT * FROM %s in A's scope = %v, want %v (%s)", table, got, want, pred)
			}
		}
		for _, tt := range tenantTables {
			check(tt.name, tt.keys, tt.inA)
		}
		for _, tt := range workspaceTables {
			if tt.inA != "" {
				check(tt.name, tt.keys, tt.inA)
			}
		}
		// The elements A sees are its own and W1's templates, nothing of B or W2.
		var kinds []string
		if err := tx.SelectContext(ctx, &kinds, `SELECT name FROM elements ORDER BY name`); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(kinds, []string{"A custom", "W1 template"}) {
			t.Errorf("elements in A's scope = %q", kinds)
		}
	})

	t.Run("a tenant scope cannot update or delete other tenants' rows", func(t *testing.T) {
		for _, tt := range tenantTables {
			before := f.snapshot(t, tt.name)
			for _, target := range []string{"{B}", "{C}"} {
				where := strings.ReplaceAll(tt.of, "{X}", target)
				for _, stmt := range []string{
					"UPDATE " + tt.name + " SET " + tt.set + " WHERE " + where,
					"DELETE FROM " + tt.name + " WHERE " + where,
					"UPDATE " + tt.name + " SET " + tt.set, // no WHERE at all
				} {
					n, err := execInScope(t, f, f.w1, f.a.String(), stmt)
					switch {
					case tt.appendOnly:
						wantPermissionDenied(t, err, stmt)
					case err != nil:
						t.Errorf("%s: %v", stmt, err)
					case strings.HasPrefix(stmt, "UPDATE") && !strings.Contains(stmt, "WHERE"):
						// Only A's own rows can be touched.
						var own int64
						if err := db.SQL().GetContext(ctx, &own, "SELECT count(*) FROM "+tt.name+" WHERE "+
							f.sql(strings.ReplaceAll(tt.of, "{X}", "{A}"))); err != nil {
							t.Fatal(err)
						}
						if n != own {
							t.Errorf("%s in A's scope changed %d rows, want A's %d", stmt, n, own)
						}
					case n != 0:
						t.Errorf("%s in A's scope changed %d rows, want 0", stmt, n)
					}
				}
			}
			if after := f.snapshot(t, tt.name); !slices.Equal(before, after) {
				t.Errorf("%s changed although every write was refused:\nbefore %v\nafter  %v", tt.name, before, after)
			}
			// Positive control: the same statements do work on A's own rows.
			if !tt.appendOnly {
				where := strings.ReplaceAll(tt.of, "{X}", "{A}")
				if n, err := execRolledBack(t, f, f.w1, f.a.String(), "UPDATE "+tt.name+" SET "+tt.set+" WHERE "+where); err != nil || n == 0 {
					t.Errorf("control: A updating its own %s: %d rows, %v", tt.name, n, err)
				}
				if n, err := execRolledBack(t, f, f.w1, f.a.String(), "DELETE FROM "+tt.name+" WHERE "+where); err != nil || n == 0 {
					t.Errorf("control: A deleting its own %s: %d rows, %v", tt.name, n, err)
				}
				// Handing A's rows to B or to W2 fails the policies' WITH CHECK.
				_, err := execRolledBack(t, f, f.w1, f.a.String(), "UPDATE "+tt.name+" SET "+tt.move+" WHERE "+where)
				wantRLSViolation(t, err, "moving A's "+tt.name+" rows ("+tt.move+")")
			}
		}
	})

	t.Run("a tenant scope cannot insert rows of another tenant or workspace", func(t *testing.T) {
		cases := []struct{ name, ws, tenant, integration string }{
			{"B's tenant_id", "{W1}", "{B}", "{I1}"},
			{"W2's workspace_id and C's tenant_id", "{W2}", "{C}", "{I2}"},
			{"W2's workspace_id with A's own tenant_id", "{W2}", "{A}", "{I2}"},
			{"a made-up tenant_id", "{W1}", "gen_random_uuid()", "{I1}"},
		}
		for _, tt := range tenantTables {
			before := f.snapshot(t, tt.name)
			for _, c := range cases {
				stmt := strings.NewReplacer("{WS}", c.ws, "{X}", c.tenant, "{I}", c.integration).Replace(tt.insert)
				_, err := execInScope(t, f, f.w1, f.a.String(), stmt)
				wantRLSViolation(t, err, tt.name+" with "+c.name)
			}
			if after := f.snapshot(t, tt.name); !slices.Equal(before, after) {
				t.Errorf("%s changed although every insert was refused", tt.name)
			}
			if tt.selfInsert {
				stmt := strings.NewReplacer("{WS}", "{W1}", "{X}", "{A}", "{I}", "{I1}").Replace(tt.insert)
				if _, err := execRolledBack(t, f, f.w1, f.a.String(), stmt); err != nil {
					t.Errorf("control: A inserting its own %s row: %v", tt.name, err)
				}
			}
		}
	})

	t.Run("no scope sees nothing", func(t *testing.T) {
		tables := publicTables(t, db.SQL())
		for _, n := range []string{"universe_elements", "workspaces", "managers", "memberships", "manager_sessions"} {
			if !slices.Contains(tables, n) {
				t.Fatalf("table %s missing from %v", n, tables)
			}
		}
		allSettings := []string{"tenantry.workspace_id", "tenantry.tenant_id", "tenantry.lookup_workspace_key",
			"tenantry.lookup_manager_email", "tenantry.manager_id", "tenantry.session_hash"}
		// seesNothing counts every table in tx; a table the app role has no grant on is fine too.
		seesNothing := func(t *testing.T, tx *sqlx.Tx) {
			t.Helper()
			for _, tbl := range tables {
				if _, err := tx.ExecContext(ctx, "SAVEPOINT s"); err != nil {
					t.Fatal(err)
				}
				var n int
				err := tx.GetContext(ctx, &n, "SELECT count(*) FROM "+pq.QuoteIdentifier(tbl))
				switch {
				case pqCode(err) == "42501":
					if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT s"); err != nil {
						t.Fatal(err)
					}
					if slices.Contains([]string{"universe_elements", "workspaces", "managers", "memberships", "manager_sessions", "tenants"}, tbl) {
						t.Errorf("%s: %v (the app role should be able to read it, and see nothing)", tbl, err)
					}
				case err != nil:
					t.Fatalf("%s: %v", tbl, err)
				case n != 0:
					t.Errorf("without a scope, %s shows %d rows", tbl, n)
				}
			}
		}

		t.Run("settings never set", func(t *testing.T) {
			// A new connection has never defined the settings: current_setting(…, true) is NULL.
			// (Once defined, a setting stays defined for the session, even after DISCARD ALL.)
			// Without idle connections the pool has to dial a new one.
			db.SQL().SetMaxIdleConns(0)
			defer db.SQL().SetMaxIdleConns(40) // as store.Open
			conn, err := db.SQL().Connx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tx := rawScope(t, conn, "", "", false)
			defer tx.Rollback()
			var isNull bool
			if err := tx.GetContext(ctx, &isNull, "SELECT current_setting('tenantry.workspace_id', true) IS NULL"); err != nil {
				t.Fatal(err)
			}
			if !isNull {
				t.Error("tenantry.workspace_id is defined on a fresh session")
			}
			seesNothing(t, tx)
		})

		t.Run("every setting explicitly empty", func(t *testing.T) {
			tx := rawScope(t, db.SQL(), "", "", false)
			defer tx.Rollback()
			for _, s := range allSettings {
				if _, err := tx.ExecContext(ctx, "SELECT set_config($1, '', true)", s); err != nil {
					t.Fatal(err)
				}
			}
			seesNothing(t, tx)
		})

		t.Run("settings left empty by an earlier transaction", func(t *testing.T) {
			conn, err := db.SQL().Connx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tx := f.wideScope(t, conn, f.w1)
			for _, s := range allSettings[2:] {
				if _, err := tx.ExecContext(ctx, "SELECT set_config($1, 'x', true)", s); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			tx = rawScope(t, conn, "", "", false)
			defer tx.Rollback()
			for _, s := range allSettings {
				var v sql.NullString
				if err := tx.GetContext(ctx, &v, "SELECT current_setting($1, true)", s); err != nil {
					t.Fatal(err)
				}
				if !v.Valid || v.String != "" {
					t.Errorf("after the scoped transaction ended, %s = %v; want '' (not NULL, not the old value)", s, v)
				}
			}
			seesNothing(t, tx)
		})

		for _, c := range []struct{ name, ws, tenant string }{
			{"workspace-wide without a workspace", "", "*"},
			{"a tenant without its workspace", "", f.a.String()},
		} {
			t.Run(c.name, func(t *testing.T) {
				tx := rawScope(t, db.SQL(), c.ws, c.tenant, true)
				defer tx.Rollback()
				seesNothing(t, tx)
			})
		}

		t.Run("a workspace without a tenant sees no tenant data", func(t *testing.T) {
			// Forgetting the tenant must never widen a request to the whole workspace.
			tx := rawScope(t, db.SQL(), f.w1.String(), "", true)
			defer tx.Rollback()
			for _, tbl := range []string{"tenants", "connections", "elements", "activity_log", "ai_credit_ledger", "integrations", "manager_sessions"} {
				var n int
				if err := tx.GetContext(ctx, &n, "SELECT count(*) FROM "+tbl); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("W1 with tenant '' sees %d rows of %s", n, tbl)
				}
			}
		})
	})

	t.Run("workspace-wide and workspace-level rows", func(t *testing.T) {
		t.Run("W1 workspace-wide sees A and B, never C", func(t *testing.T) {
			tx := f.wideScope(t, db.SQL(), f.w1)
			defer tx.Rollback()
			check := func(table string, keys []string, pred string) {
				want := rowKeys(t, db.SQL(), table, keys, f.sql(pred))
				got := rowKeys(t, tx, table, keys, "")
				if len(want) == 0 {
					t.Fatalf("%s: no fixture rows match %s", table, pred)
				}
				if !slices.Equal(got, want) {
					t.Errorf("SELECT * FROM %s workspace-wide in W1 = %v, want %v (%s)", table, got, want, pred)
				}
			}
			for _, tt := range tenantTables {
				check(tt.name, tt.keys, tt.inW1)
			}
			for _, tt := range workspaceTables {
				check(tt.name, tt.keys, tt.inW1)
			}
			var tenants []uuid.UUID
			if err := tx.SelectContext(ctx, &tenants, "SELECT id FROM tenants ORDER BY id"); err != nil {
				t.Fatal(err)
			}
			if len(tenants) != 2 || !slices.Contains(tenants, f.a) || !slices.Contains(tenants, f.b) || slices.Contains(tenants, f.c) {
				t.Errorf("tenants workspace-wide in W1 = %v, want A %s and B %s", tenants, f.a, f.b)
			}
		})

		t.Run("a tenant scope cannot write workspace-level rows", func(t *testing.T) {
			snapshots := map[string][]string{}
			for _, tbl := range []string{"integrations", "elements", "workspaces", "memberships", "managers"} {
				snapshots[tbl] = f.snapshot(t, tbl)
			}
			zero := []string{
				"UPDATE integrations SET name = 'x'",
				"DELETE FROM integrations",
				"UPDATE elements SET name = 'x' WHERE tenant_id IS NULL",
				"DELETE FROM elements WHERE tenant_id IS NULL",
				"UPDATE workspaces SET name = 'x'",
				"UPDATE memberships SET role = 'support'",
				"DELETE FROM memberships",
				"UPDATE managers SET name = 'x'",
			}
			for _, stmt := range zero {
				n, err := execInScope(t, f, f.w1, f.a.String(), stmt)
				if err != nil || n != 0 {
					t.Errorf("%s in A's scope: %d rows, %v; want 0 rows", stmt, n, err)
				}
			}
			refused := []string{
				"INSERT INTO integrations (workspace_id, id, key, name) VALUES ({W1}, gen_random_uuid(), 'new', 'New')",
				"INSERT INTO elements (workspace_id, id, tenant_id, kind, key, name) VALUES ({W1}, gen_random_uuid(), NULL, 'flow', 'new', 'New')",
				"INSERT INTO workspaces (id, key, name, secret_enc) VALUES ({W1}, 'again', 'Again', '')",
				"INSERT INTO memberships (workspace_id, manager_id, role) VALUES ({W1}, {M2}, 'admin')",
				"INSERT INTO manager_sessions (workspace_id, token_hash, manager_id, expires_at) VALUES ({W1}, '\\x00', {M1}, now() + interval '1 day')",
				"INSERT INTO activity_log (workspace_id, id, tenant_id, type, actor_type) VALUES ({W1}, gen_random_uuid(), NULL, 'x', 'system')",
			}
			for _, stmt := range refused {
				_, err := execInScope(t, f, f.w1, f.a.String(), stmt)
				wantRLSViolation(t, err, stmt)
			}
			_, err := execInScope(t, f, f.w1, f.a.String(), "DELETE FROM workspaces")
			wantPermissionDenied(t, err, "DELETE FROM workspaces")
			for tbl, before := range snapshots {
				if after := f.snapshot(t, tbl); !slices.Equal(before, after) {
					t.Errorf("%s changed through A's scope", tbl)
				}
			}
			// Control: a workspace-wide scope can, and only in its own workspace.
			for stmt, want := range map[string]int64{
				"UPDATE integrations SET name = name":                     1,
				"UPDATE elements SET name = name WHERE tenant_id IS NULL": 1,
				"UPDATE workspaces SET name = name":                       1,
				"UPDATE memberships SET role = role":                      1,
			} {
				if n, err := execRolledBack(t, f, f.w1, "*", stmt); err != nil || n != want {
					t.Errorf("control: %s workspace-wide in W1: %d rows, %v; want %d", stmt, n, err, want)
				}
			}
		})

		t.Run("nobody writes universe elements", func(t *testing.T) {
			before := f.snapshot(t, "universe_elements")
			for _, scope := range []struct{ name, tenant string }{{"tenant A", f.a.String()}, {"W1 workspace-wide", "*"}} {
				for _, stmt := range []string{
					"INSERT INTO universe_elements (id, kind, key, name) VALUES (gen_random_uuid(), 'flow', 'evil', 'Evil')",
					"UPDATE universe_elements SET name = 'Evil'",
					"DELETE FROM universe_elements",
				} {
					_, err := execInScope(t, f, f.w1, scope.tenant, stmt)
					wantPermissionDenied(t, err, scope.name+": "+stmt)
				}
			}
			if after := f.snapshot(t, "universe_elements"); !slices.Equal(before, after) {
				t.Error("universe_elements changed")
			}
		})
	})

	t.Run("a pooled connection reused by A then B leaks nothing", func(t *testing.T) {
		conn, err := db.SQL().Connx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var loginUser string
		if err := conn.GetContext(ctx, &loginUser, "SELECT session_user"); err != nil {
			t.Fatal(err)
		}
		tenantsIn := func(tx *sqlx.Tx) []uuid.UUID {
			var ids []uuid.UUID
			if err := tx.SelectContext(ctx, &ids, "SELECT id FROM tenants ORDER BY id"); err != nil {
				t.Fatal(err)
			}
			return ids
		}
		checkRole := func(when string) {
			var role, cur string
			if err := conn.QueryRowxContext(ctx, "SHOW role").Scan(&role); err != nil {
				t.Fatal(err)
			}
			if err := conn.GetContext(ctx, &cur, "SELECT current_user"); err != nil {
				t.Fatal(err)
			}
			if role != "none" || cur != loginUser {
				t.Errorf("%s: role = %q, current_user = %q; want none and the login user %q", when, role, cur, loginUser)
			}
		}

		tx := f.tenantScope(t, conn, f.w1, f.a)
		if got := tenantsIn(tx); !slices.Equal(got, []uuid.UUID{f.a}) {
			t.Errorf("A sees tenants %v", got)
		}
		var cur string
		if err := tx.GetContext(ctx, &cur, "SELECT current_user"); err != nil || cur != store.AppRole {
			t.Errorf("inside the scope current_user = %q, %v; want %s", cur, err, store.AppRole)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		checkRole("after A's commit")

		tx = f.tenantScope(t, conn, f.w1, f.b)
		if got := tenantsIn(tx); !slices.Equal(got, []uuid.UUID{f.b}) {
			t.Errorf("B, on the connection A used, sees tenants %v", got)
		}
		for _, tbl := range tenantTables {
			keys := rowKeys(t, tx, tbl.name, tbl.keys, "")
			want := rowKeys(t, db.SQL(), tbl.name, tbl.keys, f.sql(strings.ReplaceAll(tbl.inA, "{A}", "{B}")))
			if !slices.Equal(keys, want) {
				t.Errorf("B sees %s %v, want %v", tbl.name, keys, want)
			}
		}
		if err := tx.Rollback(); err != nil { // a rollback resets the scope as well as a commit
			t.Fatal(err)
		}
		checkRole("after B's rollback")

		tx = rawScope(t, conn, "", "", false)
		defer tx.Rollback()
		if got := tenantsIn(tx); len(got) != 0 {
			t.Errorf("no scope, on the connection A and B used, sees tenants %v", got)
		}
		var ws, tn sql.NullString
		if err := tx.QueryRowxContext(ctx, "SELECT current_setting('tenantry.workspace_id', true), current_setting('tenantry.tenant_id', true)").Scan(&ws, &tn); err != nil {
			t.Fatal(err)
		}
		if ws.String != "" || tn.String != "" {
			t.Errorf("settings survived their transaction: workspace %q tenant %q", ws.String, tn.String)
		}
	})

	t.Run("InScope on a single pooled connection leaks nothing", func(t *testing.T) {
		defer db.SQL().SetMaxOpenConns(db.SQL().Stats().MaxOpenConnections)
		db.SQL().SetMaxOpenConns(1)
		pids := map[int]bool{}
		for _, c := range []struct {
			scope tenancy.Scope
			want  uuid.UUID
		}{
			{tenancy.TenantScope(f.w1, f.a), f.a},
			{tenancy.TenantScope(f.w1, f.b), f.b},
			{tenancy.TenantScope(f.w2, f.c), f.c},
		} {
			err := db.InScope(ctx, c.scope, func(tx *store.Tx) error {
				var pid int
				if err := tx.GetContext(ctx, &pid, "SELECT pg_backend_pid()"); err != nil {
					return err
				}
				pids[pid] = true
				page, err := tx.ListTenants(ctx, store.TenantFilter{})
				if err != nil {
					return err
				}
				if len(page.Items) != 1 || page.Items[0].ID != c.want {
					t.Errorf("scope %v lists %d tenants, want only %s", c.scope.TenantID, len(page.Items), c.want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		tx := rawScope(t, db.SQL(), "", "", false)
		defer tx.Rollback()
		var pid, n int
		if err := tx.GetContext(ctx, &pid, "SELECT pg_backend_pid()"); err != nil {
			t.Fatal(err)
		}
		if err := tx.GetContext(ctx, &n, "SELECT count(*) FROM tenants"); err != nil {
			t.Fatal(err)
		}
		pids[pid] = true
		if len(pids) != 1 {
			t.Fatalf("used %d connections, want one", len(pids))
		}
		if n != 0 {
			t.Errorf("after three scoped transactions, no scope sees %d tenants", n)
		}
	})

	t.Run("catalog", func(t *testing.T) {
		var super, bypass, login bool
		if err := db.SQL().QueryRowxContext(ctx, `SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1`,
			store.AppRole).Scan(&super, &bypass, &login); err != nil {
			t.Fatal(err)
		}
		if super || bypass || login {
			t.Errorf("%s: rolsuper=%v rolbypassrls=%v rolcanlogin=%v; want all false", store.AppRole, super, bypass, login)
		}
		var owned []string
		if err := db.SQL().SelectContext(ctx, &owned, `
			SELECT 'relation ' || c.oid::regclass::text FROM pg_class c WHERE c.relowner = $1::regrole
			UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = $1::regrole
			UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE p.proowner = $1::regrole`,
			store.AppRole); err != nil {
			t.Fatal(err)
		}
		if len(owned) != 0 {
			t.Errorf("%s owns %v; it must own nothing (owners bypass grants and can disable RLS)", store.AppRole, owned)
		}
		// The app role is not a member of a role that could lift it (superuser, owner of tables).
		var memberOf []string
		if err := db.SQL().SelectContext(ctx, &memberOf, `SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
			WHERE m.member = $1::regrole`, store.AppRole); err != nil {
			t.Fatal(err)
		}
		if len(memberOf) != 0 {
			t.Errorf("%s is a member of %v", store.AppRole, memberOf)
		}

		if bad := rlsProblems(t, db.SQL()); len(bad) != 0 {
			t.Errorf("tables and views that escape row-level security:\n  %s", strings.Join(bad, "\n  "))
		}

		t.Run("the check catches a table without RLS", func(t *testing.T) {
			tx, err := db.SQL().BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			for _, stmt := range []string{
				`CREATE TABLE zz_no_rls (workspace_id uuid, note text)`,
				`CREATE TABLE zz_not_forced (workspace_id uuid)`,
				`ALTER TABLE zz_not_forced ENABLE ROW LEVEL SECURITY`,
				`CREATE TABLE zz_no_policy (workspace_id uuid)`,
				`ALTER TABLE zz_no_policy ENABLE ROW LEVEL SECURITY`,
				`ALTER TABLE zz_no_policy FORCE ROW LEVEL SECURITY`,
				`GRANT SELECT ON zz_no_policy TO tenantry_app`,
				`CREATE VIEW zz_definer_view AS SELECT * FROM tenants`,
			} {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			bad := strings.Join(rlsProblems(t, tx), "\n")
			for _, name := range []string{"zz_no_rls", "zz_not_forced", "zz_no_policy", "zz_definer_view"} {
				if !strings.Contains(bad, name) {
					t.Errorf("the check does not report %s; it reports:\n%s", name, bad)
				}
			}
		})
	})

	t.Run("the same internalId in two workspaces", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			scope tenancy.Scope
			want  uuid.UUID // uuid.Nil: not found
		}{
			{"W1 workspace-wide", tenancy.SystemScope(f.w1), f.a},
			{"W2 workspace-wide", tenancy.SystemScope(f.w2), f.c},
			{"tenant A", tenancy.TenantScope(f.w1, f.a), f.a},
			{"tenant C", tenancy.TenantScope(f.w2, f.c), f.c},
			{"tenant B", tenancy.TenantScope(f.w1, f.b), uuid.Nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := db.InScope(ctx, c.scope, func(tx *store.Tx) error {
					tn, err := tx.Tenant(ctx, "acme")
					if c.want == uuid.Nil {
						if !errors.Is(err, tenancy.ErrNotFound) {
							t.Errorf(`Tenant("acme") = %v, %v; want ErrNotFound`, tn, err)
						}
						return nil
					}
					if err != nil {
						return err
					}
					if tn.ID != c.want || tn.WorkspaceID != c.scope.WorkspaceID {
						t.Errorf(`Tenant("acme") = %s in %s, want %s in %s`, tn.ID, tn.WorkspaceID, c.want, c.scope.WorkspaceID)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	})

	t.Run("InScope: a tenant finds only itself", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			scope tenancy.Scope
			want  []uuid.UUID
		}{
			{"tenant A", tenancy.TenantScope(f.w1, f.a), []uuid.UUID{f.a}},
			{"tenant B", tenancy.TenantScope(f.w1, f.b), []uuid.UUID{f.b}},
			{"C's id with W1's workspace", tenancy.TenantScope(f.w1, f.c), nil},
			{"A's id with W2's workspace", tenancy.TenantScope(f.w2, f.a), nil},
			{"W1 workspace-wide", tenancy.SystemScope(f.w1), []uuid.UUID{f.a, f.b}},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := db.InScope(ctx, c.scope, func(tx *store.Tx) error {
					page, err := tx.ListTenants(ctx, store.TenantFilter{})
					if err != nil {
						return err
					}
					var got []uuid.UUID
					for _, it := range page.Items {
						got = append(got, it.ID)
					}
					slices.SortFunc(got, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) })
					want := slices.Clone(c.want)
					slices.SortFunc(want, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) })
					if !slices.Equal(got, want) {
						t.Errorf("ListTenants = %v, want %v", got, want)
					}
					for _, other := range []uuid.UUID{f.a, f.b, f.c} {
						if slices.Contains(c.want, other) {
							continue
						}
						for _, sel := range []string{other.String(), strings.ToUpper(other.String())} {
							if tn, err := tx.Tenant(ctx, sel); !errors.Is(err, tenancy.ErrNotFound) {
								t.Errorf("Tenant(%s) = %v, %v; want ErrNotFound", sel, tn, err)
							}
						}
					}
					n, err := tx.CountTenants(ctx)
					if err != nil {
						return err
					}
					if n != len(c.want) {
						t.Errorf("CountTenants = %d, want %d", n, len(c.want))
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	})

	t.Run("InScope without a workspace", func(t *testing.T) {
		for _, scope := range []tenancy.Scope{{}, {TenantID: f.a}, {Actor: tenancy.Actor{Type: tenancy.ActorSystem}}} {
			called := false
			err := db.InScope(ctx, scope, func(tx *store.Tx) error { called = true; return nil })
			if !errors.Is(err, store.ErrNoScope) || called {
				t.Errorf("InScope(%+v) = %v (fn called: %v), want ErrNoScope without calling fn", scope, err, called)
			}
		}
	})
}

// rlsProblems reports every table in schema public (but goose's) that does not both ENABLE and
// FORCE row-level security, every such table with a workspace_id column that the app role can
// read without a policy mentioning workspace_id, and every view that does not run with the
// invoker's rights. It reads the catalog through q, so it sees what q's transaction sees.
func rlsProblems(t *testing.T, q sqlx.QueryerContext) []string {
	t.Helper()
	var out []string
	if err := sqlx.SelectContext(context.Background(), q, &out, `
		SELECT c.relname || ': row-level security not enabled and forced'
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> 'goose_db_version'
		  AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
		UNION ALL
		-- A partition is reached through its parent's policies; read directly it needs its own,
		-- unless the app role cannot read it at all.
		SELECT c.relname || ': has workspace_id but no policy on it'
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> 'goose_db_version'
		  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)
		  AND NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'public' AND p.tablename = c.relname
		                  AND (p.qual LIKE '%workspace_id%' OR p.with_check LIKE '%workspace_id%'))
		  AND (NOT c.relispartition
		       OR has_table_privilege('tenantry_app', c.oid, 'SELECT, INSERT, UPDATE, DELETE'))
		UNION ALL
		SELECT c.relname || ': view without security_invoker'
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm')
		  AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'] OR c.reloptions @> ARRAY['security_invoker=on'], false)
		ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return out
}

// managerScope begins a transaction exactly as store's lookups for a signed-in manager do: the
// app role, and only tenantry.manager_id set (no workspace, no tenant).
func (f *isoFixture) managerScope(t *testing.T, b beginner, manager uuid.UUID) *sqlx.Tx {
	t.Helper()
	tx := rawScope(t, b, "", "", false)
	if _, err := tx.ExecContext(context.Background(), "SELECT set_config('tenantry.manager_id', $1, true)", manager.String()); err != nil {
		_ = tx.Rollback()
		t.Fatalf("manager scope: %v", err)
	}
	return tx
}

// TestIsolationClosedHoles holds one regression per hole closed in the foundation migration,
// each with a positive control showing the legitimate path still works.
func TestIsolationClosedHoles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newIsoFixture(t)
	db := f.db

	t.Run("a workspace-wide scope cannot change a manager's row", func(t *testing.T) {
		// M1 belongs to W1, and W1's workspace-wide scope sees M1: 0 rows below is the update
		// policy refusing, not the row being hidden.
		tx := f.wideScope(t, db.SQL(), f.w1)
		if got := rowKeys(t, tx, "managers", []string{"id"}, f.sql("id = {M1}")); !slices.Equal(got, []string{f.m1.String()}) {
			t.Fatalf("W1 workspace-wide sees managers %v, want M1 %s", got, f.m1)
		}
		_ = tx.Rollback()

		before := f.snapshot(t, "managers")
		for _, stmt := range []string{
			"UPDATE managers SET name = 'x' WHERE id = {M1}",
			"UPDATE managers SET email = 'taken-over@evil.example' WHERE id = {M1}",
			"UPDATE managers SET session_epoch = session_epoch + 1 WHERE id = {M1}",
			"UPDATE managers SET name = 'x'",
		} {
			if n, err := execInScope(t, f, f.w1, "*", stmt); err == nil && n != 0 {
				t.Errorf("%s workspace-wide in W1: %d rows changed, want 0 (or an error)", stmt, n)
			}
		}
		if after := f.snapshot(t, "managers"); !slices.Equal(before, after) {
			t.Error("managers changed through W1's workspace-wide scope")
		}

		// Control: the manager themself can, and only their own row.
		mtx := f.managerScope(t, db.SQL(), f.m1)
		defer mtx.Rollback()
		for stmt, want := range map[string]int64{
			"UPDATE managers SET name = 'x' WHERE id = {M1}": 1,
			"UPDATE managers SET name = 'x' WHERE id = {M2}": 0,
		} {
			res, err := mtx.ExecContext(ctx, f.sql(stmt))
			if err != nil {
				t.Fatalf("control: %s as M1: %v", stmt, err)
			}
			if n, _ := res.RowsAffected(); n != want {
				t.Errorf("control: %s as M1: %d rows, want %d", stmt, n, want)
			}
		}
	})

	t.Run("no workspace scope reads password hashes", func(t *testing.T) {
		tx := rawScope(t, db.SQL(), f.w1.String(), "*", true)
		defer tx.Rollback()
		var hashes int
		if err := tx.GetContext(ctx, &hashes, f.sql("SELECT count(*) FROM manager_passwords WHERE manager_id IN ({M1}, {M2})")); err != nil {
			t.Fatal(err)
		}
		if hashes != 0 {
			t.Errorf("workspace-wide scope reads %d password hashes", hashes)
		}
		// Control: the manager's own lookup reads theirs.
		own := f.managerScope(t, db.SQL(), f.m1)
		defer own.Rollback()
		if err := own.GetContext(ctx, &hashes, f.sql("SELECT count(*) FROM manager_passwords WHERE manager_id = {M1}")); err != nil {
			t.Fatal(err)
		}
		if hashes != 1 {
			t.Errorf("manager reads %d of their password hashes, want 1", hashes)
		}
	})

	t.Run("only a workspace-wide scope sees managers and memberships", func(t *testing.T) {
		tables := []struct {
			name string
			keys []string
			inW1 string
		}{
			{"managers", []string{"id"}, "id = {M1}"},
			{"memberships", []string{"workspace_id", "manager_id"}, "workspace_id = {W1}"},
			{"manager_sessions", []string{"token_hash"}, "workspace_id = {W1}"},
		}
		for _, sc := range []struct{ name, tenant string }{
			{"tenant A", f.a.String()},
			{"tenant B", f.b.String()},
			{"W1 without a tenant", ""},
		} {
			tx := rawScope(t, db.SQL(), f.w1.String(), sc.tenant, true)
			for _, tbl := range tables {
				if got := rowKeys(t, tx, tbl.name, tbl.keys, ""); len(got) != 0 {
					t.Errorf("%s sees %s %v, want none", sc.name, tbl.name, got)
				}
			}
			var hashes int
			if err := tx.GetContext(ctx, &hashes, f.sql("SELECT count(*) FROM manager_passwords WHERE manager_id IN ({M1}, {M2})")); err != nil {
				t.Fatal(err)
			}
			if hashes != 0 {
				t.Errorf("%s reads %d password hashes", sc.name, hashes)
			}
			_ = tx.Rollback()
		}

		// Control: W1's workspace-wide scope sees W1's, and nothing of W2.
		tx := f.wideScope(t, db.SQL(), f.w1)
		defer tx.Rollback()
		for _, tbl := range tables {
			want := rowKeys(t, db.SQL(), tbl.name, tbl.keys, f.sql(tbl.inW1))
			if len(want) == 0 {
				t.Fatalf("%s: no fixture rows match %s", tbl.name, tbl.inW1)
			}
			if got := rowKeys(t, tx, tbl.name, tbl.keys, ""); !slices.Equal(got, want) {
				t.Errorf("control: W1 workspace-wide sees %s %v, want %v", tbl.name, got, want)
			}
		}
	})

	t.Run("a tenant's element cannot point at another tenant's connection or element", func(t *testing.T) {
		// Foreign-key checks bypass row-level security: only the shape of the keys stops A from
		// naming B's rows (and then having them cascade-delete A's, or reading them by join).
		insert := func(conn, parent string) string {
			return fmt.Sprintf(`INSERT INTO elements (workspace_id, id, tenant_id, connection_id, parent_id, kind, key, name)
				VALUES ({W1}, gen_random_uuid(), {A}, %s, %s, 'action', 'probe', 'probe')`, conn, parent)
		}
		before := f.snapshot(t, "elements")
		for _, c := range []struct {
			name, tenant, stmt string
		}{
			{"A inserting with B's connection", f.a.String(), insert("{CB}", "NULL")},
			{"A inserting with B's element as parent", f.a.String(), insert("NULL", "{EB}")},
			{"A inserting with its own connection and B's element as parent", f.a.String(), insert("{CA}", "{EB}")},
			{"A inserting with B's connection and a W1 template as parent", f.a.String(), insert("{CB}", "{T1}")},
			{"A inserting with W2's connection of C", f.a.String(), insert("{CC}", "NULL")},
			{"A inserting with W2's template as parent", f.a.String(), insert("NULL", "{T2}")},
			{"A moving its element to B's connection", f.a.String(), "UPDATE elements SET connection_id = {CB} WHERE id = {EA}"},
			{"A re-parenting its element under B's", f.a.String(), "UPDATE elements SET parent_id = {EB} WHERE id = {EA}"},
			{"W1 workspace-wide inserting A's element with B's connection", "*", insert("{CB}", "NULL")},
			{"W1 workspace-wide inserting A's element under B's", "*", insert("NULL", "{EB}")},
		} {
			_, err := execInScope(t, f, f.w1, c.tenant, c.stmt)
			if code := pqCode(err); code != "23503" {
				t.Errorf("%s: error = %v (SQLSTATE %q), want a foreign key violation (23503)", c.name, err, code)
			}
		}
		if after := f.snapshot(t, "elements"); !slices.Equal(before, after) {
			t.Error("elements changed although every write was refused")
		}

		// Control: A customizes a W1 template, and ties an element to its own connection.
		for name, stmt := range map[string]string{
			"a W1 template as parent":              insert("NULL", "{T1}"),
			"its own connection":                   insert("{CA}", "NULL"),
			"its own connection and a W1 template": insert("{CA}", "{T1}"),
			"no connection and no parent":          insert("NULL", "NULL"),
		} {
			if n, err := execRolledBack(t, f, f.w1, f.a.String(), stmt); err != nil || n != 1 {
				t.Errorf("control: A inserting an element with %s: %d rows, %v; want 1", name, n, err)
			}
		}
	})

	t.Run("a workspace-wide scope ends sessions but never creates one", func(t *testing.T) {
		newSession := func(hash, manager string) string {
			return fmt.Sprintf(`INSERT INTO manager_sessions (workspace_id, token_hash, manager_id, expires_at)
				VALUES ({W1}, '%s', %s, now() + interval '1 day')`, hash, manager)
		}
		before := f.snapshot(t, "manager_sessions")
		for _, stmt := range []string{
			newSession(`\x01`, "{M1}"), // a member of W1
			newSession(`\x02`, "{M2}"), // a manager of W2 only
		} {
			_, err := execInScope(t, f, f.w1, "*", stmt)
			wantRLSViolation(t, err, "W1 workspace-wide: "+stmt)
		}
		_, err := execInScope(t, f, f.w1, "*", "UPDATE manager_sessions SET expires_at = now() + interval '10 years'")
		wantPermissionDenied(t, err, "W1 workspace-wide: UPDATE manager_sessions")
		if after := f.snapshot(t, "manager_sessions"); !slices.Equal(before, after) {
			t.Error("manager_sessions changed through W1's workspace-wide scope")
		}

		// Control: the workspace ends its own sessions (role removal), and only those.
		for stmt, want := range map[string]int64{
			"DELETE FROM manager_sessions WHERE manager_id = {M1}": 1,
			"DELETE FROM manager_sessions":                         1,
			"DELETE FROM manager_sessions WHERE manager_id = {M2}": 0,
		} {
			if n, err := execRolledBack(t, f, f.w1, "*", stmt); err != nil || n != want {
				t.Errorf("control: %s workspace-wide in W1: %d rows, %v; want %d", stmt, n, err, want)
			}
		}

		// Control: a manager creates their own session, never another manager's.
		tx := f.managerScope(t, db.SQL(), f.m1)
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, f.sql(newSession(`\x03`, "{M1}"))); err != nil {
			t.Errorf("control: M1 creating its own session: %v", err)
		}
		_, err = tx.ExecContext(ctx, f.sql(newSession(`\x04`, "{M2}")))
		wantRLSViolation(t, err, "M1 creating a session for M2")
	})
}

// The search role bypasses RLS, so it must be contained: nobody logs in as it, the app role is
// not a member of it, it can read only the columns the search needs, and it owns nothing but the
// search function.
func TestSearchRoleIsContained(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	var login, member bool
	if err := db.SQL().QueryRowxContext(ctx, `SELECT rolcanlogin, pg_has_role($1, 'tenantry_search', 'MEMBER')
		FROM pg_roles WHERE rolname = 'tenantry_search'`, store.AppRole).Scan(&login, &member); err != nil {
		t.Fatal(err)
	}
	if login || member {
		t.Fatalf("tenantry_search: canlogin=%v, app role member=%v; want both false", login, member)
	}
	var cols []string
	if err := db.SQL().SelectContext(ctx, &cols, `SELECT table_name || '.' || column_name FROM information_schema.column_privileges
		WHERE grantee = 'tenantry_search' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	want := []string{"activity_log.actor_id", "activity_log.actor_type", "activity_log.connection_id", "activity_log.created_at",
		"activity_log.element_id", "activity_log.id", "activity_log.integration_id", "activity_log.message_tsv",
		"activity_log.status", "activity_log.tenant_id", "activity_log.type", "activity_log.workspace_id",
		"tenants.archived_at", "tenants.created_at", "tenants.id", "tenants.internal_id",
		"tenants.is_test", "tenants.last_active_at", "tenants.name", "tenants.workspace_id"}
	if strings.Join(cols, ",") != strings.Join(want, ",") {
		t.Fatalf("tenantry_search may read %v, want only %v", cols, want)
	}
	var owned []string
	if err := db.SQL().SelectContext(ctx, &owned, `SELECT proname FROM pg_proc WHERE proowner = 'tenantry_search'::regrole
		UNION ALL SELECT relname FROM pg_class WHERE relowner = 'tenantry_search'::regrole`); err != nil {
		t.Fatal(err)
	}
	slices.Sort(owned)
	if strings.Join(owned, ",") != "count_tenants_matching,search_activity_page,search_tenant_page,tenant_ids_matching" {
		t.Fatalf("tenantry_search owns %v, want only the four search functions", owned)
	}
}

// The retention role bypasses RLS too: nobody logs in as it, the app role is not a member, it
// reads only workspace settings, deletes only activity entries, and owns only its two functions.
func TestMaintenanceRoleIsContained(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	var login, member bool
	if err := db.SQL().QueryRowxContext(ctx, `SELECT rolcanlogin, pg_has_role($1, 'tenantry_maint', 'MEMBER')
		FROM pg_roles WHERE rolname = 'tenantry_maint'`, store.AppRole).Scan(&login, &member); err != nil {
		t.Fatal(err)
	}
	if login || member {
		t.Fatalf("tenantry_maint: canlogin=%v, app role member=%v; want both false", login, member)
	}
	var grants []string
	if err := db.SQL().SelectContext(ctx, &grants, `SELECT table_name || ':' || privilege_type FROM information_schema.table_privileges
		WHERE grantee = 'tenantry_maint'
		UNION SELECT table_name || '.' || column_name || ':' || privilege_type FROM information_schema.column_privileges
		WHERE grantee = 'tenantry_maint' AND table_name NOT IN ('activity_log', 'rate_limit_counters', 'signin_failures') ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	want := "activity_log:DELETE,activity_log:SELECT,ai_credit_ledger.created_at:SELECT,ai_credit_ledger.credits:SELECT," +
		"ai_credit_ledger.workspace_id:SELECT,flow_runs.attempts:SELECT,flow_runs.attempts:UPDATE,flow_runs.connection_id:SELECT,flow_runs.created_at:SELECT," +
		"flow_runs.heartbeat_at:SELECT,flow_runs.heartbeat_at:UPDATE,flow_runs.id:SELECT,flow_runs.started_at:SELECT,flow_runs.started_at:UPDATE," +
		"flow_runs.state:SELECT,flow_runs.state:UPDATE,flow_runs.workspace_id:SELECT,rate_limit_counters:DELETE," +
		"rate_limit_counters:INSERT,rate_limit_counters:SELECT,rate_limit_counters:UPDATE,signin_failures:DELETE,signin_failures:INSERT," +
		"signin_failures:SELECT,workspaces.id:SELECT,workspaces.settings:SELECT"
	if strings.Join(grants, ",") != want {
		t.Fatalf("tenantry_maint may %v, want only %s", grants, want)
	}
	var owned []string
	if err := db.SQL().SelectContext(ctx, &owned, `SELECT proname FROM pg_proc WHERE proowner = 'tenantry_maint'::regrole
		UNION ALL SELECT relname FROM pg_class WHERE relowner = 'tenantry_maint'::regrole ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(owned, ",") != "claim_flow_run,count_workspace_request,delete_expired_activity,delete_old_rate_limit_counters,delete_old_signin_failures,"+
		"longest_activity_retention,signin_failed,signin_succeeded,signin_wait,workspace_credit_usage" {
		t.Fatalf("tenantry_maint owns %v", owned)
	}
}
