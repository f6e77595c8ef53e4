package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// TenantPatch changes some of a tenant's properties; nil pointers leave a property alone.
// Fields merge key by key: a key with a nil value is removed.
type TenantPatch struct {
	Name       *string
	InternalID *string
	Fields     map[string]any
	// SetLimit applies AICreditsRolling30DayLimit (nil = unlimited); without it the limit stays.
	SetLimit                   bool
	AICreditsRolling30DayLimit *float64
	IsTest                     *bool
}

// TenantReplacement is every mutable property of a tenant (PUT): what is absent is reset.
type TenantReplacement struct {
	Name                       string
	InternalID                 string
	Fields                     map[string]any
	AICreditsRolling30DayLimit *float64
	IsTest                     bool
}

func (tx *Tx) fieldSchema(ctx context.Context) (tenancy.FieldSchema, error) {
	var b []byte
	if err := tx.GetContext(ctx, &b, `SELECT tenant_field_schema FROM workspaces WHERE id = $1`, tx.Scope.WorkspaceID); err != nil {
		return tenancy.FieldSchema{}, fmt.Errorf("read field schema: %w", err)
	}
	var s tenancy.FieldSchema
	err := json.Unmarshal(b, &s)
	return s, err
}

// ValidateNewTenant checks a tenant about to be created, fields against the workspace's schema.
func (tx *Tx) ValidateNewTenant(ctx context.Context, in NewTenant) error {
	verr := validateIdentity(in.InternalID, in.Name)
	validateLimit(verr, in.AICreditsRolling30DayLimit)
	schema, err := tx.fieldSchema(ctx)
	if err != nil {
		return err
	}
	mergeValidation(verr, schema.ValidateFields(in.Fields, false))
	return verr.Err()
}

func validateIdentity(internalID, name string) *tenancy.ValidationError {
	verr := &tenancy.ValidationError{}
	switch {
	case internalID == "":
		verr.Add("internalId", "is required")
	case len(internalID) > 255:
		verr.Add("internalId", "must be at most 255 characters")
	}
	if strings.ContainsRune(internalID, 0) {
		verr.Add("internalId", "must not contain NUL characters")
	}
	switch {
	case len(name) > 500:
		verr.Add("name", "must be at most 500 characters")
	case strings.ContainsRune(name, 0):
		verr.Add("name", "must not contain NUL characters")
	}
	return verr
}

func mergeValidation(into *tenancy.ValidationError, err error) {
	if v, ok := tenancy.AsValidation(err); ok {
		into.Fields = append(into.Fields, v.Fields...)
	}
}

// PatchTenant applies p to the tenant with id, validating fields against the schema, and records
// what changed.
func (tx *Tx) PatchTenant(ctx context.Context, id uuid.UUID, p TenantPatch) (*tenancy.Tenant, error) {
	t, err := tx.lockTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	next := TenantReplacement{Name: t.Name, InternalID: t.InternalID, Fields: maps.Clone(t.Fields),
		AICreditsRolling30DayLimit: t.AICreditsRolling30DayLimit, IsTest: t.IsTest}
	if p.Name != nil {
		next.Name = *p.Name
	}
	if p.InternalID != nil {
		next.InternalID = *p.InternalID
	}
	if p.SetLimit {
		next.AICreditsRolling30DayLimit = p.AICreditsRolling30DayLimit
	}
	if p.IsTest != nil {
		next.IsTest = *p.IsTest
	}
	verr := validateIdentity(next.InternalID, next.Name)
	validateLimit(verr, next.AICreditsRolling30DayLimit)
	if len(p.Fields) > 0 {
		schema, err := tx.fieldSchema(ctx)
		if err != nil {
			return nil, err
		}
		mergeValidation(verr, schema.ValidateFields(p.Fields, true))
		for k, v := range p.Fields {
			if v == nil {
				delete(next.Fields, k)
			} else {
				next.Fields[k] = v
			}
		}
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return tx.writeTenant(ctx, t, next)
}

// ReplaceTenant sets every mutable property of the tenant (PUT semantics).
func (tx *Tx) ReplaceTenant(ctx context.Context, id uuid.UUID, r TenantReplacement) (*tenancy.Tenant, error) {
	t, err := tx.lockTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Fields == nil {
		r.Fields = map[string]any{}
	}
	verr := validateIdentity(r.InternalID, r.Name)
	validateLimit(verr, r.AICreditsRolling30DayLimit)
	schema, err := tx.fieldSchema(ctx)
	if err != nil {
		return nil, err
	}
	mergeValidation(verr, schema.ValidateFields(r.Fields, false))
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return tx.writeTenant(ctx, t, r)
}

func (tx *Tx) lockTenant(ctx context.Context, id uuid.UUID) (*tenancy.Tenant, error) {
	t, err := scanTenant(tx.QueryRowxContext(ctx, `SELECT `+tenantColumns+` FROM tenants
		WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, tx.Scope.WorkspaceID, id))
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("lock tenant: %w", err)
	}
	return t, nil
}

// writeTenant stores next over t and records which properties changed; no change, no write.
func (tx *Tx) writeTenant(ctx context.Context, t *tenancy.Tenant, next TenantReplacement) (*tenancy.Tenant, error) {
	changed := []string{}
	if next.Name != t.Name {
		changed = append(changed, "name")
	}
	if next.InternalID != t.InternalID {
		changed = append(changed, "internalId")
	}
	if !reflect.DeepEqual(jsonRoundTrip(next.Fields), jsonRoundTrip(t.Fields)) {
		changed = append(changed, "fields")
	}
	if !equalLimit(next.AICreditsRolling30DayLimit, t.AICreditsRolling30DayLimit) {
		changed = append(changed, "aiCreditsRolling30DayLimit")
	}
	if next.IsTest != t.IsTest {
		changed = append(changed, "isTest")
	}
	if len(changed) == 0 {
		return t, nil
	}
	fb, err := json.Marshal(next.Fields)
	if err != nil {
		return nil, tenancy.Invalid("fields", "not representable as JSON")
	}
	out, err := scanTenant(tx.QueryRowxContext(ctx, `UPDATE tenants SET name = $3, internal_id = $4, fields = $5,
			ai_credits_rolling_30_day_limit = $6, is_test = $7, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+tenantColumns,
		tx.Scope.WorkspaceID, t.ID, next.Name, next.InternalID, string(fb), next.AICreditsRolling30DayLimit, next.IsTest))
	if isUniqueViolation(err, "tenants_workspace_id_internal_id_key") {
		return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "internalId",
			Message: fmt.Sprintf("a tenant with internalId %q already exists", next.InternalID)}}}
	}
	if err != nil {
		return nil, fmt.Errorf("update tenant: %w", err)
	}
	return out, tx.Record(ctx, Activity{Type: "tenant.updated", TenantID: t.ID,
		Message: fmt.Sprintf("Tenant %s updated", out.InternalID), Details: map[string]any{"changed": changed}})
}

