package api_test

import (
	"net/http"
	"slices"
	"testing"
)

// TestIntegrationsCRUD: create, read by id, key and query selector, list with search and pages,
// change, replace, archive and restore — each with its result and its activity entry.
func TestIntegrationsCRUD(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	hs := decode[integration](e, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: admin,
		Body: map[string]any{"key": "hubspot", "name": "HubSpot", "logoUri": "https://cdn.example/hs.png",
			"baseUri": "https://api.hubapi.com", "authType": "bearer"}})
	if hs.ID == "" || hs.Key != "hubspot" || hs.Name != "HubSpot" || hs.BaseURI != "https://api.hubapi.com" ||
		hs.AuthType != "bearer" || hs.LogoURI != "https://cdn.example/hs.png" || hs.ArchivedAt != nil {
		t.Fatalf("created %+v", hs)
	}
	// baseUrl is accepted as well; defaults: name = key, authType none.
	sf := decode[integration](e, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: admin,
		Body: map[string]any{"key": "salesforce", "baseUrl": "https://example.my.salesforce.com"}})
	if sf.BaseURI != "https://example.my.salesforce.com" || sf.Name != "salesforce" || sf.AuthType != "none" {
		t.Errorf("created with baseUrl: %+v", sf)
	}
	decode[integration](e, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: admin,
		Body: map[string]any{"key": "pipedrive", "name": "Pipedrive", "authType": "api-key-header"}})
	e.fails(http.StatusConflict, "already_exists", "key", req{Method: "POST", Path: "/api/integrations", Token: admin,
		Body: map[string]any{"key": "hubspot"}})

	for _, sel := range []string{"/api/integrations/" + hs.ID, "/api/integrations/hubspot", "/api/integration?key=hubspot", "/api/integration?id=" + hs.ID} {
		if got := decode[integration](e, http.StatusOK, req{Method: "GET", Path: sel, Token: admin}); got.ID != hs.ID {
			t.Errorf("GET %s: id %s, want %s", sel, got.ID, hs.ID)
		}
	}
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/integrations/nope", Token: admin})
	e.fails(http.StatusBadRequest, "invalid_selection", "", req{Method: "GET", Path: "/api/integration", Token: admin})

	// Lists: search, pages of one (the SDK's findAll starts with cursor=0).
	if l := listPage[integration](e, admin, "/api/integrations?search=SALES"); len(l.Items) != 1 || l.Items[0].Key != "salesforce" || l.HasCursor {
		t.Errorf("search: %+v", l)
	}
	var keys []string
	cursor := "0"
	for i := 0; cursor != ""; i++ {
		l := listPage[integration](e, admin, "/api/integrations?limit=1&cursor="+cursor)
		if len(l.Items) != 1 || i > 3 {
			t.Fatalf("page %d: %+v", i, l)
		}
		keys = append(keys, l.Items[0].Key)
		cursor = l.Cursor
	}
	if !slices.Equal(keys, []string{"hubspot", "salesforce", "pipedrive"}) {
		t.Errorf("pages: %v", keys)
	}

	// PATCH changes what is given; PUT replaces (logoUri and baseUri cleared, key kept).
	p := decode[integration](e, http.StatusOK, req{Method: "PATCH", Path: "/api/integrations/hubspot", Token: admin,
		Body: map[string]any{"name": "HubSpot CRM", "baseUrl": "https://api.hubspot.example"}})
	if p.Name != "HubSpot CRM" || p.BaseURI != "https://api.hubspot.example" || p.AuthType != "bearer" || p.LogoURI == "" {
		t.Errorf("PATCH: %+v", p)
	}
	// A GET-modify-PUT round trip with the read-only properties echoed back.
	body := e.must(http.StatusOK, req{Method: "GET", Path: "/api/integrations/hubspot", Token: admin})
	body["authType"] = "basic"
	if got := decode[integration](e, http.StatusOK, req{Method: "PUT", Path: "/api/integrations/" + hs.ID, Token: admin, Body: body}); got.AuthType != "basic" || got.Name != "HubSpot CRM" {
		t.Errorf("PUT round trip: %+v", got)
	}
	put := decode[integration](e, http.StatusOK, req{Method: "PUT", Path: "/api/integrations/hubspot", Token: admin,
		Body: map[string]any{"name": "HS"}})
	if put.Key != "hubspot" || put.Name != "HS" || put.LogoURI != "" || put.BaseURI != "" || put.AuthType != "none" {
		t.Errorf("PUT: %+v", put)
	}
	if n := e.activity("integration.updated"); n != 3 {
		t.Errorf("integration.updated entries: %d, want 3", n)
	}

	// DELETE archives: gone from the list, back with includeArchived; restore brings it back.
	arch := decode[integration](e, http.StatusOK, req{Method: "DELETE", Path: "/api/integrations/salesforce", Token: admin})
	if arch.ArchivedAt == nil {
		t.Errorf("DELETE: not archived: %+v", arch)
	}
	if l := listPage[integration](e, admin, "/api/integrations"); slices.Contains(idsOf(l.Items, func(i integration) string { return i.Key }), "salesforce") {
		t.Errorf("archived integration listed: %+v", l.Items)
	}
	if l := listPage[integration](e, admin, "/api/integrations?includeArchived=true"); len(l.Items) != 3 {
		t.Errorf("includeArchived: %d items", len(l.Items))
	}
	if r := decode[integration](e, http.StatusOK, req{Method: "POST", Path: "/api/integrations/salesforce/restore", Token: admin,
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: ""}); r.ArchivedAt != nil {
		t.Errorf("restore: %+v", r)
	}
	if e.activity("integration.created") != 3 || e.activity("integration.archived") != 1 || e.activity("integration.restored") != 1 {
		t.Errorf("activity: created %d archived %d restored %d", e.activity("integration.created"),
			e.activity("integration.archived"), e.activity("integration.restored"))
	}
}

