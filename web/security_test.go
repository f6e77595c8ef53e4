package web

// Security checks as tests (issue 8, item 4), generated from the route tables so that a new
// route cannot escape them:
//
//   - every non-GET Console route refuses a cross-origin POST (a foreign Origin, or
//     Sec-Fetch-Site: cross-site / same-site) from a signed-in admin with 403 and changes no row;
//     a same-origin request is not refused by that layer;
//   - every GET Console route, the portal's pages and the error pages carry a strict CSP (no
//     'unsafe-inline' or 'unsafe-eval' for scripts), nosniff and a frame policy, and their HTML
//     needs nothing the policy forbids (inline script, on*= handlers, javascript: URLs);
//   - an admin demoted in another session loses write access on their next request, and every
//     session of a removed member ends;
//   - every kind of secret, created through the real Console and API, is absent in clear from
//     every column of every table, and its ciphertext or hash column does not hold it.
//
// What console_auth_test.go already covers (cookie flags, rotation at sign-in, sign-out,
// throttling, cross-origin sign-in and sign-out) is not repeated here.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"tenantry/internal/auth"
	"tenantry/internal/logscan"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// copRefusal is the text http.CrossOriginProtection's default deny handler answers with.
const copRefusal = "cross-origin request detected"

// --- 1. Cross-origin POSTs, every Console write -------------------------------------------------

func TestSecurityCrossOriginRefusedOnEveryConsoleWrite(t *testing.T) {
	e := newConsoleAttack(t)
	admin := e.signedIn(t, seed.AdminEmail)
	host := strings.TrimPrefix(e.ts.URL, "http://")

	type write struct{ pattern, path string }
	var writes []write
	for _, rt := range e.srv.consoleRoutes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if method == http.MethodGet || method == http.MethodHead {
			continue
		}
		if method != http.MethodPost {
			t.Errorf("route %s: the test sends form POSTs only; teach it %s", rt.pattern, method)
			continue
		}
		_, paths, err := e.fill(t, path, true)
		if err != nil {
			t.Errorf("route not covered by the cross-origin check: %s: %v", rt.pattern, err)
			continue
		}
		writes = append(writes, write{rt.pattern, paths[0]})
	}
	if len(writes) < 30 {
		t.Fatalf("only %d Console writes in the route table: the sweep is not sweeping", len(writes))
	}
	// Sign-out last: the same-origin control below really signs the admin out.
	sort.SliceStable(writes, func(i, j int) bool {
		return writes[j].pattern == "POST /signout" && writes[i].pattern != "POST /signout"
	})

	crossOrigin := []struct {
		name    string
		headers []string
	}{
		{"Origin https://evil.example", []string{"Origin", "https://evil.example"}},
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin with Sec-Fetch-Site cross-site", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"Origin null", []string{"Origin", "null"}},
	}
	before := attackSnapshot(t, e.testEnv)
	sent := 0
	for _, w := range writes {
		for _, co := range crossOrigin {
			for _, hx := range []bool{false, true} {
				h := slices.Clone(co.headers)
				if hx {
					h = append(h, hxHeaders...)
				}
				r := e.postForm(t, admin, w.path, e.attackForm(), h...)
				sent++
				if r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, copRefusal) {
					t.Errorf("%s as %s (htmx %v): status %d, want 403 from the cross-origin protection; body %.200q",
						w.pattern, co.name, hx, r.StatusCode, r.body)
				}
				if ck := sessionCookieOf(r.Response); ck != nil {
					t.Errorf("%s as %s: the refusal touched the session cookie: %v", w.pattern, co.name, ck)
				}
			}
		}
	}
	sameAttackSnapshot(t, "cross-origin POSTs", before, attackSnapshot(t, e.testEnv))
	// The refused sign-out did not sign the admin out either.
	if r := e.get(t, admin, "/"); r.StatusCode != http.StatusOK {
		t.Errorf("after the refused POSTs: GET / status %d, want 200 (still signed in)", r.StatusCode)
	}

	// The control: the same POSTs from the Console's own origin pass that layer (whatever the
	// handler then answers; an admin is not refused by role either).
	sameOrigin := [][]string{{"Sec-Fetch-Site", "same-origin"}, {"Origin", "http://" + host}, {"Origin", "http://" + host, "Sec-Fetch-Site", "same-origin"}}
	passed := 0
	for i, w := range writes {
		r := e.postForm(t, admin, w.path, e.attackForm(), sameOrigin[i%len(sameOrigin)]...)
		sent++
		if r.StatusCode == http.StatusForbidden || strings.Contains(r.body, copRefusal) {
			t.Errorf("same-origin %s (%v): status %d, refused; body %.200q", w.pattern, sameOrigin[i%len(sameOrigin)], r.StatusCode, r.body)
			continue
		}
		if r.StatusCode >= 500 {
			t.Errorf("same-origin %s: status %d", w.pattern, r.StatusCode)
		}
		passed++
	}
	if passed != len(writes) {
		t.Errorf("%d of %d same-origin POSTs passed the cross-origin layer", passed, len(writes))
	}
	t.Logf("%d Console write routes, %d requests", len(writes), sent)
}

// --- 2. CSP and the other headers on every page -------------------------------------------------

var (
	jsURLRE    = regexp.MustCompile(`(?i)<[^>]*\s[a-z:-]+\s*=\s*["']?\s*javascript:`)
	hxOnRE     = regexp.MustCompile(`(?i)<[^>]*\s(hx-on[:-][^=\s]*|hx-vars|data-hx-on[:-][^=\s]*)\s*=`)
	hxJSValsRE = regexp.MustCompile(`(?i)<[^>]*\shx-vals\s*=\s*["']\s*(js|javascript):`)
)

