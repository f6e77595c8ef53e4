package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestTokenRefused: every way a token can be wrong is a 401 in the SDK's shape, with a message
// that says what was wrong.
func TestTokenRefused(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	ok := func(extra jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{"workspaceKey": e.ws.Key, "tenantKey": "t-1", "exp": now.Add(time.Hour).Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	asym := func(m jwt.SigningMethod, key any) string {
		s, err := jwt.NewWithClaims(m, ok(nil)).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	b64 := base64.RawURLEncoding.EncodeToString
	goodPayload := strings.Split(sign(t, jwt.SigningMethodHS256, e.secret, ok(nil)), ".")[1]
	withoutExp := ok(nil)
	delete(withoutExp, "exp")
	huge := sign(t, jwt.SigningMethodHS256, e.secret, ok(jwt.MapClaims{"pad": strings.Repeat("x", 9<<10)}))
	if len(huge) <= 8<<10 {
		t.Fatalf("padded token is only %d bytes", len(huge))
	}

	cases := []struct {
		name   string
		header string // the whole Authorization header; "-" = none
		want   string // in the message, case-insensitive
	}{
		{"no Authorization header", "-", "no token"},
		{"Bearer with empty token", "Bearer ", "no token"},
		{"Bearer with blank token", "Bearer    ", "no token"},
		{"alg none", "Bearer " + rawToken(t, map[string]any{"alg": "none", "typ": "JWT"}, ok(nil), nil, ""), `"none"`},
		{"wrong secret", "Bearer " + sign(t, jwt.SigningMethodHS256, "not-the-secret", ok(nil)), "signature"},
		{"RS256", "Bearer " + asym(jwt.SigningMethodRS256, rsaKey), `"RS256"`},
		{"ES256", "Bearer " + asym(jwt.SigningMethodES256, ecKey), `"ES256"`},
		{"header HS256, signed HS512", "Bearer " + rawToken(t, map[string]any{"alg": "HS256", "typ": "JWT"}, ok(nil), sha512.New, e.secret), "signature"},
		{"unknown workspace", "Bearer " + sign(t, jwt.SigningMethodHS256, e.secret, ok(jwt.MapClaims{"workspaceKey": "nope"})), `unknown workspace "nope"`},
		{"no workspace", "Bearer " + sign(t, jwt.SigningMethodHS256, e.secret, ok(jwt.MapClaims{"workspaceKey": ""})), "no workspace"},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS256, e.secret, ok(jwt.MapClaims{"exp": now.Add(-30 * time.Second).Unix()})), "expired"},
		{"nbf in the future", "Bearer " + sign(t, jwt.SigningMethodHS256, e.secret, ok(jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()})), "not valid yet"},
		{"no exp", "Bearer " + sign(t, jwt.SigningMethodHS256, e.secret, withoutExp), "no exp"},
		{"over 8 KiB", "Bearer " + huge, "larger than"},
		{"header not base64", "Bearer !!!." + goodPayload + ".c2ln", "malformed"},
		{"header not JSON", "Bearer " + b64([]byte("not json")) + "." + goodPayload + ".c2ln", "malformed"},
		{"two segments", "Bearer " + b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + goodPayload, "malformed"},
		{"payload not JSON", "Bearer " + b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64([]byte("[1,")) + ".c2ln", "malformed"},
		{"neither tenant nor isAdmin", "Bearer " + sign(t, jwt.SigningMethodHS256, e.secret, ok(jwt.MapClaims{"tenantKey": ""})), "no tenant"},
		{"isAdmin false and no tenant", "Bearer " + sign(t, jwt.SigningMethodHS256, e.secret, ok(jwt.MapClaims{"tenantKey": "", "isAdmin": false})), "no tenant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := req{Method: "GET", Path: "/api/self"}
			if c.header != "-" {
				r.Header = map[string]string{"Authorization": c.header}
			}
			res := e.do(r)
			if res.Status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", res.Status, res.Body)
			}
			er := res.Err(t)
			if er.Type != "bad_request" || er.Key != "not_authenticated" {
				t.Errorf("type/key = %q/%q, want bad_request/not_authenticated: %s", er.Type, er.Key, res.Body)
			}
			if !strings.Contains(strings.ToLower(er.Message), strings.ToLower(c.want)) {
				t.Errorf("message %q does not say %q", er.Message, c.want)
			}
		})
	}
	// None of the refused tokens may have provisioned a tenant.
	if n := e.count(`SELECT count(*) FROM tenants`); n != 0 {
		t.Errorf("refused tokens created %d tenant(s)", n)
	}
}

