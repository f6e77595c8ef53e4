package api_test

// Shared helpers for the API's tests: a real API on a fresh, migrated database behind httptest,
// tokens signed exactly as a test needs them, and readers for the SDK's error shape.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
	"tenantry/web/api"
)

// env is one API under test, on its own database, with one workspace.
type env struct {
	t      *testing.T
	db     *store.DB
	ws     *tenancy.Workspace
	secret string
	ts     *httptest.Server
}

// newEnv builds an API on a fresh database with a workspace "w1". The tests read rows past
// row-level security as the connecting user, so it must be a superuser (or BYPASSRLS).
func newEnv(t *testing.T) *env {
	t.Helper()
	db := testdb.New(t)
	var ok bool
	if err := db.SQL().GetContext(context.Background(), &ok,
		`SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("the test database user is neither superuser nor BYPASSRLS: cannot check rows past row-level security")
	}
	e := &env{t: t, db: db}
	e.ws, e.secret = e.workspace("w1")
	e.restart()
	return e
}

// workspace creates another workspace in the same database.
func (e *env) workspace(key string) (*tenancy.Workspace, string) {
	e.t.Helper()
	ws, secret, err := e.db.CreateWorkspace(context.Background(), key, "Workspace "+key)
	if err != nil {
		e.t.Fatalf("create workspace %s: %v", key, err)
	}
	logCapture.Register("workspace "+key+"'s secret", secret)
	return ws, secret
}

// restart serves a brand-new api.New, so nothing cached in the old one (workspace secrets and
// settings in the verifier, applied claims in the provisioner) hides a change made by SQL.
func (e *env) restart() {
	e.t.Helper()
	if e.ts != nil {
		e.ts.Close()
	}
	e.ts = newTestServer(newAPI(e))
	e.t.Cleanup(e.ts.Close)
}

// newTestServer serves h with net/http's own error log written into the capture.
func newTestServer(h http.Handler) *httptest.Server {
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = slog.NewLogLogger(logCapture.Handler(), slog.LevelWarn)
	ts.Start()
	return ts
}

// newAPI builds an API whose log (5xx errors) goes to the test's log, and every line of it
// (any level) into the capture scanned for secrets (logscan_test.go).
func newAPI(e *env) *api.API {
	return api.New(e.db, slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(testLog{e.t}, &slog.HandlerOptions{Level: slog.LevelWarn}), logCapture.Handler())))
}

// testLog writes the API's log lines to the test log (shown when the test fails or with -v).
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// sign signs claims with the workspace secret using one of the HMAC methods.
func sign(t *testing.T, method jwt.SigningMethod, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	logCapture.Register("a signed token", s)
	return s
}

// exp is an exp claim an hour ahead.
func exp() int64 { return time.Now().Add(time.Hour).Unix() }

// tenantToken returns an HS256 tenant token for tenantKey in e's workspace; extra claims (name,
// fields, …) are added as given.
func (e *env) tenantToken(tenantKey string, extra jwt.MapClaims) string {
	e.t.Helper()
	c := jwt.MapClaims{"workspaceKey": e.ws.Key, "tenantKey": tenantKey, "exp": exp()}
	for k, v := range extra {
		c[k] = v
	}
	return sign(e.t, jwt.SigningMethodHS256, e.secret, c)
}

// adminToken returns a workspace token for e's workspace.
func (e *env) adminToken() string {
	return workspaceToken(e.t, e.ws.Key, e.secret)
}

func workspaceToken(t *testing.T, wsKey, secret string) string {
	return sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"workspaceKey": wsKey, "isAdmin": true, "exp": exp()})
}

// rawToken assembles a token from a header and claims as given and signs header.payload with
// mac (nil = empty signature), whatever the header says.
func rawToken(t *testing.T, header, claims any, mac func() hash.Hash, secret string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	sig := ""
	if mac != nil {
		h := hmac.New(mac, []byte(secret))
		h.Write([]byte(input))
		sig = base64.RawURLEncoding.EncodeToString(h.Sum(nil))
	}
	logCapture.Register("a raw token", input+"."+sig)
	return input + "." + sig
}

// resp is a response read whole.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object (nil if it is not one).
func (r *resp) JSON() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// apiError is the SDK's error body.
type apiError struct {
	Type    string `json:"type"`
	Key     string `json:"key"`
	Message string `json:"message"`
	Fields  []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"fields"`
}

func (r *resp) Err(t *testing.T) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("error body is not JSON (%v): %s", err, r.Body)
	}
	return e
}

func (e apiError) paths() []string {
	var ps []string
	for _, f := range e.Fields {
		ps = append(ps, f.Path)
	}
	return ps
}

// req is one request; zero values mean no token, no body, no extra headers.
type req struct {
	Method string
	Path   string
	Token  string
	Body   any // string or []byte sent as is; anything else JSON-encoded
	Header map[string]string
}