// cspDirectives splits a Content-Security-Policy into its directives.
func cspDirectives(csp string) map[string][]string {
	out := map[string][]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if _, dup := out[name]; !dup { // the first occurrence wins, as in browsers
			out[name] = f[1:]
		}
	}
	return out
}

// pageKind says which header rules apply to a response.
type pageKind struct {
	console  bool // a Console response: framing refused (frame-ancestors 'none' or X-Frame-Options)
	portal   bool // a portal response: frame-ancestors must be present (its own list)
	html     bool // the body is HTML (a page or an htmx fragment)
	fullPage bool // the body is a whole page
}

// securityProblems lists what is wrong with a response's security headers and its HTML.
func securityProblems(h http.Header, body string, k pageKind) []string {
	var out []string
	csp := h.Get("Content-Security-Policy")
	d := cspDirectives(csp)
	if csp == "" {
		out = append(out, "no Content-Security-Policy")
	} else {
		script, ok := d["script-src"]
		if !ok {
			script, ok = d["default-src"]
		}
		if !ok {
			out = append(out, "the CSP has neither script-src nor default-src: scripts are unrestricted")
		}
		for _, src := range script {
			switch s := strings.ToLower(src); {
			case s == "'unsafe-inline'", s == "'unsafe-eval'", s == "'unsafe-hashes'", s == "'wasm-unsafe-eval'":
				out = append(out, "script-src allows "+src)
			case s == "*", s == "data:", s == "blob:", s == "http:", s == "https:", strings.HasPrefix(s, "*."):
				out = append(out, "script-src allows any script from "+src)
			}
		}
		if obj, ok := d["object-src"]; !ok || !slices.Equal(obj, []string{"'none'"}) {
			if def, ok := d["default-src"]; !ok || !slices.Equal(def, []string{"'none'"}) {
				out = append(out, "the CSP does not set object-src 'none'")
			}
		}
		if _, ok := d["base-uri"]; !ok {
			out = append(out, "the CSP does not restrict base-uri")
		}
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		out = append(out, fmt.Sprintf("X-Content-Type-Options %q, want nosniff", got))
	}
	fa, hasFA := d["frame-ancestors"]
	switch {
	case k.console:
		xfo := strings.ToUpper(h.Get("X-Frame-Options"))
		if !(hasFA && (slices.Equal(fa, []string{"'none'"}) || slices.Equal(fa, []string{"'self'"}))) && xfo != "DENY" && xfo != "SAMEORIGIN" {
			out = append(out, fmt.Sprintf("no frame policy: frame-ancestors %v, X-Frame-Options %q", fa, xfo))
		}
	case k.portal:
		if !hasFA || len(fa) == 0 || slices.Contains(fa, "*") {
			out = append(out, fmt.Sprintf("portal frame-ancestors %v: want its own list, never *", fa))
		}
	}
	if !k.html {
		if ct := h.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
			out = append(out, "expected no HTML, got Content-Type "+ct)
		}
		return out
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		out = append(out, fmt.Sprintf("Content-Type %q, want text/html", ct))
	}
	if k.fullPage && !strings.Contains(body, "<html") {
		out = append(out, "the body is not a whole HTML page")
	}
	for _, m := range scriptTagRE.FindAllStringSubmatch(body, -1) {
		if !srcAttrRE.MatchString(m[1]) {
			out = append(out, fmt.Sprintf("inline script %q", m[0]))
		}
	}
	for _, re := range []*regexp.Regexp{handlerRE, hxOnRE, hxJSValsRE} {
		if m := re.FindString(body); m != "" {
			out = append(out, fmt.Sprintf("inline event handler or evaluated attribute in %.200q", m))
		}
	}
	if m := jsURLRE.FindString(body); m != "" {
		out = append(out, fmt.Sprintf("javascript: URL in %.200q", m))
	}
	if styleTagRE.MatchString(body) {
		out = append(out, "<style> element (style-src 'self' refuses it)")
	}
	if m := styleAttrRE.FindString(body); m != "" {
		out = append(out, fmt.Sprintf("style attribute (style-src 'self' refuses it) in %.200q", m))
	}
	return out
}

func checkSecurity(t *testing.T, what string, h http.Header, body string, k pageKind) {
	t.Helper()
	for _, p := range securityProblems(h, body, k) {
		t.Errorf("%s: %s", what, p)
	}
}

