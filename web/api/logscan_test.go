package api_test

// Secrets absent from logs (issue 8, item 4), for the API's tests: the same scanner as
// web/logscan_test.go (test code cannot be shared across packages). Every API under test logs
// into logCapture as well as the test log (helpers_test.go), and so does each httptest server's
// net/http error log and the default loggers. The harness registers every secret the tests
// create or learn: workspace secrets, every token it signs or sends, and every string under a
// key naming a secret (credentials, secret, password, token, …) in request and response bodies.
// After every test has run, TestMain fails the binary (printing the offending lines) when any
// line holds a registered secret, anything that looks like a signed token, or a planted
// "SENTINEL-" value.

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
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

// registerBody registers the secrets in a JSON request or response body.
func registerBody(what string, body []byte) {
	if len(body) == 0 || len(body) > 1<<20 {
		return
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		logCapture.registerJSON(what, v, false)
	}
}

// TestLogScanReportsSecrets proves the check fails when it should: a separate capture, fed
// through the same slog handlers the API's logger uses, reports a registered secret (plain,
// quoted and JSON-escaped), a planted sentinel and a token, and nothing else.
func TestLogScanReportsSecrets(t *testing.T) {
	s := newLogScan()
	log := slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.registerJSON("body", map[string]any{"name": "not-a-secret-name", "credentials": map[string]any{"apiKey": "cred-value-1234"},
		"secret": `pa"ss word\1`, "credentialKeys": []any{"accessTokenName"}}, false)
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJ3b3Jrc3BhY2VLZXkiOiJkZW1vIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"

	log.Info("request", "path", "/api/customers", "name", "not-a-secret-name", "keys", "accessTokenName")
	log.Error("api error", "err", "store: value cred-value-1234 refused")
	log.Warn("quoted", "detail", `pa"ss word\1`)
	slog.New(slog.NewJSONHandler(s, nil)).Info("json", "detail", `pa"ss word\1`)
	log.Info("planted", "x", "prefix SENTINEL-abc suffix")
	log.Info("token", "auth", "Bearer "+tok)

	f := s.findings()
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
