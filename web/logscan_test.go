package web

// Secrets absent from logs (issue 8, item 4). Every log line of this test binary — each test
// server's own logger (web.New and the API it mounts), each httptest server's net/http error log,
// and the standard and slog default loggers — is also written into logCapture. The harness
// registers every secret the tests create or learn: the seeded workspace secret and connection
// credentials, session cookies and tokens, passwords and credential values posted in forms,
// secrets and passwords a page reveals. After every test has run, TestMain fails the binary
// (printing the offending lines) when any line holds a registered secret, anything that looks
// like a signed token, or a planted "SENTINEL-" value.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// sentinelPrefix starts every planted secret: a line holding it is a leak whether or not the
// value was registered.
const sentinelPrefix = "SENTINEL-"

// minSecretLen: shorter values ("x", "stolen") would match ordinary words of log lines.
const minSecretLen = 8

// jwtRE matches a signed JWT (header.payload.signature, both JSON parts starting "{").
var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}`)

// logScan collects log lines and the secrets none of them may hold.
type logScan struct {
	mu      sync.Mutex
	lines   []string
	secrets map[string]string // form as it may appear in a line -> what it is
}

func newLogScan() *logScan { return &logScan{secrets: map[string]string{}} }

// logCapture is the package-wide capture every test server logs into.
var logCapture = newLogScan()

// Write takes one or more log lines.
func (s *logScan) Write(p []byte) (int, error) {
	text := strings.TrimRight(string(p), "\n")
	s.mu.Lock()
	s.lines = append(s.lines, strings.Split(text, "\n")...)
	s.mu.Unlock()
	return len(p), nil
}

// register adds a secret (and the forms a log handler would escape it into).
func (s *logScan) register(what, secret string) {
	if len(secret) < minSecretLen {
		return
	}
	forms := []string{secret}
	if q := strconv.Quote(secret); q[1:len(q)-1] != secret {
		forms = append(forms, q[1:len(q)-1])
	}
	if b, err := json.Marshal(secret); err == nil && string(b[1:len(b)-1]) != secret {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	if u := url.QueryEscape(secret); u != secret {
		forms = append(forms, u)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range forms {
		if len(f) >= minSecretLen {
			if _, ok := s.secrets[f]; !ok {
				s.secrets[f] = what
			}
		}
	}
}

// registerJSON registers every string under a key that names a secret (and every string below
// a "credentials" key) in a decoded JSON value.
func (s *logScan) registerJSON(what string, v any, secret bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			s.registerJSON(what+"."+k, c, secret || secretKey(k))
		}
	case []any:
		for _, c := range x {
			s.registerJSON(what, c, secret)
		}
	case string:
		if secret {
			s.register(what, x)
		}
	}
}

var secretKeyRE = regexp.MustCompile(`(?i)(credential|secret|password|token|apikey|api_key|accesskey)`)

// secretKey says whether a key names a secret value (not a list of names such as
// credentialKeys, nor a header name or a type).
func secretKey(k string) bool {
	lk := strings.ToLower(k)
	if strings.HasSuffix(lk, "keys") || strings.HasSuffix(lk, "header") || strings.HasSuffix(lk, "type") ||
		strings.HasSuffix(lk, "count") || strings.HasSuffix(lk, "at") {
		return false
	}
	return secretKeyRE.MatchString(k)
}

// registerForm registers the values of a posted form's secret fields.
func (s *logScan) registerForm(what string, form url.Values) {
	for k, vs := range form {
		if k == "value" || secretKey(k) {
			for _, v := range vs {
				s.register(what+" "+k, v)
			}
		}
	}
}

// revealRE finds a secret a page shows once (a rotated workspace secret, a new member's password).
var revealRE = regexp.MustCompile(`data-testid="(new-secret|new-password)"[^>]*>([^<]+)<`)

// registerPage registers secrets a response reveals.
func (s *logScan) registerPage(body string) {
	for _, m := range revealRE.FindAllStringSubmatch(body, -1) {
		s.register("page "+m[1], strings.TrimSpace(m[2]))
	}
}

// findings returns one message per log line that holds a secret.
func (s *logScan) findings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Index the secrets by their first minSecretLen bytes; slide that window over each line.
	byPrefix := map[string][]string{}
	for sec := range s.secrets {
		byPrefix[sec[:minSecretLen]] = append(byPrefix[sec[:minSecretLen]], sec)
	}
	var out []string
	for n, line := range s.lines {
		var why []string
		if strings.Contains(line, sentinelPrefix) {
			why = append(why, "a planted "+sentinelPrefix+" value")
		}
		if jwtRE.MatchString(line) {
			why = append(why, "a signed token")
		}
	scan:
		for i := 0; i+minSecretLen <= len(line); i++ {
			for _, sec := range byPrefix[line[i:i+minSecretLen]] {
				if strings.HasPrefix(line[i:], sec) {
					why = append(why, s.secrets[sec])
					break scan
				}
			}
		}
		if len(why) > 0 {
			shown := line
			if len(shown) > 2000 {
				shown = shown[:2000] + "…"
			}
			out = append(out, fmt.Sprintf("log line %d holds %s: %s", n+1, strings.Join(why, ", "), shown))
		}
	}
	return out
}

// counts returns how many lines and secret forms the capture holds.
func (s *logScan) counts() (lines, secrets int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines), len(s.secrets)
}

// captureHandler is the slog handler that writes into logCapture at every level.
func captureHandler() slog.Handler {
	return slog.NewTextHandler(logCapture, &slog.HandlerOptions{Level: slog.LevelDebug})
}

func TestMain(m *testing.M) {
	// The standard logger and slog's default write into the capture too (and to stderr, as before).
	slog.SetDefault(slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}), captureHandler())))
	code := m.Run()
	if f := logCapture.findings(); len(f) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d log lines hold secrets:\n", len(f))
		for _, line := range f {
			fmt.Fprintln(os.Stderr, "  "+line)
		}
		code = 1
	} else if testing.Verbose() {
		lines, secrets := logCapture.counts()
		fmt.Printf("log scan: %d log lines, %d registered secret forms, no secret in any line\n", lines, secrets)
	}
	os.Exit(code)
}

// registerSeeded registers the seeded workspace's secret and every connection credential.
func registerSeeded(t *testing.T, db *store.DB, ws *tenancy.Workspace) {
	t.Helper()
	ctx := context.Background()
	wa, err := db.LookupWorkspaceByKey(ctx, seed.WorkspaceKey)
	if err != nil {
		t.Fatalf("look up the seeded workspace: %v", err)
	}
	logCapture.register("the workspace secret", string(wa.Secret))
	var ids []uuid.UUID
	if err := db.SQL().SelectContext(ctx, &ids, `SELECT id FROM connections WHERE workspace_id = $1`, ws.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.InScope(ctx, tenancy.SystemScope(ws.ID), func(tx *store.Tx) error {
		for _, id := range ids {
			c, err := tx.ConnectionCredentials(ctx, id)
			if err != nil {
				return err
			}
			logCapture.registerJSON("seeded connection credentials", c, true)
		}
		return nil
	}); err != nil {
		t.Fatalf("read the seeded credentials: %v", err)
	}
}

// --- The scanner can fail ------------------------------------------------------------------------

// TestLogScanReportsSecrets proves the check fails when it should: a separate capture, fed
// through the same slog handler type the servers use, reports a registered secret (plain,
// quoted and JSON-escaped), a planted sentinel and a token, and nothing else.
func TestLogScanReportsSecrets(t *testing.T) {
	s := newLogScan()
	log := slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.register("a tenant credential", "cred-value-1234")
	s.register("a quoted secret", `pa"ss word\1`)
	s.register("short", "abc") // too short to register
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJ3b3Jrc3BhY2VLZXkiOiJkZW1vIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

	log.Info("request", "path", "/tenants/1", "status", 200)
	log.Error("api error", "err", "store: value cred-value-1234 refused")
	log.Warn("quoted", "detail", `pa"ss word\1`)
	slog.New(slog.NewJSONHandler(s, nil)).Info("json", "detail", `pa"ss word\1`) // JSON-escaped
	log.Info("planted", "x", "prefix SENTINEL-abc suffix")
	log.Info("token", "auth", "Bearer "+tok)
	log.Info("short", "v", "abc abc abc")

	f := s.findings()
	want := []string{"a tenant credential", "a quoted secret", "a quoted secret", "a planted SENTINEL- value", "a signed token"}
	if len(f) != len(want) {
		t.Fatalf("findings = %d, want %d:\n%s", len(f), len(want), strings.Join(f, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(f[i], w) {
			t.Errorf("finding %d = %q, want it to name %q", i, f[i], w)
		}
	}
	if !strings.Contains(f[0], "cred-value-1234") || !strings.HasPrefix(f[0], "log line 2 ") {
		t.Errorf("the finding does not print the offending line: %q", f[0])
	}
}

// TestLogCaptureIsWired: the test servers' own logs reach the package capture (else the scan
// after the suite would pass vacuously), secrets the harness learns are registered, and the
// server's net/http error log is captured too.
func TestLogCaptureIsWired(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(t)
	ck := e.mustSignIn(t, c, seed.AdminEmail)
	r := e.get(t, c, "/tenants")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /tenants: %d", r.StatusCode)
	}
	id := r.Header.Get("X-Request-Id")
	lines, _ := logCapture.counts()
	logCapture.mu.Lock()
	found := false
	for _, l := range logCapture.lines[:lines] {
		if strings.Contains(l, "request_id="+id) && strings.Contains(l, "path=/tenants") {
			found = true
		}
	}
	_, cookieKnown := logCapture.secrets[ck.Value]
	wa, _ := e.db.LookupWorkspaceByKey(context.Background(), seed.WorkspaceKey)
	_, secretKnown := logCapture.secrets[string(wa.Secret)]
	_, credKnown := logCapture.secrets["demo-acme-token"]
	logCapture.mu.Unlock()
	if !found {
		t.Errorf("the access-log line of request %s is not in the capture", id)
	}
	if !cookieKnown || !secretKnown || !credKnown {
		t.Errorf("registered: session cookie %v, workspace secret %v, seeded credential %v", cookieKnown, secretKnown, credKnown)
	}

	// net/http's own error log: a malformed request line is logged by the server, not a handler.
	before, _ := logCapture.counts()
	e.ts.Config.ErrorLog.Print("probe: the server's error log reaches the capture")
	after, _ := logCapture.counts()
	if after != before+1 {
		t.Errorf("the httptest server's ErrorLog wrote %d lines into the capture, want 1", after-before)
	}
}
