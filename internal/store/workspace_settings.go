package store

// Changes to a workspace's own settings and members, as Settings > General and Members make
// them. Each writes its change and the activity entry saying who changed what in one
// transaction; workspace-level entries carry no tenant.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// requireWorkspaceWriter refuses a scope that may not change workspace settings: support
// managers, and anything narrower than the whole workspace. The Console's route table refuses
// them first; this keeps every other caller honest.
func (tx *Tx) requireWorkspaceWriter() error {
	if !tx.Scope.WorkspaceWide() || !tx.Scope.Actor.CanWrite() {
		return tenancy.ErrForbidden
	}
	return nil
}

// MaxWorkspaceName is the longest workspace name (the column's CHECK agrees).
const MaxWorkspaceName = 200

// RenameWorkspace sets the workspace's name. The same name again changes nothing.
func (tx *Tx) RenameWorkspace(ctx context.Context, name string) error {
	if err := tx.requireWorkspaceWriter(); err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return tenancy.Invalid("name", "is required")
	case utf8.RuneCountInString(name) > MaxWorkspaceName:
		return tenancy.Invalid("name", "must be at most %d characters", MaxWorkspaceName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return tenancy.Invalid("name", "must be one line of text")
	}
	var old string
	err := tx.GetContext(ctx, &old, `SELECT name FROM workspaces WHERE id = $1 FOR UPDATE`, tx.Scope.WorkspaceID)
	if notFound(err) {
		return tenancy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("rename workspace: %w", err)
	}
	if old == name {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE workspaces SET name = $2, updated_at = now() WHERE id = $1`,
		tx.Scope.WorkspaceID, name); err != nil {
		return fmt.Errorf("rename workspace: %w", err)
	}
	return tx.Record(ctx, Activity{Type: "settings.updated", Message: fmt.Sprintf("Workspace renamed to %q", name),
		Details: map[string]any{"changed": []string{"name"}, "from": map[string]any{"name": old}, "to": map[string]any{"name": name}}})
}

// SecretRotation is the outcome of rotating the workspace secret.
type SecretRotation struct {
	Secret         string    // the new secret in clear: shown once, never stored in clear
	PrevValidUntil time.Time // the previous secret verifies tokens until then
}

// RotateSecret rotates the workspace secret (RotateWorkspaceSecret) and records who did it.
func (tx *Tx) RotateSecret(ctx context.Context, overlap time.Duration) (*SecretRotation, error) {
	if err := tx.requireWorkspaceWriter(); err != nil {
		return nil, err
	}
	secret, err := tx.RotateWorkspaceSecret(ctx, overlap)
	if err != nil {
		return nil, err
	}
	rot := &SecretRotation{Secret: secret}
	if err := tx.GetContext(ctx, &rot.PrevValidUntil, `SELECT prev_secret_expires_at FROM workspaces WHERE id = $1`,
		tx.Scope.WorkspaceID); err != nil {
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	err = tx.Record(ctx, Activity{Type: "settings.secret_rotated", Message: "Workspace secret rotated",
		Details: map[string]any{"prevSecretExpiresAt": rot.PrevValidUntil.UTC().Format(time.RFC3339), "overlapSeconds": int64(overlap.Seconds())}})
	if err != nil {
		return nil, err
	}
	return rot, nil
}

// SaveTenantFieldSchema replaces the tenant field schema (after tenancy.ValidateFieldSchema)
// and records which fields were added, removed and changed. Tenants' stored values are left as
// they are: a field removed from the schema is only no longer shown. An unchanged schema writes
// nothing.
func (tx *Tx) SaveTenantFieldSchema(ctx context.Context, schema tenancy.FieldSchema) error {
	if err := tx.requireWorkspaceWriter(); err != nil {
		return err
	}
	if schema.Type == "" {
		schema.Type = "object"
	}
	if schema.Properties == nil {
		schema.Properties = map[string]tenancy.FieldDef{}
	}
	if err := tenancy.ValidateFieldSchema(schema); err != nil {
		return err
	}
	var b []byte
	err := tx.GetContext(ctx, &b, `SELECT tenant_field_schema FROM workspaces WHERE id = $1 FOR UPDATE`, tx.Scope.WorkspaceID)
	if notFound(err) {
		return tenancy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("save field schema: %w", err)
	}
	var old tenancy.FieldSchema
	if err := json.Unmarshal(b, &old); err != nil {
		return fmt.Errorf("save field schema: stored schema: %w", err)
	}
	diff := diffSchemas(old, schema)
	if diff.empty() {
		return nil
	}
	nb, err := json.Marshal(schema)
	if err != nil {
		return fmt.Errorf("save field schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE workspaces SET tenant_field_schema = $2, updated_at = now() WHERE id = $1`,
		tx.Scope.WorkspaceID, string(nb)); err != nil {
		return fmt.Errorf("save field schema: %w", err)
	}
	return tx.Record(ctx, Activity{Type: "settings.schema_updated", Message: diff.message(),
		Details: map[string]any{"added": diff.Added, "removed": diff.Removed, "changed": diff.Changed, "reordered": diff.Reordered}})
}