// TestIntegrationsBadInput: bad values are 4xx naming the field, in the property name the client used.
func TestIntegrationsBadInput(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.must(http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: admin, Body: map[string]any{"key": "hubspot"}})
	cases := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"bad key", "POST", "/api/integrations", `{"key":"has space"}`, 422, "key"},
		{"no key", "POST", "/api/integrations", `{"name":"x"}`, 422, "key"},
		{"bad auth type", "POST", "/api/integrations", `{"key":"k","authType":"oauth2"}`, 422, "authType"},
		{"bad baseUri", "POST", "/api/integrations", `{"key":"k","baseUri":"ftp://x"}`, 422, "baseUri"},
		{"bad baseUrl", "POST", "/api/integrations", `{"key":"k","baseUrl":"not a url"}`, 422, "baseUrl"},
		{"both base names differ", "POST", "/api/integrations", `{"key":"k","baseUrl":"https://a.example","baseUri":"https://b.example"}`, 422, "baseUri"},
		{"name is a number", "PATCH", "/api/integrations/hubspot", `{"name":5}`, 422, "name"},
		{"key null", "PATCH", "/api/integrations/hubspot", `{"key":null}`, 422, "key"},
		{"unknown field", "PATCH", "/api/integrations/hubspot", `{"logo":"x"}`, 422, "logo"},
		{"bad logo", "PATCH", "/api/integrations/hubspot", `{"logoUri":"javascript:alert(1)"}`, 422, "logoUri"},
		{"bad limit", "GET", "/api/integrations?limit=0", ``, 400, "limit"},
		{"bad cursor", "GET", "/api/integrations?cursor=zzz", ``, 400, "cursor"},
		{"bad includeArchived", "GET", "/api/integrations?includeArchived=maybe", ``, 400, "includeArchived"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			r := req{Method: c.method, Path: c.path, Token: admin}
			if c.body != "" {
				r.Body = c.body
			}
			e.fails(c.status, "", c.field, r)
		})
	}
	if n := e.count(`SELECT count(*) FROM integrations WHERE workspace_id = $1`, e.ws.ID); n != 1 {
		t.Errorf("%d integrations after refused requests, want 1", n)
	}
}

