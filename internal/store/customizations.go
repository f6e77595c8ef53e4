package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// Tenant-level elements: a tenant's own elements, and its customizations of workspace elements.
// A customization stores only its override — the RFC 7386 merge patch from its parent's
// effective config to what the tenant wants — so when the template changes, the tenant keeps
// its overrides and follows the template everywhere else. A customization is tenant-wide
// (connection_id NULL) or tied to one of the tenant's connections (Membrane's "instance"); a
// connection's is merged onto the tenant-wide one. Row-level security keeps each tenant to its
// own rows; the foreign keys keep a row's connection the tenant's and its parent a template.

// ConfigMode says how an ElementChange's Config applies.
type ConfigMode int

const (
	ConfigUnchanged ConfigMode = iota
	ConfigMerge                // Config is a merge patch over the current effective config (PATCH)
	ConfigReplace              // Config is the whole desired effective config (PUT, the Console editor)
)

// ElementChange changes a tenant-level element.
type ElementChange struct {
	Name   *string // nil: unchanged; "" on a customization: the template's name
	Config map[string]any
	Mode   ConfigMode
}

// TenantElementRow is one line of a tenant's elements of one kind: a template with the tenant's
// customization of it (nil when inherited), or a tenant-only element (Template nil).
type TenantElementRow struct {
	Template  *tenancy.Element
	Tenant    *tenancy.Element
	Status    string
	Effective map[string]any
}

// TenantElements lists, for one tenant and kind, every active template with the tenant's
// tenant-wide customization of it, then the tenant's own elements.
func (tx *Tx) TenantElements(ctx context.Context, tenantID uuid.UUID, kind tenancy.ElementKind) ([]TenantElementRow, error) {
	templates, err := tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.kind = $2 AND e.tenant_id IS NULL
		AND e.archived_at IS NULL ORDER BY e.key LIMIT 1000`, tx.Scope.WorkspaceID, string(kind))
	if err != nil {
		return nil, err
	}
	own, err := tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.kind = $2 AND e.tenant_id = $3
		AND e.connection_id IS NULL AND e.instance_key = '' ORDER BY e.key LIMIT 1000`, tx.Scope.WorkspaceID, string(kind), tenantID)
	if err != nil {
		return nil, err
	}
	if err := tx.resolve(ctx, append(append([]*tenancy.Element{}, templates...), own...)); err != nil {
		return nil, err
	}
	byParent := map[uuid.UUID]*tenancy.Element{}
	var rows []TenantElementRow
	var only []TenantElementRow
	for _, e := range own {
		if e.ParentID != uuid.Nil {
			byParent[e.ParentID] = e
		} else {
			only = append(only, TenantElementRow{Tenant: e, Status: tenancy.StatusTenantOnly, Effective: e.Effective})
		}
	}
	for _, t := range templates {
		row := TenantElementRow{Template: t, Status: tenancy.StatusInherited, Effective: t.Effective}
		if c := byParent[t.ID]; c != nil {
			row.Tenant, row.Status, row.Effective = c, c.Status(), c.Effective
		}
		rows = append(rows, row)
	}
	return append(rows, only...), nil
}

// TenantElementAt names a tenant-level element by its template's (or own element's) key.
type TenantElementAt struct {
	TenantID     uuid.UUID
	Kind         tenancy.ElementKind
	Key          string
	ConnectionID uuid.UUID // Nil: tenant-wide
	InstanceKey  string
}

