package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/runner"
	"tenantry/internal/secrets"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// env is a workspace whose integration points at a real HTTP server on 127.0.0.1.
type env struct {
	url      string
	keys     *secrets.KeyRing
	db       *store.DB
	ws       *tenancy.Workspace
	svc      *runner.Service
	a, b     *tenancy.Tenant
	connA    *tenancy.Connection
	connB    *tenancy.Connection
	up       *httptest.Server
	hits     atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
	lastReq  chan *http.Request
	delay    time.Duration
}

func newEnv(t *testing.T) *env { return newBenchEnv(t) }

// newBenchEnv builds the env for a test or a benchmark.
func newBenchEnv(t testing.TB) *env {
	t.Helper()
	e := &env{url: testdb.URL(t), lastReq: make(chan *http.Request, 200)}
	e.keys, _ = secrets.ParseKeyRing(secrets.GenerateKeySpec("test"))
	e.db = e.open(t)
	e.up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		n := e.inFlight.Add(1)
		defer e.inFlight.Add(-1)
		for {
			m := e.maxIn.Load()
			if n <= m || e.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case e.lastReq <- r:
		default:
		}
		if e.delay > 0 {
			time.Sleep(e.delay)
		}
		if r.URL.Path == "/api/fail" {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"error":"upstream down"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "query": r.URL.Query().Encode(),
			"auth":    r.Header.Get("Authorization"),
			"results": []any{map[string]any{"properties": map[string]any{"email": "x@y.z", "first": "Ada"}}}})
	}))
	t.Cleanup(e.up.Close)
	ctx := context.Background()
	var err error
	if e.ws, _, err = e.db.CreateWorkspace(ctx, "runs", "Runs"); err != nil {
		t.Fatal(err)
	}
	e.svc = runner.NewService(e.db, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	e.wide(t, func(tx *store.Tx) error {
		in, err := tx.CreateIntegration(ctx, store.IntegrationInput{Key: "crm", Name: "CRM", BaseURL: e.up.URL + "/api", AuthType: "bearer"})
		if err != nil {
			return err
		}
		for _, el := range []store.ElementInput{
			{Kind: tenancy.KindAction, Key: "list-deals", Type: "http-request", IntegrationID: in.ID,
				Config: map[string]any{"method": "GET", "path": "/deals", "query": map[string]any{"limit": "100", "owner": "{{input.owner}}"}, "credits": 1}},
			{Kind: tenancy.KindAction, Key: "list-deals-free", Type: "http-request", IntegrationID: in.ID,
				Config: map[string]any{"method": "GET", "path": "/deals", "query": map[string]any{"limit": "100", "owner": "{{input.owner}}"}}},
			{Kind: tenancy.KindAction, Key: "mapped", Type: "http-request", IntegrationID: in.ID,
				Config: map[string]any{"method": "GET", "path": "/contacts", "outputMapping": "contact-fields"}},
			{Kind: tenancy.KindAction, Key: "broken", Type: "http-request", IntegrationID: in.ID, Config: map[string]any{"method": "GET", "path": "/fail"}},
			{Kind: tenancy.KindFieldMapping, Key: "contact-fields", IntegrationID: in.ID,
				Config: map[string]any{"importValue": map[string]any{"email": "{{properties.email}}", "name": "{{properties.first}}"}}},
			{Kind: tenancy.KindFlow, Key: "sync", IntegrationID: in.ID, Config: map[string]any{"steps": []any{
				map[string]any{"key": "first", "action": "list-deals", "input": map[string]any{"owner": "{{input.owner}}"}},
				map[string]any{"key": "second", "action": "list-deals", "input": map[string]any{"owner": "{{steps.first.output.path}}"}},
			}}},
		} {
			if _, err := tx.CreateElement(ctx, el); err != nil {
				return err
			}
		}
		if e.a, err = tx.CreateTenant(ctx, store.NewTenant{InternalID: "a", Name: "A"}); err != nil {
			return err
		}
		if e.b, err = tx.CreateTenant(ctx, store.NewTenant{InternalID: "b", Name: "B"}); err != nil {
			return err
		}
		if e.connA, err = tx.CreateConnection(ctx, store.NewConnection{TenantID: e.a.ID, IntegrationID: in.ID, Name: "A", Credentials: map[string]any{"accessToken": "tok-a"}}); err != nil {
			return err
		}
		e.connB, err = tx.CreateConnection(ctx, store.NewConnection{TenantID: e.b.ID, IntegrationID: in.ID, Name: "B", Credentials: map[string]any{"accessToken": "tok-b"}})
		return err
	})
	return e
}

