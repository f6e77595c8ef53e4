package api_test

// Action and flow runs through the API against real HTTP servers on 127.0.0.1 started here: the
// integration's baseUri points at the upstream, so every run really goes over HTTP.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is an external app: it records what it receives and answers by path.
type upstream struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []seen
	hits    atomic.Int64
	release chan struct{} // /block waits for it: unblock closes it
	once    sync.Once
}

func (u *upstream) unblock() { u.once.Do(func() { close(u.release) }) }

// seen is one request the upstream received.
type seen struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   string
}

func newUpstream(t *testing.T, other string) *upstream {
	t.Helper()
	u := &upstream{release: make(chan struct{})}
	t.Cleanup(u.unblock)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.hits.Add(1)
		u.mu.Lock()
		u.got = append(u.got, seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(b)})
		u.mu.Unlock()
		p := strings.TrimPrefix(r.URL.Path, "/api")
		switch {
		case p == "/fail400":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"bad owner","detail":"`+strings.Repeat("x", 5000)+`"}`)
		case p == "/fail500":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "upstream exploded")
		case p == "/hang":
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		case p == "/block":
			select {
			case <-u.release:
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"released":true}`)
		case p == "/redirect":
			http.Redirect(w, r, other+"/stolen", http.StatusFound)
		case p == "/contacts":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"results":[{"properties":{"email":"ada@x.test","firstname":"Ada","lastname":"L"}},`+
				`{"properties":{"email":"bob@x.test","firstname":"Bob","lastname":"M"}}]}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			var body any
			_ = json.Unmarshal(b, &body)
			_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.Query(),
				"authorization": r.Header.Get("Authorization"), "apiKey": r.Header.Get("X-API-Key"),
				"custom": r.Header.Get("X-Custom"), "body": body, "results": []any{map[string]any{"id": "d1"}, map[string]any{"id": "d2"}}})
		}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// last returns the last request to path (below /api), failing when there is none.
func (u *upstream) last(t *testing.T, path string) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.got) - 1; i >= 0; i-- {
		if u.got[i].Path == "/api"+path {
			return u.got[i]
		}
	}
	t.Fatalf("the upstream received no request to %s", path)
	return seen{}
}

func (u *upstream) count(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, s := range u.got {
		if s.Path == "/api"+path {
			n++
		}
	}
	return n
}

// serveWithWorkers replaces e's server with a fresh API whose flow workers run (as a server
// process does), stopping the previous workers.
func serveWithWorkers(e *env) {
	e.t.Helper()
	if e.ts != nil {
		e.ts.Close()
	}
	a := newAPI(e)
	ctx, cancel := context.WithCancel(context.Background())
	a.Runner().Work(ctx, 2)
	e.ts = httptest.NewServer(a)
	ts := e.ts
	e.t.Cleanup(func() { ts.Close(); cancel() })
}

// runEnv is an API with flow workers, an upstream, and a workspace whose integration "crm"
// (bearer) points at it, with tenants acme (one connection, "main") and globex.
type runEnv struct {
	*env
	up, other        *upstream
	admin            string
	acmeTok, glxTok  string
	acme, globex     customer
	crm              integration
	acmeConn, glxCon connection
}

func newRunEnv(t *testing.T) *runEnv {
	t.Helper()
	e := newEnv(t)
	serveWithWorkers(e)
	re := &runEnv{env: e, admin: e.adminToken()}
	re.other = newUpstream(t, "")
	re.up = newUpstream(t, re.other.srv.URL)
	re.crm = re.integration("crm", "bearer")
	re.acme = e.createCustomer(map[string]any{"internalId": "acme", "name": "Acme", "fields": map[string]any{"region": "eu"}})
	re.globex = e.createCustomer(map[string]any{"internalId": "globex", "name": "Globex"})
	re.acmeTok, re.glxTok = e.tenantToken("acme", nil), e.tenantToken("globex", nil)
	re.acmeConn = re.connect("acme", "crm", "main", map[string]any{"accessToken": "acme-secret-token", "accountId": "A-42"})
	re.glxCon = re.connect("globex", "crm", "main", map[string]any{"accessToken": "globex-secret-token"})
	return re
}

func (re *runEnv) integration(key, authType string) integration {
	re.t.Helper()
	return decode[integration](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: re.admin,
		Body: map[string]any{"key": key, "name": key, "baseUri": re.up.srv.URL + "/api", "authType": authType}})
}

func (re *runEnv) connect(tenant, integrationKey, key string, creds map[string]any) connection {
	re.t.Helper()
	return decode[connection](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections", Token: re.admin,
		Body: map[string]any{"integrationKey": integrationKey, "tenantId": tenant, "name": tenant + " " + key, "key": key, "credentials": creds}})
}

// action creates an http-request action template on integrationKey.
func (re *runEnv) action(integrationKey, key string, config map[string]any) element {
	re.t.Helper()
	return decode[element](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/actions", Token: re.admin,
		Body: map[string]any{"key": key, "name": key, "integrationKey": integrationKey, "type": "http-request", "config": config}})
}

