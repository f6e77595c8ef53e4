package api_test

import (
	"net/http"
	"slices"
	"testing"
)

// elementKinds are the API's element collections with a valid config of each.
var elementKinds = []struct {
	plural, singular string
	body             map[string]any // without key and integration
}{
	{"actions", "action", map[string]any{"type": "http-request", "config": map[string]any{"method": "GET", "path": "/things",
		"headers": map[string]any{"Accept": "application/json", "X-Trace": "1"}}}},
	{"flows", "flow", map[string]any{"config": map[string]any{"steps": []any{map[string]any{"action": "list-deals"}}}}},
	{"data-sources", "data-source", map[string]any{"config": map[string]any{"collectionKey": "things", "collectionParameters": map[string]any{"a": 1, "b": 2}}}},
	{"field-mappings", "field-mapping", map[string]any{"config": map[string]any{"direction": "import", "importValue": map[string]any{"a": "x", "b": "y"}}}},
	{"connectors", "connector", map[string]any{"config": map[string]any{"baseUrl": "https://api.example", "authType": "bearer", "apiKeyHeader": "X-Key"}}},
}

// nestedKey is, per kind, a config object whose keys a merge patch can change one by one.
var nestedKey = map[string]string{"actions": "headers", "data-sources": "collectionParameters", "field-mappings": "importValue"}