// TestSecurityCheckerCatches proves the page check fails where it should.
func TestSecurityCheckerCatches(t *testing.T) {
	good := http.Header{}
	good.Set("Content-Security-Policy", ContentSecurityPolicy)
	good.Set("X-Content-Type-Options", "nosniff")
	good.Set("Content-Type", "text/html; charset=utf-8")
	page := `<!doctype html><html><head><script src="/static/htmx.js" defer></script></head><body><a href="/x">x</a></body></html>`
	if p := securityProblems(good, page, pageKind{console: true, html: true, fullPage: true}); len(p) != 0 {
		t.Fatalf("a clean page: %v", p)
	}
	for _, tc := range []struct {
		name   string
		header func(h http.Header)
		body   string
		want   string
	}{
		{"inline script", nil, `<html><script>alert(1)</script></html>`, "inline script"},
		{"inline script with type", nil, `<html><SCRIPT type="module">x()</SCRIPT></html>`, "inline script"},
		{"onclick", nil, `<html><button class="b" onclick="x()">b</button></html>`, "inline event handler"},
		{"onload uppercase", nil, `<html><img src="/a.png" ONLOAD = "x()"></html>`, "inline event handler"},
		{"hx-on", nil, `<html><div hx-on:click="x()"></div></html>`, "inline event handler"},
		{"hx-on::", nil, `<html><form hx-on::after-request="x()"></form></html>`, "inline event handler"},
		{"hx-vals js:", nil, `<html><div hx-vals='js:{a: x()}'></div></html>`, "evaluated attribute"},
		{"javascript: href", nil, `<html><a href="javascript:alert(1)">x</a></html>`, "javascript: URL"},
		{"javascript: action", nil, `<html><form action= ' JavaScript:x()'></form></html>`, "javascript: URL"},
		{"style attribute", nil, `<html><p style="color:red">x</p></html>`, "style attribute"},
		{"unsafe-inline", func(h http.Header) {
			h.Set("Content-Security-Policy", strings.Replace(ContentSecurityPolicy, "script-src 'self'", "script-src 'self' 'unsafe-inline'", 1))
		}, page, "script-src allows 'unsafe-inline'"},
		{"unsafe-eval via default-src", func(h http.Header) {
			h.Set("Content-Security-Policy", "default-src 'self' 'unsafe-eval'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		}, page, "script-src allows 'unsafe-eval'"},
		{"wildcard script-src", func(h http.Header) {
			h.Set("Content-Security-Policy", strings.Replace(ContentSecurityPolicy, "script-src 'self'", "script-src https:", 1))
		}, page, "any script"},
		{"no CSP", func(h http.Header) { h.Del("Content-Security-Policy") }, page, "no Content-Security-Policy"},
		{"no nosniff", func(h http.Header) { h.Del("X-Content-Type-Options") }, page, "nosniff"},
		{"framable", func(h http.Header) {
			h.Set("Content-Security-Policy", strings.Replace(ContentSecurityPolicy, "frame-ancestors 'none'", "frame-ancestors *", 1))
		}, page, "no frame policy"},
	} {
		h := good.Clone()
		if tc.header != nil {
			tc.header(h)
		}
		p := securityProblems(h, tc.body, pageKind{console: true, html: true, fullPage: true})
		if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, tc.want) }) {
			t.Errorf("%s: problems %q, want one naming %q", tc.name, p, tc.want)
		}
	}
}

// consoleNonHTML are GET Console routes whose answer is not HTML (their headers are checked all
// the same).
var consoleNonHTML = map[string]bool{
	"GET /activity/export.csv":    true,
	"GET /activity/export.ndjson": true,
	"GET /activity/live":          true,
}