// runResult is an action run's answer.
type runResult struct {
	Output      any    `json:"output"`
	ActionRunID string `json:"actionRunId"`
}

func (re *runEnv) run(want int, r req) runResult {
	re.t.Helper()
	return decode[runResult](re.env, want, r)
}

// errBody is an error answer with its data.
type errBody struct {
	Type    string         `json:"type"`
	Key     string         `json:"key"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

func (re *runEnv) runFails(status int, key string, r req) (errBody, *resp) {
	re.t.Helper()
	res := re.do(r)
	if res.Status != status {
		re.t.Fatalf("%s %s: status %d, want %d: %s", r.Method, r.Path, res.Status, status, res.Body)
	}
	var e errBody
	if err := json.Unmarshal(res.Body, &e); err != nil {
		re.t.Fatalf("%s %s: the error body is not JSON: %s", r.Method, r.Path, res.Body)
	}
	if e.Type == "" || e.Message == "" {
		re.t.Errorf("%s %s: the error body has no type or message: %s", r.Method, r.Path, res.Body)
	}
	if status >= 500 && e.Type != "action_run" {
		re.t.Errorf("%s %s: a %d of type %q: only the external app's failures may be 5xx", r.Method, r.Path, status, e.Type)
	}
	if key != "" && e.Key != key {
		re.t.Errorf("%s %s: key %q, want %q: %s", r.Method, r.Path, e.Key, key, res.Body)
	}
	return e, res
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// TestActionRunForms: every run route and its body form reaches the upstream with the request
// the templates build from the input, the tenant's fields and the connection's credentials.
func TestActionRunForms(t *testing.T) {
	re := newRunEnv(t)
	echo := re.action("crm", "echo", map[string]any{"method": "POST", "path": "/echo/{{input.id}}",
		"query":   map[string]any{"q": "{{input.q}}", "region": "{{fields.region}}", "limit": "100"},
		"headers": map[string]any{"X-Custom": "acct {{credentials.accountId}}"},
		"body":    map[string]any{"name": "{{input.name}}", "tenant": "{{tenant.internalId}}", "all": "{{input}}"}})
	input := map[string]any{"id": "d 1/x", "q": "open deals", "name": "Ada"}
	check := func(what string, res runResult) {
		t.Helper()
		if res.ActionRunID == "" {
			t.Errorf("%s: no actionRunId", what)
		}
		got := re.up.last(t, "/echo/d 1/x")
		if got.Method != "POST" {
			t.Errorf("%s: method %s", what, got.Method)
		}
		if got.Query.Get("q") != "open deals" || got.Query.Get("region") != "eu" || got.Query.Get("limit") != "100" {
			t.Errorf("%s: query %v", what, got.Query)
		}
		if a := got.Header.Get("Authorization"); a != "Bearer acme-secret-token" {
			t.Errorf("%s: Authorization %q", what, a)
		}
		if c := got.Header.Get("X-Custom"); c != "acct A-42" {
			t.Errorf("%s: X-Custom %q", what, c)
		}
		re.wantConfig(what+": body", jsonParse(t, got.Body), map[string]any{"name": "Ada", "tenant": "acme", "all": input})
		out := obj(res.Output)
		if out["method"] != "POST" || out["path"] != "/api/echo/d 1/x" {
			t.Errorf("%s: output %v", what, res.Output)
		}
	}
	c := re.acmeConn.ID
	check("POST /actions/{key}/run", re.run(200, req{Method: "POST", Path: "/api/actions/echo/run", Token: re.acmeTok, Body: map[string]any{"input": input}}))
	check("POST /actions/{id}/run", re.run(200, req{Method: "POST", Path: "/api/actions/" + echo.ID + "/run", Token: re.acmeTok,
		Body: map[string]any{"input": input, "meta": map[string]any{"x": 1}}}))
	check("POST /actions/{key}/run?connectionId", re.run(200, req{Method: "POST", Path: "/api/actions/echo/run?integrationKey=crm&connectionId=" + c,
		Token: re.acmeTok, Body: map[string]any{"input": input}}))
	check("POST /action/run", re.run(200, req{Method: "POST", Path: "/api/action/run?key=echo&integrationKey=crm&connectionKey=main",
		Token: re.acmeTok, Body: map[string]any{"input": input}}))
	check("POST /connections/{id}/actions/{key}/run", re.run(200, req{Method: "POST", Path: "/api/connections/" + c + "/actions/echo/run",
		Token: re.acmeTok, Body: input}))
	check("POST /connections/{key}/actions/{key}/run", re.run(200, req{Method: "POST", Path: "/api/connections/main/actions/echo/run",
		Token: re.acmeTok, Body: input}))
	check("POST /action-instance/run?parentKey", re.run(200, req{Method: "POST", Path: "/api/action-instance/run?parentKey=echo&connectionId=" + c,
		Token: re.acmeTok, Body: input}))
	check("workspace token with connectionId", re.run(200, req{Method: "POST", Path: "/api/actions/echo/run?connectionId=" + c,
		Token: re.admin, Body: map[string]any{"input": input}}))
	check("workspace token, action-instance by tenant", re.run(200, req{Method: "POST", Path: "/api/action-instance/run?parentKey=echo&userId=acme",
		Token: re.admin, Body: input}))
	// The connection-level element, by id: its key and connection.
	inst := decode[element](re.env, http.StatusOK, req{Method: "PUT", Path: "/api/connections/" + c + "/actions/echo", Token: re.acmeTok})
	if inst.ConnectionID != c || inst.ID == echo.ID {
		t.Fatalf("connection-level element: %+v", inst)
	}
	check("POST /action-instance/run?id", re.run(200, req{Method: "POST", Path: "/api/action-instance/run?id=" + inst.ID, Token: re.acmeTok, Body: input}))
	check("POST /connections/{id}/actions/{element id}/run", re.run(200, req{Method: "POST", Path: "/api/connections/" + c + "/actions/" + inst.ID + "/run",
		Token: re.acmeTok, Body: input}))

	// Raw input of any JSON type, and no input.
	re.action("crm", "raw", map[string]any{"method": "POST", "path": "/raw", "body": map[string]any{"in": "{{input}}"}})
	for _, tc := range []struct {
		body any
		want any
	}{{`"hello"`, "hello"}, {`[1,2,3]`, []any{1.0, 2.0, 3.0}}, {`42`, 42.0}, {"", map[string]any{}}} {
		re.run(200, req{Method: "POST", Path: "/api/connections/" + c + "/actions/raw/run", Token: re.acmeTok, Body: tc.body})
		re.wantConfig(fmt.Sprintf("raw input %v", tc.body), obj(jsonParse(t, re.up.last(t, "/raw").Body))["in"], tc.want)
	}
	// A string sent as the SDK sends it (axios: form-encoded, not JSON) is a string input.
	re.run(200, req{Method: "POST", Path: "/api/connections/" + c + "/actions/raw/run", Token: re.acmeTok, Body: "plain text",
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	re.wantConfig("form-encoded string input", obj(jsonParse(t, re.up.last(t, "/raw").Body))["in"], "plain text")

	// The runs are in the activity log, without the connection's secret.
	if n := re.activity("action.run"); n < 12 {
		t.Errorf("%d action.run entries, want at least 12", n)
	}
	if n := re.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND details::text LIKE '%acme-secret-token%'`, re.ws.ID); n != 0 {
		t.Errorf("%d activity entries carry the connection's access token", n)
	}

	// Mistakes are 4xx with the SDK's error shape, and reach no upstream.
	before := re.up.hits.Load()
	re.runFails(404, "not_found", req{Method: "POST", Path: "/api/actions/no-such/run", Token: re.acmeTok, Body: map[string]any{"input": 1}})
	re.runFails(404, "not_found", req{Method: "POST", Path: "/api/action/run?key=echo&integrationKey=nope", Token: re.acmeTok, Body: map[string]any{}})
	re.runFails(400, "invalid_selection", req{Method: "POST", Path: "/api/action/run?integrationKey=crm", Token: re.acmeTok, Body: map[string]any{}})
	re.runFails(404, "not_found", req{Method: "POST", Path: "/api/connections/" + re.glxCon.ID + "/actions/echo/run", Token: re.acmeTok, Body: input})
	re.runFails(400, "invalid_selection", req{Method: "POST", Path: "/api/actions/echo/run", Token: re.admin, Body: map[string]any{"input": input}})
	re.runFails(400, "malformed_json", req{Method: "POST", Path: "/api/actions/echo/run", Token: re.acmeTok, Body: `{"input":`})
	re.runFails(400, "malformed_json", req{Method: "POST", Path: "/api/connections/main/actions/echo/run", Token: re.acmeTok, Body: `{"id":`})
	re.runFails(422, "validation_error", req{Method: "POST", Path: "/api/actions/echo/run", Token: re.acmeTok, Body: map[string]any{"inptu": input}})
	// No input: the path's {{input.id}} has no value — the config cannot make a request.
	e, _ := re.runFails(422, "", req{Method: "POST", Path: "/api/connections/main/actions/echo/run", Token: re.acmeTok})
	if !strings.Contains(e.Message, "input.id") {
		t.Errorf("missing input: message %q does not name input.id", e.Message)
	}
	// Another tenant's instance id is not found.
	re.runFails(404, "not_found", req{Method: "POST", Path: "/api/action-instance/run?id=" + inst.ID, Token: re.glxTok, Body: input})
	if re.up.hits.Load() != before {
		t.Errorf("refused runs reached the upstream (%d requests)", re.up.hits.Load()-before)
	}

	// Several connections and none named: a clear 400 naming them.
	second := re.connect("acme", "crm", "second", map[string]any{"accessToken": "x"})
	e, _ = re.runFails(400, "invalid_selection", req{Method: "POST", Path: "/api/actions/echo/run", Token: re.acmeTok, Body: map[string]any{"input": input}})
	if !strings.Contains(e.Message, second.ID) {
		t.Errorf("ambiguous connection: message %q does not name the connections", e.Message)
	}
	// A disconnected connection cannot run.
	decode[connection](re.env, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + second.ID, Token: re.admin, Body: map[string]any{"disconnected": true}})
	re.runFails(409, "connection_not_ready", req{Method: "POST", Path: "/api/connections/" + second.ID + "/actions/echo/run", Token: re.acmeTok, Body: input})
}

