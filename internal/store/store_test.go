package store_test

// These tests are in package store_test (the store directory's external test package) because
// they use internal/testdb, which imports store: an in-package test importing it would be an
// import cycle.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// --- helpers shared with isolation_test.go ----------------------------------------------------

// newDB returns a fresh migrated database; the tests read past row-level security as the
// connecting user, so it must be a superuser (or have BYPASSRLS).
func newDB(t *testing.T) *store.DB {
	t.Helper()
	db := testdb.New(t)
	var ok bool
	if err := db.SQL().GetContext(context.Background(), &ok,
		`SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("the test database user is neither superuser nor BYPASSRLS: cannot check rows past row-level security")
	}
	return db
}

// pqCode returns err's SQLSTATE, or "".
func pqCode(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	return ""
}

func mustWorkspace(t *testing.T, db *store.DB, key string) *tenancy.Workspace {
	t.Helper()
	w, _, err := db.CreateWorkspace(context.Background(), key, "Workspace "+key)
	if err != nil {
		t.Fatalf("create workspace %s: %v", key, err)
	}
	return w
}

func mustTenant(t *testing.T, db *store.DB, ws uuid.UUID, internalID, name string) *tenancy.Tenant {
	t.Helper()
	var tn *tenancy.Tenant
	err := db.InScope(context.Background(), tenancy.SystemScope(ws), func(tx *store.Tx) error {
		var err error
		tn, err = tx.CreateTenant(context.Background(), store.NewTenant{InternalID: internalID, Name: name})
		return err
	})
	if err != nil {
		t.Fatalf("create tenant %s: %v", internalID, err)
	}
	return tn
}

func mustManager(t *testing.T, db *store.DB, email string) *tenancy.Manager {
	t.Helper()
	m, err := db.CreateManager(context.Background(), email, "Manager "+email, "hash-of-"+email)
	if err != nil {
		t.Fatalf("create manager %s: %v", email, err)
	}
	return m
}

func setMembership(db *store.DB, ws, manager uuid.UUID, role tenancy.Role) error {
	return db.InScope(context.Background(), tenancy.SystemScope(ws), func(tx *store.Tx) error {
		return tx.SetMembership(context.Background(), manager, role)
	})
}

func removeMembership(db *store.DB, ws, manager uuid.UUID) error {
	return db.InScope(context.Background(), tenancy.SystemScope(ws), func(tx *store.Tx) error {
		return tx.RemoveMembership(context.Background(), manager)
	})
}

// --- workspaces -------------------------------------------------------------------------------

func TestCreateWorkspace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)

	w, secret, err := db.CreateWorkspace(ctx, "acme-co", "Acme Co")
	if err != nil {
		t.Fatal(err)
	}
	if w.ID == uuid.Nil || w.Key != "acme-co" || w.Name != "Acme Co" || w.CreatedAt.IsZero() {
		t.Errorf("workspace = %+v", w)
	}
	if len(secret) < 32 {
		t.Fatalf("secret %q is too short", secret)
	}

	// Stored encrypted: the raw column does not contain the secret, and opens to it with the
	// workspace-bound associated data.
	var enc []byte
	if err := db.SQL().GetContext(ctx, &enc, `SELECT secret_enc FROM workspaces WHERE id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte(secret)) {
		t.Fatal("secret_enc contains the secret in clear")
	}
	plain, err := db.Keys().Open(enc, []byte("workspace:"+w.ID.String()+":secret"))
	if err != nil || string(plain) != secret {
		t.Fatalf("secret_enc opens to %q, %v; want the returned secret", plain, err)
	}

	// A second workspace gets a different secret.
	_, secret2, err := db.CreateWorkspace(ctx, "other-co", "Other")
	if err != nil {
		t.Fatal(err)
	}
	if secret2 == secret {
		t.Error("two workspaces got the same secret")
	}

	tests := []struct {
		name, key string
		wantErr   func(error) bool
	}{
		{"duplicate key", "acme-co", func(err error) bool { return errors.Is(err, tenancy.ErrConflict) }},
		{"one character", "a", isKeyValidation},
		{"upper case", "Acme", isKeyValidation},
		{"leading dash", "-acme", isKeyValidation},
		{"space", "ac me", isKeyValidation},
		{"empty", "", isKeyValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := db.CreateWorkspace(ctx, tt.key, "x")
			if !tt.wantErr(err) {
				t.Fatalf("CreateWorkspace(%q) error = %v", tt.key, err)
			}
		})
	}
	var n int
	if err := db.SQL().GetContext(ctx, &n, `SELECT count(*) FROM workspaces`); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d workspaces after the failed creates, want 2", n)
	}
}