// streamHeaders opens a streaming page, reads its headers and leaves.
func (e *testEnv) streamHeaders(t *testing.T, c *http.Client, path string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	e := newConsoleAttack(t)
	admin := e.signedIn(t, seed.AdminEmail)
	pages, noStore := 0, 0
	var cacheable []string

	for _, rt := range e.srv.consoleRoutes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if method != http.MethodGet {
			continue
		}
		_, paths, err := e.fill(t, path, false)
		if err != nil {
			t.Errorf("page not covered by the header check: %s: %v", rt.pattern, err)
			continue
		}
		c := admin
		if rt.access == public {
			c = e.client(t) // a signed-in manager is sent home from the sign-in page
		}
		for _, p := range paths {
			what := "GET " + p
			if rt.pattern == "GET /activity/live" {
				resp := e.streamHeaders(t, c, p)
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
					t.Errorf("%s: status %d, Content-Type %q, want a 200 event stream", what, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				checkSecurity(t, what, resp.Header, "", pageKind{console: true})
				pages++
				continue
			}
			for _, hx := range []bool{false, true} {
				var h []string
				if hx {
					h = hxHeaders
				}
				r := e.get(t, c, p, h...)
				w := fmt.Sprintf("%s (htmx %v)", what, hx)
				if r.StatusCode == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/") &&
					!strings.HasPrefix(r.Header.Get("Location"), "/signin") {
					// An index page that sends on to its first section (GET /elements).
					checkSecurity(t, w, r.Header, r.body, pageKind{console: true, html: true})
					pages++
					continue
				}
				if r.StatusCode != http.StatusOK {
					t.Errorf("%s: status %d, want 200 (the demo data's values name nothing?)", w, r.StatusCode)
					continue
				}
				html := !consoleNonHTML[rt.pattern]
				checkSecurity(t, w, r.Header, r.body, pageKind{console: true, html: html, fullPage: html && !hx && strings.Contains(r.body, "<!doctype")})
				pages++
				if rt.access != public && !hx {
					if strings.Contains(r.Header.Get("Cache-Control"), "no-store") {
						noStore++
					} else {
						cacheable = append(cacheable, p)
					}
				}
			}
		}
	}

	// Error pages: signed in and out, Console and portal, and the non-HTML refusals.
	out := e.client(t)
	support := e.signedIn(t, seed.SupportEmail)
	errorPages := []struct {
		what   string
		c      *http.Client
		path   string
		status int
		kind   pageKind
	}{
		{"404 signed out", out, "/no-such-page", http.StatusNotFound, pageKind{console: true, html: true, fullPage: true}},
		{"404 signed in", admin, "/no-such-page", http.StatusNotFound, pageKind{console: true, html: true, fullPage: true}},
		{"404 unknown tenant", admin, "/tenants/" + uuid.NewString(), http.StatusNotFound, pageKind{console: true, html: true, fullPage: true}},
		{"404 signed in (htmx)", admin, "/tenants/" + uuid.NewString(), http.StatusNotFound, pageKind{console: true}},
		{"403 support on an admin page", support, "/settings/members", http.StatusForbidden, pageKind{console: true, html: true, fullPage: true}},
		{"sign-in page", out, "/signin", http.StatusOK, pageKind{console: true, html: true, fullPage: true}},
		{"sign-in redirect", out, "/tenants", http.StatusSeeOther, pageKind{console: true, html: true}},
		{"portal without a session", out, "/portal/activity", http.StatusUnauthorized, pageKind{portal: true, html: true, fullPage: true}},
		{"portal 404", out, "/portal/no-such-page", http.StatusNotFound, pageKind{portal: true, html: true, fullPage: true}},
		{"portal with a bad token", out, "/portal/activity?token=not-a-token", http.StatusUnauthorized, pageKind{portal: true, html: true, fullPage: true}},
		{"API 404", out, "/api/no-such-endpoint", http.StatusNotFound, pageKind{}},
		{"API 401", out, "/api/self", http.StatusUnauthorized, pageKind{}},
		{"health", out, "/healthz", http.StatusOK, pageKind{console: true}},
	}
	for _, ep := range errorPages {
		var h []string
		if strings.HasSuffix(ep.what, "(htmx)") {
			h = hxHeaders
		}
		r := e.get(t, ep.c, ep.path, h...)
		if r.StatusCode != ep.status {
			t.Errorf("%s: GET %s: status %d, want %d", ep.what, ep.path, r.StatusCode, ep.status)
		}
		checkSecurity(t, ep.what, r.Header, r.body, ep.kind)
		pages++
	}
	// The sign-in failure page, and the cross-origin protection's own refusal (plain text).
	r := e.signIn(t, e.client(t), seed.AdminEmail, "not-the-password", "")
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("failed sign-in: status %d, want 401", r.StatusCode)
	}
	checkSecurity(t, "failed sign-in", r.Header, r.body, pageKind{console: true, html: true, fullPage: true})
	r = e.postForm(t, admin, "/tenants", url.Values{"internalId": {"x"}}, "Origin", "https://evil.example")
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST: status %d, want 403", r.StatusCode)
	}
	checkSecurity(t, "cross-origin refusal", r.Header, r.body, pageKind{console: true})
	pages += 2

	// The portal's pages, in a portal session of acme.
	tok, err := auth.Sign(e.w1Secret, seed.WorkspaceKey, "acme", "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	portal := e.client(t)
	ex := e.get(t, portal, "/portal/activity?token="+url.QueryEscape(tok))
	wantRedirect(t, ex, "/portal/activity")
	checkSecurity(t, "portal token exchange", ex.Header, ex.body, pageKind{portal: true, html: true})
	if cc := ex.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("portal token exchange: Cache-Control %q, want no-store", cc)
	}
	for _, rt := range e.srv.portalRoutes() {
		_, path, _ := strings.Cut(rt.pattern, " ")
		var paths []string
		if strings.Contains(path, "{") {
			// acme's own entry: the attack fixture's first activity value.
			paths = []string{strings.Replace(path, "{id}", e.acmeEntry.String(), 1)}
			if strings.Contains(paths[0], "{") {
				t.Errorf("portal page not covered by the header check: %s", rt.pattern)
				continue
			}
		} else {
			paths = []string{path}
		}
		for _, p := range paths {
			for _, hx := range []bool{false, true} {
				var h []string
				if hx {
					h = hxHeaders
				}
				r := e.get(t, portal, p, h...)
				w := fmt.Sprintf("portal GET %s (htmx %v)", p, hx)
				if r.StatusCode != http.StatusOK {
					t.Errorf("%s: status %d, want 200", w, r.StatusCode)
					continue
				}
				checkSecurity(t, w, r.Header, r.body, pageKind{portal: true, html: true, fullPage: !hx && strings.Contains(r.body, "<!doctype")})
				if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
					t.Errorf("%s: Cache-Control %q, want no-store", w, cc)
				}
				pages++
			}
		}
	}

	// Static assets are not sniffed either.
	page := e.get(t, out, "/signin")
	for _, m := range regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(page.body, -1) {
		r := e.get(t, out, m[1])
		if r.StatusCode != http.StatusOK || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: status %d, X-Content-Type-Options %q", m[1], r.StatusCode, r.Header.Get("X-Content-Type-Options"))
		}
	}

	// Signed-in Console pages are never stored by the browser or a proxy (a shared machine's back
	// button must not show a tenant's data, nor a revealed field, after sign-out).
	t.Logf("%d responses checked; signed-in Console pages with Cache-Control no-store: %d", pages, noStore)
	if len(cacheable) > 0 {
		t.Errorf("signed-in Console pages without Cache-Control no-store: %v", cacheable)
	}
	if pages < 60 {
		t.Errorf("only %d responses checked: the sweep is not sweeping", pages)
	}
}

// --- 3. Role change and removal take effect on the next request ----------------------------------