// TestActionRunAuthTypes: each integration auth type authenticates from the connection's
// credentials; missing credentials are a 422 before any request.
func TestActionRunAuthTypes(t *testing.T) {
	re := newRunEnv(t)
	for _, tc := range []struct {
		auth   string
		creds  map[string]any
		header string
		want   string
	}{
		{"none", map[string]any{}, "Authorization", ""},
		{"bearer", map[string]any{"accessToken": "tok-1"}, "Authorization", "Bearer tok-1"},
		{"api-key-header", map[string]any{"apiKey": "key-2"}, "X-API-Key", "key-2"},
		{"basic", map[string]any{"username": "ada", "password": "pw 3"}, "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ada:pw 3"))},
	} {
		t.Run(tc.auth, func(t *testing.T) {
			re := &runEnv{env: re.with(t), up: re.up, admin: re.admin, acmeTok: re.acmeTok}
			key := "app-" + tc.auth
			re.integration(key, tc.auth)
			re.action(key, "ping-"+tc.auth, map[string]any{"method": "GET", "path": "/ping/" + tc.auth})
			conn := re.connect("acme", key, key, tc.creds)
			re.run(200, req{Method: "POST", Path: "/api/connections/" + conn.ID + "/actions/ping-" + tc.auth + "/run", Token: re.acmeTok})
			got := re.up.last(t, "/ping/"+tc.auth)
			if h := got.Header.Get(tc.header); h != tc.want {
				t.Errorf("%s: %s = %q, want %q", tc.auth, tc.header, h, tc.want)
			}
			if tc.auth != "none" {
				empty := re.connect("acme", key, key+"-empty", map[string]any{})
				before := re.up.count("/ping/" + tc.auth)
				re.runFails(422, "invalid_config", req{Method: "POST", Path: "/api/connections/" + empty.ID + "/actions/ping-" + tc.auth + "/run", Token: re.acmeTok})
				if re.up.count("/ping/"+tc.auth) != before {
					t.Error("a run without credentials reached the upstream")
				}
			}
		})
	}
}

