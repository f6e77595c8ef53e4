package api_test

import (
	"net/http"
	"slices"
	"testing"
)

var emptyForm = map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "0"}

// TestCustomizeConnectionAction: customize through PATCH /connections/{c}/actions/{key}; the GET
// shows the merged config; a later template change flows through except where overridden;
// reset restores the template.
func TestCustomizeConnectionAction(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	path := "/api/connections/" + f.acmeConn.ID + "/actions/list-deals"

	// No customization yet: 404 (the SDK's get() without autoCreate).
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: path, Token: f.acmeTok})

	c := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: path, Token: f.acmeTok,
		Body: map[string]any{"config": map[string]any{"query": map[string]any{"limit": "25", "archived": "false"}, "credits": nil}}})
	template := map[string]any{"method": "GET", "path": "/crm/v3/objects/deals", "query": map[string]any{"limit": "100"}, "credits": 1}
	merged := map[string]any{"method": "GET", "path": "/crm/v3/objects/deals", "query": map[string]any{"limit": "25", "archived": "false"}}
	override := map[string]any{"query": map[string]any{"limit": "25", "archived": "false"}, "credits": nil}
	e.wantConfig("PATCH config", c.Config, merged)
	e.wantConfig("PATCH override", c.Override, override)
	if c.ID == "" || c.ID == f.listDeals.ID || !c.IsCustomized || c.Status != "customized" || c.Layer != "connection" ||
		c.ParentID != f.listDeals.ID || c.ConnectionID != f.acmeConn.ID || c.UserID != f.acme.ID || c.TenantID != f.acme.ID ||
		c.Key != "list-deals" || c.Type != "http-request" || c.IntegrationKey != "hubspot" || c.Name != "List deals" {
		t.Errorf("customized: %+v", c)
	}
	if c.Parent == nil || c.Parent.ID != f.listDeals.ID || c.Parent.Key != "list-deals" || c.Parent.Name != "List deals" {
		t.Errorf("parent: %+v", c.Parent)
	} else {
		e.wantConfig("parent config", c.Parent.Config, template)
	}
	got := decode[element](e, http.StatusOK, req{Method: "GET", Path: path, Token: f.acmeTok})
	if got.ID != c.ID {
		t.Errorf("GET id %s, want %s", got.ID, c.ID)
	}
	e.wantConfig("GET config", got.Config, merged)
	// Only the difference is stored.
	var stored string
	if err := e.db.SQL().Get(&stored, `SELECT config::text FROM elements WHERE id = $1`, c.ID); err != nil {
		t.Fatal(err)
	}
	e.wantConfig("stored override", jsonParse(t, stored), override)

	// The template changes: the override stays, everything else follows.
	decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/actions/list-deals", Token: f.admin,
		Body: map[string]any{"config": map[string]any{"path": "/crm/v4/deals", "query": map[string]any{"limit": "50", "sort": "name"},
			"headers": map[string]any{"Accept": "application/json"}}}})
	after := decode[element](e, http.StatusOK, req{Method: "GET", Path: path, Token: f.acmeTok})
	e.wantConfig("config after the template changed", after.Config, map[string]any{"method": "GET", "path": "/crm/v4/deals",
		"query": map[string]any{"limit": "25", "archived": "false", "sort": "name"}, "headers": map[string]any{"Accept": "application/json"}})
	e.wantConfig("override after the template changed", after.Override, override)
	// Another tenant (and another connection of acme's) still gets the template.
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/connections/" + f.globexConn.ID + "/actions/list-deals", Token: f.globexTok})
	g := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/" + f.globexConn.ID + "/actions/list-deals?autoCreate=true", Token: f.globexTok})
	if g.IsCustomized || g.Status != "inherited" || g.Config["query"].(map[string]any)["limit"] != "50" {
		t.Errorf("globex's: %+v", g)
	}

	// Reset: the template again, the row (and its id) stays.
	before := e.activity("customization.reset")
	r := decode[element](e, http.StatusOK, req{Method: "POST", Path: path + "/reset", Token: f.acmeTok, Header: emptyForm, Body: ""})
	tmpl := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/actions/list-deals", Token: f.acmeTok})
	if r.ID != c.ID || r.IsCustomized || r.Status != "inherited" || len(r.Override) != 0 {
		t.Errorf("reset: %+v", r)
	}
	e.wantConfig("config after reset", r.Config, tmpl.Config)
	if e.activity("customization.reset") != before+1 {
		t.Errorf("reset not recorded")
	}
	if e.activity("customization.created") != 2 || e.activity("customization.updated") != 1 {
		t.Errorf("activity: created %d updated %d", e.activity("customization.created"), e.activity("customization.updated"))
	}
}

