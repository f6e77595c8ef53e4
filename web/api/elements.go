package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Workspace elements (templates) of every kind, through one set of handlers driven by a table:
// GET/POST /{plural}, GET/PATCH/PUT/DELETE /{plural}/{selector}, POST /{plural}/{selector}/restore
// and the object-selector forms /{singular}?key=&integrationKey= (SDK-CONTRACT §2, §3.5–3.8).
// Tenant tokens read them; only a workspace token changes them.

// apiKind is one element kind as the API names it.
type apiKind struct {
	kind     tenancy.ElementKind
	plural   string // actions
	singular string // action
	// parentID and parentKey are the query parameters (besides parentId, parentKey) that name a
	// tenant-level element's template: flowId / flowKey for flows, and so on.
	parentID, parentKey string
	// tenantLevel: the kind has connection-level routes and instance routes.
	tenantLevel bool
	// aliases are config properties also accepted as top-level body properties, as Membrane's
	// SDK sends them (PATCH /field-mapping-instance {"importValue": …}).
	aliases []string
}

var apiKinds = []apiKind{
	{kind: tenancy.KindAction, plural: "actions", singular: "action", parentID: "parentId", parentKey: "parentKey", tenantLevel: true},
	{kind: tenancy.KindFlow, plural: "flows", singular: "flow", parentID: "flowId", parentKey: "flowKey", tenantLevel: true},
	{kind: tenancy.KindDataSource, plural: "data-sources", singular: "data-source", parentID: "dataSourceId", parentKey: "dataSourceKey", tenantLevel: true,
		aliases: []string{"collectionKey", "collectionParameters", "pullUpdatesIntervalSeconds", "fullSyncIntervalSeconds"}},
	{kind: tenancy.KindFieldMapping, plural: "field-mappings", singular: "field-mapping", parentID: "fieldMappingId", parentKey: "fieldMappingKey", tenantLevel: true,
		aliases: []string{"direction", "dataSourceKey", "importValue", "exportValue"}},
	{kind: tenancy.KindConnector, plural: "connectors", singular: "connector", parentID: "parentId", parentKey: "parentKey"},
}

func (a *API) elementRoutes() []Route {
	var rs []Route
	for _, k := range apiKinds {
		p, s := "/"+k.plural, "/"+k.singular
		rs = append(rs,
			Route{Method: "GET", Path: p, handle: a.listElements(k)},
			Route{Method: "POST", Path: p, handle: a.createElement(k)},
			Route{Method: "GET", Path: p + "/{selector}", handle: a.getElement(k)},
			Route{Method: "PATCH", Path: p + "/{selector}", handle: a.changeElement(k, false)},
			Route{Method: "PUT", Path: p + "/{selector}", handle: a.changeElement(k, true)},
			Route{Method: "DELETE", Path: p + "/{selector}", handle: a.archiveElement(k, true)},
			Route{Method: "POST", Path: p + "/{selector}/restore", handle: a.archiveElement(k, false)},
			Route{Method: "GET", Path: s, handle: a.getElement(k)},
			Route{Method: "PATCH", Path: s, handle: a.changeElement(k, false)},
			Route{Method: "PUT", Path: s, handle: a.changeElement(k, true)},
			Route{Method: "DELETE", Path: s, handle: a.archiveElement(k, true)},
			Route{Method: "POST", Path: s + "/restore", handle: a.archiveElement(k, false)},
		)
	}
	return rs
}

