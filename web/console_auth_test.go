package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

const wrongPasswordMessage = "That email and password do not match an account."

func TestSignedOutVisitorIsSentToSignIn(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)

	wantRedirect(t, e.get(t, c, "/"), "/signin?next=%2F")

	// htmx cannot follow a 303 into a full page: it gets 401 and HX-Redirect instead.
	r := e.get(t, c, "/", "HX-Request", "true")
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("htmx GET /: status %d, want 401", r.StatusCode)
	}
	if got := r.Header.Get("HX-Redirect"); got != "/signin?next=%2F" {
		t.Errorf("htmx GET /: HX-Redirect %q, want /signin?next=%%2F", got)
	}
	if loc := r.Header.Get("Location"); loc != "" {
		t.Errorf("htmx GET /: Location %q, want none", loc)
	}

	// The sign-in page carries next through to the form.
	r = e.get(t, c, "/signin?next=%2Fsettings")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /signin: status %d", r.StatusCode)
	}
	if !strings.Contains(r.body, `name="next" value="/settings"`) {
		t.Errorf("GET /signin?next=/settings: form does not carry next:\n%s", r.body)
	}
}

func TestSignInSetsHardenedCookieAndShowsHome(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)

	r := e.signIn(t, c, seed.AdminEmail, seed.DemoPassword, "/")
	wantRedirect(t, r, "/")
	ck := sessionCookieOf(r.Response)
	if ck == nil {
		t.Fatalf("no %s cookie set; Set-Cookie: %q", sessionCookie, r.Header.Values("Set-Cookie"))
	}
	if !ck.HttpOnly {
		t.Error("session cookie is not HttpOnly")
	}
	if ck.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie SameSite = %v, want Lax", ck.SameSite)
	}
	if ck.Path != "/" {
		t.Errorf("session cookie Path = %q, want /", ck.Path)
	}
	if ck.Secure {
		t.Error("session cookie is Secure for an http:// base URL: a browser would never send it back")
	}
	if ck.MaxAge <= 0 {
		t.Errorf("session cookie MaxAge = %d, want positive", ck.MaxAge)
	}

	r = e.get(t, c, "/")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET / signed in: status %d, want 200; body:\n%s", r.StatusCode, r.body)
	}
	if n, ok := testID(r.body, "tenant-count"); !ok || n != "12" {
		t.Errorf("tenant-count = %q (found %v), want 12 seeded tenants", n, ok)
	}
	if k, ok := testID(r.body, "workspace-key"); !ok || k != seed.WorkspaceKey {
		t.Errorf("workspace-key = %q (found %v), want %q", k, ok, seed.WorkspaceKey)
	}
	if m, _ := testID(r.body, "manager-email"); m != seed.AdminEmail {
		t.Errorf("manager-email = %q, want %q", m, seed.AdminEmail)
	}
	if role, _ := testID(r.body, "manager-role"); role != string(tenancy.RoleAdmin) {
		t.Errorf("manager-role = %q, want admin", role)
	}

	// A signed-in manager visiting the sign-in page goes home.
	wantRedirect(t, e.get(t, c, "/signin"), "/")

	// An htmx (non-boosted) request gets only the fragment, without the frame.
	r = e.get(t, c, "/", "HX-Request", "true")
	if r.StatusCode != http.StatusOK || strings.Contains(r.body, "<html") || !strings.Contains(r.body, `data-testid="tenant-count"`) {
		t.Errorf("htmx GET /: status %d, want 200 and a fragment; body:\n%s", r.StatusCode, r.body)
	}
}

func TestSessionCookieIsSecureBehindHTTPS(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, map[string]string{"TENANTRY_BASE_URL": "https://console.example.test"})
	r := e.signIn(t, e.client(t), seed.AdminEmail, seed.DemoPassword, "")
	wantRedirect(t, r, "/")
	ck := sessionCookieOf(r.Response)
	if ck == nil {
		t.Fatal("no session cookie set")
	}
	if !ck.Secure {
		t.Error("session cookie is not Secure although TENANTRY_BASE_URL is https://")
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Errorf("session cookie attributes: HttpOnly=%v SameSite=%v Path=%q", ck.HttpOnly, ck.SameSite, ck.Path)
	}
}

