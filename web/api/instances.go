package api

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Tenant-level elements: what Membrane's SDK calls connection-level elements and instances
// (SDK-CONTRACT §2, §3.5–3.8). Each is a tenant's customization of a template (tenant-wide or
// for one connection, optionally with an instance key) or the tenant's own element.
//
//	/connections/{selector}/{plural}[/{key}[/reset]]   the connection decides the tenant
//	/{singular}-instances[/{id}/reset]                 lists, reset by id
//	/{singular}-instance[/reset]?id=… | ?<selector>    one element by id or by template + connection
//
// Row-level security keeps a tenant token to its own tenant: another tenant's connection or
// element is not found (404). Workspace tokens reach every tenant.

func (a *API) instanceRoutes() []Route {
	var rs []Route
	for _, k := range apiKinds {
		if !k.tenantLevel {
			continue
		}
		c := "/connections/{selector}/" + k.plural
		i := "/" + k.singular + "-instance"
		rs = append(rs,
			Route{Method: "GET", Path: c, handle: a.listConnectionElements(k)},
			Route{Method: "GET", Path: c + "/{key}", handle: a.getInstance(k)},
			Route{Method: "PUT", Path: c + "/{key}", handle: a.putInstance(k)},
			Route{Method: "PATCH", Path: c + "/{key}", handle: a.patchInstance(k)},
			Route{Method: "DELETE", Path: c + "/{key}", handle: a.deleteInstance(k)},
			Route{Method: "POST", Path: c + "/{key}/reset", handle: a.resetInstance(k)},
			Route{Method: "GET", Path: i + "s", handle: a.listInstances(k)},
			Route{Method: "POST", Path: i + "s/{id}/reset", handle: a.resetInstance(k)},
			Route{Method: "GET", Path: i, handle: a.getInstance(k)},
			Route{Method: "POST", Path: i, handle: a.createInstance(k)},
			Route{Method: "PUT", Path: i, handle: a.putInstance(k)},
			Route{Method: "PATCH", Path: i, handle: a.patchInstance(k)},
			Route{Method: "DELETE", Path: i, handle: a.deleteInstance(k)},
			Route{Method: "POST", Path: i + "/reset", handle: a.resetInstance(k)},
		)
	}
	return rs
}

// instanceSel names one tenant-level element: by id, or by its template (key or id), the
// connection (or, without one, the tenant: tenant-wide) and the instance key.
type instanceSel struct {
	id          string // the element's own id
	key         string // the template's key (or a UUID: the template's or the element's id)
	parentID    string
	connection  string // id or key
	tenant      string // id or internalId
	instanceKey string
	autoCreate  bool
}

// selectInstance reads the selector from the path (/connections/{selector}/{plural}/{key},
// /{singular}-instances/{id}/reset) or the query.
func selectInstance(r *http.Request, k apiKind) (instanceSel, error) {
	q := newQuery(r)
	s := instanceSel{id: r.PathValue("id"), key: r.PathValue("key"), connection: r.PathValue("selector"), instanceKey: q.str("instanceKey")}
	auto, err := q.boolean("autoCreate")
	if err != nil {
		return s, err
	}
	s.autoCreate = deref(auto)
	if s.id != "" || s.connection != "" {
		return s, nil
	}
	s.id = q.str("id")
	s.key = firstOf(q, "parentKey", k.parentKey, "key")
	s.parentID = firstOf(q, "parentId", k.parentID)
	s.connection = firstOf(q, "connectionId", "connectionKey")
	s.tenant = firstOf(q, "userId", "tenantId")
	if s.id == "" && s.key == "" && s.parentID == "" {
		return s, apiError(http.StatusBadRequest, "invalid_selection",
			"name the "+string(k.kind)+" instance by id, or by "+k.parentKey+" (or "+k.parentID+") with connectionId")
	}
	return s, nil
}

