package web

// Shared helpers for the web package's tests: a real Server on a fresh, migrated and seeded
// database behind httptest, and browser-like clients (cookie jar, redirects not followed).

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"tenantry/internal/config"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// lockedBuffer is an io.Writer safe for the server's goroutines and the test to share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv is one server under test with its own database.
type testEnv struct {
	srv *Server
	db  *store.DB
	ts  *httptest.Server
	ws  *tenancy.Workspace // the seeded demo workspace
	cfg *config.Config
}

// newTestEnv builds a Server with web.New on a fresh database seeded with seed.Demo, served by
// httptest. vars are extra environment variables for config.Load (TENANTRY_DATA_DIR is a temp
// dir unless given). The server log is printed when the test fails.
func newTestEnv(t *testing.T, vars map[string]string) *testEnv {
	t.Helper()
	env := map[string]string{"TENANTRY_DATA_DIR": t.TempDir(), "TENANTRY_ENV": "test"}
	for k, v := range vars {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	db := testdb.New(t)
	ctx := context.Background()
	res, err := seed.Demo(ctx, db)
	if err != nil {
		t.Fatalf("seed.Demo: %v", err)
	}
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	registerSeeded(t, db, res.Workspace)
	// The server logs into the test's buffer and the package-wide capture that TestMain scans
	// for secrets (logscan_test.go); so does net/http's own error log of the test server.
	handler := slog.NewTextHandler(io.MultiWriter(logs, logCapture), &slog.HandlerOptions{Level: slog.LevelDebug})
	srv, err := New(cfg, db, slog.New(handler))
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ErrorLog = slog.NewLogLogger(handler, slog.LevelWarn)
	ts.Start()
	t.Cleanup(ts.Close) // runs before the database is dropped (LIFO)
	return &testEnv{srv: srv, db: db, ts: ts, ws: res.Workspace, cfg: cfg}
}

// client is a browser without JavaScript: it keeps cookies and does not follow redirects, so
// tests see every 303.
func (e *testEnv) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// result is a response with its body read.
type result struct {
	*http.Response
	body string
}

// do sends req and reads the whole response.
func do(t *testing.T, c *http.Client, req *http.Request) result {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	// Secrets the request carries or the page reveals may appear in no log line.
	if tok := req.URL.Query().Get("token"); tok != "" {
		logCapture.Register("a token in a URL", tok)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie || ck.Name == portalCookie { // not the flash and notice codes
			logCapture.Register("cookie "+ck.Name, ck.Value)
		}
	}
	registerPage(string(b))
	return result{Response: resp, body: string(b)}
}

// get sends GET path with optional headers given as name, value pairs.
func (e *testEnv) get(t *testing.T, c *http.Client, path string, headers ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, c, req)
}

// postForm sends a form POST with optional headers given as name, value pairs.
func (e *testEnv) postForm(t *testing.T, c *http.Client, path string, form url.Values, headers ...string) result {
	t.Helper()
	logCapture.RegisterForm("POST "+path, form)
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, c, req)
}

// signIn posts the sign-in form.
func (e *testEnv) signIn(t *testing.T, c *http.Client, email, password, next string) result {
	t.Helper()
	form := url.Values{"email": {email}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	return e.postForm(t, c, "/signin", form)
}

// mustSignIn signs in and fails the test unless it succeeded; it returns the session cookie.
func (e *testEnv) mustSignIn(t *testing.T, c *http.Client, email string) *http.Cookie {
	t.Helper()
	r := e.signIn(t, c, email, seed.DemoPassword, "")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: status %d, want 303; body:\n%s", email, r.StatusCode, r.body)
	}
	ck := sessionCookieOf(r.Response)
	if ck == nil || ck.Value == "" {
		t.Fatalf("sign in as %s: no %s cookie set", email, sessionCookie)
	}
	logCapture.Register("a session token", e.sessionToken(t, ck.Value))
	return ck
}

// sessionCookieOf returns the tenantry_session cookie a response sets, or nil.
func sessionCookieOf(resp *http.Response) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			return ck
		}
	}
	return nil
}

// sessionToken decodes a session cookie value with the server's keys and returns the session
// token inside ("" when it does not decode).
func (e *testEnv) sessionToken(t *testing.T, value string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
	cs, err := e.srv.cookies.New(req, sessionCookie)
	if err != nil {
		return ""
	}
	tok, _ := cs.Values["t"].(string)
	return tok
}

// replay sends GET path with only the given session cookie value, from a fresh client, the
// way a thief holding a copied cookie would.
func (e *testEnv) replay(t *testing.T, path, cookieValue string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookieValue})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return do(t, c, req)
}

// wantRedirect fails unless r is a 303 to location.
func wantRedirect(t *testing.T, r result, location string) {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s %s: status %d, want 303 to %s; body:\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, location, r.body)
	}
	if got := r.Header.Get("Location"); got != location {
		t.Fatalf("%s %s: Location %q, want %q", r.Request.Method, r.Request.URL.Path, got, location)
	}
}

// testID returns the text of the first element with data-testid=id, or ok=false.
func testID(body, id string) (string, bool) {
	re := regexp.MustCompile(`data-testid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return strings.TrimSpace(m[1]), true
}

var (
	scriptTagRE = regexp.MustCompile(`(?is)<script\b([^>]*)>`)
	srcAttrRE   = regexp.MustCompile(`(?i)\ssrc\s*=`)
	styleTagRE  = regexp.MustCompile(`(?i)<style\b`)
	styleAttrRE = regexp.MustCompile(`(?i)<[^>]*\sstyle\s*=`)
	handlerRE   = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
)

// checkStrictHTML fails unless r is an HTML response under the strict CSP whose body needs
// nothing the policy forbids: no inline script, no inline event handler, no inline style.
func checkStrictHTML(t *testing.T, what string, r result) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q, want text/html", what, ct)
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("%s: CSP %q lacks script-src 'self'", what, csp)
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP %q allows unsafe-inline/unsafe-eval", what, csp)
	}
	if !strings.Contains(csp, "style-src 'self'") {
		t.Errorf("%s: CSP %q lacks style-src 'self'", what, csp)
	}
	if !strings.Contains(r.body, "<html") {
		t.Errorf("%s: body is not an HTML page:\n%s", what, r.body)
	}
	for _, m := range scriptTagRE.FindAllStringSubmatch(r.body, -1) {
		if !srcAttrRE.MatchString(m[1]) {
			t.Errorf("%s: inline script %q", what, m[0])
		}
	}
	if m := styleTagRE.FindString(r.body); m != "" {
		t.Errorf("%s: <style> element in body", what)
	}
	if m := styleAttrRE.FindString(r.body); m != "" {
		t.Errorf("%s: style attribute in %q", what, m)
	}
	if m := handlerRE.FindString(r.body); m != "" {
		t.Errorf("%s: inline event handler in %q", what, m)
	}
}
