package web

// GET /metrics scraped from a real server after real requests: request counters by route
// pattern, run outcomes, limit refusals, the database pool, the token, and labels that never
// carry an id or a tenant key.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"tenantry/internal/auth"
	"tenantry/internal/config"
	"tenantry/internal/metrics"
	"tenantry/internal/secrets"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// scrape is one parsed GET /metrics.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads /metrics from base (with a bearer token when given) and parses it.
func scrapeMetrics(t *testing.T, base, token string) scrape {
	t.Helper()
	status, body := mcall(t, base, "GET", "/metrics", token, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("GET /metrics: not the text format: %v\n%s", err, body)
	}
	return fams
}

// value is the counter, gauge or histogram-count value of the series of family name whose labels
// include want (0 when there is no such series; NaN when several match).
func (s scrape) value(name string, want map[string]string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	found, v := 0, 0.0
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, val := range want {
			if labels[k] != val {
				match = false
			}
		}
		if !match {
			continue
		}
		found++
		switch {
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Histogram != nil:
			v = float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v = m.Untyped.GetValue()
		}
	}
	if found > 1 {
		return math.NaN()
	}
	return v
}

// has reports whether family name has a series with labels including want.
func (s scrape) has(name string, want map[string]string) bool {
	f := s[name]
	if f == nil {
		return false
	}
	for _, m := range f.GetMetric() {
		ok := true
		for k, val := range want {
			seen := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == val {
					seen = true
				}
			}
			ok = ok && seen
		}
		if ok {
			return true
		}
	}
	return false
}

// call sends one request with an optional bearer token and JSON body and reads the answer.
func mcall(t *testing.T, base, method, path, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// must sends a request and fails unless it is answered want; it returns the body's JSON object.
func mmust(t *testing.T, base string, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	status, b := mcall(t, base, method, path, token, body)
	if status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, b)
	}
	var out map[string]any
	_ = json.Unmarshal([]byte(b), &out)
	return out
}

// demoTokens signs a workspace token and a tenant token (for tenantKey) of the demo workspace.
func mtokens(t *testing.T, db *store.DB, tenantKey string) (admin, tenant string) {
	t.Helper()
	wa, err := db.LookupWorkspaceByKey(context.Background(), seed.WorkspaceKey)
	if err != nil {
		t.Fatal(err)
	}
	admin, err = auth.Sign(wa.Secret, seed.WorkspaceKey, "", "", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tenant, err = auth.Sign(wa.Secret, seed.WorkspaceKey, tenantKey, "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return admin, tenant
}

// setSettings changes the demo workspace's settings directly (before the server has cached them).
func msettings(t *testing.T, e *testEnv, change func(*tenancy.Settings)) {
	t.Helper()
	ctx := context.Background()
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		return tx.UpdateWorkspaceSettings(ctx, func(s *tenancy.Settings) error { change(s); return nil })
	}); err != nil {
		t.Fatal(err)
	}
}

var muuidRe = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// checkLabels fails when any label value of any series holds a UUID or one of the words
// (tenant keys, workspace keys, ids the requests used).
func checkLabels(t *testing.T, s scrape, words ...string) {
	t.Helper()
	for name, f := range s {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				if muuidRe.MatchString(v) {
					t.Errorf("%s{%s=%q}: a label holds a UUID", name, l.GetName(), v)
				}
				for _, w := range words {
					if strings.Contains(v, w) {
						t.Errorf("%s{%s=%q}: a label holds %q", name, l.GetName(), v, w)
					}
				}
			}
		}
	}
}

const mreqs = "tenantry_http_requests_total"

func mseries(surface, method, route, code string) map[string]string {
	m := map[string]string{"surface": surface, "method": method, "route": route}
	if code != "" {
		m["code"] = code
	}
	return m
}