func firstOf(q query, names ...string) string {
	for _, n := range names {
		if v := q.str(n); v != "" {
			return v
		}
	}
	return ""
}

// at resolves where a selector points: the tenant and connection, and the template's key.
func (s instanceSel) at(ctx context.Context, tx *store.Tx, k apiKind) (store.TenantElementAt, *tenancy.Element, error) {
	at := store.TenantElementAt{Kind: k.kind, Key: s.key, InstanceKey: s.instanceKey}
	var conn *tenancy.Connection
	if s.connection != "" {
		var err error
		if conn, err = tx.Connection(ctx, s.connection); err != nil {
			return at, nil, err
		}
		at.TenantID, at.ConnectionID = conn.TenantID, conn.ID
	}
	if s.tenant != "" {
		t, err := tx.Tenant(ctx, s.tenant)
		if err != nil {
			return at, nil, err
		}
		if conn != nil && conn.TenantID != t.ID {
			return at, nil, tenancy.ErrNotFound
		}
		at.TenantID = t.ID
	}
	if at.TenantID == uuid.Nil {
		if tx.Scope.WorkspaceWide() {
			return at, nil, apiError(http.StatusBadRequest, "invalid_selection",
				"a workspace token must name the connection (connectionId) or the tenant (userId or tenantId)")
		}
		at.TenantID = tx.Scope.TenantID
	}
	// A UUID in the key's place is the template's id, or the element's own.
	if id, err := uuid.Parse(at.Key); err == nil {
		if e, err := tx.TenantElement(ctx, k.kind, id); err == nil && e.TenantID == at.TenantID && e.ConnectionID == at.ConnectionID {
			return at, e, nil
		}
		s.parentID, at.Key = at.Key, ""
	}
	if at.Key == "" && s.parentID != "" {
		t, err := tx.Element(ctx, k.kind, s.parentID)
		if err != nil {
			return at, nil, err
		}
		at.Key = t.Key
	}
	return at, nil, nil
}

// find returns the element s names: ErrNotFound when there is none, unless create (then an
// empty customization of the template is made).
func (s instanceSel) find(ctx context.Context, tx *store.Tx, k apiKind, create bool) (*tenancy.Element, error) {
	if s.id != "" {
		id, err := uuid.Parse(s.id)
		if err != nil {
			return nil, tenancy.ErrNotFound
		}
		return tx.TenantElement(ctx, k.kind, id)
	}
	at, e, err := s.at(ctx, tx, k)
	if err != nil || e != nil {
		return e, err
	}
	if create {
		e, _, err = tx.EnsureTenantLevelElement(ctx, at)
		return e, err
	}
	return tx.TenantLevelElement(ctx, at)
}

// tenantChange reads a tenant-level body: name and config (with the kind's top-level config
// properties). What only the template decides may be echoed back unchanged, not changed.
func tenantChange(in *elementInput, cur *tenancy.Element, replace bool) (store.ElementChange, error) {
	verr := &tenancy.ValidationError{}
	fixed := func(path string, o optional[string], want ...string) {
		if !o.Set {
			return
		}
		v := deref(o.Value)
		for _, w := range want {
			if v == w {
				return
			}
		}
		verr.Add(path, "is decided by the template and cannot be changed here")
	}
	fixed("key", in.Key, cur.Key)
	fixed("type", in.Type, cur.Type)
	fixed("description", in.Description, cur.Description)
	fixed("integrationId", in.IntegrationID, idString(cur.IntegrationID), cur.IntegrationKey)
	fixed("integrationKey", in.IntegrationKey, cur.IntegrationKey, idString(cur.IntegrationID))
	if in.UniversalParentID.Set && deref(in.UniversalParentID.Value) != "" {
		verr.Add("universalParentId", "is decided by the template and cannot be changed here")
	}
	if err := verr.Err(); err != nil {
		return store.ElementChange{}, err
	}
	ch := store.ElementChange{Name: in.Name.Value}
	cfg, hasCfg := in.config(!replace)
	switch {
	case replace:
		empty := ""
		if ch.Name == nil {
			ch.Name = &empty // the template's name (a tenant-own element keeps its key as name)
		}
		ch.Mode, ch.Config = store.ConfigReplace, cfg
		if !hasCfg {
			ch.Config = cur.ParentEffective // no override
			if cur.ParentID == uuid.Nil {
				ch.Mode = store.ConfigUnchanged
			}
		}
	case hasCfg:
		ch.Mode, ch.Config = store.ConfigMerge, cfg
	}
	return ch, nil
}

