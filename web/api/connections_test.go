package api_test

import (
	"net/http"
	"slices"
	"testing"
)

// TestConnectionsCRUD: create (workspace and tenant tokens), read by id and key, list with
// filters and pages, change, disconnect, reconnect, replace and archive.
func TestConnectionsCRUD(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	c := f.acmeConn
	if c.ID == "" || c.Name != "Acme HubSpot" || c.Key != "main" || c.UserID != f.acme.ID || c.TenantID != f.acme.ID ||
		c.TenantInternalID != "acme" || c.IntegrationID != f.hubspot.ID || c.IntegrationKey != "hubspot" || !c.Connected ||
		c.Disconnected || c.State != "READY" || c.IsDeactivated || c.ArchivedAt != nil || !slices.Equal(c.CredentialKeys, []string{"accessToken"}) ||
		c.Credentials != nil || c.Meta == nil {
		t.Fatalf("created %+v", c)
	}
	// The tenant token's connection is its own; the name defaults to the integration's.
	if f.acmeConn2.TenantID != f.acme.ID || len(f.acmeConn2.CredentialKeys) != 0 {
		t.Errorf("tenant-created: %+v", f.acmeConn2)
	}
	d := decode[connection](e, http.StatusCreated, req{Method: "POST", Path: "/api/connections", Token: f.acmeTok,
		Body: map[string]any{"integrationKey": "hubspot", "isTest": true, "meta": map[string]any{"region": "eu"}, "disconnected": true}})
	if d.Name != "HubSpot" || !d.IsTest || d.Meta["region"] != "eu" || d.Connected || d.State != "DISCONNECTED" {
		t.Errorf("defaults and flags: %+v", d)
	}
	if e.activity("connection.created") != 4 {
		t.Errorf("connection.created: %d", e.activity("connection.created"))
	}

	for _, r := range []req{{Path: "/api/connections/" + c.ID, Token: f.admin}, {Path: "/api/connections/" + c.ID + "?includeSecrets=false", Token: f.acmeTok},
		{Path: "/api/connections/main", Token: f.acmeTok}} {
		r.Method = "GET"
		if got := decode[connection](e, http.StatusOK, r); got.ID != c.ID || got.Credentials != nil {
			t.Errorf("GET %s: %+v", r.Path, got)
		}
	}
	// A key names a connection only within one tenant: a workspace token uses ids.
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/connections/main", Token: f.admin})

	id := func(x connection) string { return x.ID }
	for path, want := range map[string][]string{
		"/api/connections":                                 {c.ID, f.acmeConn2.ID, d.ID, f.globexConn.ID},
		"/api/connections?tenantId=acme":                   {c.ID, f.acmeConn2.ID, d.ID},
		"/api/connections?userId=" + f.globex.ID:           {f.globexConn.ID},
		"/api/connections?tenantId=nobody":                 {},
		"/api/connections?connected=true":                  {c.ID, f.acmeConn2.ID, f.globexConn.ID},
		"/api/connections?connected=false":                 {d.ID},
		"/api/connections?disconnected=true":               {d.ID},
		"/api/connections?state=DISCONNECTED":              {d.ID},
		"/api/connections?isTest=true":                     {d.ID},
		"/api/connections?integrationKey=hubspot&isTest=0": {c.ID, f.acmeConn2.ID, f.globexConn.ID},
		"/api/connections?integrationId=" + f.hubspot.ID:   {c.ID, f.acmeConn2.ID, d.ID, f.globexConn.ID},
		"/api/connections?integrationKey=pipedrive":        {},
		"/api/connections?integrationId=nope":              {},
		"/api/connections?search=acme":                     {c.ID, f.acmeConn2.ID},
		"/api/connections?search=second":                   {f.acmeConn2.ID},
	} {
		if got := idsOf(listPage[connection](e, f.admin, path).Items, id); !slices.Equal(got, sorted(want)) {
			t.Errorf("admin %s: %v, want %v", path, got, want)
		}
	}
	// Pages (findAll starts at cursor=0 and stops when the cursor is gone).
	var seen []string
	cursor := "0"
	for i := 0; cursor != ""; i++ {
		p := listPage[connection](e, f.admin, "/api/connections?limit=3&cursor="+cursor)
		seen = append(seen, idsOf(p.Items, id)...)
		cursor = p.Cursor
		if i > 3 {
			t.Fatal("pages do not end")
		}
	}
	if slices.Sort(seen); !slices.Equal(seen, sorted([]string{c.ID, f.acmeConn2.ID, d.ID, f.globexConn.ID})) {
		t.Errorf("pages: %v", seen)
	}

	// PATCH: name; disconnect keeps credentials; new credentials reconnect.
	p := decode[connection](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + c.ID, Token: f.acmeTok, Body: map[string]any{"name": "Renamed"}})
	if p.Name != "Renamed" || p.Key != "main" || !p.Connected {
		t.Errorf("PATCH name: %+v", p)
	}
	p = decode[connection](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + c.ID, Token: f.admin, Body: map[string]any{"disconnected": true}})
	if p.Connected || !p.Disconnected || p.State != "DISCONNECTED" || !slices.Equal(p.CredentialKeys, []string{"accessToken"}) {
		t.Errorf("disconnect: %+v", p)
	}
	if e.activity("connection.disconnected") != 2 {
		t.Errorf("connection.disconnected: %d", e.activity("connection.disconnected"))
	}
	p = decode[connection](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/main", Token: f.acmeTok,
		Body: map[string]any{"credentials": map[string]any{"accessToken": "new", "refreshToken": "r"}, "meta": map[string]any{"a": 1}}})
	if !p.Connected || p.State != "READY" || !slices.Equal(p.CredentialKeys, []string{"accessToken", "refreshToken"}) || p.Meta["a"] != float64(1) {
		t.Errorf("new credentials: %+v", p)
	}
	// PUT: a get-modify-put round trip works; an absent meta or key is cleared, credentials kept.
	body := e.must(http.StatusOK, req{Method: "GET", Path: "/api/connections/" + c.ID, Token: f.admin})
	body["name"] = "Put"
	if got := decode[connection](e, http.StatusOK, req{Method: "PUT", Path: "/api/connections/" + c.ID, Token: f.admin, Body: body}); got.Name != "Put" || got.Meta["a"] != float64(1) || got.Key != "main" {
		t.Errorf("PUT round trip: %+v", got)
	}
	put := decode[connection](e, http.StatusOK, req{Method: "PUT", Path: "/api/connections/" + c.ID, Token: f.admin, Body: map[string]any{"isTest": true}})
	if put.Name != "Put" || put.Key != "" || len(put.Meta) != 0 || !put.IsTest || !slices.Equal(put.CredentialKeys, []string{"accessToken", "refreshToken"}) {
		t.Errorf("PUT: %+v", put)
	}
	// The key can be set again and removed with null.
	if got := decode[connection](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + c.ID, Token: f.admin, Body: map[string]any{"key": "main"}}); got.Key != "main" {
		t.Errorf("key: %+v", got)
	}
	if got := decode[connection](e, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + c.ID, Token: f.admin, Body: map[string]any{"key": nil}}); got.Key != "" {
		t.Errorf("key null: %+v", got)
	}

	// DELETE archives and returns the connection.
	a := decode[connection](e, http.StatusOK, req{Method: "DELETE", Path: "/api/connections/" + f.acmeConn2.ID, Token: f.acmeTok})
	if a.ArchivedAt == nil || a.Connected {
		t.Errorf("archived: %+v", a)
	}
	if l := listPage[connection](e, f.acmeTok, "/api/connections"); slices.Contains(idsOf(l.Items, id), a.ID) {
		t.Errorf("archived connection listed")
	}
	if l := listPage[connection](e, f.acmeTok, "/api/connections?includeArchived=true"); !slices.Contains(idsOf(l.Items, id), a.ID) {
		t.Errorf("includeArchived does not list it")
	}
	if got := decode[connection](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/" + a.ID, Token: f.acmeTok}); got.ArchivedAt == nil {
		t.Errorf("GET archived: %+v", got)
	}
	if e.activity("connection.archived") != 1 {
		t.Errorf("connection.archived: %d", e.activity("connection.archived"))
	}
}

