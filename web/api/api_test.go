package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"tenantry/web/api"
)

// TestBadInput: every malformed request is a 4xx in the SDK's error shape that says what to
// fix, never a 5xx.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	tenant := e.tenantToken("bad-input", nil)
	e.createCustomer(map[string]any{"internalId": "existing"})
	big := make([]byte, api.MaxBodyBytes+1)
	copy(big, `{"name":"`)
	for i := 9; i < len(big); i++ {
		big[i] = 'a'
	}

	cases := []struct {
		name        string
		method      string
		path        string
		token       string
		contentType string // "" = application/json
		body        string
		status      int
		key         string // "" = any
		field       string // a field path the error must name, "" = none required
	}{
		{"malformed JSON", "POST", "/api/customers", admin, "", `{"name": "x",`, 400, "malformed_json", ""},
		{"syntax error", "POST", "/api/customers", admin, "", `{"name" "x"}`, 400, "malformed_json", ""},
		{"array body", "POST", "/api/customers", admin, "", `[{"internalId":"arr"}]`, 400, "malformed_json", ""},
		{"string body", "PATCH", "/api/self", tenant, "", `"hello"`, 400, "malformed_json", ""},
		{"trailing data", "POST", "/api/customers", admin, "", `{"internalId":"t1"} {"internalId":"t2"}`, 400, "malformed_json", ""},
		{"unknown field", "POST", "/api/customers", admin, "", `{"internalId":"u","nmae":"typo"}`, 422, "validation_error", "nmae"},
		{"unknown field on /self", "PATCH", "/api/self", tenant, "", `{"bogus":1}`, 422, "validation_error", "bogus"},
		{"name is a number", "POST", "/api/customers", admin, "", `{"internalId":"w","name":5}`, 422, "validation_error", "name"},
		{"fields is a string", "PATCH", "/api/customers/existing", admin, "", `{"fields":"x"}`, 422, "validation_error", "fields"},
		{"isTest is a string", "PATCH", "/api/customers/existing", admin, "", `{"isTest":"yes"}`, 422, "validation_error", "isTest"},
		{"name null", "PATCH", "/api/customers/existing", admin, "", `{"name":null}`, 422, "validation_error", "name"},
		{"body over 10 MiB", "POST", "/api/customers", admin, "", string(big), 413, "", ""},
		{"text/plain body", "POST", "/api/customers", admin, "text/plain", `{"internalId":"tp"}`, 415, "", ""},
		{"form body", "PATCH", "/api/self", tenant, "application/x-www-form-urlencoded", `name=x`, 415, "", ""},
		{"invalid UTF-8", "POST", "/api/customers", admin, "", "{\"internalId\":\"bad-\xff\xfe\"}", 400, "malformed_json", ""},
		{"internalId missing", "POST", "/api/customers", admin, "", `{"name":"no id"}`, 422, "validation_error", "internalId"},
		{"internalId of 300 characters", "POST", "/api/customers", admin, "", `{"internalId":"` + strings.Repeat("x", 300) + `"}`, 422, "validation_error", "internalId"},
		{"name of 501 characters", "POST", "/api/customers", admin, "", `{"internalId":"long-name","name":"` + strings.Repeat("n", 501) + `"}`, 422, "validation_error", "name"},
		{"negative credit limit", "POST", "/api/customers", admin, "", `{"internalId":"neg","aiCreditsRolling30DayLimit":-1}`, 422, "validation_error", "aiCreditsRolling30DayLimit"},
		{"negative credit limit on PATCH", "PATCH", "/api/customers/existing", admin, "", `{"aiCreditsRolling30DayLimit":-0.5}`, 422, "validation_error", "aiCreditsRolling30DayLimit"},
		{"NUL in internalId", "POST", "/api/customers", admin, "", `{"internalId":"a\u0000b"}`, 0, "", ""},
		{"NUL in name", "POST", "/api/customers", admin, "", `{"internalId":"nul-name","name":"a\u0000b"}`, 0, "", ""},
		{"NUL in a field value", "PATCH", "/api/customers/existing", admin, "", `{"fields":{"k":"a\u0000b"}}`, 0, "", ""},
		{"NUL in a selector", "GET", "/api/customers/a%00b", admin, "", "", 0, "", ""},
		{"NUL in search", "GET", "/api/customers?search=a%00b", admin, "", "", 0, "", ""},
		{"NUL in a token's tenant key", "GET", "/api/self", e.tenantToken("a\x00b", nil), "", "", 0, "", ""},
		{"NUL in a token's name", "GET", "/api/self", e.tenantToken("nul-claim", jwt.MapClaims{"name": "a\x00b"}), "", "", 0, "", ""},
		{"unknown path", "GET", "/api/no-such-thing", admin, "", "", 404, "not_found", ""},
		{"unknown path, no token", "GET", "/api/no-such-thing", "", "", "", 404, "not_found", ""},
		{"unknown sub-path", "GET", "/api/customers/existing/nope", admin, "", "", 404, "not_found", ""},
		{"unknown method", "POST", "/api/self", tenant, "", `{}`, 404, "not_found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := req{Method: c.method, Path: c.path, Token: c.token}
			if c.body != "" {
				r.Body = c.body
			}
			if c.contentType != "" {
				r.Header = map[string]string{"Content-Type": c.contentType}
			}
			res := e.do(r)
			sane(t, c.method+" "+c.path, res)
			if c.status == 0 { // any 4xx
				if res.Status < 400 || res.Status >= 500 {
					t.Errorf("status %d, want a 4xx: %s", res.Status, res.Body)
				}
				return
			}
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %.300s", res.Status, c.status, res.Body)
			}
			er := res.Err(t)
			if er.Type != "bad_request" {
				t.Errorf("type %q, want bad_request", er.Type)
			}
			if c.key != "" && er.Key != c.key {
				t.Errorf("key %q, want %q: %s", er.Key, c.key, res.Body)
			}
			if c.field != "" {
				if !slices.Contains(er.paths(), c.field) {
					t.Errorf("fields %v do not name %s: %s", er.paths(), c.field, res.Body)
				}
				if !strings.Contains(er.Message, c.field) {
					t.Errorf("message %q does not name %s", er.Message, c.field)
				}
			}
		})
	}
	// None of the refused creations happened.
	if n := e.count(`SELECT count(*) FROM tenants WHERE internal_id <> ALL ('{existing,bad-input}')`); n != 0 {
		t.Errorf("refused requests created %d tenant(s)", n)
	}
}

