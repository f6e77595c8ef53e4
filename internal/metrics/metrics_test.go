package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"tenantry/internal/metrics"
)

// count is the value of tenantry_http_requests_total for the labels.
func count(t *testing.T, m *metrics.Metrics, labels string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "tenantry_http_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			var parts []string
			for _, l := range s.GetLabel() {
				parts = append(parts, l.GetName()+"="+l.GetValue())
			}
			if strings.Join(parts, ",") == labels {
				return s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestRequestLabels(t *testing.T) {
	m := metrics.New()
	m.Route(metrics.SurfaceAPI, "GET /api/customers/{selector}")
	m.Route(metrics.SurfaceConsole, "POST /tenants/{id}/archive")

	m.Request("GET /api/customers/{selector}", "GET", "/api/customers/acme", 200, time.Millisecond, false)
	m.Request("GET /api/customers/{selector}", "HEAD", "/api/customers/acme", 200, time.Millisecond, false)
	m.Request("GET /api/customers/{selector}", "GET", "/api/customers/x", 404, time.Millisecond, false)
	m.Request("POST /tenants/{id}/archive", "POST", "/tenants/0190/archive", 303, time.Millisecond, false)
	// Not registered, or no pattern at all: unmatched on the path's surface, the method bounded.
	m.Request("", "GET", "/api/nope", 404, time.Millisecond, false)
	m.Request("/api/", "BREW", "/api/nope", 405, time.Millisecond, false)
	m.Request("", "GET", "/portal/x", 404, time.Millisecond, false)
	m.Request("/", "GET", "/anything", 404, time.Millisecond, false)
	// A status no cache slot holds, and none written (net/http answers 200).
	m.Request("GET /api/customers/{selector}", "GET", "/api/customers/x", 418, time.Millisecond, false)
	m.Request("GET /api/customers/{selector}", "GET", "/api/customers/x", 0, time.Millisecond, false)

	for labels, want := range map[string]float64{
		"code=200,method=GET,route=/api/customers/{selector},surface=api":  3,
		"code=404,method=GET,route=/api/customers/{selector},surface=api":  1,
		"code=418,method=GET,route=/api/customers/{selector},surface=api":  1,
		"code=303,method=POST,route=/tenants/{id}/archive,surface=console": 1,
		"code=404,method=GET,route=unmatched,surface=api":                  1,
		"code=405,method=other,route=unmatched,surface=api":                1,
		"code=404,method=GET,route=unmatched,surface=portal":               1,
		"code=404,method=GET,route=unmatched,surface=console":              1,
	} {
		if got := count(t, m, labels); got != want {
			t.Errorf("%s: %v, want %v", labels, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.Registry(), "tenantry_http_requests_total"); n != 8 {
		t.Errorf("%d request series, want 8", n)
	}
	// Streams are counted but not timed.
	m.Request("GET /api/customers/{selector}", "GET", "/api/customers/x", 200, time.Hour, true)
	if got := count(t, m, "code=200,method=GET,route=/api/customers/{selector},surface=api"); got != 4 {
		t.Errorf("a stream was not counted: %v", got)
	}
	if n := testutil.CollectAndCount(m.Registry(), "tenantry_http_request_duration_seconds"); n != 6 {
		t.Errorf("%d latency series, want 6 (2 routes, 4 unmatched)", n)
	}
}

func TestOutcomesAndScopes(t *testing.T) {
	m := metrics.New()
	m.ActionRun(metrics.Succeeded)
	m.ActionRun(metrics.Refused)
	m.ActionRun("something else")
	m.FlowRun(metrics.Stopped)
	m.RateLimited("tenant")
	m.RateLimited("tenant")
	m.RateLimited("galaxy")
	m.CreditsRefused("workspace")
	m.FlowQueued()
	m.FlowClaimed()
	m.FlowClaimed()
	m.StreamOpened()
	m.StreamOpened()
	m.StreamClosed()
	want := `
# HELP tenantry_rate_limit_refusals_total API requests refused with 429 by a request rate limit, by the limit's scope (tenant or workspace).
# TYPE tenantry_rate_limit_refusals_total counter
tenantry_rate_limit_refusals_total{scope="other"} 1
tenantry_rate_limit_refusals_total{scope="tenant"} 2
tenantry_rate_limit_refusals_total{scope="workspace"} 0
# HELP tenantry_flow_run_claims_total Flow runs claimed from the queue by this process's workers (a stale run taken over counts again).
# TYPE tenantry_flow_run_claims_total counter
tenantry_flow_run_claims_total 2
# HELP tenantry_sse_streams_open Server-sent event streams (live activity) open now.
# TYPE tenantry_sse_streams_open gauge
tenantry_sse_streams_open 1
# HELP tenantry_action_runs_total Action runs by outcome: succeeded, failed (the external app failed or was unreachable), refused (AI credit limit or host rule).
# TYPE tenantry_action_runs_total counter
tenantry_action_runs_total{outcome="failed"} 0
tenantry_action_runs_total{outcome="other"} 1
tenantry_action_runs_total{outcome="refused"} 1
tenantry_action_runs_total{outcome="succeeded"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"tenantry_rate_limit_refusals_total", "tenantry_flow_run_claims_total", "tenantry_sse_streams_open", "tenantry_action_runs_total"); err != nil {
		t.Error(err)
	}
}

// A nil *Metrics records nothing and does not panic: packages built without metrics need no checks.
func TestNilMetrics(t *testing.T) {
	var m *metrics.Metrics
	m.Request("x", "GET", "/", 200, time.Second, false)
	m.ActionRun(metrics.Failed)
	m.FlowRun(metrics.Failed)
	m.FlowQueued()
	m.FlowClaimed()
	m.RateLimited("tenant")
	m.CreditsRefused("tenant")
	m.StreamOpened()
	m.StreamClosed()
	if m.Route("api", "GET /x") != nil {
		t.Error("a nil Metrics made a route")
	}
}

// tagger is a writer that records the tagged route, wrapped below another writer.
type tagger struct {
	http.ResponseWriter
	route string
}

func (w *tagger) TagRoute(p string) { w.route = p }

type wrapped struct{ http.ResponseWriter }

func (w wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestTagThroughWrappers(t *testing.T) {
	tw := &tagger{ResponseWriter: httptest.NewRecorder()}
	metrics.Tag(wrapped{wrapped{tw}}, "GET /api/self")
	if tw.route != "GET /api/self" {
		t.Errorf("Tag through two wrappers: %q", tw.route)
	}
	metrics.Tag(httptest.NewRecorder(), "GET /api/self") // no tagger: nothing happens
	var w http.ResponseWriter = wrapped{tw}
	if a := testing.AllocsPerRun(100, func() { metrics.Tag(w, "GET /api/self") }); a != 0 {
		t.Errorf("Tag allocates %v times", a)
	}
}

// Recording a request on a used route does not allocate.
func TestRequestDoesNotAllocate(t *testing.T) {
	m := metrics.New()
	m.Route(metrics.SurfaceAPI, "GET /api/self")
	m.Request("GET /api/self", "GET", "/api/self", 200, time.Millisecond, false)
	if a := testing.AllocsPerRun(1000, func() {
		m.Request("GET /api/self", "GET", "/api/self", 200, time.Millisecond, false)
		m.Request("", "GET", "/api/nope", 404, time.Millisecond, false)
	}); a != 0 {
		t.Errorf("Request allocates %v times", a)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := metrics.New()
	m.Route(metrics.SurfaceAPI, "GET /api/self")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("GET /api/self", "GET", "/api/self", 200, 300*time.Microsecond, false)
		}
	})
}

func TestReplicaGauges(t *testing.T) {
	m := metrics.New()
	usable, lag := true, 1500*time.Millisecond
	if err := m.RegisterReplica(func() (bool, time.Duration) { return usable, lag }); err != nil {
		t.Fatal(err)
	}
	want := func(u, l string) string {
		return `
# HELP tenantry_db_replica_lag_seconds The read replica's measured replication lag at its last check.
# TYPE tenantry_db_replica_lag_seconds gauge
tenantry_db_replica_lag_seconds ` + l + `
# HELP tenantry_db_replica_usable 1 while lag-tolerant reads go to the read replica, 0 while they go to the primary.
# TYPE tenantry_db_replica_usable gauge
tenantry_db_replica_usable ` + u + `
`
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("1", "1.5")), "tenantry_db_replica_usable", "tenantry_db_replica_lag_seconds"); err != nil {
		t.Error(err)
	}
	usable, lag = false, 42*time.Second
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want("0", "42")), "tenantry_db_replica_usable", "tenantry_db_replica_lag_seconds"); err != nil {
		t.Error(err)
	}
}