func TestWrongCredentialsAreRefusedAlike(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)

	cases := []struct{ name, email, password string }{
		{"wrong password", seed.AdminEmail, "not-the-password"},
		{"unknown email", "nobody@demo.test", seed.DemoPassword},
		{"empty password", seed.AdminEmail, ""},
	}
	var messages []string
	for _, tc := range cases {
		r := e.signIn(t, c, tc.email, tc.password, "/")
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", tc.name, r.StatusCode)
		}
		msg, ok := testID(r.body, "signin-error")
		if !ok {
			t.Fatalf("%s: no signin-error in the form:\n%s", tc.name, r.body)
		}
		messages = append(messages, msg)
		if ck := sessionCookieOf(r.Response); ck != nil && ck.MaxAge >= 0 {
			t.Errorf("%s: a session cookie was set: %v", tc.name, ck)
		}
		// The form comes back with the email typed, never the password.
		if !strings.Contains(r.body, `value="`+tc.email+`"`) {
			t.Errorf("%s: the form does not keep the email", tc.name)
		}
		if tc.password != "" && strings.Contains(r.body, tc.password) {
			t.Errorf("%s: the password is echoed in the page", tc.name)
		}
		checkStrictHTML(t, tc.name, r)
		// Whatever the jar holds grants nothing.
		wantRedirect(t, e.get(t, c, "/"), "/signin?next=%2F")
	}
	for i, m := range messages {
		if m != wrongPasswordMessage {
			t.Errorf("%s: message %q, want %q (the same for every failure: no account enumeration)", cases[i].name, m, wrongPasswordMessage)
		}
	}
}

func TestSessionRotatesAndSignOutEndsIt(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)

	first := e.mustSignIn(t, c, seed.AdminEmail)
	second := e.mustSignIn(t, c, seed.AdminEmail)
	if first.Value == second.Value {
		t.Fatal("the session cookie did not change on the second sign-in")
	}
	t1, t2 := e.sessionToken(t, first.Value), e.sessionToken(t, second.Value)
	if t1 == "" || t2 == "" {
		t.Fatalf("session cookies do not decode with the server's keys: %q, %q", t1, t2)
	}
	if t1 == t2 {
		t.Fatal("the second sign-in reused the first session token")
	}
	if r := e.replay(t, "/", second.Value); r.StatusCode != http.StatusOK {
		t.Fatalf("replaying the current cookie before sign-out: status %d, want 200", r.StatusCode)
	}

	r := e.postForm(t, c, "/signout", url.Values{})
	wantRedirect(t, r, "/signin")
	if ck := sessionCookieOf(r.Response); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("sign-out does not expire the session cookie: %v", ck)
	}
	// The browser is signed out…
	wantRedirect(t, e.get(t, c, "/"), "/signin?next=%2F")
	// …and so is anyone holding a copy of the cookie: the session is gone on the server.
	wantRedirect(t, e.replay(t, "/", second.Value), "/signin?next=%2F")
	var n int
	if err := e.db.SQL().GetContext(context.Background(), &n,
		`SELECT count(*) FROM manager_sessions WHERE token_hash = $1`, store.HashSessionToken(t2)); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the signed-out session is still in manager_sessions")
	}

	// A tampered cookie is treated as no cookie.
	wantRedirect(t, e.replay(t, "/", second.Value[:len(second.Value)-4]+"AAAA"), "/signin?next=%2F")
}

func TestRemovedManagerIsSignedOut(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)
	e.mustSignIn(t, c, seed.SupportEmail)
	r := e.get(t, c, "/")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("support GET /: status %d, want 200", r.StatusCode)
	}
	if role, _ := testID(r.body, "manager-role"); role != string(tenancy.RoleSupport) {
		t.Errorf("manager-role = %q, want support", role)
	}

	ctx := context.Background()
	m, _, err := e.db.LookupManagerByEmail(ctx, seed.SupportEmail)
	if err != nil {
		t.Fatal(err)
	}
	err = e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		return tx.RemoveMembership(ctx, m.ID)
	})
	if err != nil {
		t.Fatalf("RemoveMembership: %v", err)
	}
	wantRedirect(t, e.get(t, c, "/"), "/signin?next=%2F")

	// Without a membership the password alone opens nothing.
	r = e.signIn(t, c, seed.SupportEmail, seed.DemoPassword, "")
	if r.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in without membership: status %d, want 401", r.StatusCode)
	}
}