// instanceBody reads and checks a tenant-level write's body; empty says it had no properties.
func instanceBody(w http.ResponseWriter, r *http.Request, k apiKind) (in elementInput, empty bool, err error) {
	if err = decodeBody(w, r, &in); err != nil {
		return in, false, err
	}
	if err = in.check(k); err != nil {
		return in, false, err
	}
	_, hasCfg := in.config(false)
	empty = !hasCfg && !in.Name.Set && !in.Key.Set && !in.Type.Set && !in.Description.Set &&
		!in.IntegrationID.Set && !in.IntegrationKey.Set && !in.UniversalParentID.Set
	return in, empty, nil
}

// withInstance runs fn on the element the request names (created first when create) and
// writes what fn returns.
func (a *API) withInstance(w http.ResponseWriter, r *http.Request, k apiKind, create bool, status int,
	fn func(tx *store.Tx, e *tenancy.Element) (*tenancy.Element, error)) error {
	sel, err := selectInstance(r, k)
	if err != nil {
		return err
	}
	var out *Element
	err = a.inScope(r, func(tx *store.Tx) error {
		e, err := sel.find(r.Context(), tx, k, create)
		if err != nil {
			return err
		}
		if fn != nil {
			if e, err = fn(tx, e); err != nil {
				return err
			}
		}
		out, err = newElementView(r.Context(), tx).of(e)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, status, out)
	return nil
}

// getInstance: GET …/{key}?instanceKey=&autoCreate= and GET /{singular}-instance?…: 404 when the
// tenant has no such element, unless autoCreate=true.
func (a *API) getInstance(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		sel, err := selectInstance(r, k)
		if err != nil {
			return err
		}
		return a.withInstance(w, r, k, sel.autoCreate, http.StatusOK, nil)
	}
}

// putInstance: an empty body is the SDK's connection-level create() (the element is made if
// missing); otherwise the body replaces it: config is the whole desired effective config (absent:
// the template's), name absent = the template's.
func (a *API) putInstance(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		in, empty, err := instanceBody(w, r, k)
		if err != nil {
			return err
		}
		return a.withInstance(w, r, k, true, http.StatusOK, func(tx *store.Tx, e *tenancy.Element) (*tenancy.Element, error) {
			if empty {
				return e, nil
			}
			ch, err := tenantChange(&in, e, true)
			if err != nil {
				return nil, err
			}
			return tx.ChangeTenantElement(r.Context(), e.ID, ch)
		})
	}
}

// patchInstance: name when given, config as an RFC 7386 merge patch over the effective config;
// the element is made if missing.
func (a *API) patchInstance(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		in, _, err := instanceBody(w, r, k)
		if err != nil {
			return err
		}
		return a.withInstance(w, r, k, true, http.StatusOK, func(tx *store.Tx, e *tenancy.Element) (*tenancy.Element, error) {
			ch, err := tenantChange(&in, e, false)
			if err != nil {
				return nil, err
			}
			return tx.ChangeTenantElement(r.Context(), e.ID, ch)
		})
	}
}

