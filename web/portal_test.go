package web

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/auth"
	"tenantry/internal/config"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// portalEnv is a server on the seeded demo workspace whose log the test reads, with a known set
// of activity entries for acme, globex and the workspace itself.
type portalEnv struct {
	*testEnv
	logs          *lockedBuffer
	secret        []byte
	acme, globex  uuid.UUID
	hubspot       uuid.UUID
	acmeConn      uuid.UUID
	acmeConn2     uuid.UUID
	globexConn    uuid.UUID
	acmeEntries   []portalEntry // newest first
	globexEntries []portalEntry
	wsEntries     []portalEntry
}

type portalEntry struct {
	id                uuid.UUID
	at                time.Time
	typ, status, msg  string
	integration, conn uuid.UUID
}

// entryID is a UUIDv7 whose time is at, as the recorder's ids are.
func portalEntryID(at time.Time) uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(id[0:6], ms[2:8])
	return id
}

func newPortalEnv(t *testing.T, vars map[string]string) *portalEnv {
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
	// As newTestEnv's: the test reads its own log, and TestMain scans every line for secrets.
	registerSeeded(t, db, res.Workspace)
	handler := slog.NewTextHandler(io.MultiWriter(logs, logCapture), &slog.HandlerOptions{Level: slog.LevelDebug})
	srv, err := New(cfg, db, slog.New(handler))
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ErrorLog = slog.NewLogLogger(handler, slog.LevelWarn)
	ts.Start()
	t.Cleanup(ts.Close)
	e := &portalEnv{testEnv: &testEnv{srv: srv, db: db, ts: ts, ws: res.Workspace, cfg: cfg}, logs: logs}
	wa, err := db.LookupWorkspaceByKey(ctx, seed.WorkspaceKey)
	if err != nil {
		t.Fatal(err)
	}
	e.secret = wa.Secret
	one := func(q string, args ...any) uuid.UUID {
		var id uuid.UUID
		if err := db.SQL().GetContext(ctx, &id, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	e.acme = one(`SELECT id FROM tenants WHERE workspace_id = $1 AND internal_id = 'acme'`, e.ws.ID)
	e.globex = one(`SELECT id FROM tenants WHERE workspace_id = $1 AND internal_id = 'globex'`, e.ws.ID)
	e.hubspot = one(`SELECT id FROM integrations WHERE workspace_id = $1 AND key = 'hubspot'`, e.ws.ID)
	e.acmeConn = one(`SELECT id FROM connections WHERE tenant_id = $1 ORDER BY created_at, id LIMIT 1`, e.acme)
	e.acmeConn2 = one(`SELECT id FROM connections WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`, e.acme)
	e.globexConn = one(`SELECT id FROM connections WHERE tenant_id = $1 LIMIT 1`, e.globex)
	if e.acmeConn == e.acmeConn2 {
		t.Fatal("the demo seed gives acme two connections")
	}

	now := time.Now().UTC().Truncate(time.Microsecond) // the database keeps microseconds
	if err := db.EnsureActivityPartitions(ctx, now.Add(-2*24*time.Hour), now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `DELETE FROM activity_log`)
	types := []string{"action.run", "connection.created", "credentials.read"}
	statuses := []string{"success", "error", "warning", "success"}
	for i := 0; i < 60; i++ {
		at := now.Add(-time.Duration(i*3+1) * time.Minute)
		en := portalEntry{id: portalEntryID(at), at: at, typ: types[i%3], status: statuses[i%4],
			msg: fmt.Sprintf("acme entry %d about %s", i, []string{"deals", "contacts"}[i%2])}
		if i%2 == 0 {
			en.integration, en.conn = e.hubspot, e.acmeConn
		} else if i%5 == 0 {
			en.integration, en.conn = e.hubspot, e.acmeConn2
		}
		e.insert(t, e.acme, en)
		e.acmeEntries = append(e.acmeEntries, en)
	}
	for i := 0; i < 10; i++ {
		at := now.Add(-time.Duration(i*7+2) * time.Minute)
		en := portalEntry{id: portalEntryID(at), at: at, typ: types[i%3], status: statuses[i%4], msg: fmt.Sprintf("globex private entry %d about deals", i),
			integration: e.hubspot, conn: e.globexConn}
		e.insert(t, e.globex, en)
		e.globexEntries = append(e.globexEntries, en)
	}
	for i := 0; i < 3; i++ {
		at := now.Add(-time.Duration(i*11+5) * time.Minute)
		en := portalEntry{id: portalEntryID(at), at: at, typ: "settings.updated", status: "success", msg: fmt.Sprintf("workspace entry %d about deals", i)}
		e.insert(t, uuid.Nil, en)
		e.wsEntries = append(e.wsEntries, en)
	}
	return e
}

func (e *portalEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.db.SQL().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (e *portalEnv) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.SQL().GetContext(context.Background(), &n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *portalEnv) insert(t *testing.T, tenant uuid.UUID, en portalEntry) {
	t.Helper()
	nu := func(id uuid.UUID) any {
		if id == uuid.Nil {
			return nil
		}
		return id
	}
	e.exec(t, `INSERT INTO activity_log (workspace_id, created_at, id, tenant_id, type, status, actor_type, actor_id,
		integration_id, connection_id, message, details) VALUES ($1, $2, $3, $4, $5, $6, 'system', '', $7, $8, $9, $10)`,
		e.ws.ID, en.at, en.id, nu(tenant), en.typ, en.status, nu(en.integration), nu(en.conn), en.msg,
		fmt.Sprintf(`{"note": %q, "apiKey": "[redacted]"}`, en.msg))
}

// token signs a token of the demo workspace: a tenant token for tenantKey, a workspace token when
// tenantKey is "".
func (e *portalEnv) token(t *testing.T, tenantKey string, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Sign(e.secret, seed.WorkspaceKey, tenantKey, "", tenantKey == "", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// open exchanges a tenant token for a portal session in c's cookie jar; it fails unless the
// answer is a 303 to the same address without the token.
func (e *portalEnv) open(t *testing.T, c *http.Client, tenantKey string) {
	t.Helper()
	r := e.get(t, c, "/portal/activity?token="+url.QueryEscape(e.token(t, tenantKey, time.Hour)))
	wantRedirect(t, r, "/portal/activity")
}

var (
	portalRowRE  = regexp.MustCompile(`data-testid="portal-row" data-id="([0-9a-f-]{36})"`)
	portalMoreRE = regexp.MustCompile(`(?s)id="portal-more".*?href="([^"]+)"`)
)

// rowIDs are the entry ids a portal page lists, in order.
func portalRowIDs(body string) []string {
	out := []string{}
	for _, m := range portalRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// listAll reads the list at path and follows "load more" (as htmx does) to the end.
func (e *portalEnv) listAll(t *testing.T, c *http.Client, path string) []string {
	t.Helper()
	r := e.get(t, c, path)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d:\n%s", path, r.StatusCode, r.body)
	}
	ids := portalRowIDs(r.body)
	for pages := 0; ; pages++ {
		m := portalMoreRE.FindStringSubmatch(r.body)
		if m == nil {
			return ids
		}
		if pages > 20 {
			t.Fatalf("%s: load more does not end", path)
		}
		if n := len(portalRowRE.FindAllString(r.body, -1)); n != portalPageSize {
			t.Fatalf("%s: a page with load more has %d rows, want %d", path, n, portalPageSize)
		}
		next := html.UnescapeString(m[1])
		if strings.Contains(next, "token") {
			t.Fatalf("load more link carries a token: %s", next)
		}
		r = e.get(t, c, next, "HX-Request", "true", "HX-Target", "portal-more")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("load more %s: status %d:\n%s", next, r.StatusCode, r.body)
		}
		if strings.Contains(r.body, "<html") {
			t.Fatalf("load more %s returned a whole page", next)
		}
		ids = append(ids, portalRowIDs(r.body)...)
	}
}

func portalIDsOf(es []portalEntry, pred func(portalEntry) bool) []string {
	out := []string{}
	for _, en := range es {
		if pred(en) {
			out = append(out, en.id.String())
		}
	}
	return out
}

// frameAncestors returns the sources of the frame-ancestors directive of a CSP.
func portalFrameAncestors(t *testing.T, csp string) []string {
	t.Helper()
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 && f[0] == "frame-ancestors" {
			return f[1:]
		}
	}
	t.Fatalf("CSP %q has no frame-ancestors", csp)
	return nil
}

// TestPortalTokenExchange: a tenant token in the URL becomes a session cookie and a 303 to the
// same address without it; the cookie then opens the page; the token is never logged.
func TestPortalTokenExchange(t *testing.T) {
	e := newPortalEnv(t, nil)
	c := e.client(t)
	tok := e.token(t, "acme", time.Hour)
	r := e.get(t, c, "/portal/activity?status=error&token="+url.QueryEscape(tok)+"&q=contacts")
	wantRedirect(t, r, "/portal/activity?q=contacts&status=error")
	var ck *http.Cookie
	for _, k := range r.Cookies() {
		if k.Name == portalCookie {
			ck = k
		}
	}
	if ck == nil || ck.Value == "" {
		t.Fatalf("no %s cookie; Set-Cookie: %v", portalCookie, r.Header["Set-Cookie"])
	}
	if !ck.HttpOnly || ck.Path != "/portal/" || ck.MaxAge != 3600 || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
		t.Errorf("cookie over http: %+v, want HttpOnly, Path /portal/, Max-Age 3600, SameSite=Lax, not Secure", ck)
	}
	if strings.Contains(ck.Value, tok) || strings.Contains(tok, ck.Value) {
		t.Error("the cookie carries the token")
	}
	// The database keeps the cookie token's hash, for acme, for an hour; never the token itself.
	h := sha256.Sum256([]byte(ck.Value))
	if n := e.count(t, `SELECT count(*) FROM portal_sessions WHERE token_hash = $1 AND tenant_id = $2 AND workspace_id = $3
		AND expires_at BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes'`, h[:], e.acme, e.ws.ID); n != 1 {
		t.Errorf("portal_sessions has %d rows for the cookie, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM portal_sessions`); n != 1 {
		t.Errorf("portal_sessions has %d rows, want 1", n)
	}

	// The cookie opens the page, with the filters the link carried.
	r = e.get(t, c, r.Header.Get("Location"))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("page after the exchange: status %d:\n%s", r.StatusCode, r.body)
	}
	checkStrictHTML(t, "portal page", r)
	want := portalIDsOf(e.acmeEntries, func(en portalEntry) bool { return en.status == "error" && strings.HasSuffix(en.msg, "contacts") })
	if got := portalRowIDs(r.body); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("acme's errors about contacts: got %v, want %v", got, want)
	}
	if name, _ := testID(r.body, "portal-tenant"); name != "Acme Corp" {
		t.Errorf("tenant name %q, want Acme Corp", name)
	}
	if strings.Contains(r.body, tok) {
		t.Error("the page contains the token")
	}
	// A fresh client with only the cookie (no token) is the same session.
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/portal/activity", nil)
	req.AddCookie(&http.Cookie{Name: portalCookie, Value: ck.Value})
	if r := do(t, &http.Client{}, req); r.StatusCode != http.StatusOK || len(portalRowIDs(r.body)) != portalPageSize {
		t.Errorf("cookie alone: status %d, %d rows", r.StatusCode, len(portalRowIDs(r.body)))
	}
	// A second token replaces the session: the old cookie ends.
	e.open(t, c, "acme")
	if n := e.count(t, `SELECT count(*) FROM portal_sessions WHERE token_hash = $1`, h[:]); n != 0 {
		t.Error("the previous session outlived a new token")
	}
	if n := e.count(t, `SELECT count(*) FROM portal_sessions`); n != 1 {
		t.Errorf("portal_sessions has %d rows after a second token, want 1", n)
	}
	if r := e.get(t, c, "/portal/activity"); r.StatusCode != http.StatusOK {
		t.Errorf("the new session: status %d", r.StatusCode)
	}

	// The exchange on an entry's address keeps the address.
	id := e.acmeEntries[0].id.String()
	r = e.get(t, e.client(t), "/portal/activity/"+id+"?token="+url.QueryEscape(e.token(t, "acme", time.Hour)))
	wantRedirect(t, r, "/portal/activity/"+id)

	// Nothing the server logged contains a token, and the log did record the requests.
	logs := e.logs.String()
	if !strings.Contains(logs, "path=/portal/activity") {
		t.Fatalf("the access log has no portal request:\n%s", logs)
	}
	for _, s := range []string{tok, "token=", strings.Split(tok, ".")[1], strings.Split(tok, ".")[2]} {
		if strings.Contains(logs, s) {
			t.Errorf("the server log contains %q", s)
		}
	}

	// A tenant without a name is shown by its internalId.
	e.exec(t, `UPDATE tenants SET name = '' WHERE id = $1`, e.acme)
	if name, _ := testID(e.get(t, c, "/portal/activity").body, "portal-tenant"); name != "acme" {
		t.Errorf("nameless tenant shown as %q, want acme", name)
	}
}

// TestPortalSecureCookie: over https the cookie is SameSite=None; Secure; Partitioned, so an
// iframe on the company's site (a third-party context) keeps it.
func TestPortalSecureCookie(t *testing.T) {
	e := newPortalEnv(t, map[string]string{"TENANTRY_BASE_URL": "https://tenantry.example"})
	r := e.get(t, e.client(t), "/portal/activity?token="+url.QueryEscape(e.token(t, "acme", time.Hour)))
	wantRedirect(t, r, "/portal/activity")
	var raw string
	for _, v := range r.Header["Set-Cookie"] {
		if strings.HasPrefix(v, portalCookie+"=") {
			raw = v
		}
	}
	for _, attr := range []string{"Path=/portal/", "Max-Age=3600", "HttpOnly", "Secure", "SameSite=None", "Partitioned"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("Set-Cookie %q lacks %s", raw, attr)
		}
	}
}