// TenantLevelElement finds the tenant-level row at: the customization of the template with that
// key, or the tenant's own element with it. ErrNotFound when there is none.
func (tx *Tx) TenantLevelElement(ctx context.Context, at TenantElementAt) (*tenancy.Element, error) {
	els, err := tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.tenant_id = $2 AND e.kind = $3 AND e.key = $4
		AND e.connection_id IS NOT DISTINCT FROM $5 AND e.instance_key = $6`,
		tx.Scope.WorkspaceID, at.TenantID, string(at.Kind), at.Key, nullUUID(at.ConnectionID), at.InstanceKey)
	if err != nil {
		return nil, err
	}
	if len(els) == 0 {
		return nil, tenancy.ErrNotFound
	}
	return els[0], tx.resolve(ctx, els)
}

// EnsureTenantLevelElement returns the row at, creating an empty customization of the template
// with that key when there is none (Membrane's autoCreate and connection-level create()).
func (tx *Tx) EnsureTenantLevelElement(ctx context.Context, at TenantElementAt) (*tenancy.Element, bool, error) {
	e, err := tx.TenantLevelElement(ctx, at)
	if err != tenancy.ErrNotFound {
		return e, false, err
	}
	if !tx.Scope.WorkspaceWide() && tx.Scope.TenantID != at.TenantID {
		return nil, false, tenancy.ErrNotFound
	}
	if !tenancy.ValidKey(at.InstanceKey) && at.InstanceKey != "" {
		return nil, false, tenancy.Invalid("instanceKey", "must be 1–100 letters, digits, '.', '_' or '-'")
	}
	t, err := tx.Element(ctx, at.Kind, at.Key)
	if err != nil {
		return nil, false, err
	}
	if t.ArchivedAt != nil {
		return nil, false, tenancy.ErrNotFound
	}
	if at.ConnectionID == uuid.Nil && at.InstanceKey != "" {
		return nil, false, tenancy.Invalid("instanceKey", "needs a connection")
	}
	id := tenancy.NewID()
	_, err = tx.ExecContext(ctx, `INSERT INTO elements (workspace_id, id, tenant_id, connection_id, instance_key, kind, key, name, parent_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8)`, tx.Scope.WorkspaceID, id, at.TenantID, nullUUID(at.ConnectionID),
		at.InstanceKey, string(at.Kind), t.Key, t.ID)
	if isUniqueViolation(err, "") {
		return nil, false, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key", Message: "created by another request at the same time; retry"}}}
	}
	if err != nil {
		return nil, false, writeError("create customization", err)
	}
	e, err = tx.ElementByID(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return e, true, tx.Record(ctx, Activity{Type: "customization.created", TenantID: at.TenantID, ConnectionID: at.ConnectionID,
		IntegrationID: e.IntegrationID, ElementID: id, Message: fmt.Sprintf("%s %s customized", at.Kind.Title(), t.Key)})
}

// Customize applies ch to the tenant-level row at, creating it first when needed.
func (tx *Tx) Customize(ctx context.Context, at TenantElementAt, ch ElementChange) (*tenancy.Element, error) {
	e, _, err := tx.EnsureTenantLevelElement(ctx, at)
	if err != nil {
		return nil, err
	}
	return tx.ChangeTenantElement(ctx, e.ID, ch)
}

// ChangeTenantElement changes a tenant-level element: a customization keeps only what differs
// from its parent; a tenant-own element takes the config whole. The effective config is
// validated against its kind's schema.
func (tx *Tx) ChangeTenantElement(ctx context.Context, id uuid.UUID, ch ElementChange) (*tenancy.Element, error) {
	e, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.IsTemplate() {
		return nil, tenancy.ErrNotFound
	}
	desired := e.Effective
	switch ch.Mode {
	case ConfigMerge:
		if desired, err = tenancy.MergeConfig(e.Effective, ch.Config); err != nil {
			return nil, tenancy.Invalid("config", "%v", err)
		}
	case ConfigReplace:
		desired = ch.Config
		if desired == nil {
			desired = map[string]any{}
		}
	}
	override := desired
	if e.ParentID != uuid.Nil {
		if override, err = tenancy.ConfigOverride(e.ParentEffective, desired); err != nil {
			return nil, tenancy.Invalid("config", "%v", err)
		}
	}
	name := e.OwnName
	if ch.Name != nil {
		name = strings.TrimSpace(*ch.Name)
		if e.ParentID == uuid.Nil && name == "" {
			name = e.Key
		}
	}
	verr := &tenancy.ValidationError{}
	tenancy.ValidateElement(e.Kind, e.Key, name, e.Type, desired, verr)
	if err := verr.Err(); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE elements SET name = $3, config = $4, updated_at = now() WHERE workspace_id = $1 AND id = $2`,
		tx.Scope.WorkspaceID, id, name, marshalConfig(override)); err != nil {
		return nil, writeError("change element", err)
	}
	out, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	typ := "customization.updated"
	if e.ParentID == uuid.Nil {
		typ = string(e.Kind) + ".updated"
	}
	return out, tx.Record(ctx, Activity{Type: typ, TenantID: e.TenantID, ConnectionID: e.ConnectionID, IntegrationID: out.IntegrationID,
		ElementID: id, Message: fmt.Sprintf("%s %s changed for the tenant", e.Kind.Title(), e.Key),
		Details: map[string]any{"changes": changePaths(tenancy.ConfigChanges(e.Effective, out.Effective))}})
}