// do sends r to e's server. A body is sent with Content-Type: application/json unless the
// headers name another.
func (e *env) do(r req) *resp {
	e.t.Helper()
	return doReq(e.t, e.ts.URL, r)
}

func doReq(t *testing.T, base string, r req) *resp {
	t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
		registerBody(r.Method+" "+r.Path, []byte(b))
	case []byte:
		body = bytes.NewReader(b)
		registerBody(r.Method+" "+r.Path, b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
		registerBody(r.Method+" "+r.Path, j)
	}
	if r.Token != "" {
		logCapture.Register("a bearer token", r.Token)
	}
	hr, err := http.NewRequest(r.Method, base+r.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", r.Method, r.Path, err)
	}
	registerBody("answer to "+r.Method+" "+r.Path, b)
	return &resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends r and fails unless the status is want; it returns the body as an object.
func (e *env) must(want int, r req) map[string]any {
	e.t.Helper()
	res := e.do(r)
	if res.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", r.Method, r.Path, res.Status, want, res.Body)
	}
	return res.JSON()
}

// customer is the API's tenant shape, for tests that read it typed.
type customer struct {
	ID                         string         `json:"id"`
	Name                       string         `json:"name"`
	InternalID                 string         `json:"internalId"`
	Fields                     map[string]any `json:"fields"`
	Credentials                any            `json:"credentials"`
	CredentialKeys             []string       `json:"credentialKeys"`
	AICreditsRolling30DayLimit *float64       `json:"aiCreditsRolling30DayLimit"`
	IsTest                     bool           `json:"isTest"`
	IsActive                   bool           `json:"isActive"`
	ArchivedAt                 *time.Time     `json:"archivedAt"`
	LastActiveAt               *time.Time     `json:"lastActiveAt"`
	WorkspaceKey               string         `json:"workspaceKey"`
}

func (e *env) customerOf(want int, r req) customer {
	e.t.Helper()
	res := e.do(r)
	if res.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", r.Method, r.Path, res.Status, want, res.Body)
	}
	var c customer
	if err := json.Unmarshal(res.Body, &c); err != nil {
		e.t.Fatalf("%s %s: %v: %s", r.Method, r.Path, err, res.Body)
	}
	return c
}

// createCustomer creates a tenant through POST /api/customers with a workspace token.
func (e *env) createCustomer(body map[string]any) customer {
	e.t.Helper()
	return e.customerOf(http.StatusCreated, req{Method: "POST", Path: "/api/customers", Token: e.adminToken(), Body: body})
}

// list is a list response; HasCursor says whether the cursor key was present at all.
type list struct {
	Items     []customer
	Cursor    string
	HasCursor bool
}

func (e *env) list(token, query string) list {
	e.t.Helper()
	res := e.do(req{Method: "GET", Path: "/api/customers" + query, Token: token})
	if res.Status != http.StatusOK {
		e.t.Fatalf("GET /api/customers%s: status %d: %s", query, res.Status, res.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &raw); err != nil {
		e.t.Fatal(err)
	}
	var l list
	if err := json.Unmarshal(raw["items"], &l.Items); err != nil {
		e.t.Fatalf("items: %v: %s", err, res.Body)
	}
	if c, ok := raw["cursor"]; ok {
		l.HasCursor = true
		_ = json.Unmarshal(c, &l.Cursor)
	}
	return l
}

func internalIDs(cs []customer) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.InternalID
	}
	return out
}

// row returns a tenant's whole row, with its xmin, as text, read as the superuser: any change
// to it, by any statement, shows.
func (e *env) row(wsID any, internalID string) string {
	e.t.Helper()
	var s string
	if err := e.db.SQL().GetContext(context.Background(), &s,
		`SELECT xmin::text || ' ' || row_to_json(t)::text FROM tenants t WHERE workspace_id = $1 AND internal_id = $2`,
		wsID, internalID); err != nil {
		e.t.Fatalf("read tenant %s: %v", internalID, err)
	}
	return s
}

// exec runs SQL as the superuser.
func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.db.SQL().ExecContext(context.Background(), q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
}

// count runs a count query as the superuser.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.SQL().GetContext(context.Background(), &n, q, args...); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// sane fails when a response is a 5xx or its body is not the SDK's error shape.
func sane(t *testing.T, what string, r *resp) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("%s: status %d (a server error): %s", what, r.Status, r.Body)
	}
	m := r.JSON()
	if m == nil {
		t.Errorf("%s: body is not a JSON object: %q", what, r.Body)
		return
	}
	if s, _ := m["type"].(string); s == "" {
		t.Errorf("%s: body has no type: %s", what, r.Body)
	}
	if s, _ := m["message"].(string); s == "" {
		t.Errorf("%s: body has no message: %s", what, r.Body)
	}
}
