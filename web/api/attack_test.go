package api_test

// The isolation attack suite (issue 8, item 1), generated from the route table: every route of
// Routes() is attacked with tenant A's ids, internalIds, connection ids and keys, element ids,
// subscription ids, activity-entry ids and flow-run ids, by tenant B's token (same workspace), by
// another workspace's workspace token, and by that workspace's token for a tenant with A's very
// internalId. A refusal is 404 (403 where a tenant token may not do such a thing at all), never a
// 2xx and never a 5xx; nothing any attacker sends changes a row of the database; no list any
// attacker reads names anything of A's (or, across workspaces, anything of the first
// workspace's).
//
// A route whose parameter this file cannot fill, a parameterless write route it does not know, or
// a parameterless GET that is not a plain list fails the test by name: a new route has to be
// taught here before it ships.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tenantry/internal/tenancy"
	"tenantry/web/api"
)

// attackEnv is the fixture: workspace W1 (the env's) with tenants A (acme) and B (globex), and
// workspace W2 whose tenants have the same internalIds and keys.
type attackEnv struct {
	*env
	hits atomic.Int64 // requests the external app received
	// sameAsNothing counts refusals other than 404/403 that are exactly what the same request
	// naming nothing gets.
	sameAsNothing atomic.Int64
	w2            *tenancy.Workspace
	w2Secret      string

	w1Admin, w2Admin string
	aTok, bTok       string // W1 tenant tokens
	a2Tok            string // W2's token for its own "acme"
	a, b, a2         customer
	integ            integration        // W1's hubspot
	tmpl             map[string]element // W1's templates by plural
	aConn, bConn     connection         // W1
	a2Conn           connection         // W2's acme's, with A's connection key
	aInst, bInst     map[string]element // connection-level elements by plural
	aSub             subscription
	aEntry, aRunLog  string // A's activity entry (connection.created) and action run entry
	aFlowRun         string
	uniKind, uniKey  string // one universe element
}