// TestIntegrationsTenantToken: a tenant token reads integrations and cannot change them.
func TestIntegrationsTenantToken(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	if l := listPage[integration](e, f.acmeTok, "/api/integrations"); len(l.Items) != 1 || l.Items[0].ID != f.hubspot.ID {
		t.Errorf("tenant list: %+v", l.Items)
	}
	if got := decode[integration](e, http.StatusOK, req{Method: "GET", Path: "/api/integrations/hubspot", Token: f.acmeTok}); got.ID != f.hubspot.ID {
		t.Errorf("tenant get: %+v", got)
	}
	before := e.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1`, e.ws.ID)
	for _, r := range []req{
		{Method: "POST", Path: "/api/integrations", Body: map[string]any{"key": "mine"}},
		{Method: "PATCH", Path: "/api/integrations/hubspot", Body: map[string]any{"name": "Mine"}},
		{Method: "PUT", Path: "/api/integrations/hubspot", Body: map[string]any{"name": "Mine"}},
		{Method: "DELETE", Path: "/api/integrations/hubspot"},
		{Method: "POST", Path: "/api/integrations/hubspot/restore"},
	} {
		r.Token = f.acmeTok
		e.fails(http.StatusForbidden, "access_denied", "", r)
	}
	got := decode[integration](e, http.StatusOK, req{Method: "GET", Path: "/api/integrations/hubspot", Token: f.admin})
	if got.Name != "HubSpot" || got.ArchivedAt != nil {
		t.Errorf("a refused tenant write changed the integration: %+v", got)
	}
	if n := e.count(`SELECT count(*) FROM integrations WHERE workspace_id = $1`, e.ws.ID); n != 1 {
		t.Errorf("%d integrations", n)
	}
	if after := e.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1`, e.ws.ID); after != before {
		t.Errorf("refused writes recorded %d activity entries", after-before)
	}
}

// TestIntegrationElements: an integration's templates of each kind, and one by key.
func TestIntegrationElements(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	other := decode[integration](e, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: f.admin,
		Body: map[string]any{"key": "pipedrive"}})
	decode[element](e, http.StatusCreated, req{Method: "POST", Path: "/api/actions", Token: f.admin,
		Body: map[string]any{"key": "list-persons", "integrationId": other.ID, "type": "http-request",
			"config": map[string]any{"method": "GET", "path": "/persons"}}})

	for _, tok := range []string{f.admin, f.acmeTok} {
		l := listPage[element](e, tok, "/api/integrations/hubspot/actions")
		if got := keysOf(l.Items); !slices.Equal(got, []string{"create-contact", "list-deals"}) {
			t.Errorf("hubspot actions: %v", got)
		}
		if l := listPage[element](e, tok, "/api/integrations/"+other.ID+"/actions"); !slices.Equal(keysOf(l.Items), []string{"list-persons"}) {
			t.Errorf("pipedrive actions: %v", keysOf(l.Items))
		}
		if l := listPage[element](e, tok, "/api/integrations/hubspot/actions?search=create"); !slices.Equal(keysOf(l.Items), []string{"create-contact"}) {
			t.Errorf("search: %v", keysOf(l.Items))
		}
		for plural, key := range map[string]string{"flows": "sync-deals", "data-sources": "contacts", "field-mappings": "contact-fields"} {
			l := listPage[element](e, tok, "/api/integrations/hubspot/"+plural)
			if !slices.Equal(keysOf(l.Items), []string{key}) {
				t.Errorf("hubspot %s: %v", plural, keysOf(l.Items))
			}
			got := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/integrations/hubspot/" + plural + "/" + key, Token: tok})
			if got.Key != key || got.IntegrationKey != "hubspot" || got.Layer != "integration" {
				t.Errorf("GET %s/%s: %+v", plural, key, got)
			}
		}
		got := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/integrations/hubspot/actions/list-deals", Token: tok})
		if got.ID != f.listDeals.ID || got.Config["method"] != "GET" {
			t.Errorf("GET list-deals: %+v", got)
		}
		// Another integration's action is not this one's.
		e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/integrations/hubspot/actions/list-persons", Token: tok})
		e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/integrations/nope/actions", Token: tok})
	}
}

