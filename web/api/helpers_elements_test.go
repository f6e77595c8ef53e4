package api_test

// Helpers for the tests of integrations, elements, tenant-level elements and connections: typed
// readers of the API's shapes and a fixture built through the API itself.

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"
)

// integration is the API's integration shape.
type integration struct {
	ID         string     `json:"id"`
	Key        string     `json:"key"`
	Name       string     `json:"name"`
	LogoURI    string     `json:"logoUri"`
	BaseURI    string     `json:"baseUri"`
	AuthType   string     `json:"authType"`
	ArchivedAt *time.Time `json:"archivedAt"`
}

// element is the API's element shape (workspace, universal or tenant level).
type element struct {
	ID                string         `json:"id"`
	Key               string         `json:"key"`
	Name              string         `json:"name"`
	Description       string         `json:"description"`
	Type              string         `json:"type"`
	Layer             string         `json:"layer"`
	IsUniversal       bool           `json:"isUniversal"`
	IntegrationID     string         `json:"integrationId"`
	IntegrationKey    string         `json:"integrationKey"`
	UniversalParentID string         `json:"universalParentId"`
	AppKey            string         `json:"appKey"`
	Kind              string         `json:"kind"`
	Config            map[string]any `json:"config"`
	IsCustomized      bool           `json:"isCustomized"`
	Status            string         `json:"status"`
	ParentID          string         `json:"parentId"`
	FlowID            string         `json:"flowId"`
	DataSourceID      string         `json:"dataSourceId"`
	FieldMappingID    string         `json:"fieldMappingId"`
	ConnectionID      string         `json:"connectionId"`
	InstanceKey       string         `json:"instanceKey"`
	UserID            string         `json:"userId"`
	TenantID          string         `json:"tenantId"`
	Override          map[string]any `json:"override"`
	Parent            *struct {
		ID     string         `json:"id"`
		Key    string         `json:"key"`
		Name   string         `json:"name"`
		Config map[string]any `json:"config"`
	} `json:"parent"`
	ArchivedAt *time.Time `json:"archivedAt"`
}

// connection is the API's connection shape.
type connection struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	UserID           string         `json:"userId"`
	TenantID         string         `json:"tenantId"`
	TenantInternalID string         `json:"tenantInternalId"`
	Key              string         `json:"key"`
	IsTest           bool           `json:"isTest"`
	Connected        bool           `json:"connected"`
	Disconnected     bool           `json:"disconnected"`
	State            string         `json:"state"`
	IntegrationID    string         `json:"integrationId"`
	IntegrationKey   string         `json:"integrationKey"`
	ArchivedAt       *time.Time     `json:"archivedAt"`
	IsDeactivated    bool           `json:"isDeactivated"`
	CredentialKeys   []string       `json:"credentialKeys"`
	Meta             map[string]any `json:"meta"`
	Credentials      any            `json:"credentials"`
}

// subscription is the API's event subscription shape.
type subscription struct {
	ID           string `json:"id"`
	ConnectionID string `json:"connectionId"`
	TenantID     string `json:"tenantId"`
	EventType    string `json:"eventType"`
	WebhookURI   string `json:"webhookUri"`
}

// decode sends r, fails unless the status is want, and decodes the body into a T.
func decode[T any](e *env, want int, r req) T {
	e.t.Helper()
	res := e.do(r)
	if res.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", r.Method, r.Path, res.Status, want, res.Body)
	}
	var v T
	if err := json.Unmarshal(res.Body, &v); err != nil {
		e.t.Fatalf("%s %s: %v: %s", r.Method, r.Path, err, res.Body)
	}
	return v
}

// page is one page of a list.
type page[T any] struct {
	Items     []T
	Cursor    string
	HasCursor bool
}

// listPage GETs path with token and decodes the list; it fails on a status other than 200 or
// a body without items.
func listPage[T any](e *env, token, path string) page[T] {
	e.t.Helper()
	res := e.do(req{Method: "GET", Path: path, Token: token})
	if res.Status != http.StatusOK {
		e.t.Fatalf("GET %s: status %d: %s", path, res.Status, res.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &raw); err != nil {
		e.t.Fatal(err)
	}
	var p page[T]
	items, ok := raw["items"]
	if !ok || string(items) == "null" {
		e.t.Fatalf("GET %s: no items array: %s", path, res.Body)
	}
	if err := json.Unmarshal(items, &p.Items); err != nil {
		e.t.Fatalf("GET %s: items: %v: %s", path, err, res.Body)
	}
	if c, ok := raw["cursor"]; ok {
		p.HasCursor = true
		_ = json.Unmarshal(c, &p.Cursor)
	}
	return p
}

func keysOf(els []element) []string {
	out := make([]string, len(els))
	for i, x := range els {
		out[i] = x.Key
	}
	slices.Sort(out)
	return out
}

func idsOf[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, x := range items {
		out[i] = id(x)
	}
	slices.Sort(out)
	return out
}

// fails sends r and checks the status and, when given, the error key and a field path.
func (e *env) fails(status int, key, field string, r req) apiError {
	e.t.Helper()
	res := e.do(r)
	if res.Status != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", r.Method, r.Path, res.Status, status, res.Body)
	}
	sane(e.t, r.Method+" "+r.Path, res)
	er := res.Err(e.t)
	if key != "" && er.Key != key {
		e.t.Errorf("%s %s: key %q, want %q: %s", r.Method, r.Path, er.Key, key, res.Body)
	}
	if field != "" && !slices.Contains(er.paths(), field) {
		e.t.Errorf("%s %s: fields %v do not name %s: %s", r.Method, r.Path, er.paths(), field, res.Body)
	}
	return er
}