// schemaDiff says how one field schema differs from another, by field key.
type schemaDiff struct {
	Added, Removed, Changed []string
	Reordered               bool
}

func (d schemaDiff) empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 && !d.Reordered
}

func (d schemaDiff) message() string {
	var parts []string
	add := func(n int, what string) {
		if n == 1 {
			parts = append(parts, "1 field "+what)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d fields %s", n, what))
		}
	}
	add(len(d.Added), "added")
	add(len(d.Removed), "removed")
	add(len(d.Changed), "changed")
	if d.Reordered {
		parts = append(parts, "fields reordered")
	}
	return "Tenant field schema updated: " + strings.Join(parts, ", ")
}

func diffSchemas(old, next tenancy.FieldSchema) schemaDiff {
	d := schemaDiff{Added: []string{}, Removed: []string{}, Changed: []string{}}
	for _, k := range next.Keys() {
		o, ok := old.Properties[k]
		switch {
		case !ok:
			d.Added = append(d.Added, k)
		case !sameJSON(o, next.Properties[k]) || slices.Contains(old.Required, k) != slices.Contains(next.Required, k):
			d.Changed = append(d.Changed, k)
		}
	}
	for _, k := range old.Keys() {
		if _, ok := next.Properties[k]; !ok {
			d.Removed = append(d.Removed, k)
		}
	}
	// Reordered: the fields both schemas have are in a different order.
	var kept, keptBefore []string
	for _, k := range next.Keys() {
		if _, ok := old.Properties[k]; ok {
			kept = append(kept, k)
		}
	}
	for _, k := range old.Keys() {
		if _, ok := next.Properties[k]; ok {
			keptBefore = append(keptBefore, k)
		}
	}
	d.Reordered = !slices.Equal(kept, keptBefore)
	return d
}

// sameJSON compares two values as JSON, so that 5 and 5.0 (or a nil and an empty list) that
// encode alike are alike.
func sameJSON(a, b any) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	var av, bv any
	_ = json.Unmarshal(ab, &av)
	_ = json.Unmarshal(bb, &bv)
	return reflect.DeepEqual(av, bv)
}