func isKeyValidation(err error) bool {
	v, ok := tenancy.AsValidation(err)
	return ok && v.For("key") != ""
}

func TestLookupWorkspaceByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	w, secret, err := db.CreateWorkspace(ctx, "lookup-me", "Lookup")
	if err != nil {
		t.Fatal(err)
	}
	mustWorkspace(t, db, "someone-else")

	wa, err := db.LookupWorkspaceByKey(ctx, "lookup-me")
	if err != nil {
		t.Fatal(err)
	}
	if wa.Workspace.ID != w.ID || string(wa.Secret) != secret || wa.PrevSecret != nil {
		t.Errorf("lookup = workspace %s secret %q prev %q; want %s %q nil", wa.Workspace.ID, wa.Secret, wa.PrevSecret, w.ID, secret)
	}

	for _, key := range []string{"unknown", "", "LOOKUP-ME", "lookup-me "} {
		if _, err := db.LookupWorkspaceByKey(ctx, key); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("LookupWorkspaceByKey(%q) error = %v, want ErrNotFound", key, err)
		}
	}
}

func TestRotateWorkspaceSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	tests := []struct {
		name     string
		overlap  time.Duration
		wantPrev bool
	}{
		{"no overlap", 0, false},
		{"one hour overlap", time.Hour, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("rotate-%d", i)
			w, old, err := db.CreateWorkspace(ctx, key, "Rotate")
			if err != nil {
				t.Fatal(err)
			}
			var fresh string
			err = db.InScope(ctx, tenancy.SystemScope(w.ID), func(tx *store.Tx) error {
				var err error
				fresh, err = tx.RotateWorkspaceSecret(ctx, tt.overlap)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if fresh == "" || fresh == old {
				t.Fatalf("rotated secret %q (old %q)", fresh, old)
			}
			wa, err := db.LookupWorkspaceByKey(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if string(wa.Secret) != fresh {
				t.Errorf("current secret = %q, want the rotated one %q", wa.Secret, fresh)
			}
			if tt.wantPrev {
				if string(wa.PrevSecret) != old {
					t.Errorf("previous secret = %q, want the old one %q during the overlap", wa.PrevSecret, old)
				}
				if wa.Workspace.PrevSecretExpiresAt == nil || time.Until(*wa.Workspace.PrevSecretExpiresAt) < 50*time.Minute {
					t.Errorf("previous secret expires at %v, want about an hour from now", wa.Workspace.PrevSecretExpiresAt)
				}
			} else if wa.PrevSecret != nil {
				t.Errorf("previous secret = %q, want none without overlap", wa.PrevSecret)
			}
		})
	}

	t.Run("tenant scope cannot rotate", func(t *testing.T) {
		w, old, err := db.CreateWorkspace(ctx, "rotate-tenant", "Rotate")
		if err != nil {
			t.Fatal(err)
		}
		tn := mustTenant(t, db, w.ID, "t1", "T1")
		err = db.InScope(ctx, tenancy.TenantScope(w.ID, tn.ID), func(tx *store.Tx) error {
			_, err := tx.RotateWorkspaceSecret(ctx, time.Hour)
			return err
		})
		if !errors.Is(err, tenancy.ErrForbidden) {
			t.Fatalf("rotate in a tenant scope: error = %v, want ErrForbidden", err)
		}
		wa, err := db.LookupWorkspaceByKey(ctx, "rotate-tenant")
		if err != nil {
			t.Fatal(err)
		}
		if string(wa.Secret) != old {
			t.Error("the secret changed although the rotation was refused")
		}
	})
}

// --- managers, memberships, sessions ----------------------------------------------------------

func TestCreateAndLookupManager(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	m, err := db.CreateManager(ctx, "  Alice@Example.COM ", "Alice", "the-hash")
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "alice@example.com" {
		t.Errorf("stored email = %q, want it lower-cased and trimmed", m.Email)
	}
	mustManager(t, db, "bob@example.com")

	for _, email := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", " Alice@example.com\t"} {
		got, _, err := db.LookupManagerByEmail(ctx, email)
		if err != nil {
			t.Errorf("LookupManagerByEmail(%q): %v", email, err)
			continue
		}
		if got.ID != m.ID || got.PasswordHash != "the-hash" || got.Name != "Alice" {
			t.Errorf("LookupManagerByEmail(%q) = %+v, want %s", email, got, m.ID)
		}
	}
	if _, _, err := db.LookupManagerByEmail(ctx, "nobody@example.com"); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("unknown email: error = %v, want ErrNotFound", err)
	}
	if _, err := db.CreateManager(ctx, "ALICE@example.com", "Alice 2", "h"); !errors.Is(err, tenancy.ErrConflict) {
		t.Errorf("duplicate email in another case: error = %v, want ErrConflict", err)
	}
}

