// Package metrics is Tenantry's Prometheus instrumentation: one registry per server (never the
// global default, so tests and several servers in one process stay independent) holding the Go
// and process collectors, the database pool, HTTP requests by route pattern, action and flow run
// outcomes, and limit refusals. The web package serves it at GET /metrics.
//
// Labels are bounded by construction: a request is labelled by the route PATTERN it matched
// ("GET /api/customers/{selector}"), never by its path, so no id, key or tenant ever becomes a
// label value; anything that matched no route is "unmatched".
package metrics

import (
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Surfaces a route belongs to (the "surface" label).
const (
	SurfaceAPI     = "api"     // the JSON API under /api
	SurfaceConsole = "console" // the managers' Console
	SurfacePortal  = "portal"  // the tenant portal under /portal
	SurfaceSystem  = "system"  // health checks, static assets, /metrics
)

// Unmatched is the route label of a request no route pattern matched (a 404, a 405, or a request
// refused before routing).
const Unmatched = "unmatched"

// Run outcomes (the "outcome" label of the run counters).
const (
	Succeeded = "succeeded" // the external app answered with success / every step completed
	Failed    = "failed"    // the run was made and failed
	Refused   = "refused"   // the run was not made: a limit (AI credits) or the host rule refused it
	Stopped   = "stopped"   // a flow run stopped on request
)

// Metrics is one server's registry and the instruments it updates. A nil *Metrics is valid and
// records nothing, so code paths built without metrics (package tests) need no checks.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	streams  prometheus.Gauge

	actionRuns     *prometheus.CounterVec
	flowRuns       *prometheus.CounterVec
	flowQueued     prometheus.Counter
	flowClaims     prometheus.Counter
	rateRefusals   *prometheus.CounterVec
	creditRefusals *prometheus.CounterVec

	// routes maps a ServeMux pattern to its series. It is filled by Route before the server
	// serves and only read afterwards, so lookups need no lock.
	routes    map[string]*Route
	unmatched map[string]*[len(methods)]*Route // by surface, then method index
}

// LatencyBuckets are the request-latency histogram's buckets, in seconds: finer than the
// client's defaults at the fast end, where most API reads are.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New builds a registry with the Go runtime and process collectors and Tenantry's instruments.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_http_requests_total",
			Help: "HTTP requests answered, by surface, method, route pattern and status code.",
		}, []string{"surface", "method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantry_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by surface, method and route pattern (event streams excluded).",
			Buckets: LatencyBuckets,
		}, []string{"surface", "method", "route"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantry_sse_streams_open",
			Help: "Server-sent event streams (live activity) open now.",
		}),
		actionRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_action_runs_total",
			Help: "Action runs by outcome: succeeded, failed (the external app failed or was unreachable), refused (AI credit limit or host rule).",
		}, []string{"outcome"}),
		flowRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_flow_runs_total",
			Help: "Flow runs finished by this process, by outcome: succeeded, failed, stopped.",
		}, []string{"outcome"}),
		flowQueued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantry_flow_runs_queued_total",
			Help: "Flow runs queued through this process.",
		}),
		flowClaims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantry_flow_run_claims_total",
			Help: "Flow runs claimed from the queue by this process's workers (a stale run taken over counts again).",
		}),
		rateRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_rate_limit_refusals_total",
			Help: "API requests refused with 429 by a request rate limit, by the limit's scope (tenant or workspace).",
		}, []string{"scope"}),
		creditRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantry_ai_credit_refusals_total",
			Help: "Action runs refused by an AI credit limit, by the limit's scope (tenant or workspace).",
		}, []string{"scope"}),
		routes:    map[string]*Route{},
		unmatched: map[string]*[len(methods)]*Route{},
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.streams,
		m.actionRuns, m.flowRuns, m.flowQueued, m.flowClaims, m.rateRefusals, m.creditRefusals,
	)
	// The outcome and scope series exist from the start, at 0, so a rate() over them works
	// before the first event and a dashboard shows "none" rather than "no data".
	for _, o := range []string{Succeeded, Failed, Refused} {
		m.actionRuns.WithLabelValues(o)
	}
	for _, o := range []string{Succeeded, Failed, Stopped} {
		m.flowRuns.WithLabelValues(o)
	}
	for _, s := range limitScopes {
		m.rateRefusals.WithLabelValues(s)
		m.creditRefusals.WithLabelValues(s)
	}
	for _, s := range []string{SurfaceAPI, SurfaceConsole, SurfacePortal, SurfaceSystem} {
		var byMethod [len(methods)]*Route
		for i, meth := range methods {
			byMethod[i] = &Route{m: m, surface: s, method: meth, route: Unmatched}
		}
		m.unmatched[s] = &byMethod
	}
	return m
}

