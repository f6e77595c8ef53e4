package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// settingsEnv is a workspace with an admin acting on it, as the Console's scope would be.
type settingsEnv struct {
	t     *testing.T
	db    *store.DB
	ws    *tenancy.Workspace
	admin *tenancy.Manager
}

func newSettingsEnv(t *testing.T, key string) *settingsEnv {
	t.Helper()
	db := newDB(t)
	ws := mustWorkspace(t, db, key)
	admin := mustManager(t, db, "admin@"+key+".test")
	if err := setMembership(db, ws.ID, admin.ID, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	return &settingsEnv{t: t, db: db, ws: ws, admin: admin}
}

func (e *settingsEnv) scope(m *tenancy.Manager, role tenancy.Role) tenancy.Scope {
	return tenancy.WorkspaceScope(e.ws.ID, tenancy.Actor{Type: tenancy.ActorManager, ID: m.ID.String(), Role: role})
}

// as runs fn in the admin's scope.
func (e *settingsEnv) as(fn func(ctx context.Context, tx *store.Tx) error) error {
	ctx := context.Background()
	return e.db.InScope(ctx, e.scope(e.admin, tenancy.RoleAdmin), func(tx *store.Tx) error { return fn(ctx, tx) })
}

type activityRow struct {
	Type      string         `db:"type"`
	ActorType string         `db:"actor_type"`
	ActorID   string         `db:"actor_id"`
	TenantID  *uuid.UUID     `db:"tenant_id"`
	Message   string         `db:"message"`
	Details   map[string]any `db:"-"`
	Raw       []byte         `db:"details"`
}

// activity returns the workspace's entries of type typ, oldest first, read past RLS.
func (e *settingsEnv) activity(typ string) []activityRow {
	e.t.Helper()
	var rows []activityRow
	if err := e.db.SQL().SelectContext(context.Background(), &rows, `SELECT type, actor_type, actor_id, tenant_id, message, details
		FROM activity_log WHERE workspace_id = $1 AND type = $2 ORDER BY created_at, id`, e.ws.ID, typ); err != nil {
		e.t.Fatal(err)
	}
	for i := range rows {
		if err := json.Unmarshal(rows[i].Raw, &rows[i].Details); err != nil {
			e.t.Fatal(err)
		}
	}
	return rows
}

// lastActivity returns the one newest entry of type typ, checking it names the admin and no tenant.
func (e *settingsEnv) lastActivity(typ string, want int) activityRow {
	e.t.Helper()
	rows := e.activity(typ)
	if len(rows) != want {
		e.t.Fatalf("%d %s entries, want %d", len(rows), typ, want)
	}
	if want == 0 {
		return activityRow{}
	}
	a := rows[len(rows)-1]
	if a.ActorType != "manager" || a.ActorID != e.admin.ID.String() || a.TenantID != nil {
		e.t.Errorf("%s entry: actor %s/%s tenant %v; want manager %s and no tenant", typ, a.ActorType, a.ActorID, a.TenantID, e.admin.ID)
	}
	return a
}

func (e *settingsEnv) column(col string) string {
	e.t.Helper()
	var s string
	if err := e.db.SQL().GetContext(context.Background(), &s, `SELECT `+col+`::text FROM workspaces WHERE id = $1`, e.ws.ID); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func TestRenameWorkspace(t *testing.T) {
	t.Parallel()
	e := newSettingsEnv(t, "rename")
	rename := func(name string) error {
		return e.as(func(ctx context.Context, tx *store.Tx) error { return tx.RenameWorkspace(ctx, name) })
	}
	if err := rename("  Renamed Co  "); err != nil {
		t.Fatal(err)
	}
	if got := e.column("name"); got != "Renamed Co" {
		t.Errorf("name = %q", got)
	}
	a := e.lastActivity("settings.updated", 1)
	if to, _ := a.Details["to"].(map[string]any); to["name"] != "Renamed Co" {
		t.Errorf("details = %v", a.Details)
	}
	// The same name again writes nothing.
	if err := rename("Renamed Co"); err != nil {
		t.Fatal(err)
	}
	e.lastActivity("settings.updated", 1)

	for _, bad := range []string{"", "   ", string(make([]byte, 201)), "two\nlines"} {
		if err := rename(bad); !isValidation(err) {
			t.Errorf("rename %q: %v, want a validation error", bad, err)
		}
	}
	// A support manager's scope may not, whatever the page shows.
	support := mustManager(t, e.db, "support@rename.test")
	if err := setMembership(e.db, e.ws.ID, support.ID, tenancy.RoleSupport); err != nil {
		t.Fatal(err)
	}
	err := e.db.InScope(context.Background(), e.scope(support, tenancy.RoleSupport), func(tx *store.Tx) error {
		return tx.RenameWorkspace(context.Background(), "Support was here")
	})
	if !errors.Is(err, tenancy.ErrForbidden) {
		t.Errorf("support rename: %v, want ErrForbidden", err)
	}
	if got := e.column("name"); got != "Renamed Co" {
		t.Errorf("name after refusals = %q", got)
	}
}

func TestRotateSecretRecords(t *testing.T) {
	t.Parallel()
	e := newSettingsEnv(t, "rotate-rec")
	before := time.Now()
	var rot *store.SecretRotation
	err := e.as(func(ctx context.Context, tx *store.Tx) error {
		var err error
		rot, err = tx.RotateSecret(ctx, 2*time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rot.Secret) < 32 {
		t.Errorf("secret %q", rot.Secret)
	}
	if d := rot.PrevValidUntil.Sub(before); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Errorf("previous secret valid until %v, want about 2h from now", rot.PrevValidUntil)
	}
	wa, err := e.db.LookupWorkspaceByKey(context.Background(), "rotate-rec")
	if err != nil || string(wa.Secret) != rot.Secret || wa.PrevSecret == nil {
		t.Fatalf("after rotation: %v, secret matches %v, prev %v", err, wa != nil && string(wa.Secret) == rot.Secret, wa != nil && wa.PrevSecret != nil)
	}
	a := e.lastActivity("settings.secret_rotated", 1)
	if _, ok := a.Details["prevSecretExpiresAt"]; !ok {
		t.Errorf("details = %v", a.Details)
	}
	if strings.Contains(string(a.Raw), rot.Secret) {
		t.Error("the activity entry contains the secret")
	}
}

func TestSaveTenantFieldSchema(t *testing.T) {
	t.Parallel()
	e := newSettingsEnv(t, "schema-save")
	tn := mustTenant(t, e.db, e.ws.ID, "acme", "Acme")
	err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.PatchTenant(context.Background(), tn.ID, store.TenantPatch{Fields: map[string]any{"plan": "legacy", "old": 1}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	save := func(drafts ...tenancy.FieldDraft) error {
		s, err := tenancy.BuildFieldSchema(drafts)
		if err != nil {
			return err
		}
		return e.as(func(ctx context.Context, tx *store.Tx) error { return tx.SaveTenantFieldSchema(ctx, s) })
	}
	stored := func() tenancy.FieldSchema {
		var s tenancy.FieldSchema
		if err := json.Unmarshal([]byte(e.column("tenant_field_schema")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	plan := tenancy.FieldDraft{Key: "plan", Type: "string", Choices: true, Options: "free, pro"}
	seats := tenancy.FieldDraft{Key: "seats", Type: "integer", Required: true}
	if err := save(seats, plan); err != nil {
		t.Fatal(err)
	}
	s := stored()
	if !reflect.DeepEqual(s.Order, []string{"seats", "plan"}) || !reflect.DeepEqual(s.Required, []string{"seats"}) ||
		!reflect.DeepEqual(s.Properties["plan"].Enum, []any{"free", "pro"}) {
		t.Errorf("stored schema = %+v", s)
	}
	a := e.lastActivity("settings.schema_updated", 1)
	if !reflect.DeepEqual(a.Details["added"], []any{"seats", "plan"}) {
		t.Errorf("details = %v", a.Details)
	}

	// Unchanged: no write, no entry.
	if err := save(seats, plan); err != nil {
		t.Fatal(err)
	}
	e.lastActivity("settings.schema_updated", 1)

	// Reorder, change one, remove one, add one.
	plan.Options = "free, pro, enterprise"
	vip := tenancy.FieldDraft{Key: "vip", Type: "boolean"}
	if err := save(plan, vip); err != nil {
		t.Fatal(err)
	}
	a = e.lastActivity("settings.schema_updated", 2)
	want := map[string]any{"added": []any{"vip"}, "removed": []any{"seats"}, "changed": []any{"plan"}, "reordered": false}
	if !reflect.DeepEqual(a.Details, want) {
		t.Errorf("details = %v, want %v", a.Details, want)
	}
	if err := save(vip, plan); err != nil {
		t.Fatal(err)
	}
	if a = e.lastActivity("settings.schema_updated", 3); a.Details["reordered"] != true {
		t.Errorf("details = %v, want reordered", a.Details)
	}

	// A schema the rules refuse is not stored, whoever builds it.
	before := e.column("tenant_field_schema")
	bad := tenancy.FieldSchema{Type: "object", Properties: map[string]tenancy.FieldDef{"n": {Type: "number", Format: "email"}}}
	err = e.as(func(ctx context.Context, tx *store.Tx) error { return tx.SaveTenantFieldSchema(ctx, bad) })
	if !isValidation(err) {
		t.Errorf("bad schema: %v, want a validation error", err)
	}
	if e.column("tenant_field_schema") != before {
		t.Error("a refused schema was stored")
	}

	// Tenants' values are untouched, even the ones the schema no longer shows or now refuses.
	var fields string
	if err := e.db.SQL().GetContext(context.Background(), &fields, `SELECT fields::text FROM tenants WHERE id = $1`, tn.ID); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal([]byte(fields), &got)
	if !reflect.DeepEqual(got, map[string]any{"plan": "legacy", "old": 1.0}) {
		t.Errorf("tenant fields = %v", got)
	}
	// New writes are checked against the saved schema.
	err = e.as(func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.PatchTenant(ctx, tn.ID, store.TenantPatch{Fields: map[string]any{"plan": "gold"}})
		return err
	})
	if v, ok := tenancy.AsValidation(err); !ok || v.For("fields.plan") == "" {
		t.Errorf("patch plan=gold: %v, want a problem at fields.plan", err)
	}
}

func TestUpdateWorkspaceSettings(t *testing.T) {
	t.Parallel()
	e := newSettingsEnv(t, "settings-upd")
	credits, rpm := 500.0, 60
	update := func(fn func(*tenancy.Settings) error) error {
		return e.as(func(ctx context.Context, tx *store.Tx) error { return tx.UpdateWorkspaceSettings(ctx, fn) })
	}
	err := update(func(s *tenancy.Settings) error {
		s.AICreditsRolling30DayLimit, s.APIRequestsPerMinutePerTenant = &credits, &rpm
		s.AllowedOrigins = []string{"https://app.example.com"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var st tenancy.Settings
	_ = json.Unmarshal([]byte(e.column("settings")), &st)
	if st.AICreditsRolling30DayLimit == nil || *st.AICreditsRolling30DayLimit != 500 || st.APIRequestsPerMinutePerTenant == nil ||
		*st.APIRequestsPerMinutePerTenant != 60 || !reflect.DeepEqual(st.AllowedOrigins, []string{"https://app.example.com"}) {
		t.Errorf("settings = %s", e.column("settings"))
	}
	a := e.lastActivity("settings.updated", 1)
	if !reflect.DeepEqual(a.Details["changed"], []any{"aiCreditsRolling30DayLimit", "allowedOrigins", "apiRequestsPerMinutePerTenant"}) {
		t.Errorf("details = %v", a.Details)
	}

	// Unset = unlimited: the key goes away; the entry says from what.
	if err := update(func(s *tenancy.Settings) error { s.AICreditsRolling30DayLimit = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := e.column("settings"); strings.Contains(got, "aiCreditsRolling30DayLimit") {
		t.Errorf("settings = %s, want the credit limit unset", got)
	}
	a = e.lastActivity("settings.updated", 2)
	if from, _ := a.Details["from"].(map[string]any); from["aiCreditsRolling30DayLimit"] != 500.0 {
		t.Errorf("details = %v", a.Details)
	}

	// Refused: nothing written, no entry; the change function's own error comes back as it is.
	before := e.column("settings")
	neg := -1
	if err := update(func(s *tenancy.Settings) error { s.APIRequestsPerMinutePerWorkspace = &neg; return nil }); !isValidation(err) {
		t.Errorf("negative limit: %v, want a validation error", err)
	}
	if err := update(func(s *tenancy.Settings) error { s.AllowedOrigins = []string{"https://a.test/path"}; return nil }); !isValidation(err) {
		t.Errorf("origin with a path: %v, want a validation error", err)
	}
	boom := errors.New("boom")
	if err := update(func(s *tenancy.Settings) error { s.APIRequestsPerMinutePerTenant = nil; return boom }); !errors.Is(err, boom) {
		t.Errorf("change error: %v", err)
	}
	if e.column("settings") != before {
		t.Error("a refused change was stored")
	}
	e.lastActivity("settings.updated", 2)
}

func TestMembersStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newSettingsEnv(t, "members-store")
	other := mustWorkspace(t, e.db, "members-other")
	outsider := mustManager(t, e.db, "outsider@other.test")
	if err := setMembership(e.db, other.ID, outsider.ID, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	add := func(in store.NewMember) (*store.Member, bool, error) {
		var m *store.Member
		var created bool
		err := e.as(func(ctx context.Context, tx *store.Tx) error {
			var err error
			m, created, err = tx.AddMember(ctx, in)
			return err
		})
		return m, created, err
	}

	// A new email: the manager is created with the hash, in the same transaction.
	m, created, err := add(store.NewMember{Email: " New@Example.COM ", Name: "New", Role: tenancy.RoleSupport, PasswordHash: "hash-new"})
	if err != nil || !created || m.Email != "new@example.com" || m.Role != tenancy.RoleSupport {
		t.Fatalf("add new: %+v, %v, %v", m, created, err)
	}
	found, ms, err := e.db.LookupManagerByEmail(ctx, "new@example.com")
	if err != nil || found.PasswordHash != "hash-new" || len(ms) != 1 || ms[0].WorkspaceID != e.ws.ID {
		t.Fatalf("lookup new manager: %+v, %+v, %v", found, ms, err)
	}
	if a := e.lastActivity("member.added", 1); a.Details["newManager"] != true || a.Details["email"] != "new@example.com" {
		t.Errorf("details = %v", a.Details)
	}

	// An existing manager (of another workspace): only the membership; the hash is ignored.
	m, created, err = add(store.NewMember{Email: "outsider@other.test", Role: tenancy.RoleAdmin, PasswordHash: "ignored"})
	if err != nil || created || m.ManagerID != outsider.ID {
		t.Fatalf("add existing: %+v, %v, %v", m, created, err)
	}
	if found, _, _ := e.db.LookupManagerByEmail(ctx, "outsider@other.test"); found.PasswordHash != "hash-of-outsider@other.test" {
		t.Error("adding an existing manager changed their password")
	}

	// Already a member; not an email; unknown email without a hash.
	for _, in := range []store.NewMember{
		{Email: "new@example.com", Role: tenancy.RoleAdmin},
		{Email: "not-an-email", Role: tenancy.RoleAdmin, PasswordHash: "h"},
		{Email: "nobody@example.com", Role: tenancy.RoleAdmin},
		{Email: "x@example.com", Role: "owner", PasswordHash: "h"},
	} {
		if _, _, err := add(in); !isValidation(err) {
			t.Errorf("add %+v: %v, want a validation error", in, err)
		}
	}
	if _, _, err := e.db.LookupManagerByEmail(ctx, "x@example.com"); !errors.Is(err, tenancy.ErrNotFound) {
		t.Error("a refused add left a manager behind")
	}

	change := func(id uuid.UUID, role tenancy.Role) error {
		return e.as(func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.ChangeMemberRole(ctx, id, role)
			return err
		})
	}
	remove := func(id uuid.UUID) error {
		return e.as(func(ctx context.Context, tx *store.Tx) error { _, err := tx.RemoveMember(ctx, id); return err })
	}
	if err := change(found.ID, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if a := e.lastActivity("member.role_changed", 1); a.Details["from"] != "support" || a.Details["to"] != "admin" {
		t.Errorf("details = %v", a.Details)
	}

	// The last admin: outsider and new are admins too, so demote them, then the admin is last.
	for _, id := range []uuid.UUID{found.ID, outsider.ID} {
		if err := change(id, tenancy.RoleSupport); err != nil {
			t.Fatal(err)
		}
	}
	if err := change(e.admin.ID, tenancy.RoleSupport); !errors.Is(err, tenancy.ErrLastAdmin) {
		t.Errorf("demote last admin: %v", err)
	}
	if err := remove(e.admin.ID); !errors.Is(err, tenancy.ErrLastAdmin) {
		t.Errorf("remove last admin: %v", err)
	}
	e.lastActivity("member.removed", 0)

	// Remove ends the member's sessions here.
	if err := e.db.CreateSession(ctx, found.ID, e.ws.ID, "new-session"); err != nil {
		t.Fatal(err)
	}
	if err := remove(found.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.LookupSession(ctx, store.HashSessionToken("new-session")); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("session after removal: %v", err)
	}
	if a := e.lastActivity("member.removed", 1); a.Details["email"] != "new@example.com" {
		t.Errorf("details = %v", a.Details)
	}

	// Isolation: a manager of another workspace only is not a member here.
	stranger := mustManager(t, e.db, "stranger@other.test")
	if err := setMembership(e.db, other.ID, stranger.ID, tenancy.RoleSupport); err != nil {
		t.Fatal(err)
	}
	if err := change(stranger.ID, tenancy.RoleAdmin); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("change a stranger's role: %v, want ErrNotFound", err)
	}
	if err := remove(stranger.ID); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("remove a stranger: %v, want ErrNotFound", err)
	}
	var role string
	if err := e.db.SQL().GetContext(ctx, &role, `SELECT role FROM memberships WHERE workspace_id = $1 AND manager_id = $2`, other.ID, stranger.ID); err != nil || role != "support" {
		t.Errorf("stranger's membership elsewhere: %q, %v", role, err)
	}
}