// TestMetricsRequests: each request is counted once under the route pattern that served it and
// its status code, timed under its pattern, and nothing else moves; unmatched paths are
// "unmatched"; the database pool, Go and process collectors are there; no label holds an id.
func TestMetricsRequests(t *testing.T) {
	e := newTestEnv(t, nil)
	base := e.ts.URL
	admin, acme := mtokens(t, e.db, "acme")
	ghost := uuid.NewString()

	before := scrapeMetrics(t, base, "")
	for i := 0; i < 3; i++ {
		mmust(t, base, 200, "GET", "/api/self", acme, nil)
	}
	mmust(t, base, 200, "GET", "/api/customers/acme", admin, nil)
	mmust(t, base, 200, "GET", "/api/customers/globex", admin, nil)
	mmust(t, base, 404, "GET", "/api/customers/"+ghost, admin, nil)
	mmust(t, base, 404, "GET", "/api/no-such-thing/"+ghost, admin, nil)
	mmust(t, base, 401, "GET", "/api/self", "", nil)
	mmust(t, base, 404, "GET", "/no-such-page/"+ghost, "", nil)
	mmust(t, base, 200, "GET", "/signin", "", nil)
	mmust(t, base, 200, "GET", "/healthz", "", nil)
	// The portal's own mux sets the pattern (no tag): a request without a session is refused,
	// and counted under its route all the same.
	pStatus, _ := mcall(t, base, "GET", "/portal/activity/"+ghost, "", nil)
	// A method no route has: the method label must not be the client's word.
	fStatus, _ := mcall(t, base, "FROBNICATE", "/api/self", acme, nil)
	after := scrapeMetrics(t, base, "")

	delta := func(name string, labels map[string]string) float64 {
		return after.value(name, labels) - before.value(name, labels)
	}
	checks := []struct {
		labels map[string]string
		want   float64
	}{
		{mseries("api", "GET", "/api/self", "200"), 3},
		{mseries("api", "GET", "/api/self", "401"), 1},
		{mseries("api", "GET", "/api/customers/{selector}", "200"), 2},
		{mseries("api", "GET", "/api/customers/{selector}", "404"), 1},
		{mseries("api", "GET", "unmatched", "404"), 1},
		{mseries("console", "GET", "unmatched", "404"), 1},
		{mseries("console", "GET", "/signin", "200"), 1},
		{mseries("system", "GET", "/healthz", "200"), 1},
		{mseries("portal", "GET", "/portal/activity/{id}", fmt.Sprint(pStatus)), 1},
		{mseries("api", "other", "unmatched", fmt.Sprint(fStatus)), 1},
	}
	for _, c := range checks {
		if got := delta(mreqs, c.labels); got != c.want {
			t.Errorf("%s%v: +%v, want +%v", mreqs, c.labels, got, c.want)
		}
	}
	// Every request counted once: the sum over all series moved by what was sent (the first
	// scrape itself is counted after it was read, so it adds one /metrics request).
	var sum = func(s scrape) (n float64) {
		for _, m := range s[mreqs].GetMetric() {
			n += m.Counter.GetValue()
		}
		return n
	}
	if got := sum(after) - sum(before); got != 14 {
		t.Errorf("all requests: +%v, want +14 (13 sent and the first scrape)", got)
	}
	// The latency histogram has one observation per request, under the pattern.
	const lat = "tenantry_http_request_duration_seconds"
	if got := delta(lat, mseries("api", "GET", "/api/customers/{selector}", "")); got != 3 {
		t.Errorf("%s for /api/customers/{selector}: +%v observations, want +3", lat, got)
	}
	if got := delta(lat, mseries("api", "GET", "/api/self", "")); got != 4 {
		t.Errorf("%s for /api/self: +%v observations, want +4", lat, got)
	}
	// A route never used has no series at all (series appear on first use).
	if after.has(mreqs, map[string]string{"route": "/api/flow-runs/{id}/output"}) {
		t.Errorf("an unused route has a series")
	}

	// The database pool, the runtime and the process.
	for _, name := range []string{"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections",
		"go_sql_max_open_connections", "go_sql_wait_count_total"} {
		if !after.has(name, map[string]string{"db_name": "primary"}) {
			t.Errorf("no %s{db_name=primary}", name)
		}
	}
	if after.value("go_sql_max_open_connections", map[string]string{"db_name": "primary"}) <= 0 {
		t.Errorf("go_sql_max_open_connections is not the pool's cap")
	}
	if after.value("go_sql_open_connections", map[string]string{"db_name": "primary"}) < 1 {
		t.Errorf("go_sql_open_connections: the pool has served requests, yet shows no connection")
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "process_open_fds"} {
		if after[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	checkLabels(t, after, ghost, "acme", "globex", seed.WorkspaceKey, "FROBNICATE")
}

// TestMetricsToken: with TENANTRY_METRICS_TOKEN set, /metrics answers 401 (a JSON error and
// nothing of the metrics) without the token or with a wrong one, and the metrics with it.
func TestMetricsToken(t *testing.T) {
	const token = "metrics-token-4f1c9a"
	e := newTestEnv(t, map[string]string{"TENANTRY_METRICS_TOKEN": token})
	base := e.ts.URL
	for _, tc := range []struct{ what, header string }{
		{"no header", ""},
		{"wrong token", "Bearer " + token + "x"},
		{"prefix of the token", "Bearer " + token[:len(token)-1]},
		{"empty bearer", "Bearer "},
		{"basic auth", "Basic " + token},
		{"token without scheme", token},
	} {
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tc.what, resp.StatusCode)
		}
		var e struct{ Type, Key, Message string }
		if err := json.Unmarshal(b, &e); err != nil || e.Type == "" || e.Key == "" || e.Message == "" {
			t.Errorf("%s: not a JSON error: %s", tc.what, b)
		}
		for _, leak := range []string{"tenantry_", "go_", "process_", "# HELP", token} {
			if strings.Contains(string(b), leak) {
				t.Errorf("%s: the 401 body holds %q: %s", tc.what, leak, b)
			}
		}
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", tc.what)
		}
	}
	s := scrapeMetrics(t, base, token)
	// The refused scrapes were counted (as 401s on /metrics) and the token is no label.
	if got := s.value(mreqs, mseries("system", "GET", "/metrics", "401")); got != 6 {
		t.Errorf("/metrics 401s: %v, want 6", got)
	}
	checkLabels(t, s, token)
}