func jsonRoundTrip(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func equalLimit(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// ArchiveTenant archives the tenant and deactivates its active connections in the same
// transaction, marking them so that restoring reactivates exactly those.
func (tx *Tx) ArchiveTenant(ctx context.Context, id uuid.UUID) (*tenancy.Tenant, error) {
	t, err := tx.lockTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.Archived() {
		return t, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE connections SET deactivated_at = now(), deactivated_by_tenant_archive = true, updated_at = now()
		WHERE workspace_id = $1 AND tenant_id = $2 AND deactivated_at IS NULL AND archived_at IS NULL`, tx.Scope.WorkspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("deactivate connections: %w", err)
	}
	n, _ := res.RowsAffected()
	out, err := scanTenant(tx.QueryRowxContext(ctx, `UPDATE tenants SET archived_at = now(), updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+tenantColumns, tx.Scope.WorkspaceID, id))
	if err != nil {
		return nil, fmt.Errorf("archive tenant: %w", err)
	}
	return out, tx.Record(ctx, Activity{Type: "tenant.archived", TenantID: id,
		Message: fmt.Sprintf("Tenant %s archived; %d connection(s) deactivated", t.InternalID, n),
		Details: map[string]any{"deactivatedConnections": n}})
}

// RestoreTenant reverses ArchiveTenant: it reactivates the connections archiving deactivated.
func (tx *Tx) RestoreTenant(ctx context.Context, id uuid.UUID) (*tenancy.Tenant, error) {
	t, err := tx.lockTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if !t.Archived() {
		return t, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE connections SET deactivated_at = NULL, deactivated_by_tenant_archive = false, updated_at = now()
		WHERE workspace_id = $1 AND tenant_id = $2 AND deactivated_by_tenant_archive`, tx.Scope.WorkspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("reactivate connections: %w", err)
	}
	n, _ := res.RowsAffected()
	out, err := scanTenant(tx.QueryRowxContext(ctx, `UPDATE tenants SET archived_at = NULL, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+tenantColumns, tx.Scope.WorkspaceID, id))
	if err != nil {
		return nil, fmt.Errorf("restore tenant: %w", err)
	}
	return out, tx.Record(ctx, Activity{Type: "tenant.restored", TenantID: id,
		Message: fmt.Sprintf("Tenant %s restored; %d connection(s) reactivated", t.InternalID, n),
		Details: map[string]any{"reactivatedConnections": n}})
}

func credentialsAAD(workspaceID, tenantID uuid.UUID) []byte {
	return []byte("tenant:" + workspaceID.String() + ":" + tenantID.String() + ":credentials")
}

