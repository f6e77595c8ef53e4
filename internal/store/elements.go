package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"tenantry/internal/tenancy"
)

// Workspace elements: templates (tenant_id NULL) that every tenant of the workspace reads and
// only a workspace-wide scope writes — the elements_write policy refuses a tenant's writes to
// them whatever a handler does. A template may build on a universe element (universal parent):
// its config is then merged onto the universe element's.

const elementSelect = `SELECT e.id, e.kind, e.key, e.name, e.description, e.type, e.integration_id, coalesce(i.key, ''),
	e.tenant_id, e.connection_id, e.instance_key, e.parent_id, e.universal_parent_id, e.config, e.created_at, e.updated_at, e.archived_at
	FROM elements e LEFT JOIN integrations i ON i.workspace_id = e.workspace_id AND i.id = e.integration_id`

func scanElement(row interface{ Scan(...any) error }) (*tenancy.Element, error) {
	var e tenancy.Element
	var integ, tenant, conn, parent, uparent uuid.NullUUID
	var cfg []byte
	var archived sql.NullTime
	if err := row.Scan(&e.ID, &e.Kind, &e.Key, &e.OwnName, &e.Description, &e.Type, &integ, &e.IntegrationKey,
		&tenant, &conn, &e.InstanceKey, &parent, &uparent, &cfg, &e.CreatedAt, &e.UpdatedAt, &archived); err != nil {
		return nil, err
	}
	e.IntegrationID, e.TenantID, e.ConnectionID, e.ParentID, e.UniversalParentID = integ.UUID, tenant.UUID, conn.UUID, parent.UUID, uparent.UUID
	if err := json.Unmarshal(cfg, &e.Config); err != nil {
		return nil, fmt.Errorf("element config: %w", err)
	}
	if e.Config == nil {
		e.Config = map[string]any{}
	}
	e.Name = e.OwnName
	if archived.Valid {
		e.ArchivedAt = &archived.Time
	}
	return &e, nil
}

func (tx *Tx) queryElements(ctx context.Context, query string, args ...any) ([]*tenancy.Element, error) {
	rows, err := tx.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("elements: %w", err)
	}
	defer rows.Close()
	var out []*tenancy.Element
	for rows.Next() {
		e, err := scanElement(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ElementInput is a workspace element's (or a tenant-own element's) editable properties.
type ElementInput struct {
	Kind              tenancy.ElementKind
	Key               string
	Name              string
	Description       string
	Type              string // actions: http-request, …
	IntegrationID     uuid.UUID
	UniversalParentID uuid.UUID
	Config            map[string]any
}

// validate checks the input with its effective config (the universe parent's merged in).
func (tx *Tx) validateElement(ctx context.Context, in *ElementInput) error {
	verr := &tenancy.ValidationError{}
	if in.Name == "" {
		in.Name = in.Key
	}
	if in.Config == nil {
		in.Config = map[string]any{}
	}
	if len(in.Description) > 2000 || strings.ContainsRune(in.Description, 0) {
		verr.Add("description", "must be at most 2000 characters, without NUL")
	}
	effective := in.Config
	if in.UniversalParentID != uuid.Nil {
		var cfg []byte
		err := tx.GetContext(ctx, &cfg, `SELECT config FROM universe_elements WHERE id = $1 AND kind = $2`, in.UniversalParentID, string(in.Kind))
		if notFound(err) {
			verr.Add("universalParentId", "no universe %s with this id", in.Kind)
		} else if err != nil {
			return fmt.Errorf("universal parent: %w", err)
		} else {
			var base map[string]any
			_ = json.Unmarshal(cfg, &base)
			if effective, err = tenancy.MergeConfig(base, in.Config); err != nil {
				verr.Add("config", "cannot be merged onto the universal parent: %v", err)
			}
		}
	}
	tenancy.ValidateElement(in.Kind, in.Key, in.Name, in.Type, effective, verr)
	return verr.Err()
}

func marshalConfig(cfg map[string]any) string {
	if cfg == nil {
		return "{}"
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func keyConflict(kind tenancy.ElementKind, key string) error {
	return &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key",
		Message: fmt.Sprintf("a %s with key %q already exists", kind, key)}}}
}