// TestMetricsRunsAndLimits: action runs by outcome (succeeded, failed, refused by the AI credit
// limit), a flow run queued, claimed and finished, and rate-limit refusals, all through the real
// API against a real upstream on 127.0.0.1.
func TestMetricsRunsAndLimits(t *testing.T) {
	e := newTestEnv(t, nil)
	base := e.ts.URL
	// The workspace's AI credit limit is 1: an action costing 5 is always refused.
	msettings(t, e, func(s *tenancy.Settings) { one := 1.0; s.AICreditsRolling30DayLimit = &one })
	admin, tok := mtokens(t, e.db, "metrics-tenant")

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()

	mmust(t, base, 200, "GET", "/api/self", tok, nil) // creates the tenant
	mmust(t, base, 201, "POST", "/api/integrations", admin, map[string]any{"key": "mcrm", "name": "M CRM", "baseUri": up.URL + "/api", "authType": "bearer"})
	conn := mmust(t, base, 201, "POST", "/api/connections", admin, map[string]any{"integrationKey": "mcrm", "tenantId": "metrics-tenant",
		"name": "main", "key": "main", "credentials": map[string]any{"accessToken": "t0k3n-value"}})
	connID, _ := conn["id"].(string)
	for key, cfg := range map[string]map[string]any{
		"ok":      {"method": "GET", "path": "/ok"},
		"broken":  {"method": "GET", "path": "/fail"},
		"pricey":  {"method": "GET", "path": "/ok", "credits": 5},
		"outside": {"method": "GET", "path": "http://127.0.0.1:1/elsewhere"},
	} {
		mmust(t, base, 201, "POST", "/api/actions", admin, map[string]any{"key": key, "name": key, "integrationKey": "mcrm", "type": "http-request", "config": cfg})
	}
	mmust(t, base, 201, "POST", "/api/flows", admin, map[string]any{"key": "twice", "name": "twice", "integrationKey": "mcrm",
		"config": map[string]any{"steps": []any{map[string]any{"key": "a", "action": "ok"}, map[string]any{"key": "b", "action": "ok"}}}})

	before := scrapeMetrics(t, base, "")
	run := func(action string, want int) {
		t.Helper()
		mmust(t, base, want, "POST", "/api/connections/"+connID+"/actions/"+action+"/run", tok, map[string]any{})
	}
	run("ok", 200)
	run("ok", 200)
	run("broken", 502)
	run("pricey", 429)
	run("outside", 422)        // the host rule refuses it before any request leaves
	run("no-such-action", 404) // not a run: nothing to count

	// A flow run: queued here, claimed and run by a worker of this server.
	mmust(t, base, 201, "POST", "/api/connections/"+connID+"/flows/twice/run", tok, map[string]any{})
	ctx, cancel := context.WithCancel(context.Background())
	wait := e.srv.api.Runner().Work(ctx, 1)
	defer func() { cancel(); wait() }()
	var after scrape
	for deadline := time.Now().Add(30 * time.Second); ; {
		after = scrapeMetrics(t, base, "")
		if after.value("tenantry_flow_runs_total", map[string]string{"outcome": "succeeded"}) >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// One scrape is no snapshot (collectors are read one after another): a scrape begun after
	// the flow's end was seen sees everything that came before it.
	after = scrapeMetrics(t, base, "")
	delta := func(name string, labels map[string]string) float64 {
		return after.value(name, labels) - before.value(name, labels)
	}
	// The flow's two steps are action runs too.
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"tenantry_action_runs_total", map[string]string{"outcome": "succeeded"}, 4},
		{"tenantry_action_runs_total", map[string]string{"outcome": "failed"}, 1},
		{"tenantry_action_runs_total", map[string]string{"outcome": "refused"}, 2},
		{"tenantry_ai_credit_refusals_total", map[string]string{"scope": "workspace"}, 1},
		{"tenantry_ai_credit_refusals_total", map[string]string{"scope": "tenant"}, 0},
		{"tenantry_flow_runs_queued_total", nil, 1},
		{"tenantry_flow_run_claims_total", nil, 1},
		{"tenantry_flow_runs_total", map[string]string{"outcome": "succeeded"}, 1},
		{"tenantry_flow_runs_total", map[string]string{"outcome": "failed"}, 0},
		{mreqs, mseries("api", "POST", "/api/connections/{selector}/actions/{key}/run", "200"), 2},
		{mreqs, mseries("api", "POST", "/api/connections/{selector}/actions/{key}/run", "429"), 1},
	} {
		if got := delta(c.name, c.labels); got != c.want {
			t.Errorf("%s%v: +%v, want +%v", c.name, c.labels, got, c.want)
		}
	}

	// Rate limits: 2 requests a minute per tenant. A fresh server (its token verifier has not
	// cached the old settings) on the same database, with its own registry.
	msettings(t, e, func(s *tenancy.Settings) { two := 2; s.APIRequestsPerMinutePerTenant = &two })
	srv2, err := New(e.cfg, e.db, e.srv.log)
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(srv2)
	defer ts2.Close()
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 10*time.Second {
		time.Sleep(left + 100*time.Millisecond) // the requests below must fall in one window
	}
	_, tok2 := mtokens(t, e.db, "rate-tenant")
	codes := map[int]int{}
	for i := 0; i < 5; i++ {
		status, _ := mcall(t, ts2.URL, "GET", "/api/self", tok2, nil)
		codes[status]++
	}
	if codes[200] != 2 || codes[429] != 3 {
		t.Fatalf("5 requests against a limit of 2: %v", codes)
	}
	s2 := scrapeMetrics(t, ts2.URL, "")
	if got := s2.value("tenantry_rate_limit_refusals_total", map[string]string{"scope": "tenant"}); got != 3 {
		t.Errorf("rate-limit refusals (tenant): %v, want 3", got)
	}
	if got := s2.value("tenantry_rate_limit_refusals_total", map[string]string{"scope": "workspace"}); got != 0 {
		t.Errorf("rate-limit refusals (workspace): %v, want 0", got)
	}
	if got := s2.value(mreqs, mseries("api", "GET", "/api/self", "429")); got != 3 {
		t.Errorf("/api/self 429s: %v, want 3", got)
	}
	checkLabels(t, after, "metrics-tenant", "mcrm", connID)
	checkLabels(t, s2, "rate-tenant")
}