// createInstance: POST /{singular}-instance?<selector>: makes the element (or finds it) and
// merges the body's config onto it; 201.
func (a *API) createInstance(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		in, empty, err := instanceBody(w, r, k)
		if err != nil {
			return err
		}
		return a.withInstance(w, r, k, true, http.StatusCreated, func(tx *store.Tx, e *tenancy.Element) (*tenancy.Element, error) {
			if empty {
				return e, nil
			}
			ch, err := tenantChange(&in, e, false)
			if err != nil {
				return nil, err
			}
			return tx.ChangeTenantElement(r.Context(), e.ID, ch)
		})
	}
}

// deleteInstance deletes the element (the tenant falls back to the template) and returns it as it was.
func (a *API) deleteInstance(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return a.withInstance(w, r, k, false, http.StatusOK, func(tx *store.Tx, e *tenancy.Element) (*tenancy.Element, error) {
			return e, tx.DeleteTenantElement(r.Context(), e.ID)
		})
	}
}

// resetInstance removes a customization's override and name: the tenant uses the template again.
func (a *API) resetInstance(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return a.withInstance(w, r, k, false, http.StatusOK, func(tx *store.Tx, e *tenancy.Element) (*tenancy.Element, error) {
			return tx.ResetCustomization(r.Context(), e.ID)
		})
	}
}

// listConnectionElements: GET /connections/{selector}/{plural}: the connection's elements.
func (a *API) listConnectionElements(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return a.listTenantLevel(w, r, k)
	}
}

func (a *API) listInstances(k apiKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return a.listTenantLevel(w, r, k)
	}
}

// listTenantLevel lists tenant-level elements. Filters that name something that does not exist
// (or is another tenant's) select nothing; the connection in the path must exist.
func (a *API) listTenantLevel(w http.ResponseWriter, r *http.Request, k apiKind) error {
	q := newQuery(r)
	limit, err := q.limit(100, 1000)
	if err != nil {
		return err
	}
	f := store.TenantElementFilter{Kind: k.kind, Key: firstOf(q, "parentKey", k.parentKey), Search: q.str("search"),
		Limit: limit, Cursor: q.str("cursor")}
	if _, ok := q.v["instanceKey"]; ok {
		ik := q.str("instanceKey")
		f.InstanceKey = &ik
	}
	pathConn := r.PathValue("selector")
	out := listResponse[*Element]{Items: []*Element{}}
	err = a.inScope(r, func(tx *store.Tx) error {
		ctx := r.Context()
		none := false
		if c := pathConn; c != "" {
			conn, err := tx.Connection(ctx, c)
			if err != nil {
				return err
			}
			f.ConnectionID = conn.ID
		} else if c := firstOf(q, "connectionId", "connectionKey"); c != "" {
			conn, err := tx.Connection(ctx, c)
			none = none || err == tenancy.ErrNotFound
			if err == nil {
				f.ConnectionID = conn.ID
			} else if err != tenancy.ErrNotFound {
				return err
			}
		}
		if t := firstOf(q, "userId", "tenantId"); t != "" {
			tenant, err := tx.Tenant(ctx, t)
			none = none || err == tenancy.ErrNotFound
			if err == nil {
				f.TenantID = tenant.ID
			} else if err != tenancy.ErrNotFound {
				return err
			}
		}
		if p := firstOf(q, "parentId", k.parentID); p != "" {
			t, err := tx.Element(ctx, k.kind, p)
			none = none || err == tenancy.ErrNotFound
			if err == nil {
				f.ParentID = t.ID
			} else if err != tenancy.ErrNotFound {
				return err
			}
		}
		in, _, err := integrationOf(ctx, tx, q.str("integrationId"), q.str("integrationKey"), "integrationKey")
		if _, bad := tenancy.AsValidation(err); bad {
			none = true
		} else if err != nil {
			return err
		} else if in != nil {
			f.IntegrationID = in.ID
		}
		if none {
			return nil
		}
		page, err := tx.ListTenantElements(ctx, f)
		if err != nil {
			return err
		}
		out.Cursor = page.Cursor
		out.Items, err = newElementView(ctx, tx).list(page.Items)
		return err
	})
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
