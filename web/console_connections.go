package web

// The Console's workspace-wide connections view: every tenant's connections, filtered by
// integration and state, searched by name or key, archived ones on request, paged by cursor;
// all in the URL. A connection is managed on its tenant's page, which each row links to.

import (
	"net/http"
	"strings"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/connections"
	"tenantry/views/elements"
)

// listedConnectionState is what the list shows: DEACTIVATED (the tenant is archived) over the state.
func listedConnectionState(c *tenancy.Connection) string {
	if c.DeactivatedAt != nil {
		return "DEACTIVATED"
	}
	return c.State
}

func (s *Server) connectionsList(w http.ResponseWriter, r *http.Request) error {
	vals := r.URL.Query()
	q := connections.Query{Integration: strings.TrimSpace(vals.Get("integration")), Q: searchText(vals.Get("q")),
		State:    oneOf(vals.Get("state"), "", tenancy.StateReady, tenancy.StateDisconnected, "DEACTIVATED"),
		Archived: vals.Get("archived") == "1", Cursor: vals.Get("cursor")}
	v := connections.ListView{Query: q}
	err := s.listInScope(r, &v.Query.Cursor, &v.Notice, func(tx *store.Tx) error {
		integs, err := allIntegrations(r.Context(), tx)
		if err != nil {
			return err
		}
		v.Integrations = integrationFilter(integs)
		page, err := tx.ListConnections(r.Context(), store.ConnectionFilter{IntegrationKey: v.Query.Integration, State: v.Query.State,
			IncludeArchived: v.Query.Archived, Search: v.Query.Q, Limit: elements.DefaultPageSize, Cursor: v.Query.Cursor})
		if err != nil {
			return err
		}
		v.Rows = make([]connections.Row, len(page.Items))
		for i, c := range page.Items {
			row := connections.Row{TenantHref: tenantPath(c.TenantID), Tenant: c.TenantName, Name: c.Name, Key: c.Key,
				Integration: c.IntegrationName, IntegrationHref: integrationPath(c.IntegrationID), State: listedConnectionState(c),
				IsTest: c.IsTest, Created: c.CreatedAt, LastActive: c.LastActiveAt, Archived: c.ArchivedAt != nil}
			if row.Tenant == "" {
				row.Tenant = c.TenantInternal
			}
			v.Rows[i] = row
		}
		v.Pager = pager("connection-results", v.Query.Cursor, page.Cursor, func(c string) string {
			q := v.Query
			q.Cursor = c
			return q.URL()
		})
		return nil
	})
	if err != nil {
		return err
	}
	if wantsResults(r, "connection-results") {
		return s.write(w, r, http.StatusOK, connections.Results(v))
	}
	return s.render(w, r, http.StatusOK, s.page(r, "Connections", "/connections"), connections.List(v))
}
