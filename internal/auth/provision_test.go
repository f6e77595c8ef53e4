package auth

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// provEnv is a workspace and a provisioner with a settable clock.
type provEnv struct {
	t     *testing.T
	db    *store.DB
	wa    *store.WorkspaceAuth
	p     *Provisioner
	clock *fakeClock
}

func newProvEnv(t *testing.T) *provEnv {
	t.Helper()
	db := testdb.New(t)
	ctx := context.Background()
	var ok bool
	if err := db.SQL().GetContext(ctx, &ok, `SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("the test database user is neither superuser nor BYPASSRLS: cannot check rows past row-level security")
	}
	ws, _, err := db.CreateWorkspace(ctx, "prov", "Provisioning")
	if err != nil {
		t.Fatal(err)
	}
	wa, err := db.LookupWorkspaceByKey(ctx, ws.Key)
	if err != nil {
		t.Fatal(err)
	}
	e := &provEnv{t: t, db: db, wa: wa, clock: newFakeClock()}
	e.p = e.provisioner()
	return e
}

// provisioner returns a new provisioner on e's clock: nothing applied is remembered.
func (e *provEnv) provisioner() *Provisioner {
	p := NewProvisioner(e.db)
	p.now = e.clock.now
	return p
}

func ptr[T any](v T) *T { return &v }

func (e *provEnv) scope(p *Provisioner, c *Claims) (tenancy.Scope, error) {
	e.t.Helper()
	return p.Scope(context.Background(), c, e.wa)
}

func (e *provEnv) mustScope(p *Provisioner, c *Claims) tenancy.Scope {
	e.t.Helper()
	s, err := e.scope(p, c)
	if err != nil {
		e.t.Fatalf("scope for %q: %v", c.Tenant(), err)
	}
	return s
}

// dbTenant is a tenant row as the superuser sees it, with the row version (xmin) that any
// UPDATE changes.
type dbTenant struct {
	ID           uuid.UUID
	Name         string
	Fields       map[string]any
	XMin         string
	UpdatedAt    time.Time
	LastActiveAt *time.Time
	Activity     int // activity_log rows about the tenant
}

func (e *provEnv) tenant(internalID string) dbTenant {
	e.t.Helper()
	var d dbTenant
	var fields []byte
	err := e.db.SQL().QueryRowContext(context.Background(), `SELECT id, name, fields, xmin::text, updated_at, last_active_at,
			(SELECT count(*) FROM activity_log a WHERE a.workspace_id = t.workspace_id AND a.tenant_id = t.id)
		FROM tenants t WHERE workspace_id = $1 AND internal_id = $2`, e.wa.Workspace.ID, internalID).
		Scan(&d.ID, &d.Name, &fields, &d.XMin, &d.UpdatedAt, &d.LastActiveAt, &d.Activity)
	if err != nil {
		e.t.Fatalf("read tenant %s: %v", internalID, err)
	}
	if err := json.Unmarshal(fields, &d.Fields); err != nil {
		e.t.Fatal(err)
	}
	return d
}

func TestProvisionCreates(t *testing.T) {
	e := newProvEnv(t)
	cases := []struct {
		name     string
		claims   *Claims
		wantName string
		fields   map[string]any
	}{
		{"name from the claim", &Claims{TenantKey: "acme", Name: ptr("Acme Inc."), Fields: map[string]any{"plan": "pro"}}, "Acme Inc.", map[string]any{"plan": "pro"}},
		{"no name: the internalId", &Claims{TenantKey: "nameless"}, "nameless", map[string]any{}},
		{"legacy id claim", &Claims{LegacyID: "legacy-1", Name: ptr("Legacy")}, "Legacy", map[string]any{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := e.mustScope(e.p, c.claims)
			got := e.tenant(c.claims.Tenant())
			if s.WorkspaceID != e.wa.Workspace.ID || s.TenantID != got.ID || s.WorkspaceWide() {
				t.Errorf("scope %+v, want tenant %s in workspace %s", s, got.ID, e.wa.Workspace.ID)
			}
			if got.Name != c.wantName || !reflect.DeepEqual(got.Fields, c.fields) {
				t.Errorf("tenant name %q fields %v, want %q %v", got.Name, got.Fields, c.wantName, c.fields)
			}
			if got.LastActiveAt == nil {
				t.Error("a tenant created from a token has no lastActiveAt")
			}
			if got.Activity != 1 {
				t.Errorf("%d activity rows, want 1 (tenant.created)", got.Activity)
			}
		})
	}

	t.Run("workspace token provisions nothing", func(t *testing.T) {
		s := e.mustScope(e.p, &Claims{IsAdmin: true})
		if !s.WorkspaceWide() || s.WorkspaceID != e.wa.Workspace.ID || s.Actor.Type != tenancy.ActorWorkspaceToken {
			t.Errorf("workspace token scope %+v", s)
		}
	})
}

func TestProvisionUpdates(t *testing.T) {
	e := newProvEnv(t)
	e.mustScope(e.p, &Claims{TenantKey: "t", Name: ptr("One"), Fields: map[string]any{"a": 1, "b": 2}})

	// Changed claims are applied at once, even by a provisioner that has the old ones cached.
	e.mustScope(e.p, &Claims{TenantKey: "t", Name: ptr("One"), Fields: map[string]any{"b": 3, "c": 4}})
	if got := e.tenant("t"); !reflect.DeepEqual(got.Fields, map[string]any{"a": 1.0, "b": 3.0, "c": 4.0}) {
		t.Errorf("fields after {b:3,c:4} over {a:1,b:2} = %v, want {a:1,b:3,c:4}", got.Fields)
	}
	e.mustScope(e.p, &Claims{TenantKey: "t", Name: ptr("Two"), Fields: map[string]any{"b": 3, "c": 4}})
	got := e.tenant("t")
	if got.Name != "Two" {
		t.Errorf("name %q after a token named Two", got.Name)
	}
	// A token without name or fields changes neither.
	e.mustScope(e.p, &Claims{TenantKey: "t"})
	if after := e.tenant("t"); after.Name != "Two" || !reflect.DeepEqual(after.Fields, got.Fields) {
		t.Errorf("a token without name/fields changed the tenant: %q %v", after.Name, after.Fields)
	}
}

// TestProvisionUnchangedNoWrite: a token whose claims match what is stored writes nothing, not
// even through a provisioner that has never seen it; changing a claim does write (so the check
// can fail).
func TestProvisionUnchangedNoWrite(t *testing.T) {
	e := newProvEnv(t)
	claims := func(name string) *Claims {
		return &Claims{TenantKey: "quiet", Name: ptr(name), Fields: map[string]any{"plan": "pro", "seats": 3}}
	}
	e.mustScope(e.p, claims("Quiet"))
	before := e.tenant("quiet")

	for i, p := range []*Provisioner{e.p, e.provisioner(), e.provisioner()} {
		e.clock.advance(2 * time.Minute) // past the provisioner's memory: it reads the row again
		e.mustScope(p, claims("Quiet"))
		if after := e.tenant("quiet"); !sameRow(before, after) {
			t.Fatalf("round %d: unchanged claims wrote: before %+v, after %+v", i, before, after)
		}
	}

	e.mustScope(e.provisioner(), claims("Loud"))
	after := e.tenant("quiet")
	if after.XMin == before.XMin || after.Name != "Loud" || after.Activity != before.Activity+1 {
		t.Errorf("a changed name: xmin %s→%s, name %q, activity %d→%d; want a new row version, Loud, one more entry",
			before.XMin, after.XMin, after.Name, before.Activity, after.Activity)
	}
}

func sameRow(a, b dbTenant) bool {
	return a.XMin == b.XMin && a.UpdatedAt.Equal(b.UpdatedAt) && a.Activity == b.Activity &&
		reflect.DeepEqual(a.LastActiveAt, b.LastActiveAt)
}

// TestProvisionLastActive: lastActiveAt advances when it is a minute old, and not more often.
func TestProvisionLastActive(t *testing.T) {
	e := newProvEnv(t)
	c := &Claims{TenantKey: "active"}
	e.mustScope(e.p, c)
	if _, err := e.db.SQL().Exec(`UPDATE tenants SET last_active_at = now() - interval '2 minutes' WHERE internal_id = 'active'`); err != nil {
		t.Fatal(err)
	}
	stale := e.tenant("active")
	e.mustScope(e.provisioner(), c)
	touched := e.tenant("active")
	if touched.LastActiveAt == nil || !touched.LastActiveAt.After(stale.LastActiveAt.Add(time.Minute)) {
		t.Fatalf("lastActiveAt %v after a token on a tenant last active at %v: did not advance", touched.LastActiveAt, stale.LastActiveAt)
	}
	e.mustScope(e.provisioner(), c)
	if again := e.tenant("active"); !sameRow(touched, again) {
		t.Errorf("a second token within the minute wrote: %+v → %+v", touched, again)
	}
}

// TestProvisionArchived: an archived tenant's token fails with ErrTenantArchived and changes
// nothing; the provisioner's memory hides an archive made elsewhere for at most its minute.
func TestProvisionArchived(t *testing.T) {
	e := newProvEnv(t)
	c := &Claims{TenantKey: "gone", Name: ptr("Gone")}
	e.mustScope(e.p, c)
	if _, err := e.db.SQL().Exec(`UPDATE tenants SET archived_at = now() WHERE internal_id = 'gone'`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.scope(e.provisioner(), c); !errors.Is(err, tenancy.ErrTenantArchived) {
		t.Fatalf("archived tenant, fresh provisioner: err %v, want ErrTenantArchived", err)
	}
	before := e.tenant("gone")
	if _, err := e.scope(e.provisioner(), &Claims{TenantKey: "gone", Name: ptr("Renamed"), Fields: map[string]any{"x": 1}}); !errors.Is(err, tenancy.ErrTenantArchived) {
		t.Fatalf("archived tenant, changed claims: err %v, want ErrTenantArchived", err)
	}
	if after := e.tenant("gone"); after.Name != "Gone" || len(after.Fields) != 0 || after.Activity != before.Activity {
		t.Errorf("a token changed an archived tenant: %+v", after)
	}

	// e.p applied c before the archive: it may keep answering from memory, but only for a minute.
	e.clock.advance(61 * time.Second)
	if _, err := e.scope(e.p, c); !errors.Is(err, tenancy.ErrTenantArchived) {
		t.Fatalf("a minute after an archive elsewhere: err %v, want ErrTenantArchived", err)
	}
	// Forget (what the API calls after archiving or restoring) makes the next token look again.
	if _, err := e.db.SQL().Exec(`UPDATE tenants SET archived_at = NULL WHERE internal_id = 'gone'`); err != nil {
		t.Fatal(err)
	}
	e.p.Forget(e.wa.Workspace.ID, "gone")
	if _, err := e.scope(e.p, c); err != nil {
		t.Fatalf("restored and forgotten: %v", err)
	}
}