// TestTokenAccepted: both claim forms, all three HMAC algorithms; workspace tokens work on the
// workspace's routes and are told that /self needs a tenant.
func TestTokenAccepted(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		method jwt.SigningMethod
		claims jwt.MapClaims
		tenant string
	}{
		{"tenantry HS256", jwt.SigningMethodHS256, jwt.MapClaims{"workspaceKey": e.ws.Key, "tenantKey": "t-256"}, "t-256"},
		{"tenantry HS384", jwt.SigningMethodHS384, jwt.MapClaims{"workspaceKey": e.ws.Key, "tenantKey": "t-384"}, "t-384"},
		{"tenantry HS512", jwt.SigningMethodHS512, jwt.MapClaims{"workspaceKey": e.ws.Key, "tenantKey": "t-512"}, "t-512"},
		{"legacy HS256", jwt.SigningMethodHS256, jwt.MapClaims{"iss": e.ws.Key, "id": "l-256", "iat": time.Now().Unix()}, "l-256"},
		{"legacy HS512", jwt.SigningMethodHS512, jwt.MapClaims{"iss": e.ws.Key, "id": "l-512", "name": "Legacy"}, "l-512"},
		{"exp just past, within leeway", jwt.SigningMethodHS256, jwt.MapClaims{"workspaceKey": e.ws.Key, "tenantKey": "t-leeway", "exp": time.Now().Add(-2 * time.Second).Unix()}, "t-leeway"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := c.claims["exp"]; !ok {
				c.claims["exp"] = exp()
			}
			tok := sign(t, c.method, e.secret, c.claims)
			res := e.do(req{Method: "GET", Path: "/api/self", Token: tok})
			if res.Status != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", res.Status, res.Body)
			}
			m := res.JSON()
			if m["internalId"] != c.tenant || m["workspaceKey"] != e.ws.Key {
				t.Errorf("internalId/workspaceKey = %v/%v, want %s/%s", m["internalId"], m["workspaceKey"], c.tenant, e.ws.Key)
			}
		})
	}

	t.Run("workspace token", func(t *testing.T) {
		for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS512} {
			tok := sign(t, m, e.secret, jwt.MapClaims{"workspaceKey": e.ws.Key, "isAdmin": true, "exp": exp()})
			l := e.must(http.StatusOK, req{Method: "GET", Path: "/api/customers", Token: tok})
			if _, ok := l["items"].([]any); !ok {
				t.Errorf("%s: /api/customers has no items: %v", m.Alg(), l)
			}
			res := e.do(req{Method: "GET", Path: "/api/self", Token: tok})
			if res.Status != http.StatusBadRequest {
				t.Fatalf("%s: /api/self with a workspace token: status %d, want 400: %s", m.Alg(), res.Status, res.Body)
			}
			if er := res.Err(t); er.Type != "bad_request" || !strings.Contains(er.Message, "tenant token") {
				t.Errorf("%s: /api/self error %+v does not say it needs a tenant token", m.Alg(), er)
			}
		}
	})
}

// TestEveryRouteNeedsAToken walks the route table: every route not marked public refuses a
// request without a token, and a public one serves it.
func TestEveryRouteNeedsAToken(t *testing.T) {
	e := newEnv(t)
	a := newAPI(e)
	for _, rt := range a.Routes() {
		path := "/api" + strings.ReplaceAll(rt.Path, "{selector}", "some-tenant")
		res := e.do(req{Method: rt.Method, Path: path})
		if rt.Public {
			if res.Status != http.StatusOK {
				t.Errorf("%s %s (public): status %d, want 200", rt.Method, path, res.Status)
			}
			continue
		}
		if res.Status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: status %d, want 401: %s", rt.Method, path, res.Status, res.Body)
			continue
		}
		if er := res.Err(t); er.Key != "not_authenticated" {
			t.Errorf("%s %s without a token: key %q, want not_authenticated", rt.Method, path, er.Key)
		}
	}
}

