package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tenantry/internal/auth"
	"tenantry/internal/config"
	"tenantry/internal/secrets"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// syncBuffer is a bytes.Buffer the program's goroutines and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envOf turns a map into a getenv that sees nothing else: in particular not the DATABASE_URL or
// TEST_DATABASE_URL of the environment the tests run in.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// traversableTempDir is a fresh temp dir that the embedded PostgreSQL can reach when this
// process is root (the server then runs as the "postgres" user).
func traversableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var consoleLineRE = regexp.MustCompile(`Console:\s+(http://[^\s/]+/)`)

// TestServeWithEmbeddedPostgres runs the real entry point without DATABASE_URL: it must start
// its own PostgreSQL, migrate, seed, serve the Console, and stop everything it started when the
// context ends.
func TestServeWithEmbeddedPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	dataDir := traversableTempDir(t)
	getenv := envOf(map[string]string{"TENANTRY_DATA_DIR": dataDir, "TENANTRY_LOG_LEVEL": "debug"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, pw, stderr)
		pw.Close()
		done <- err
	}()
	consoleURL := make(chan string, 1)
	stdoutDone := make(chan struct{})
	go func() {
		defer close(stdoutDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			stdout.Write([]byte(line + "\n"))
			if m := consoleLineRE.FindStringSubmatch(line); m != nil {
				select {
				case consoleURL <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	pidFile := filepath.Join(dataDir, "postgres", "data", "postmaster.pid")
	stopped := false
	t.Cleanup(func() {
		if !stopped { // a failed test must not leave a PostgreSQL running
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
			}
		}
		stopLeakedPostmaster(t, pidFile)
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})

	var base string
	select {
	case base = <-consoleURL:
	case err := <-done:
		stopped = true
		t.Fatalf("run returned before serving: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("no Console URL on stdout within 90 s")
	}
	base = strings.TrimSuffix(base, "/")
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("the embedded PostgreSQL is not running under TENANTRY_DATA_DIR: %v", err)
	}

	newClient := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	fetch := func(c *http.Client, method, path string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	hasSession := func(resp *http.Response) bool {
		for _, ck := range resp.Cookies() {
			if ck.Name == "tenantry_session" && ck.MaxAge >= 0 {
				return true
			}
		}
		return false
	}

	c := newClient()
	if resp, body := fetch(c, http.MethodGet, "/readyz", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"ready"`) {
		t.Fatalf("GET /readyz: %d %s", resp.StatusCode, body)
	}

	resp, body := fetch(c, http.MethodPost, "/signin", url.Values{"email": {seed.AdminEmail}, "password": {seed.DemoPassword}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || !hasSession(resp) {
		t.Fatalf("sign in as the demo admin: %d Location %q session %v\n%s", resp.StatusCode, resp.Header.Get("Location"), hasSession(resp), body)
	}
	resp, body = fetch(c, http.MethodGet, "/", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Demo Workspace") {
		t.Fatalf("GET / signed in: %d, want 200 with the workspace name\n%s", resp.StatusCode, body)
	}

	bad := newClient()
	resp, body = fetch(bad, http.MethodPost, "/signin", url.Values{"email": {seed.AdminEmail}, "password": {"not-the-password"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `data-testid="signin-error"`) || hasSession(resp) {
		t.Fatalf("wrong password: %d session %v, want 401 with the error and no session\n%s", resp.StatusCode, hasSession(resp), body)
	}
	if resp, _ := fetch(bad, http.MethodGet, "/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / after a failed sign-in: %d, want 303 to /signin", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("run returned %v after the context ended, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return within 20 s of the context ending")
	}
	<-stdoutDone // run closed its stdout: the whole banner has been read
	if !strings.Contains(stdout.String(), seed.AdminEmail+" / "+seed.DemoPassword) {
		t.Errorf("the banner does not show the demo sign-in:\n%s", stdout.String())
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the embedded PostgreSQL is still running after run returned (%s: %v)", pidFile, err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after run returned")
	}
}

// stopLeakedPostmaster stops a postmaster that run failed to stop (a regression the test reports
// separately), so that it does not outlive its deleted data directory.
func stopLeakedPostmaster(t *testing.T, pidFile string) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return
	}
	t.Logf("stopping the leaked postmaster %d", pid)
	_ = syscall.Kill(pid, syscall.SIGINT) // fast shutdown
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(pidFile); errors.Is(err, os.ErrNotExist) {
			return
		}
	}
}

func TestHelpAndUnknownCommand(t *testing.T) {
	ctx := context.Background()
	// Only "help": "-h" and "--help" reach serve's flag parser (see the report), not printUsage.
	for _, arg := range []string{"help"} {
		var stdout, stderr bytes.Buffer
		if err := run(ctx, []string{arg}, envOf(nil), &stdout, &stderr); err != nil {
			t.Fatalf("run %s: %v", arg, err)
		}
		out := stdout.String()
		for _, want := range []string{"serve", "migrate", "seed", "manager add"} {
			if !strings.Contains(out, want) {
				t.Errorf("run %s: usage does not mention %q", arg, want)
			}
		}
		for _, v := range config.Vars {
			if !strings.Contains(out, v.Name) {
				t.Errorf("run %s: usage does not mention %s", arg, v.Name)
			}
		}
	}

	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"frobnicate"}, envOf(nil), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("unknown command: err = %v, want one naming it", err)
	}
	if !strings.Contains(stderr.String(), "Usage:") {
		t.Errorf("unknown command: no usage on stderr")
	}
}

func TestProductionRefusesToStartWithoutKeys(t *testing.T) {
	dataDir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"},
		envOf(map[string]string{"TENANTRY_ENV": "production", "TENANTRY_DATA_DIR": dataDir}), &stdout, &stderr)
	if err == nil {
		t.Fatal("production without keys started")
	}
	for _, want := range []string{"TENANTRY_SESSION_KEYS", "TENANTRY_ENCRYPTION_KEYS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	// Nothing was started or generated on the way to the refusal.
	if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
		t.Errorf("production refusal left files in the data dir: %v", entries)
	}
}

// TestMaintenanceCommands runs migrate, seed (twice) and manager add against one database.
func TestMaintenanceCommands(t *testing.T) {
	ctx := context.Background()
	dbURL := testdb.URL(t)
	encSpec := secrets.GenerateKeySpec("k1")
	sk := make([]byte, 64)
	if _, err := rand.Read(sk); err != nil {
		t.Fatal(err)
	}
	getenv := envOf(map[string]string{
		"DATABASE_URL":             dbURL,
		"TENANTRY_DATA_DIR":        t.TempDir(),
		"TENANTRY_ENCRYPTION_KEYS": encSpec,
		"TENANTRY_SESSION_KEYS":    base64.StdEncoding.EncodeToString(sk),
	})
	runOK := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(ctx, args, getenv, &stdout, &stderr); err != nil {
			t.Fatalf("run %v: %v\nstderr:\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}

	if out := runOK("migrate"); !regexp.MustCompile(`database migrated to version [1-9]\d*`).MatchString(out) {
		t.Errorf("migrate: %q", out)
	}
	if out := runOK("seed"); !strings.Contains(out, "created") {
		t.Errorf("first seed: %q, want created", out)
	}
	if out := runOK("seed"); !strings.Contains(out, "already existed") {
		t.Errorf("second seed: %q, want already existed", out)
	}

	out := runOK("manager", "add", "--email", "new@x.test", "--workspace", seed.WorkspaceKey, "--role", "support")
	m := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("manager add printed no generated password: %q", out)
	}
	password := m[1]
	if len(password) < auth.MinPasswordLength {
		t.Errorf("generated password %q is shorter than %d", password, auth.MinPasswordLength)
	}

	ring, err := secrets.ParseKeyRing(encSpec)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, dbURL, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mgr, memberships, err := db.LookupManagerByEmail(ctx, "new@x.test")
	if err != nil {
		t.Fatalf("the new manager is not found: %v", err)
	}
	if !auth.CheckPassword(mgr.PasswordHash, password) {
		t.Error("the printed password does not match the stored hash")
	}
	if len(memberships) != 1 || memberships[0].WorkspaceKey != seed.WorkspaceKey || memberships[0].Role != tenancy.RoleSupport {
		t.Errorf("memberships = %+v, want support in %s", memberships, seed.WorkspaceKey)
	}
	// The workspace secret the seed sealed opens with the same key ring.
	if wa, err := db.LookupWorkspaceByKey(ctx, seed.WorkspaceKey); err != nil || len(wa.Secret) == 0 {
		t.Errorf("workspace secret does not open with the configured keys: %v", err)
	}

	// Mistakes are errors, not silent no-ops.
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"manager", "add", "--email", "x@x.test", "--workspace", "no-such"}, getenv, &stdout, &stderr); err == nil {
		t.Error("manager add to an unknown workspace succeeded")
	}
	if err := run(ctx, []string{"manager", "add", "--email", "x@x.test", "--workspace", seed.WorkspaceKey, "--role", "owner"}, getenv, &stdout, &stderr); err == nil {
		t.Error("manager add with an invalid role succeeded")
	}
}