// TestElementsCRUD: for every kind, create, read by id, key and query selector, list by
// integration, merge-patch, replace, archive and restore — checking results and activity.
func TestElementsCRUD(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	hs := decode[integration](e, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: admin, Body: map[string]any{"key": "hubspot"}})
	pd := decode[integration](e, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: admin, Body: map[string]any{"key": "pipedrive"}})
	for _, k := range elementKinds {
		t.Run(k.plural, func(t *testing.T) {
			e := e.with(t)
			body := map[string]any{"key": "thing", "name": "Thing", "description": "A thing", "integrationKey": "hubspot"}
			for x, v := range k.body {
				body[x] = v
			}
			c := decode[element](e, http.StatusCreated, req{Method: "POST", Path: "/api/" + k.plural, Token: admin, Body: body})
			if c.ID == "" || c.Key != "thing" || c.Name != "Thing" || c.Description != "A thing" || c.IntegrationID != hs.ID ||
				c.IntegrationKey != "hubspot" || c.Layer != "integration" || c.IsCustomized || c.ParentID != "" {
				t.Fatalf("created %+v", c)
			}
			e.wantConfig("created config", c.Config, k.body["config"])
			other := map[string]any{"key": "other", "integrationId": pd.ID}
			for x, v := range k.body {
				other[x] = v
			}
			decode[element](e, http.StatusCreated, req{Method: "POST", Path: "/api/" + k.plural, Token: admin, Body: other})
			e.fails(http.StatusConflict, "already_exists", "key", req{Method: "POST", Path: "/api/" + k.plural, Token: admin, Body: body})

			for _, p := range []string{"/api/" + k.plural + "/" + c.ID, "/api/" + k.plural + "/thing",
				"/api/" + k.singular + "?key=thing&integrationKey=hubspot", "/api/" + k.singular + "?id=" + c.ID,
				"/api/" + k.singular + "?key=thing&integrationId=" + hs.ID} {
				if got := decode[element](e, http.StatusOK, req{Method: "GET", Path: p, Token: admin}); got.ID != c.ID {
					t.Errorf("GET %s: %+v", p, got)
				}
			}
			e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/" + k.singular + "?key=thing&integrationKey=pipedrive", Token: admin})
			e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/" + k.plural + "/nothing", Token: admin})

			if l := listPage[element](e, admin, "/api/"+k.plural+"?integrationKey=hubspot"); !slices.Equal(keysOf(l.Items), []string{"thing"}) {
				t.Errorf("list by integrationKey: %v", keysOf(l.Items))
			}
			if l := listPage[element](e, admin, "/api/"+k.plural+"?integrationId="+pd.ID); !slices.Equal(keysOf(l.Items), []string{"other"}) {
				t.Errorf("list by integrationId: %v", keysOf(l.Items))
			}
			if l := listPage[element](e, admin, "/api/"+k.plural+"?integrationKey=nope"); len(l.Items) != 0 {
				t.Errorf("list by an unknown integration: %v", keysOf(l.Items))
			}
			if l := listPage[element](e, admin, "/api/"+k.plural+"?limit=1&cursor=0"); len(l.Items) != 1 || l.Items[0].Key != "thing" || l.Cursor == "" {
				t.Errorf("first page: %+v", l)
			} else if l2 := listPage[element](e, admin, "/api/"+k.plural+"?limit=1&cursor="+l.Cursor); len(l2.Items) != 1 || l2.Items[0].Key != "other" || l2.HasCursor {
				t.Errorf("second page: %+v", l2)
			}

			// PATCH: config is a merge patch over the stored config; other properties as given.
			want := jsonClone(k.body["config"]).(map[string]any)
			patch := map[string]any{"name": "Renamed"}
			if n, ok := nestedKey[k.plural]; ok {
				inner := want[n].(map[string]any)
				var first string
				for x := range inner {
					first = x
					break
				}
				patch["config"] = map[string]any{n: map[string]any{first: nil, "added": "z"}}
				delete(inner, first)
				inner["added"] = "z"
			}
			p := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/" + k.plural + "/thing", Token: admin, Body: patch})
			if p.Name != "Renamed" || p.Description != "A thing" || p.IntegrationKey != "hubspot" {
				t.Errorf("PATCH: %+v", p)
			}
			e.wantConfig("PATCH config", p.Config, want)

			// PUT replaces: description and integration dropped, key kept.
			put := map[string]any{"name": "Put", "config": k.body["config"]}
			if ty, ok := k.body["type"]; ok {
				put["type"] = ty
			}
			r := decode[element](e, http.StatusOK, req{Method: "PUT", Path: "/api/" + k.singular + "?key=thing", Token: admin, Body: put})
			if r.Key != "thing" || r.Name != "Put" || r.Description != "" || r.IntegrationID != "" {
				t.Errorf("PUT: %+v", r)
			}
			e.wantConfig("PUT config", r.Config, k.body["config"])

			// DELETE archives; restore brings it back.
			a := decode[element](e, http.StatusOK, req{Method: "DELETE", Path: "/api/" + k.plural + "/" + c.ID, Token: admin})
			if a.ArchivedAt == nil {
				t.Errorf("DELETE: %+v", a)
			}
			if l := listPage[element](e, admin, "/api/"+k.plural); slices.Contains(keysOf(l.Items), "thing") {
				t.Errorf("archived element listed")
			}
			if l := listPage[element](e, admin, "/api/"+k.plural+"?includeArchived=true"); !slices.Contains(keysOf(l.Items), "thing") {
				t.Errorf("includeArchived does not list the archived element")
			}
			if rs := decode[element](e, http.StatusOK, req{Method: "POST", Path: "/api/" + k.plural + "/thing/restore", Token: admin}); rs.ArchivedAt != nil {
				t.Errorf("restore: %+v", rs)
			}
			kind := k.singular
			if e.activity(kind+".created") != 2 || e.activity(kind+".updated") != 2 || e.activity(kind+".archived") != 1 || e.activity(kind+".restored") != 1 {
				t.Errorf("activity for %s: created %d updated %d archived %d restored %d", kind, e.activity(kind+".created"),
					e.activity(kind+".updated"), e.activity(kind+".archived"), e.activity(kind+".restored"))
			}
		})
	}
}

// TestElementUniversalParent: a template built on a universe element shows the merged config.
func TestElementUniversalParent(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	u := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/universe/connector/hubspot", Token: admin})
	c := decode[element](e, http.StatusCreated, req{Method: "POST", Path: "/api/connectors", Token: admin,
		Body: map[string]any{"key": "hs", "universalParentId": "hubspot", "config": map[string]any{"apiKeyHeader": "X-Key"}}})
	if c.UniversalParentID != u.ID {
		t.Errorf("universalParentId %q, want %q", c.UniversalParentID, u.ID)
	}
	want := jsonClone(u.Config).(map[string]any)
	want["apiKeyHeader"] = "X-Key"
	e.wantConfig("effective config over the universe", c.Config, want)
	e.fails(http.StatusUnprocessableEntity, "validation_error", "universalParentId", req{Method: "POST", Path: "/api/connectors", Token: admin,
		Body: map[string]any{"key": "hs2", "universalParentId": "no-such-connector"}})
}