// jsonEq compares two JSON-ish values after a round trip through encoding/json.
func jsonEq(a, b any) bool {
	norm := func(v any) any {
		j, _ := json.Marshal(v)
		var out any
		_ = json.Unmarshal(j, &out)
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func (e *env) wantConfig(what string, got, want any) {
	e.t.Helper()
	if !jsonEq(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		e.t.Errorf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

// activity counts activity-log rows of a type in e's workspace (past row-level security).
func (e *env) activity(typ string) int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = $2`, e.ws.ID, typ)
}

// elementRow returns an element's stored row as text with its xmin: any write to it shows.
func (e *env) elementRow(id string) string {
	e.t.Helper()
	var s string
	if err := e.db.SQL().GetContext(context.Background(), &s,
		`SELECT xmin::text || ' ' || row_to_json(x)::text FROM elements x WHERE workspace_id = $1 AND id = $2`, e.ws.ID, id); err != nil {
		e.t.Fatalf("read element %s: %v", id, err)
	}
	return s
}

// fixture is a workspace with one integration, a template of each kind, two tenants and their
// connections, all made through the API.
type fixture struct {
	admin, acmeTok, globexTok string
	acme, globex              customer
	hubspot                   integration
	listDeals, createContact  element // actions
	syncDeals                 element // flow
	contacts                  element // data source
	contactFields             element // field mapping
	acmeConn, acmeConn2       connection
	globexConn                connection
}

func (e *env) fixture() *fixture {
	e.t.Helper()
	f := &fixture{admin: e.adminToken()}
	f.hubspot = decode[integration](e, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: f.admin,
		Body: map[string]any{"key": "hubspot", "name": "HubSpot", "baseUri": "https://api.hubapi.com", "authType": "bearer"}})
	mk := func(plural string, body map[string]any) element {
		body["integrationKey"] = "hubspot"
		return decode[element](e, http.StatusCreated, req{Method: "POST", Path: "/api/" + plural, Token: f.admin, Body: body})
	}
	f.listDeals = mk("actions", map[string]any{"key": "list-deals", "name": "List deals", "type": "http-request",
		"config": map[string]any{"method": "GET", "path": "/crm/v3/objects/deals", "query": map[string]any{"limit": "100"}, "credits": 1}})
	f.createContact = mk("actions", map[string]any{"key": "create-contact", "name": "Create contact", "type": "http-request",
		"config": map[string]any{"method": "POST", "path": "/crm/v3/objects/contacts"}})
	f.syncDeals = mk("flows", map[string]any{"key": "sync-deals", "name": "Sync deals",
		"config": map[string]any{"steps": []any{map[string]any{"key": "list", "action": "list-deals"}}}})
	f.contacts = mk("data-sources", map[string]any{"key": "contacts", "name": "Contacts", "config": map[string]any{"collectionKey": "contacts"}})
	f.contactFields = mk("field-mappings", map[string]any{"key": "contact-fields", "name": "Contact fields",
		"config": map[string]any{"direction": "import", "importValue": map[string]any{"email": "{{properties.email}}"}}})
	f.acme = e.createCustomer(map[string]any{"internalId": "acme", "name": "Acme"})
	f.globex = e.createCustomer(map[string]any{"internalId": "globex", "name": "Globex"})
	f.acmeTok, f.globexTok = e.tenantToken("acme", nil), e.tenantToken("globex", nil)
	f.acmeConn = decode[connection](e, http.StatusCreated, req{Method: "POST", Path: "/api/connections", Token: f.admin,
		Body: map[string]any{"integrationKey": "hubspot", "tenantId": "acme", "name": "Acme HubSpot", "key": "main",
			"credentials": map[string]any{"accessToken": "acme-secret"}}})
	f.acmeConn2 = decode[connection](e, http.StatusCreated, req{Method: "POST", Path: "/api/connections", Token: f.acmeTok,
		Body: map[string]any{"integrationKey": "hubspot", "name": "Acme HubSpot 2", "key": "second"}})
	f.globexConn = decode[connection](e, http.StatusCreated, req{Method: "POST", Path: "/api/connections", Token: f.admin,
		Body: map[string]any{"integrationId": f.hubspot.ID, "userId": f.globex.ID, "name": "Globex HubSpot", "key": "main",
			"credentials": map[string]any{"accessToken": "globex-secret"}}})
	return f
}

// jsonClone deep-copies a JSON-ish value (numbers become float64).
func jsonClone(v any) any {
	j, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(j, &out)
	return out
}

// with returns e reporting to t (a subtest), sharing e's server and database.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// jsonParse decodes a JSON text.
func jsonParse(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return v
}