func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)
	for i := 1; i <= 5; i++ {
		if r := e.signIn(t, c, seed.AdminEmail, "wrong-password-"+string(rune('0'+i)), ""); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i, r.StatusCode)
		}
	}
	// The right password does not help once the account is throttled.
	r := e.signIn(t, c, seed.AdminEmail, seed.DemoPassword, "")
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("6th attempt: status %d, want 429", r.StatusCode)
	}
	if msg, _ := testID(r.body, "signin-error"); !strings.HasPrefix(msg, "Too many failed sign-ins") {
		t.Errorf("6th attempt: message %q, want Too many failed sign-ins…", msg)
	}
	if ck := sessionCookieOf(r.Response); ck != nil {
		t.Errorf("a throttled attempt set a session cookie")
	}
	// The email is normalised before throttling: case and spaces do not reset the count.
	if r := e.signIn(t, c, "  ADMIN@demo.test ", seed.DemoPassword, ""); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("same email, other case: status %d, want 429", r.StatusCode)
	}
	// Another account from the same address is not locked out by this one's failures.
	wantRedirect(t, e.signIn(t, e.client(t), seed.SupportEmail, seed.DemoPassword, ""), "/")
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	form := url.Values{"email": {seed.AdminEmail}, "password": {seed.DemoPassword}}
	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}},
		{"foreign Origin", []string{"Origin", "https://evil.example"}},
	} {
		c := e.client(t)
		r := e.postForm(t, c, "/signin", form, tc.headers...)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, r.StatusCode)
		}
		if ck := sessionCookieOf(r.Response); ck != nil {
			t.Errorf("%s: a session cookie was set", tc.name)
		}
	}
	// Same-origin requests, as browsers label them, work.
	host := strings.TrimPrefix(e.ts.URL, "http://")
	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"Sec-Fetch-Site same-origin", []string{"Sec-Fetch-Site", "same-origin"}},
		{"matching Origin", []string{"Origin", "http://" + host}},
		{"no browser headers", nil},
	} {
		r := e.postForm(t, e.client(t), "/signin", form, tc.headers...)
		if r.StatusCode != http.StatusSeeOther || sessionCookieOf(r.Response) == nil {
			t.Errorf("%s: status %d, want 303 with a session", tc.name, r.StatusCode)
		}
	}
	// Sign-out is protected too: a cross-site form cannot sign a manager out.
	c := e.client(t)
	e.mustSignIn(t, c, seed.AdminEmail)
	if r := e.postForm(t, c, "/signout", url.Values{}, "Sec-Fetch-Site", "cross-site"); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-out: status %d, want 403", r.StatusCode)
	}
	if r := e.get(t, c, "/"); r.StatusCode != http.StatusOK {
		t.Errorf("after a refused cross-site sign-out: GET / status %d, want 200 (still signed in)", r.StatusCode)
	}
}

func TestHTMLUnderStrictCSP(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)

	r := e.get(t, c, "/signin")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /signin: %d", r.StatusCode)
	}
	checkStrictHTML(t, "sign-in page", r)
	checkStrictHTML(t, "404 page signed out", e.get(t, c, "/no-such-page"))

	e.mustSignIn(t, c, seed.AdminEmail)
	r = e.get(t, c, "/")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d", r.StatusCode)
	}
	checkStrictHTML(t, "home", r)
	checkStrictHTML(t, "404 page signed in", e.get(t, c, "/no-such-page"))

	// The other security headers come with every response, HTML or not.
	for _, path := range []string{"/", "/healthz", "/no-such-page"} {
		r := e.get(t, c, path)
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "same-origin",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
		if !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: CSP lacks frame-ancestors 'none'", path)
		}
	}
}