// open connects to the test database with a pool of its own: another "process".
func (e *env) open(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), e.url, e.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, _, _, err := db.MaintainActivity(context.Background(), false, 0); err != nil {
		t.Fatal(err)
	}
	return db
}

func (e *env) wide(t testing.TB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), fn); err != nil {
		t.Fatal(err)
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func (e *env) scope(t *tenancy.Tenant) tenancy.Scope { return tenancy.TenantScope(e.ws.ID, t.ID) }

func TestRunUsesTheTenantsCustomizationAndConnection(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A customizes the limit; B does not.
	if err := e.db.InScope(ctx, e.scope(e.a), func(tx *store.Tx) error {
		_, err := tx.Customize(ctx, store.TenantElementAt{TenantID: e.a.ID, Kind: tenancy.KindAction, Key: "list-deals"},
			store.ElementChange{Mode: store.ConfigMerge, Config: map[string]any{"query": map[string]any{"limit": "25"}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.RunAction(ctx, e.scope(e.a), runner.ActionRun{Key: "list-deals", Input: map[string]any{"owner": "me"}})
	if err != nil {
		t.Fatal(err)
	}
	out := res.Output.(map[string]any)
	if out["query"] != "limit=25&owner=me" || out["auth"] != "Bearer tok-a" || out["path"] != "/api/deals" {
		t.Errorf("A's run sent %v", out)
	}
	res, err = e.svc.RunAction(ctx, e.scope(e.b), runner.ActionRun{Key: "list-deals", Input: map[string]any{"owner": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if out := res.Output.(map[string]any); out["query"] != "limit=100&owner=b" || out["auth"] != "Bearer tok-b" {
		t.Errorf("B's run sent %v", out)
	}
	// A cannot run on B's connection: it is not found in A's scope.
	if _, err := e.svc.RunAction(ctx, e.scope(e.a), runner.ActionRun{Key: "list-deals", ConnectionID: e.connB.ID}); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("A on B's connection: %v", err)
	}
	// The run is in the activity log with its id, input, output and duration; the token is not.
	var details []byte
	var status string
	var dur *int
	if err := e.db.SQL().QueryRowxContext(ctx, `SELECT status, details, duration_ms FROM activity_log WHERE id = $1`, res.RunID).Scan(&status, &details, &dur); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	_ = json.Unmarshal(details, &d)
	if status != "success" || dur == nil || d["input"].(map[string]any)["owner"] != "b" || d["output"] == nil {
		t.Errorf("run entry: %s %s", status, details)
	}
	if json.Valid(details) && string(details) != "" && contains(string(details), "tok-b") {
		t.Errorf("the connection's token reached the log: %s", details)
	}
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (s == sub || len(sub) == 0 || indexOf(s, sub) >= 0)
}
func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestFieldMappingAndUpstreamErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.RunAction(ctx, e.scope(e.a), runner.ActionRun{Key: "mapped"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res.Output)
	if string(got) != `[{"email":"x@y.z","name":"Ada"}]` {
		t.Errorf("mapped output %s", got)
	}
	_, err = e.svc.RunAction(ctx, e.scope(e.a), runner.ActionRun{Key: "broken"})
	var ue *runner.UpstreamError
	if !errors.As(err, &ue) || ue.Status != 502 || ue.Body != `{"error":"upstream down"}` {
		t.Fatalf("upstream error: %v", err)
	}
	var n int
	if err := e.db.SQL().GetContext(ctx, &n, `SELECT count(*) FROM activity_log WHERE type = 'action.run' AND status = 'error'
		AND details->'error'->>'status' = '502'`); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("failed runs recorded: %d", n)
	}
}

// Fifty runs at once against a limit of ten credits: exactly ten succeed, in one process or two.
func TestCreditsHoldUnderConcurrency(t *testing.T) {
	for _, processes := range []int{1, 2} {
		e := newEnv(t)
		ctx := context.Background()
		ten := 10.0
		e.wide(t, func(tx *store.Tx) error {
			_, err := tx.PatchTenant(ctx, e.a.ID, store.TenantPatch{SetLimit: true, AICreditsRolling30DayLimit: &ten})
			return err
		})
		svcs := []*runner.Service{e.svc}
		if processes == 2 {
			// A second process: its own pool of connections to the same database.
			svcs = append(svcs, runner.NewService(e.open(t), nil))
		}
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := svcs[i%len(svcs)].RunAction(ctx, e.scope(e.a), runner.ActionRun{Key: "list-deals", Input: map[string]any{"owner": "x"}})
				var ce *store.CreditsExceededError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &ce):
					refused.Add(1)
					if ce.Limit != 10 || ce.Scope != "tenant" || ce.FreeAt == nil {
						t.Errorf("refusal %+v", ce)
					}
				default:
					t.Errorf("run: %v", err)
				}
			}(i)
		}
		wg.Wait()
		var used float64
		if err := e.db.SQL().GetContext(ctx, &used, `SELECT coalesce(sum(credits), 0) FROM ai_credit_ledger WHERE tenant_id = $1`, e.a.ID); err != nil {
			t.Fatal(err)
		}
		if ok.Load() != 10 || refused.Load() != 40 || used != 10 || e.hits.Load() != 10 {
			t.Errorf("%d process(es): %d ran, %d refused, %g credits used, %d upstream calls; want 10, 40, 10, 10",
				processes, ok.Load(), refused.Load(), used, e.hits.Load())
		}
		var exceeded int
		_ = e.db.SQL().GetContext(ctx, &exceeded, `SELECT count(*) FROM activity_log WHERE type = 'limit.exceeded' AND tenant_id = $1`, e.a.ID)
		if exceeded != 40 {
			t.Errorf("limit.exceeded entries: %d, want 40", exceeded)
		}
	}
}

func TestWorkspaceCreditLimitIsShared(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	five := 5.0
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ten := []*tenancy.Tenant{e.a, e.b}[i%2]
			if _, err := e.svc.RunAction(ctx, e.scope(ten), runner.ActionRun{Key: "list-deals", Input: map[string]any{"owner": "x"},
				Settings: tenancy.Settings{AICreditsRolling30DayLimit: &five}}); err == nil {
				ok.Add(1)
			} else if ce := new(store.CreditsExceededError); !errors.As(err, &ce) || ce.Scope != "workspace" {
				t.Errorf("run: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if ok.Load() != 5 {
		t.Errorf("%d runs passed a workspace limit of 5", ok.Load())
	}
}

func TestFlowRunsStepsInOrderOneAtATimePerConnection(t *testing.T) {
	e := newEnv(t)
	e.delay = 150 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.svc.Work(ctx, 3)
	var runs []*tenancy.FlowRun
	for i := 0; i < 3; i++ {
		r, err := e.svc.StartFlow(ctx, e.scope(e.a), runner.FlowStart{Key: "sync", ConnectionID: e.connA.ID, Input: map[string]any{"owner": "o"}})
		if err != nil {
			t.Fatal(err)
		}
		if r.State != tenancy.RunQueued || len(r.Steps) != 2 {
			t.Fatalf("queued run %+v", r)
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		got := waitRun(t, e, r.ID)
		if got.State != tenancy.RunCompleted {
			t.Fatalf("run %s ended %s: %+v", r.ID, got.State, got.Errors)
		}
		// The second step was fed the first's output.
		if out := got.Steps[1].Output.(map[string]any); out["query"] != "limit=100&owner=%2Fapi%2Fdeals" {
			t.Errorf("second step sent %v", out["query"])
		}
	}
	if e.maxIn.Load() != 1 {
		t.Errorf("%d requests of one connection's runs at once, want 1", e.maxIn.Load())
	}
}

func TestFlowRunSurvivesARestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r, err := e.svc.StartFlow(ctx, e.scope(e.a), runner.FlowStart{Key: "sync", ConnectionID: e.connA.ID, Input: map[string]any{"owner": "o"}})
	if err != nil {
		t.Fatal(err)
	}
	// A process claimed it, finished the first step and died: running, heartbeat long gone.
	steps := `[{"key":"first","action":"list-deals","state":"completed","output":{"path":"/api/deals"}},
		{"key":"second","action":"list-deals","input":{"owner":"{{steps.first.output.path}}"},"state":"running"}]`
	if _, err := e.db.SQL().ExecContext(ctx, `UPDATE flow_runs SET state = 'running', steps = $2, heartbeat_at = now() - interval '5 minutes',
		started_at = now() - interval '5 minutes' WHERE id = $1`, r.ID, steps); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.svc.Work(wctx, 1)
	got := waitRun(t, e, r.ID)
	if got.State != tenancy.RunCompleted || got.Attempts != 1 || e.hits.Load() != 1 {
		t.Errorf("resumed run: %s, attempts %d, %d upstream calls (want completed, 1, only the second step)", got.State, got.Attempts, e.hits.Load())
	}
}

func TestStoppingAQueuedRun(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r, err := e.svc.StartFlow(ctx, e.scope(e.a), runner.FlowStart{Key: "sync", ConnectionID: e.connA.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.InScope(ctx, e.scope(e.a), func(tx *store.Tx) error {
		s, err := tx.StopFlowRun(ctx, r.ID)
		if err == nil && s.State != tenancy.RunStopped {
			t.Errorf("stopped queued run is %s", s.State)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.InScope(ctx, e.scope(e.b), func(tx *store.Tx) error {
		_, err := tx.StopFlowRun(ctx, r.ID)
		return err
	}); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("B stopping A's run: %v", err)
	}
}

func waitRun(t *testing.T, e *env, id uuid.UUID) *tenancy.FlowRun {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var r *tenancy.FlowRun
		if err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) (err error) {
			r, err = tx.FlowRun(context.Background(), id)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if r.Done() {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s did not end", id)
	return nil
}

// An api-key-header integration sends the key in the header its connector element names.
func TestAPIKeyHeaderComesFromTheConnector(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.wide(t, func(tx *store.Tx) error {
		in, err := tx.CreateIntegration(ctx, store.IntegrationInput{Key: "keyed", Name: "Keyed", BaseURL: e.up.URL + "/api", AuthType: "api-key-header"})
		if err != nil {
			return err
		}
		if _, err := tx.CreateElement(ctx, store.ElementInput{Kind: tenancy.KindConnector, Key: "keyed-connector", IntegrationID: in.ID,
			Config: map[string]any{"apiKeyHeader": "X-Keyed-Token"}}); err != nil {
			return err
		}
		if _, err := tx.CreateElement(ctx, store.ElementInput{Kind: tenancy.KindAction, Key: "keyed-list", Type: "http-request", IntegrationID: in.ID,
			Config: map[string]any{"method": "GET", "path": "/k"}}); err != nil {
			return err
		}
		_, err = tx.CreateConnection(ctx, store.NewConnection{TenantID: e.a.ID, IntegrationID: in.ID, Name: "K", Credentials: map[string]any{"apiKey": "k-123"}})
		return err
	})
	for len(e.lastReq) > 0 {
		<-e.lastReq
	}
	if _, err := e.svc.RunAction(ctx, e.scope(e.a), runner.ActionRun{Key: "keyed-list"}); err != nil {
		t.Fatal(err)
	}
	r := <-e.lastReq
	if r.Header.Get("X-Keyed-Token") != "k-123" || r.Header.Get("X-API-Key") != "" {
		t.Errorf("headers %v", r.Header)
	}
}

// A step the tenant's AI credit limit refuses fails the run with the SDK's error and the
// refusal's figures, and the refusal is in the activity log with the action it refused.
func TestFlowRunStepRefusedByCreditLimit(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := e.db.SQL().ExecContext(ctx, `UPDATE tenants SET ai_credits_rolling_30_day_limit = 1 WHERE id = $1`, e.a.ID); err != nil {
		t.Fatal(err)
	}
	e.svc.Work(ctx, 1)
	r, err := e.svc.StartFlow(ctx, e.scope(e.a), runner.FlowStart{Key: "sync", ConnectionID: e.connA.ID, Input: map[string]any{"owner": "o"}})
	if err != nil {
		t.Fatal(err)
	}
	// Each step costs 1 credit: the first uses up the limit, the second is refused.
	got := waitRun(t, e, r.ID)
	if got.State != tenancy.RunFailed || got.Steps[0].State != tenancy.RunCompleted || got.Steps[1].State != tenancy.RunFailed || len(got.Errors) != 1 {
		t.Fatalf("run %s, steps %+v, errors %+v; want failed at the second step", got.State, got.Steps, got.Errors)
	}
	re := got.Errors[0]
	want := map[string]string{"scope": "tenant", "limit": "1", "used": "1", "requested": "1"}
	for k, v := range want {
		if fmt.Sprint(re.Data[k]) != v {
			t.Errorf("error data %s = %v, want %s (%+v)", k, re.Data[k], v, re)
		}
	}
	if re.Key != "ai_credits_exceeded" || re.Type != "bad_request" || re.Data["freeAt"] == nil {
		t.Errorf("run error %+v: want bad_request ai_credits_exceeded with freeAt", re)
	}
	var raw []byte
	if err := e.db.SQL().GetContext(ctx, &raw, `SELECT details FROM activity_log WHERE type = 'limit.exceeded' AND tenant_id = $1`, e.a.ID); err != nil {
		t.Fatal(err)
	}
	var details map[string]any
	if err := json.Unmarshal(raw, &details); err != nil {
		t.Fatal(err)
	}
	want["action"] = "list-deals"
	for k, v := range want {
		if fmt.Sprint(details[k]) != v {
			t.Errorf("limit.exceeded details %s = %v, want %s (%v)", k, details[k], v, details)
		}
	}
	if details["freeAt"] == nil {
		t.Errorf("limit.exceeded details without freeAt: %v", details)
	}
}
