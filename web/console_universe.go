package web

// The Console's universe: the public catalog of apps, connectors and actions, read-only for
// everyone (the database refuses writes to it whatever a handler does; this area has no write
// route at all). The list filters by kind and app and searches; an element's page shows its
// config and, for an admin, a link to the create form of a workspace element built on it.

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/elements"
	"tenantry/views/universe"
)

func universePath(k tenancy.ElementKind, key string) string {
	return "/universe/" + k.Plural() + "/" + url.PathEscape(key)
}

var universeKinds = []elements.Option{
	{Value: "", Label: "Every kind"},
	{Value: string(tenancy.KindApp), Label: "Apps"},
	{Value: string(tenancy.KindConnector), Label: "Connectors"},
	{Value: string(tenancy.KindAction), Label: "Actions"},
}

func (s *Server) universeList(w http.ResponseWriter, r *http.Request) error {
	vals := r.URL.Query()
	q := universe.Query{Kind: oneOf(vals.Get("kind"), "", "app", "connector", "action"), App: searchText(vals.Get("app")),
		Q: searchText(vals.Get("q")), Cursor: vals.Get("cursor")}
	v := universe.ListView{Query: q, Kinds: universeKinds}
	err := s.listInScope(r, &v.Query.Cursor, &v.Notice, func(tx *store.Tx) error {
		apps, err := tx.ListUniverse(r.Context(), store.UniverseFilter{Kind: tenancy.KindApp, Limit: 1000})
		if err != nil {
			return err
		}
		appNames := map[string]string{}
		v.Apps = []elements.Option{{Value: "", Label: "Every app"}}
		for _, a := range apps.Items {
			appNames[a.Key] = a.Name
			v.Apps = append(v.Apps, elements.Option{Value: a.Key, Label: a.Name})
		}
		page, err := tx.ListUniverse(r.Context(), store.UniverseFilter{Kind: tenancy.ElementKind(v.Query.Kind), App: v.Query.App,
			Search: v.Query.Q, Limit: elements.DefaultPageSize, Cursor: v.Query.Cursor})
		if err != nil {
			return err
		}
		v.Rows = universeRows(page.Items, appNames)
		v.Pager = pager("universe-results", v.Query.Cursor, page.Cursor, func(c string) string {
			q := v.Query
			q.Cursor = c
			return q.URL()
		})
		return nil
	})
	if err != nil {
		return err
	}
	if wantsResults(r, "universe-results") {
		return s.write(w, r, http.StatusOK, universe.Results(v))
	}
	return s.render(w, r, http.StatusOK, s.page(r, "Universe", "/universe"), universe.List(v))
}

func universeRows(items []*tenancy.UniverseElement, appNames map[string]string) []universe.Row {
	rows := make([]universe.Row, len(items))
	for i, u := range items {
		row := universe.Row{Href: universePath(u.Kind, u.Key), Kind: u.Kind.Title(), Name: u.Name, Key: u.Key, Type: u.Type,
			Description: u.Description}
		if u.AppKey != "" {
			row.App, row.AppHref = u.AppKey, universePath(tenancy.KindApp, u.AppKey)
			if name := appNames[u.AppKey]; name != "" {
				row.App = name
			}
		}
		rows[i] = row
	}
	return rows
}

// universeKindOf reads the {kind} of a catalog URL: plural (apps, connectors, actions) or singular.
func universeKindOf(s string) (tenancy.ElementKind, bool) {
	k, ok := tenancy.KindByPlural(s)
	if !ok {
		k = tenancy.ElementKind(s)
	}
	return k, slices.Contains(tenancy.UniverseKinds, k)
}

func (s *Server) universeShow(w http.ResponseWriter, r *http.Request) error {
	kind, ok := universeKindOf(r.PathValue("kind"))
	if !ok {
		return errStatus(http.StatusNotFound, "The universe has apps, connectors and actions only.")
	}
	var v universe.PageView
	err := s.inScope(r, func(tx *store.Tx) error {
		u, err := tx.UniverseElement(r.Context(), kind, r.PathValue("key"))
		if err != nil {
			return err
		}
		v = universe.PageView{Kind: u.Kind.Title(), Name: u.Name, Key: u.Key, Description: u.Description, Type: u.Type,
			Config: elements.Pretty(u.Config)}
		if u.AppKey != "" {
			v.App, v.AppHref = u.AppKey, universePath(tenancy.KindApp, u.AppKey)
			app, err := tx.UniverseElement(r.Context(), tenancy.KindApp, u.AppKey)
			switch {
			case err == nil:
				v.App = app.Name
			case !errors.Is(err, tenancy.ErrNotFound):
				return err
			}
		}
		if u.Kind == tenancy.KindApp {
			page, err := tx.ListUniverse(r.Context(), store.UniverseFilter{App: u.Key, Limit: 1000})
			if err != nil {
				return err
			}
			items := slices.DeleteFunc(page.Items, func(x *tenancy.UniverseElement) bool { return x.Kind == tenancy.KindApp })
			v.Related = universeRows(items, map[string]string{u.Key: u.Name})
		}
		if u.Kind.Valid() && canWrite(sessionFrom(r.Context())) {
			v.UseURL = "/elements/" + u.Kind.Plural() + "/new?from=" + url.QueryEscape(u.Key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, s.page(r, v.Name, "/universe"), universe.Page(v))
}
