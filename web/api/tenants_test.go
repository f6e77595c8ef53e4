package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

func TestCreateCustomer(t *testing.T) {
	e := newEnv(t)
	c := e.createCustomer(map[string]any{"name": "Acme", "internalId": "acme", "fields": map[string]any{"plan": "pro", "n": 2},
		"aiCreditsRolling30DayLimit": 12.5, "isTest": true})
	if c.Name != "Acme" || c.InternalID != "acme" || !equalJSON(c.Fields, map[string]any{"n": 2, "plan": "pro"}) ||
		c.AICreditsRolling30DayLimit == nil || *c.AICreditsRolling30DayLimit != 12.5 || !c.IsTest || !c.IsActive {
		t.Errorf("created %+v", c)
	}
	if _, err := uuid.Parse(c.ID); err != nil {
		t.Errorf("id %q is not a UUID", c.ID)
	}
	if c := e.createCustomer(map[string]any{"internalId": "no-name"}); c.Name != "no-name" || c.AICreditsRolling30DayLimit != nil {
		t.Errorf("without a name or limit: %+v, want the internalId as name and no limit", c)
	}

	res := e.do(req{Method: "POST", Path: "/api/customers", Token: e.adminToken(), Body: map[string]any{"name": "Other", "internalId": "acme"}})
	if res.Status != http.StatusConflict {
		t.Fatalf("duplicate internalId: status %d, want 409: %s", res.Status, res.Body)
	}
	if er := res.Err(t); er.Type != "bad_request" || er.Key != "already_exists" || len(er.Fields) == 0 || er.Fields[0].Path != "internalId" {
		t.Errorf("duplicate internalId: %s", res.Body)
	}
	if n := e.count(`SELECT count(*) FROM tenants WHERE internal_id = 'acme'`); n != 1 {
		t.Errorf("%d tenants with internalId acme", n)
	}
}

func TestListCustomers(t *testing.T) {
	e := newEnv(t)
	tok := e.adminToken()
	e.createCustomer(map[string]any{"name": "Alpha Corp", "internalId": "ext-1"})
	e.createCustomer(map[string]any{"name": "Beta", "internalId": "ext-ZED", "isTest": true})
	e.createCustomer(map[string]any{"name": "Gamma", "internalId": "ext-3", "isTest": true})
	old := e.createCustomer(map[string]any{"name": "Old alpha", "internalId": "ext-old"})
	e.must(http.StatusOK, req{Method: "DELETE", Path: "/api/customers/" + old.ID, Token: tok})

	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"ext-1", "ext-ZED", "ext-3"}},
		{"?search=ALPHA", []string{"ext-1"}},
		{"?search=zed", []string{"ext-ZED"}},
		{"?search=ext-", []string{"ext-1", "ext-ZED", "ext-3"}},
		{"?search=%25", nil}, // LIKE wildcards are literal
		{"?search=_", nil},
		{"?search=nothing-like-it", nil},
		{"?isTest=true", []string{"ext-ZED", "ext-3"}},
		{"?isTest=1", []string{"ext-ZED", "ext-3"}},
		{"?isTest=false", []string{"ext-1"}},
		{"?isTest=0", []string{"ext-1"}},
		{"?includeArchived=true", []string{"ext-1", "ext-ZED", "ext-3", "ext-old"}},
		{"?includeArchived=1&search=alpha", []string{"ext-1", "ext-old"}},
		{"?includeArchived=false", []string{"ext-1", "ext-ZED", "ext-3"}},
		{"?isActive=false", []string{"ext-old"}},
		{"?isActive=true", []string{"ext-1", "ext-ZED", "ext-3"}},
		{"?isTest=true&search=gam", []string{"ext-3"}},
		{"?limit=1000", []string{"ext-1", "ext-ZED", "ext-3"}},
	}
	for _, c := range cases {
		l := e.list(tok, c.query)
		if got := internalIDs(l.Items); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("GET /api/customers%s = %v, want %v", c.query, got, c.want)
		}
		if l.HasCursor {
			t.Errorf("GET /api/customers%s: a single page has a cursor %q", c.query, l.Cursor)
		}
	}

	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=-1", "?limit=abc", "?isTest=maybe", "?includeArchived=yes",
		"?cursor=garbage", "?cursor=!!!", "?cursor=" + url.QueryEscape("eyJjIjoxfQ")} {
		res := e.do(req{Method: "GET", Path: "/api/customers" + q, Token: tok})
		if res.Status != http.StatusBadRequest {
			t.Errorf("GET /api/customers%s: status %d, want 400: %s", q, res.Status, res.Body)
			continue
		}
		if er := res.Err(t); er.Type != "bad_request" || er.Message == "" {
			t.Errorf("GET /api/customers%s: %s", q, res.Body)
		}
	}
}