// CreateElement adds a workspace element (a template).
func (tx *Tx) CreateElement(ctx context.Context, in ElementInput) (*tenancy.Element, error) {
	if !tx.Scope.WorkspaceWide() {
		return nil, tenancy.ErrForbidden
	}
	if err := tx.validateElement(ctx, &in); err != nil {
		return nil, err
	}
	id := tenancy.NewID()
	_, err := tx.ExecContext(ctx, `INSERT INTO elements (workspace_id, id, kind, key, name, description, type, integration_id,
			universal_parent_id, config)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, tx.Scope.WorkspaceID, id, string(in.Kind), in.Key, in.Name,
		in.Description, in.Type, nullUUID(in.IntegrationID), nullUUID(in.UniversalParentID), marshalConfig(in.Config))
	if isUniqueViolation(err, "") {
		return nil, keyConflict(in.Kind, in.Key)
	}
	if err != nil {
		return nil, writeError("create element", err)
	}
	e, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return e, tx.Record(ctx, Activity{Type: string(in.Kind) + ".created", ElementID: id, IntegrationID: in.IntegrationID,
		Message: fmt.Sprintf("%s %s created", in.Kind.Title(), in.Key)})
}

// UpdateElement replaces a workspace element's properties. Its customizations keep their
// overrides (and follow a new key); their effective configs follow the template elsewhere.
func (tx *Tx) UpdateElement(ctx context.Context, id uuid.UUID, in ElementInput) (*tenancy.Element, error) {
	if !tx.Scope.WorkspaceWide() {
		return nil, tenancy.ErrForbidden
	}
	cur, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !cur.IsTemplate() {
		return nil, tenancy.ErrNotFound
	}
	in.Kind = cur.Kind
	if err := tx.validateElement(ctx, &in); err != nil {
		return nil, err
	}
	if in.Key != cur.Key {
		// A tenant's own element may not share a template's key (CreateTenantElement refuses it);
		// a rename must not make one.
		var clash bool
		if err := tx.GetContext(ctx, &clash, `SELECT EXISTS (SELECT 1 FROM elements WHERE workspace_id = $1 AND kind = $2
			AND key = $3 AND tenant_id IS NOT NULL AND parent_id IS NULL)`, tx.Scope.WorkspaceID, string(in.Kind), in.Key); err != nil {
			return nil, fmt.Errorf("update element: %w", err)
		}
		if clash {
			return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key",
				Message: fmt.Sprintf("a tenant has its own %s with key %q", in.Kind, in.Key)}}}
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE elements SET key = $3, name = $4, description = $5, type = $6, integration_id = $7,
			universal_parent_id = $8, config = $9, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`, tx.Scope.WorkspaceID, id, in.Key, in.Name, in.Description, in.Type,
		nullUUID(in.IntegrationID), nullUUID(in.UniversalParentID), marshalConfig(in.Config))
	if err == nil && in.Key != cur.Key {
		_, err = tx.ExecContext(ctx, `UPDATE elements SET key = $3 WHERE workspace_id = $1 AND parent_id = $2`, tx.Scope.WorkspaceID, id, in.Key)
	}
	if isUniqueViolation(err, "") {
		return nil, keyConflict(in.Kind, in.Key)
	}
	if err != nil {
		return nil, writeError("update element", err)
	}
	e, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return e, tx.Record(ctx, Activity{Type: string(e.Kind) + ".updated", ElementID: id, IntegrationID: e.IntegrationID,
		Message: fmt.Sprintf("%s %s updated", e.Kind.Title(), e.Key),
		Details: map[string]any{"changes": changePaths(tenancy.ConfigChanges(cur.Config, e.Config))}})
}

func changePaths(cs []tenancy.ConfigChange) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = "config." + c.Path
	}
	return out
}