// TestConnectionLevelRoutes: autoCreate, PUT create() and replace, DELETE, names, instance keys,
// and every kind.
func TestConnectionLevelRoutes(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	base := "/api/connections/" + f.acmeConn.ID

	// autoCreate makes an empty customization, once.
	a := decode[element](e, http.StatusOK, req{Method: "GET", Path: base + "/flows/sync-deals?autoCreate=true", Token: f.acmeTok})
	if a.ID == "" || a.IsCustomized || a.Status != "inherited" || a.FlowID != f.syncDeals.ID || a.ParentID != f.syncDeals.ID {
		t.Errorf("autoCreate: %+v", a)
	}
	e.wantConfig("autoCreated config", a.Config, f.syncDeals.Config)
	if again := decode[element](e, http.StatusOK, req{Method: "GET", Path: base + "/flows/sync-deals?autoCreate=1", Token: f.acmeTok}); again.ID != a.ID {
		t.Errorf("second autoCreate made another row: %s vs %s", again.ID, a.ID)
	}
	// By the template's id, and by the element's own id, too.
	for _, sel := range []string{f.syncDeals.ID, a.ID} {
		if got := decode[element](e, http.StatusOK, req{Method: "GET", Path: base + "/flows/" + sel, Token: f.acmeTok}); got.ID != a.ID {
			t.Errorf("GET flows/%s: %s", sel, got.ID)
		}
	}

	// PUT with an empty body (the SDK's connection-level create()).
	p := decode[element](e, http.StatusOK, req{Method: "PUT", Path: base + "/data-sources/contacts", Token: f.admin, Header: emptyForm, Body: ""})
	if p.DataSourceID != f.contacts.ID || p.IsCustomized {
		t.Errorf("PUT create(): %+v", p)
	}
	if p2 := decode[element](e, http.StatusOK, req{Method: "PUT", Path: base + "/data-sources/contacts", Token: f.acmeTok, Header: emptyForm, Body: ""}); p2.ID != p.ID {
		t.Errorf("PUT create() again made another row")
	}
	// PUT with a config replaces the whole effective config; only the difference is stored.
	rep := decode[element](e, http.StatusOK, req{Method: "PUT", Path: base + "/data-sources/contacts", Token: f.acmeTok,
		Body: map[string]any{"name": "My contacts", "config": map[string]any{"collectionKey": "people", "pullUpdatesIntervalSeconds": 300}}})
	e.wantConfig("PUT config", rep.Config, map[string]any{"collectionKey": "people", "pullUpdatesIntervalSeconds": 300})
	e.wantConfig("PUT override", rep.Override, map[string]any{"collectionKey": "people", "pullUpdatesIntervalSeconds": 300})
	if rep.Name != "My contacts" || !rep.IsCustomized {
		t.Errorf("PUT: %+v", rep)
	}
	// PUT without config: no override left, the template's name again.
	rep = decode[element](e, http.StatusOK, req{Method: "PUT", Path: base + "/data-sources/contacts", Token: f.acmeTok, Body: map[string]any{"name": ""}})
	if rep.IsCustomized || rep.Name != "Contacts" || len(rep.Override) != 0 {
		t.Errorf("PUT without config: %+v", rep)
	}

	// Field mappings: Membrane's top-level properties are config properties.
	fm := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: base + "/field-mappings/contact-fields", Token: f.acmeTok,
		Body: map[string]any{"importValue": map[string]any{"name": "{{properties.firstname}}"}}})
	e.wantConfig("field mapping config", fm.Config, map[string]any{"direction": "import",
		"importValue": map[string]any{"email": "{{properties.email}}", "name": "{{properties.firstname}}"}})
	if fm.FieldMappingID != f.contactFields.ID {
		t.Errorf("fieldMappingId %q", fm.FieldMappingID)
	}

	// Instance keys: separate rows of one template on one connection.
	ik := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: base + "/actions/create-contact?instanceKey=eu", Token: f.acmeTok,
		Body: map[string]any{"name": "Create contact (EU)"}})
	plain := decode[element](e, http.StatusOK, req{Method: "GET", Path: base + "/actions/create-contact?autoCreate=true", Token: f.acmeTok})
	if ik.ID == plain.ID || ik.InstanceKey != "eu" || plain.InstanceKey != "" || ik.Name != "Create contact (EU)" || plain.Name != "Create contact" {
		t.Errorf("instance keys: %+v / %+v", ik, plain)
	}
	if l := listPage[element](e, f.acmeTok, base+"/actions?instanceKey=eu"); len(l.Items) != 1 || l.Items[0].ID != ik.ID {
		t.Errorf("list by instanceKey: %+v", l.Items)
	}
	e.fails(http.StatusUnprocessableEntity, "validation_error", "instanceKey", req{Method: "GET", Path: base + "/actions/create-contact?instanceKey=bad%20key&autoCreate=true", Token: f.acmeTok})

	// The connection's list.
	l := listPage[element](e, f.acmeTok, base+"/actions")
	if got := idsOf(l.Items, func(x element) string { return x.ID }); !slices.Equal(got, sorted([]string{ik.ID, plain.ID})) {
		t.Errorf("connection's actions: %v", got)
	}
	if l := listPage[element](e, f.acmeTok, "/api/connections/main/actions"); len(l.Items) != 2 {
		t.Errorf("by connection key: %d items", len(l.Items))
	}
	if l := listPage[element](e, f.acmeTok, "/api/connections/"+f.acmeConn2.ID+"/actions"); len(l.Items) != 0 {
		t.Errorf("the other connection's actions: %+v", l.Items)
	}

	// DELETE removes the row: the tenant uses the template again.
	del := decode[element](e, http.StatusOK, req{Method: "DELETE", Path: base + "/actions/create-contact?instanceKey=eu", Token: f.acmeTok})
	if del.ID != ik.ID {
		t.Errorf("DELETE returned %s", del.ID)
	}
	if n := e.count(`SELECT count(*) FROM elements WHERE id = $1`, ik.ID); n != 0 {
		t.Errorf("deleted row still there")
	}
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: base + "/actions/create-contact?instanceKey=eu", Token: f.acmeTok})
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "DELETE", Path: base + "/actions/create-contact?instanceKey=eu", Token: f.acmeTok})
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "POST", Path: base + "/actions/create-contact/reset?instanceKey=eu", Token: f.acmeTok})
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: base + "/actions/no-such-action?autoCreate=true", Token: f.acmeTok})
	if e.activity("customization.deleted") != 1 {
		t.Errorf("delete not recorded")
	}
}