func TestSecurityDemotedAdminLosesWritesAndRemovedMemberSessionsEnd(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	ctx := context.Background()
	const second = "second.admin@demo.test"
	if err := seed.EnsureManager(ctx, e.db, e.ws.ID, second, seed.DemoPassword, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	secondID := e.managerID(t, second)
	a := e.adminClient(t)
	// The second admin has two sessions (two browsers).
	b1, b2 := e.client(t), e.client(t)
	ck1, ck2 := e.mustSignIn(t, b1, second), e.mustSignIn(t, b2, second)
	workspaceName := func() string {
		var n string
		if err := e.db.SQL().GetContext(ctx, &n, `SELECT name FROM workspaces WHERE id = $1`, e.ws.ID); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// As an admin, the session writes.
	if r := e.postForm(t, b1, "/settings/general", url.Values{"name": {"Renamed by the second admin"}}); r.StatusCode >= 400 {
		t.Fatalf("the second admin renames the workspace: status %d", r.StatusCode)
	}
	if got := workspaceName(); got != "Renamed by the second admin" {
		t.Fatalf("workspace name %q after the second admin's rename", got)
	}

	// The demo admin demotes them, in another session.
	wantRedirect(t, e.postForm(t, a, "/settings/members/"+secondID.String()+"/role", url.Values{"role": {"support"}}), "/settings/members")

	// Both existing sessions lose write access on their very next request.
	for i, c := range []*http.Client{b1, b2} {
		for _, hx := range []bool{false, true} {
			var h []string
			if hx {
				h = hxHeaders
			}
			r := e.postForm(t, c, "/settings/general", url.Values{"name": {"Written after demotion"}}, h...)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("session %d of the demoted admin (htmx %v): POST /settings/general status %d, want 403", i+1, hx, r.StatusCode)
			}
			r = e.postForm(t, c, "/tenants", url.Values{"internalId": {"after-demotion"}, "name": {"After demotion"}}, h...)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("session %d of the demoted admin (htmx %v): POST /tenants status %d, want 403", i+1, hx, r.StatusCode)
			}
		}
		if r := e.get(t, c, "/settings/members"); r.StatusCode != http.StatusForbidden {
			t.Errorf("session %d of the demoted admin: GET /settings/members status %d, want 403", i+1, r.StatusCode)
		}
		// Still signed in, as support.
		r := e.get(t, c, "/")
		if r.StatusCode != http.StatusOK {
			t.Errorf("session %d of the demoted admin: GET / status %d, want 200", i+1, r.StatusCode)
		} else if role, _ := testID(r.body, "manager-role"); role != string(tenancy.RoleSupport) {
			t.Errorf("session %d of the demoted admin: manager-role %q, want support", i+1, role)
		}
	}
	if got := workspaceName(); got != "Renamed by the second admin" {
		t.Errorf("a demoted session's POST changed the workspace name to %q", got)
	}
	if n := e.count(t, `SELECT count(*) FROM tenants WHERE workspace_id = $1 AND internal_id = 'after-demotion'`, e.ws.ID); n != 0 {
		t.Errorf("a demoted session's POST created a tenant")
	}

	// Removed: every session of the member ends, server-side, at once.
	sessions := func() int {
		return e.count(t, `SELECT count(*) FROM manager_sessions WHERE manager_id = $1`, secondID)
	}
	if n := sessions(); n != 2 {
		t.Fatalf("%d sessions of the second manager before removal, want 2", n)
	}
	wantRedirect(t, e.postForm(t, a, "/settings/members/"+secondID.String()+"/remove", url.Values{}), "/settings/members")
	for i, c := range []*http.Client{b1, b2} {
		wantRedirect(t, e.get(t, c, "/"), "/signin?next=%2F")
		if r := e.postForm(t, c, "/settings/general", url.Values{"name": {"Written after removal"}}); r.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(r.Header.Get("Location"), "/signin") {
			t.Errorf("session %d of the removed member: POST status %d Location %q, want 303 to sign-in", i+1, r.StatusCode, r.Header.Get("Location"))
		}
	}
	for _, ck := range []*http.Cookie{ck1, ck2} {
		wantRedirect(t, e.replay(t, "/", ck.Value), "/signin?next=%2F")
	}
	if n := sessions(); n != 0 {
		t.Errorf("%d sessions of the removed member remain in manager_sessions", n)
	}
	if got := workspaceName(); got != "Renamed by the second admin" {
		t.Errorf("a removed session's POST changed the workspace name to %q", got)
	}
	// The demo admin's own session is untouched.
	if r := e.get(t, a, "/settings/members"); r.StatusCode != http.StatusOK {
		t.Errorf("the demo admin after the changes: GET /settings/members status %d", r.StatusCode)
	}
}

// --- 4. Secrets at rest --------------------------------------------------------------------------

// sentinel is a planted secret: unique, and recognised by the log scan wherever it appears.
func sentinel(t *testing.T, what string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := logscan.Sentinel + what + "-" + hex.EncodeToString(b)
	logCapture.Register("planted "+what, s)
	return s
}

// dbColumn is one column of one table.
type dbColumn struct {
	table, column, dataType string
}

// dbColumns lists every column of every table (not views, not partitions: their parent is read)
// outside the system schemas, from information_schema.
func (e *testEnv) dbColumns(t *testing.T) map[string][]dbColumn {
	t.Helper()
	var rows []struct {
		Schema string `db:"table_schema"`
		Table  string `db:"table_name"`
		Column string `db:"column_name"`
		Type   string `db:"data_type"`
	}
	if err := e.db.SQL().SelectContext(context.Background(), &rows, `
		SELECT c.table_schema, c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c
		JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
		JOIN pg_class pc ON pc.oid = format('%I.%I', c.table_schema, c.table_name)::regclass
		WHERE tb.table_type = 'BASE TABLE' AND NOT pc.relispartition
		  AND c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg\_%'
		ORDER BY 1, 2, c.ordinal_position`); err != nil {
		t.Fatal(err)
	}
	out := map[string][]dbColumn{}
	for _, r := range rows {
		tb := fmt.Sprintf("%q.%q", r.Schema, r.Table)
		out[tb] = append(out[tb], dbColumn{tb, r.Column, r.Type})
	}
	return out
}