// SetElementArchived archives or restores a workspace element. Archived templates leave lists;
// customizations stay, ready for a restore.
func (tx *Tx) SetElementArchived(ctx context.Context, id uuid.UUID, archived bool) (*tenancy.Element, error) {
	if !tx.Scope.WorkspaceWide() {
		return nil, tenancy.ErrForbidden
	}
	var at *time.Time
	verb := "restored"
	if archived {
		now := time.Now()
		at, verb = &now, "archived"
	}
	res, err := tx.ExecContext(ctx, `UPDATE elements SET archived_at = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND tenant_id IS NULL`, tx.Scope.WorkspaceID, id, at)
	if err != nil {
		return nil, writeError("archive element", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, tenancy.ErrNotFound
	}
	e, err := tx.ElementByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return e, tx.Record(ctx, Activity{Type: string(e.Kind) + "." + verb, ElementID: id, IntegrationID: e.IntegrationID,
		Message: fmt.Sprintf("%s %s %s", e.Kind.Title(), e.Key, verb)})
}

// Element finds a workspace element of kind by id or key, with its effective config.
func (tx *Tx) Element(ctx context.Context, kind tenancy.ElementKind, selector string) (*tenancy.Element, error) {
	var els []*tenancy.Element
	var err error
	if id, perr := uuid.Parse(selector); perr == nil {
		els, err = tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.id = $2 AND e.kind = $3 AND e.tenant_id IS NULL`,
			tx.Scope.WorkspaceID, id, string(kind))
	} else {
		els, err = tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.key = $2 AND e.kind = $3 AND e.tenant_id IS NULL`,
			tx.Scope.WorkspaceID, selector, string(kind))
	}
	if err != nil {
		return nil, err
	}
	if len(els) == 0 {
		return nil, tenancy.ErrNotFound
	}
	return els[0], tx.resolve(ctx, els)
}