// TestConnectionSecrets: includeSecrets=true returns the credentials and records the read;
// false (what the SDK always sends) neither.
func TestConnectionSecrets(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	reads := func() int {
		return e.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = 'credentials.read' AND connection_id = $2 AND tenant_id = $3`,
			e.ws.ID, f.acmeConn.ID, f.acme.ID)
	}
	if got := decode[connection](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/" + f.acmeConn.ID + "?includeSecrets=false", Token: f.acmeTok}); got.Credentials != nil {
		t.Errorf("includeSecrets=false returned credentials: %v", got.Credentials)
	}
	if n := reads(); n != 0 {
		t.Fatalf("credentials.read entries before any read: %d", n)
	}
	got := decode[connection](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/" + f.acmeConn.ID + "?includeSecrets=true", Token: f.acmeTok})
	if !jsonEq(got.Credentials, map[string]any{"accessToken": "acme-secret"}) {
		t.Errorf("credentials: %v", got.Credentials)
	}
	if n := reads(); n != 1 {
		t.Errorf("credentials.read entries: %d, want 1", n)
	}
	var actor string
	if err := e.db.SQL().Get(&actor, `SELECT actor_type FROM activity_log WHERE type = 'credentials.read' AND connection_id = $1`, f.acmeConn.ID); err != nil || actor != "tenant-token" {
		t.Errorf("actor %q (%v)", actor, err)
	}
	decode[connection](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/" + f.acmeConn.ID + "?includeSecrets=1", Token: f.admin})
	if n := reads(); n != 2 {
		t.Errorf("credentials.read entries after the workspace token's read: %d, want 2", n)
	}
	// Lists never carry credentials.
	for _, c := range listPage[connection](e, f.admin, "/api/connections?includeSecrets=true").Items {
		if c.Credentials != nil {
			t.Errorf("list carries credentials: %+v", c)
		}
	}
	// Another tenant cannot read them, and its attempt records nothing.
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "GET", Path: "/api/connections/" + f.acmeConn.ID + "?includeSecrets=true", Token: f.globexTok})
	if n := reads(); n != 2 {
		t.Errorf("credentials.read entries after a refused read: %d", n)
	}
}

// TestConnectionsIsolation: a tenant token sees and changes only its own connections.
func TestConnectionsIsolation(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	e.must(http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + f.acmeConn.ID + "/event-subscriptions", Token: f.acmeTok,
		Body: map[string]any{"eventType": "deal.created"}})
	subs := listPage[subscription](e, f.acmeTok, "/api/connections/"+f.acmeConn.ID+"/event-subscriptions")
	var before string
	if err := e.db.SQL().Get(&before, `SELECT xmin::text || row_to_json(c)::text FROM connections c WHERE id = $1`, f.acmeConn.ID); err != nil {
		t.Fatal(err)
	}
	conns := e.count(`SELECT count(*) FROM connections`)
	p := "/api/connections/" + f.acmeConn.ID
	for _, r := range []req{
		{Method: "GET", Path: p},
		{Method: "GET", Path: p + "?includeSecrets=true"},
		{Method: "PATCH", Path: p, Body: map[string]any{"name": "Mine"}},
		{Method: "PUT", Path: p, Body: map[string]any{"name": "Mine"}},
		{Method: "PATCH", Path: p, Body: map[string]any{"disconnected": true}},
		{Method: "DELETE", Path: p},
		{Method: "GET", Path: p + "/event-subscriptions"},
		{Method: "POST", Path: p + "/event-subscriptions", Body: map[string]any{"eventType": "deal.deleted"}},
		{Method: "DELETE", Path: p + "/event-subscriptions/" + subs.Items[0].ID},
		{Method: "DELETE", Path: "/api/connections/" + f.globexConn.ID + "/event-subscriptions/" + subs.Items[0].ID},
		{Method: "GET", Path: "/api/connections/second"}, // acme's key: globex has none
	} {
		r.Token = f.globexTok
		e.fails(http.StatusNotFound, "not_found", "", r)
	}
	for _, path := range []string{"/api/connections", "/api/connections?tenantId=acme", "/api/connections?userId=" + f.acme.ID, "/api/connections?includeArchived=true"} {
		l := listPage[connection](e, f.globexTok, path)
		for _, c := range l.Items {
			if c.TenantID != f.globex.ID {
				t.Errorf("globex %s lists %+v", path, c)
			}
		}
	}
	if l := listPage[connection](e, f.globexTok, "/api/connections"); len(l.Items) != 1 || l.Items[0].ID != f.globexConn.ID {
		t.Errorf("globex's list: %+v", l.Items)
	}
	// Creating a connection for another tenant is refused.
	e.fails(http.StatusUnprocessableEntity, "validation_error", "tenantId", req{Method: "POST", Path: "/api/connections", Token: f.globexTok,
		Body: map[string]any{"integrationKey": "hubspot", "tenantId": "acme"}})
	e.fails(http.StatusUnprocessableEntity, "validation_error", "userId", req{Method: "POST", Path: "/api/connections", Token: f.globexTok,
		Body: map[string]any{"integrationKey": "hubspot", "userId": f.acme.ID}})
	// Naming itself is fine.
	own := decode[connection](e, http.StatusCreated, req{Method: "POST", Path: "/api/connections", Token: f.globexTok,
		Body: map[string]any{"integrationKey": "hubspot", "tenantId": "globex"}})
	if own.TenantID != f.globex.ID {
		t.Errorf("own: %+v", own)
	}
	var after string
	if err := e.db.SQL().Get(&after, `SELECT xmin::text || row_to_json(c)::text FROM connections c WHERE id = $1`, f.acmeConn.ID); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("acme's connection changed:\n%s\n%s", before, after)
	}
	if n := e.count(`SELECT count(*) FROM connections`); n != conns+1 {
		t.Errorf("connections: %d, want %d", n, conns+1)
	}
	if n := e.count(`SELECT count(*) FROM event_subscriptions WHERE connection_id = $1`, f.acmeConn.ID); n != 1 {
		t.Errorf("acme's subscriptions: %d", n)
	}
}

// TestConnectionsBadInput: bad bodies and queries are 4xx naming the field; nothing is created.
func TestConnectionsBadInput(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	conns := e.count(`SELECT count(*) FROM connections`)
	p := "/api/connections/" + f.acmeConn.ID
	cases := []struct {
		name, token, method, path, body string
		status                          int
		field                           string
	}{
		{"no integration", f.acmeTok, "POST", "/api/connections", `{"name":"x"}`, 422, "integrationKey"},
		{"unknown integration", f.acmeTok, "POST", "/api/connections", `{"integrationKey":"nope"}`, 422, "integrationKey"},
		{"unknown integration id", f.acmeTok, "POST", "/api/connections", `{"integrationId":"00000000-0000-0000-0000-000000000000"}`, 422, "integrationId"},
		{"workspace token without a tenant", f.admin, "POST", "/api/connections", `{"integrationKey":"hubspot"}`, 422, "tenantId"},
		{"unknown tenant", f.admin, "POST", "/api/connections", `{"integrationKey":"hubspot","tenantId":"nobody"}`, 422, "tenantId"},
		{"bad key", f.acmeTok, "POST", "/api/connections", `{"integrationKey":"hubspot","key":"a b"}`, 422, "key"},
		{"duplicate key", f.acmeTok, "POST", "/api/connections", `{"integrationKey":"hubspot","key":"main"}`, 409, "key"},
		{"name too long", f.acmeTok, "POST", "/api/connections", `{"integrationKey":"hubspot","name":"` + longString(201) + `"}`, 422, "name"},
		{"meta not an object", f.acmeTok, "POST", "/api/connections", `{"integrationKey":"hubspot","meta":[1]}`, 422, "meta"},
		{"isTest a string", f.acmeTok, "POST", "/api/connections", `{"integrationKey":"hubspot","isTest":"yes"}`, 422, "isTest"},
		{"unknown field", f.acmeTok, "POST", "/api/connections", `{"integrationKey":"hubspot","connectorId":"x"}`, 422, "connectorId"},
		{"empty name", f.acmeTok, "PATCH", p, `{"name":""}`, 422, "name"},
		{"name null", f.acmeTok, "PATCH", p, `{"name":null}`, 422, "name"},
		{"disconnected null", f.acmeTok, "PATCH", p, `{"disconnected":null}`, 422, "disconnected"},
		{"another integration", f.acmeTok, "PATCH", p, `{"integrationKey":"salesforce"}`, 422, "integrationKey"},
		{"another tenant", f.admin, "PUT", p, `{"tenantId":"globex"}`, 422, "tenantId"},
		{"bad connected", f.acmeTok, "GET", "/api/connections?connected=maybe", ``, 400, "connected"},
		{"contradiction", f.acmeTok, "GET", "/api/connections?connected=true&disconnected=true", ``, 400, "disconnected"},
		{"bad state", f.acmeTok, "GET", "/api/connections?state=ASLEEP", ``, 400, "state"},
		{"bad cursor", f.acmeTok, "GET", "/api/connections?cursor=nope", ``, 400, "cursor"},
		{"bad limit", f.acmeTok, "GET", "/api/connections?limit=5000", ``, 400, "limit"},
		{"unknown connection", f.admin, "GET", "/api/connections/00000000-0000-0000-0000-000000000000", ``, 404, ""},
		{"subscription without a type", f.acmeTok, "POST", p + "/event-subscriptions", `{"webhookUri":"https://hooks.example/x"}`, 422, "eventType"},
		{"bad event type", f.acmeTok, "POST", p + "/event-subscriptions", `{"eventType":"has space"}`, 422, "eventType"},
		{"bad webhook", f.acmeTok, "POST", p + "/event-subscriptions", `{"eventType":"x","webhookUri":"file:///etc/passwd"}`, 422, "webhookUri"},
		{"subscription unknown field", f.acmeTok, "POST", p + "/event-subscriptions", `{"eventType":"x","url":"https://x.example"}`, 422, "url"},
		{"subscription bad id", f.acmeTok, "DELETE", p + "/event-subscriptions/not-an-id", ``, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			r := req{Method: c.method, Path: c.path, Token: c.token}
			if c.body != "" {
				r.Body = c.body
			}
			e.fails(c.status, "", c.field, r)
		})
	}
	if n := e.count(`SELECT count(*) FROM connections`); n != conns {
		t.Errorf("refused requests left %d connections, want %d", n, conns)
	}
	if got := decode[connection](e, http.StatusOK, req{Method: "GET", Path: p, Token: f.admin}); got.Name != "Acme HubSpot" || got.IntegrationKey != "hubspot" || got.TenantID != f.acme.ID {
		t.Errorf("refused requests changed the connection: %+v", got)
	}
}

// TestEventSubscriptions: list, create, delete per connection, with activity entries.
func TestEventSubscriptions(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	p := "/api/connections/" + f.acmeConn.ID + "/event-subscriptions"
	if l := listPage[subscription](e, f.acmeTok, p); len(l.Items) != 0 || l.HasCursor {
		t.Errorf("empty list: %+v", l)
	}
	s := decode[subscription](e, http.StatusCreated, req{Method: "POST", Path: p, Token: f.acmeTok,
		Body: map[string]any{"eventType": "deal.created", "webhookUri": "https://hooks.example/deals"}})
	if s.ID == "" || s.ConnectionID != f.acmeConn.ID || s.TenantID != f.acme.ID || s.EventType != "deal.created" || s.WebhookURI != "https://hooks.example/deals" {
		t.Errorf("created %+v", s)
	}
	s2 := decode[subscription](e, http.StatusCreated, req{Method: "POST", Path: "/api/connections/main/event-subscriptions", Token: f.acmeTok,
		Body: map[string]any{"eventType": "contact.created"}})
	decode[subscription](e, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + f.globexConn.ID + "/event-subscriptions", Token: f.admin,
		Body: map[string]any{"eventType": "deal.created"}})
	e.fails(http.StatusConflict, "already_exists", "eventType", req{Method: "POST", Path: p, Token: f.admin, Body: map[string]any{"eventType": "deal.created"}})

	l := listPage[subscription](e, f.admin, p)
	if got := idsOf(l.Items, func(x subscription) string { return x.ID }); !slices.Equal(got, sorted([]string{s.ID, s2.ID})) {
		t.Errorf("list: %v", got)
	}
	del := decode[subscription](e, http.StatusOK, req{Method: "DELETE", Path: p + "/" + s.ID, Token: f.acmeTok})
	if del.ID != s.ID || del.EventType != "deal.created" {
		t.Errorf("DELETE returned %+v", del)
	}
	e.fails(http.StatusNotFound, "not_found", "", req{Method: "DELETE", Path: p + "/" + s.ID, Token: f.acmeTok})
	if l := listPage[subscription](e, f.acmeTok, p); len(l.Items) != 1 || l.Items[0].ID != s2.ID {
		t.Errorf("after delete: %+v", l.Items)
	}
	if e.activity("event-subscription.created") != 3 || e.activity("event-subscription.deleted") != 1 {
		t.Errorf("activity: created %d deleted %d", e.activity("event-subscription.created"), e.activity("event-subscription.deleted"))
	}
}

// TestTenantArchiveDeactivatesConnections: archiving a tenant deactivates its connections (and
// only its); restoring reactivates them.
func TestTenantArchiveDeactivatesConnections(t *testing.T) {
	e := newEnv(t)
	f := e.fixture()
	e.must(http.StatusOK, req{Method: "DELETE", Path: "/api/customers/acme", Token: f.admin})
	for _, id := range []string{f.acmeConn.ID, f.acmeConn2.ID} {
		c := decode[connection](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/" + id, Token: f.admin})
		if !c.IsDeactivated || c.Connected {
			t.Errorf("after archiving the tenant: %+v", c)
		}
	}
	if g := decode[connection](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/" + f.globexConn.ID, Token: f.admin}); g.IsDeactivated || !g.Connected {
		t.Errorf("globex's connection: %+v", g)
	}
	if l := listPage[connection](e, f.admin, "/api/connections?state=DEACTIVATED"); len(l.Items) != 2 {
		t.Errorf("DEACTIVATED: %d", len(l.Items))
	}
	if l := listPage[connection](e, f.admin, "/api/connections?connected=true"); len(l.Items) != 1 || l.Items[0].ID != f.globexConn.ID {
		t.Errorf("connected: %+v", l.Items)
	}
	e.must(http.StatusOK, req{Method: "POST", Path: "/api/customers/acme/restore", Token: f.admin})
	if c := decode[connection](e, http.StatusOK, req{Method: "GET", Path: "/api/connections/" + f.acmeConn.ID, Token: f.admin}); c.IsDeactivated || !c.Connected {
		t.Errorf("after restoring the tenant: %+v", c)
	}
}
