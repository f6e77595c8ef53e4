package testdb

import (
	"context"
	"database/sql"
	"testing"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

func TestNewGivesPrivateMigratedEmptyDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db1, db2 := New(t), New(t)

	var name1, name2 string
	if err := db1.SQL().GetContext(ctx, &name1, "SELECT current_database()"); err != nil {
		t.Fatal(err)
	}
	if err := db2.SQL().GetContext(ctx, &name2, "SELECT current_database()"); err != nil {
		t.Fatal(err)
	}
	if name1 == name2 {
		t.Fatalf("both New calls returned database %q", name1)
	}

	for _, db := range []interface {
		MigrationStatus(context.Context) (int64, int64, error)
	}{db1, db2} {
		cur, latest, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if latest == 0 || cur != latest {
			t.Errorf("migration status = %d of %d, want fully migrated", cur, latest)
		}
	}

	// Every table is empty (the template carries the schema, never data) but the universe
	// catalog, which migrating loads.
	var tables []string
	if err := db1.SQL().SelectContext(ctx, &tables, `SELECT c.relname FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND c.relname <> 'goose_db_version'
		  AND NOT c.relispartition ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 5 {
		t.Fatalf("only %d tables in a migrated database: %v", len(tables), tables)
	}
	for _, tbl := range tables {
		var n int
		if err := db1.SQL().GetContext(ctx, &n, `SELECT count(*) FROM "`+tbl+`"`); err != nil {
			t.Fatal(err)
		}
		if tbl == "universe_elements" {
			if n == 0 {
				t.Errorf("the universe catalog was not loaded")
			}
			continue
		}
		if n != 0 {
			t.Errorf("table %s of a fresh database has %d rows", tbl, n)
		}
	}

	// A write to one is invisible in the other.
	w, _, err := db1.CreateWorkspace(ctx, "only-in-one", "Only in one")
	if err != nil {
		t.Fatal(err)
	}
	var n1, n2 int
	if err := db1.SQL().GetContext(ctx, &n1, "SELECT count(*) FROM workspaces WHERE id = $1", w.ID); err != nil {
		t.Fatal(err)
	}
	if err := db2.SQL().GetContext(ctx, &n2, "SELECT count(*) FROM workspaces"); err != nil {
		t.Fatal(err)
	}
	if n1 != 1 || n2 != 0 {
		t.Errorf("workspace rows: %d in the first database (want 1), %d in the second (want 0)", n1, n2)
	}
	// And the store works through the app role there.
	if err := db1.InScope(ctx, tenancy.SystemScope(w.ID), func(tx *store.Tx) error {
		_, err := tx.Workspace(ctx)
		return err
	}); err != nil {
		t.Fatalf("scoped read in a test database: %v", err)
	}
}

func TestURLIsMigratedAndDroppedAfterTheTest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var name string
	t.Run("inner", func(t *testing.T) {
		u := URL(t)
		db, err := sql.Open("postgres", u)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'tenants'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("URL's database has no tenants table")
		}
	})
	if name == "" {
		t.Fatal("inner test did not run")
	}
	srv, err := getServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := srv.admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
	if err := srv.admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", srv.template).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		t.Errorf("template %s is missing", srv.template)
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct{ base, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/x?sslmode=disable"},
		{"postgresql://u:p@h/db", "postgresql://u:p@h/x"},
		{"postgres://u@h:1", "postgres://u@h:1/x"},
		{"host=h user=u dbname=db", "host=h user=u dbname=db dbname='x'"},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.base, "x")
		if err != nil || got != tt.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}
}

func TestMigrationsHashIsStable(t *testing.T) {
	t.Parallel()
	a, err := migrationsHash()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := migrationsHash()
	if a != b || len(a) != 16 {
		t.Errorf("migrationsHash = %q then %q", a, b)
	}
}
