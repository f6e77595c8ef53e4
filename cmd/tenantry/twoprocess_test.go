package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tenantry/internal/logscan"
	"tenantry/internal/secrets"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// TestTwoServerProcessesShareLimits builds the binary and runs two `tenantry serve` processes on
// one database. Limits hold across them: 50 runs split between the two against a tenant's
// 10-credit limit — exactly 10 run; 30 requests split between them against 10 requests a minute
// per tenant — exactly 10 pass; 5 failed sign-ins split between them close the account on both.
// Flow runs queued through either run exactly once; a Console session made on one works on the
// other, and signing out on the other ends it.
func TestTwoServerProcessesShareLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two servers")
	}
	ctx := context.Background()
	dir := t.TempDir()
	bin := filepath.Join(dir, "tenantry")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	if out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	dbURL := testdb.URL(t)
	encSpec := secrets.GenerateKeySpec("k1")
	sk := make([]byte, 64)
	if _, err := rand.Read(sk); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TENANTRY_") && !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "TEST_DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "DATABASE_URL="+dbURL, "TENANTRY_ENV=development", "TENANTRY_DATA_DIR="+filepath.Join(dir, "data"),
		"TENANTRY_ENCRYPTION_KEYS="+encSpec, "TENANTRY_SESSION_KEYS="+base64.StdEncoding.EncodeToString(sk), "TENANTRY_LOG_LEVEL=info",
		"TENANTRY_DB_MAX_CONNS=12")

	cmd := exec.Command(bin, "workspace", "create", "--key", "twoproc", "--name", "Two processes", "--json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("workspace create: %v", err)
	}
	var created struct{ Key, Secret string }
	if err := json.Unmarshal(out, &created); err != nil || created.Secret == "" {
		t.Fatalf("workspace create printed %q", out)
	}
	registerSecret(t, "the workspace secret", created.Secret)
	registerSecret(t, "the encryption key ring", encSpec)
	registerSecret(t, "the session key", base64.StdEncoding.EncodeToString(sk))

	// The limits are set before the servers start, so neither has cached other settings.
	ring, err := secrets.ParseKeyRing(encSpec)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, dbURL, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wa, err := db.LookupWorkspaceByKey(ctx, "twoproc")
	if err != nil {
		t.Fatal(err)
	}
	perTenant := 10
	if err := db.InScope(ctx, tenancy.SystemScope(wa.Workspace.ID), func(tx *store.Tx) error {
		return tx.UpdateWorkspaceSettings(ctx, func(s *tenancy.Settings) error {
			s.APIRequestsPerMinutePerTenant = &perTenant
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}

	// Started one after the other: each migrates and seeds the demo on start.
	a := startServe(t, bin, env)
	b := startServe(t, bin, env)
	servers := []string{a, b}

	var upHits, flowHits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flowstep" {
			flowHits.Add(1)
		} else {
			upHits.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()

	admin, err := signToken(ctx, db, "twoproc", "", "", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(t, "the workspace token", admin)
	credential := logscan.Sentinel + "twoproc-" + base64.RawURLEncoding.EncodeToString(sk[:12])
	registerSecret(t, "the connection credential", credential)
	call := func(base, method, path, token string, body any) (int, http.Header, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = strings.NewReader(string(j))
		}
		req, _ := http.NewRequest(method, base+"/api"+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil, nil
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, res.Header, m
	}
	must := func(base, method, path string, body any, want int) map[string]any {
		t.Helper()
		st, _, m := call(base, method, path, admin, body)
		if st != want {
			t.Fatalf("%s %s on %s: %d, want %d: %v", method, path, base, st, want, m)
		}
		return m
	}
	// Set up through both servers (workspace tokens are not counted per tenant).
	must(a, "POST", "/integrations", map[string]any{"key": "crm", "name": "CRM", "baseUri": up.URL, "authType": "bearer"}, 201)
	must(b, "POST", "/actions", map[string]any{"key": "metered", "name": "Metered", "integrationKey": "crm", "type": "http-request",
		"config": map[string]any{"method": "GET", "path": "/metered", "credits": 1}}, 201)
	must(a, "POST", "/customers", map[string]any{"internalId": "meter", "name": "Meter", "aiCreditsRolling30DayLimit": 10}, 201)
	must(b, "POST", "/customers", map[string]any{"internalId": "rated", "name": "Rated"}, 201)
	conn := must(a, "POST", "/connections", map[string]any{"integrationKey": "crm", "tenantId": "meter", "name": "Meter CRM",
		"credentials": map[string]any{"accessToken": credential}}, 201)
	connID, _ := conn["id"].(string)

	// 50 runs at once, alternating between the servers, against 10 credits.
	statuses := fire(50, func(i int) int {
		st, h, m := call(servers[i%2], "POST", "/actions/metered/run?connectionId="+connID, admin, map[string]any{"input": map[string]any{"i": i}})
		if st == http.StatusTooManyRequests && (m["key"] != "ai_credits_exceeded" || h.Get("Retry-After") == "") {
			t.Errorf("credit refusal: %v, Retry-After %q", m, h.Get("Retry-After"))
		}
		return st
	})
	if statuses[200] != 10 || statuses[429] != 40 {
		t.Errorf("credits across two processes: %v, want 10 × 200 and 40 × 429", statuses)
	}
	if n := upHits.Load(); n != 10 {
		t.Errorf("the upstream received %d runs, want 10", n)
	}
	var used float64
	if err := db.SQL().GetContext(ctx, &used, `SELECT coalesce(sum(credits), 0) FROM ai_credit_ledger WHERE workspace_id = $1`, wa.Workspace.ID); err != nil {
		t.Fatal(err)
	}
	if used != 10 {
		t.Errorf("the ledger holds %g credits, want 10", used)
	}

	// 30 requests at once, alternating, from one tenant against 10 a minute: all in one window.
	rated, err := signToken(ctx, db, "twoproc", "rated", "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(t, "the tenant token", rated)
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 15*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
	statuses = fire(30, func(i int) int {
		st, h, m := call(servers[i%2], "GET", "/self", rated, nil)
		if st == http.StatusTooManyRequests && (m["key"] != "rate_limit_exceeded" || h.Get("Retry-After") == "" || h.Get("X-RateLimit-Limit") != "10" ||
			h.Get("X-RateLimit-Remaining") != "0") {
			t.Errorf("rate refusal: %v, headers %v", m, h)
		}
		return st
	})
	if statuses[200] != 10 || statuses[429] != 20 {
		t.Errorf("request limit across two processes: %v, want 10 × 200 and 20 × 429", statuses)
	}

	// Flow runs queued through either process run exactly once, whichever worker claims them.
	must(a, "POST", "/actions", map[string]any{"key": "flowstep", "name": "Flow step", "integrationKey": "crm", "type": "http-request",
		"config": map[string]any{"method": "GET", "path": "/flowstep"}}, 201)
	must(b, "POST", "/flows", map[string]any{"key": "once", "name": "Once", "integrationKey": "crm",
		"config": map[string]any{"steps": []any{map[string]any{"key": "s1", "action": "flowstep"}}}}, 201)
	must(a, "POST", "/customers", map[string]any{"internalId": "flows", "name": "Flows"}, 201)
	fconn := must(b, "POST", "/connections", map[string]any{"integrationKey": "crm", "tenantId": "flows", "name": "Flows CRM",
		"credentials": map[string]any{"accessToken": credential}}, 201)
	const flowRuns = 6
	var runIDs []string
	for i := range flowRuns {
		m := must(servers[i%2], "POST", "/connections/"+fconn["id"].(string)+"/flows/once/run", map[string]any{"input": map[string]any{"i": i}}, 201)
		runIDs = append(runIDs, m["id"].(string))
	}
	for i, id := range runIDs {
		state := ""
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			_, _, m := call(servers[(i+1)%2], "GET", "/flow-runs/"+id, admin, nil)
			if state, _ = m["state"].(string); state == tenancy.RunCompleted || state == tenancy.RunFailed {
				break
			}
		}
		if state != tenancy.RunCompleted {
			t.Errorf("flow run %d: state %q, want %q", i, state, tenancy.RunCompleted)
		}
	}
	time.Sleep(500 * time.Millisecond) // a second claim would have called the upstream by now
	if n := flowHits.Load(); n != flowRuns {
		t.Errorf("%d flow runs called their step %d times, want exactly once each", flowRuns, n)
	}

	// A Console session made on one process works on the other, and signing out on the other
	// ends it on both.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := func(base, path string, vals url.Values, cookie *http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatalf("POST %s%s: %v", base, path, err)
		}
		res.Body.Close()
		return res
	}
	page := func(base string, cookie *http.Cookie) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/tenants", nil)
		req.AddCookie(cookie)
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatalf("GET %s/tenants: %v", base, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	res := form(a, "/signin", url.Values{"email": {seed.AdminEmail}, "password": {seed.DemoPassword}}, nil)
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Value != "" {
			session = ck
		}
	}
	if res.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in on one process: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	registerSecret(t, "the session cookie", session.Value)
	if st := page(b, session); st != http.StatusOK {
		t.Errorf("the session made on one process, on the other: %d, want 200", st)
	}
	form(b, "/signout", nil, session)
	if st := page(a, session); st != http.StatusSeeOther {
		t.Errorf("after signing out on the other process: %d, want 303 to sign-in", st)
	}

	// Sign-in throttling counts failures from both processes together: 5 per account.
	for i := range 5 {
		if st := form(servers[i%2], "/signin", url.Values{"email": {"nobody@twoproc.example"}, "password": {"wrong-password"}}, nil).StatusCode; st != http.StatusUnauthorized {
			t.Errorf("failed sign-in %d: %d, want 401", i+1, st)
		}
	}
	for _, base := range servers {
		if st := form(base, "/signin", url.Values{"email": {"nobody@twoproc.example"}, "password": {"wrong-password"}}, nil).StatusCode; st != http.StatusTooManyRequests {
			t.Errorf("the 6th sign-in, after 5 failures split between the processes: %d, want 429", st)
		}
	}
	checkServerOutput(t)
}

// fire runs n calls at once and counts their statuses.
func fire(n int, call func(i int) int) map[int]int {
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			st := call(i)
			mu.Lock()
			counts[st]++
			mu.Unlock()
		}()
	}
	close(gate)
	wg.Wait()
	return counts
}

// startServe starts `tenantry serve` on a free port and returns its base URL once /readyz
// answers; the process is stopped (SIGTERM) at the end of the test.
func startServe(t *testing.T, bin string, env []string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr, stdoutCopy syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchOutput(t, fmt.Sprintf("tenantry serve (pid %d) stderr", cmd.Process.Pid), &stderr, true)
	watchOutput(t, fmt.Sprintf("tenantry serve (pid %d) stdout", cmd.Process.Pid), &stdoutCopy, false)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		checkServerOutput(t) // the lines written while shutting down too
		if t.Failed() {
			t.Logf("tenantry serve (pid %d) stderr:\n%s", cmd.Process.Pid, stderr.String())
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = stdoutCopy.Write([]byte(sc.Text() + "\n"))
			if m := consoleLineRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- strings.TrimSuffix(m[1], "/"):
				default:
				}
			}
		}
	}()
	var base string
	select {
	case base = <-found:
	case <-exited:
		t.Fatalf("tenantry serve exited before serving:\n%s", stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("tenantry serve printed no address within 90 s:\n%s", stderr.String())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz did not answer 200: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