// UpdateWorkspaceSettings changes the workspace's settings: it reads them under a row lock, lets
// change edit them, checks the result with tenancy.CheckSettings and writes it, recording which
// settings changed from what to what. An error from change is returned as it is, and nothing
// is written; so is a change that changes nothing.
func (tx *Tx) UpdateWorkspaceSettings(ctx context.Context, change func(*tenancy.Settings) error) error {
	if err := tx.requireWorkspaceWriter(); err != nil {
		return err
	}
	var b []byte
	err := tx.GetContext(ctx, &b, `SELECT settings FROM workspaces WHERE id = $1 FOR UPDATE`, tx.Scope.WorkspaceID)
	if notFound(err) {
		return tenancy.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	var before, after tenancy.Settings
	if err := json.Unmarshal(b, &before); err != nil {
		return fmt.Errorf("update settings: stored settings: %w", err)
	}
	if err := json.Unmarshal(b, &after); err != nil { // a deep copy for change to edit
		return fmt.Errorf("update settings: stored settings: %w", err)
	}
	if err := change(&after); err != nil {
		return err
	}
	if err := tenancy.CheckSettings(after); err != nil {
		return err
	}
	from, to := settingsMap(before), settingsMap(after)
	changed := []string{}
	for _, k := range settingsKeys(from, to) {
		if !sameJSON(from[k], to[k]) {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	nb, err := json.Marshal(after)
	if err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE workspaces SET settings = $2, updated_at = now() WHERE id = $1`,
		tx.Scope.WorkspaceID, string(nb)); err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	fromChanged, toChanged := map[string]any{}, map[string]any{}
	for _, k := range changed {
		fromChanged[k], toChanged[k] = from[k], to[k]
	}
	return tx.Record(ctx, Activity{Type: "settings.updated", Message: "Workspace settings updated: " + strings.Join(changed, ", "),
		Details: map[string]any{"changed": changed, "from": fromChanged, "to": toChanged}})
}

// settingsMap is s as its JSON object (unset settings absent).
func settingsMap(s tenancy.Settings) map[string]any {
	b, _ := json.Marshal(s)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}

func settingsKeys(maps ...map[string]any) []string {
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// --- Members ------------------------------------------------------------------------------------

// NormalizeEmail lowercases and checks a manager's email address.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return "", tenancy.Invalid("email", "is required")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email, "@") {
		return "", tenancy.Invalid("email", "is not an email address")
	}
	return email, nil
}

// lockMembers serialises changes to the workspace's members (SetMembership and
// RemoveMembership take the same lock), so that what member reads stays true until commit.
func (tx *Tx) lockMembers(ctx context.Context) error {
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE`, tx.Scope.WorkspaceID); err != nil {
		return fmt.Errorf("lock workspace: %w", err)
	}
	return nil
}

// member returns one member of the workspace.
func (tx *Tx) member(ctx context.Context, managerID uuid.UUID) (*Member, error) {
	var m Member
	err := tx.QueryRowxContext(ctx, `SELECT m.id, m.email, m.name, ms.role, ms.created_at
		FROM memberships ms JOIN managers m ON m.id = ms.manager_id
		WHERE ms.workspace_id = $1 AND ms.manager_id = $2`, tx.Scope.WorkspaceID, managerID).
		Scan(&m.ManagerID, &m.Email, &m.Name, &m.Role, &m.Since)
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get member: %w", err)
	}
	return &m, nil
}

// NewMember is a manager to add to the workspace.
type NewMember struct {
	Email string
	Name  string // for a new manager only; an existing manager keeps theirs
	Role  tenancy.Role
	// PasswordHash is the new manager's password hash, used only when no manager has Email yet;
	// without it an unknown email is refused.
	PasswordHash string
}

// AddMember adds the manager with in.Email to the workspace with in.Role, first creating the
// manager when nobody has that email (and in.PasswordHash is given). created says whether a
// manager was created. A manager who is already a member is refused with a conflict on "email".
func (tx *Tx) AddMember(ctx context.Context, in NewMember) (m *Member, created bool, err error) {
	if err := tx.requireWorkspaceWriter(); err != nil {
		return nil, false, err
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, false, err
	}
	if !in.Role.Valid() {
		return nil, false, tenancy.Invalid("role", "must be admin or support")
	}
	name := strings.TrimSpace(in.Name)
	if utf8.RuneCountInString(name) > 200 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return nil, false, tenancy.Invalid("name", "must be one line of at most 200 characters")
	}
	if err := tx.lockMembers(ctx); err != nil {
		return nil, false, err
	}
	// The narrow lookup setting lets this transaction see, or create, the manager with this one
	// email, beside the workspace scope: the membership and a new manager land together.
	if _, err := tx.ExecContext(ctx, `SELECT set_config('tenantry.lookup_manager_email', $1, true)`, email); err != nil {
		return nil, false, fmt.Errorf("add member: %w", err)
	}
	var id uuid.UUID
	err = tx.GetContext(ctx, &id, `SELECT id FROM managers WHERE email = $1`, email)
	switch {
	case notFound(err) && in.PasswordHash == "":
		return nil, false, tenancy.Invalid("email", "no manager has this email")
	case notFound(err):
		id, created = tenancy.NewID(), true
		if _, err := tx.ExecContext(ctx, `INSERT INTO managers (id, email, name) VALUES ($1, $2, $3)`, id, email, name); err != nil {
			if isUniqueViolation(err, "") {
				return nil, false, tenancy.ErrConflict
			}
			return nil, false, fmt.Errorf("add member: create manager: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO manager_passwords (manager_id, password_hash) VALUES ($1, $2)`,
			id, in.PasswordHash); err != nil {
			return nil, false, fmt.Errorf("add member: password: %w", err)
		}
	case err != nil:
		return nil, false, fmt.Errorf("add member: find manager: %w", err)
	}
	if existing, err := tx.member(ctx, id); err == nil {
		return nil, false, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "email",
			Message: fmt.Sprintf("%s is already a member (%s)", email, existing.Role)}}}
	} else if !errors.Is(err, tenancy.ErrNotFound) {
		return nil, false, err
	}
	if err := tx.SetMembership(ctx, id, in.Role); err != nil {
		return nil, false, err
	}
	m, err = tx.member(ctx, id)
	if err != nil {
		return nil, false, err
	}
	err = tx.Record(ctx, Activity{Type: "member.added", Message: fmt.Sprintf("%s added as %s", email, in.Role),
		Details: map[string]any{"managerId": id.String(), "email": email, "role": string(in.Role), "newManager": created}})
	if err != nil {
		return nil, false, err
	}
	return m, created, nil
}

