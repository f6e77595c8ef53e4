package api_test

// Request rate limits (Settings > Limits) through the API: per tenant, per workspace, the
// headers, and a refused request changing nothing.

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// setLimits sets the workspace's request limits (nil = none) and serves a fresh API, whose token
// verifier has not cached the old settings.
func setLimits(e *env, perTenant, perWorkspace *int) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		return tx.UpdateWorkspaceSettings(ctx, func(s *tenancy.Settings) error {
			s.APIRequestsPerMinutePerTenant, s.APIRequestsPerMinutePerWorkspace = perTenant, perWorkspace
			return nil
		})
	}); err != nil {
		e.t.Fatalf("set limits: %v", err)
	}
	e.restart()
}

func intp(n int) *int { return &n }

// freshMinute waits, when the current one-minute window ends within the next 15 s, for the next
// one: a test's requests must fall in one window.
func freshMinute(t *testing.T) {
	t.Helper()
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 15*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
}

// rateHeaders checks the X-RateLimit headers of a response.
func rateHeaders(t *testing.T, what string, r *resp, limit, remaining int) {
	t.Helper()
	if got := r.Header.Get("X-RateLimit-Limit"); got != strconv.Itoa(limit) {
		t.Errorf("%s: X-RateLimit-Limit %q, want %d", what, got, limit)
	}
	if got := r.Header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(remaining) {
		t.Errorf("%s: X-RateLimit-Remaining %q, want %d", what, got, remaining)
	}
	reset, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	windowEnd := time.Now().Truncate(time.Minute).Add(time.Minute).Unix()
	if err != nil || reset < windowEnd-1 || reset > windowEnd+60 || reset%60 != 0 {
		t.Errorf("%s: X-RateLimit-Reset %q, want the window's end (%d)", what, r.Header.Get("X-RateLimit-Reset"), windowEnd)
	}
}

// TestRateLimitPerTenant: with 5 requests a minute per tenant, a tenant's 6th request is refused
// with 429 and the headers, and changes nothing; another tenant and workspace tokens are not
// affected; public routes are not counted.
func TestRateLimitPerTenant(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.createCustomer(map[string]any{"internalId": "acme", "name": "Acme"})
	e.createCustomer(map[string]any{"internalId": "globex", "name": "Globex"})
	acme, globex := e.tenantToken("acme", nil), e.tenantToken("globex", nil)
	// No limit: no headers.
	if r := e.do(req{Method: "GET", Path: "/api/self", Token: acme}); r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("without limits: %d, X-RateLimit-Limit %q", r.Status, r.Header.Get("X-RateLimit-Limit"))
	}
	setLimits(e, intp(5), nil)
	freshMinute(t)

	for i := 1; i <= 5; i++ {
		r := e.do(req{Method: "GET", Path: "/api/self", Token: acme})
		if r.Status != 200 {
			t.Fatalf("acme's request %d: %d %s", i, r.Status, r.Body)
		}
		rateHeaders(t, "acme's request "+strconv.Itoa(i), r, 5, 5-i)
		if r.Header.Get("Retry-After") != "" {
			t.Errorf("an allowed request has Retry-After")
		}
	}
	// Public routes are not counted (and carry no headers).
	for range 3 {
		if r := e.do(req{Method: "GET", Path: "/api/openapi.json", Token: acme}); r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("openapi.json: %d, X-RateLimit-Limit %q", r.Status, r.Header.Get("X-RateLimit-Limit"))
		}
	}
	// The 6th, a write: refused before it does anything.
	r := e.do(req{Method: "PATCH", Path: "/api/self", Token: acme, Body: map[string]any{"name": "Renamed"}})
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("acme's 6th request: %d %s", r.Status, r.Body)
	}
	sane(t, "429", r)
	if er := r.Err(t); er.Type != "bad_request" || er.Key != "rate_limit_exceeded" {
		t.Errorf("429 body: %s", r.Body)
	}
	rateHeaders(t, "the 6th request", r, 5, 0)
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q, want 1–60 s", r.Header.Get("Retry-After"))
	}
	if c := e.customerOf(200, req{Method: "GET", Path: "/api/customers/acme", Token: admin}); c.Name != "Acme" {
		t.Errorf("the refused PATCH renamed the tenant to %q", c.Name)
	}
	// Still refused.
	if r := e.do(req{Method: "GET", Path: "/api/self", Token: acme}); r.Status != http.StatusTooManyRequests {
		t.Errorf("acme's 7th request: %d", r.Status)
	}
	// Another tenant has its own count; a workspace token is not counted per tenant.
	for i := 1; i <= 5; i++ {
		r := e.do(req{Method: "GET", Path: "/api/self", Token: globex})
		if r.Status != 200 {
			t.Fatalf("globex's request %d: %d %s", i, r.Status, r.Body)
		}
		rateHeaders(t, "globex's request "+strconv.Itoa(i), r, 5, 5-i)
	}
	for range 8 {
		if r := e.do(req{Method: "GET", Path: "/api/customers", Token: admin}); r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("workspace token with a per-tenant limit only: %d, X-RateLimit-Limit %q", r.Status, r.Header.Get("X-RateLimit-Limit"))
		}
	}
	// A bad token is refused before it is counted.
	if r := e.do(req{Method: "GET", Path: "/api/self", Token: "nonsense"}); r.Status != http.StatusUnauthorized {
		t.Errorf("bad token: %d", r.Status)
	}
}