// TestInstanceRoutes: the /{kind}-instance(s) routes by id and by selector.
func TestInstanceRoutes(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	conn := f.acmeConn.ID

	// Selector GET: 404, then autoCreate.
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/action-instance?parentKey=list-deals&connectionId=" + conn, Token: f.acmeTok})
	ai := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/action-instance?parentKey=list-deals&connectionId=" + conn + "&autoCreate=true", Token: f.acmeTok})
	for _, p := range []string{"/api/action-instance?id=" + ai.ID, "/api/action-instance?parentId=" + f.listDeals.ID + "&connectionId=" + conn,
		"/api/action-instance?parentKey=list-deals&connectionKey=main"} {
		if got := decode[element](e, http.StatusOK, req{Method: "GET", Path: p, Token: f.acmeTok}); got.ID != ai.ID {
			t.Errorf("GET %s: %s, want %s", p, got.ID, ai.ID)
		}
	}
	// PATCH by id merges; PUT by selector replaces; reset by id and by selector.
	pa := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/action-instance?id=" + ai.ID, Token: f.acmeTok,
		Body: map[string]any{"name": "Deals", "config": map[string]any{"query": map[string]any{"limit": "5"}}}})
	if pa.Name != "Deals" || pa.Config["query"].(map[string]any)["limit"] != "5" || pa.Config["method"] != "GET" {
		t.Errorf("PATCH by id: %+v", pa)
	}
	pu := decode[element](e, http.StatusOK, req{Method: "PUT", Path: "/api/action-instance?parentKey=list-deals&connectionId=" + conn, Token: f.acmeTok,
		Body: map[string]any{"config": map[string]any{"method": "POST", "path": "/search"}}})
	e.wantConfig("PUT by selector", pu.Config, map[string]any{"method": "POST", "path": "/search"})
	e.wantConfig("PUT override", pu.Override, map[string]any{"method": "POST", "path": "/search", "query": nil, "credits": nil})
	if pu.Name != "List deals" {
		t.Errorf("PUT without a name keeps the template's: %q", pu.Name)
	}
	if r := decode[element](e, http.StatusOK, req{Method: "POST", Path: "/api/action-instances/" + ai.ID + "/reset", Token: f.acmeTok, Header: emptyForm, Body: ""}); r.IsCustomized {
		t.Errorf("reset by id: %+v", r)
	}
	decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/action-instance?id=" + ai.ID, Token: f.acmeTok, Body: map[string]any{"name": "Again"}})
	if r := decode[element](e, http.StatusOK, req{Method: "POST", Path: "/api/action-instance/reset?parentKey=list-deals&connectionId=" + conn, Token: f.acmeTok}); r.IsCustomized || r.Name != "List deals" {
		t.Errorf("reset by selector: %+v", r)
	}

	// POST creates, merging the body (the SDK's fieldMappingInstance(sel).create(b)).
	fm := decode[element](e, http.StatusCreated, req{Method: "POST", Path: "/api/field-mapping-instance?fieldMappingKey=contact-fields&connectionId=" + conn, Token: f.acmeTok,
		Body: map[string]any{"importValue": map[string]any{"a": "b"}}})
	e.wantConfig("created field mapping instance", fm.Config, map[string]any{"direction": "import",
		"importValue": map[string]any{"email": "{{properties.email}}", "a": "b"}})
	pfm := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/field-mapping-instance?id=" + fm.ID, Token: f.acmeTok,
		Body: map[string]any{"importValue": map[string]any{"email": nil}, "direction": "both"}})
	e.wantConfig("patched field mapping instance", pfm.Config, map[string]any{"direction": "both", "importValue": map[string]any{"a": "b"}})
	if r := decode[element](e, http.StatusOK, req{Method: "POST", Path: "/api/field-mapping-instances/" + fm.ID + "/reset", Token: f.acmeTok}); r.IsCustomized {
		t.Errorf("field mapping reset: %+v", r)
	}
	ds := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/data-source-instance?dataSourceKey=contacts&connectionId=" + conn + "&autoCreate=true", Token: f.admin})
	if ds.DataSourceID != f.contacts.ID || ds.TenantID != f.acme.ID {
		t.Errorf("data source instance: %+v", ds)
	}
	fi := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/flow-instance?flowKey=sync-deals&connectionId=" + conn + "&autoCreate=true", Token: f.acmeTok})

	// Lists with filters.
	id := func(x element) string { return x.ID }
	for path, want := range map[string][]string{
		"/api/action-instances?connectionId=" + conn:                        {ai.ID},
		"/api/action-instances?parentKey=list-deals":                        {ai.ID},
		"/api/action-instances?parentId=" + f.listDeals.ID:                  {ai.ID},
		"/api/action-instances?parentKey=create-contact":                    {},
		"/api/field-mapping-instances?fieldMappingKey=contact-fields":       {fm.ID},
		"/api/field-mapping-instances?fieldMappingId=" + f.contactFields.ID: {fm.ID},
		"/api/data-source-instances?dataSourceKey=contacts":                 {ds.ID},
		"/api/flow-instances?flowId=" + f.syncDeals.ID:                      {fi.ID},
		"/api/flow-instances?flowKey=sync-deals&instanceKey=":               {fi.ID},
		"/api/flow-instances?instanceKey=x":                                 {},
		"/api/flow-instances?search=sync":                                   {fi.ID},
		"/api/flow-instances?integrationId=" + f.hubspot.ID:                 {fi.ID},
	} {
		if got := idsOf(listPage[element](e, f.acmeTok, path).Items, id); !slices.Equal(got, sorted(want)) {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}

	// DELETE by id.
	decode[element](e, http.StatusOK, req{Method: "DELETE", Path: "/api/flow-instance?id=" + fi.ID, Token: f.acmeTok})
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/flow-instance?id=" + fi.ID, Token: f.acmeTok})

	// Tenant-wide customization (no connection), and a connection's on top of it.
	wide := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/action-instance?parentKey=create-contact", Token: f.acmeTok,
		Body: map[string]any{"config": map[string]any{"headers": map[string]any{"X-Tenant": "acme"}}}})
	if wide.Layer != "tenant" || wide.ConnectionID != "" || wide.TenantID != f.acme.ID {
		t.Errorf("tenant-wide: %+v", wide)
	}
	cl := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + conn + "/actions/create-contact", Token: f.acmeTok,
		Body: map[string]any{"config": map[string]any{"path": "/v2/contacts"}}})
	e.wantConfig("connection over tenant over template", cl.Config, map[string]any{"method": "POST", "path": "/v2/contacts",
		"headers": map[string]any{"X-Tenant": "acme"}})
	e.wantConfig("its parent config", cl.Parent.Config, map[string]any{"method": "POST", "path": "/crm/v3/objects/contacts",
		"headers": map[string]any{"X-Tenant": "acme"}})
	e.wantConfig("its override", cl.Override, map[string]any{"path": "/v2/contacts"})
	// A workspace token names the tenant for a tenant-wide one, and must name something.
	if got := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/action-instance?parentKey=create-contact&tenantId=acme", Token: f.admin}); got.ID != wide.ID {
		t.Errorf("workspace token, tenant-wide: %+v", got)
	}
	e.fails(http.StatusBadRequest, "invalid_selection", "", req{Method: "GET", Path: "/api/action-instance?parentKey=create-contact", Token: f.admin})
	e.fails(http.StatusBadRequest, "invalid_selection", "", req{Method: "GET", Path: "/api/action-instance?connectionId=" + conn, Token: f.acmeTok})
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/action-instance?parentKey=create-contact&tenantId=globex&connectionId=" + conn, Token: f.admin})
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/action-instance?id=not-a-uuid", Token: f.acmeTok})
}