func TestListCustomersPaging(t *testing.T) {
	e := newEnv(t)
	tok := e.adminToken()
	var want []string
	for _, id := range []string{"p1", "p2", "p3", "p4", "p5"} {
		e.createCustomer(map[string]any{"internalId": id})
		want = append(want, id)
	}
	var got []string
	cursor, pages := "0", 0
	for {
		l := e.list(tok, "?limit=2&cursor="+url.QueryEscape(cursor))
		pages++
		got = append(got, internalIDs(l.Items)...)
		if !l.HasCursor {
			break
		}
		if l.Cursor == "" {
			t.Fatalf("page %d: cursor key present but empty; the SDK wants it absent on the last page", pages)
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		cursor = l.Cursor
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("limit=2 over 5 tenants: %d pages %v, want 3 pages %v", pages, got, want)
	}
	// Exactly a page's worth: the last full page has no cursor.
	if l := e.list(tok, "?limit=5&cursor=0"); len(l.Items) != 5 || l.HasCursor {
		t.Errorf("limit=5 over 5 tenants: %d items, cursor present %v", len(l.Items), l.HasCursor)
	}
}

func TestGetCustomerSelectors(t *testing.T) {
	e := newEnv(t)
	tok := e.adminToken()
	c := e.createCustomer(map[string]any{"name": "Sel", "internalId": "sel-1"})
	for _, p := range []string{
		"/api/customers/" + c.ID, "/api/customers/sel-1",
		"/api/customer?id=" + c.ID, "/api/customer?id=sel-1", "/api/customer?internalId=sel-1",
		"/api/tenants/" + c.ID, "/api/tenants/sel-1", "/api/tenant?id=" + c.ID,
		"/api/users/" + c.ID, "/api/users/sel-1", "/api/user?id=" + c.ID,
	} {
		if got := e.customerOf(http.StatusOK, req{Method: "GET", Path: p, Token: tok}); got.ID != c.ID || got.InternalID != "sel-1" {
			t.Errorf("GET %s = %+v, want %s", p, got, c.ID)
		}
	}
	for _, p := range []string{"/api/customers/nope", "/api/customers/" + uuid.NewString(), "/api/customer?id=nope"} {
		res := e.do(req{Method: "GET", Path: p, Token: tok})
		if res.Status != http.StatusNotFound || res.Err(t).Key != "not_found" {
			t.Errorf("GET %s: status %d, want 404 not_found: %s", p, res.Status, res.Body)
		}
	}
	if res := e.do(req{Method: "GET", Path: "/api/customer", Token: tok}); res.Status != http.StatusBadRequest {
		t.Errorf("GET /api/customer without a selector: status %d, want 400: %s", res.Status, res.Body)
	}
}

func TestPatchAndPutCustomer(t *testing.T) {
	e := newEnv(t)
	tok := e.adminToken()
	c := e.createCustomer(map[string]any{"name": "Orig", "internalId": "pp", "fields": map[string]any{"a": 1, "b": 2},
		"aiCreditsRolling30DayLimit": 5, "isTest": true})

	p := e.customerOf(http.StatusOK, req{Method: "PATCH", Path: "/api/customers/pp", Token: tok,
		Body: map[string]any{"fields": map[string]any{"b": nil, "c": 3}}})
	if !equalJSON(p.Fields, map[string]any{"a": 1, "c": 3}) || p.Name != "Orig" || p.InternalID != "pp" ||
		p.AICreditsRolling30DayLimit == nil || *p.AICreditsRolling30DayLimit != 5 || !p.IsTest {
		t.Errorf("PATCH fields {b:null,c:3}: %+v, want fields {a:1,c:3} and everything else as it was", p)
	}
	p = e.customerOf(http.StatusOK, req{Method: "PATCH", Path: "/api/customers/" + c.ID, Token: tok,
		Body: map[string]any{"name": "Renamed", "aiCreditsRolling30DayLimit": nil}})
	if p.Name != "Renamed" || p.AICreditsRolling30DayLimit != nil || !equalJSON(p.Fields, map[string]any{"a": 1, "c": 3}) || !p.IsTest {
		t.Errorf("PATCH name + limit null: %+v", p)
	}
	// A GET body sent back as a PATCH (read-only properties included) is accepted.
	back := e.must(http.StatusOK, req{Method: "GET", Path: "/api/customers/pp", Token: tok})
	back["name"] = "Round trip"
	if p = e.customerOf(http.StatusOK, req{Method: "PATCH", Path: "/api/customers/pp", Token: tok, Body: back}); p.Name != "Round trip" {
		t.Errorf("get-modify-patch: %+v", p)
	}
	// An empty PATCH, as the SDK sends bodiless requests, changes nothing.
	before := e.row(e.ws.ID, "pp")
	e.must(http.StatusOK, req{Method: "PATCH", Path: "/api/customers/pp", Token: tok,
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if after := e.row(e.ws.ID, "pp"); after != before {
		t.Errorf("an empty PATCH wrote:\n%s\n%s", before, after)
	}

	u := e.customerOf(http.StatusOK, req{Method: "PUT", Path: "/api/customers/pp", Token: tok, Body: map[string]any{"name": "Put"}})
	if u.Name != "Put" || u.InternalID != "pp" || !equalJSON(u.Fields, map[string]any{}) || u.AICreditsRolling30DayLimit != nil || u.IsTest {
		t.Errorf("PUT {name}: %+v, want fields {}, no limit, isTest false, internalId kept", u)
	}
	u = e.customerOf(http.StatusOK, req{Method: "PUT", Path: "/api/customer?id=" + c.ID, Token: tok,
		Body: map[string]any{"name": "Put2", "internalId": "pp2", "fields": map[string]any{"z": true}, "aiCreditsRolling30DayLimit": 0, "isTest": true}})
	if u.Name != "Put2" || u.InternalID != "pp2" || !equalJSON(u.Fields, map[string]any{"z": true}) ||
		u.AICreditsRolling30DayLimit == nil || *u.AICreditsRolling30DayLimit != 0 || !u.IsTest {
		t.Errorf("PUT everything: %+v", u)
	}
	// Renaming onto another tenant's internalId is a conflict.
	e.createCustomer(map[string]any{"internalId": "taken"})
	res := e.do(req{Method: "PATCH", Path: "/api/customers/pp2", Token: tok, Body: map[string]any{"internalId": "taken"}})
	if res.Status != http.StatusConflict || res.Err(t).Key != "already_exists" {
		t.Errorf("PATCH internalId onto another's: status %d: %s", res.Status, res.Body)
	}
}

// TestArchiveRestoreCustomer: archiving deactivates the tenant's active connections, restoring
// reactivates exactly those.
func TestArchiveRestoreCustomer(t *testing.T) {
	e := newEnv(t)
	tok := e.adminToken()
	c := e.createCustomer(map[string]any{"internalId": "arch"})
	other := e.createCustomer(map[string]any{"internalId": "bystander"})
	integ := uuid.New()
	e.exec(`INSERT INTO integrations (workspace_id, id, key, name) VALUES ($1, $2, 'hub', 'Hub')`, e.ws.ID, integ)
	active, already, theirs := uuid.New(), uuid.New(), uuid.New()
	e.exec(`INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name) VALUES ($1, $2, $3, $4, 'active')`, e.ws.ID, active, c.ID, integ)
	e.exec(`INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name, deactivated_at)
		VALUES ($1, $2, $3, $4, 'already off', now() - interval '1 day')`, e.ws.ID, already, c.ID, integ)
	e.exec(`INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name) VALUES ($1, $2, $3, $4, 'theirs')`, e.ws.ID, theirs, other.ID, integ)
	deactivated := func(id uuid.UUID) *time.Time {
		var at *time.Time
		if err := e.db.SQL().GetContext(context.Background(), &at, `SELECT deactivated_at FROM connections WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return at
	}
	alreadyAt := deactivated(already)

	a := e.customerOf(http.StatusOK, req{Method: "DELETE", Path: "/api/customers/" + c.ID, Token: tok})
	if a.IsActive || a.ArchivedAt == nil {
		t.Errorf("DELETE: %+v, want isActive false and archivedAt set", a)
	}
	if g := e.customerOf(http.StatusOK, req{Method: "GET", Path: "/api/customers/arch", Token: tok}); g.IsActive || g.ArchivedAt == nil {
		t.Errorf("GET after DELETE: %+v", g)
	}
	if deactivated(active) == nil {
		t.Error("archiving left the tenant's connection active")
	}
	if at := deactivated(already); at == nil || !at.Equal(*alreadyAt) {
		t.Errorf("archiving touched an already deactivated connection: %v → %v", alreadyAt, at)
	}
	if deactivated(theirs) != nil {
		t.Error("archiving deactivated another tenant's connection")
	}
	// Archiving twice changes nothing.
	before := e.row(e.ws.ID, "arch")
	e.must(http.StatusOK, req{Method: "DELETE", Path: "/api/customers/arch", Token: tok})
	if after := e.row(e.ws.ID, "arch"); after != before {
		t.Errorf("a second DELETE wrote:\n%s\n%s", before, after)
	}

	// The SDK's restore: POST, empty body, x-www-form-urlencoded, Content-Length: 0.
	r := e.customerOf(http.StatusOK, req{Method: "POST", Path: "/api/customers/" + c.ID + "/restore", Token: tok, Body: "",
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "0"}})
	if !r.IsActive || r.ArchivedAt != nil {
		t.Errorf("restore: %+v, want active", r)
	}
	if deactivated(active) != nil {
		t.Error("restoring left the connection archiving deactivated inactive")
	}
	if at := deactivated(already); at == nil || !at.Equal(*alreadyAt) {
		t.Errorf("restoring reactivated a connection that was off before archiving: %v", at)
	}
	if deactivated(theirs) != nil {
		t.Error("another tenant's connection changed")
	}
}

// TestCustomerFieldSchema: the workspace's field schema is enforced on the API's writes, not
// on tokens.
func TestCustomerFieldSchema(t *testing.T) {
	e := newEnv(t)
	tok := e.adminToken()
	e.exec(`UPDATE workspaces SET tenant_field_schema = '{"type":"object","properties":{"plan":{"type":"string","enum":["a","b"]},"seats":{"type":"integer","minimum":1}},"required":["plan"]}' WHERE id = $1`, e.ws.ID)
	e.restart()

	cases := []struct {
		name   string
		method string
		target string // the internalId to create (POST) or to change (PATCH, PUT)
		fields map[string]any
		want   []string // field paths named; nil = accepted
	}{
		{"bad plan and seats", "POST", "fs-bad", map[string]any{"plan": "x", "seats": 0}, []string{"fields.plan", "fields.seats"}},
		{"no plan", "POST", "fs-noplan", map[string]any{"seats": 2}, []string{"fields.plan"}},
		{"seats not an integer", "POST", "fs-float", map[string]any{"plan": "a", "seats": 1.5}, []string{"fields.seats"}},
		{"valid, plus keys without a schema", "POST", "fs-ok", map[string]any{"plan": "a", "seats": 3, "extra": map[string]any{"deep": []any{1, "x"}}, "note": "hi"}, nil},
		{"PATCH a bad value", "PATCH", "fs-ok", map[string]any{"seats": 0}, []string{"fields.seats"}},
		{"PATCH removes a required key", "PATCH", "fs-ok", map[string]any{"plan": nil}, []string{"fields.plan"}},
		{"PATCH other keys only", "PATCH", "fs-ok", map[string]any{"note": "changed"}, nil},
		{"PUT without plan", "PUT", "fs-ok", map[string]any{"seats": 2}, []string{"fields.plan"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"fields": c.fields}
			path := "/api/customers/" + c.target
			if c.method == "POST" {
				body["internalId"] = c.target
				path = "/api/customers"
			}
			res := e.do(req{Method: c.method, Path: path, Token: tok, Body: body})
			if c.want == nil {
				if res.Status >= 300 {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				got := res.JSON()["fields"]
				if c.method == "POST" && !equalJSON(got, c.fields) {
					t.Errorf("stored fields %v, want %v", got, c.fields)
				}
				return
			}
			if res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", res.Status, res.Body)
			}
			er := res.Err(t)
			got := er.paths()
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("named %v, want %v: %s", got, c.want, res.Body)
			}
			for _, w := range c.want {
				if !strings.Contains(er.Message, w) {
					t.Errorf("message %q does not name %s", er.Message, w)
				}
			}
		})
	}
	if f := e.customerOf(http.StatusOK, req{Method: "GET", Path: "/api/customers/fs-ok", Token: tok}).Fields; f["plan"] != "a" || f["seats"] != 3.0 || f["note"] != "changed" {
		t.Errorf("fs-ok after refused changes: %v, want plan a, seats 3, note changed", f)
	}

	// Refused bodies created nothing.
	if n := e.count(`SELECT count(*) FROM tenants WHERE internal_id IN ('fs-bad', 'fs-noplan', 'fs-float')`); n != 0 {
		t.Errorf("%d tenants created from refused bodies", n)
	}

	t.Run("tokens are not held to the schema", func(t *testing.T) {
		bad := map[string]any{"plan": "zzz", "seats": -5}
		c := e.customerOf(http.StatusOK, req{Method: "GET", Path: "/api/self", Token: e.tenantToken("fs-token", jwt.MapClaims{"fields": bad})})
		if !equalJSON(c.Fields, bad) {
			t.Errorf("fields from a token: %v, want %v as given", c.Fields, bad)
		}
	})
}

// TestCustomerCredentials: credentials are write-only by default, encrypted at rest, and
// reading them is logged.
func TestCustomerCredentials(t *testing.T) {
	e := newEnv(t)
	tok := e.tenantToken("cred", nil)
	res := e.do(req{Method: "PATCH", Path: "/api/self", Token: tok, Body: map[string]any{"credentials": map[string]any{"apiKey": "sekret-123"}}})
	if res.Status != http.StatusOK {
		t.Fatalf("PATCH /api/self credentials: status %d: %s", res.Status, res.Body)
	}
	m := res.JSON()
	if _, ok := m["credentials"]; ok || strings.Contains(string(res.Body), "sekret-123") {
		t.Errorf("PATCH response shows the credentials: %s", res.Body)
	}
	if !equalJSON(m["credentialKeys"], []string{"apiKey"}) {
		t.Errorf("credentialKeys %v, want [apiKey]", m["credentialKeys"])
	}
	id, _ := m["id"].(string)

	var enc []byte
	if err := e.db.SQL().Get(&enc, `SELECT credentials_enc FROM tenants WHERE internal_id = 'cred'`); err != nil {
		t.Fatal(err)
	}
	if len(enc) == 0 || strings.Contains(string(enc), "sekret-123") || strings.Contains(string(enc), "apiKey") {
		t.Errorf("credentials_enc is empty or holds the credentials in clear: %q", enc)
	}

	admin := e.adminToken()
	for _, r := range []req{
		{Method: "GET", Path: "/api/self", Token: tok},
		{Method: "GET", Path: "/api/self?includeSecrets=false", Token: tok},
		{Method: "GET", Path: "/api/customers/" + id, Token: admin},
		{Method: "GET", Path: "/api/customers", Token: admin},
		{Method: "GET", Path: "/api/customers?includeSecrets=true", Token: admin},
		{Method: "PATCH", Path: "/api/customers/" + id, Token: admin, Body: map[string]any{"name": "x"}},
	} {
		res := e.do(r)
		if res.Status != http.StatusOK || strings.Contains(string(res.Body), "sekret-123") {
			t.Errorf("%s %s: status %d, shows the secret: %s", r.Method, r.Path, res.Status, res.Body)
		}
	}

	reads := func() int {
		return e.count(`SELECT count(*) FROM activity_log WHERE type = 'credentials.read' AND tenant_id = $1`, id)
	}
	if n := reads(); n != 0 {
		t.Fatalf("%d credentials.read entries before any read", n)
	}
	for i, r := range []req{
		{Method: "GET", Path: "/api/self?includeSecrets=true", Token: tok},
		{Method: "GET", Path: "/api/customers/" + id + "?includeSecrets=true", Token: admin},
	} {
		c := e.customerOf(http.StatusOK, r)
		if !equalJSON(c.Credentials, map[string]any{"apiKey": "sekret-123"}) {
			t.Errorf("%s: credentials %v", r.Path, c.Credentials)
		}
		if n := reads(); n != i+1 {
			t.Errorf("%s: %d credentials.read entries, want %d", r.Path, n, i+1)
		}
	}

	// Clearing them with null.
	res = e.do(req{Method: "PATCH", Path: "/api/self", Token: tok, Body: map[string]any{"credentials": nil}})
	if res.Status != http.StatusOK || !equalJSON(res.JSON()["credentialKeys"], []string{}) {
		t.Errorf("PATCH credentials null: status %d: %s", res.Status, res.Body)
	}
}

// TestTenantIsolation: a tenant token reaches no other tenant through any customers route: 404,
// never 403 or 200, and the other tenant's row is untouched.
func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	a := e.createCustomer(map[string]any{"name": "A", "internalId": "tenant-a", "fields": map[string]any{"k": "a"}})
	b := e.createCustomer(map[string]any{"name": "B", "internalId": "tenant-b"})
	tokB := e.tenantToken("tenant-b", nil)
	e.must(http.StatusOK, req{Method: "GET", Path: "/api/self", Token: tokB}) // provisioned before the snapshot

	var routes []req
	for _, coll := range []string{"customers", "tenants", "users"} {
		single := strings.TrimSuffix(coll, "s")
		for _, sel := range []string{a.ID, a.InternalID} {
			body := map[string]any{"name": "hacked", "fields": map[string]any{"k": "b"}}
			routes = append(routes,
				req{Method: "GET", Path: "/api/" + coll + "/" + sel},
				req{Method: "GET", Path: "/api/" + coll + "/" + sel + "?includeSecrets=true"},
				req{Method: "PATCH", Path: "/api/" + coll + "/" + sel, Body: body},
				req{Method: "PUT", Path: "/api/" + coll + "/" + sel, Body: body},
				req{Method: "DELETE", Path: "/api/" + coll + "/" + sel},
				req{Method: "POST", Path: "/api/" + coll + "/" + sel + "/restore"},
				req{Method: "GET", Path: "/api/" + single + "?id=" + sel},
				req{Method: "PATCH", Path: "/api/" + single + "?id=" + sel, Body: body},
				req{Method: "PUT", Path: "/api/" + single + "?id=" + sel, Body: body},
				req{Method: "DELETE", Path: "/api/" + single + "?id=" + sel},
				req{Method: "POST", Path: "/api/" + single + "/restore?id=" + sel},
			)
		}
		routes = append(routes, req{Method: "GET", Path: "/api/" + single + "?internalId=" + a.InternalID})
	}

	probe := func(t *testing.T) {
		before := e.row(e.ws.ID, "tenant-a")
		for _, r := range routes {
			r.Token = tokB
			res := e.do(r)
			if res.Status != http.StatusNotFound {
				t.Errorf("B: %s %s: status %d, want 404: %s", r.Method, r.Path, res.Status, res.Body)
				continue
			}
			if er := res.Err(t); er.Key != "not_found" || strings.Contains(string(res.Body), a.ID) {
				t.Errorf("B: %s %s: %s", r.Method, r.Path, res.Body)
			}
		}
		if after := e.row(e.ws.ID, "tenant-a"); after != before {
			t.Errorf("A's row changed under B's requests:\nbefore %s\nafter  %s", before, after)
		}
	}
	t.Run("A active", probe)
	e.must(http.StatusOK, req{Method: "DELETE", Path: "/api/customers/" + a.ID, Token: admin})
	t.Run("A archived", probe)
	e.must(http.StatusOK, req{Method: "POST", Path: "/api/customers/" + a.ID + "/restore", Token: admin})

	t.Run("B lists only itself", func(t *testing.T) {
		for _, q := range []string{"", "?includeArchived=true", "?search=tenant", "?isActive=false"} {
			l := e.list(tokB, q)
			for _, c := range l.Items {
				if c.ID != b.ID {
					t.Errorf("B's list%s holds %s", q, c.InternalID)
				}
			}
		}
		if l := e.list(tokB, ""); len(l.Items) != 1 {
			t.Errorf("B's list = %v, want only B", internalIDs(l.Items))
		}
	})

	t.Run("B may not change itself outside /self", func(t *testing.T) {
		before := e.row(e.ws.ID, "tenant-b")
		for _, r := range []req{
			{Method: "PATCH", Path: "/api/customers/" + b.ID, Body: map[string]any{"name": "mine"}},
			{Method: "PATCH", Path: "/api/customers/tenant-b", Body: map[string]any{"name": "mine"}},
			{Method: "PUT", Path: "/api/customers/" + b.ID, Body: map[string]any{"name": "mine"}},
			{Method: "DELETE", Path: "/api/customers/" + b.ID},
			{Method: "POST", Path: "/api/customers/" + b.ID + "/restore"},
			{Method: "PATCH", Path: "/api/customer?id=" + b.ID, Body: map[string]any{"name": "mine"}},
			{Method: "POST", Path: "/api/customers", Body: map[string]any{"internalId": "new-by-b"}},
			{Method: "PATCH", Path: "/api/self", Body: map[string]any{"internalId": "renamed-b"}},
			{Method: "PATCH", Path: "/api/self", Body: map[string]any{"aiCreditsRolling30DayLimit": 100}},
		} {
			r.Token = tokB
			res := e.do(r)
			if res.Status != http.StatusForbidden || res.Err(t).Key != "access_denied" {
				t.Errorf("B: %s %s: status %d, want 403 access_denied: %s", r.Method, r.Path, res.Status, res.Body)
			}
		}
		if after := e.row(e.ws.ID, "tenant-b"); after != before {
			t.Errorf("B's row changed by refused requests:\n%s\n%s", before, after)
		}
		if n := e.count(`SELECT count(*) FROM tenants WHERE internal_id = 'new-by-b'`); n != 0 {
			t.Error("a tenant token created a tenant through POST /api/customers")
		}
		// Reading itself is fine; changing itself goes through /self.
		e.must(http.StatusOK, req{Method: "GET", Path: "/api/customers/" + b.ID, Token: tokB})
		if c := e.customerOf(http.StatusOK, req{Method: "PATCH", Path: "/api/self", Token: tokB, Body: map[string]any{"name": "B2"}}); c.Name != "B2" {
			t.Errorf("PATCH /api/self name: %+v", c)
		}
	})

	t.Run("another workspace", func(t *testing.T) {
		ws2, secret2 := e.workspace("w2")
		admin2 := workspaceToken(t, ws2.Key, secret2)
		shared1 := e.createCustomer(map[string]any{"name": "W1 shared", "internalId": "shared"})
		shared2 := e.customerOf(http.StatusCreated, req{Method: "POST", Path: "/api/customers", Token: admin2,
			Body: map[string]any{"name": "W2 shared", "internalId": "shared"}})
		if shared1.ID == shared2.ID {
			t.Fatal("same tenant id in two workspaces")
		}
		for _, w := range []struct {
			tok  string
			want customer
		}{{admin, shared1}, {admin2, shared2}} {
			if c := e.customerOf(http.StatusOK, req{Method: "GET", Path: "/api/customers/shared", Token: w.tok}); c.ID != w.want.ID {
				t.Errorf("GET /api/customers/shared = %s (%s), want %s", c.ID, c.Name, w.want.ID)
			}
		}
		if l := e.list(admin2, ""); !slices.Equal(internalIDs(l.Items), []string{"shared"}) || l.Items[0].ID != shared2.ID {
			t.Errorf("W2's list = %v", internalIDs(l.Items))
		}
		before := e.row(e.ws.ID, "tenant-a")
		for _, r := range []req{
			{Method: "GET", Path: "/api/customers/" + a.ID},
			{Method: "GET", Path: "/api/customers/tenant-a"},
			{Method: "PATCH", Path: "/api/customers/" + a.ID, Body: map[string]any{"name": "x"}},
			{Method: "DELETE", Path: "/api/customers/" + a.ID},
			{Method: "GET", Path: "/api/customer?id=" + shared1.ID},
		} {
			r.Token = admin2
			if res := e.do(r); res.Status != http.StatusNotFound {
				t.Errorf("W2: %s %s: status %d, want 404: %s", r.Method, r.Path, res.Status, res.Body)
			}
		}
		if after := e.row(e.ws.ID, "tenant-a"); after != before {
			t.Errorf("W2's requests changed W1's tenant:\n%s\n%s", before, after)
		}
		// W2's tenant token with W1's tenant key is W2's own tenant.
		c := e.customerOf(http.StatusOK, req{Method: "GET", Path: "/api/self",
			Token: sign(t, jwt.SigningMethodHS256, secret2, jwt.MapClaims{"workspaceKey": ws2.Key, "tenantKey": "tenant-a", "name": "W2 A", "exp": exp()})})
		if c.ID == a.ID || c.WorkspaceKey != ws2.Key {
			t.Errorf("W2's token for tenant-a reached W1's tenant: %+v", c)
		}
		if after := e.row(e.ws.ID, "tenant-a"); after != before {
			t.Errorf("W2's tenant token changed W1's tenant-a")
		}
		// And W1's secret is no good for W2.
		res := e.do(req{Method: "GET", Path: "/api/customers", Token: workspaceToken(t, ws2.Key, e.secret)})
		if res.Status != http.StatusUnauthorized {
			t.Errorf("W2's key signed with W1's secret: status %d", res.Status)
		}
	})
}