// discardWriter is a ResponseWriter that keeps nothing, so a benchmark measures the middleware.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkObserveMetrics: the request middleware (request id, access log to a discarding
// handler, status capture) without and with metrics, around a handler that tags its route as
// the API's endpoints do. The difference is what the metrics cost a request.
func BenchmarkObserveMetrics(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.Tag(w, "GET /api/self")
		w.WriteHeader(http.StatusOK)
	})
	m := metrics.New()
	m.Route(metrics.SurfaceAPI, "GET /api/self")
	for _, c := range []struct {
		name string
		m    *metrics.Metrics
	}{{"without", nil}, {"with", m}} {
		b.Run(c.name, func(b *testing.B) {
			h := observe(log, c.m, handler)
			req := httptest.NewRequest("GET", "/api/self", nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// TestMetricsLiveStream: an open live activity stream shows in tenantry_sse_streams_open until
// the client leaves; it is then counted under its route, and kept out of the latency histogram.
func TestMetricsLiveStream(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(t)
	e.mustSignIn(t, c, seed.AdminEmail)
	const open = "tenantry_sse_streams_open"
	if got := scrapeMetrics(t, e.ts.URL, "").value(open, nil); got != 0 {
		t.Fatalf("%s before any stream: %v", open, got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/activity/live", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /activity/live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil { // the stream has started (its first flush)
		t.Fatal(err)
	}
	if got := scrapeMetrics(t, e.ts.URL, "").value(open, nil); got != 1 {
		t.Errorf("%s with one stream open: %v, want 1", open, got)
	}
	cancel()
	resp.Body.Close()
	var s scrape
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s = scrapeMetrics(t, e.ts.URL, "")
		// One scrape is no snapshot (collectors are read one after another), so wait for both.
		if s.value(open, nil) == 0 && s.value(mreqs, mseries("console", "GET", "/activity/live", "200")) >= 1 || time.Now().After(deadline) {
			break
		}
	}
	if got := s.value(open, nil); got != 0 {
		t.Errorf("%s after the client left: %v, want 0", open, got)
	}
	if got := s.value(mreqs, mseries("console", "GET", "/activity/live", "200")); got != 1 {
		t.Errorf("the stream was counted %v times, want once", got)
	}
	if s.has("tenantry_http_request_duration_seconds", map[string]string{"route": "/activity/live"}) {
		t.Errorf("the stream's duration went into the latency histogram")
	}
}

// TestMetricsReplicaPool: with a read replica configured, its pool and health are exported. The
// "replica" here is the primary itself, which is not in recovery: configured but never usable.
func TestMetricsReplicaPool(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	keys, err := secrets.ParseKeyRing(secrets.GenerateKeySpec("test"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, url, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.UseReplica(ctx, url, store.ReplicaOptions{MaxConns: 3, CheckEvery: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if st := db.ReplicaStatus(); !st.Configured || st.Usable {
		t.Fatalf("a primary posing as replica: %+v", st)
	}
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"TENANTRY_DATA_DIR": t.TempDir(), "TENANTRY_ENV": "test"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	s := scrapeMetrics(t, ts.URL, "")
	if got := s.value("go_sql_max_open_connections", map[string]string{"db_name": "replica"}); got != 3 {
		t.Errorf("go_sql_max_open_connections{db_name=replica}: %v, want 3", got)
	}
	if !s.has("go_sql_max_open_connections", map[string]string{"db_name": "primary"}) {
		t.Errorf("no primary pool")
	}
	if s["tenantry_db_replica_usable"] == nil || s.value("tenantry_db_replica_usable", nil) != 0 {
		t.Errorf("tenantry_db_replica_usable: %v, want 0 (present)", s.value("tenantry_db_replica_usable", nil))
	}
	if s["tenantry_db_replica_lag_seconds"] == nil {
		t.Errorf("no tenantry_db_replica_lag_seconds")
	}
}
