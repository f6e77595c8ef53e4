package store_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

func adminScope(ws uuid.UUID) tenancy.Scope {
	return tenancy.WorkspaceScope(ws, tenancy.Actor{Type: tenancy.ActorManager, ID: uuid.NewString(), Role: tenancy.RoleAdmin})
}

// credentialsOf decrypts a tenant's credentials through the store (recording a read, which the
// tests that count entries account for).
func credentialsOf(t *testing.T, db *store.DB, ws, id uuid.UUID) any {
	t.Helper()
	var v any
	err := db.InScope(context.Background(), tenancy.SystemScope(ws), func(tx *store.Tx) error {
		var err error
		v, err = tx.TenantCredentials(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatalf("read credentials: %v", err)
	}
	return v
}

func activityCount(t *testing.T, db *store.DB, tenant uuid.UUID, typ string) int {
	t.Helper()
	var n int
	if err := db.SQL().GetContext(context.Background(), &n,
		`SELECT count(*) FROM activity_log WHERE tenant_id = $1 AND type = $2`, tenant, typ); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTenantCredentialPerKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	ws := mustWorkspace(t, db, "creds")
	a := mustTenant(t, db, ws.ID, "a", "A")
	scope := adminScope(ws.ID)

	set := func(key, value string) (*tenancy.Tenant, error) {
		var out *tenancy.Tenant
		err := db.InScope(ctx, scope, func(tx *store.Tx) error {
			var err error
			out, err = tx.SetTenantCredential(ctx, a.ID, key, value)
			return err
		})
		return out, err
	}
	clear := func(key string) (*tenancy.Tenant, error) {
		var out *tenancy.Tenant
		err := db.InScope(ctx, scope, func(tx *store.Tx) error {
			var err error
			out, err = tx.ClearTenantCredential(ctx, a.ID, key)
			return err
		})
		return out, err
	}

	got, err := set("apiKey", "s3cret-one")
	if err != nil {
		t.Fatalf("set apiKey: %v", err)
	}
	if _, ok := got.CredentialsMeta["apiKey"]; !ok || len(got.CredentialsMeta) != 1 {
		t.Fatalf("meta after set = %v, want apiKey only", got.CredentialsMeta)
	}
	var enc []byte
	if err := db.SQL().GetContext(ctx, &enc, `SELECT credentials_enc FROM tenants WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if len(enc) == 0 || bytes.Contains(enc, []byte("s3cret-one")) {
		t.Fatalf("credentials_enc is empty or holds the value in clear: %q", enc)
	}

	// A key set long ago keeps its time when another key is added or replaced.
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := db.SQL().ExecContext(ctx, `UPDATE tenants SET credentials_meta = jsonb_build_object('apiKey', $2::text) WHERE id = $1`,
		a.ID, old.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	got, err = set("webhookSecret", "whsec-two")
	if err != nil {
		t.Fatalf("set webhookSecret: %v", err)
	}
	if at := got.CredentialsMeta["apiKey"]; !at.Equal(old) {
		t.Errorf("apiKey set-at after adding another key = %v, want kept at %v", at, old)
	}
	if at := got.CredentialsMeta["webhookSecret"]; time.Since(at) > time.Minute {
		t.Errorf("webhookSecret set-at = %v, want now", at)
	}
	got, err = set("apiKey", "s3cret-three")
	if err != nil {
		t.Fatalf("replace apiKey: %v", err)
	}
	if at := got.CredentialsMeta["apiKey"]; at.Equal(old) || time.Since(at) > time.Minute {
		t.Errorf("apiKey set-at after replacing = %v, want now", at)
	}
	if n := activityCount(t, db, a.ID, "credentials.read"); n != 0 {
		t.Errorf("%d credentials.read entries from per-key changes, want 0 (nothing was shown)", n)
	}
	if n := activityCount(t, db, a.ID, "credentials.updated"); n != 3 {
		t.Errorf("%d credentials.updated entries after three changes, want 3", n)
	}
	var leaked int
	if err := db.SQL().GetContext(ctx, &leaked, `SELECT count(*) FROM activity_log WHERE tenant_id = $1
		AND (message || details::text) ~ '(s3cret|whsec)'`, a.ID); err != nil {
		t.Fatal(err)
	}
	if leaked != 0 {
		t.Errorf("%d activity entries hold a credential value", leaked)
	}
	var keys []string
	if err := db.SQL().SelectContext(ctx, &keys, `SELECT details->'keys'->>0 FROM activity_log
		WHERE tenant_id = $1 AND type = 'credentials.updated' ORDER BY created_at, id`, a.ID); err != nil {
		t.Fatal(err)
	}
	if want := []string{"apiKey", "webhookSecret", "apiKey"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("recorded keys %v, want %v (only the key changed)", keys, want)
	}
	want := map[string]any{"apiKey": "s3cret-three", "webhookSecret": "whsec-two"}
	if v := credentialsOf(t, db, ws.ID, a.ID); !reflect.DeepEqual(v, want) {
		t.Errorf("credentials = %v, want %v", v, want)
	}

	// Clearing a key keeps the others; clearing a key that is not set writes nothing.
	got, err = clear("webhookSecret")
	if err != nil {
		t.Fatalf("clear: %v", err)
	}
	if _, ok := got.CredentialsMeta["webhookSecret"]; ok || len(got.CredentialsMeta) != 1 {
		t.Errorf("meta after clear = %v, want apiKey only", got.CredentialsMeta)
	}
	if v := credentialsOf(t, db, ws.ID, a.ID); !reflect.DeepEqual(v, map[string]any{"apiKey": "s3cret-three"}) {
		t.Errorf("credentials after clear = %v", v)
	}
	before := activityCount(t, db, a.ID, "credentials.updated")
	if _, err := clear("neverSet"); err != nil {
		t.Fatalf("clear a key that is not set: %v", err)
	}
	if n := activityCount(t, db, a.ID, "credentials.updated"); n != before {
		t.Errorf("clearing a key that is not set recorded an entry")
	}
	// Clearing the last key leaves no ciphertext at all.
	if _, err := clear("apiKey"); err != nil {
		t.Fatal(err)
	}
	var encNull bool
	var meta string
	if err := db.SQL().QueryRowxContext(ctx, `SELECT credentials_enc IS NULL, credentials_meta::text FROM tenants WHERE id = $1`, a.ID).
		Scan(&encNull, &meta); err != nil {
		t.Fatal(err)
	}
	if !encNull || meta != "{}" {
		t.Errorf("after clearing every key: credentials_enc NULL = %v, meta %s; want NULL and {}", encNull, meta)
	}
}

func TestTenantCredentialRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	ws := mustWorkspace(t, db, "credsno")
	other := mustWorkspace(t, db, "credsother")
	a := mustTenant(t, db, ws.ID, "a", "A")
	b := mustTenant(t, db, ws.ID, "b", "B")

	for _, c := range []struct{ name, key, value, path string }{
		{"empty key", "", "v", "key"},
		{"empty value", "k", "", "value"},
		{"two lines", "a\nb", "v", "key"},
		{"padded key", " k", "v", "key"},
		{"long key", strings.Repeat("k", store.MaxCredentialKey+1), "v", "key"},
	} {
		err := db.InScope(ctx, adminScope(ws.ID), func(tx *store.Tx) error {
			_, err := tx.SetTenantCredential(ctx, a.ID, c.key, c.value)
			return err
		})
		v, ok := tenancy.AsValidation(err)
		if !ok || v.For(c.path) == "" {
			t.Errorf("%s: err = %v, want a validation error at %s", c.name, err, c.path)
		}
	}

	// Support managers change nothing; another tenant's or workspace's scope finds nothing.
	support := tenancy.WorkspaceScope(ws.ID, tenancy.Actor{Type: tenancy.ActorManager, Role: tenancy.RoleSupport})
	cases := []struct {
		name  string
		scope tenancy.Scope
		want  error
	}{
		{"support manager", support, tenancy.ErrForbidden},
		{"tenant B's token", tenancy.TenantScope(ws.ID, b.ID), tenancy.ErrNotFound},
		{"another workspace", adminScope(other.ID), tenancy.ErrNotFound},
	}
	for _, c := range cases {
		for op, fn := range map[string]func(tx *store.Tx) error{
			"set":   func(tx *store.Tx) error { _, err := tx.SetTenantCredential(ctx, a.ID, "k", "v"); return err },
			"clear": func(tx *store.Tx) error { _, err := tx.ClearTenantCredential(ctx, a.ID, "k"); return err },
		} {
			if err := db.InScope(ctx, c.scope, fn); !errors.Is(err, c.want) {
				t.Errorf("%s %s: err = %v, want %v", c.name, op, err, c.want)
			}
		}
	}
	var encNull bool
	if err := db.SQL().GetContext(ctx, &encNull, `SELECT credentials_enc IS NULL FROM tenants WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if !encNull {
		t.Error("a refused change stored credentials")
	}

	// Credentials that are one value (set whole through the API) have no keys to set; clearing
	// "value" clears them.
	err := db.InScope(ctx, adminScope(ws.ID), func(tx *store.Tx) error {
		_, err := tx.SetTenantCredentials(ctx, a.ID, "one-token")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.InScope(ctx, adminScope(ws.ID), func(tx *store.Tx) error {
		_, err := tx.SetTenantCredential(ctx, a.ID, "k", "v")
		return err
	})
	if v, ok := tenancy.AsValidation(err); !ok || v.For("key") == "" {
		t.Errorf("set a key on a single-value credential: err = %v, want a validation error at key", err)
	}
	if v := credentialsOf(t, db, ws.ID, a.ID); v != "one-token" {
		t.Errorf("credentials = %v, want the single value untouched", v)
	}
	var out *tenancy.Tenant
	err = db.InScope(ctx, adminScope(ws.ID), func(tx *store.Tx) error {
		var err error
		out, err = tx.ClearTenantCredential(ctx, a.ID, "value")
		return err
	})
	if err != nil || len(out.CredentialsMeta) != 0 {
		t.Errorf("clear value: err %v, meta %v; want cleared", err, out.CredentialsMeta)
	}
	if v := credentialsOf(t, db, ws.ID, a.ID); v != nil {
		t.Errorf("credentials after clearing value = %v, want none", v)
	}
}

func TestTenantCreditUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	ws := mustWorkspace(t, db, "credits")
	other := mustWorkspace(t, db, "creditsother")
	a := mustTenant(t, db, ws.ID, "a", "A")
	b := mustTenant(t, db, ws.ID, "b", "B")
	for _, e := range []struct {
		tenant  uuid.UUID
		credits float64
		ago     string
	}{
		{a.ID, 5, "1 minute"}, {a.ID, 2.5, "10 days"}, {a.ID, 100, "31 days"}, {b.ID, 7, "1 day"},
	} {
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO ai_credit_ledger (workspace_id, id, tenant_id, credits, created_at)
			VALUES ($1, $2, $3, $4, now() - $5::interval)`, ws.ID, uuid.New(), e.tenant, e.credits, e.ago); err != nil {
			t.Fatal(err)
		}
	}
	usage := func(scope tenancy.Scope, id uuid.UUID) float64 {
		t.Helper()
		var used float64
		if err := db.InScope(ctx, scope, func(tx *store.Tx) error {
			var err error
			used, err = tx.TenantCreditUsage(ctx, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return used
	}
	if got := usage(adminScope(ws.ID), a.ID); got != 7.5 {
		t.Errorf("A's usage = %v, want 7.5 (the 31-day-old entry is outside the window)", got)
	}
	if got := usage(adminScope(ws.ID), b.ID); got != 7 {
		t.Errorf("B's usage = %v, want 7", got)
	}
	if got := usage(tenancy.TenantScope(ws.ID, b.ID), a.ID); got != 0 {
		t.Errorf("A's usage seen from B's scope = %v, want 0", got)
	}
	if got := usage(adminScope(other.ID), a.ID); got != 0 {
		t.Errorf("A's usage seen from another workspace = %v, want 0", got)
	}
}

func TestCountActiveConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	ws := mustWorkspace(t, db, "conns")
	a := mustTenant(t, db, ws.ID, "a", "A")
	b := mustTenant(t, db, ws.ID, "b", "B")
	integ := uuid.New()
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO integrations (workspace_id, id, key, name) VALUES ($1, $2, 'x', 'X')`, ws.ID, integ); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tenant uuid.UUID
		extra  string
	}{
		{a.ID, ""}, {a.ID, ""}, {a.ID, "deactivated_at = now()"}, {a.ID, "archived_at = now()"}, {b.ID, ""},
	} {
		id := uuid.New()
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name)
			VALUES ($1, $2, $3, $4, 'c')`, ws.ID, id, c.tenant, integ); err != nil {
			t.Fatal(err)
		}
		if c.extra != "" {
			if _, err := db.SQL().ExecContext(ctx, `UPDATE connections SET `+c.extra+` WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(scope tenancy.Scope, id uuid.UUID) int {
		t.Helper()
		var n int
		if err := db.InScope(ctx, scope, func(tx *store.Tx) error {
			var err error
			n, err = tx.CountActiveConnections(ctx, id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(adminScope(ws.ID), a.ID); n != 2 {
		t.Errorf("A's active connections = %d, want 2 (deactivated and archived ones excluded)", n)
	}
	if n := count(tenancy.TenantScope(ws.ID, b.ID), a.ID); n != 0 {
		t.Errorf("A's connections seen from B's scope = %d, want 0", n)
	}
	// The count is what archiving deactivates.
	if err := db.InScope(ctx, adminScope(ws.ID), func(tx *store.Tx) error {
		_, err := tx.ArchiveTenant(ctx, a.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var deactivated int
	if err := db.SQL().GetContext(ctx, &deactivated, `SELECT count(*) FROM connections WHERE tenant_id = $1 AND deactivated_by_tenant_archive`, a.ID); err != nil {
		t.Fatal(err)
	}
	if deactivated != 2 {
		t.Errorf("archiving deactivated %d connections, the count said 2", deactivated)
	}
	if n := count(adminScope(ws.ID), a.ID); n != 0 {
		t.Errorf("A's active connections after archiving = %d, want 0", n)
	}
}
