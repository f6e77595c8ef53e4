// Package logscan finds secrets in log output, for the tests that prove secrets never reach a
// log line (issue 8, item 4). The tests register every secret they create or learn (workspace
// secrets, tokens, credentials, planted "SENTINEL-" values); a Capture collects log lines; a line
// that holds a registered secret (in any form a log handler may escape it into), a planted
// sentinel or, where asked, anything shaped like a signed token is a leak. Used by the web, API
// and server-process tests; it writes nothing and holds no production logic.
package logscan

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

// Sentinel starts every planted secret: a line holding it is a leak whether or not the value
// was registered.
const Sentinel = "SENTINEL-"

// MinLen is the shortest secret registered: shorter values ("x", "stolen") would match ordinary
// words of log lines.
const MinLen = 8

// tokenRE matches a signed JWT (header.payload.signature, both JSON parts starting "{").
var tokenRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}`)

// Secrets is a set of secrets no line may hold, each under the forms it may take in a line.
type Secrets struct {
	mu    sync.Mutex
	forms map[string]string // form as it may appear in a line -> what it is
}

// NewSecrets returns an empty set.
func NewSecrets() *Secrets { return &Secrets{forms: map[string]string{}} }

// Register adds a secret and the forms a log handler would escape it into (Go-quoted,
// JSON-escaped, URL-escaped). Values shorter than MinLen are ignored.
func (s *Secrets) Register(what, secret string) {
	if len(secret) < MinLen {
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
		if _, ok := s.forms[f]; !ok && len(f) >= MinLen {
			s.forms[f] = what
		}
	}
}

// RegisterJSON registers every string under a key that names a secret (and every string below
// such a key) in a decoded JSON value.
func (s *Secrets) RegisterJSON(what string, v any, secret bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			s.RegisterJSON(what+"."+k, c, secret || SecretKey(k))
		}
	case []any:
		for _, c := range x {
			s.RegisterJSON(what, c, secret)
		}
	case string:
		if secret {
			s.Register(what, x)
		}
	}
}

// RegisterForm registers the values of a posted form's secret fields (and of "value", the
// Console's credential value field).
func (s *Secrets) RegisterForm(what string, form url.Values) {
	for k, vs := range form {
		if k == "value" || SecretKey(k) {
			for _, v := range vs {
				s.Register(what+" "+k, v)
			}
		}
	}
}

var secretKeyRE = regexp.MustCompile(`(?i)(credential|secret|password|token|apikey|api_key|accesskey)`)

// SecretKey says whether a key names a secret value (not a list of names such as
// credentialKeys, nor a header name, a type, a count or a time).
func SecretKey(k string) bool {
	lk := strings.ToLower(k)
	if strings.HasSuffix(lk, "keys") || strings.HasSuffix(lk, "header") || strings.HasSuffix(lk, "type") ||
		strings.HasSuffix(lk, "count") || strings.HasSuffix(lk, "at") {
		return false
	}
	return secretKeyRE.MatchString(k)
}

// Known reports whether form is registered (as a secret or one of its forms).
func (s *Secrets) Known(form string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.forms[form]
	return ok
}

// Len is how many forms are registered.
func (s *Secrets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.forms)
}

// Checker returns a function that says why a line leaks (nil: it does not). With tokens, any
// token-shaped value is a leak too, registered or not. It snapshots the registered secrets.
func (s *Secrets) Checker(tokens bool) func(line string) []string {
	s.mu.Lock()
	// Index the secrets by their first MinLen bytes; slide that window over each line.
	byPrefix := map[string][]string{}
	what := make(map[string]string, len(s.forms))
	for f, w := range s.forms {
		byPrefix[f[:MinLen]] = append(byPrefix[f[:MinLen]], f)
		what[f] = w
	}
	s.mu.Unlock()
	return func(line string) []string {
		var why []string
		if strings.Contains(line, Sentinel) {
			why = append(why, "a planted "+Sentinel+" value")
		}
		if tokens && tokenRE.MatchString(line) {
			why = append(why, "a signed token")
		}
		for i := 0; i+MinLen <= len(line); i++ {
			for _, f := range byPrefix[line[i:i+MinLen]] {
				if strings.HasPrefix(line[i:], f) {
					return append(why, what[f])
				}
			}
		}
		return why
	}
}

// Capture is a log sink (an io.Writer for slog handlers and log.Logger) with the secrets its
// lines may not hold.
type Capture struct {
	*Secrets
	mu    sync.Mutex
	lines []string
}

// NewCapture returns an empty capture.
func NewCapture() *Capture { return &Capture{Secrets: NewSecrets()} }

// Write takes one or more log lines.
func (c *Capture) Write(p []byte) (int, error) {
	text := strings.TrimRight(string(p), "\n")
	c.mu.Lock()
	c.lines = append(c.lines, strings.Split(text, "\n")...)
	c.mu.Unlock()
	return len(p), nil
}

// Lines returns a copy of the lines captured so far.
func (c *Capture) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// Handler is a slog handler that writes into the capture at every level.
func (c *Capture) Handler() slog.Handler {
	return slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug})
}

// Findings returns one message per captured line that leaks (tokens count as leaks).
func (c *Capture) Findings() []string {
	check := c.Checker(true)
	var out []string
	for n, line := range c.Lines() {
		if why := check(line); len(why) > 0 {
			out = append(out, fmt.Sprintf("log line %d holds %s: %s", n+1, strings.Join(why, ", "), Shorten(line, 2000)))
		}
	}
	return out
}

// Shorten cuts a line for a report.
func Shorten(line string, n int) string {
	if len(line) > n {
		return line[:n] + "…"
	}
	return line
}

// Main is a test binary's TestMain: slog's default logger writes into c as well as stderr, the
// tests run, and the binary fails (printing the offending lines) when any captured line leaks.
func Main(m *testing.M, c *Capture) {
	slog.SetDefault(slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}), c.Handler())))
	code := m.Run()
	if f := c.Findings(); len(f) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d log lines hold secrets:\n", len(f))
		for _, line := range f {
			fmt.Fprintln(os.Stderr, "  "+line)
		}
		code = 1
	} else if testing.Verbose() {
		fmt.Printf("log scan: %d log lines, %d registered secret forms, no secret in any line\n", len(c.Lines()), c.Len())
	}
	os.Exit(code)
}