// Element is an element as the API shows it: a template (layer "integration"), a universe
// element (layer "universal") or a tenant-level one (layer "tenant" for a tenant-wide
// customization or tenant-own element, "connection" for a connection's). Config is always the
// effective config; a tenant-level element adds what it stores (override) and its parent.
type Element struct {
	ID                string         `json:"id"`
	Key               string         `json:"key"`
	Name              string         `json:"name"`
	Description       string         `json:"description"`
	Type              string         `json:"type,omitempty"`
	Layer             string         `json:"layer"`
	IsUniversal       bool           `json:"isUniversal"`
	IntegrationID     string         `json:"integrationId,omitempty"`
	IntegrationKey    string         `json:"integrationKey,omitempty"`
	UniversalParentID string         `json:"universalParentId,omitempty"`
	AppKey            string         `json:"appKey,omitempty"`
	Config            map[string]any `json:"config"`
	IsCustomized      bool           `json:"isCustomized"`

	// Tenant level only.
	Status         string          `json:"status,omitempty"` // inherited, customized, tenant-only
	ParentID       string          `json:"parentId,omitempty"`
	FlowID         string          `json:"flowId,omitempty"`
	DataSourceID   string          `json:"dataSourceId,omitempty"`
	FieldMappingID string          `json:"fieldMappingId,omitempty"`
	ConnectionID   string          `json:"connectionId,omitempty"`
	InstanceKey    string          `json:"instanceKey,omitempty"`
	UserID         string          `json:"userId,omitempty"`
	TenantID       string          `json:"tenantId,omitempty"`
	Override       *map[string]any `json:"override,omitempty"`
	Parent         *ElementParent  `json:"parent,omitempty"`

	CreatedAt  time.Time  `json:"createdAt,omitzero"`
	UpdatedAt  time.Time  `json:"updatedAt,omitzero"`
	ArchivedAt *time.Time `json:"archivedAt,omitempty"`
}

// ElementParent is what a tenant-level element builds on: its template, with the effective
// config the layers above give (for a connection's element, the tenant-wide customization too).
type ElementParent struct {
	ID     string         `json:"id"`
	Key    string         `json:"key"`
	Name   string         `json:"name"`
	Config map[string]any `json:"config"`
}