// Registry is the registry, for tests and for registering further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RegisterDB exports a database pool's statistics (go_sql_* with db_name=name): open, in-use and
// idle connections, waits and closes.
func (m *Metrics) RegisterDB(name string, db *sql.DB) error {
	return m.reg.Register(collectors.NewDBStatsCollector(db, name))
}

// RegisterReplica exports a read replica's health as last checked: tenantry_db_replica_usable
// (1 while lag-tolerant reads go to it, else 0) and tenantry_db_replica_lag_seconds.
func (m *Metrics) RegisterReplica(status func() (usable bool, lag time.Duration)) error {
	usable := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tenantry_db_replica_usable",
		Help: "1 while lag-tolerant reads go to the read replica, 0 while they go to the primary.",
	}, func() float64 {
		if ok, _ := status(); ok {
			return 1
		}
		return 0
	})
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tenantry_db_replica_lag_seconds",
		Help: "The read replica's measured replication lag at its last check.",
	}, func() float64 {
		_, l := status()
		return l.Seconds()
	})
	if err := m.reg.Register(usable); err != nil {
		return err
	}
	return m.reg.Register(lag)
}

// Handler serves the registry in Prometheus' text (or negotiated) format. A collector that fails
// is logged to log and left out: the scrape still answers with everything else.
func (m *Metrics) Handler(log *slog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError}
	if log != nil {
		opts.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return promhttp.HandlerFor(m.reg, opts)
}

// limitScopes are the scopes a limit decides in; anything else is counted as "other".
var limitScopes = []string{"tenant", "workspace"}

func limitScope(s string) string {
	for _, ls := range limitScopes {
		if s == ls {
			return ls
		}
	}
	return "other"
}

// methods are the method label's values; any other method is "other" (a client chooses the
// method, so it must not choose label values).
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}

func methodIndex(method string) int {
	for i, m := range methods[:len(methods)-1] {
		if m == method {
			return i
		}
	}
	return len(methods) - 1
}

// knownCodes are the status codes whose counters a Route caches; others are looked up each time.
var knownCodes = [...]int{200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
	400, 401, 403, 404, 405, 406, 408, 409, 410, 412, 413, 415, 422, 429, 431, 499,
	500, 501, 502, 503, 504}

// codeSlot maps a status code to its index in knownCodes plus one (0: not cached).
var codeSlot = func() (s [600]uint8) {
	for i, c := range knownCodes {
		s[c] = uint8(i + 1)
	}
	return s
}()

// Route is one route pattern's series. Its children (the counter per status code, the latency
// histogram) are resolved the first time they are used and then kept, so a request costs two
// atomic loads and the increments: no label lookup, no allocation. A series appears in /metrics
// only once its route has been used.
type Route struct {
	m                      *Metrics
	surface, method, route string
	latency                atomic.Pointer[observer]
	codes                  [len(knownCodes)]atomic.Pointer[counter]
}

type observer struct{ prometheus.Observer }
type counter struct{ prometheus.Counter }

// Route registers a ServeMux pattern ("GET /api/self", "POST /tenants/{id}/archive") on a
// surface and returns its series. A pattern without a method, or registered twice, keeps its
// first registration. Call it while building the server, before it serves: the table is read
// without a lock afterwards.
func (m *Metrics) Route(surface, pattern string) *Route {
	if m == nil {
		return nil
	}
	if rt, ok := m.routes[pattern]; ok {
		return rt
	}
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "other", pattern
	}
	rt := &Route{m: m, surface: surface, method: method, route: strings.TrimSpace(path)}
	m.routes[pattern] = rt
	return rt
}