// The tenant-level kinds (with connection-level and instance routes) and all template kinds.
var (
	attackTenantKinds = []string{"actions", "flows", "data-sources", "field-mappings"}
	attackKinds       = append(slices.Clone(attackTenantKinds), "connectors")
	attackTemplates   = map[string]map[string]any{
		"actions": {"key": "list-deals", "name": "List deals", "type": "http-request",
			"config": map[string]any{"method": "GET", "path": "/deals", "query": map[string]any{"limit": "100"}}},
		"flows": {"key": "sync-deals", "name": "Sync deals",
			"config": map[string]any{"steps": []any{map[string]any{"key": "list", "action": "list-deals"}}}},
		"data-sources": {"key": "contacts", "name": "Contacts", "config": map[string]any{"collectionKey": "contacts"}},
		"field-mappings": {"key": "contact-fields", "name": "Contact fields",
			"config": map[string]any{"direction": "import", "importValue": map[string]any{"email": "{{properties.email}}"}}},
		"connectors": {"key": "crm-connector", "name": "CRM connector",
			"config": map[string]any{"baseUrl": "https://api.example", "authType": "bearer"}},
	}
)

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	e := &attackEnv{env: newEnv(t), tmpl: map[string]element{}, aInst: map[string]element{}, bInst: map[string]element{}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		e.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"results":[{"id":"d1"}]}`)
	}))
	t.Cleanup(up.Close)
	e.w2, e.w2Secret = e.workspace("w2")
	e.w1Admin, e.w2Admin = e.adminToken(), workspaceToken(t, e.w2.Key, e.w2Secret)

	// W1: the integration, a template of every kind, tenants A and B with a connection each, a
	// connection-level element of every tenant-level kind, an event subscription, an action run
	// (an activity entry of its own) and a queued flow run (no flow workers run here).
	e.integ = decode[integration](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: e.w1Admin,
		Body: map[string]any{"key": "hubspot", "name": "HubSpot", "baseUri": up.URL + "/api", "authType": "bearer"}})
	for _, p := range attackKinds {
		body := jsonClone(attackTemplates[p]).(map[string]any)
		body["integrationKey"] = "hubspot"
		e.tmpl[p] = decode[element](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/" + p, Token: e.w1Admin, Body: body})
	}
	e.a = e.createCustomer(map[string]any{"internalId": "acme", "name": "Acme", "fields": map[string]any{"plan": "acme-plan"},
		"credentials": map[string]any{"apiKey": "acme-tenant-secret-w1"}})
	e.b = e.createCustomer(map[string]any{"internalId": "globex", "name": "Globex"})
	e.aTok, e.bTok = e.tenantToken("acme", nil), e.tenantToken("globex", nil)
	e.aConn = e.tenantSide(e.w1Admin, e.aTok, "acme", "acme-crm", "acme-conn-secret-w1", e.aInst)
	e.bConn = e.tenantSide(e.w1Admin, e.bTok, "globex", "globex-crm", "globex-conn-secret", e.bInst)
	e.aSub = decode[subscription](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + e.aConn.ID + "/event-subscriptions",
		Token: e.aTok, Body: map[string]any{"eventType": "deal.created", "webhookUri": "https://hooks.example/acme"}})
	decode[subscription](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + e.bConn.ID + "/event-subscriptions",
		Token: e.bTok, Body: map[string]any{"eventType": "deal.created", "webhookUri": "https://hooks.example/globex"}})
	decode[map[string]any](e.env, http.StatusOK, req{Method: "POST", Path: "/api/connections/" + e.aConn.ID + "/actions/list-deals/run",
		Token: e.aTok, Body: map[string]any{}})
	e.aFlowRun = e.flowRun(e.aTok, e.aConn.ID)
	e.flowRun(e.bTok, e.bConn.ID)
	e.aEntry = e.firstID(e.aTok, "/api/activity-logs?type=connection.created")
	e.aRunLog = e.firstID(e.aTok, "/api/action-run-logs")

	// W2: the same integration and template keys, tenants with the same internalIds, and its
	// acme's connection with A's connection key.
	decode[integration](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: e.w2Admin,
		Body: map[string]any{"key": "hubspot", "name": "HubSpot", "baseUri": up.URL + "/api", "authType": "bearer"}})
	for _, p := range attackKinds {
		body := jsonClone(attackTemplates[p]).(map[string]any)
		body["integrationKey"] = "hubspot"
		decode[element](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/" + p, Token: e.w2Admin, Body: body})
	}
	e.a2 = decode[customer](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/customers", Token: e.w2Admin,
		Body: map[string]any{"internalId": "acme", "name": "Acme", "credentials": map[string]any{"apiKey": "acme-tenant-secret-w2"}}})
	decode[customer](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/customers", Token: e.w2Admin,
		Body: map[string]any{"internalId": "globex", "name": "Globex"}})
	e.a2Tok = sign(t, jwt.SigningMethodHS256, e.w2Secret, jwt.MapClaims{"workspaceKey": e.w2.Key, "tenantKey": "acme", "exp": exp()})
	e.a2Conn = e.tenantSide(e.w2Admin, e.a2Tok, "acme", "acme-crm", "acme-conn-secret-w2", map[string]element{})
	decode[subscription](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + e.a2Conn.ID + "/event-subscriptions",
		Token: e.a2Tok, Body: map[string]any{"eventType": "deal.created", "webhookUri": "https://hooks.example/acme2"}})
	e.flowRun(e.a2Tok, e.a2Conn.ID)

	// One universe element: the universe is everyone's.
	uni := decode[struct {
		Items []struct{ Kind, Key string } `json:"items"`
	}](e.env, http.StatusOK, req{Method: "GET", Path: "/api/universe?limit=1", Token: e.w1Admin})
	if len(uni.Items) == 0 {
		t.Fatal("the universe is empty: the migrations ship a catalog")
	}
	e.uniKind, e.uniKey = uni.Items[0].Kind, uni.Items[0].Key
	if e.aEntry == "" || e.aRunLog == "" || e.aEntry == e.aRunLog {
		t.Fatalf("A's activity: entry %q, action run %q", e.aEntry, e.aRunLog)
	}
	return e
}

// tenantSide gives a tenant a connection (made with the workspace token) and, through the
// tenant's token, a connection-level element of every tenant-level kind (the action customized).
func (e *attackEnv) tenantSide(admin, tok, internalID, key, secret string, inst map[string]element) connection {
	e.t.Helper()
	c := decode[connection](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections", Token: admin,
		Body: map[string]any{"integrationKey": "hubspot", "tenantId": internalID, "name": internalID + " CRM", "key": key,
			"credentials": map[string]any{"accessToken": secret}}})
	for _, p := range attackTenantKinds {
		path := "/api/connections/" + c.ID + "/" + p + "/" + attackTemplates[p]["key"].(string)
		if p == "actions" {
			inst[p] = decode[element](e.env, http.StatusOK, req{Method: "PATCH", Path: path, Token: tok,
				Body: map[string]any{"config": map[string]any{"query": map[string]any{"owner": internalID + "-owner"}}}})
		} else {
			inst[p] = decode[element](e.env, http.StatusOK, req{Method: "GET", Path: path + "?autoCreate=true", Token: tok})
		}
	}
	return c
}

func (e *attackEnv) flowRun(tok, connID string) string {
	e.t.Helper()
	r := decode[struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}](e.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + connID + "/flows/sync-deals/run", Token: tok,
		Body: map[string]any{"input": map[string]any{}}})
	if r.ID == "" || r.State != "queued" {
		e.t.Fatalf("flow run: %+v (no flow workers run here: it stays queued)", r)
	}
	return r.ID
}

func (e *attackEnv) firstID(tok, path string) string {
	e.t.Helper()
	l := listPage[struct {
		ID string `json:"id"`
	}](e.env, tok, path)
	if len(l.Items) == 0 {
		e.t.Fatalf("GET %s: no items", path)
	}
	return l.Items[0].ID
}

// attackOwner says whose a value is, which decides what an attacker may get with it.
type attackOwner int

const (
	ofVictim   attackOwner = iota // tenant A's (in W1): no attacker may reach it
	ofW1                          // W1's workspace-level: W1's tenant tokens read it, only W1's workspace token changes it
	ofGlobal                      // the universe: everyone reads it
	ofAttacker                    // the attacker's own
)

// attackVal is one value put in a path, a query or a body. name marks keys and internalIds: W2 has
// things with the same names, so a W2 caller using one may rightly reach its own.
type attackVal struct {
	s     string
	owner attackOwner
	name  bool
}

// attacker is a token used against A's values.
type attacker struct {
	name   string
	token  string
	tenant bool // a tenant token (else a workspace token)
	w1     bool // of A's workspace
	conn   string
	forbid []string // strings none of its answers may contain
}

// attackParamKind names what a path parameter holds, from the segments around it; "" when unknown.
func attackParamKind(path, param string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	i := slices.Index(segs, "{"+param+"}")
	if i < 1 {
		return ""
	}
	prev, next := segs[i-1], ""
	if i+1 < len(segs) {
		next = segs[i+1]
	}
	before := func(n int) string {
		if i-n < 0 {
			return ""
		}
		return segs[i-n]
	}
	switch {
	case param == "selector" && slices.Contains([]string{"customers", "tenants", "users"}, prev):
		return "tenant"
	case param == "selector" && prev == "integrations":
		return "integration"
	case param == "selector" && prev == "connections":
		return "connection"
	case param == "selector" && prev == "actions" && next == "run":
		return "run-action"
	case param == "selector" && slices.Contains(attackKinds, prev):
		return "template:" + prev
	case param == "kind" && prev == "universe":
		return "universe-kind"
	case param == "selector" && prev == "{kind}" && before(2) == "universe":
		return "universe-key"
	case param == "id" && prev == "event-subscriptions":
		return "subscription"
	case param == "id" && prev == "activity-logs":
		return "activity"
	case param == "id" && prev == "action-run-logs":
		return "action-run-log"
	case param == "id" && prev == "flow-runs":
		return "flow-run"
	case param == "id" && strings.HasSuffix(prev, "-instances") && slices.Contains(attackTenantKinds, strings.TrimSuffix(prev, "-instances")+"s"):
		return "instance:" + strings.TrimSuffix(prev, "-instances") + "s"
	case param == "key" && before(2) == "{selector}" && before(3) == "connections" && slices.Contains(attackTenantKinds, prev):
		return "connection-element:" + prev
	case param == "key" && before(2) == "{selector}" && before(3) == "integrations" && slices.Contains(attackTenantKinds, prev):
		return "integration-element:" + prev
	}
	return ""
}

// values are what the attack puts in a parameter of kind; multi says the route has other
// parameters, where the attacker's own value beside A's is an attack too.
func (e *attackEnv) values(kind string, at attacker, multi bool) []attackVal {
	kind, plural, _ := strings.Cut(kind, ":")
	switch kind {
	case "tenant":
		return []attackVal{{e.a.ID, ofVictim, false}, {"acme", ofVictim, true}}
	case "integration":
		return []attackVal{{e.integ.ID, ofW1, false}, {"hubspot", ofW1, true}}
	case "connection":
		vs := []attackVal{{e.aConn.ID, ofVictim, false}, {e.aConn.Key, ofVictim, true}}
		if multi {
			vs = append(vs, attackVal{at.conn, ofAttacker, false})
		}
		return vs
	case "run-action":
		return []attackVal{{e.aInst["actions"].ID, ofVictim, false}, {"list-deals", ofW1, true}, {e.tmpl["actions"].ID, ofW1, false}}
	case "template":
		vs := []attackVal{{e.tmpl[plural].ID, ofW1, false}, {e.tmpl[plural].Key, ofW1, true}}
		if el, ok := e.aInst[plural]; ok {
			vs = append(vs, attackVal{el.ID, ofVictim, false})
		}
		return vs
	case "connection-element":
		return []attackVal{{e.tmpl[plural].Key, ofW1, true}, {e.tmpl[plural].ID, ofW1, false}, {e.aInst[plural].ID, ofVictim, false}}
	case "integration-element":
		return []attackVal{{e.tmpl[plural].Key, ofW1, true}}
	case "instance":
		return []attackVal{{e.aInst[plural].ID, ofVictim, false}}
	case "subscription":
		return []attackVal{{e.aSub.ID, ofVictim, false}}
	case "activity":
		return []attackVal{{e.aEntry, ofVictim, false}, {e.aRunLog, ofVictim, false}}
	case "action-run-log":
		return []attackVal{{e.aRunLog, ofVictim, false}}
	case "flow-run":
		return []attackVal{{e.aFlowRun, ofVictim, false}}
	case "universe-kind":
		return []attackVal{{e.uniKind, ofGlobal, true}}
	case "universe-key":
		return []attackVal{{e.uniKey, ofGlobal, true}}
	}
	return nil
}

// attackQuery is a query string a request adds, with the values in it.
type attackQuery struct {
	s    string
	vals []attackVal
}

func atq(s string, vals ...attackVal) attackQuery { return attackQuery{s, vals} }

// selectorQueries are the singular routes that take their selector from the query
// (/customer?id=…, /action-instance?id=…, /action/run?key=…&connectionId=…). A parameterless
// route other than a list or a create must be here.
func (e *attackEnv) selectorQueries(path string) ([]attackQuery, bool) {
	aID, aName := attackVal{e.a.ID, ofVictim, false}, attackVal{"acme", ofVictim, true}
	conn, connKey := attackVal{e.aConn.ID, ofVictim, false}, attackVal{e.aConn.Key, ofVictim, true}
	switch path {
	case "/customer", "/tenant", "/user", "/customer/restore", "/tenant/restore", "/user/restore":
		return []attackQuery{atq("?id="+e.a.ID, aID), atq("?internalId=acme", aName), atq("?key=acme", aName)}, true
	case "/integration":
		return []attackQuery{atq("?id="+e.integ.ID, attackVal{e.integ.ID, ofW1, false}), atq("?key=hubspot", attackVal{"hubspot", ofW1, true})}, true
	case "/action/run":
		act := attackVal{e.aInst["actions"].ID, ofVictim, false}
		return []attackQuery{atq("?key=list-deals&connectionId="+e.aConn.ID, conn), atq("?key=list-deals&integrationKey=hubspot&connectionKey="+e.aConn.Key, connKey),
			atq("?id="+act.s, act), atq("?id="+act.s+"&connectionId="+e.aConn.ID, act, conn)}, true
	case "/action-instance/run":
		act := attackVal{e.aInst["actions"].ID, ofVictim, false}
		return []attackQuery{atq("?id="+act.s, act), atq("?parentKey=list-deals&connectionId="+e.aConn.ID, conn),
			atq("?parentKey=list-deals&connectionKey="+e.aConn.Key, connKey)}, true
	}
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(seg) > 2 || (len(seg) == 2 && seg[1] != "restore" && seg[1] != "reset") {
		return nil, false
	}
	single := seg[0]
	if plural := single + "s"; slices.Contains(attackKinds, plural) { // /action?id=, /flow/restore?key=
		t := e.tmpl[plural]
		qs := []attackQuery{atq("?id="+t.ID, attackVal{t.ID, ofW1, false}), atq("?key="+t.Key+"&integrationKey=hubspot", attackVal{t.Key, ofW1, true})}
		if el, ok := e.aInst[plural]; ok {
			qs = append(qs, atq("?id="+el.ID, attackVal{el.ID, ofVictim, false}))
		}
		return qs, true
	}
	if base, ok := strings.CutSuffix(single, "-instance"); ok && slices.Contains(attackTenantKinds, base+"s") {
		el, key := e.aInst[base+"s"], attackTemplates[base+"s"]["key"].(string)
		return []attackQuery{atq("?id="+el.ID, attackVal{el.ID, ofVictim, false}),
			atq("?parentKey="+key+"&connectionId="+e.aConn.ID, conn), atq("?parentKey="+key+"&connectionKey="+e.aConn.Key, connKey),
			atq("?parentKey="+key+"&tenantId="+e.a.ID, aID), atq("?parentKey="+key+"&userId=acme", aName),
			atq("?parentKey="+key+"&tenantId="+e.a.ID+"&autoCreate=true", aID)}, true
	}
	return nil, false
}

// createBodies are the attacks on parameterless POST routes (creates): bodies naming A's things.
// W1's tenant token may create none of the workspace-level things.
func (e *attackEnv) createBodies(path string) ([]map[string]any, bool) {
	switch {
	case slices.Contains([]string{"/customers", "/tenants", "/users"}, path):
		return []map[string]any{{"internalId": "acme"}, {"internalId": "made-by-attacker", "name": "x"}}, true
	case path == "/integrations":
		return []map[string]any{{"key": "made-by-attacker", "name": "x", "baseUri": "https://evil.example", "authType": "bearer"}}, true
	case slices.Contains(attackKinds, strings.TrimPrefix(path, "/")):
		b := jsonClone(attackTemplates[strings.TrimPrefix(path, "/")]).(map[string]any)
		b["key"], b["integrationId"] = "made-by-attacker", e.integ.ID
		return []map[string]any{b}, true
	case path == "/connections":
		return []map[string]any{
			{"integrationKey": "hubspot", "tenantId": e.a.ID, "name": "x", "key": "made-by-attacker"},
			{"integrationId": e.integ.ID, "userId": "acme", "name": "x", "key": "made-by-attacker"},
		}, true
	case path == "/flow-runs":
		return []map[string]any{
			{"flowInstanceId": e.aInst["flows"].ID},
			{"flowInstanceId": e.tmpl["flows"].ID, "connectionId": e.aConn.ID},
			{"flowInstanceId": e.tmpl["flows"].ID, "connectionKey": e.aConn.Key},
		}, true
	}
	return nil, false
}

// attackBody is a plausible body for a write route: what its owner would send.
func attackBody(method, path string) any {
	switch {
	case method == "DELETE" || method == "GET":
		return nil
	case strings.HasSuffix(path, "/restore") || strings.HasSuffix(path, "/reset") || strings.HasSuffix(path, "/stop"):
		return nil
	case strings.HasSuffix(path, "/run"):
		return map[string]any{"input": map[string]any{"owner": "attacker"}}
	case strings.Contains(path, "/event-subscriptions"):
		return map[string]any{"eventType": "deal.hijacked", "webhookUri": "https://evil.example/hook"}
	case strings.HasPrefix(path, "/connections/{selector}/"), strings.Contains(path, "-instance"):
		return map[string]any{"name": "Hijacked"}
	case strings.HasPrefix(path, "/connections/"):
		return map[string]any{"name": "Hijacked", "credentials": map[string]any{"accessToken": "stolen"}}
	case strings.HasPrefix(path, "/integration"):
		return map[string]any{"key": "hubspot", "name": "Hijacked", "baseUri": "https://evil.example", "authType": "bearer"}
	case strings.HasPrefix(path, "/customer"), strings.HasPrefix(path, "/tenant"), strings.HasPrefix(path, "/user"), path == "/self":
		return map[string]any{"name": "Hijacked", "fields": map[string]any{"plan": "hijacked"}}
	}
	return map[string]any{"name": "Hijacked"}
}

// attackExpectation is what an attacker may get with a set of values.
type attackExpectation int

const (
	expDeny      attackExpectation = iota // 404 (403 for a tenant token)
	expForbidden                          // 403: W1's tenant token changing W1's workspace-level things
	expMayRead                            // any non-5xx; a 2xx must be clean
	expSkip                               // not an attack: the attacker would act on its own things
)

// attackDecide says what at may get from a request of method on path (the route's) with vals.
func attackDecide(at attacker, method, path string, vals []attackVal) attackExpectation {
	has := func(pred func(attackVal) bool) bool { return slices.ContainsFunc(vals, pred) }
	victim := has(func(v attackVal) bool { return v.owner == ofVictim })
	w1 := has(func(v attackVal) bool { return v.owner == ofW1 })
	named := has(func(v attackVal) bool { return v.name && (v.owner == ofVictim || v.owner == ofW1) })
	w1ID := has(func(v attackVal) bool { return !v.name && (v.owner == ofVictim || v.owner == ofW1) })
	if !at.w1 && !w1ID && named {
		// W2 has things of these names: it may reach its own.
		if method == "GET" {
			return expMayRead
		}
		return expSkip
	}
	switch {
	case victim:
		return expDeny
	case w1 && !at.w1:
		return expDeny
	case has(func(v attackVal) bool { return v.owner == ofAttacker }):
		// The attacker's own connection with W1's template: its own customization.
		if method == "GET" {
			return expMayRead
		}
		return expSkip
	case w1 && method == "GET":
		return expMayRead
	case w1 && strings.HasSuffix(path, "/run"):
		return expSkip // B running a workspace action on its own connection
	case w1:
		return expForbidden
	case method == "GET":
		return expMayRead
	}
	return expSkip
}

// attackReq is one request of the sweep.
type attackReq struct {
	route  string // "METHOD /path" as in Routes()
	method string
	path   string // with the values in, below /api
	vals   []attackVal
	body   any
}

// check sends r as at and checks the answer against the attackExpectation; it returns the status.
func (e *attackEnv) check(t *testing.T, at attacker, r attackReq, exp attackExpectation) int {
	t.Helper()
	res := e.do(req{Method: r.method, Path: "/api" + r.path, Token: at.token, Body: r.body})
	what := fmt.Sprintf("%s: %s %s", at.name, r.method, r.path)
	if r.body != nil {
		what += fmt.Sprintf(" body %s", attackJSON(r.body))
	}
	if res.Status >= 500 {
		t.Errorf("%s: status %d (a server error): %s", what, res.Status, res.Body)
		return res.Status
	}
	if res.Status >= 300 {
		sane(t, what, res)
	}
	switch exp {
	case expDeny:
		if res.Status == http.StatusNotFound || (at.tenant && res.Status == http.StatusForbidden) {
			break
		}
		// Another 4xx is a refusal only if the same request naming things that do not exist
		// gets exactly the same answer: the caller cannot tell A's things from nothing.
		if res.Status >= 400 {
			ghost := e.do(e.ghost(at, r))
			if ghost.Status == res.Status && res.Err(t).Key == ghost.Err(t).Key {
				e.sameAsNothing.Add(1)
				t.Logf("%s: %d %s, as for ids that do not exist", what, res.Status, res.Err(t).Key)
				break
			}
			t.Errorf("%s: status %d, want 404 (with ids that do not exist: %d %s): %s", what, res.Status, ghost.Status, attackTrim(ghost.Body), attackTrim(res.Body))
			break
		}
		t.Errorf("%s: status %d, want 404: %s", what, res.Status, attackTrim(res.Body))
	case expForbidden:
		if res.Status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403 (a tenant token changes no workspace-level thing): %s", what, res.Status, attackTrim(res.Body))
		}
	case expMayRead:
		if res.Status >= 200 && res.Status < 300 && r.method != "GET" {
			t.Errorf("%s: status %d: a write succeeded", what, res.Status)
		}
	}
	e.clean(t, at, what, res.Body, r.vals)
	return res.Status
}

// ghost is r with every value of A's and W1's replaced by one that names nothing.
func (e *attackEnv) ghost(at attacker, r attackReq) req {
	vs := slices.Clone(r.vals)
	slices.SortFunc(vs, func(a, b attackVal) int { return len(b.s) - len(a.s) })
	var pairs []string
	for _, v := range vs {
		if v.owner != ofVictim && v.owner != ofW1 {
			continue
		}
		nothing := "no-such-thing"
		if !v.name {
			nothing = "01a20000-0000-7000-8000-000000000000"
		}
		pairs = append(pairs, v.s, nothing)
	}
	rep := strings.NewReplacer(pairs...)
	g := req{Method: r.method, Path: "/api" + rep.Replace(r.path), Token: at.token}
	if r.body != nil {
		g.Body = rep.Replace(attackJSON(r.body))
	}
	return g
}

// clean fails when body names anything the attacker must not see; the values it sent itself
// (an error may echo them) are taken out first.
func (e *attackEnv) clean(t *testing.T, at attacker, what string, body []byte, sent []attackVal) {
	t.Helper()
	s := strings.ToLower(string(body))
	for _, v := range sent {
		if v.s != "" {
			s = strings.ReplaceAll(s, strings.ToLower(v.s), "")
		}
	}
	for _, f := range at.forbid {
		if strings.Contains(s, strings.ToLower(f)) {
			t.Errorf("%s: the answer contains %q, which is not the caller's to see: %s", what, f, attackTrim(body))
		}
	}
}

func attackTrim(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

func attackJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var attackParamRE = regexp.MustCompile(`\{([a-zA-Z]+)\}`)

// expand fills a route's path with every combination of its parameters' values.
func (e *attackEnv) expand(at attacker, path string) ([][]attackVal, []string, error) {
	params := attackParamRE.FindAllStringSubmatch(path, -1)
	var kinds []string
	for _, p := range params {
		k := attackParamKind(path, p[1])
		if k == "" || e.values(k, at, len(params) > 1) == nil {
			return nil, nil, fmt.Errorf("parameter {%s}: unknown kind", p[1])
		}
		kinds = append(kinds, k)
	}
	combos := [][]attackVal{{}}
	for _, k := range kinds {
		var next [][]attackVal
		for _, c := range combos {
			for _, v := range e.values(k, at, len(params) > 1) {
				next = append(next, append(slices.Clone(c), v))
			}
		}
		combos = next
	}
	var paths []string
	for _, c := range combos {
		i := 0
		paths = append(paths, attackParamRE.ReplaceAllStringFunc(path, func(string) string {
			v := c[i].s
			i++
			return v
		}))
	}
	return combos, paths, nil
}

// extraQueries are added to every request of a route: the run routes also get A's connection in
// the query, GETs also ask for secrets.
func (e *attackEnv) extraQueries(method, path string) []attackQuery {
	switch {
	case path == "/actions/{selector}/run":
		return []attackQuery{atq(""), atq("?connectionId="+e.aConn.ID, attackVal{e.aConn.ID, ofVictim, false}),
			atq("?integrationKey=hubspot&connectionKey="+e.aConn.Key, attackVal{e.aConn.Key, ofVictim, true})}
	case method == "GET":
		return []attackQuery{atq(""), atq("?includeSecrets=true")}
	}
	return []attackQuery{atq("")}
}

// attackers are the tokens the sweep uses against A's values.
func (e *attackEnv) attackers() []attacker {
	aIDs := append(e.aUUIDs(), "acme", "acme-tenant-secret-w1", "acme-conn-secret-w1", "acme-plan", "acme-owner")
	w1 := append(e.rowIDs(`workspace_id = $1`, e.ws.ID), e.ws.ID.String(), "-w1") // W1's secrets end in -w1
	return []attacker{
		{name: "B (W1 tenant token)", token: e.bTok, tenant: true, w1: true, conn: e.bConn.ID, forbid: aIDs},
		{name: "W2 workspace token", token: e.w2Admin, conn: e.a2Conn.ID, forbid: w1},
		{name: "W2's acme (tenant token with A's internalId)", token: e.a2Tok, tenant: true, conn: e.a2Conn.ID, forbid: w1},
	}
}

// requestsFor are the attack requests of one route for at; list says the route is a plain list
// (a parameterless GET that is no selector route), checked by the list sweep instead.
func (e *attackEnv) requestsFor(rt api.Route, at attacker) (reqs []attackReq, list bool, err error) {
	route := rt.Method + " " + rt.Path
	if strings.Contains(rt.Path, "{") {
		combos, paths, err := e.expand(at, rt.Path)
		if err != nil {
			return nil, false, err
		}
		for i, c := range combos {
			for _, xq := range e.extraQueries(rt.Method, rt.Path) {
				reqs = append(reqs, attackReq{route: route, method: rt.Method, path: paths[i] + xq.s,
					vals: append(slices.Clone(c), xq.vals...), body: attackBody(rt.Method, rt.Path)})
			}
		}
		return reqs, false, nil
	}
	if qs, ok := e.selectorQueries(rt.Path); ok {
		for _, qq := range qs {
			reqs = append(reqs, attackReq{route: route, method: rt.Method, path: rt.Path + qq.s, vals: qq.vals, body: attackBody(rt.Method, rt.Path)})
		}
		return reqs, false, nil
	}
	switch {
	case rt.Method == "GET":
		return nil, true, nil
	case route == "PATCH /self":
		// The caller's own tenant: taking A's internalId must fail.
		return []attackReq{{route: route, method: "PATCH", path: "/self", body: map[string]any{"internalId": "acme"},
			vals: []attackVal{{"acme", ofVictim, true}}}}, false, nil
	case rt.Method == "POST":
		if bodies, ok := e.createBodies(rt.Path); ok {
			for _, b := range bodies {
				reqs = append(reqs, attackReq{route: route, method: "POST", path: rt.Path, body: b, vals: e.bodyVals(b)})
			}
			return reqs, false, nil
		}
	}
	return nil, false, fmt.Errorf("a parameterless %s this suite does not know: teach selectorQueries or createBodies", rt.Method)
}

// expect is what at may get from r, a request of route rt.
func (e *attackEnv) expect(at attacker, rt api.Route, r attackReq) attackExpectation {
	switch {
	case rt.Method+" "+rt.Path == "PATCH /self":
		if at.w1 {
			return expMayRead // refused, whatever the status: a 2xx write fails the check
		}
		return expSkip // W2's acme renaming itself is its own business
	case !strings.Contains(rt.Path, "{") && !strings.Contains(r.path, "?") && rt.Method == "POST":
		return e.decideCreate(at, rt.Path, r)
	}
	return attackDecide(at, r.method, rt.Path, r.vals)
}

// bodyVals are the values a create body names.
func (e *attackEnv) bodyVals(b map[string]any) []attackVal {
	var vs []attackVal
	for _, v := range b {
		s, _ := v.(string)
		switch s {
		case e.a.ID, e.aConn.ID, e.aInst["flows"].ID:
			vs = append(vs, attackVal{s, ofVictim, false})
		case "acme", e.aConn.Key:
			vs = append(vs, attackVal{s, ofVictim, true})
		case e.integ.ID, e.tmpl["flows"].ID:
			vs = append(vs, attackVal{s, ofW1, false})
		}
	}
	return vs
}

// decideCreate: W1's tenant token creates no tenant, integration or template (403), and nothing
// naming A's things; W2 creates nothing naming W1's ids. What W2 creates in W2 under names it
// shares with W1 is its own business.
func (e *attackEnv) decideCreate(at attacker, path string, r attackReq) attackExpectation {
	workspaceLevel := path != "/connections" && path != "/flow-runs"
	switch {
	case at.w1 && at.tenant && workspaceLevel:
		return expForbidden
	case slices.ContainsFunc(r.vals, func(v attackVal) bool { return !v.name && (v.owner == ofVictim || v.owner == ofW1) }):
		return expMayRead // a refusal of any 4xx; a 2xx fails the check
	case at.w1 && slices.ContainsFunc(r.vals, func(v attackVal) bool { return v.owner == ofVictim }):
		return expMayRead
	}
	return expSkip
}

// listQueries are the filters every list is read with: each names A's things.
func (e *attackEnv) listQueries() []attackQuery {
	aID, aName := attackVal{e.a.ID, ofVictim, false}, attackVal{"acme", ofVictim, true}
	conn, connKey := attackVal{e.aConn.ID, ofVictim, false}, attackVal{e.aConn.Key, ofVictim, true}
	act, flow := attackVal{e.aInst["actions"].ID, ofVictim, false}, attackVal{e.aInst["flows"].ID, ofVictim, false}
	return []attackQuery{
		atq(""), atq("?limit=1000&includeArchived=true"),
		atq("?tenantId="+aID.s, aID), atq("?userId=acme", aName), atq("?connectionId="+conn.s, conn), atq("?connectionKey="+connKey.s, connKey),
		atq("?layer=connection&connectionId="+conn.s, conn), atq("?layer=tenant&tenantId="+aID.s, aID),
		atq("?elementId="+act.s, act), atq("?actionId="+act.s, act), atq("?flowInstanceId="+flow.s, flow), atq("?connectionFlowId="+flow.s, flow),
		atq("?parentId="+e.tmpl["actions"].ID+"&tenantId="+aID.s, aID), atq("?search=acme", aName),
		atq("?type=action.run&tenantId="+aID.s, aID),
	}
}

// TestAttackIsolation is the sweep over every route, then over every list.
func TestAttackIsolation(t *testing.T) {
	start := time.Now()
	e := newAttackEnv(t)
	routes := newAPI(e.env).Routes()
	attackers := e.attackers()
	t.Logf("fixture ready in %v; %d routes", time.Since(start).Round(time.Millisecond), len(routes))

	// A route the suite cannot fill fails it: a new route must be taught here.
	for _, fake := range []api.Route{{Method: "GET", Path: "/widgets/{id}"}, {Method: "POST", Path: "/widgets"},
		{Method: "DELETE", Path: "/connections/{selector}/widgets/{widgetId}"}, {Method: "PATCH", Path: "/widget"}} {
		if _, _, err := e.requestsFor(fake, attackers[0]); err == nil {
			t.Errorf("a new route %s %s would escape the suite", fake.Method, fake.Path)
		}
	}
	// What the sweep looks for is there to be found: W1's workspace token sees A's ids in the
	// lists, each attacker its own things.
	for _, p := range []string{"/connections", "/customers", "/activity-logs", "/action-run-logs", "/flow-runs", "/action-instances", "/flow-instances"} {
		res := e.do(req{Method: "GET", Path: "/api" + p, Token: e.w1Admin})
		if res.Status != 200 || !slices.ContainsFunc(e.aUUIDs(), func(s string) bool { return strings.Contains(string(res.Body), s) }) {
			t.Errorf("W1's workspace token: GET %s (%d) shows none of A's ids: the check would be vacuous", p, res.Status)
		}
	}
	for _, at := range attackers {
		if res := e.do(req{Method: "GET", Path: "/api/connections", Token: at.token}); res.Status != 200 || !strings.Contains(string(res.Body), at.conn) {
			t.Errorf("%s: GET /connections (%d) does not show its own connection %s", at.name, res.Status, at.conn)
		}
	}
	// The first request of a tenant token provisions (lastActiveAt); after this, nothing an
	// attacker sends may write.
	for _, at := range attackers {
		e.must(http.StatusOK, req{Method: "GET", Path: "/api/integrations", Token: at.token})
	}
	e.hits.Store(0)
	before := e.snapshot()
	aActivity := e.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND tenant_id = $2`, e.ws.ID, e.a.ID)

	sent, refused := 0, 0
	var lists []api.Route
	isList := map[string]bool{}
	for _, rt := range routes {
		route := rt.Method + " " + rt.Path
		if rt.Public && rt.Method == "GET" && !strings.Contains(rt.Path, "{") {
			lists, isList[route] = append(lists, rt), true
			continue
		}
		covered := false
		for _, at := range attackers {
			reqs, list, err := e.requestsFor(rt, at)
			if err != nil {
				t.Errorf("route not covered by the attack suite: %s: %v", route, err)
				break
			}
			if list {
				lists, isList[route] = append(lists, rt), true
				break
			}
			for _, r := range reqs {
				exp := e.expect(at, rt, r)
				if exp == expSkip || (exp == expMayRead && strings.Contains(r.path, "includeSecrets")) {
					continue // reading its own secrets records a credentials.read: not an attack
				}
				covered = true
				sent++
				if st := e.check(t, at, r, exp); st == 403 || st == 404 {
					refused++
				}
			}
		}
		if !covered && !isList[route] {
			t.Errorf("%s: no attack request was made", route)
		}
		// Positive control: A's values name real things. W1's workspace token reads through
		// every GET route with them.
		if rt.Method == "GET" && !isList[route] {
			reqs, _, _ := e.requestsFor(rt, attackers[0])
			ok := false
			for _, r := range reqs {
				if res := e.do(req{Method: "GET", Path: "/api" + r.path, Token: e.w1Admin}); res.Status == 200 {
					ok = true
					break
				}
			}
			if !ok {
				t.Errorf("%s: W1's workspace token reads nothing with A's values: they name nothing (fixture or kind map wrong)", route)
			}
		}
	}

	// Every list, read by every attacker with filters naming A's things.
	for _, rt := range lists {
		for _, at := range attackers {
			for i, qq := range e.listQueries() {
				res := e.do(req{Method: "GET", Path: "/api" + rt.Path + qq.s, Token: at.token})
				what := fmt.Sprintf("%s: GET %s%s", at.name, rt.Path, qq.s)
				sent++
				switch {
				case res.Status >= 500:
					t.Errorf("%s: status %d (a server error): %s", what, res.Status, res.Body)
				case i == 0 && res.Status != 200 && !(rt.Path == "/self" && !at.tenant):
					t.Errorf("%s: status %d, want 200 (a parameterless GET that is not a list must be taught to selectorQueries): %s",
						what, res.Status, attackTrim(res.Body))
				case res.Status >= 300:
					sane(t, what, res)
				}
				e.clean(t, at, what, res.Body, qq.vals)
			}
		}
	}

	if n := e.hits.Load(); n != 0 {
		t.Errorf("the external app received %d requests during the sweep: an attacker ran something", n)
	}
	if n := e.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND tenant_id = $2`, e.ws.ID, e.a.ID); n != aActivity {
		t.Errorf("activity entries of A: %d before the sweep, %d after", aActivity, n)
	}
	e.sameSnapshot(t, before, e.snapshot())
	if sent < 1000 || refused < sent/3 {
		t.Errorf("only %d attack requests (%d refused): the sweep is not sweeping", sent, refused)
	}
	t.Logf("%d requests (%d refused with 403/404, %d with the answer a request naming nothing gets) over %d routes, %d lists, in %v",
		sent, refused, e.sameAsNothing.Load(), len(routes), len(lists), time.Since(start).Round(time.Millisecond))
}

// aUUIDs are A's id and the ids of every row of A's.
func (e *attackEnv) aUUIDs() []string {
	return append(e.rowIDs(`tenant_id = $1`, e.a.ID), e.a.ID)
}

// rowIDs are the ids of every row, of any table with an id column and the column in where, that
// where selects (as the superuser).
func (e *attackEnv) rowIDs(where string, arg any) []string {
	e.t.Helper()
	col := strings.Fields(where)[0]
	var tables []string
	if err := e.db.SQL().SelectContext(context.Background(), &tables, `SELECT format('%I.%I', c1.table_schema, c1.table_name)
		FROM information_schema.columns c1 JOIN information_schema.columns c2 USING (table_schema, table_name)
		JOIN pg_class pc ON pc.oid = format('%I.%I', c1.table_schema, c1.table_name)::regclass
		WHERE c1.column_name = 'id' AND c2.column_name = $1 AND pc.relkind IN ('r', 'p') AND NOT pc.relispartition
		AND c1.table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`, col); err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		var ids []string
		if err := e.db.SQL().SelectContext(context.Background(), &ids, `SELECT id::text FROM `+tb+` WHERE `+where, arg); err != nil {
			e.t.Fatalf("%s: %v", tb, err)
		}
		out = append(out, ids...)
	}
	if len(out) < 5 {
		e.t.Fatalf("rows where %s: only %d ids (%v in %v)", where, len(out), out, tables)
	}
	return out
}

// snapshot reads every row of every table (as the superuser) as JSON, sorted. Only A's rows keep
// last_active_at: an attacker's own request touches its own tenant's and connections' (at most
// once a minute), and the attacks must not touch A's.
func (e *attackEnv) snapshot() map[string][]string {
	e.t.Helper()
	ctx := context.Background()
	var tables []string
	if err := e.db.SQL().SelectContext(ctx, &tables, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1`); err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, tb := range tables {
		var rows []string
		if err := e.db.SQL().SelectContext(ctx, &rows, `SELECT (CASE WHEN $1 IN (j->>'id', j->>'tenant_id') THEN j
			ELSE j - 'last_active_at' END)::text FROM (SELECT to_jsonb(t) AS j FROM `+tb+` t) s ORDER BY 1`, e.a.ID); err != nil {
			e.t.Fatalf("snapshot %s: %v", tb, err)
		}
		out[tb] = rows
	}
	if len(out) < 10 {
		e.t.Fatalf("snapshot: only %d tables: %v", len(out), tables)
	}
	return out
}

// sameSnapshot fails with the rows that differ.
func (e *attackEnv) sameSnapshot(t *testing.T, before, after map[string][]string) {
	t.Helper()
	for tb := range attackKeys(before, after) {
		b, a := before[tb], after[tb]
		if slices.Equal(b, a) {
			continue
		}
		gone, added := attackDiffRows(b, a)
		t.Errorf("table %s changed during the sweep (%d rows before, %d after):\n  gone:  %s\n  added: %s", tb, len(b), len(a),
			strings.Join(gone, "\n         "), strings.Join(added, "\n         "))
	}
}

func attackKeys(a, b map[string][]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func attackDiffRows(before, after []string) (gone, added []string) {
	in := func(s []string, x string) bool { _, ok := slices.BinarySearch(s, x); return ok }
	b, a := slices.Clone(before), slices.Clone(after)
	slices.Sort(b)
	slices.Sort(a)
	for _, r := range b {
		if !in(a, r) {
			gone = append(gone, r)
		}
	}
	for _, r := range a {
		if !in(b, r) {
			added = append(added, r)
		}
	}
	return gone, added
}