func TestNextStaysOnSite(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	for _, tc := range []struct{ next, want string }{
		{"//evil.example", "/"},
		{"https://evil.example", "/"},
		{`/\evil.example`, "/"},
		{"evil.example", "/"},
		// Browsers drop tabs and newlines from URLs: "/\t/evil.example" becomes "//evil.example".
		{"/\t/evil.example", "/"},
		{"/\r\n/evil.example", "/"},
		{"/", "/"},
		{"/tenants?q=acme", "/tenants?q=acme"},
	} {
		c := e.client(t)
		r := e.signIn(t, c, seed.AdminEmail, seed.DemoPassword, tc.next)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != tc.want {
			t.Errorf("next=%q: status %d Location %q, want 303 to %q", tc.next, r.StatusCode, r.Header.Get("Location"), tc.want)
		}
	}
	// The sign-in page never puts a foreign next into its form either.
	r := e.get(t, e.client(t), "/signin?next="+url.QueryEscape("//evil.example"))
	if strings.Contains(r.body, "evil.example") {
		t.Errorf("the sign-in form carries a foreign next:\n%s", r.body)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "/",
		"/":                    "/",
		"/tenants/1":           "/tenants/1",
		"//evil.example":       "/",
		"///evil.example":      "/",
		`/\evil.example`:       "/",
		"https://evil.example": "/",
		"javascript:alert(1)":  "/",
		"/\t/evil.example":     "/",
		"/\n/evil.example":     "/",
		"/\r/evil.example":     "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHealthAndNotFound(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)

	r := e.get(t, c, "/healthz")
	if r.StatusCode != http.StatusOK {
		t.Errorf("/healthz: status %d, want 200", r.StatusCode)
	}
	r = e.get(t, c, "/readyz")
	if r.StatusCode != http.StatusOK || strings.TrimSpace(r.body) != `{"status":"ready"}` {
		t.Errorf("/readyz: status %d body %q, want 200 {\"status\":\"ready\"}", r.StatusCode, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("/readyz: Content-Type %q", ct)
	}

	r = e.get(t, c, "/no-such-page")
	if r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown page: status %d, want 404", r.StatusCode)
	}
	if !strings.Contains(r.body, `data-testid="problem"`) {
		t.Errorf("unknown page: no problem box:\n%s", r.body)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id header")
	}
}

func TestReadyzReportsAnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	ctx := context.Background()
	// Pretend a newer binary expects one more migration than the database has.
	if _, err := e.db.SQL().ExecContext(ctx,
		`DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, e.client(t), "/readyz")
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.body, `"unavailable"`) {
		t.Errorf("/readyz on an unmigrated database: status %d body %q, want 503 unavailable", r.StatusCode, r.body)
	}
}

// Support managers change nothing, so every route that changes data must be admin-only.
func TestRouteTableWritesAreAdminOnly(t *testing.T) {
	s := &Server{}
	seen := map[string]bool{}
	for _, rt := range s.consoleRoutes() {
		t.Run(rt.pattern, func(t *testing.T) {
			if seen[rt.pattern] {
				t.Errorf("route %q is listed twice", rt.pattern)
			}
			seen[rt.pattern] = true
			method, path, ok := strings.Cut(rt.pattern, " ")
			if !ok || method == "" || !strings.HasPrefix(path, "/") {
				t.Fatalf("pattern %q does not name a method and a path", rt.pattern)
			}
			if rt.handle == nil {
				t.Errorf("route %q has no handler", rt.pattern)
			}
			switch {
			case method == http.MethodGet || method == http.MethodHead:
			case rt.pattern == "POST /signin" || rt.pattern == "POST /signout":
			case rt.access != admin:
				t.Errorf("route %q changes data but its access is %v, want admin", rt.pattern, rt.access)
			}
			if rt.access == public && rt.pattern != "GET /signin" && rt.pattern != "POST /signin" {
				t.Errorf("route %q is public: only sign-in may be", rt.pattern)
			}
		})
	}
}

var cssLinkRE = regexp.MustCompile(`<link rel="stylesheet" href="(/static/css/app\.[0-9a-f]{10}\.css)"`)

func TestStaticAssetsAreImmutable(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.client(t)
	page := e.get(t, c, "/signin")
	m := cssLinkRE.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no hashed CSS link in the sign-in page:\n%s", page.body)
	}
	r := e.get(t, c, m[1])
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", m[1], r.StatusCode)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("GET %s: Cache-Control %q, want immutable", m[1], cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("GET %s: Content-Type %q", m[1], ct)
	}
	if len(r.body) < 1000 {
		t.Errorf("GET %s: only %d bytes", m[1], len(r.body))
	}
	// Every script the page loads is served too, so the page works without inline code.
	for _, sm := range regexp.MustCompile(`<script src="([^"]+)"`).FindAllStringSubmatch(page.body, -1) {
		if r := e.get(t, c, sm[1]); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", sm[1], r.StatusCode)
		}
	}
}
