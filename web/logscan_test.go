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
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/logscan"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// logCapture is the package-wide capture every test server logs into.
var logCapture = logscan.NewCapture()

// revealRE finds a secret a page shows once (a rotated workspace secret, a new member's password).
var revealRE = regexp.MustCompile(`data-testid="(new-secret|new-password)"[^>]*>([^<]+)<`)

// registerPage registers secrets a response reveals.
func registerPage(body string) {
	for _, m := range revealRE.FindAllStringSubmatch(body, -1) {
		logCapture.Register("page "+m[1], strings.TrimSpace(m[2]))
	}
}

func TestMain(m *testing.M) { logscan.Main(m, logCapture) }

// registerSeeded registers the seeded workspace's secret and every connection credential.
func registerSeeded(t *testing.T, db *store.DB, ws *tenancy.Workspace) {
	t.Helper()
	ctx := context.Background()
	wa, err := db.LookupWorkspaceByKey(ctx, seed.WorkspaceKey)
	if err != nil {
		t.Fatalf("look up the seeded workspace: %v", err)
	}
	logCapture.Register("the workspace secret", string(wa.Secret))
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
			logCapture.RegisterJSON("seeded connection credentials", c, true)
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
	s := logscan.NewCapture()
	log := slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Register("a tenant credential", "cred-value-1234")
	s.Register("a quoted secret", `pa"ss word\1`)
	s.Register("short", "abc") // too short to register
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJ3b3Jrc3BhY2VLZXkiOiJkZW1vIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

	log.Info("request", "path", "/tenants/1", "status", 200)
	log.Error("api error", "err", "store: value cred-value-1234 refused")
	log.Warn("quoted", "detail", `pa"ss word\1`)
	slog.New(slog.NewJSONHandler(s, nil)).Info("json", "detail", `pa"ss word\1`) // JSON-escaped
	log.Info("planted", "x", "prefix SENTINEL-abc suffix")
	log.Info("token", "auth", "Bearer "+tok)
	log.Info("short", "v", "abc abc abc")

	f := s.Findings()
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
	found := false
	for _, l := range logCapture.Lines() {
		if strings.Contains(l, "request_id="+id) && strings.Contains(l, "path=/tenants") {
			found = true
		}
	}
	cookieKnown := logCapture.Known(ck.Value)
	wa, _ := e.db.LookupWorkspaceByKey(context.Background(), seed.WorkspaceKey)
	secretKnown := logCapture.Known(string(wa.Secret))
	credKnown := logCapture.Known("demo-acme-token")
	if !found {
		t.Errorf("the access-log line of request %s is not in the capture", id)
	}
	if !cookieKnown || !secretKnown || !credKnown {
		t.Errorf("registered: session cookie %v, workspace secret %v, seeded credential %v", cookieKnown, secretKnown, credKnown)
	}

	// net/http's own error log: a malformed request line is logged by the server, not a handler.
	before := len(logCapture.Lines())
	e.ts.Config.ErrorLog.Print("probe: the server's error log reaches the capture")
	after := len(logCapture.Lines())
	if after != before+1 {
		t.Errorf("the httptest server's ErrorLog wrote %d lines into the capture, want 1", after-before)
	}
}