// dbHolding returns "table.column" of every column, of every row of every table, that holds
// any of needles: as bytes in a bytea column, as text in any other column (its text form: jsonb,
// arrays and the rest). Every column is read, not only text, bytea and jsonb: a type nobody
// thought of is read too.
func (e *testEnv) dbHolding(t *testing.T, needles ...[]byte) []string {
	t.Helper()
	var texts []string
	for _, n := range needles {
		if utf8.Valid(n) && !slices.Contains(n, 0) {
			texts = append(texts, string(n))
		}
	}
	var found []string
	scanned := 0
	for tb, cols := range e.dbColumns(t) {
		var exprs []string
		for _, c := range cols {
			col := `t.` + quoteIdent(c.column)
			var cond string
			if c.dataType == "bytea" {
				cond = `EXISTS (SELECT 1 FROM unnest($2::bytea[]) n WHERE position(n IN ` + col + `) > 0)`
			} else {
				cond = `EXISTS (SELECT 1 FROM unnest($1::text[]) n WHERE strpos(` + col + `::text, n) > 0)`
			}
			exprs = append(exprs, `CASE WHEN bool_or(`+cond+`) THEN `+quoteLit(c.column)+` END`)
			scanned++
		}
		q := `SELECT coalesce(array_to_string(ARRAY[` + strings.Join(exprs, ", ") + `], ','), '') FROM ` + tb + ` t
			WHERE cardinality($1::text[]) >= 0 AND cardinality($2::bytea[]) >= 0`
		var hit string
		if err := e.db.SQL().GetContext(context.Background(), &hit, q, pqTextArray(texts), pqByteaArray(needles)); err != nil {
			t.Fatalf("scan %s: %v", tb, err)
		}
		for _, c := range strings.Split(hit, ",") {
			if c != "" {
				found = append(found, tb+"."+c)
			}
		}
	}
	if scanned < 100 {
		t.Fatalf("the scan read only %d columns", scanned)
	}
	sort.Strings(found)
	return found
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// pqTextArray and pqByteaArray spell arrays as PostgreSQL array literals.
func pqTextArray(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return "{" + strings.Join(q, ",") + "}"
}

func pqByteaArray(bs [][]byte) string {
	q := make([]string, len(bs))
	for i, b := range bs {
		q[i] = `"\\x` + hex.EncodeToString(b) + `"`
	}
	return "{" + strings.Join(q, ",") + "}"
}

// encodings are the forms of a secret that would still be the secret in clear.
func encodings(secret string) [][]byte {
	b := []byte(secret)
	out := [][]byte{b, []byte(hex.EncodeToString(b)), []byte(base64.StdEncoding.EncodeToString(b)),
		[]byte(base64.RawURLEncoding.EncodeToString(b))}
	if j, _ := json.Marshal(secret); string(j[1:len(j)-1]) != secret {
		out = append(out, j[1:len(j)-1])
	}
	return out
}

// rawColumn reads one raw value as the superuser.
func (e *testEnv) rawColumn(t *testing.T, q string, args ...any) []byte {
	t.Helper()
	var b []byte
	if err := e.db.SQL().GetContext(context.Background(), &b, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return b
}

// apiCall sends a JSON request to the API with a bearer token.
func (e *testEnv) apiCall(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	r := do(t, http.DefaultClient, req)
	var m map[string]any
	_ = json.Unmarshal([]byte(r.body), &m)
	return r.StatusCode, m
}

// atRest is what one kind of secret leaves in the database.
type atRest struct {
	plain []string // the secrets in clear: in no column of any table
	// sealed are the raw columns that hold the secret's ciphertext or hash: each must be
	// non-empty, must not be (or contain) the secret, and verify (when given) says what it is.
	sealed []sealedColumn
}

type sealedColumn struct {
	what   string
	raw    []byte
	verify func(raw []byte) error // nil: ciphertext, only checked against the plaintext
}

func TestSecuritySecretsAtRest(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	ctx := context.Background()
	admin := e.adminClient(t)
	wa, err := e.db.LookupWorkspaceByKey(ctx, seed.WorkspaceKey)
	if err != nil {
		t.Fatal(err)
	}
	acme := e.tenant(t, "acme").ID
	hashOf := func(token string) func([]byte) error {
		return func(raw []byte) error {
			if h := sha256.Sum256([]byte(token)); string(raw) != string(h[:]) {
				return fmt.Errorf("is not the SHA-256 of the token")
			}
			return nil
		}
	}

	cases := []struct {
		name   string
		create func(t *testing.T) atRest
	}{
		{"workspace secret (seeded, then rotated in the Console)", func(t *testing.T) atRest {
			old := string(wa.Secret)
			r := e.postForm(t, admin, "/settings/secret/rotate", url.Values{})
			wantStatus(t, r, http.StatusOK)
			secret, ok := testID(r.body, "new-secret")
			if !ok || len(secret) < 16 {
				t.Fatalf("the rotation page shows no new secret: %q", secret)
			}
			// It is the real secret: a token signed with it is accepted.
			tok, err := auth.Sign([]byte(secret), seed.WorkspaceKey, "acme", "", false, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			logCapture.Register("a tenant token", tok)
			if st, m := e.apiCall(t, "GET", "/api/self", tok, nil); st != http.StatusOK {
				t.Fatalf("a token signed with the revealed secret: %d %v", st, m)
			}
			return atRest{plain: []string{secret, old}, sealed: []sealedColumn{
				{"workspaces.secret_enc", e.rawColumn(t, `SELECT secret_enc FROM workspaces WHERE id = $1`, e.ws.ID), nil},
				{"workspaces.prev_secret_enc", e.rawColumn(t, `SELECT prev_secret_enc FROM workspaces WHERE id = $1`, e.ws.ID), nil},
			}}
		}},
		{"tenant credential (Console)", func(t *testing.T) atRest {
			v := sentinel(t, "console-tenant-cred")
			r := e.postForm(t, admin, "/tenants/"+acme.String()+"/credentials", url.Values{"key": {"apiKey"}, "value": {v}})
			if r.StatusCode >= 400 {
				t.Fatalf("set a credential: status %d", r.StatusCode)
			}
			e.wantTenantCredential(t, acme, v)
			return atRest{plain: []string{v}, sealed: []sealedColumn{
				{"tenants.credentials_enc", e.rawColumn(t, `SELECT credentials_enc FROM tenants WHERE id = $1`, acme), nil}}}
		}},
		{"tenant credentials (API, workspace token)", func(t *testing.T) atRest {
			v := sentinel(t, "api-tenant-cred")
			tok := wsTokenFor(t, e)
			st, m := e.apiCall(t, "POST", "/api/customers", tok, map[string]any{"internalId": "secret-holder", "name": "Secret holder",
				"credentials": map[string]any{"apiKey": v, "nested": map[string]any{"password": v + "-nested"}}})
			if st != http.StatusCreated {
				t.Fatalf("POST /api/customers: %d %v", st, m)
			}
			id := e.tenant(t, "secret-holder").ID
			e.wantTenantCredential(t, id, v)
			return atRest{plain: []string{v, v + "-nested", tok}, sealed: []sealedColumn{
				{"tenants.credentials_enc", e.rawColumn(t, `SELECT credentials_enc FROM tenants WHERE id = $1`, id), nil}}}
		}},
		{"connection credentials (Console)", func(t *testing.T) atRest {
			v := sentinel(t, "console-conn-cred")
			r := e.postForm(t, admin, "/tenants/"+acme.String()+"/connections", url.Values{"integration": {"hubspot"},
				"name": {"Sealed connection"}, "credentialKey": {"accessToken"}, "credentialValue": {v}})
			if r.StatusCode >= 400 {
				t.Fatalf("create a connection: status %d\n%s", r.StatusCode, r.body)
			}
			id := e.uuidOf(t, `SELECT id FROM connections WHERE workspace_id = $1 AND name = 'Sealed connection'`, e.ws.ID)
			e.wantConnectionCredential(t, id, v)
			return atRest{plain: []string{v}, sealed: []sealedColumn{
				{"connections.credentials_enc", e.rawColumn(t, `SELECT credentials_enc FROM connections WHERE id = $1`, id), nil}}}
		}},
		{"connection credentials (API, tenant token)", func(t *testing.T) atRest {
			v := sentinel(t, "api-conn-cred")
			tok, err := auth.Sign(e.currentSecret(t), seed.WorkspaceKey, "globex", "", false, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			logCapture.Register("a tenant token", tok)
			st, m := e.apiCall(t, "POST", "/api/connections", tok, map[string]any{"integrationKey": "hubspot", "name": "Sealed API connection",
				"credentials": map[string]any{"accessToken": v, "refreshToken": v + "-refresh"}})
			if st != http.StatusCreated {
				t.Fatalf("POST /api/connections: %d %v", st, m)
			}
			id := e.uuidOf(t, `SELECT id FROM connections WHERE workspace_id = $1 AND name = 'Sealed API connection'`, e.ws.ID)
			e.wantConnectionCredential(t, id, v)
			return atRest{plain: []string{v, v + "-refresh", tok}, sealed: []sealedColumn{
				{"connections.credentials_enc", e.rawColumn(t, `SELECT credentials_enc FROM connections WHERE id = $1`, id), nil}}}
		}},
		{"manager password (a member added in the Console)", func(t *testing.T) atRest {
			r := e.postForm(t, admin, "/settings/members", url.Values{"email": {"sealed.member@example.com"}, "name": {"Sealed"}, "role": {"support"}})
			wantStatus(t, r, http.StatusOK)
			pw, ok := testID(r.body, "new-password")
			if !ok || len(pw) < 12 {
				t.Fatalf("the members page shows no new password: %q", pw)
			}
			// It is the real password: it signs in.
			wantRedirect(t, e.signIn(t, e.client(t), "sealed.member@example.com", pw, ""), "/")
			id := e.managerID(t, "sealed.member@example.com")
			return atRest{plain: []string{pw}, sealed: []sealedColumn{{"manager_passwords.password_hash",
				e.rawColumn(t, `SELECT password_hash FROM manager_passwords WHERE manager_id = $1`, id), func(raw []byte) error {
					if !auth.CheckPassword(string(raw), pw) {
						return fmt.Errorf("does not verify the password")
					}
					return nil
				}}}}
		}},
		{"manager session token (Console sign-in)", func(t *testing.T) atRest {
			c := e.client(t)
			ck := e.mustSignIn(t, c, seed.SupportEmail)
			tok := e.sessionToken(t, ck.Value)
			if tok == "" {
				t.Fatal("the session cookie does not decode")
			}
			h := sha256.Sum256([]byte(tok))
			return atRest{plain: []string{tok, ck.Value}, sealed: []sealedColumn{{"manager_sessions.token_hash",
				e.rawColumn(t, `SELECT token_hash FROM manager_sessions WHERE token_hash = $1`, h[:]), hashOf(tok)}}}
		}},
		{"portal session and the token that opened it", func(t *testing.T) atRest {
			jwt, err := auth.Sign(e.currentSecret(t), seed.WorkspaceKey, "acme", "", false, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			logCapture.Register("a tenant token", jwt)
			c := e.client(t)
			r := e.get(t, c, "/portal/activity?token="+url.QueryEscape(jwt))
			wantRedirect(t, r, "/portal/activity")
			var ck *http.Cookie
			for _, k := range r.Cookies() {
				if k.Name == portalCookie {
					ck = k
				}
			}
			if ck == nil || ck.Value == "" {
				t.Fatal("no portal cookie")
			}
			h := sha256.Sum256([]byte(ck.Value))
			return atRest{plain: []string{jwt, ck.Value}, sealed: []sealedColumn{{"portal_sessions.token_hash",
				e.rawColumn(t, `SELECT token_hash FROM portal_sessions WHERE token_hash = $1`, h[:]), hashOf(ck.Value)}}}
		}},
	}

	var all []string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.create(t)
			if len(got.plain) == 0 || len(got.sealed) == 0 {
				t.Fatal("the case names no secret or no sealed column")
			}
			for _, p := range got.plain {
				all = append(all, p)
				if len(p) < 16 {
					t.Errorf("secret %q is too short to search for meaningfully", p)
				}
				var needles [][]byte
				needles = append(needles, encodings(p)...)
				if hit := e.dbHolding(t, needles...); len(hit) > 0 {
					t.Errorf("the secret %.12q… is stored in clear (or merely encoded) in %v", p, hit)
				}
			}
			for _, s := range got.sealed {
				if len(s.raw) == 0 {
					t.Errorf("%s is empty", s.what)
					continue
				}
				for _, p := range got.plain {
					if strings.Contains(string(s.raw), p) || string(s.raw) == p {
						t.Errorf("%s holds the plaintext", s.what)
					}
				}
				if s.verify != nil {
					if err := s.verify(s.raw); err != nil {
						t.Errorf("%s %v", s.what, err)
					}
				}
			}
		})
	}

	// The scan finds what is there: a tenant's internalId (text), a session's hash (bytea) and a
	// value inside jsonb.
	t.Run("the scan can fail", func(t *testing.T) {
		if hit := e.dbHolding(t, []byte("secret-holder")); !slices.Contains(hit, `"public"."tenants".internal_id`) {
			t.Errorf("a tenant's internalId: found in %v", hit)
		}
		c := e.client(t)
		ck := e.mustSignIn(t, c, seed.AdminEmail)
		h := sha256.Sum256([]byte(e.sessionToken(t, ck.Value)))
		if hit := e.dbHolding(t, h[:]); !slices.Contains(hit, `"public"."manager_sessions".token_hash`) {
			t.Errorf("a session hash: found in %v", hit)
		}
		marker := "marker-" + uuid.NewString()
		st, m := e.apiCall(t, "PATCH", "/api/customers/secret-holder", wsTokenFor(t, e), map[string]any{"fields": map[string]any{"note": marker}})
		if st != http.StatusOK {
			t.Fatalf("PATCH fields: %d %v", st, m)
		}
		if hit := e.dbHolding(t, []byte(marker)); !slices.Contains(hit, `"public"."tenants".fields`) {
			t.Errorf("a jsonb value: found in %v", hit)
		}
	})
	if len(all) < 12 {
		t.Errorf("only %d secrets checked", len(all))
	}
}

// wsTokenFor signs a workspace token with the workspace's current secret.
func wsTokenFor(t *testing.T, e *testEnv) string {
	t.Helper()
	tok, err := auth.Sign(e.currentSecret(t), seed.WorkspaceKey, "", "", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	logCapture.Register("a workspace token", tok)
	return tok
}

// currentSecret reads the workspace's current secret (after any rotation).
func (e *testEnv) currentSecret(t *testing.T) []byte {
	t.Helper()
	wa, err := e.db.LookupWorkspaceByKey(context.Background(), seed.WorkspaceKey)
	if err != nil {
		t.Fatal(err)
	}
	return wa.Secret
}

func (e *testEnv) uuidOf(t *testing.T, q string, args ...any) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := e.db.SQL().GetContext(context.Background(), &id, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return id
}

// wantTenantCredential fails unless the tenant's credentials, opened by the store, hold v: the
// secret was really saved (so its absence in clear means something).
func (e *testEnv) wantTenantCredential(t *testing.T, id uuid.UUID, v string) {
	t.Helper()
	ctx := context.Background()
	var creds any
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		var err error
		creds, err = tx.TenantCredentials(ctx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(creds); !strings.Contains(string(b), v) {
		t.Fatalf("the tenant's credentials do not hold the value set: %s", b)
	}
}

func (e *testEnv) wantConnectionCredential(t *testing.T, id uuid.UUID, v string) {
	t.Helper()
	ctx := context.Background()
	var creds any
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		var err error
		creds, err = tx.ConnectionCredentials(ctx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(creds); !strings.Contains(string(b), v) {
		t.Fatalf("the connection's credentials do not hold the value set: %s", b)
	}
}