// TestCustomizationIsolation: a tenant token cannot see or change another tenant's
// customizations, by element id, template key or connection id; nothing changes in the database.
func TestCustomizationIsolation(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	acme := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + f.acmeConn.ID + "/actions/list-deals", Token: f.acmeTok,
		Body: map[string]any{"config": map[string]any{"credits": 5}}})
	acmeFM := decode[element](e, http.StatusOK, req{Method: "PUT", Path: "/api/connections/" + f.acmeConn.ID + "/field-mappings/contact-fields", Token: f.acmeTok})
	rows := e.count(`SELECT count(*) FROM elements WHERE workspace_id = $1`, e.ws.ID)
	before, beforeFM := e.elementRow(acme.ID), e.elementRow(acmeFM.ID)
	acmePath := "/api/connections/" + f.acmeConn.ID + "/actions/list-deals"
	for _, r := range []req{
		{Method: "GET", Path: acmePath},
		{Method: "GET", Path: acmePath + "?autoCreate=true"},
		{Method: "PATCH", Path: acmePath, Body: map[string]any{"config": map[string]any{"credits": 9}}},
		{Method: "PUT", Path: acmePath, Body: map[string]any{"config": map[string]any{"method": "GET", "path": "/"}}},
		{Method: "PUT", Path: acmePath, Header: emptyForm, Body: ""},
		{Method: "DELETE", Path: acmePath},
		{Method: "POST", Path: acmePath + "/reset"},
		{Method: "GET", Path: "/api/connections/" + f.acmeConn.ID + "/actions"},
		{Method: "PATCH", Path: "/api/connections/" + f.acmeConn.ID + "/actions/create-contact", Body: map[string]any{"name": "x"}},
		{Method: "GET", Path: "/api/action-instance?id=" + acme.ID},
		{Method: "PATCH", Path: "/api/action-instance?id=" + acme.ID, Body: map[string]any{"config": map[string]any{"credits": 9}}},
		{Method: "PUT", Path: "/api/action-instance?id=" + acme.ID, Body: map[string]any{"name": "x"}},
		{Method: "DELETE", Path: "/api/action-instance?id=" + acme.ID},
		{Method: "POST", Path: "/api/action-instance/reset?id=" + acme.ID},
		{Method: "POST", Path: "/api/action-instances/" + acme.ID + "/reset"},
		{Method: "GET", Path: "/api/action-instance?parentKey=list-deals&connectionId=" + f.acmeConn.ID},
		{Method: "POST", Path: "/api/action-instance?parentKey=list-deals&connectionId=" + f.acmeConn.ID, Body: map[string]any{"name": "x"}},
		{Method: "PATCH", Path: "/api/action-instance?parentKey=list-deals&connectionId=" + f.acmeConn.ID, Body: map[string]any{"name": "x"}},
		{Method: "GET", Path: "/api/action-instance?parentKey=list-deals&tenantId=acme"},
		{Method: "GET", Path: "/api/connections/" + acme.ID + "/actions/list-deals"}, // an element id is not a connection
		{Method: "GET", Path: "/api/actions/" + acme.ID},                             // nor a template
		{Method: "PATCH", Path: "/api/field-mapping-instance?id=" + acmeFM.ID, Body: map[string]any{"importValue": map[string]any{"x": "y"}}},
		{Method: "POST", Path: "/api/field-mapping-instances/" + acmeFM.ID + "/reset"},
	} {
		r.Token = f.globexTok
		e.fails(http.StatusNotFound, "not_found", "", r)
	}
	// Lists show globex only its own (nothing yet).
	for _, p := range []string{"/api/action-instances", "/api/action-instances?connectionId=" + f.acmeConn.ID, "/api/action-instances?tenantId=acme",
		"/api/actions?layer=connection", "/api/actions?connectionId=" + f.acmeConn.ID, "/api/field-mapping-instances"} {
		if l := listPage[element](e, f.globexTok, p); len(l.Items) != 0 {
			t.Errorf("globex %s: %d items", p, len(l.Items))
		}
	}
	// A connection key names the caller's own connection: globex's "main" is not acme's.
	g := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/main/actions/list-deals?autoCreate=true", Token: f.globexTok})
	if g.ConnectionID != f.globexConn.ID || g.TenantID != f.globex.ID || g.Config["credits"] != float64(1) {
		t.Errorf("globex's own by key: %+v", g)
	}
	if after := e.elementRow(acme.ID); after != before {
		t.Errorf("acme's customization changed:\n%s\n%s", before, after)
	}
	if after := e.elementRow(acmeFM.ID); after != beforeFM {
		t.Errorf("acme's field mapping changed")
	}
	if n := e.count(`SELECT count(*) FROM elements WHERE workspace_id = $1`, e.ws.ID); n != rows+1 {
		t.Errorf("elements: %d, want %d (only globex's own)", n, rows+1)
	}
	// The workspace token reaches both.
	if got := decode[element](e, http.StatusOK, req{Method: "GET", Path: acmePath, Token: f.admin}); got.ID != acme.ID || got.Config["credits"] != float64(5) {
		t.Errorf("admin reads acme's: %+v", got)
	}
	if l := listPage[element](e, f.admin, "/api/action-instances"); len(l.Items) != 2 {
		t.Errorf("admin lists %d action instances, want 2", len(l.Items))
	}
}