// ElementByID finds any element visible in scope by id, whatever its kind or level, resolved.
func (tx *Tx) ElementByID(ctx context.Context, id uuid.UUID) (*tenancy.Element, error) {
	els, err := tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.id = $2`, tx.Scope.WorkspaceID, id)
	if err != nil {
		return nil, err
	}
	if len(els) == 0 {
		return nil, tenancy.ErrNotFound
	}
	return els[0], tx.resolve(ctx, els)
}

// ElementFilter selects workspace elements.
type ElementFilter struct {
	Kind            tenancy.ElementKind // required
	IntegrationID   uuid.UUID
	Search          string // substring of key or name
	IncludeArchived bool
	Limit           int
	Cursor          string
}

// ElementPage is one page of elements, oldest first.
type ElementPage struct {
	Items  []*tenancy.Element
	Cursor string
}

// ListElements lists the workspace's elements of one kind, with effective configs.
func (tx *Tx) ListElements(ctx context.Context, f ElementFilter) (*ElementPage, error) {
	q := newListQuery(tx.Scope.WorkspaceID, f.Limit)
	q.conds[0] = "e." + q.conds[0]
	q.where("e.kind = " + q.arg(string(f.Kind)))
	q.where("e.tenant_id IS NULL")
	if !f.IncludeArchived {
		q.where("e.archived_at IS NULL")
	}
	if f.IntegrationID != uuid.Nil {
		q.where("e.integration_id = " + q.arg(f.IntegrationID))
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

// resolve fills Effective, ParentEffective and Name of each element: universe parent, then
// template, then the tenant-wide customization (for connection-level rows), then the row
// itself. It loads what the elements refer to in at most three queries, whatever their number.
func (tx *Tx) resolve(ctx context.Context, els []*tenancy.Element) error {
	templates := map[uuid.UUID]*tenancy.Element{}
	for _, e := range els {
		if e.IsTemplate() {
			templates[e.ID] = e
		}
	}
	var missing []string
	for _, e := range els {
		if e.ParentID != uuid.Nil && templates[e.ParentID] == nil {
			missing = append(missing, e.ParentID.String())
		}
	}
	if len(missing) > 0 {
		ts, err := tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.id = ANY($2::uuid[]) AND e.tenant_id IS NULL`,
			tx.Scope.WorkspaceID, pq.Array(missing))
		if err != nil {
			return err
		}
		for _, t := range ts {
			templates[t.ID] = t
		}
	}
	// Universe configs of every template involved.
	universe := map[uuid.UUID]map[string]any{}
	var uids []string
	for _, t := range templates {
		if t.UniversalParentID != uuid.Nil {
			uids = append(uids, t.UniversalParentID.String())
		}
	}
	if len(uids) > 0 {
		rows, err := tx.QueryxContext(ctx, `SELECT id, config FROM universe_elements WHERE id = ANY($1::uuid[])`, pq.Array(uids))
		if err != nil {
			return fmt.Errorf("universe parents: %w", err)
		}
		for rows.Next() {
			var id uuid.UUID
			var cfg []byte
			if err := rows.Scan(&id, &cfg); err != nil {
				rows.Close()
				return err
			}
			var m map[string]any
			_ = json.Unmarshal(cfg, &m)
			universe[id] = m
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	// Tenant-wide customizations under connection-level rows.
	type tk struct{ tenant, parent uuid.UUID }
	wide := map[tk]*tenancy.Element{}
	var tenants, parents []string
	for _, e := range els {
		if e.ConnectionID != uuid.Nil && e.ParentID != uuid.Nil {
			tenants = append(tenants, e.TenantID.String())
			parents = append(parents, e.ParentID.String())
		}
		if e.TenantID != uuid.Nil && e.ConnectionID == uuid.Nil && e.InstanceKey == "" && e.ParentID != uuid.Nil {
			wide[tk{e.TenantID, e.ParentID}] = e
		}
	}
	if len(tenants) > 0 {
		ws, err := tx.queryElements(ctx, elementSelect+` WHERE e.workspace_id = $1 AND e.tenant_id = ANY($2::uuid[])
			AND e.parent_id = ANY($3::uuid[]) AND e.connection_id IS NULL AND e.instance_key = ''`,
			tx.Scope.WorkspaceID, pq.Array(tenants), pq.Array(parents))
		if err != nil {
			return err
		}
		for _, w := range ws {
			wide[tk{w.TenantID, w.ParentID}] = w
		}
	}
	templateEffective := func(t *tenancy.Element) (map[string]any, error) {
		if t.Effective != nil {
			return t.Effective, nil
		}
		eff, err := tenancy.MergeChain(universe[t.UniversalParentID], t.Config)
		t.Effective = eff
		return eff, err
	}
	for _, e := range els {
		switch {
		case e.IsTemplate():
			if _, err := templateEffective(e); err != nil {
				return err
			}
		case e.ParentID == uuid.Nil: // tenant-own
			e.Effective = e.Config
		default:
			t := templates[e.ParentID]
			if t == nil {
				return fmt.Errorf("element %s: template %s not found", e.ID, e.ParentID)
			}
			parent, err := templateEffective(t)
			if err != nil {
				return err
			}
			name := t.Name
			if e.ConnectionID != uuid.Nil {
				if w := wide[tk{e.TenantID, e.ParentID}]; w != nil {
					if parent, err = tenancy.MergeConfig(parent, w.Config); err != nil {
						return err
					}
					if w.OwnName != "" {
						name = w.OwnName
					}
				}
			}
			e.ParentEffective = parent
			if e.Effective, err = tenancy.MergeConfig(parent, e.Config); err != nil {
				return err
			}
			if e.Type == "" {
				e.Type = t.Type
			}
			if e.IntegrationID == uuid.Nil {
				e.IntegrationID, e.IntegrationKey = t.IntegrationID, t.IntegrationKey
			}
			if e.Description == "" {
				e.Description = t.Description
			}
			e.Name = name
			if e.OwnName != "" {
				e.Name = e.OwnName
			}
		}
	}
	return nil
}
