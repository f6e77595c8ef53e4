package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// A searched list (served whole by the search functions) must page, sort and filter exactly as
// the unsearched list does, restricted to the matches: compare the two for every sort, direction
// and status, paging the searched one four at a time.
func TestSearchedListMatchesUnsearched(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	ws, _, err := db.CreateWorkspace(ctx, "search", "Search")
	if err != nil {
		t.Fatal(err)
	}
	scope := tenancy.WorkspaceScope(ws.ID, tenancy.Actor{Type: tenancy.ActorManager, Role: tenancy.RoleAdmin})
	// Names repeat so that sorting by name needs the id tie-break; a third are archived, some
	// tenants have a last-active time and some none; "zeta" matches half by name, one by internalId.
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO tenants (workspace_id, id, internal_id, name, is_test, created_at, last_active_at, archived_at)
		SELECT $1, gen_random_uuid(), CASE WHEN i = 7 THEN 'ZETA-7' ELSE 'c' || i END,
			CASE WHEN i % 2 = 0 THEN 'Zeta ' || (i % 5) ELSE 'Other ' || (i % 5) END, i % 4 = 0,
			now() - (i % 9 || ' minutes')::interval,
			CASE WHEN i % 3 = 0 THEN NULL ELSE now() - (i % 7 || ' seconds')::interval END,
			CASE WHEN i % 3 = 1 THEN now() END
		FROM generate_series(1, 40) i`, ws.ID); err != nil {
		t.Fatal(err)
	}
	yes := true
	for _, sort := range []string{"created", "name", "lastActive"} {
		for _, desc := range []bool{false, true} {
			for _, status := range []string{"active", "archived", "all"} {
				for _, isTest := range []*bool{nil, &yes} {
					name := fmt.Sprintf("%s desc=%v %s test=%v", sort, desc, status, isTest != nil)
					base := store.TenantFilter{Sort: sort, Desc: desc, IsTest: isTest,
						OnlyArchived: status == "archived", IncludeArchived: status == "all"}
					var want, got []string
					err := db.InScope(ctx, scope, func(tx *store.Tx) error {
						all := base
						all.Limit = 1000
						p, err := tx.ListTenants(ctx, all)
						if err != nil {
							return err
						}
						for _, tn := range p.Items {
							if strings.Contains(strings.ToLower(tn.Name+" "+tn.InternalID), "zeta") {
								want = append(want, tn.ID.String())
							}
						}
						f := base
						f.Search, f.Limit = "zeta", 4
						for pages := 0; pages < 50; pages++ {
							p, err := tx.ListTenants(ctx, f)
							if err != nil {
								return err
							}
							for _, tn := range p.Items {
								got = append(got, tn.ID.String())
							}
							if p.Cursor == "" {
								break
							}
							f.Cursor = p.Cursor
						}
						n, err := tx.CountMatchingTenants(ctx, store.TenantFilter{Search: "zeta", IsTest: isTest,
							OnlyArchived: base.OnlyArchived, IncludeArchived: base.IncludeArchived}, 0)
						if err != nil {
							return err
						}
						if n != len(want) {
							t.Errorf("%s: count %d, want %d", name, n, len(want))
						}
						return nil
					})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if len(want) == 0 && !(status == "archived" && isTest != nil) {
						t.Fatalf("%s: fixture has no matches", name)
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s:\n got %v\nwant %v", name, got, want)
					}
				}
			}
		}
	}
}

// With the connections filter the search narrows by ids instead (migration 00002's function):
// the result must still equal the unsearched list restricted to the matches.
func TestSearchWithConnectionsFilter(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	ws, _, err := db.CreateWorkspace(ctx, "search", "Search")
	if err != nil {
		t.Fatal(err)
	}
	scope := tenancy.WorkspaceScope(ws.ID, tenancy.Actor{Type: tenancy.ActorManager, Role: tenancy.RoleAdmin})
	for _, q := range []string{
		`INSERT INTO tenants (workspace_id, id, internal_id, name) SELECT $1, gen_random_uuid(), 'c' || i,
			CASE WHEN i % 2 = 0 THEN 'Zeta ' || i ELSE 'Other ' || i END FROM generate_series(1, 20) i`,
		`INSERT INTO integrations (workspace_id, id, key, name) VALUES ($1, gen_random_uuid(), 'crm', 'CRM')`,
		`INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name)
			SELECT $1, gen_random_uuid(), t.id, i.id, 'c' FROM tenants t, integrations i
			WHERE t.workspace_id = $1 AND i.workspace_id = $1 AND substr(t.internal_id, 2)::int % 3 = 0`,
	} {
		if _, err := db.SQL().ExecContext(ctx, q, ws.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, has := range []bool{true, false} {
		var want, got []string
		err := db.InScope(ctx, scope, func(tx *store.Tx) error {
			all, err := tx.ListTenants(ctx, store.TenantFilter{HasConnections: &has, Sort: "name", Limit: 1000})
			if err != nil {
				return err
			}
			for _, tn := range all.Items {
				if strings.Contains(tn.Name, "Zeta") {
					want = append(want, tn.ID.String())
				}
			}
			f := store.TenantFilter{HasConnections: &has, Sort: "name", Search: "zeta", Limit: 2}
			for pages := 0; pages < 20; pages++ {
				p, err := tx.ListTenants(ctx, f)
				if err != nil {
					return err
				}
				for _, tn := range p.Items {
					got = append(got, tn.ID.String())
				}
				if p.Cursor == "" {
					break
				}
				f.Cursor = p.Cursor
			}
			n, err := tx.CountMatchingTenants(ctx, store.TenantFilter{HasConnections: &has, Search: "zeta"}, 0)
			if err == nil && n != len(want) {
				t.Errorf("has=%v: count %d, want %d", has, n, len(want))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("has=%v:\n got %v\nwant %v", has, got, want)
		}
	}
}
