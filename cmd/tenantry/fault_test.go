package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"

	"tenantry/internal/pgembed"
	"tenantry/internal/secrets"
	"tenantry/internal/store"
)

// faultSample is one answered (or failed) request of the load loop.
type faultSample struct {
	start, end time.Time
	status     int // 0: transport error
	body       string
	key        string // the field key this request set; "" for a read (GET /api/self)
}

// TestDatabaseRestartDuringLoad runs the real binary on a private PostgreSQL cluster, keeps it
// under write load (PATCH /api/self, each request adding one unique field), stops PostgreSQL
// (fast shutdown) for 3 s and starts it again on the same port. While it is down every request
// must fail fast (under 5 s) with a 503 in the SDK's error shape and /readyz must say so; within
// 5 s of the database returning requests succeed again; and every field a 2xx acknowledged is in
// the database afterwards.
func TestDatabaseRestartDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster, builds the binary and stops the database under load")
	}
	ctx := context.Background()
	dir := traversableTempDir(t)
	bin := filepath.Join(dir, "tenantry")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	if out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// A private cluster this test may stop and restart.
	pgDir := filepath.Join(dir, "pg")
	cluster, err := pgembed.Start(ctx, pgembed.Options{Dir: pgDir})
	if err != nil {
		t.Fatalf("start the private PostgreSQL: %v", err)
	}
	dataDir := filepath.Join(pgDir, "data")
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	t.Cleanup(func() {
		_ = cluster.Stop()                          // the first postmaster, if the test failed before stopping it
		if _, err := os.Stat(pidFile); err == nil { // the restarted one, which cluster does not own
			if err := pgCtl(dataDir, "stop", "-m", "fast", "-w", "-t", "30", "-D", dataDir); err != nil {
				t.Logf("pg_ctl stop: %v", err)
			}
		}
		stopLeakedPostmaster(t, pidFile) // if pg_ctl could not
		if t.Failed() {
			if b, err := os.ReadFile(cluster.LogPath()); err == nil {
				t.Logf("postgres.log (tail):\n%s", tail(string(b), 4000))
			}
		}
	})
	if err := cluster.EnsureDatabase(ctx, "tenantry"); err != nil {
		t.Fatal(err)
	}
	dbURL := cluster.URL("tenantry")

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
		"TENANTRY_ENCRYPTION_KEYS="+encSpec, "TENANTRY_SESSION_KEYS="+base64.StdEncoding.EncodeToString(sk), "TENANTRY_LOG_LEVEL=error")

	cmd := exec.Command(bin, "workspace", "create", "--key", "fault", "--name", "Fault", "--json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("workspace create: %v %s", err, out)
	}
	var created struct{ Secret string }
	if err := json.Unmarshal(out, &created); err != nil || created.Secret == "" {
		t.Fatalf("workspace create printed %q", out)
	}
	registerSecret(t, "the workspace secret", created.Secret)
	registerSecret(t, "the encryption key ring", encSpec)
	registerSecret(t, "the session key", base64.StdEncoding.EncodeToString(sk))
	base := startServe(t, bin, env)

	ring, err := secrets.ParseKeyRing(encSpec)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, dbURL, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 4
	tokens := make([]string, workers)
	for g := range workers {
		if tokens[g], err = signToken(ctx, db, "fault", fmt.Sprintf("load-%d", g), "", false, time.Hour); err != nil {
			t.Fatal(err)
		}
		registerSecret(t, "a tenant token", tokens[g])
	}
	db.Close()

	client := &http.Client{Timeout: 15 * time.Second}
	do := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for g := range workers { // provisions each tenant
		if st, body := do("GET", "/api/self", tokens[g], ""); st != 200 {
			t.Fatalf("GET /api/self for load-%d: %d %s", g, st, body)
		}
	}

	// The load: each worker adds field f<g>_<n> = n to its own tenant, one request at a time.
	stopLoad := make(chan struct{})
	var mu sync.Mutex
	var samples []faultSample
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				key := fmt.Sprintf("f%d_%d", g, n)
				s := faultSample{key: key, start: time.Now()}
				s.status, s.body = do("PATCH", "/api/self", tokens[g], fmt.Sprintf(`{"fields":{%q:%d}}`, key, n))
				s.end = time.Now()
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
				if s.status < 200 || s.status > 299 {
					time.Sleep(20 * time.Millisecond) // failing fast must not become a busy loop
				}
			}
		}()
	}
	// Readers: GET /api/self, the coalesced scoped read (store/readbatch.go), for every tenant at once.
	for r := range 2 * workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				s := faultSample{start: time.Now()}
				s.status, s.body = do("GET", "/api/self", tokens[r%workers], "")
				s.end = time.Now()
				if s.status == 200 && !strings.Contains(s.body, fmt.Sprintf(`"internalId":"load-%d"`, r%workers)) {
					s.status, s.body = -1, "another tenant's answer: "+s.body
				}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
				if s.status < 200 || s.status > 299 {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	type readySample struct {
		at     time.Time
		status int
		took   time.Duration
	}
	var readies []readySample
	readyDone := make(chan struct{})
	go func() {
		defer close(readyDone)
		for {
			select {
			case <-stopLoad:
				return
			default:
			}
			start := time.Now()
			st, _ := do("GET", "/readyz", "", "")
			mu.Lock()
			readies = append(readies, readySample{at: start, status: st, took: time.Since(start)})
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}()

	time.Sleep(2 * time.Second)
	stopAt := time.Now()
	if err := pgCtl(dataDir, "stop", "-m", "fast", "-w", "-t", "30", "-D", dataDir); err != nil {
		close(stopLoad)
		wg.Wait()
		t.Fatalf("pg_ctl stop: %v", err)
	}
	downAt := time.Now()
	time.Sleep(3 * time.Second)
	restartAt := time.Now()
	// restart reuses postmaster.opts: the same binary, port and settings as before.
	if err := pgCtl(dataDir, "restart", "-m", "fast", "-w", "-t", "60", "-D", dataDir, "-l", cluster.LogPath()); err != nil {
		close(stopLoad)
		wg.Wait()
		t.Fatalf("pg_ctl restart: %v", err)
	}
	upAt := time.Now()
	time.Sleep(5 * time.Second)
	close(stopLoad)
	wg.Wait()
	<-readyDone
	t.Logf("stop took %v, down for %v (until restart began), restart took %v",
		downAt.Sub(stopAt).Round(time.Millisecond), restartAt.Sub(downAt).Round(time.Millisecond), upAt.Sub(restartAt).Round(time.Millisecond))

	// (a) Requests that overlap the outage fail fast, with a 503 in the SDK's error shape.
	statusCount := map[int]int{}
	var slowest time.Duration
	var downFails, downFailMax time.Duration
	downN := 0
	firstOKAfterUp := time.Time{}
	acked := map[string]bool{}
	shapes := map[string]int{}
	reported, reads := 0, 0
	var firstReadAfterUp time.Time
	report := func(format string, args ...any) {
		t.Helper()
		if reported++; reported <= 8 {
			t.Errorf(format, args...)
		}
	}
	for _, s := range samples {
		statusCount[s.status]++
		took := s.end.Sub(s.start)
		slowest = max(slowest, took)
		if s.status >= 200 && s.status < 300 {
			if s.key == "" {
				reads++
				if s.start.After(upAt) && (firstReadAfterUp.IsZero() || s.end.Before(firstReadAfterUp)) {
					firstReadAfterUp = s.end
				}
				continue
			}
			acked[s.key] = true
			if s.start.After(upAt) && (firstOKAfterUp.IsZero() || s.end.Before(firstOKAfterUp)) {
				firstOKAfterUp = s.end
			}
			continue
		}
		// A failure: it must have overlapped the outage [stopAt, upAt].
		if s.end.Before(stopAt) || s.start.After(upAt.Add(5*time.Second)) {
			report("%s failed outside the outage window: %d %s", s.key, s.status, s.body)
		}
		downN++
		downFails += took
		downFailMax = max(downFailMax, took)
		if took > 5*time.Second {
			report("%s took %v to fail, want under 5 s", s.key, took)
		}
		var e struct{ Type, Key, Message string }
		if s.status == 0 || json.Unmarshal([]byte(s.body), &e) != nil || e.Type == "" || e.Message == "" {
			report("%s failed with %d %q, want the SDK's JSON error", s.key, s.status, s.body)
		}
		shapes[fmt.Sprintf("%d %s/%s", s.status, e.Type, e.Key)]++
		if s.status != http.StatusServiceUnavailable || e.Key != "service_unavailable" {
			report("%s failed with %d %s, want 503 service_unavailable", s.key, s.status, strings.TrimSpace(s.body))
		}
	}
	t.Logf("load: %d requests, statuses %v, slowest %v; %d failures (%v), mean %v, max %v",
		len(samples), statusCount, slowest.Round(time.Millisecond), downN, shapes,
		(downFails / time.Duration(max(downN, 1))).Round(time.Millisecond), downFailMax.Round(time.Millisecond))
	if downN == 0 {
		t.Error("no request failed while PostgreSQL was down: the outage was not exercised")
	}
	if reads == 0 {
		t.Error("no GET /api/self succeeded")
	} else if firstReadAfterUp.IsZero() || firstReadAfterUp.Sub(upAt) > 5*time.Second {
		t.Errorf("reads did not recover within 5 s of PostgreSQL returning (first: %v)", firstReadAfterUp)
	}

	// (c) Recovery within 5 s of the database returning.
	if firstOKAfterUp.IsZero() {
		t.Error("no 2xx after PostgreSQL returned")
	} else {
		rec := firstOKAfterUp.Sub(upAt)
		t.Logf("first 2xx %v after PostgreSQL accepted connections again", rec.Round(time.Millisecond))
		if rec > 5*time.Second {
			t.Errorf("recovery took %v, want under 5 s", rec)
		}
	}

	// (b) /readyz: not ready while down, ready again after.
	var readyDown, readyDownBad int
	var readyBackAt time.Time
	var readyMax time.Duration
	for _, r := range readies {
		readyMax = max(readyMax, r.took)
		switch {
		case r.at.After(downAt) && r.at.Add(r.took).Before(restartAt):
			readyDown++
			if r.status != http.StatusServiceUnavailable {
				readyDownBad++
				t.Errorf("/readyz answered %d while PostgreSQL was down, want 503", r.status)
			}
		case r.at.After(upAt) && r.status == 200 && readyBackAt.IsZero():
			readyBackAt = r.at.Add(r.took)
		}
	}
	if readyDown == 0 {
		t.Error("no /readyz probe fell inside the outage")
	}
	if readyBackAt.IsZero() {
		t.Error("/readyz never answered 200 after PostgreSQL returned")
	} else {
		t.Logf("/readyz: %d probes while down (all 503: %v), ready again %v after restart, slowest probe %v",
			readyDown, readyDownBad == 0, readyBackAt.Sub(upAt).Round(time.Millisecond), readyMax.Round(time.Millisecond))
		if readyBackAt.Sub(upAt) > 5*time.Second {
			t.Errorf("/readyz took %v to report ready again", readyBackAt.Sub(upAt))
		}
	}

	// (d) Every acknowledged field is in the database.
	raw, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var rows []struct {
		InternalID string `db:"internal_id"`
		Fields     []byte `db:"fields"`
	}
	if err := raw.SelectContext(ctx, &rows, `SELECT t.internal_id, t.fields FROM tenants t JOIN workspaces w ON w.id = t.workspace_id
		WHERE w.key = 'fault' AND t.internal_id LIKE 'load-%'`); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, r := range rows {
		var f map[string]any
		if err := json.Unmarshal(r.Fields, &f); err != nil {
			t.Fatal(err)
		}
		for k := range f {
			found[k] = true
		}
	}
	var missing []string
	for k := range acked {
		if !found[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	var updated int
	if err := raw.GetContext(ctx, &updated, `SELECT count(*) FROM activity_log a JOIN workspaces w ON w.id = a.workspace_id
		WHERE w.key = 'fault' AND a.type = 'tenant.updated'`); err != nil {
		t.Fatal(err)
	}
	t.Logf("acknowledged %d writes; %d fields found (%d unacknowledged but committed); %d tenant.updated entries",
		len(acked), len(found), len(found)-len(acked)+len(missing), updated)
	if len(acked) == 0 {
		t.Error("no write was acknowledged")
	}
	if len(missing) > 0 {
		t.Errorf("%d acknowledged writes are not in the database: %v", len(missing), missing)
	}
	if updated < len(acked) || updated != len(found) {
		t.Errorf("%d tenant.updated entries for %d acknowledged and %d stored writes", updated, len(acked), len(found))
	}
	checkServerOutput(t)
}

// pgCtl runs the pg_ctl next to the postgres binary that served dataDir (postmaster.opts names
// it), as the owner of dataDir: pg_ctl refuses to run as root.
func pgCtl(dataDir string, args ...string) error {
	opts, err := os.ReadFile(filepath.Join(dataDir, "postmaster.opts"))
	if err != nil {
		return err
	}
	postgres, _, _ := strings.Cut(strings.TrimSpace(string(opts)), " ")
	fi, err := os.Stat(dataDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(postgres), "pg_ctl"), args...)
	cmd.Dir = filepath.Dir(dataDir)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && st.Uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: st.Uid, Gid: st.Gid}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
