package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/seed"
	"tenantry/internal/store"
)

// connectionRows lists the connections shown as "tenant/name/integration/state".
func connectionRows(body string) []string {
	var out []string
	for _, row := range strings.Split(body, `data-testid="connection-row"`)[1:] {
		tenant, _ := testID(row, "connection-tenant")
		name, _ := testID(row, "connection-name")
		integ, _ := testID(row, "connection-integration")
		state, _ := testID(row, "connection-state")
		out = append(out, tenant+"/"+name+"/"+integ+"/"+state)
	}
	return out
}

func TestConnectionsRenderForAdminAndSupport(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	want := []string{"Acme Corp/Acme HubSpot/HubSpot/READY", "Acme Corp/Acme Salesforce/Salesforce/READY",
		"Globex/Globex HubSpot/HubSpot/READY", "Initech/Initech Pipedrive/Pipedrive/READY"}
	for _, email := range []string{seed.AdminEmail, seed.SupportEmail} {
		c := e.signedIn(t, email)
		r := e.get(t, c, "/connections")
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "GET /connections as "+email, r)
		if got := connectionRows(r.body); !slices.Equal(got, want) {
			t.Errorf("%s: rows = %v, want %v", email, got, want)
		}
		wantContains(t, "connections", r.body, `href="/tenants/`+e.tenant(t, "acme").ID.String()+`"`,
			`href="/integrations/`+e.integrationID(t, "hubspot")+`"`, `hx-target="#connection-results"`, `hx-push-url="true"`,
			`data-testid="filter-integration"`, `data-testid="filter-state"`, `>Never<`)
		if forms := catPostForms(r.body); len(forms) != 0 {
			t.Errorf("%s: write forms %v", email, forms)
		}
	}
}

func TestConnectionsFilters(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	rowsOf := func(path string, headers ...string) []string {
		t.Helper()
		r := e.get(t, c, path, headers...)
		wantCode(t, r, http.StatusOK)
		return connectionRows(r.body)
	}
	if got := rowsOf("/connections?integration=hubspot"); !slices.Equal(got, []string{"Acme Corp/Acme HubSpot/HubSpot/READY", "Globex/Globex HubSpot/HubSpot/READY"}) {
		t.Errorf("integration=hubspot = %v", got)
	}
	wantContains(t, "integration filter keeps its value", e.get(t, c, "/connections?integration=hubspot").body, `<option value="hubspot" selected>`)

	// Globex disconnects; initech is archived (its connection is deactivated).
	e.inWorkspace(t, func(ctx context.Context, tx *store.Tx) error {
		page, err := tx.ListConnections(ctx, store.ConnectionFilter{Search: "Globex"})
		if err != nil || len(page.Items) != 1 {
			return fmt.Errorf("globex's connection: %v (%d)", err, len(page.Items))
		}
		yes := true
		if _, err := tx.UpdateConnection(ctx, page.Items[0].ID, store.ConnectionPatch{Disconnected: &yes}); err != nil {
			return err
		}
		initech, err := tx.Tenant(ctx, "initech")
		if err != nil {
			return err
		}
		_, err = tx.ArchiveTenant(ctx, initech.ID)
		return err
	})
	if got := rowsOf("/connections?state=DISCONNECTED"); !slices.Equal(got, []string{"Globex/Globex HubSpot/HubSpot/DISCONNECTED"}) {
		t.Errorf("state=DISCONNECTED = %v", got)
	}
	if got := rowsOf("/connections?state=DEACTIVATED"); !slices.Equal(got, []string{"Initech/Initech Pipedrive/Pipedrive/DEACTIVATED"}) {
		t.Errorf("state=DEACTIVATED = %v", got)
	}
	if got := rowsOf("/connections?state=READY"); !slices.Equal(got, []string{"Acme Corp/Acme HubSpot/HubSpot/READY", "Acme Corp/Acme Salesforce/Salesforce/READY"}) {
		t.Errorf("state=READY = %v", got)
	}
	if got := rowsOf("/connections?state=READY&integration=hubspot"); !slices.Equal(got, []string{"Acme Corp/Acme HubSpot/HubSpot/READY"}) {
		t.Errorf("READY hubspot = %v", got)
	}
	// An unknown state is no filter.
	if got := rowsOf("/connections?state=EXPLODED"); len(got) != 4 {
		t.Errorf("state=EXPLODED = %v", got)
	}
	if got := rowsOf("/connections?q=salesforce"); !slices.Equal(got, []string{"Acme Corp/Acme Salesforce/Salesforce/READY"}) {
		t.Errorf("search salesforce = %v", got)
	}
	if got := rowsOf("/connections?integration=nope"); len(got) != 0 {
		t.Errorf("integration=nope = %v", got)
	}

	// Archived connections only on request.
	e.exec(t, `UPDATE connections SET archived_at = now() WHERE workspace_id = $1 AND name = 'Acme Salesforce'`, e.ws.ID)
	if got := rowsOf("/connections?state=READY"); !slices.Equal(got, []string{"Acme Corp/Acme HubSpot/HubSpot/READY"}) {
		t.Errorf("READY without archived = %v", got)
	}
	r := e.get(t, c, "/connections?state=READY&archived=1")
	if got := connectionRows(r.body); !slices.Equal(got, []string{"Acme Corp/Acme HubSpot/HubSpot/READY", "Acme Corp/Acme Salesforce/Salesforce/READY"}) {
		t.Errorf("READY with archived = %v", got)
	}
	wantContains(t, "with archived", r.body, `data-testid="archived-badge"`)

	// htmx gets the results alone.
	r = e.get(t, c, "/connections?integration=pipedrive", withTarget("connection-results")...)
	if strings.Contains(r.body, "<html") || strings.Contains(r.body, `id="connection-filters"`) {
		t.Errorf("results fragment has the page around it")
	}
	if got := connectionRows(r.body); !slices.Equal(got, []string{"Initech/Initech Pipedrive/Pipedrive/DEACTIVATED"}) {
		t.Errorf("fragment = %v", got)
	}
}