func TestLookupManagerByEmailReturnsMemberships(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	w1, w2 := mustWorkspace(t, db, "mine-one"), mustWorkspace(t, db, "mine-two")
	w3 := mustWorkspace(t, db, "not-mine")
	m := mustManager(t, db, "carol@example.com")
	other := mustManager(t, db, "dave@example.com")
	if err := setMembership(db, w1.ID, m.ID, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := setMembership(db, w2.ID, other.ID, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := setMembership(db, w2.ID, m.ID, tenancy.RoleSupport); err != nil {
		t.Fatal(err)
	}
	if err := setMembership(db, w3.ID, other.ID, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	_, ms, err := db.LookupManagerByEmail(ctx, "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]tenancy.Role{}
	for _, x := range ms {
		if x.ManagerID != m.ID {
			t.Errorf("membership of another manager: %+v", x)
		}
		got[x.WorkspaceKey] = x.Role
	}
	want := map[string]tenancy.Role{"mine-one": tenancy.RoleAdmin, "mine-two": tenancy.RoleSupport}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("memberships at sign-in = %v, want %v", got, want)
	}
}

func TestMemberships(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	w := mustWorkspace(t, db, "members")
	m1, m2 := mustManager(t, db, "m1@example.com"), mustManager(t, db, "m2@example.com")

	set := func(m *tenancy.Manager, r tenancy.Role) func() error {
		return func() error { return setMembership(db, w.ID, m.ID, r) }
	}
	remove := func(m *tenancy.Manager) func() error { return func() error { return removeMembership(db, w.ID, m.ID) } }
	isErr := func(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
	ok := func(err error) bool { return err == nil }

	// Each step runs in order; after it the members are exactly want.
	steps := []struct {
		name    string
		do      func() error
		wantErr func(error) bool
		want    string
	}{
		{"first admin", set(m1, tenancy.RoleAdmin), ok, "m1@example.com=admin"},
		{"demote the only admin", set(m1, tenancy.RoleSupport), isErr(tenancy.ErrLastAdmin), "m1@example.com=admin"},
		{"remove the only admin", remove(m1), isErr(tenancy.ErrLastAdmin), "m1@example.com=admin"},
		{"invalid role", set(m2, "owner"), func(err error) bool { v, ok := tenancy.AsValidation(err); return ok && v.For("role") != "" }, "m1@example.com=admin"},
		{"second admin", set(m2, tenancy.RoleAdmin), ok, "m1@example.com=admin m2@example.com=admin"},
		{"demote one of two admins", set(m1, tenancy.RoleSupport), ok, "m1@example.com=support m2@example.com=admin"},
		{"demote the remaining admin", set(m2, tenancy.RoleSupport), isErr(tenancy.ErrLastAdmin), "m1@example.com=support m2@example.com=admin"},
		{"remove the remaining admin", remove(m2), isErr(tenancy.ErrLastAdmin), "m1@example.com=support m2@example.com=admin"},
		{"remove a support manager", remove(m1), ok, "m2@example.com=admin"},
		{"remove again", remove(m1), isErr(tenancy.ErrNotFound), "m2@example.com=admin"},
		{"re-add as support", set(m1, tenancy.RoleSupport), ok, "m1@example.com=support m2@example.com=admin"},
	}
	for _, st := range steps {
		err := st.do()
		if !st.wantErr(err) {
			t.Fatalf("%s: unexpected error %v", st.name, err)
		}
		var members []store.Member
		if err := db.InScope(ctx, tenancy.SystemScope(w.ID), func(tx *store.Tx) error {
			var err error
			members, err = tx.ListMembers(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var got string
		for i, m := range members {
			if i > 0 {
				got += " "
			}
			got += m.Email + "=" + string(m.Role)
		}
		if got != st.want {
			t.Fatalf("%s: members = %q, want %q", st.name, got, st.want)
		}
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	w := mustWorkspace(t, db, "sessions")
	other := mustWorkspace(t, db, "elsewhere")
	m1, m2 := mustManager(t, db, "s1@example.com"), mustManager(t, db, "s2@example.com")
	outsider := mustManager(t, db, "outsider@example.com")
	for _, m := range []*tenancy.Manager{m1, m2} {
		if err := setMembership(db, w.ID, m.ID, tenancy.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	if err := setMembership(db, other.ID, outsider.ID, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	lookup := func(token string) (*store.Session, error) {
		return db.LookupSession(ctx, store.HashSessionToken(token))
	}
	sessionRows := func(token string) int {
		var n int
		if err := db.SQL().GetContext(ctx, &n, `SELECT count(*) FROM manager_sessions WHERE token_hash = $1`, store.HashSessionToken(token)); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("create, look up, delete", func(t *testing.T) {
		if err := db.CreateSession(ctx, m1.ID, w.ID, "token-1"); err != nil {
			t.Fatal(err)
		}
		s, err := lookup("token-1")
		if err != nil {
			t.Fatal(err)
		}
		if s.ManagerID != m1.ID || s.WorkspaceID != w.ID || s.Email != "s1@example.com" || s.Role != tenancy.RoleAdmin ||
			s.WorkspaceKey != "sessions" || s.WorkspaceName != w.Name {
			t.Errorf("session = %+v", s)
		}
		if sc := s.Scope(); sc.WorkspaceID != w.ID || !sc.WorkspaceWide() || sc.Actor.ID != m1.ID.String() || sc.Actor.Role != tenancy.RoleAdmin {
			t.Errorf("session scope = %+v", sc)
		}
		var stored []byte
		if err := db.SQL().GetContext(ctx, &stored, `SELECT token_hash FROM manager_sessions WHERE manager_id = $1`, m1.ID); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, []byte("token-1")) || !bytes.Equal(stored, store.HashSessionToken("token-1")) {
			t.Errorf("stored token_hash = %x, want the SHA-256 of the token only", stored)
		}
		if err := db.DeleteSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := lookup("token-1"); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("after sign-out: error = %v, want ErrNotFound", err)
		}
	})

	t.Run("unknown token", func(t *testing.T) {
		if _, err := lookup("never-issued"); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
	})

	t.Run("expired", func(t *testing.T) {
		if err := db.CreateSession(ctx, m1.ID, w.ID, "token-expired"); err != nil {
			t.Fatal(err)
		}
		if _, err := lookup("token-expired"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().ExecContext(ctx, `UPDATE manager_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1`,
			store.HashSessionToken("token-expired")); err != nil {
			t.Fatal(err)
		}
		if _, err := lookup("token-expired"); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("expired session: error = %v, want ErrNotFound", err)
		}
	})

	t.Run("membership removed by the store", func(t *testing.T) {
		if err := db.CreateSession(ctx, m2.ID, w.ID, "token-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := lookup("token-2"); err != nil {
			t.Fatal(err)
		}
		if err := removeMembership(db, w.ID, m2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := lookup("token-2"); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("session of a removed member: error = %v, want ErrNotFound", err)
		}
		if n := sessionRows("token-2"); n != 0 {
			t.Errorf("RemoveMembership left %d session rows", n)
		}
	})

	t.Run("membership gone, session row left", func(t *testing.T) {
		if err := db.CreateSession(ctx, m1.ID, w.ID, "token-3"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().ExecContext(ctx, `DELETE FROM memberships WHERE workspace_id = $1 AND manager_id = $2`, w.ID, m1.ID); err != nil {
			t.Fatal(err)
		}
		if n := sessionRows("token-3"); n != 1 {
			t.Fatalf("%d session rows, want the one left behind", n)
		}
		if _, err := lookup("token-3"); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("session without membership: error = %v, want ErrNotFound", err)
		}
	})

	t.Run("no session in a workspace the manager does not belong to", func(t *testing.T) {
		if err := db.CreateSession(ctx, outsider.ID, w.ID, "token-4"); !errors.Is(err, tenancy.ErrForbidden) {
			t.Errorf("CreateSession for a non-member: error = %v, want ErrForbidden", err)
		}
		if n := sessionRows("token-4"); n != 0 {
			t.Errorf("%d session rows for a non-member", n)
		}
		if _, err := lookup("token-4"); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("error = %v, want ErrNotFound", err)
		}
	})
}

// --- tenants ----------------------------------------------------------------------------------

func TestCreateTenant(t *testing.T) {
	t.Parallel()
	ctx := tenancy.WithRequestID(context.Background(), "req-create-tenant")
	db := newDB(t)
	w := mustWorkspace(t, db, "tenants")
	w2 := mustWorkspace(t, db, "tenants-two")

	var tn *tenancy.Tenant
	err := db.InScope(ctx, tenancy.SystemScope(w.ID), func(tx *store.Tx) error {
		var err error
		tn, err = tx.CreateTenant(ctx, store.NewTenant{InternalID: "acme", Name: "Acme", Fields: map[string]any{"plan": "pro"}, IsTest: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tn.ID == uuid.Nil || tn.WorkspaceID != w.ID || tn.InternalID != "acme" || tn.Name != "Acme" || !tn.IsTest || tn.Fields["plan"] != "pro" {
		t.Errorf("tenant = %+v", tn)
	}

	t.Run("records activity in the same transaction", func(t *testing.T) {
		var rows []struct {
			Type      string `db:"type"`
			ActorType string `db:"actor_type"`
			RequestID string `db:"request_id"`
			Same      bool   `db:"same_tx"`
		}
		if err := db.SQL().SelectContext(ctx, &rows, `SELECT a.type, a.actor_type, a.request_id,
				a.xmin::text = (SELECT t.xmin::text FROM tenants t WHERE t.id = a.tenant_id) AS same_tx
			FROM activity_log a WHERE a.workspace_id = $1 AND a.tenant_id = $2`, w.ID, tn.ID); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%d activity rows for the new tenant, want 1", len(rows))
		}
		r := rows[0]
		if r.Type != "tenant.created" || r.ActorType != "system" || r.RequestID != "req-create-tenant" || !r.Same {
			t.Errorf("activity = %+v, want tenant.created by system with the request id, written by the same transaction", r)
		}
	})

	t.Run("rolls back with its activity", func(t *testing.T) {
		boom := errors.New("boom")
		err := db.InScope(ctx, tenancy.SystemScope(w.ID), func(tx *store.Tx) error {
			if _, err := tx.CreateTenant(ctx, store.NewTenant{InternalID: "doomed", Name: "Doomed"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("error = %v", err)
		}
		var tenants, activity int
		if err := db.SQL().GetContext(ctx, &tenants, `SELECT count(*) FROM tenants WHERE internal_id = 'doomed'`); err != nil {
			t.Fatal(err)
		}
		if err := db.SQL().GetContext(ctx, &activity, `SELECT count(*) FROM activity_log WHERE message LIKE '%doomed%'`); err != nil {
			t.Fatal(err)
		}
		if tenants != 0 || activity != 0 {
			t.Errorf("after rollback: %d tenants, %d activity rows; want 0, 0", tenants, activity)
		}
	})

	tests := []struct {
		name    string
		scope   tenancy.Scope
		in      store.NewTenant
		wantErr func(error) bool
	}{
		{"duplicate internalId", tenancy.SystemScope(w.ID), store.NewTenant{InternalID: "acme", Name: "Again"},
			func(err error) bool {
				var v *tenancy.ValidationError
				return errors.As(err, &v) && v.Conflict && v.For("internalId") != ""
			}},
		{"same internalId in another workspace", tenancy.SystemScope(w2.ID), store.NewTenant{InternalID: "acme", Name: "Other Acme"},
			func(err error) bool { return err == nil }},
		{"tenant scope", tenancy.TenantScope(w.ID, tn.ID), store.NewTenant{InternalID: "sneaky", Name: "Sneaky"},
			func(err error) bool { return errors.Is(err, tenancy.ErrForbidden) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := db.InScope(ctx, tt.scope, func(tx *store.Tx) error {
				_, err := tx.CreateTenant(ctx, tt.in)
				return err
			})
			if !tt.wantErr(err) {
				t.Fatalf("error = %v", err)
			}
		})
	}
	var n int
	if err := db.SQL().GetContext(ctx, &n, `SELECT count(*) FROM tenants WHERE workspace_id = $1`, w.ID); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d tenants in the workspace, want 1", n)
	}
	if err := db.SQL().GetContext(ctx, &n, `SELECT count(*) FROM activity_log WHERE type = 'tenant.created'`); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d tenant.created activity rows, want 2 (one per created tenant)", n)
	}
}

func listTenants(t *testing.T, db *store.DB, scope tenancy.Scope, f store.TenantFilter) (*store.TenantPage, error) {
	t.Helper()
	var page *store.TenantPage
	err := db.InScope(context.Background(), scope, func(tx *store.Tx) error {
		var err error
		page, err = tx.ListTenants(context.Background(), f)
		return err
	})
	return page, err
}

func TestListTenantsPaging(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	w := mustWorkspace(t, db, "paging")
	var want []uuid.UUID
	for i := range 5 {
		want = append(want, mustTenant(t, db, w.ID, fmt.Sprintf("t%d", i), fmt.Sprintf("Tenant %d", i)).ID)
	}
	other := mustWorkspace(t, db, "paging-other")
	mustTenant(t, db, other.ID, "elsewhere", "Elsewhere")
	scope := tenancy.SystemScope(w.ID)

	tests := []struct {
		limit     int
		wantPages []int
	}{
		{2, []int{2, 2, 1}},
		{1, []int{1, 1, 1, 1, 1}},
		{5, []int{5}},
		{10, []int{5}},
		{0, []int{5}}, // default limit
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit %d", tt.limit), func(t *testing.T) {
			var got []uuid.UUID
			var sizes []int
			cursor := ""
			for range 10 {
				page, err := listTenants(t, db, scope, store.TenantFilter{Limit: tt.limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(page.Items))
				for _, it := range page.Items {
					got = append(got, it.ID)
				}
				if page.Cursor == "" {
					break
				}
				cursor = page.Cursor
			}
			if !slices.Equal(sizes, tt.wantPages) {
				t.Errorf("page sizes = %v, want %v", sizes, tt.wantPages)
			}
			if !slices.Equal(got, want) {
				t.Errorf("tenants = %v, want %v in creation order", got, want)
			}
		})
	}

	t.Run(`cursor "0" is the first page`, func(t *testing.T) {
		a, err := listTenants(t, db, scope, store.TenantFilter{Limit: 2, Cursor: "0"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := listTenants(t, db, scope, store.TenantFilter{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Items) != 2 || a.Items[0].ID != want[0] || a.Items[1].ID != b.Items[1].ID || a.Cursor != b.Cursor || a.Cursor == "" {
			t.Errorf(`cursor "0" page = %v (cursor %q), first page = %v (cursor %q)`, a.Items, a.Cursor, b.Items, b.Cursor)
		}
	})

	for _, f := range []store.TenantFilter{{Cursor: "not a cursor!"}, {Cursor: "bm90IGpzb24"}, {Limit: 1001}} {
		if _, err := listTenants(t, db, scope, f); !isValidation(err) {
			t.Errorf("ListTenants(%+v) error = %v, want a ValidationError", f, err)
		}
	}
}

func isValidation(err error) bool { _, ok := tenancy.AsValidation(err); return ok }

func TestListTenantsSearch(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	w := mustWorkspace(t, db, "search")
	for _, tn := range []struct{ id, name string }{
		{"p1", "100% pure"},
		{"p2", "100 pure"},
		{"ab1", "a_b"},
		{"ab2", "axb"},
		{"bs1", `back\slash`},
		{"bs2", "backslash"},
		{"needle-internal", "Plain"},
	} {
		mustTenant(t, db, w.ID, tn.id, tn.name)
	}
	tests := []struct {
		search string
		want   []string
	}{
		{"%", []string{"100% pure"}},
		{"  %  ", []string{"100% pure"}},
		{"0%", []string{"100% pure"}},
		{"_", []string{"a_b"}},
		{"A_B", []string{"a_b"}},
		{`\`, []string{`back\slash`}},
		{"100", []string{"100% pure", "100 pure"}},
		{"PURE", []string{"100% pure", "100 pure"}},
		{"needle", []string{"Plain"}},
		{"zzz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.search, func(t *testing.T) {
			page, err := listTenants(t, db, tenancy.SystemScope(w.ID), store.TenantFilter{Search: tt.search})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range page.Items {
				got = append(got, it.Name)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Search %q = %q, want %q", tt.search, got, want)
			}
		})
	}
}
