package api

import (
	"net/http"
	"strings"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// The universe: public apps, connectors and actions shipped with Tenantry. Every token reads it;
// there are no write routes (a write is 404 in the SDK's shape), and the database refuses
// writes from the app role whatever a handler does. Membrane's SDK has no universe paths: these
// are Tenantry's own.

func (a *API) universeRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/universe", handle: a.listUniverse},
		{Method: "GET", Path: "/universe/{kind}/{selector}", handle: a.getUniverseElement},
	}
}

// UniverseElement is a universe element as the API shows it.
type UniverseElement struct {
	ID          string         `json:"id"`
	Kind        string         `json:"kind"`
	Key         string         `json:"key"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	AppKey      string         `json:"appKey,omitempty"`
	Type        string         `json:"type,omitempty"`
	Config      map[string]any `json:"config"`
	Layer       string         `json:"layer"`
	IsUniversal bool           `json:"isUniversal"`
}

func universeOut(u *tenancy.UniverseElement) *UniverseElement {
	return &UniverseElement{ID: u.ID.String(), Kind: string(u.Kind), Key: u.Key, Name: u.Name, Description: u.Description,
		AppKey: u.AppKey, Type: u.Type, Config: orEmptyMap(u.Config), Layer: "universal", IsUniversal: true}
}

// universeKind reads a universe kind, singular or plural ("app", "connectors").
func universeKind(s string) (tenancy.ElementKind, bool) {
	for _, k := range tenancy.UniverseKinds {
		if s == string(k) || s == k.Plural() {
			return k, true
		}
	}
	return "", false
}

func universeKindNames() string {
	names := make([]string, len(tenancy.UniverseKinds))
	for i, k := range tenancy.UniverseKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func (a *API) listUniverse(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	limit, err := q.limit(100, 1000)
	if err != nil {
		return err
	}
	f := store.UniverseFilter{App: q.str("app"), Search: q.str("search"), Limit: limit, Cursor: q.str("cursor")}
	if s := q.str("kind"); s != "" {
		k, ok := universeKind(s)
		if !ok {
			return badQuery("kind", "must be one of "+universeKindNames())
		}
		f.Kind = k
	}
	out := listResponse[*UniverseElement]{Items: []*UniverseElement{}}
	err = a.inScope(r, func(tx *store.Tx) error {
		page, err := tx.ListUniverse(r.Context(), f)
		if err != nil {
			return err
		}
		out = listOf(page.Items, page.Cursor, universeOut)
		return nil
	})
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getUniverseElement(w http.ResponseWriter, r *http.Request) error {
	k, ok := universeKind(r.PathValue("kind"))
	if !ok {
		return apiError(http.StatusNotFound, "not_found", "no universe kind "+r.PathValue("kind")+"; kinds are "+universeKindNames())
	}
	var out *UniverseElement
	err := a.inScope(r, func(tx *store.Tx) error {
		u, err := tx.UniverseElement(r.Context(), k, r.PathValue("selector"))
		if err != nil {
			return err
		}
		out = universeOut(u)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