// TestActionRunCustomizationAndMapping: the tenant's customization of the action changes what
// the upstream receives (for that tenant only); the tenant's field mapping reshapes the output.
func TestActionRunCustomizationAndMapping(t *testing.T) {
	re := newRunEnv(t)
	re.action("crm", "list-deals", map[string]any{"method": "GET", "path": "/deals", "query": map[string]any{"limit": "100"}})
	decode[element](re.env, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + re.acmeConn.ID + "/actions/list-deals", Token: re.acmeTok,
		Body: map[string]any{"config": map[string]any{"query": map[string]any{"status": "open", "limit": "5"}}}})
	re.run(200, req{Method: "POST", Path: "/api/actions/list-deals/run", Token: re.acmeTok})
	if q := re.up.last(t, "/deals").Query; q.Get("status") != "open" || q.Get("limit") != "5" {
		t.Errorf("acme's customized run sent query %v, want status=open&limit=5", q)
	}
	re.run(200, req{Method: "POST", Path: "/api/actions/list-deals/run", Token: re.glxTok})
	if q := re.up.last(t, "/deals").Query; q.Get("status") != "" || q.Get("limit") != "100" {
		t.Errorf("globex's run sent query %v, want the template's limit=100 only", q)
	}

	// Output mapping: the action names a field mapping; acme customizes the mapping.
	decode[element](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/field-mappings", Token: re.admin,
		Body: map[string]any{"key": "contact-fields", "name": "Contact fields", "integrationKey": "crm",
			"config": map[string]any{"direction": "import", "importValue": map[string]any{"email": "{{properties.email}}"}}}})
	re.action("crm", "list-contacts", map[string]any{"method": "GET", "path": "/contacts", "outputMapping": "contact-fields"})
	res := re.run(200, req{Method: "POST", Path: "/api/actions/list-contacts/run", Token: re.glxTok})
	re.wantConfig("globex's mapped output", res.Output, []any{map[string]any{"email": "ada@x.test"}, map[string]any{"email": "bob@x.test"}})
	decode[element](re.env, http.StatusOK, req{Method: "PATCH", Path: "/api/connections/" + re.acmeConn.ID + "/field-mappings/contact-fields", Token: re.acmeTok,
		Body: map[string]any{"importValue": map[string]any{"email": "{{properties.email}}", "name": "{{properties.firstname}} {{properties.lastname}}"}}})
	res = re.run(200, req{Method: "POST", Path: "/api/actions/list-contacts/run", Token: re.acmeTok})
	re.wantConfig("acme's mapped output", res.Output, []any{map[string]any{"email": "ada@x.test", "name": "Ada L"}, map[string]any{"email": "bob@x.test", "name": "Bob M"}})
}