// SetTenantCredentials replaces the tenant's credentials (any JSON value; nil clears them). Only
// which keys are set, and when, is kept in clear.
func (tx *Tx) SetTenantCredentials(ctx context.Context, id uuid.UUID, value any) (*tenancy.Tenant, error) {
	t, err := tx.lockTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	var enc []byte
	// Every key given is (re)set now; the value is sealed whole, so no key keeps an older time.
	meta := map[string]time.Time{}
	now := time.Now().UTC().Truncate(time.Second)
	if value != nil {
		plain, err := json.Marshal(value)
		if err != nil {
			return nil, tenancy.Invalid("credentials", "not representable as JSON")
		}
		enc = tx.db.keys.Seal(plain, credentialsAAD(tx.Scope.WorkspaceID, id))
		if obj, ok := value.(map[string]any); ok {
			for k := range obj {
				meta[k] = now
			}
		} else {
			meta["value"] = now
		}
	}
	mb, _ := json.Marshal(meta)
	out, err := scanTenant(tx.QueryRowxContext(ctx, `UPDATE tenants SET credentials_enc = $3, credentials_meta = $4, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+tenantColumns, tx.Scope.WorkspaceID, id, enc, string(mb)))
	if err != nil {
		return nil, fmt.Errorf("set credentials: %w", err)
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	return out, tx.Record(ctx, Activity{Type: "credentials.updated", TenantID: id,
		Message: fmt.Sprintf("Credentials of tenant %s updated", t.InternalID), Details: map[string]any{"keys": keys}})
}

// TenantCredentials decrypts the tenant's credentials and records that they were read.
func (tx *Tx) TenantCredentials(ctx context.Context, id uuid.UUID) (any, error) {
	v, err := tx.openTenantCredentials(ctx, id)
	if err != nil || v == nil {
		return v, err
	}
	return v, tx.Record(ctx, Activity{Type: "credentials.read", TenantID: id, Message: "Tenant credentials read"})
}

// Provisioned is what ProvisionTenant found or made.
type Provisioned struct {
	ID       uuid.UUID
	Archived bool
	Wrote    bool // whether anything was written
}

// lastActiveEvery is how often a tenant's lastActiveAt may advance.
const lastActiveEvery = time.Minute

// ProvisionTenant applies a verified tenant token: it creates the tenant when internalID is new,
// updates name and fields when the token's differ (token keys overwrite, other keys stay; the
// schema is not enforced, tokens are the company's own word), and advances lastActiveAt at most
// once a minute. When nothing differs and lastActiveAt is fresh it only reads.
func (tx *Tx) ProvisionTenant(ctx context.Context, internalID string, name *string, fields map[string]any) (*Provisioned, error) {
	if verr := validateIdentity(internalID, deref(name)); verr.Err() != nil {
		return nil, verr
	}
	t, err := scanTenant(tx.QueryRowxContext(ctx, `SELECT `+tenantColumns+` FROM tenants
		WHERE workspace_id = $1 AND internal_id = $2 FOR UPDATE`, tx.Scope.WorkspaceID, internalID))
	if notFound(err) {
		nm := internalID
		if name != nil {
			nm = *name
		}
		if fields == nil {
			fields = map[string]any{}
		}
		fb, _ := json.Marshal(fields)
		id := tenancy.NewID()
		res, err := tx.ExecContext(ctx, `INSERT INTO tenants (workspace_id, id, internal_id, name, fields, last_active_at)
			VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (workspace_id, internal_id) DO NOTHING`,
			tx.Scope.WorkspaceID, id, internalID, nm, string(fb))
		if err != nil {
			return nil, fmt.Errorf("provision tenant: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 { // created concurrently: apply to that one
			return tx.ProvisionTenant(ctx, internalID, name, fields)
		}
		return &Provisioned{ID: id, Wrote: true}, tx.Record(ctx, Activity{Type: "tenant.created", TenantID: id,
			Message: fmt.Sprintf("Tenant %s created from a token", internalID)})
	}
	if err != nil {
		return nil, fmt.Errorf("provision tenant: %w", err)
	}
	out := &Provisioned{ID: t.ID, Archived: t.Archived()}
	next := TenantReplacement{Name: t.Name, InternalID: t.InternalID, Fields: maps.Clone(t.Fields),
		AICreditsRolling30DayLimit: t.AICreditsRolling30DayLimit, IsTest: t.IsTest}
	if name != nil {
		next.Name = *name
	}
	for k, v := range fields {
		next.Fields[k] = v
	}
	if !out.Archived {
		before := t.UpdatedAt
		updated, err := tx.writeTenant(ctx, t, next)
		if err != nil {
			return nil, err
		}
		out.Wrote = !updated.UpdatedAt.Equal(before)
	}
	if !out.Archived && (t.LastActiveAt == nil || time.Since(*t.LastActiveAt) >= lastActiveEvery) {
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET last_active_at = now() WHERE workspace_id = $1 AND id = $2`,
			tx.Scope.WorkspaceID, t.ID); err != nil {
			return nil, fmt.Errorf("touch tenant: %w", err)
		}
		out.Wrote = true
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// validateLimit checks an AI credit limit: none (unlimited) or 0 and more.
func validateLimit(verr *tenancy.ValidationError, limit *float64) {
	if limit != nil && (*limit < 0 || math.IsNaN(*limit) || math.IsInf(*limit, 0)) {
		verr.Add("aiCreditsRolling30DayLimit", "must be 0 or more, or empty for unlimited")
	}
}
