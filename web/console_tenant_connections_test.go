package web

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// tenantConnections reads a tenant's connections past the Console, archived ones included.
func (e *testEnv) tenantConnections(t *testing.T, tenantID uuid.UUID) []*tenancy.Connection {
	t.Helper()
	var out []*tenancy.Connection
	err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		page, err := tx.ListConnections(context.Background(), store.ConnectionFilter{TenantID: tenantID, IncludeArchived: true})
		if err == nil {
			out = page.Items
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func connectionNamed(t *testing.T, conns []*tenancy.Connection, name string) *tenancy.Connection {
	t.Helper()
	for _, c := range conns {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no connection named %q", name)
	return nil
}

// connActivity counts the activity entries of type for a connection, recorded as by a manager.
func (e *testEnv) connActivity(t *testing.T, typ string, connID uuid.UUID) int {
	t.Helper()
	return e.count(t, `SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = $2 AND connection_id = $3
		AND actor_type = 'manager'`, e.ws.ID, typ, connID)
}

// connectionStates maps each listed connection's name to its state badge.
func connectionStates(body string) map[string]string {
	out := map[string]string{}
	for _, row := range strings.Split(body, `data-testid="connection-row"`)[1:] {
		row, _, _ = strings.Cut(row, "</tr>")
		name, _ := testID(row, "connection-name")
		state, _ := testID(row, "connection-state")
		out[name] = state
	}
	return out
}

func TestTenantConnectionsTab(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	acme := e.tenant(t, "acme")
	tab := "/tenants/" + acme.ID.String() + "/connections"

	r := e.get(t, c, tab)
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "connections tab", r)
	if got, want := connectionStates(r.body), map[string]string{"Acme HubSpot": "READY", "Acme Salesforce": "READY"}; !reflect.DeepEqual(got, want) {
		t.Errorf("acme's connections %v, want %v", got, want)
	}
	wantContains(t, "connections tab", r.body, `data-testid="tab-connections"`, "HubSpot", "hubspot", `data-testid="connection-disconnect"`,
		`data-testid="connection-archive"`, `id="new-connection-integration"`, `<option value="pipedrive">`)
	wantAbsent(t, "connections tab", r.body, "Globex HubSpot", "demo-acme-token")

	hub := connectionNamed(t, e.tenantConnections(t, acme.ID), "Acme HubSpot")
	sf := connectionNamed(t, e.tenantConnections(t, acme.ID), "Acme Salesforce")
	base := tab + "/" + hub.ID.String()

	// Disconnect asks first (no JavaScript): the question, nothing changed.
	r = e.postForm(t, c, base+"/disconnect", nil)
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "disconnect question", r)
	wantContains(t, "disconnect question", r.body, `data-testid="connection-confirm"`, "Disconnect Acme HubSpot?", `name="confirmed" value="yes"`)
	if got := connectionNamed(t, e.tenantConnections(t, acme.ID), "Acme HubSpot"); got.Disconnected {
		t.Fatalf("an unconfirmed disconnect disconnected")
	}

	// Confirmed: disconnected, recorded, and the tab says so.
	wantRedirect(t, e.postForm(t, c, base+"/disconnect", url.Values{"confirmed": {"yes"}}), tab)
	got := connectionNamed(t, e.tenantConnections(t, acme.ID), "Acme HubSpot")
	if !got.Disconnected || got.State != tenancy.StateDisconnected {
		t.Errorf("after disconnect: disconnected %v, state %s", got.Disconnected, got.State)
	}
	if n := e.connActivity(t, "connection.disconnected", hub.ID); n != 1 {
		t.Errorf("%d connection.disconnected entries, want 1", n)
	}
	r = e.get(t, c, tab)
	wantContains(t, "after disconnect", r.body, "Connection disconnected.", `data-testid="connection-reconnect"`)
	if s := connectionStates(r.body)["Acme HubSpot"]; s != "DISCONNECTED" {
		t.Errorf("tab shows %q after disconnect", s)
	}

	// Reconnect (no question).
	wantRedirect(t, e.postForm(t, c, base+"/reconnect", nil), tab)
	if got := connectionNamed(t, e.tenantConnections(t, acme.ID), "Acme HubSpot"); got.Disconnected || got.State != tenancy.StateReady {
		t.Errorf("after reconnect: disconnected %v, state %s", got.Disconnected, got.State)
	}
	if n := e.connActivity(t, "connection.reconnected", hub.ID); n != 1 {
		t.Errorf("%d connection.reconnected entries, want 1", n)
	}

	// htmx archive (confirmed by hx-confirm): the section comes back with a toast.
	r = e.postForm(t, c, tab+"/"+sf.ID.String()+"/archive", url.Values{"confirmed": {"yes"}}, hxHeaders...)
	fragment(t, "htmx archive", r, `<section id="tenant-connections"`)
	if level, msg := toastOf(t, r); level != "success" || !strings.Contains(msg, "Acme Salesforce") {
		t.Errorf("htmx archive toast %s %q", level, msg)
	}
	if got := connectionNamed(t, e.tenantConnections(t, acme.ID), "Acme Salesforce"); got.ArchivedAt == nil {
		t.Errorf("the connection is not archived")
	}
	if n := e.connActivity(t, "connection.archived", sf.ID); n != 1 {
		t.Errorf("%d connection.archived entries, want 1", n)
	}
	if _, listed := connectionStates(r.body)["Acme Salesforce"]; listed {
		t.Errorf("the archived connection is still listed")
	}
	// Archived connections show on demand, without buttons that no longer apply.
	r = e.get(t, c, tab+"?archived=1")
	if s := connectionStates(r.body)["Acme Salesforce"]; s != "archived" {
		t.Errorf("with archived shown the state is %q, want archived", s)
	}
	wantContains(t, "archived shown", r.body, "Hide archived connections")
	if strings.Contains(r.body, sf.ID.String()+"/archive") || strings.Contains(r.body, sf.ID.String()+"/disconnect") {
		t.Errorf("an archived connection still offers archive or disconnect")
	}

	// Another tenant's connection is not reachable through acme's page.
	globexConn := e.tenantConnections(t, e.tenant(t, "globex").ID)[0]
	for _, action := range []string{"disconnect", "reconnect", "archive"} {
		wantCode(t, e.postForm(t, c, tab+"/"+globexConn.ID.String()+"/"+action, url.Values{"confirmed": {"yes"}}), http.StatusNotFound)
	}
	wantCode(t, e.postForm(t, c, tab+"/not-a-uuid/archive", url.Values{"confirmed": {"yes"}}), http.StatusNotFound)
	if got := e.tenantConnections(t, e.tenant(t, "globex").ID)[0]; got.Disconnected || got.ArchivedAt != nil {
		t.Errorf("globex's connection changed through acme's page")
	}

	// Archiving the tenant deactivates its connections: the tab shows them deactivated.
	if err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.ArchiveTenant(context.Background(), acme.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r = e.get(t, c, tab)
	if s := connectionStates(r.body)["Acme HubSpot"]; s != "deactivated" {
		t.Errorf("after archiving the tenant the state is %q, want deactivated", s)
	}
	wantContains(t, "archived tenant", r.body, `data-testid="tenant-archived-notice"`)
	wantAbsent(t, "archived tenant", r.body, `data-testid="connection-disconnect"`, `id="new-connection-integration"`)
	wantCode(t, e.postForm(t, c, base+"/disconnect", url.Values{"confirmed": {"yes"}}), http.StatusConflict)
}

func TestTenantConnectionCreate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	globex := e.tenant(t, "globex")
	tab := "/tenants/" + globex.ID.String() + "/connections"

	refused := []struct {
		name string
		form url.Values
		want []string
	}{
		{"no integration", url.Values{"name": {"X"}}, []string{`data-testid="new-connection-integration-error"`, "Choose an integration."}},
		{"unknown integration", url.Values{"integration": {"nope"}}, []string{`data-testid="new-connection-integration-error"`, "No active integration"}},
		{"value without key", url.Values{"integration": {"pipedrive"}, "credentialValue": {"s3cret"}}, []string{`data-testid="new-connection-credential-key-error"`}},
		{"key without value", url.Values{"integration": {"pipedrive"}, "credentialKey": {"apiKey"}}, []string{`data-testid="new-connection-credential-value-error"`}},
		{"long name", url.Values{"integration": {"pipedrive"}, "name": {strings.Repeat("n", 201)}}, []string{`data-testid="new-connection-name-error"`, "Name must be"}},
	}
	before := e.snapshot(t)
	for _, tc := range refused {
		r := e.postForm(t, c, tab, tc.form)
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", tc.name, r.StatusCode)
		}
		wantContains(t, tc.name, r.body, tc.want...)
		wantAbsent(t, tc.name, r.body, "s3cret")
		r = e.postForm(t, c, tab, tc.form, hxHeaders...)
		fragment(t, tc.name+" (htmx)", r, `<div id="tenant-page"`)
		wantContains(t, tc.name+" (htmx)", r.body, tc.want...)
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("refused creates changed the database:\nbefore %s\nafter  %s", before, after)
	}

	form := url.Values{"integration": {"pipedrive"}, "name": {"Globex Pipedrive"}, "credentialKey": {"apiKey"}, "credentialValue": {"pd-secret"}}
	wantRedirect(t, e.postForm(t, c, tab, form), tab)
	conn := connectionNamed(t, e.tenantConnections(t, globex.ID), "Globex Pipedrive")
	if conn.IntegrationKey != "pipedrive" || !conn.Connected() || !reflect.DeepEqual(conn.CredentialKeys, []string{"apiKey"}) {
		t.Errorf("created connection %+v", conn)
	}
	var creds any
	if err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		var err error
		creds, _, err = tx.OpenConnectionCredentials(context.Background(), conn.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(creds, map[string]any{"apiKey": "pd-secret"}) {
		t.Errorf("stored credentials %v", creds)
	}
	if n := e.connActivity(t, "connection.created", conn.ID); n != 1 {
		t.Errorf("%d connection.created entries, want 1", n)
	}
	r := e.get(t, c, tab)
	wantContains(t, "after create", r.body, "Connection added.", "Globex Pipedrive")
	wantAbsent(t, "after create", r.body, "pd-secret")

	// A second connection to the same integration, named after it, through htmx.
	r = e.postForm(t, c, tab, url.Values{"integration": {"pipedrive"}}, hxHeaders...)
	fragment(t, "htmx create", r, `<div id="tenant-page"`)
	if level, _ := toastOf(t, r); level != "success" {
		t.Errorf("htmx create toast %q", level)
	}
	if n := len(e.tenantConnections(t, globex.ID)); n != 3 {
		t.Errorf("globex has %d connections, want 3", n)
	}
	connectionNamed(t, e.tenantConnections(t, globex.ID), "Pipedrive")
}

func TestTenantConnectionsSupportReadsOnly(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	acme := e.tenant(t, "acme")
	tab := "/tenants/" + acme.ID.String() + "/connections"
	for _, p := range []string{tab, tab + "?archived=1"} {
		r := e.get(t, c, p)
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "support GET "+p, r)
		if found := writeControls(r.body); len(found) > 0 {
			t.Errorf("support GET %s: controls that change data: %q", p, found)
		}
		if got := len(connectionStates(r.body)); got != 2 {
			t.Errorf("support sees %d connections, want 2", got)
		}
	}
	conn := e.tenantConnections(t, acme.ID)[0]
	before := e.snapshot(t)
	for _, p := range []string{tab, tab + "/" + conn.ID.String() + "/disconnect", tab + "/" + conn.ID.String() + "/reconnect",
		tab + "/" + conn.ID.String() + "/archive"} {
		for _, h := range [][]string{nil, hxHeaders} {
			r := e.postForm(t, c, p, url.Values{"confirmed": {"yes"}, "integration": {"pipedrive"}}, h...)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("support POST %s (htmx %v): status %d, want 403", p, h != nil, r.StatusCode)
			}
		}
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("support managers' refused writes changed the database:\nbefore %s\nafter  %s", before, after)
	}
}