// TestRateLimitPerWorkspace: the workspace's limit is shared by all its tenants and workspace
// tokens; a request the tenant's limit refuses does not use it up; another workspace is not
// affected.
func TestRateLimitPerWorkspace(t *testing.T) {
	e := newEnv(t)
	admin := e.adminToken()
	e.createCustomer(map[string]any{"internalId": "acme", "name": "Acme"})
	e.createCustomer(map[string]any{"internalId": "globex", "name": "Globex"})
	acme, globex := e.tenantToken("acme", nil), e.tenantToken("globex", nil)
	ws2, secret2 := e.workspace("w2")
	other := workspaceToken(t, ws2.Key, secret2)
	setLimits(e, intp(4), intp(10))
	freshMinute(t)

	status := func(tok string) *resp { return e.do(req{Method: "GET", Path: "/api/self", Token: tok}) }
	// acme: 4 allowed by its own limit, then refused by it — those refusals do not count
	// against the workspace.
	for i := 1; i <= 4; i++ {
		if r := status(acme); r.Status != 200 {
			t.Fatalf("acme %d: %d", i, r.Status)
		}
	}
	for range 3 {
		if r := status(acme); r.Status != http.StatusTooManyRequests {
			t.Fatalf("acme over its limit: %d", r.Status)
		}
	}
	// globex: 4 more (8 in the workspace); the headers report the tighter limit.
	for i := 1; i <= 4; i++ {
		r := status(globex)
		if r.Status != 200 {
			t.Fatalf("globex %d: %d", i, r.Status)
		}
		rateHeaders(t, "globex "+strconv.Itoa(i), r, 4, 4-i)
	}
	// A workspace token uses the shared count: 9, 10 pass, the 11th is refused.
	for i := 9; i <= 10; i++ {
		r := e.do(req{Method: "GET", Path: "/api/customers", Token: admin})
		if r.Status != 200 {
			t.Fatalf("workspace request %d: %d", i, r.Status)
		}
		rateHeaders(t, "workspace request "+strconv.Itoa(i), r, 10, 10-i)
	}
	r := e.do(req{Method: "GET", Path: "/api/customers", Token: admin})
	if r.Status != http.StatusTooManyRequests || r.Err(t).Key != "rate_limit_exceeded" {
		t.Fatalf("the workspace's 11th request: %d %s", r.Status, r.Body)
	}
	rateHeaders(t, "the workspace's 11th request", r, 10, 0)
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// A tenant with none of its own limit used is refused by the workspace's.
	if r := status(e.tenantToken("initech", nil)); r.Status != http.StatusTooManyRequests {
		t.Errorf("a fresh tenant in a full workspace: %d", r.Status)
	}
	// Another workspace has its own (no) limits.
	if r := e.do(req{Method: "GET", Path: "/api/customers", Token: other}); r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "" {
		t.Errorf("another workspace: %d, X-RateLimit-Limit %q", r.Status, r.Header.Get("X-RateLimit-Limit"))
	}
}