// TestPortalRefusesTokens: workspace tokens, bad, expired and foreign tokens and archived tenants
// get a page that says why, and no session.
func TestPortalRefusesTokens(t *testing.T) {
	e := newPortalEnv(t, nil)
	other, otherSecret, err := e.db.CreateWorkspace(context.Background(), "other", "Other")
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret, _ := auth.Sign([]byte("not the secret"), seed.WorkspaceKey, "acme", "", false, time.Hour)
	foreign, _ := auth.Sign([]byte(otherSecret), other.Key, "acme", "", false, time.Hour)
	unknownWS, _ := auth.Sign(e.secret, "no-such-workspace", "acme", "", false, time.Hour)
	err = e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.ArchiveTenant(context.Background(), portalOne(t, e, `SELECT id FROM tenants WHERE internal_id = 'hooli'`))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token string
		status      int
		says        string
	}{
		{"workspace token", e.token(t, "", time.Hour), http.StatusForbidden, "workspace token"},
		{"expired token", e.token(t, "acme", -time.Minute), http.StatusUnauthorized, "expired"},
		{"wrong secret", wrongSecret, http.StatusUnauthorized, "refused"},
		{"unknown workspace", unknownWS, http.StatusUnauthorized, "refused"},
		{"garbage", "not-a-jwt", http.StatusUnauthorized, "refused"},
		{"empty", "", http.StatusUnauthorized, "no token"},
		{"archived tenant", e.token(t, "hooli", time.Hour), http.StatusForbidden, "archived"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.get(t, e.client(t), "/portal/activity?token="+url.QueryEscape(c.token))
			if r.StatusCode != c.status {
				t.Fatalf("status %d, want %d:\n%s", r.StatusCode, c.status, r.body)
			}
			if !strings.Contains(strings.ToLower(r.body), c.says) {
				t.Errorf("the page does not say %q:\n%s", c.says, r.body)
			}
			if !strings.Contains(r.body, `data-testid="portal-problem"`) {
				t.Errorf("not a problem page:\n%s", r.body)
			}
			if len(r.Cookies()) != 0 {
				t.Errorf("a refused token set cookies: %v", r.Header["Set-Cookie"])
			}
			if c.token != "" && strings.Contains(r.body, c.token) {
				t.Error("the page echoes the token")
			}
			checkStrictHTML(t, c.name, r)
			if rows := portalRowIDs(r.body); len(rows) != 0 {
				t.Errorf("a refused token shows %d entries", len(rows))
			}
		})
	}
	// The other workspace's own tenant token works there, and sees none of the demo's entries.
	c := e.client(t)
	wantRedirect(t, e.get(t, c, "/portal/activity?token="+url.QueryEscape(foreign)), "/portal/activity")
	r := e.get(t, c, "/portal/activity")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "tenant.created") {
		t.Errorf("another workspace's acme: status %d, want 200 with its own tenant.created", r.StatusCode)
	}
	demo := portalIDsOf(append(append(slices.Clone(e.acmeEntries), e.globexEntries...), e.wsEntries...), func(portalEntry) bool { return true })
	for _, id := range portalRowIDs(r.body) {
		if slices.Contains(demo, id) {
			t.Errorf("another workspace's acme sees the demo's entry %s", id)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM portal_sessions WHERE workspace_id = $1`, e.ws.ID); n != 0 {
		t.Errorf("refused tokens created %d sessions", n)
	}
	if logs := e.logs.String(); strings.Contains(logs, "token=") || strings.Contains(logs, wrongSecret) {
		t.Error("the server log contains a token")
	}
}

func portalOne(t *testing.T, e *portalEnv, q string, args ...any) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := e.db.SQL().GetContext(context.Background(), &id, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return id
}

// TestPortalSessionEnds: without a cookie, with a bad one, after the session expired, or once the
// tenant is archived, the page says to reopen it from the app and shows nothing.
func TestPortalSessionEnds(t *testing.T) {
	e := newPortalEnv(t, nil)
	noSession := func(t *testing.T, what string, r result, status int, says string) {
		t.Helper()
		if r.StatusCode != status {
			t.Fatalf("%s: status %d, want %d:\n%s", what, r.StatusCode, status, r.body)
		}
		if !strings.Contains(r.body, says) {
			t.Errorf("%s: the page does not say %q:\n%s", what, says, r.body)
		}
		if n := len(portalRowIDs(r.body)); n != 0 {
			t.Errorf("%s: %d entries shown", what, n)
		}
		checkStrictHTML(t, what, r)
	}
	noSession(t, "no cookie", e.get(t, e.client(t), "/portal/activity"), http.StatusUnauthorized, "Open it again from there")
	noSession(t, "no cookie, an entry", e.get(t, e.client(t), "/portal/activity/"+e.acmeEntries[0].id.String()), http.StatusUnauthorized, "Open it again from there")
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/portal/activity", nil)
	req.AddCookie(&http.Cookie{Name: portalCookie, Value: "forged"})
	noSession(t, "forged cookie", do(t, &http.Client{}, req), http.StatusUnauthorized, "Open it again from there")
	// A Console session is not a portal session.
	admin := e.client(t)
	e.mustSignIn(t, admin, seed.AdminEmail)
	noSession(t, "manager", e.get(t, admin, "/portal/activity"), http.StatusUnauthorized, "Open it again from there")

	c := e.client(t)
	e.open(t, c, "acme")
	if r := e.get(t, c, "/portal/activity"); r.StatusCode != http.StatusOK {
		t.Fatalf("open session: %d", r.StatusCode)
	}
	// An htmx request after the end gets a toast, not a page.
	e.exec(t, `UPDATE portal_sessions SET expires_at = now() - interval '1 second'`)
	noSession(t, "expired", e.get(t, c, "/portal/activity"), http.StatusUnauthorized, "Open it again from the app")
	r := e.get(t, c, "/portal/activity?cursor=x", "HX-Request", "true", "HX-Target", "portal-more")
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("HX-Trigger"), "showToast") || strings.Contains(r.body, "<html") {
		t.Errorf("htmx request after expiry: status %d, HX-Trigger %q, body %q", r.StatusCode, r.Header.Get("HX-Trigger"), r.body)
	}
	// Long expired: unknown.
	e.exec(t, `UPDATE portal_sessions SET expires_at = now() - interval '2 days'`)
	noSession(t, "long expired", e.get(t, c, "/portal/activity"), http.StatusUnauthorized, "Open it again from there")

	// Archived after the session began: refused at the next request.
	e.open(t, c, "acme")
	err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.ArchiveTenant(context.Background(), e.acme)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	noSession(t, "archived", e.get(t, c, "/portal/activity"), http.StatusForbidden, "archived")
	noSession(t, "archived, an entry", e.get(t, c, "/portal/activity/"+e.acmeEntries[0].id.String()), http.StatusForbidden, "archived")
	// The portal changes nothing: other methods are refused.
	req, _ = http.NewRequest(http.MethodPost, e.ts.URL+"/portal/activity", nil)
	if r := do(t, c, req); r.StatusCode != http.StatusMethodNotAllowed && r.StatusCode != http.StatusNotFound {
		t.Errorf("POST /portal/activity: %d, want 404 or 405", r.StatusCode)
	}
}

// TestPortalFrameAncestors: portal pages may be framed by the workspace's allowed origins and
// itself, nothing else, and carry no X-Frame-Options; the Console keeps refusing every frame.
func TestPortalFrameAncestors(t *testing.T) {
	e := newPortalEnv(t, nil)
	setOrigins := func(origins ...string) {
		t.Helper()
		err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
			return tx.UpdateWorkspaceSettings(context.Background(), func(s *tenancy.Settings) error {
				s.AllowedOrigins = origins
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wantFrame := func(t *testing.T, what string, r result, want ...string) {
		t.Helper()
		got := portalFrameAncestors(t, r.Header.Get("Content-Security-Policy"))
		if !slices.Equal(got, want) {
			t.Errorf("%s: frame-ancestors %v, want %v", what, got, want)
		}
		if v := r.Header.Values("X-Frame-Options"); len(v) != 0 {
			t.Errorf("%s: X-Frame-Options %v on a portal page", what, v)
		}
	}
	setOrigins("https://app.example.com", "http://localhost:3000")
	c := e.client(t)
	r := e.get(t, c, "/portal/activity?token="+url.QueryEscape(e.token(t, "acme", time.Hour)))
	wantFrame(t, "exchange", r, "'self'", "https://app.example.com", "http://localhost:3000")
	r = e.get(t, c, "/portal/activity")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("page: %d", r.StatusCode)
	}
	wantFrame(t, "page", r, "'self'", "https://app.example.com", "http://localhost:3000")
	wantFrame(t, "entry", e.get(t, c, "/portal/activity/"+e.acmeEntries[0].id.String()), "'self'", "https://app.example.com", "http://localhost:3000")
	wantFrame(t, "refused workspace token", e.get(t, e.client(t), "/portal/activity?token="+url.QueryEscape(e.token(t, "", time.Hour))),
		"'self'", "https://app.example.com", "http://localhost:3000")
	// The rest of the policy is the Console's.
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("portal CSP %q", csp)
	}
	// A change of the origins applies at the next request of the same session.
	setOrigins("https://other.example")
	wantFrame(t, "after the change", e.get(t, c, "/portal/activity"), "'self'", "https://other.example")
	setOrigins()
	wantFrame(t, "no origins", e.get(t, c, "/portal/activity"), "'self'")
	// Without a session no workspace is known: only the portal itself may frame the page.
	wantFrame(t, "no session", e.get(t, e.client(t), "/portal/activity"), "'self'")
	// An expired session still frames as its workspace allows, so the page can say so in place.
	setOrigins("https://app.example.com")
	e.exec(t, `UPDATE portal_sessions SET expires_at = now() - interval '1 minute'`)
	wantFrame(t, "expired", e.get(t, c, "/portal/activity"), "'self'", "https://app.example.com")
	// The Console is never framed.
	con := e.get(t, e.client(t), "/signin")
	if got := portalFrameAncestors(t, con.Header.Get("Content-Security-Policy")); !slices.Equal(got, []string{"'none'"}) {
		t.Errorf("Console frame-ancestors %v", got)
	}
	if con.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("Console X-Frame-Options %q", con.Header.Get("X-Frame-Options"))
	}
	// Origins that are not written as origins never reach the header.
	if got := portalCSP([]string{"https://ok.example", "https://x.example; script-src *", "'unsafe-inline'", "https://OK.example", "*"}); !strings.HasSuffix(got, "; frame-ancestors 'self' https://ok.example *") {
		t.Errorf("portalCSP with odd origins: %q", got)
	}
}

// TestPortalIsolation: the page shows the tenant's own entries only; every filter and id that
// names another tenant's things, or the workspace's, finds nothing.
func TestPortalIsolation(t *testing.T) {
	e := newPortalEnv(t, nil)
	c := e.client(t)
	e.open(t, c, "acme")
	all := func(portalEntry) bool { return true }
	acme := portalIDsOf(e.acmeEntries, all)
	if got := e.listAll(t, c, "/portal/activity"); !slices.Equal(got, acme) {
		t.Errorf("acme's list: %d entries, want its %d:\n got %v\nwant %v", len(got), len(acme), got, acme)
	}
	none := []string{}
	for _, q := range []string{
		"connection=" + e.globexConn.String(),
		"tenant=globex", // the portal has no tenant filter: ignored, still acme's only
		"q=globex",
		"q=private",
		"q=workspace+entry",
		"type=settings.updated",
		"connection=" + e.globexConn.String() + "&integration=hubspot",
		"connection=not-a-uuid",
		"integration=no-such-integration",
	} {
		want := none
		if q == "tenant=globex" {
			want = acme
		}
		if got := e.listAll(t, c, "/portal/activity?"+q); !slices.Equal(got, want) {
			t.Errorf("?%s: got %d entries %v, want %d", q, len(got), got, len(want))
		}
	}
	// Another tenant's entries and workspace-level ones are not found by id, as a page or a panel.
	for _, en := range append(slices.Clone(e.globexEntries), e.wsEntries...) {
		for _, h := range [][]string{nil, {"HX-Request", "true", "HX-Target", "portal-detail"}} {
			r := e.get(t, c, "/portal/activity/"+en.id.String(), h...)
			if r.StatusCode != http.StatusNotFound || strings.Contains(r.body, en.msg) {
				t.Errorf("entry %q: status %d, want 404 without its message", en.msg, r.StatusCode)
			}
		}
	}
	for _, id := range []string{"nope", uuid.NewString(), "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-7fff-bfff-ffffffffffff"} {
		if r := e.get(t, c, "/portal/activity/"+id); r.StatusCode != http.StatusNotFound {
			t.Errorf("entry %s: status %d, want 404", id, r.StatusCode)
		}
	}
	// Globex's portal sees globex's, not acme's.
	g := e.client(t)
	e.open(t, g, "globex")
	if got := e.listAll(t, g, "/portal/activity"); !slices.Equal(got, portalIDsOf(e.globexEntries, all)) {
		t.Errorf("globex's list: %v", got)
	}
	if r := e.get(t, g, "/portal/activity/"+e.acmeEntries[0].id.String()); r.StatusCode != http.StatusNotFound {
		t.Errorf("globex opens acme's entry: %d", r.StatusCode)
	}
	// The connection filter offers acme's connections only.
	r := e.get(t, c, "/portal/activity")
	if !strings.Contains(r.body, e.acmeConn.String()) || strings.Contains(r.body, e.globexConn.String()) {
		t.Error("the connection filter does not offer exactly acme's connections")
	}
}

// TestPortalFiltersAndDetail: the filters, their combinations and load more give exactly the
// tenant's matching entries, newest first; an entry opens as a panel and as a page.
func TestPortalFiltersAndDetail(t *testing.T) {
	e := newPortalEnv(t, nil)
	c := e.client(t)
	e.open(t, c, "acme")
	hourAgo := time.Now().Add(-time.Hour)
	from, to := e.acmeEntries[40].at, e.acmeEntries[10].at
	cases := []struct {
		query string
		pred  func(portalEntry) bool
	}{
		{"", func(portalEntry) bool { return true }},
		{"status=error", func(en portalEntry) bool { return en.status == "error" }},
		{"status=warning,error", func(en portalEntry) bool { return en.status != "success" }},
		{"status=bogus", func(portalEntry) bool { return true }}, // an unknown value is no filter
		{"type=action.run", func(en portalEntry) bool { return en.typ == "action.run" }},
		{"type=action.run&type=credentials.read", func(en portalEntry) bool { return en.typ != "connection.created" }},
		{"integration=hubspot", func(en portalEntry) bool { return en.integration == e.hubspot }},
		{"connection=" + e.acmeConn2.String(), func(en portalEntry) bool { return en.conn == e.acmeConn2 }},
		{"range=1h", func(en portalEntry) bool { return en.at.After(hourAgo) }},
		{"range=custom&from=" + from.Format("2006-01-02T15:04:05") + "&to=" + to.Format("2006-01-02T15:04:05"), func(en portalEntry) bool {
			return !en.at.Before(from.Truncate(time.Second)) && en.at.Before(to.Truncate(time.Second))
		}},
		{"q=contacts", func(en portalEntry) bool { return strings.HasSuffix(en.msg, "contacts") }},
		{"q=entry+deals&status=success&type=action.run,connection.created", func(en portalEntry) bool {
			return strings.HasSuffix(en.msg, "deals") && en.status == "success" && en.typ != "credentials.read"
		}},
		{"connection=" + e.acmeConn.String() + "&range=1h&status=error", func(en portalEntry) bool {
			return en.conn == e.acmeConn && en.at.After(hourAgo) && en.status == "error"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			want := portalIDsOf(e.acmeEntries, tc.pred)
			if got := e.listAll(t, c, "/portal/activity?"+tc.query); !slices.Equal(got, want) {
				t.Errorf("got %d entries, want %d\n got %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
	// The results alone, for the filter form's htmx request.
	r := e.get(t, c, "/portal/activity?status=error", "HX-Request", "true", "HX-Target", "portal-results")
	if r.StatusCode != http.StatusOK || strings.Contains(r.body, "<html") || strings.Contains(r.body, "portal-filters") ||
		!slices.Equal(portalRowIDs(r.body), portalIDsOf(e.acmeEntries, func(en portalEntry) bool { return en.status == "error" })) {
		t.Errorf("results fragment: status %d:\n%s", r.StatusCode, r.body)
	}
	// A custom range that makes no sense says so and shows everything.
	r = e.get(t, c, "/portal/activity?range=custom&from=soon&to=later")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "not a pair of dates") || len(portalRowIDs(r.body)) != portalPageSize {
		t.Errorf("bad custom range: status %d, %d rows", r.StatusCode, len(portalRowIDs(r.body)))
	}
	// An edited cursor starts over at the newest entries.
	r = e.get(t, c, "/portal/activity?cursor=garbage")
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "no longer valid") || len(portalRowIDs(r.body)) == 0 ||
		portalRowIDs(r.body)[0] != e.acmeEntries[0].id.String() {
		t.Errorf("bad cursor: status %d", r.StatusCode)
	}

	// An entry: its panel (htmx) and its page.
	en := e.acmeEntries[0]
	r = e.get(t, c, "/portal/activity/"+en.id.String(), "HX-Request", "true", "HX-Target", "portal-detail")
	if r.StatusCode != http.StatusOK || strings.Contains(r.body, "<html") {
		t.Fatalf("entry panel: status %d:\n%s", r.StatusCode, r.body)
	}
	if id, _ := testID(r.body, "portal-detail-id"); id != en.id.String() {
		t.Errorf("panel shows entry %q, want %s", id, en.id)
	}
	for _, s := range []string{en.msg, "HubSpot", "[redacted]", "Tenantry"} {
		if !strings.Contains(r.body, html.EscapeString(s)) {
			t.Errorf("entry panel lacks %q:\n%s", s, r.body)
		}
	}
	r = e.get(t, c, "/portal/activity/"+en.id.String())
	if r.StatusCode != http.StatusOK {
		t.Fatalf("entry page: %d", r.StatusCode)
	}
	checkStrictHTML(t, "entry page", r)
	if _, ok := testID(r.body, "portal-back"); !ok {
		t.Error("the entry page has no way back")
	}
	// The list links each row to its entry, for htmx and without it.
	r = e.get(t, c, "/portal/activity")
	if !strings.Contains(r.body, `href="/portal/activity/`+en.id.String()+`"`) || !strings.Contains(r.body, `hx-target="#portal-detail"`) {
		t.Error("rows do not open their entry")
	}
}

// TestPortalSessionsUnderRLS: a portal session is visible to its own tenant's scope and the
// workspace's, never another tenant's; only a tenant scope creates one, for itself.
func TestPortalSessionsUnderRLS(t *testing.T) {
	e := newPortalEnv(t, nil)
	ctx := context.Background()
	e.open(t, e.client(t), "acme")
	count := func(scope tenancy.Scope) int {
		var n int
		if err := e.db.InScope(ctx, scope, func(tx *store.Tx) error {
			return tx.GetContext(ctx, &n, `SELECT count(*) FROM portal_sessions`)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(tenancy.TenantScope(e.ws.ID, e.acme)); n != 1 {
		t.Errorf("acme's scope sees %d sessions, want 1", n)
	}
	if n := count(tenancy.TenantScope(e.ws.ID, e.globex)); n != 0 {
		t.Errorf("globex's scope sees %d sessions, want 0", n)
	}
	if n := count(tenancy.SystemScope(e.ws.ID)); n != 1 {
		t.Errorf("the workspace sees %d sessions, want 1", n)
	}
	err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		return tx.CreatePortalSession(ctx, "x", time.Hour)
	})
	if !errors.Is(err, tenancy.ErrForbidden) {
		t.Errorf("a workspace scope creating a portal session: %v, want ErrForbidden", err)
	}
	// Past the method's check, the database refuses a row for another tenant.
	err = e.db.InScope(ctx, tenancy.TenantScope(e.ws.ID, e.globex), func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO portal_sessions (workspace_id, token_hash, tenant_id, expires_at)
			VALUES ($1, '\x01', $2, now() + interval '1 hour')`, e.ws.ID, e.acme)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("globex inserting a session for acme: %v, want a row-level security violation", err)
	}
	if n := e.count(t, `SELECT count(*) FROM portal_sessions`); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}