func TestConnectionsPaging(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	umbrella := e.tenant(t, "umbrella")
	for i := range 52 {
		e.exec(t, `INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name, created_at)
			SELECT $1, $2, $3, id, $4, now() + make_interval(secs => $5) FROM integrations WHERE workspace_id = $1 AND key = 'salesforce'`,
			e.ws.ID, uuid.New(), umbrella.ID, fmt.Sprintf("Umbrella %02d", i), i+1)
	}
	r := e.get(t, c, "/connections?integration=salesforce")
	rows := connectionRows(r.body)
	if len(rows) != 50 || rows[0] != "Acme Corp/Acme Salesforce/Salesforce/READY" || rows[49] != "Umbrella/Umbrella 48/Salesforce/READY" {
		t.Fatalf("first page: %d rows, %v … %v", len(rows), rows[:1], rows[len(rows)-1:])
	}
	href := between(r.body, `<a class="btn btn-secondary" href="`, `"`)
	if !strings.HasPrefix(href, "/connections?") || !strings.Contains(href, "cursor=") || !strings.Contains(href, "integration=salesforce") {
		t.Fatalf("next page link = %q", href)
	}
	r = e.get(t, c, strings.ReplaceAll(href, "&amp;", "&"))
	if got := connectionRows(r.body); !slices.Equal(got, []string{"Umbrella/Umbrella 49/Salesforce/READY", "Umbrella/Umbrella 50/Salesforce/READY", "Umbrella/Umbrella 51/Salesforce/READY"}) {
		t.Errorf("second page = %v", got)
	}
	wantContains(t, "second page", r.body, `data-testid="first-page"`)
	if strings.Contains(r.body, `data-testid="next-page"`) {
		t.Errorf("the last page links to a next one")
	}
}