// ChangeMemberRole gives a member another role. Taking the last admin's admin role away fails
// with tenancy.ErrLastAdmin; the same role again changes nothing.
func (tx *Tx) ChangeMemberRole(ctx context.Context, managerID uuid.UUID, role tenancy.Role) (*Member, error) {
	if err := tx.requireWorkspaceWriter(); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, tenancy.Invalid("role", "must be admin or support")
	}
	if err := tx.lockMembers(ctx); err != nil {
		return nil, err
	}
	m, err := tx.member(ctx, managerID)
	if err != nil {
		return nil, err
	}
	if m.Role == role {
		return m, nil
	}
	if err := tx.SetMembership(ctx, managerID, role); err != nil {
		return nil, err
	}
	from := m.Role
	m.Role = role
	return m, tx.Record(ctx, Activity{Type: "member.role_changed", Message: fmt.Sprintf("%s is now %s", m.Email, role),
		Details: map[string]any{"managerId": managerID.String(), "email": m.Email, "from": string(from), "to": string(role)}})
}

// RemoveMember takes a member out of the workspace and ends their sessions in it. Removing the
// last admin fails with tenancy.ErrLastAdmin.
func (tx *Tx) RemoveMember(ctx context.Context, managerID uuid.UUID) (*Member, error) {
	if err := tx.requireWorkspaceWriter(); err != nil {
		return nil, err
	}
	if err := tx.lockMembers(ctx); err != nil {
		return nil, err
	}
	m, err := tx.member(ctx, managerID)
	if err != nil {
		return nil, err
	}
	if err := tx.RemoveMembership(ctx, managerID); err != nil {
		return nil, err
	}
	return m, tx.Record(ctx, Activity{Type: "member.removed", Message: fmt.Sprintf("%s removed", m.Email),
		Details: map[string]any{"managerId": managerID.String(), "email": m.Email, "role": string(m.Role)}})
}