// TestElementsTenantToken: a tenant token reads templates and cannot write them.
func TestElementsTenantToken(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	if l := listPage[element](e, f.acmeTok, "/api/actions"); !slices.Equal(keysOf(l.Items), []string{"create-contact", "list-deals"}) {
		t.Errorf("tenant list: %v", keysOf(l.Items))
	}
	if got := decode[element](e, http.StatusOK, req{Method: "GET", Path: "/api/action?key=list-deals&integrationKey=hubspot", Token: f.acmeTok}); got.ID != f.listDeals.ID {
		t.Errorf("tenant get: %+v", got)
	}
	before := e.elementRow(f.listDeals.ID)
	rows := e.count(`SELECT count(*) FROM elements WHERE workspace_id = $1`, e.ws.ID)
	for _, r := range []req{
		{Method: "POST", Path: "/api/actions", Body: map[string]any{"key": "mine", "type": "http-request", "config": map[string]any{"method": "GET", "path": "/"}}},
		{Method: "PATCH", Path: "/api/actions/list-deals", Body: map[string]any{"name": "Mine"}},
		{Method: "PUT", Path: "/api/actions/" + f.listDeals.ID, Body: map[string]any{"name": "Mine"}},
		{Method: "DELETE", Path: "/api/actions/list-deals"},
		{Method: "POST", Path: "/api/actions/list-deals/restore"},
		{Method: "PATCH", Path: "/api/action?key=list-deals", Body: map[string]any{"name": "Mine"}},
		{Method: "DELETE", Path: "/api/flow?key=sync-deals"},
		{Method: "POST", Path: "/api/field-mappings", Body: map[string]any{"key": "mine"}},
		{Method: "PATCH", Path: "/api/data-sources/contacts", Body: map[string]any{"config": map[string]any{"collectionKey": "x"}}},
	} {
		r.Token = f.acmeTok
		e.fails(http.StatusForbidden, "access_denied", "", r)
	}
	if after := e.elementRow(f.listDeals.ID); after != before {
		t.Errorf("a refused tenant write changed the template:\n%s\n%s", before, after)
	}
	if n := e.count(`SELECT count(*) FROM elements WHERE workspace_id = $1`, e.ws.ID); n != rows {
		t.Errorf("elements: %d, want %d", n, rows)
	}
}

// TestElementsBadInput: bad keys, types and configs are 422s naming the field; bad queries 400s.
func TestElementsBadInput(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	rows := e.count(`SELECT count(*) FROM elements WHERE workspace_id = $1`, e.ws.ID)
	before := e.elementRow(f.listDeals.ID)
	cases := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"bad key", "POST", "/api/actions", `{"key":"no spaces","type":"http-request","config":{"method":"GET","path":"/"}}`, 422, "key"},
		{"no key", "POST", "/api/flows", `{"name":"x"}`, 422, "key"},
		{"unknown action type", "POST", "/api/actions", `{"key":"a","type":"teleport"}`, 422, "type"},
		{"type on a flow", "POST", "/api/flows", `{"key":"f","type":"http-request"}`, 422, "type"},
		{"unknown config key", "POST", "/api/actions", `{"key":"a","type":"http-request","config":{"method":"GET","path":"/","bogus":1}}`, 422, "config.bogus"},
		{"missing method", "POST", "/api/actions", `{"key":"a","type":"http-request","config":{"path":"/"}}`, 422, "config.method"},
		{"method of a wrong type", "POST", "/api/actions", `{"key":"a","type":"http-request","config":{"method":5,"path":"/"}}`, 422, "config.method"},
		{"flow step without action", "POST", "/api/flows", `{"key":"f","config":{"steps":[{"key":"s"}]}}`, 422, "config.steps.0.action"},
		{"interval too small", "POST", "/api/data-sources", `{"key":"d","config":{"pullUpdatesIntervalSeconds":5}}`, 422, "config.pullUpdatesIntervalSeconds"},
		{"bad direction", "POST", "/api/field-mappings", `{"key":"m","direction":"sideways"}`, 422, "config.direction"},
		{"alias of another kind", "POST", "/api/actions", `{"key":"a","importValue":{}}`, 422, "importValue"},
		{"config not an object", "POST", "/api/actions", `{"key":"a","config":"GET /"}`, 422, "config"},
		{"config null", "PATCH", "/api/actions/list-deals", `{"config":null}`, 422, "config"},
		{"unknown integration", "POST", "/api/actions", `{"key":"a","integrationKey":"nope"}`, 422, "integrationKey"},
		{"unknown integration id", "PATCH", "/api/actions/list-deals", `{"integrationId":"00000000-0000-0000-0000-000000000000"}`, 422, "integrationId"},
		{"unknown field", "POST", "/api/actions", `{"key":"a","inputSchema":{}}`, 422, "inputSchema"},
		{"name is a number", "PATCH", "/api/actions/list-deals", `{"name":1}`, 422, "name"},
		{"merge patch breaks the config", "PATCH", "/api/actions/list-deals", `{"config":{"method":null}}`, 422, "config.method"},
		{"merge patch of a wrong type", "PATCH", "/api/actions/list-deals", `{"config":{"query":{"limit":{"a":1}}}}`, 422, "config.query.limit"},
		{"rename onto another key", "PATCH", "/api/actions/list-deals", `{"key":"create-contact"}`, 409, "key"},
		{"bad layer", "GET", "/api/actions?layer=galaxy", ``, 400, "layer"},
		{"bad limit", "GET", "/api/actions?limit=1001", ``, 400, "limit"},
		{"bad cursor", "GET", "/api/flows?cursor=garbage", ``, 400, "cursor"},
		{"bad boolean", "GET", "/api/actions?includeArchived=perhaps", ``, 400, "includeArchived"},
		{"no selector", "GET", "/api/action", ``, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			r := req{Method: c.method, Path: c.path, Token: f.admin}
			if c.body != "" {
				r.Body = c.body
			}
			e.fails(c.status, "", c.field, r)
		})
	}
	if n := e.count(`SELECT count(*) FROM elements WHERE workspace_id = $1`, e.ws.ID); n != rows {
		t.Errorf("refused requests left %d elements, want %d", n, rows)
	}
	if after := e.elementRow(f.listDeals.ID); after != before {
		t.Errorf("refused requests changed list-deals")
	}
}