// TestActionRunUpstreamFailures: the external app's errors come back structured; a hanging app
// times out; a request to another host is refused before it is sent.
func TestActionRunUpstreamFailures(t *testing.T) {
	re := newRunEnv(t)
	re.action("crm", "bad", map[string]any{"method": "GET", "path": "/fail400"})
	re.action("crm", "boom", map[string]any{"method": "GET", "path": "/fail500"})
	re.action("crm", "hang", map[string]any{"method": "GET", "path": "/hang", "timeoutSeconds": 1})
	re.action("crm", "redirect", map[string]any{"method": "GET", "path": "/redirect"})
	re.action("crm", "elsewhere", map[string]any{"method": "GET", "path": re.other.srv.URL + "/x"})
	re.action("crm", "climb", map[string]any{"method": "GET", "path": "/{{input.p}}"})
	runOn := func(key string, body any) req {
		return req{Method: "POST", Path: "/api/connections/" + re.acmeConn.ID + "/actions/" + key + "/run", Token: re.acmeTok, Body: body}
	}

	e, _ := re.runFails(502, "external_app_error", runOn("bad", nil))
	if e.Type != "action_run" {
		t.Errorf("upstream 400: type %q, want action_run", e.Type)
	}
	if st, _ := e.Data["status"].(float64); st != 400 {
		t.Errorf("upstream 400: data.status %v", e.Data["status"])
	}
	body, _ := e.Data["body"].(string)
	if !strings.HasPrefix(body, `{"error":"bad owner"`) || len(body) > 2100 || !strings.HasSuffix(body, "…") {
		t.Errorf("upstream 400: data.body not the trimmed body (%d bytes): %.80q", len(body), body)
	}
	e, _ = re.runFails(502, "external_app_error", runOn("boom", nil))
	if st, _ := e.Data["status"].(float64); st != 500 || e.Data["body"] != "upstream exploded" {
		t.Errorf("upstream 500: data %v", e.Data)
	}

	start := time.Now()
	re.runFails(504, "external_app_timeout", runOn("hang", nil))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 1 s timeout took %s", d)
	}

	otherBefore := re.other.hits.Load()
	re.runFails(422, "request_refused", runOn("redirect", nil))
	re.runFails(422, "request_refused", runOn("elsewhere", nil))
	if n := re.other.hits.Load() - otherBefore; n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
	// Values are escaped into the path: an input cannot turn it into another host or climb out.
	re.run(200, runOn("climb", map[string]any{"p": "//evil.test/x"}))
	if got := re.up.last(t, "///evil.test/x"); got.Method != "GET" {
		t.Errorf("escaped path: %+v", got)
	}

	// An unreachable app: 502, not a 500.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	decode[integration](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: re.admin,
		Body: map[string]any{"key": "dead", "name": "dead", "baseUri": deadURL, "authType": "none"}})
	re.action("dead", "ping", map[string]any{"method": "GET", "path": "/"})
	conn := re.connect("acme", "dead", "dead", map[string]any{})
	re.runFails(502, "external_app_unreachable", req{Method: "POST", Path: "/api/connections/" + conn.ID + "/actions/ping/run", Token: re.acmeTok})

	// Every failure is in the activity log as an error.
	if n := re.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = 'action.run' AND status = 'error'`, re.ws.ID); n < 6 {
		t.Errorf("%d failed action.run entries, want at least 6", n)
	}
}

// TestActionRunCreditLimit: 50 simultaneous runs against a tenant limit of 10 credits: exactly
// 10 run, 40 get 429 with the limit, the usage and when credits free up.
func TestActionRunCreditLimit(t *testing.T) {
	re := newRunEnv(t)
	re.action("crm", "metered", map[string]any{"method": "GET", "path": "/metered", "credits": 1})
	re.customerOf(http.StatusOK, req{Method: "PATCH", Path: "/api/customers/acme", Token: re.admin, Body: map[string]any{"aiCreditsRolling30DayLimit": 10}})

	const n = 50
	var wg sync.WaitGroup
	results := make([]*resp, n)
	startGate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			results[i] = doReq(t, re.ts.URL, req{Method: "POST", Path: "/api/actions/metered/run", Token: re.acmeTok, Body: map[string]any{"input": map[string]any{"i": i}}})
		}()
	}
	close(startGate)
	wg.Wait()
	ok, limited := 0, 0
	for _, r := range results {
		switch r.Status {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
			var e errBody
			_ = json.Unmarshal(r.Body, &e)
			if e.Key != "ai_credits_exceeded" || e.Type != "bad_request" {
				t.Errorf("429 body: %s", r.Body)
			}
			if e.Data["limit"] != 10.0 || e.Data["used"] != 10.0 || e.Data["requested"] != 1.0 || e.Data["scope"] != "tenant" {
				t.Errorf("429 data: %v", e.Data)
			}
			freeAt, err := time.Parse(time.RFC3339, fmt.Sprint(e.Data["freeAt"]))
			if err != nil || freeAt.Before(time.Now().Add(29*24*time.Hour)) {
				t.Errorf("429 freeAt %v: want about 30 days ahead", e.Data["freeAt"])
			}
			if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 29*24*3600 {
				t.Errorf("429 Retry-After %q", r.Header.Get("Retry-After"))
			}
		default:
			t.Errorf("status %d: %s", r.Status, r.Body)
		}
	}
	if ok != 10 || limited != 40 {
		t.Fatalf("%d succeeded and %d were refused, want 10 and 40", ok, limited)
	}
	if got := re.up.count("/metered"); got != 10 {
		t.Errorf("the upstream received %d runs, want 10", got)
	}
	if used := re.count(`SELECT coalesce(sum(credits), 0)::int FROM ai_credit_ledger WHERE workspace_id = $1`, re.ws.ID); used != 10 {
		t.Errorf("the ledger holds %d credits, want 10", used)
	}
	if n := re.activity("limit.exceeded"); n != 40 {
		t.Errorf("%d limit.exceeded entries, want 40", n)
	}
	// Another tenant has its own allowance.
	re.run(200, req{Method: "POST", Path: "/api/actions/metered/run", Token: re.glxTok})
}

// flowRun is the API's flow run shape.
type flowRun struct {
	ID               string         `json:"id"`
	ConnectionFlowID string         `json:"connectionFlowId"`
	FlowInstanceID   string         `json:"flowInstanceId"`
	StartNodeKey     string         `json:"startNodeKey"`
	State            string         `json:"state"`
	StartTime        string         `json:"startTime"`
	EndTime          string         `json:"endTime"`
	Input            any            `json:"input"`
	Output           any            `json:"output"`
	UserID           string         `json:"userId"`
	TenantID         string         `json:"tenantId"`
	ConnectionID     string         `json:"connectionId"`
	LaunchedBy       map[string]any `json:"launchedBy"`
	Errors           []errBody      `json:"errors"`
	Nodes            map[string]struct {
		State   string `json:"state"`
		Runs    int    `json:"runs"`
		Outputs int    `json:"outputs"`
	} `json:"nodes"`
	Steps []struct {
		Key    string   `json:"key"`
		State  string   `json:"state"`
		Output any      `json:"output"`
		Error  *errBody `json:"error"`
	} `json:"steps"`
}

// waitRun polls GET /flow-runs/{id} until the run is in one of states.
func (re *runEnv) waitRun(token, id string, states ...string) flowRun {
	re.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run := decode[flowRun](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs/" + id, Token: token})
		for _, s := range states {
			if run.State == s {
				return run
			}
		}
		if time.Now().After(deadline) {
			re.t.Fatalf("flow run %s is %s after 15 s, want %v: %+v", id, run.State, states, run)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFlowRuns: a flow run starts queued, runs in the background and is read back with each
// step's output; queued and running runs stop; runs are listed and kept to their tenant.
func TestFlowRuns(t *testing.T) {
	re := newRunEnv(t)
	re.action("crm", "list-deals", map[string]any{"method": "GET", "path": "/deals", "query": map[string]any{"owner": "{{input.owner}}"}})
	re.action("crm", "blocking", map[string]any{"method": "GET", "path": "/block"})
	re.action("crm", "boom", map[string]any{"method": "GET", "path": "/fail500"})
	mkFlow := func(key string, steps ...any) element {
		return decode[element](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/flows", Token: re.admin,
			Body: map[string]any{"key": key, "name": key, "integrationKey": "crm", "config": map[string]any{"steps": steps}}})
	}
	step := func(key, action string, input any) map[string]any {
		s := map[string]any{"key": key, "action": action}
		if input != nil {
			s["input"] = input
		}
		return s
	}
	mkFlow("sync", step("first", "list-deals", map[string]any{"owner": "{{input.owner}}"}),
		step("second", "list-deals", map[string]any{"owner": "{{steps.first.output.results.1.id}}"}))
	mkFlow("slow", step("wait", "blocking", nil), step("after", "list-deals", map[string]any{"owner": "late"}))
	mkFlow("failing", step("boom", "boom", nil))
	c := re.acmeConn.ID

	// POST /connections/{c}/flows/{key}/run: queued, then completed with each step's output.
	started := decode[flowRun](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + c + "/flows/sync/run", Token: re.acmeTok,
		Body: map[string]any{"input": map[string]any{"owner": "ada"}}})
	if started.State != "queued" && started.State != "running" {
		t.Errorf("a new run is %s", started.State)
	}
	if started.ConnectionID != c || started.UserID != re.acme.ID || started.LaunchedBy["type"] != "api-trigger" || started.StartNodeKey != "first" {
		t.Errorf("new run: %+v", started)
	}
	run := re.waitRun(re.acmeTok, started.ID, "completed", "failed")
	if run.State != "completed" {
		t.Fatalf("run %s: %+v", run.State, run)
	}
	if len(run.Steps) != 2 || run.Steps[0].State != "completed" || run.Steps[1].State != "completed" {
		t.Fatalf("steps: %+v", run.Steps)
	}
	if q := obj(obj(run.Steps[0].Output)["query"]); fmt.Sprint(q["owner"]) != "[ada]" {
		t.Errorf("step first: output %v", run.Steps[0].Output)
	}
	if q := obj(obj(run.Steps[1].Output)["query"]); fmt.Sprint(q["owner"]) != "[d2]" {
		t.Errorf("step second (fed by first's output): output %v", run.Steps[1].Output)
	}
	if n := run.Nodes["second"]; n.State != "completed" || n.Runs != 1 || n.Outputs != 1 {
		t.Errorf("nodes: %+v", run.Nodes)
	}
	if run.EndTime == "" || run.StartTime == "" {
		t.Errorf("times: start %q end %q", run.StartTime, run.EndTime)
	}
	out := re.do(req{Method: "GET", Path: "/api/flow-runs/" + run.ID + "/output", Token: re.acmeTok})
	if out.Status != 200 || !jsonEq(jsonParse(t, string(out.Body)), run.Steps[1].Output) {
		t.Errorf("GET /output: %d %s", out.Status, out.Body)
	}

	// POST /flow-runs with a connection-level flow's id (as GET /flow-instance returns).
	inst := decode[element](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-instance?flowKey=sync&connectionId=" + c + "&autoCreate=true", Token: re.acmeTok})
	byInstance := decode[flowRun](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/flow-runs", Token: re.acmeTok,
		Body: map[string]any{"flowInstanceId": inst.ID, "input": map[string]any{"owner": "bob"}}})
	if byInstance.ConnectionFlowID != inst.ID || byInstance.FlowInstanceID != inst.ID {
		t.Errorf("run by instance: connectionFlowId %s, want %s", byInstance.ConnectionFlowID, inst.ID)
	}
	if r := re.waitRun(re.acmeTok, byInstance.ID, "completed", "failed"); r.State != "completed" {
		t.Errorf("run by instance: %+v", r)
	}
	// startNodeKey skips the steps before it.
	fromSecond := decode[flowRun](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/flow-runs", Token: re.acmeTok,
		Body: map[string]any{"flowInstanceId": inst.ID, "startNodeKey": "second", "input": map[string]any{}}})
	if r := re.waitRun(re.acmeTok, fromSecond.ID, "completed", "failed"); r.Steps[0].State != "skipped" || r.Steps[0].Output != nil {
		t.Errorf("startNodeKey second: %+v", r.Steps)
	} else if _, ran := r.Nodes["first"]; ran {
		t.Errorf("a skipped step is among the nodes: %+v", r.Nodes)
	}
	// A workspace token, with the template's id and the connection.
	tmpl := decode[element](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flows/sync", Token: re.admin})
	byAdmin := decode[flowRun](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/flow-runs", Token: re.admin,
		Body: map[string]any{"flowInstanceId": tmpl.ID, "connectionId": re.glxCon.ID}})
	if byAdmin.TenantID != re.globex.ID {
		t.Errorf("admin's run on globex's connection: tenant %s", byAdmin.TenantID)
	}
	re.waitRun(re.admin, byAdmin.ID, "completed", "failed")

	// Mistakes.
	re.fails(422, "validation_error", "flowInstanceId", req{Method: "POST", Path: "/api/flow-runs", Token: re.acmeTok, Body: map[string]any{}})
	re.fails(404, "not_found", "", req{Method: "POST", Path: "/api/flow-runs", Token: re.acmeTok, Body: map[string]any{"flowInstanceId": "nope"}})
	re.fails(400, "invalid_selection", "", req{Method: "POST", Path: "/api/flow-runs", Token: re.admin, Body: map[string]any{"flowInstanceId": tmpl.ID}})
	re.fails(404, "not_found", "", req{Method: "POST", Path: "/api/connections/" + c + "/flows/no-such/run", Token: re.acmeTok})
	re.fails(422, "validation_error", "nodeKey", req{Method: "POST", Path: "/api/connections/" + c + "/flows/sync/run", Token: re.acmeTok, Body: map[string]any{"nodeKey": "nope"}})
	re.fails(404, "not_found", "", req{Method: "POST", Path: "/api/connections/" + re.glxCon.ID + "/flows/sync/run", Token: re.acmeTok})

	// One run at a time per connection: while "slow" blocks, the next run on the connection stays
	// queued; stopping it ends it without running; stopping the running one ends it before its
	// next step.
	slow := decode[flowRun](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + c + "/flows/slow/run", Token: re.acmeTok})
	re.waitRun(re.acmeTok, slow.ID, "running")
	deadline := time.Now().Add(10 * time.Second)
	for re.up.count("/block") == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	queued := decode[flowRun](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + c + "/flows/sync/run", Token: re.acmeTok})
	time.Sleep(300 * time.Millisecond)
	if r := decode[flowRun](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs/" + queued.ID, Token: re.acmeTok}); r.State != "queued" {
		t.Fatalf("a second run on a busy connection is %s, want queued", r.State)
	}
	re.fails(404, "not_found", "", req{Method: "POST", Path: "/api/flow-runs/" + queued.ID + "/stop", Token: re.glxTok})
	stopped := decode[flowRun](re.env, http.StatusOK, req{Method: "POST", Path: "/api/flow-runs/" + queued.ID + "/stop", Token: re.acmeTok})
	if stopped.State != "stopped" {
		t.Errorf("stopping a queued run: %s", stopped.State)
	}
	decode[flowRun](re.env, http.StatusOK, req{Method: "POST", Path: "/api/flow-runs/" + slow.ID + "/stop", Token: re.acmeTok})
	lateBefore := re.up.count("/deals")
	re.up.unblock()
	if r := re.waitRun(re.acmeTok, slow.ID, "stopped", "completed", "failed"); r.State != "stopped" || r.Steps[1].State == "completed" {
		t.Errorf("stopping a running run: %s, steps %+v", r.State, r.Steps)
	}
	time.Sleep(300 * time.Millisecond)
	if r := decode[flowRun](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs/" + queued.ID, Token: re.acmeTok}); r.State != "stopped" || r.Steps[0].State == "completed" {
		t.Errorf("the stopped queued run ran: %+v", r)
	}
	if n := re.up.count("/deals") - lateBefore; n != 0 {
		t.Errorf("stopped runs made %d requests", n)
	}

	// A failing step fails the run with the external app's error.
	failing := decode[flowRun](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/connections/" + c + "/flows/failing/run", Token: re.acmeTok})
	f := re.waitRun(re.acmeTok, failing.ID, "failed", "completed")
	if f.State != "failed" || len(f.Errors) != 1 || f.Errors[0].Key != "external_app_error" || !strings.Contains(f.Errors[0].Message, "boom") {
		t.Errorf("failing run: %+v", f)
	}
	if n := f.Nodes["boom"]; n.State != "failed" || n.Runs != 1 {
		t.Errorf("failing run's node: %+v", f.Nodes)
	}

	// Lists: newest first, filtered, and a tenant sees only its own runs.
	type runList struct {
		Items  []flowRun `json:"items"`
		Cursor string    `json:"cursor"`
	}
	mine := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs", Token: re.acmeTok})
	if len(mine.Items) != 6 {
		t.Errorf("acme lists %d runs, want 6", len(mine.Items))
	}
	for _, r := range mine.Items {
		if r.TenantID != re.acme.ID {
			t.Errorf("acme's list has %s's run", r.TenantID)
		}
	}
	if mine.Items[0].ID != failing.ID {
		t.Errorf("newest first: first is %s, want %s", mine.Items[0].ID, failing.ID)
	}
	if l := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs?state=stopped", Token: re.acmeTok}); len(l.Items) != 2 {
		t.Errorf("state=stopped: %d runs", len(l.Items))
	}
	// The runs that used the connection's flow element: by its id, and the one started on the
	// connection after the element existed.
	if l := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs?flowId=" + inst.ID, Token: re.acmeTok}); len(l.Items) != 3 {
		t.Errorf("flowId=<instance>: %d runs, want 3", len(l.Items))
	}
	page := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs?limit=4", Token: re.acmeTok})
	next := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs?limit=4&cursor=" + url.QueryEscape(page.Cursor), Token: re.acmeTok})
	if len(page.Items) != 4 || page.Cursor == "" || len(next.Items) != 2 || next.Cursor != "" {
		t.Errorf("pages: %d (cursor %q), then %d (cursor %q)", len(page.Items), page.Cursor, len(next.Items), next.Cursor)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if l := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs?from=" + future, Token: re.acmeTok}); len(l.Items) != 0 {
		t.Errorf("from=<future>: %d runs", len(l.Items))
	}
	if l := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs?to=" + future + "&connectionId=" + c, Token: re.acmeTok}); len(l.Items) != 6 {
		t.Errorf("to=<future>&connectionId: %d runs", len(l.Items))
	}
	if l := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs?connectionId=" + re.glxCon.ID, Token: re.acmeTok}); len(l.Items) != 0 {
		t.Errorf("acme filtering on globex's connection sees %d runs", len(l.Items))
	}
	if l := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs?tenantId=globex", Token: re.admin}); len(l.Items) != 1 || l.Items[0].ID != byAdmin.ID {
		t.Errorf("admin, tenantId=globex: %+v", l.Items)
	}
	if l := decode[runList](re.env, http.StatusOK, req{Method: "GET", Path: "/api/flow-runs", Token: re.admin}); len(l.Items) != 7 {
		t.Errorf("admin lists %d runs, want 7", len(l.Items))
	}
	re.fails(400, "invalid_query", "state", req{Method: "GET", Path: "/api/flow-runs?state=sleeping", Token: re.acmeTok})
	re.fails(400, "invalid_query", "from", req{Method: "GET", Path: "/api/flow-runs?from=yesterday", Token: re.acmeTok})
	re.fails(400, "invalid_query", "cursor", req{Method: "GET", Path: "/api/flow-runs?cursor=zzz", Token: re.acmeTok})

	// Another tenant's run is not found, by every route.
	for _, p := range []string{"/api/flow-runs/" + run.ID, "/api/flow-runs/" + run.ID + "/output", "/api/flow-runs/not-a-uuid"} {
		re.fails(404, "not_found", "", req{Method: "GET", Path: p, Token: re.glxTok})
	}
	re.fails(404, "not_found", "", req{Method: "POST", Path: "/api/flow-runs", Token: re.glxTok, Body: map[string]any{"flowInstanceId": inst.ID}})

	// The run is recorded.
	if n := re.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = 'flow.run'`, re.ws.ID); n < 5 {
		t.Errorf("%d flow.run entries", n)
	}
}