// TestAcceptedBodies: the content types and empty bodies the SDK sends are accepted.
func TestAcceptedBodies(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "application/merge-patch+json", ""} {
		id := fmt.Sprintf("ct-%d", i)
		r := req{Method: "POST", Path: "/api/customers", Token: admin, Body: `{"internalId":"` + id + `"}`}
		r.Header = map[string]string{"Content-Type": ct}
		res := e.do(r)
		if res.Status != http.StatusCreated {
			t.Errorf("Content-Type %q: status %d: %s", ct, res.Status, res.Body)
		}
	}
	// Empty POST and PATCH bodies with the SDK's form content type read as {}.
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "0"}
	e.must(http.StatusOK, req{Method: "PATCH", Path: "/api/customers/ct-0", Token: admin, Body: "", Header: form})
	res := e.do(req{Method: "POST", Path: "/api/customers", Token: admin, Body: "", Header: form})
	if res.Status != http.StatusUnprocessableEntity || !slices.Contains(res.Err(t).paths(), "internalId") {
		t.Errorf("empty POST /api/customers: status %d, want 422 on internalId: %s", res.Status, res.Body)
	}
}

// TestCORS: preflights are answered for any origin; real requests only from the workspace's
// allowed origins; credentials are never allowed.
func TestCORS(t *testing.T) {
	e := newEnv(t)
	tok := e.tenantToken("cors", nil)
	noCredentials := func(t *testing.T, what string, r *resp) {
		t.Helper()
		if v, ok := r.Header["Access-Control-Allow-Credentials"]; ok {
			t.Errorf("%s: Access-Control-Allow-Credentials: %v", what, v)
		}
	}

	pre := e.do(req{Method: "OPTIONS", Path: "/api/self", Header: map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "PATCH",
		"Access-Control-Request-Headers": "authorization, content-type, membrane-api-version"}})
	if pre.Status != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("preflight: status %d, ACAO %q", pre.Status, pre.Header.Get("Access-Control-Allow-Origin"))
	}
	for _, h := range []string{"authorization", "content-type", "membrane-api-version"} {
		if !strings.Contains(strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), h) {
			t.Errorf("preflight does not allow header %s: %q", h, pre.Header.Get("Access-Control-Allow-Headers"))
		}
	}
	if !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "PATCH") {
		t.Errorf("preflight does not allow PATCH: %q", pre.Header.Get("Access-Control-Allow-Methods"))
	}
	noCredentials(t, "preflight", pre)

	origin := map[string]string{"Origin": "https://app.example"}
	res := e.do(req{Method: "GET", Path: "/api/self", Token: tok, Header: origin})
	if res.Status != http.StatusForbidden || res.Err(t).Key != "access_denied" || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from an origin not allowed: status %d, ACAO %q: %s", res.Status, res.Header.Get("Access-Control-Allow-Origin"), res.Body)
	}
	noCredentials(t, "refused origin", res)
	// Without an Origin (a server calling) it is fine.
	e.must(http.StatusOK, req{Method: "GET", Path: "/api/self", Token: tok})

	e.exec(`UPDATE workspaces SET settings = '{"allowedOrigins":["https://app.example"]}' WHERE id = $1`, e.ws.ID)
	e.restart()
	res = e.do(req{Method: "GET", Path: "/api/self", Token: tok, Header: origin})
	if res.Status != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("GET from an allowed origin: status %d, ACAO %q: %s", res.Status, res.Header.Get("Access-Control-Allow-Origin"), res.Body)
	}
	noCredentials(t, "allowed origin", res)
	res = e.do(req{Method: "GET", Path: "/api/self", Token: tok, Header: map[string]string{"Origin": "https://evil.example"}})
	if res.Status != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from another origin with an allow list: status %d, ACAO %q", res.Status, res.Header.Get("Access-Control-Allow-Origin"))
	}
	noCredentials(t, "other origin", res)
}

// TestOpenAPI: the description is public, is OpenAPI 3.1, and describes exactly the route table.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t)
	res := e.do(req{Method: "GET", Path: "/api/openapi.json"})
	if res.Status != http.StatusOK {
		t.Fatalf("GET /api/openapi.json without a token: status %d", res.Status)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}

	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}
	described := map[string]bool{}
	for path, item := range doc.Paths {
		for m := range item {
			if methods[m] {
				described[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	for _, rt := range newAPI(e).Routes() {
		routed[strings.ToUpper(rt.Method)+" "+rt.Path] = true
	}
	var undocumented, unrouted []string
	for r := range routed {
		if !described[r] {
			undocumented = append(undocumented, r)
		}
	}
	for d := range described {
		if !routed[d] {
			unrouted = append(unrouted, d)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unrouted)
	if len(undocumented) > 0 {
		t.Errorf("routes missing from openapi.json (%d):\n  %s", len(undocumented), strings.Join(undocumented, "\n  "))
	}
	if len(unrouted) > 0 {
		t.Errorf("openapi.json describes routes the API does not serve (%d):\n  %s", len(unrouted), strings.Join(unrouted, "\n  "))
	}
}