// TestUniverse: every token reads the universe; nothing writes it through the API.
func TestUniverse(t *testing.T) {
	e := newEnv(t)
	admin, tenant := e.adminToken(), e.tenantToken("uni", nil)
	for _, tok := range []string{admin, tenant} {
		l := listPage[element](e, tok, "/api/universe?kind=connector")
		if len(l.Items) == 0 {
			t.Fatal("no universe connectors")
		}
		for _, u := range l.Items {
			if u.Kind != "connector" || u.Layer != "universal" || !u.IsUniversal {
				t.Errorf("listed %+v", u)
			}
		}
		hs := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/universe/connector/hubspot", Token: tok})
		if hs.Key != "hubspot" || hs.AppKey != "hubspot" || hs.Config["baseUrl"] != "https://api.hubapi.com" {
			t.Errorf("hubspot connector: %+v", hs)
		}
		if byID := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/universe/connectors/" + hs.ID, Token: tok}); byID.ID != hs.ID {
			t.Errorf("by id: %+v", byID)
		}
		app := listPage[element](e, tok, "/api/universe?app=hubspot")
		for _, u := range app.Items {
			if u.AppKey != "hubspot" && !(u.Kind == "app" && u.Key == "hubspot") {
				t.Errorf("app=hubspot listed %+v", u)
			}
		}
		// Pages of one walk the whole catalog.
		all := listPage[element](e, tok, "/api/universe?limit=1000")
		n, cursor := 0, "0"
		for i := 0; cursor != ""; i++ {
			p := listPage[element](e, tok, "/api/universe?limit=2&cursor="+cursor)
			n += len(p.Items)
			cursor = p.Cursor
			if i > len(all.Items) {
				t.Fatal("pages do not end")
			}
		}
		if n != len(all.Items) {
			t.Errorf("pages gave %d elements, the whole list %d", n, len(all.Items))
		}
		// The universe as a layer of the element lists.
		ul := listPage[element](e, tok, "/api/connectors?layer=universal")
		if len(ul.Items) != len(l.Items) || ul.Items[0].Layer != "universal" {
			t.Errorf("connectors?layer=universal: %d items, want %d", len(ul.Items), len(l.Items))
		}
		if ul := listPage[element](e, tok, "/api/flows?isUniversal=true"); len(ul.Items) != 0 {
			t.Errorf("universal flows: %+v", ul.Items)
		}
		e.fails(http.StatusBadRequest, "invalid_query", "kind", req{Method: "GET", Path: "/api/universe?kind=flow", Token: tok})
		e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/universe/flow/x", Token: tok})
		e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/universe/connector/nope", Token: tok})
		for _, r := range []req{
			{Method: "POST", Path: "/api/universe", Body: map[string]any{"kind": "app", "key": "x", "name": "X"}},
			{Method: "PUT", Path: "/api/universe/connector/hubspot", Body: map[string]any{"name": "X"}},
			{Method: "PATCH", Path: "/api/universe/connector/hubspot", Body: map[string]any{"name": "X"}},
			{Method: "DELETE", Path: "/api/universe/connector/hubspot"},
		} {
			r.Token = tok
			e.fails(http.StatusNotFound, "not_found", "", r)
		}
	}
	if n := e.count(`SELECT count(*) FROM universe_elements WHERE name = 'X'`); n != 0 {
		t.Errorf("universe changed: %d", n)
	}
}