// Request records one answered request. pattern is the route pattern that served it (as
// registered with Route; anything else, "" included, counts as unmatched on the surface
// surfaceOf(path) with the request's method). streamed requests (server-sent events) are counted
// but kept out of the latency histogram, whose buckets are for requests, not connections.
func (m *Metrics) Request(pattern, method, path string, code int, d time.Duration, streamed bool) {
	if m == nil {
		return
	}
	rt := m.routes[pattern]
	if rt == nil {
		rt = m.unmatched[SurfaceOf(path)][methodIndex(method)]
	}
	rt.count(code)
	if !streamed {
		rt.observe(d.Seconds())
	}
}

// SurfaceOf names the surface a path belongs to, for requests that matched no route.
func SurfaceOf(path string) string {
	switch {
	case path == "/api" || strings.HasPrefix(path, "/api/"):
		return SurfaceAPI
	case path == "/portal" || strings.HasPrefix(path, "/portal/"):
		return SurfacePortal
	}
	return SurfaceConsole
}

func (rt *Route) count(code int) {
	if code <= 0 {
		code = http.StatusOK // nothing written: net/http answers 200
	}
	var slot int
	if code < len(codeSlot) {
		slot = int(codeSlot[code])
	}
	if slot == 0 {
		rt.m.requests.WithLabelValues(rt.surface, rt.method, rt.route, strconv.Itoa(code)).Inc()
		return
	}
	c := rt.codes[slot-1].Load()
	if c == nil {
		// Two requests may resolve the child at once: both get the same child from the vector.
		c = &counter{rt.m.requests.WithLabelValues(rt.surface, rt.method, rt.route, strconv.Itoa(code))}
		rt.codes[slot-1].Store(c)
	}
	c.Inc()
}

func (rt *Route) observe(seconds float64) {
	o := rt.latency.Load()
	if o == nil {
		o = &observer{rt.m.latency.WithLabelValues(rt.surface, rt.method, rt.route)}
		rt.latency.Store(o)
	}
	o.Observe(seconds)
}

// StreamOpened and StreamClosed track open server-sent event streams.
func (m *Metrics) StreamOpened() {
	if m != nil {
		m.streams.Inc()
	}
}

// StreamClosed: see StreamOpened.
func (m *Metrics) StreamClosed() {
	if m != nil {
		m.streams.Dec()
	}
}

// RateLimited counts a request refused by the request rate limit of scope ("tenant" or
// "workspace").
func (m *Metrics) RateLimited(scope string) {
	if m != nil {
		m.rateRefusals.WithLabelValues(limitScope(scope)).Inc()
	}
}

// The methods below make *Metrics a runner.Observer.

// ActionRun counts an action run by outcome (Succeeded, Failed or Refused).
func (m *Metrics) ActionRun(outcome string) {
	if m != nil {
		m.actionRuns.WithLabelValues(runOutcome(outcome)).Inc()
	}
}

// FlowRun counts a finished flow run by outcome (Succeeded, Failed or Stopped).
func (m *Metrics) FlowRun(outcome string) {
	if m != nil {
		m.flowRuns.WithLabelValues(runOutcome(outcome)).Inc()
	}
}

// FlowQueued counts a flow run queued.
func (m *Metrics) FlowQueued() {
	if m != nil {
		m.flowQueued.Inc()
	}
}

// FlowClaimed counts a flow run claimed from the queue by a worker.
func (m *Metrics) FlowClaimed() {
	if m != nil {
		m.flowClaims.Inc()
	}
}

// CreditsRefused counts a run refused by the AI credit limit of scope ("tenant" or "workspace").
func (m *Metrics) CreditsRefused(scope string) {
	if m != nil {
		m.creditRefusals.WithLabelValues(limitScope(scope)).Inc()
	}
}

func runOutcome(o string) string {
	switch o {
	case Succeeded, Failed, Refused, Stopped:
		return o
	}
	return "other"
}

// RouteTagger is a ResponseWriter that records the route pattern serving its request (the web
// middleware's writer is one).
type RouteTagger interface{ TagRoute(pattern string) }

// Tag records, for the metrics middleware, that pattern (as registered with Route) serves the
// request whose writer is w. Route tables mounted below another ServeMux call it so that the
// label never depends on which mux set Request.Pattern; without a tagger in w's chain (a handler
// tested on its own) it does nothing. It does not allocate.
func Tag(w http.ResponseWriter, pattern string) {
	for {
		switch x := w.(type) {
		case RouteTagger:
			x.TagRoute(pattern)
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}