func idString(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// elementView renders elements inside one transaction, loading each template a tenant-level
// element refers to once.
type elementView struct {
	ctx     context.Context
	tx      *store.Tx
	parents map[uuid.UUID]*tenancy.Element
}

func newElementView(ctx context.Context, tx *store.Tx) *elementView {
	return &elementView{ctx: ctx, tx: tx, parents: map[uuid.UUID]*tenancy.Element{}}
}

func (v *elementView) of(e *tenancy.Element) (*Element, error) {
	out := &Element{ID: e.ID.String(), Key: e.Key, Name: e.Name, Description: e.Description, Type: e.Type, Layer: "integration",
		IntegrationID: idString(e.IntegrationID), IntegrationKey: e.IntegrationKey, UniversalParentID: idString(e.UniversalParentID),
		Config: orEmptyMap(e.Effective), IsCustomized: e.IsCustomized(), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, ArchivedAt: e.ArchivedAt}
	if e.IsTemplate() {
		return out, nil
	}
	out.Layer = "tenant"
	if e.ConnectionID != uuid.Nil {
		out.Layer = "connection"
	}
	override := orEmptyMap(e.Config)
	out.Status, out.Override = e.Status(), &override
	out.ConnectionID, out.InstanceKey = idString(e.ConnectionID), e.InstanceKey
	out.UserID, out.TenantID = e.TenantID.String(), e.TenantID.String()
	if e.ParentID == uuid.Nil {
		return out, nil
	}
	pid := e.ParentID.String()
	out.ParentID = pid
	switch e.Kind {
	case tenancy.KindFlow:
		out.FlowID = pid
	case tenancy.KindDataSource:
		out.DataSourceID = pid
	case tenancy.KindFieldMapping:
		out.FieldMappingID = pid
	}
	t, ok := v.parents[e.ParentID]
	if !ok {
		var err error
		if t, err = v.tx.Element(v.ctx, e.Kind, pid); err != nil && err != tenancy.ErrNotFound {
			return nil, err
		}
		v.parents[e.ParentID] = t
	}
	if t != nil {
		out.UniversalParentID = idString(t.UniversalParentID)
		out.Parent = &ElementParent{ID: pid, Key: t.Key, Name: t.Name, Config: orEmptyMap(e.ParentEffective)}
	}
	return out, nil
}

func (v *elementView) list(els []*tenancy.Element) ([]*Element, error) {
	out := make([]*Element, len(els))
	for i, e := range els {
		var err error
		if out[i], err = v.of(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// universalElement shows a universe element in an element list (layer=universal).
func universalElement(u *tenancy.UniverseElement) *Element {
	return &Element{ID: u.ID.String(), Key: u.Key, Name: u.Name, Description: u.Description, Type: u.Type, Layer: "universal",
		IsUniversal: true, AppKey: u.AppKey, Config: orEmptyMap(u.Config)}
}

// elementInput is the body of POST, PATCH and PUT on elements, workspace or tenant level. The
// read-only properties of Element may be sent back and are ignored (a tenant-level write refuses
// a change to what only the template decides).
type elementInput struct {
	Key               optional[string]         `json:"key"`
	Name              optional[string]         `json:"name"`
	Description       optional[string]         `json:"description"`
	Type              optional[string]         `json:"type"`
	IntegrationID     optional[string]         `json:"integrationId"`
	IntegrationKey    optional[string]         `json:"integrationKey"`
	UniversalParentID optional[string]         `json:"universalParentId"`
	Config            optional[map[string]any] `json:"config"`

	// Config properties Membrane's SDK sends at the top level (see apiKind.aliases).
	CollectionKey              optional[any] `json:"collectionKey"`
	CollectionParameters       optional[any] `json:"collectionParameters"`
	PullUpdatesIntervalSeconds optional[any] `json:"pullUpdatesIntervalSeconds"`
	FullSyncIntervalSeconds    optional[any] `json:"fullSyncIntervalSeconds"`
	Direction                  optional[any] `json:"direction"`
	DataSourceKey              optional[any] `json:"dataSourceKey"`
	ImportValue                optional[any] `json:"importValue"`
	ExportValue                optional[any] `json:"exportValue"`

	ID             json.RawMessage `json:"id"`
	Layer          json.RawMessage `json:"layer"`
	IsUniversal    json.RawMessage `json:"isUniversal"`
	AppKey         json.RawMessage `json:"appKey"`
	IsCustomized   json.RawMessage `json:"isCustomized"`
	Status         json.RawMessage `json:"status"`
	ParentID       json.RawMessage `json:"parentId"`
	FlowID         json.RawMessage `json:"flowId"`
	DataSourceID   json.RawMessage `json:"dataSourceId"`
	FieldMappingID json.RawMessage `json:"fieldMappingId"`
	ConnectionID   json.RawMessage `json:"connectionId"`
	InstanceKey    json.RawMessage `json:"instanceKey"`
	UserID         json.RawMessage `json:"userId"`
	TenantID       json.RawMessage `json:"tenantId"`
	Override       json.RawMessage `json:"override"`
	Parent         json.RawMessage `json:"parent"`
	CreatedAt      json.RawMessage `json:"createdAt"`
	UpdatedAt      json.RawMessage `json:"updatedAt"`
	ArchivedAt     json.RawMessage `json:"archivedAt"`
}

func (in *elementInput) aliasValues() map[string]optional[any] {
	return map[string]optional[any]{
		"collectionKey": in.CollectionKey, "collectionParameters": in.CollectionParameters,
		"pullUpdatesIntervalSeconds": in.PullUpdatesIntervalSeconds, "fullSyncIntervalSeconds": in.FullSyncIntervalSeconds,
		"direction": in.Direction, "dataSourceKey": in.DataSourceKey, "importValue": in.ImportValue, "exportValue": in.ExportValue,
	}
}

// check refuses nulls where a value is needed and top-level config properties of another kind.
func (in *elementInput) check(k apiKind) error {
	verr := &tenancy.ValidationError{}
	for _, f := range []struct {
		name string
		o    optional[string]
	}{{"key", in.Key}, {"name", in.Name}, {"type", in.Type}} {
		if f.o.Set && f.o.Value == nil {
			verr.Add(f.name, "must be a string")
		}
	}
	if in.Config.Set && in.Config.Value == nil {
		verr.Add("config", "must be an object")
	}
	aliases := in.aliasValues()
	for _, name := range allAliases {
		if aliases[name].Set && !slices.Contains(k.aliases, name) {
			verr.Add(name, "is not a property of a %s", k.kind)
		}
	}
	return verr.Err()
}

// allAliases are every kind's top-level config properties, in a fixed order.
var allAliases = []string{"collectionKey", "collectionParameters", "pullUpdatesIntervalSeconds", "fullSyncIntervalSeconds",
	"direction", "dataSourceKey", "importValue", "exportValue"}

// config returns the body's config with the top-level aliases folded in (nil when neither is
// given). For a merge patch a null alias stays null (it removes the key); otherwise it is dropped.
func (in *elementInput) config(patch bool) (map[string]any, bool) {
	set := in.Config.Set && in.Config.Value != nil
	out := map[string]any{}
	if set {
		for k, v := range *in.Config.Value {
			out[k] = v
		}
	}
	for name, o := range in.aliasValues() {
		if !o.Set {
			continue
		}
		set = true
		switch {
		case o.Value != nil:
			out[name] = *o.Value
		case patch:
			out[name] = nil
		default:
			delete(out, name)
		}
	}
	if !set {
		return nil, false
	}
	return out, true
}

// workspaceWrite refuses changes to workspace-level data (integrations, templates) by tenant tokens.
func workspaceWrite(r *http.Request) error {
	if !callerFrom(r.Context()).scope.WorkspaceWide() {
		return apiError(http.StatusForbidden, "access_denied",
			"a tenant token may read integrations and workspace elements but not change them; customize them through /connections/{id}/…")
	}
	return nil
}

// integrationOf resolves the integration an element body or filter names by id or key; path
// names the property for errors. ok is false when neither is given.
func integrationOf(ctx context.Context, tx *store.Tx, id, key, path string) (*tenancy.Integration, bool, error) {
	sel := id
	if sel == "" {
		sel = key
	}
	if sel == "" {
		return nil, false, nil
	}
	in, err := tx.Integration(ctx, sel)
	if err == tenancy.ErrNotFound {
		return nil, true, tenancy.Invalid(path, "no integration with this id or key")
	}
	if err != nil {
		return nil, true, err
	}
	if id != "" && key != "" && in.Key != key && in.ID.String() != key {
		return nil, true, tenancy.Invalid(path, "integrationId and integrationKey name different integrations")
	}
	return in, true, nil
}

func (a *API) listElements(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := newQuery(r)
		universal, err := q.boolean("isUniversal")
		if err != nil {
			return err
		}
		switch layer := q.str("layer"); {
		case layer == "universal" || (layer == "" && universal != nil && *universal):
			return a.listUniversal(w, r, k.kind)
		case layer == "connection" || layer == "tenant":
			return a.listTenantLevel(w, r, k)
		case layer == "":
			// Without a layer, naming a connection, tenant or template asks for tenant-level rows.
			for _, p := range []string{"connectionId", "connectionKey", "tenantId", "userId", "parentId", k.parentID, "instanceKey"} {
				if q.str(p) != "" {
					return a.listTenantLevel(w, r, k)
				}
			}
		case layer == "integration":
		default:
			return badQuery("layer", "must be universal, integration or connection")
		}
		limit, err := q.limit(100, 1000)
		if err != nil {
			return err
		}
		archived, err := q.boolean("includeArchived")
		if err != nil {
			return err
		}
		f := store.ElementFilter{Kind: k.kind, Search: q.str("search"), IncludeArchived: deref(archived), Limit: limit, Cursor: q.str("cursor")}
		return a.writeElementPage(w, r, f, q.str("integrationId"), q.str("integrationKey"))
	}
}

// writeElementPage lists templates; an integration that does not exist selects nothing.
func (a *API) writeElementPage(w http.ResponseWriter, r *http.Request, f store.ElementFilter, integrationID, integrationKey string) error {
	var out listResponse[*Element]
	err := a.inScope(r, func(tx *store.Tx) error {
		in, named, err := integrationOf(r.Context(), tx, integrationID, integrationKey, "integrationKey")
		if _, bad := tenancy.AsValidation(err); bad {
			out.Items = []*Element{}
			return nil
		}
		if err != nil {
			return err
		}
		if named {
			f.IntegrationID = in.ID
		}
		page, err := tx.ListElements(r.Context(), f)
		if err != nil {
			return err
		}
		out.Cursor = page.Cursor
		out.Items, err = newElementView(r.Context(), tx).list(page.Items)
		return err
	})
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) listUniversal(w http.ResponseWriter, r *http.Request, kind tenancy.ElementKind) error {
	q := newQuery(r)
	limit, err := q.limit(100, 1000)
	if err != nil {
		return err
	}
	out := listResponse[*Element]{Items: []*Element{}}
	err = a.inScope(r, func(tx *store.Tx) error {
		page, err := tx.ListUniverse(r.Context(), store.UniverseFilter{Kind: kind, App: q.str("app"), Search: q.str("search"),
			Limit: limit, Cursor: q.str("cursor")})
		if err != nil {
			return err
		}
		out = listOf(page.Items, page.Cursor, universalElement)
		return nil
	})
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// elementSelector reads a template selector from the path or, on the singular routes, from the
// query (id or key, with an optional integrationKey / integrationId to check).
func elementSelector(r *http.Request) (selector, integrationID, integrationKey string) {
	q := newQuery(r)
	integrationID, integrationKey = q.str("integrationId"), q.str("integrationKey")
	if s := r.PathValue("selector"); s != "" {
		return s, integrationID, integrationKey
	}
	if s := q.str("id"); s != "" {
		return s, integrationID, integrationKey
	}
	return q.str("key"), integrationID, integrationKey
}

// findElement finds the template the request names; 404 when its integration is not the one named.
func findElement(r *http.Request, tx *store.Tx, k apiKind) (*tenancy.Element, error) {
	sel, integID, integKey := elementSelector(r)
	if sel == "" {
		return nil, apiError(http.StatusBadRequest, "invalid_selection", "name the "+string(k.kind)+" by id or key")
	}
	e, err := tx.Element(r.Context(), k.kind, sel)
	if err != nil {
		return nil, err
	}
	if (integID != "" && integID != e.IntegrationID.String() && integID != e.IntegrationKey) ||
		(integKey != "" && integKey != e.IntegrationKey && integKey != e.IntegrationID.String()) {
		return nil, tenancy.ErrNotFound
	}
	return e, nil
}

func (a *API) getElement(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var out *Element
		err := a.inScope(r, func(tx *store.Tx) error {
			e, err := findElement(r, tx, k)
			if err != nil {
				return err
			}
			out, err = newElementView(r.Context(), tx).of(e)
			return err
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

func (a *API) createElement(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := workspaceWrite(r); err != nil {
			return err
		}
		var in elementInput
		if err := decodeBody(w, r, &in); err != nil {
			return err
		}
		if err := in.check(k); err != nil {
			return err
		}
		var out *Element
		err := a.inScope(r, func(tx *store.Tx) error {
			ei := store.ElementInput{Kind: k.kind, Key: deref(in.Key.Value), Name: deref(in.Name.Value),
				Description: deref(in.Description.Value), Type: deref(in.Type.Value)}
			ei.Config, _ = in.config(false)
			if err := a.elementRefs(r.Context(), tx, k, &in, &ei); err != nil {
				return err
			}
			e, err := tx.CreateElement(r.Context(), ei)
			if err != nil {
				return err
			}
			out, err = newElementView(r.Context(), tx).of(e)
			return err
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, out)
		return nil
	}
}

// elementRefs resolves the integration and universal parent a body names into ei.
func (a *API) elementRefs(ctx context.Context, tx *store.Tx, k apiKind, in *elementInput, ei *store.ElementInput) error {
	if in.IntegrationID.Set || in.IntegrationKey.Set {
		path := "integrationKey"
		if in.IntegrationID.Set && !in.IntegrationKey.Set {
			path = "integrationId"
		}
		integ, named, err := integrationOf(ctx, tx, deref(in.IntegrationID.Value), deref(in.IntegrationKey.Value), path)
		if err != nil {
			return err
		}
		ei.IntegrationID = uuid.Nil
		if named {
			ei.IntegrationID = integ.ID
		}
	}
	if in.UniversalParentID.Set {
		ei.UniversalParentID = uuid.Nil
		if s := deref(in.UniversalParentID.Value); s != "" {
			u, err := tx.UniverseElement(ctx, k.kind, s)
			if err == tenancy.ErrNotFound {
				return tenancy.Invalid("universalParentId", "no universe %s with this id or key", k.kind)
			}
			if err != nil {
				return err
			}
			ei.UniversalParentID = u.ID
		}
	}
	return nil
}

// changeElement applies a PATCH (config merged as an RFC 7386 merge patch onto the stored
// config, other properties changed when given) or a PUT (every property replaced; an absent key
// keeps the current one).
func (a *API) changeElement(k apiKind, replace bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := workspaceWrite(r); err != nil {
			return err
		}
		var in elementInput
		if err := decodeBody(w, r, &in); err != nil {
			return err
		}
		if err := in.check(k); err != nil {
			return err
		}
		var out *Element
		err := a.inScope(r, func(tx *store.Tx) error {
			cur, err := findElement(r, tx, k)
			if err != nil {
				return err
			}
			ei := store.ElementInput{Kind: k.kind, Key: cur.Key, Name: cur.OwnName, Description: cur.Description, Type: cur.Type,
				IntegrationID: cur.IntegrationID, UniversalParentID: cur.UniversalParentID, Config: cur.Config}
			cfg, hasCfg := in.config(!replace)
			if replace {
				ei = store.ElementInput{Kind: k.kind, Key: cur.Key, Config: cfg}
			} else if hasCfg {
				if ei.Config, err = tenancy.MergeConfig(cur.Config, cfg); err != nil {
					return tenancy.Invalid("config", "%v", err)
				}
			}
			if in.Key.Value != nil {
				ei.Key = *in.Key.Value
			}
			if in.Name.Value != nil {
				ei.Name = *in.Name.Value
			}
			if in.Description.Value != nil {
				ei.Description = *in.Description.Value
			} else if in.Description.Set {
				ei.Description = ""
			}
			if in.Type.Value != nil {
				ei.Type = *in.Type.Value
			}
			if err := a.elementRefs(r.Context(), tx, k, &in, &ei); err != nil {
				return err
			}
			e, err := tx.UpdateElement(r.Context(), cur.ID, ei)
			if err != nil {
				return err
			}
			out, err = newElementView(r.Context(), tx).of(e)
			return err
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// archiveElement archives (DELETE) or restores a template and returns it.
func (a *API) archiveElement(k apiKind, archive bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := workspaceWrite(r); err != nil {
			return err
		}
		var out *Element
		err := a.inScope(r, func(tx *store.Tx) error {
			cur, err := findElement(r, tx, k)
			if err != nil {
				return err
			}
			e, err := tx.SetElementArchived(r.Context(), cur.ID, archive)
			if err != nil {
				return err
			}
			out, err = newElementView(r.Context(), tx).of(e)
			return err
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}