// ResetCustomization removes a customization's override (and name): the tenant uses the
// template again. The row stays, so a connection-level element keeps its id.
func (tx *Tx) ResetCustomization(ctx context.Context, id uuid.UUID) (*tenancy.Element, error) {
	e, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.IsTemplate() {
		return nil, tenancy.ErrNotFound
	}
	if e.ParentID == uuid.Nil {
		return nil, tenancy.Invalid("", "this is the tenant's own %s: it has no template to reset to", e.Kind)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE elements SET name = '', config = '{}', updated_at = now() WHERE workspace_id = $1 AND id = $2`,
		tx.Scope.WorkspaceID, id); err != nil {
		return nil, writeError("reset customization", err)
	}
	out, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return out, tx.Record(ctx, Activity{Type: "customization.reset", TenantID: e.TenantID, ConnectionID: e.ConnectionID,
		IntegrationID: out.IntegrationID, ElementID: id, Message: fmt.Sprintf("%s %s reset to the template", e.Kind.Title(), e.Key),
		Details: map[string]any{"removed": changePaths(tenancy.ConfigChanges(out.Effective, e.Effective))}})
}

// DeleteTenantElement deletes a tenant-level element (a customization or the tenant's own).
func (tx *Tx) DeleteTenantElement(ctx context.Context, id uuid.UUID) error {
	e, err := tx.ElementByID(ctx, id)
	if err != nil {
		return err
	}
	if e.IsTemplate() {
		return tenancy.ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM elements WHERE workspace_id = $1 AND id = $2`, tx.Scope.WorkspaceID, id); err != nil {
		return writeError("delete element", err)
	}
	typ := "customization.deleted"
	if e.ParentID == uuid.Nil {
		typ = string(e.Kind) + ".deleted"
	}
	return tx.Record(ctx, Activity{Type: typ, TenantID: e.TenantID, ConnectionID: e.ConnectionID, IntegrationID: e.IntegrationID,
		Message: fmt.Sprintf("%s %s deleted for the tenant", e.Kind.Title(), e.Key), Details: map[string]any{"elementId": id}})
}

// CreateTenantElement adds a tenant's own element (no template). Its key may not be a template's.
func (tx *Tx) CreateTenantElement(ctx context.Context, tenantID uuid.UUID, in ElementInput) (*tenancy.Element, error) {
	if !tx.Scope.WorkspaceWide() && tx.Scope.TenantID != tenantID {
		return nil, tenancy.ErrNotFound
	}
	in.UniversalParentID = uuid.Nil
	if err := tx.validateElement(ctx, &in); err != nil {
		return nil, err
	}
	if _, err := tx.Element(ctx, in.Kind, in.Key); err == nil {
		return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key",
			Message: fmt.Sprintf("the workspace has a %s with key %q: customize it instead", in.Kind, in.Key)}}}
	} else if err != tenancy.ErrNotFound {
		return nil, err
	}
	id := tenancy.NewID()
	_, err := tx.ExecContext(ctx, `INSERT INTO elements (workspace_id, id, tenant_id, kind, key, name, description, type, integration_id, config)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, tx.Scope.WorkspaceID, id, tenantID, string(in.Kind), in.Key, in.Name,
		in.Description, in.Type, nullUUID(in.IntegrationID), marshalConfig(in.Config))
	if isUniqueViolation(err, "") {
		return nil, keyConflict(in.Kind, in.Key)
	}
	if err != nil {
		return nil, writeError("create tenant element", err)
	}
	e, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return e, tx.Record(ctx, Activity{Type: string(in.Kind) + ".created", TenantID: tenantID, IntegrationID: in.IntegrationID,
		ElementID: id, Message: fmt.Sprintf("%s %s created for the tenant", in.Kind.Title(), in.Key)})
}

// EffectiveElement is the element a tenant's run uses: the connection's customization, else the
// tenant-wide one (or the tenant's own element), else the template — resolved. Every candidate
// comes back from one query, and resolving them needs no other (but a universe parent's config).
func (tx *Tx) EffectiveElement(ctx context.Context, at TenantElementAt) (*tenancy.Element, error) {
	els, err := tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.kind = $2 AND e.key = $3
		AND (e.tenant_id IS NULL OR (e.tenant_id = $4 AND e.instance_key IN ('', $6)
			AND (e.connection_id IS NULL OR e.connection_id = $5)))`,
		tx.Scope.WorkspaceID, string(at.Kind), at.Key, at.TenantID, nullUUID(at.ConnectionID), at.InstanceKey)
	if err != nil {
		return nil, err
	}
	var template, wide, conn *tenancy.Element
	for _, e := range els {
		switch {
		case e.IsTemplate():
			template = e
		case e.ConnectionID == uuid.Nil && e.InstanceKey == "":
			wide = e
		case at.ConnectionID != uuid.Nil && e.ConnectionID == at.ConnectionID && e.InstanceKey == at.InstanceKey:
			conn = e
		}
	}
	if err := tx.resolve(ctx, els); err != nil {
		return nil, err
	}
	switch {
	case conn != nil:
		return conn, nil
	case wide != nil:
		return wide, nil
	case template != nil && template.ArchivedAt == nil:
		return template, nil
	}
	return nil, tenancy.ErrNotFound
}