// TestProvisionThroughAPI: tenant tokens create and update tenants; unchanged claims write
// nothing; an archived tenant's token is refused; lastActiveAt advances at most once a minute.
func TestProvisionThroughAPI(t *testing.T) {
	e := newEnv(t)
	self := func(tok string) customer {
		t.Helper()
		return e.customerOf(http.StatusOK, req{Method: "GET", Path: "/api/self", Token: tok})
	}
	activity := func(internalID string) int {
		return e.count(`SELECT count(*) FROM activity_log a JOIN tenants t ON t.workspace_id = a.workspace_id AND t.id = a.tenant_id
			WHERE t.internal_id = $1`, internalID)
	}

	t.Run("create and update", func(t *testing.T) {
		c := self(e.tenantToken("p-new", jwt.MapClaims{"name": "New Co", "fields": map[string]any{"a": 1, "b": 2}}))
		if c.Name != "New Co" || c.InternalID != "p-new" || c.Fields["a"] != 1.0 || c.Fields["b"] != 2.0 {
			t.Fatalf("created %+v", c)
		}
		if c := self(e.tenantToken("p-noname", nil)); c.Name != "p-noname" {
			t.Errorf("a token without a name made a tenant named %q, want its internalId", c.Name)
		}
		// Same API (its provisioner remembers the old claims): changed claims still apply.
		c = self(e.tenantToken("p-new", jwt.MapClaims{"name": "New Co", "fields": map[string]any{"b": 3, "c": 4}}))
		if want := map[string]any{"a": 1.0, "b": 3.0, "c": 4.0}; !equalJSON(c.Fields, want) {
			t.Errorf("fields %v, want %v", c.Fields, want)
		}
		if c = self(e.tenantToken("p-new", jwt.MapClaims{"name": "Renamed", "fields": map[string]any{"b": 3, "c": 4}})); c.Name != "Renamed" {
			t.Errorf("name %q after a token named Renamed", c.Name)
		}
	})

	t.Run("unchanged claims write nothing", func(t *testing.T) {
		claims := jwt.MapClaims{"name": "Quiet", "fields": map[string]any{"plan": "pro"}}
		self(e.tenantToken("p-quiet", claims))
		before, acts := e.row(e.ws.ID, "p-quiet"), activity("p-quiet")
		for range 2 {
			e.restart() // nothing remembered: the provisioner must read and compare
			self(e.tenantToken("p-quiet", claims))
			if after := e.row(e.ws.ID, "p-quiet"); after != before || activity("p-quiet") != acts {
				t.Fatalf("unchanged claims wrote:\nbefore %s (%d log rows)\nafter  %s (%d log rows)", before, acts, after, activity("p-quiet"))
			}
		}
		e.restart()
		self(e.tenantToken("p-quiet", jwt.MapClaims{"name": "Loud", "fields": map[string]any{"plan": "pro"}}))
		if after := e.row(e.ws.ID, "p-quiet"); after == before || activity("p-quiet") != acts+1 {
			t.Errorf("a changed name left the row as it was or logged nothing: %s", after)
		}
	})

	t.Run("archived tenant", func(t *testing.T) {
		tok := e.tenantToken("p-archived", nil)
		c := self(tok)
		e.must(http.StatusOK, req{Method: "DELETE", Path: "/api/customers/" + c.ID, Token: e.adminToken()})
		res := e.do(req{Method: "GET", Path: "/api/self", Token: tok})
		if res.Status != http.StatusForbidden {
			t.Fatalf("archived tenant's token: status %d, want 403: %s", res.Status, res.Body)
		}
		if er := res.Err(t); er.Type != "bad_request" || er.Key != "access_denied" || !strings.Contains(er.Message, "archived") {
			t.Errorf("archived tenant's token: %+v, want access_denied saying it is archived", er)
		}
		e.must(http.StatusOK, req{Method: "POST", Path: "/api/customers/" + c.ID + "/restore", Token: e.adminToken()})
		self(tok)
	})

	t.Run("lastActiveAt", func(t *testing.T) {
		tok := e.tenantToken("p-active", nil)
		self(tok)
		e.exec(`UPDATE tenants SET last_active_at = now() - interval '2 minutes' WHERE internal_id = 'p-active'`)
		var stale time.Time
		if err := e.db.SQL().Get(&stale, `SELECT last_active_at FROM tenants WHERE internal_id = 'p-active'`); err != nil {
			t.Fatal(err)
		}
		e.restart()
		c := self(tok)
		if c.LastActiveAt == nil || !c.LastActiveAt.After(stale.Add(time.Minute)) {
			t.Fatalf("lastActiveAt %v after a request on a tenant last active at %v: did not advance", c.LastActiveAt, stale)
		}
		touched := e.row(e.ws.ID, "p-active")
		e.restart()
		if again := self(tok); again.LastActiveAt == nil || !again.LastActiveAt.Equal(*c.LastActiveAt) {
			t.Errorf("lastActiveAt moved again within the minute: %v → %v", c.LastActiveAt, again.LastActiveAt)
		}
		if again := e.row(e.ws.ID, "p-active"); again != touched {
			t.Errorf("a second request within the minute wrote:\n%s\n%s", touched, again)
		}
	})
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