// TestElementsListLayers: layer=connection (or a connection or tenant filter) lists tenant-level
// rows; a tenant token sees only its own.
func TestElementsListLayers(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	acme := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + f.acmeConn.ID + "/actions/list-deals", Token: f.acmeTok,
		Body: map[string]any{"config": map[string]any{"credits": 2}}})
	globex := decode[element](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + f.globexConn.ID + "/actions/list-deals", Token: f.globexTok,
		Body: map[string]any{"config": map[string]any{"credits": 3}}})
	id := func(x element) string { return x.ID }
	for path, want := range map[string][]string{
		"/api/actions?layer=connection":                   {acme.ID, globex.ID},
		"/api/actions?connectionId=" + f.acmeConn.ID:      {acme.ID},
		"/api/actions?tenantId=globex":                    {globex.ID},
		"/api/actions?userId=" + f.acme.ID:                {acme.ID},
		"/api/actions?parentId=" + f.listDeals.ID:         {acme.ID, globex.ID},
		"/api/actions?layer=connection&tenantId=initech":  {},
		"/api/actions?layer=connection&integrationKey=hs": {},
	} {
		if got := idsOf(listPage[element](e, f.admin, path).Items, id); !slices.Equal(got, sorted(want)) {
			t.Errorf("admin %s: %v, want %v", path, got, want)
		}
	}
	for path, want := range map[string][]string{
		"/api/actions?layer=connection":                  {acme.ID},
		"/api/actions?connectionId=" + f.globexConn.ID:   {},
		"/api/actions?tenantId=globex":                   {},
		"/api/actions?layer=connection&tenantId=acme":    {acme.ID},
		"/api/action-instances":                          {acme.ID},
		"/api/action-instances?userId=" + f.globex.ID:    {},
		"/api/actions?layer=integration&search=deals":    {f.listDeals.ID},
		"/api/action-instances?integrationKey=hubspot":   {acme.ID},
		"/api/action-instances?connectionKey=main":       {acme.ID},
		"/api/action-instances?connectionKey=second":     {},
		"/api/action-instances?parentKey=create-contact": {},
	} {
		if got := idsOf(listPage[element](e, f.acmeTok, path).Items, id); !slices.Equal(got, sorted(want)) {
			t.Errorf("acme %s: %v, want %v", path, got, want)
		}
	}
	l := listPage[element](e, f.admin, "/api/actions?layer=connection&connectionId="+f.globexConn.ID)
	if len(l.Items) != 1 || l.Items[0].Layer != "connection" || l.Items[0].TenantID != f.globex.ID || l.Items[0].Config["credits"] != float64(3) {
		t.Errorf("globex's row: %+v", l.Items)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}