// TestCustomizationBadInput: an invalid customization is a 422 naming the field, and leaves
// nothing behind (not even the row a PATCH would have created).
func TestCustomizationBadInput(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	base := "/api/connections/" + f.acmeConn.ID
	rows := e.count(`SELECT count(*) FROM elements WHERE workspace_id = $1`, e.ws.ID)
	cases := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"bad method", "PATCH", base + "/actions/list-deals", `{"config":{"method":"FETCH"}}`, 422, "config.method"},
		{"unknown config key", "PATCH", base + "/actions/list-deals", `{"config":{"bogus":1}}`, 422, "config.bogus"},
		{"wrong type", "PATCH", base + "/actions/list-deals", `{"config":{"credits":"lots"}}`, 422, "config.credits"},
		{"removes a required key", "PATCH", base + "/actions/list-deals", `{"config":{"path":null}}`, 422, "config.path"},
		{"replace without required keys", "PUT", base + "/actions/list-deals", `{"config":{"method":"GET"}}`, 422, "config.path"},
		{"config not an object", "PATCH", base + "/actions/list-deals", `{"config":[1]}`, 422, "config"},
		{"type is the template's", "PATCH", base + "/actions/list-deals", `{"type":"run-javascript"}`, 422, "type"},
		{"key is the template's", "PATCH", base + "/actions/list-deals", `{"key":"other"}`, 422, "key"},
		{"integration is the template's", "PUT", base + "/actions/list-deals", `{"integrationKey":"pipedrive"}`, 422, "integrationKey"},
		{"alias of another kind", "PATCH", base + "/actions/list-deals", `{"direction":"import"}`, 422, "direction"},
		{"flow step with an unknown key", "PATCH", base + "/flows/sync-deals", `{"config":{"steps":[{"action":"a","when":"x"}]}}`, 422, "config.steps.0.when"},
		{"name too long", "PATCH", base + "/flows/sync-deals", `{"name":"` + longString(201) + `"}`, 422, "name"},
		{"unknown field", "PATCH", base + "/actions/list-deals", `{"enabled":true}`, 422, "enabled"},
		{"malformed JSON", "PATCH", base + "/actions/list-deals", `{"config":`, 400, ""},
		{"bad instance key", "PUT", base + "/actions/list-deals?instanceKey=-x", ``, 422, "instanceKey"},
		{"bad autoCreate", "GET", base + "/actions/list-deals?autoCreate=sure", ``, 400, "autoCreate"},
		{"bad limit", "GET", "/api/action-instances?limit=-1", ``, 400, "limit"},
		{"bad cursor", "GET", base + "/actions?cursor=zzz", ``, 400, ""},
		{"unknown template", "PATCH", base + "/actions/no-such", `{"name":"x"}`, 404, ""},
		{"unknown connection", "PATCH", "/api/connections/00000000-0000-0000-0000-000000000001/actions/list-deals", `{"name":"x"}`, 404, ""},
		{"no selector", "GET", "/api/flow-instance", ``, 400, ""},
		{"unknown instance id", "POST", "/api/action-instances/00000000-0000-0000-0000-000000000002/reset", ``, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			r := req{Method: c.method, Path: c.path, Token: f.acmeTok}
			if c.body != "" {
				r.Body = c.body
			}
			e.fails(c.status, "", c.field, r)
		})
	}
	if n := e.count(`SELECT count(*) FROM elements WHERE workspace_id = $1`, e.ws.ID); n != rows {
		t.Errorf("refused requests left %d elements, want %d", n, rows)
	}
}

func longString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'n'
	}
	return string(b)
}