// TenantElement finds a tenant-level element of kind by id.
func (tx *Tx) TenantElement(ctx context.Context, kind tenancy.ElementKind, id uuid.UUID) (*tenancy.Element, error) {
	e, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.IsTemplate() || e.Kind != kind {
		return nil, tenancy.ErrNotFound
	}
	return e, nil
}

// TenantElementFilter selects tenant-level elements (Membrane's instance lists).
type TenantElementFilter struct {
	Kind          tenancy.ElementKind
	TenantID      uuid.UUID // Nil: every tenant in scope
	ConnectionID  uuid.UUID
	ParentID      uuid.UUID
	IntegrationID uuid.UUID
	Key           string
	InstanceKey   *string
	Search        string
	Limit         int
	Cursor        string
}

// ListTenantElements lists tenant-level elements, oldest first, resolved.
func (tx *Tx) ListTenantElements(ctx context.Context, f TenantElementFilter) (*ElementPage, error) {
	q := newListQuery(tx.Scope.WorkspaceID, f.Limit)
	q.conds[0] = "e." + q.conds[0]
	q.where("e.kind = " + q.arg(string(f.Kind)))
	q.where("e.tenant_id IS NOT NULL")
	if f.TenantID != uuid.Nil {
		q.where("e.tenant_id = " + q.arg(f.TenantID))
	}
	if f.ConnectionID != uuid.Nil {
		q.where("e.connection_id = " + q.arg(f.ConnectionID))
	}
	if f.ParentID != uuid.Nil {
		q.where("e.parent_id = " + q.arg(f.ParentID))
	}
	if f.Key != "" {
		q.where("e.key = " + q.arg(f.Key))
	}
	if f.InstanceKey != nil {
		q.where("e.instance_key = " + q.arg(*f.InstanceKey))
	}
	if f.IntegrationID != uuid.Nil {
		p := q.arg(f.IntegrationID)
		q.where("(e.integration_id = " + p + " OR EXISTS (SELECT 1 FROM elements t WHERE t.workspace_id = e.workspace_id AND t.id = e.parent_id AND t.integration_id = " + p + "))")
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		p := q.arg("%" + escapeLike(strings.ToLower(s)) + "%")
		q.where("(lower(e.key) LIKE " + p + " OR lower(e.name) LIKE " + p + ")")
	}
	if err := q.after(f.Cursor, "e."); err != nil {
		return nil, err
	}
	els, err := tx.queryElements(ctx, elementSelect+" WHERE "+q.sql("e."), q.args...)
	if err != nil {
		return nil, err
	}
	page := &ElementPage{}
	page.Items, page.Cursor = pageOf(els, q.limit, func(e *tenancy.Element) (time.Time, uuid.UUID) { return e.CreatedAt, e.ID })
	return page, tx.resolve(ctx, page.Items)
}
