package api_test

// Secrets absent from logs (issue 8, item 4), for the API's tests, with the scanner in
// internal/logscan shared with web and cmd/tenantry. Every API under test logs
// into logCapture as well as the test log (helpers_test.go), and so does each httptest server's
// net/http error log and the default loggers. The harness registers every secret the tests
// create or learn: workspace secrets, every token it signs or sends, and every string under a
// key naming a secret (credentials, secret, password, token, …) in request and response bodies.
// After every test has run, TestMain fails the binary (printing the offending lines) when any
// line holds a registered secret, anything that looks like a signed token, or a planted
// "SENTINEL-" value.

import (
	"encoding/json"
	"log/slog"
	"strings"
	"tenantry/internal/logscan"
	"testing"
)

// logCapture is the package-wide capture every API under test logs into.
var logCapture = logscan.NewCapture()

func TestMain(m *testing.M) { logscan.Main(m, logCapture) }

// registerBody registers the secrets in a JSON request or response body.
func registerBody(what string, body []byte) {
	if len(body) == 0 || len(body) > 1<<20 {
		return
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		logCapture.RegisterJSON(what, v, false)
	}
}

// TestLogScanReportsSecrets proves the check fails when it should: a separate capture, fed
// through the same slog handlers the API's logger uses, reports a registered secret (plain,
// quoted and JSON-escaped), a planted sentinel and a token, and nothing else.
func TestLogScanReportsSecrets(t *testing.T) {
	s := logscan.NewCapture()
	log := slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.RegisterJSON("body", map[string]any{"name": "not-a-secret-name", "credentials": map[string]any{"apiKey": "cred-value-1234"},
		"secret": `pa"ss word\1`, "credentialKeys": []any{"accessTokenName"}}, false)
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJ3b3Jrc3BhY2VLZXkiOiJkZW1vIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

	log.Info("request", "path", "/api/customers", "name", "not-a-secret-name", "keys", "accessTokenName")
	log.Error("api error", "err", "store: value cred-value-1234 refused")
	log.Warn("quoted", "detail", `pa"ss word\1`)
	slog.New(slog.NewJSONHandler(s, nil)).Info("json", "detail", `pa"ss word\1`)
	log.Info("planted", "x", "prefix SENTINEL-abc suffix")
	log.Info("token", "auth", "Bearer "+tok)

	f := s.Findings()
	want := []string{"credentials.apiKey", "body.secret", "body.secret", "a planted SENTINEL- value", "a signed token"}
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
