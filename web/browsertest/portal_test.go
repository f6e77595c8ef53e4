package browsertest

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"tenantry/internal/auth"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// TestPortalTenantToken: the company's app opens the tenant portal with a tenant token. The
// browser lands on the page without the token in the URL, holds a session cookie that scripts
// cannot read, and sees its own tenant's activity only; it narrows the list by status with the
// keyboard and opens an entry. Embedded in an iframe by a page on another origin, the portal is
// refused by the browser until the workspace lists that origin, and then loads (and its cookie
// works) inside the frame.
func TestPortalTenantToken(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	acme, globex := a.tenant(t, "acme"), a.tenant(t, "globex")
	acmeMsgs := []string{"acme portal: deals synced", "acme portal: contacts import failed", "acme portal: token expires soon",
		"acme portal: webhook failed", "acme portal: contacts synced"}
	acmeStatuses := []string{"success", "error", "warning", "error", "success"}
	for i, m := range acmeMsgs {
		a.record(t, acme, "action.run", acmeStatuses[i], m)
	}
	globexMsgs := []string{"globex secret: deals synced", "globex secret: invoices failed", "globex secret: quota warning"}
	globexIDs := map[string]string{}
	for i, m := range globexMsgs {
		globexIDs[m] = a.record(t, globex, "action.run", []string{"success", "error", "warning"}[i], m)
	}
	if n := len(a.portalEntryIDs(t, globex, "")); n < len(globexMsgs) {
		t.Fatalf("globex has %d entries, want at least %d: the isolation check below would prove nothing", n, len(globexMsgs))
	}
	secret := a.portalSecret(t)

	// Open the portal as the company's front end does: the tenant token in the URL.
	b := newBrowser(t, a)
	tok := portalToken(t, secret, "acme")
	start := b.requestsSoFar()
	if st := b.openStatus("/portal/activity?token=" + url.QueryEscape(tok)); st != http.StatusOK {
		t.Fatalf("the portal answered %d, want 200 after the redirect\n%s", st, b.pageTextBestEffort())
	}
	b.visible(`[data-testid="portal-row"]`)
	// The token was sent once, then the 303 took it out of the address (and so out of the history).
	if u := b.location(); u.Path != "/portal/activity" || u.RawQuery != "" {
		t.Errorf("after opening with a token the location is %s, want %s/portal/activity with no query", u, a.base)
	}
	var withToken, without int
	for _, r := range b.requestsSince(start) {
		switch {
		case strings.HasPrefix(r, "GET "+a.base+"/portal/activity?token="):
			withToken++
		case r == "GET "+a.base+"/portal/activity":
			without++
		}
	}
	if withToken != 1 || without != 1 {
		t.Errorf("requests %q: want one GET with the token, then one without", b.requestsSince(start))
	}
	if s := eval[string](b, `location.href + " " + document.referrer + " " + document.body.innerHTML`); strings.Contains(s, tok) {
		t.Error("the token is still in the page, its location or its referrer")
	}
	if got := b.text(`[data-testid="portal-tenant"]`); got != "Acme Corp" {
		t.Errorf("the portal names the tenant %q, want Acme Corp", got)
	}

	// Acme's entries, all of them and newest first; none of Globex's, nowhere on the page.
	want := a.portalEntryIDs(t, acme, "")
	if len(want) > 50 {
		t.Fatalf("acme has %d entries: more than one page, the comparison below needs one", len(want))
	}
	if got := b.portalRowIDs(); !slices.Equal(got, want) {
		t.Errorf("the portal lists %v, want acme's entries %v", got, want)
	}
	msgs := eval[[]string](b, `[...document.querySelectorAll('[data-testid="portal-row-link"]')].map(a => a.textContent.trim())`)
	for _, m := range acmeMsgs {
		if !slices.Contains(msgs, m) {
			t.Errorf("acme's entry %q is not listed; rows: %q", m, msgs)
		}
	}
	body := eval[string](b, `document.body.innerText + document.body.innerHTML`)
	for _, m := range globexMsgs {
		if strings.Contains(body, m) || strings.Contains(body, globexIDs[m]) {
			t.Errorf("the acme portal shows globex's entry %q", m)
		}
	}
	if strings.Contains(body, "Globex") {
		t.Error("the acme portal names Globex")
	}
	b.screenshot("portal")

	// The session cookie exists, for the portal's path, but scripts cannot read it.
	ck := b.portalCookie()
	if ck == nil {
		t.Fatal("the browser holds no tenantry_portal cookie after the redirect")
	}
	if !ck.HTTPOnly || ck.Path != "/portal/" || ck.SameSite != network.CookieSameSiteLax || ck.Secure {
		t.Errorf("cookie %+v: want HttpOnly, Path /portal/, SameSite=Lax, not Secure (plain http)", ck)
	}
	if s := eval[string](b, "document.cookie"); strings.Contains(s, "tenantry_portal") || strings.Contains(s, ck.Value) {
		t.Errorf("document.cookie shows the session: %q", s)
	}

	// Status, by keyboard: Tab from the text field to the status select, then arrow down through
	// Success, Warning, Error; each step narrows the list in place.
	b.markDocument()
	b.click(`[data-testid="portal-search"]`)
	for i := 0; i < 5 && eval[string](b, `document.activeElement ? document.activeElement.id : ""`) != "portal-status"; i++ {
		b.keys(kb.Tab)
	}
	if got := eval[string](b, `document.activeElement ? document.activeElement.id : ""`); got != "portal-status" {
		t.Fatalf("Tab from the text field reached %q, not the status filter", got)
	}
	for _, status := range []string{"success", "warning", "error"} {
		b.keys(kb.ArrowDown)
		b.waitFor(`new URLSearchParams(location.search).get("status") === `+strconv.Quote(status), "the URL to hold status="+status)
		want := a.portalEntryIDs(t, acme, status)
		if len(want) == 0 {
			t.Fatalf("acme has no %s entries", status)
		}
		b.waitFor(fmt.Sprintf(`(() => {
			const rows = [...document.querySelectorAll('[data-testid="portal-row"]')].map(r => r.dataset.id);
			return rows.join(",") === %s; })()`, strconv.Quote(strings.Join(want, ","))), "the list to show acme's "+status+" entries only")
		for _, s := range eval[[]string](b, `[...document.querySelectorAll('[data-testid="portal-row-status"]')].map(e => e.textContent.trim())`) {
			if s != status {
				t.Errorf("filtered by %s, a row has status %q", status, s)
			}
		}
	}
	if got := b.value("#portal-status"); got != "error" {
		t.Errorf("the status select holds %q after three arrow presses, want error", got)
	}
	b.notReloaded("filtering by status")

	// Open the newest error (the keyboard again: focus its link, Enter): the panel shows it.
	errs := a.portalEntryIDs(t, acme, "error")
	eval[bool](b, `(document.querySelector('[data-testid="portal-row-link"]').focus(), true)`)
	b.keys("\r")
	b.waitText(`[data-testid="portal-detail"] #portal-entry-title`, "acme portal: webhook failed")
	if got := b.text(`[data-testid="portal-detail-id"]`); got != errs[0] {
		t.Errorf("the panel shows entry %s, want %s", got, errs[0])
	}
	if got := b.text(`[data-testid="portal-detail-type"]`); got != "action.run" {
		t.Errorf("the panel shows type %q", got)
	}
	b.notReloaded("opening an entry")
	b.waitFor(`!document.querySelector(".htmx-added, .htmx-settling, .htmx-swapping, .htmx-request")`, "htmx to settle")
	b.screenshot("portal-detail")

	// Globex's entry, asked for by id in acme's session, is not found and not shown.
	gid := globexIDs["globex secret: invoices failed"]
	if st := b.openStatus("/portal/activity/" + gid); st != http.StatusNotFound {
		t.Errorf("globex's entry in acme's portal: status %d, want 404", st)
	}
	if s := b.pageTextBestEffort(); strings.Contains(s, "globex secret") {
		t.Errorf("globex's entry is shown to acme:\n%s", s)
	}

	// Embedded. The company's page is on another port of 127.0.0.1: another origin, the same site.
	embed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		src := a.base + "/portal/activity?token=" + url.QueryEscape(portalToken(t, secret, "acme"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>The company's app</title></head>
<body style="margin:0;font-family:sans-serif"><h1 style="margin:8px">The company's app</h1>
<iframe id="portal" title="Activity" src="%s" style="width:1200px;height:780px;border:1px solid #999"></iframe></body></html>`, html.EscapeString(src))
	}))
	t.Cleanup(embed.Close)
	embedOrigin := embed.URL // http://127.0.0.1:port, as NormalizeOrigin writes it
	if n, err := tenancy.NormalizeOrigin(embedOrigin); err != nil || n != embedOrigin {
		t.Fatalf("the embedding origin %q normalizes to %q (%v)", embedOrigin, n, err)
	}
	if embedOrigin == a.base {
		t.Fatal("the embedding page and the portal share an origin")
	}

	// (a) The workspace does not list the origin: the browser refuses to show the portal in the
	// frame. A fresh browser context, so no cookie from above can help.
	if origins := a.portalAllowedOrigins(t); slices.Contains(origins, embedOrigin) {
		t.Fatalf("the workspace already allows %s", embedOrigin)
	}
	e := newBrowser(t, a)
	resp := e.portalWatchResponses(a.base + "/portal/activity")
	e.must(e.do(chromedp.Navigate(embedOrigin+"/")), "open the embedding page")
	child := e.portalWaitFrame(func(f *cdp.Frame) bool { return f.URL != "" && f.URL != "about:blank" }, "the iframe to finish navigating")
	if child.UnreachableURL != a.base+"/portal/activity" || !strings.HasPrefix(child.URL, "chrome-error:") {
		t.Errorf("the iframe holds %q (unreachable %q); want the browser's error page in place of %s/portal/activity",
			child.URL, child.UnreachableURL, a.base)
	}
	violation := e.portalTakeFatal("frame-ancestors", "the browser to report the refused frame")
	if !strings.Contains(violation, "Framing '"+a.base+"/'") || !strings.Contains(violation, `"frame-ancestors 'self'"`) {
		t.Errorf("the browser's report %q: want framing %s/ refused by frame-ancestors 'self'", violation, a.base)
	}
	if fa := resp.frameAncestors(t, a.base+"/portal/activity"); !slices.Equal(fa, []string{"'self'"}) {
		t.Errorf("the framed page's frame-ancestors %v, want only 'self'", fa)
	}
	if s := e.portalInFrame(`document.querySelector('[data-testid="portal-row"]') ? "rows" : "none"`); s != "none" {
		t.Errorf("the refused frame shows the portal's rows")
	}
	e.screenshot("portal-embed-refused")

	// (b) The workspace lists the origin: the frame loads the portal, and its cookie works there.
	a.portalSetAllowedOrigins(t, embedOrigin)
	resp = e.portalWatchResponses(a.base + "/portal/activity")
	e.must(e.do(chromedp.Navigate(embedOrigin+"/")), "reopen the embedding page")
	child = e.portalWaitFrame(func(f *cdp.Frame) bool { return f.URL == a.base+"/portal/activity" && f.UnreachableURL == "" },
		"the iframe to show the portal")
	if fa := resp.frameAncestors(t, a.base+"/portal/activity"); !slices.Equal(fa, []string{"'self'", embedOrigin}) {
		t.Errorf("the framed page's frame-ancestors %v, want 'self' %s", fa, embedOrigin)
	}
	// Rows, not the "open this page from the app" problem: the request after the 303 carried the
	// cookie the 303 set, inside the frame.
	if got := e.portalInFrame(`(() => {
		if (document.querySelector('[data-testid="portal-problem"]')) return "problem: " + document.body.innerText;
		const rows = [...document.querySelectorAll('[data-testid="portal-row"]')];
		return rows.length ? rows.map(r => r.dataset.id).join(",") : ""; })()`); got != strings.Join(want, ",") {
		t.Errorf("the embedded portal lists %q, want acme's entries %q", got, strings.Join(want, ","))
	}
	if got := e.portalInFrame(`document.querySelector('[data-testid="portal-tenant"]').textContent.trim()`); got != "Acme Corp" {
		t.Errorf("the embedded portal names %q", got)
	}
	if s := e.portalInFrame(`document.body.innerText`); strings.Contains(s, "globex") || strings.Contains(s, "Globex") {
		t.Errorf("the embedded portal shows globex's activity:\n%s", s)
	}
	if ck := e.portalCookie(); ck == nil || !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteLax {
		t.Errorf("in the frame the session cookie is %+v, want an HttpOnly SameSite=Lax cookie", ck)
	}
	// htmx works in the frame too: open an entry in its panel.
	frames, err := run(e, chromedp.Nodes(chromedp.CSS("iframe#portal")))
	e.must(err, "find the iframe")
	e.must(e.do(chromedp.Click(chromedp.CSS(`[data-testid="portal-row-link"]`), chromedp.FromNode(frames[0]))), "click a row in the frame")
	title, err := run(e, chromedp.Poll[string](`(() => { const h = document.querySelector('[data-testid="portal-detail"] #portal-entry-title');
		return h && !document.querySelector(".htmx-request, .htmx-settling") ? h.textContent.trim() : ""; })()`,
		chromedp.WithPollingInFrame(frames[0]), chromedp.WithPollingTimeout(stepTimeout)))
	e.must(err, "wait for the entry in the frame's panel")
	if title != acmeMsgs[len(acmeMsgs)-1] {
		t.Errorf("the frame's panel shows %q, want the newest entry %q", title, acmeMsgs[len(acmeMsgs)-1])
	}
	e.screenshot("portal-embedded")
}

// portalToken signs a tenant token of the demo workspace, as the company's backend does.
func portalToken(t *testing.T, secret []byte, tenantKey string) string {
	t.Helper()
	tok, err := auth.Sign(secret, seed.WorkspaceKey, tenantKey, "", false, time.Hour)
	if err != nil {
		t.Error(err) // may run on the embedding server's goroutine
	}
	return tok
}

// portalSecret is the demo workspace's signing secret.
func (a *app) portalSecret(t *testing.T) []byte {
	t.Helper()
	wa, err := a.db.LookupWorkspaceByKey(context.Background(), seed.WorkspaceKey)
	if err != nil {
		t.Fatal(err)
	}
	return wa.Secret
}

// portalEntryIDs lists, newest first, the ids of tenant's entries (with status, unless "").
func (a *app) portalEntryIDs(t *testing.T, tenant *tenancy.Tenant, status string) []string {
	t.Helper()
	ids := []string{}
	if err := a.db.SQL().Select(&ids, `SELECT id::text FROM activity_log WHERE workspace_id = $1 AND tenant_id = $2
		AND ($3 = '' OR status = $3) ORDER BY created_at DESC, id DESC`, a.ws.ID, tenant.ID, status); err != nil {
		t.Fatal(err)
	}
	return ids
}

// portalAllowedOrigins reads the workspace's allowed origins.
func (a *app) portalAllowedOrigins(t *testing.T) []string {
	t.Helper()
	var out []string
	err := a.db.InScope(context.Background(), tenancy.SystemScope(a.ws.ID), func(tx *store.Tx) error {
		ws, err := tx.Workspace(context.Background())
		if err == nil {
			out = ws.Settings.AllowedOrigins
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// portalSetAllowedOrigins sets the workspace's allowed origins (Settings > General).
func (a *app) portalSetAllowedOrigins(t *testing.T, origins ...string) {
	t.Helper()
	err := a.db.InScope(context.Background(), tenancy.SystemScope(a.ws.ID), func(tx *store.Tx) error {
		return tx.UpdateWorkspaceSettings(context.Background(), func(s *tenancy.Settings) error {
			s.AllowedOrigins = origins
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// portalRowIDs are the ids of the rows the portal lists, in order.
func (b *browser) portalRowIDs() []string {
	b.t.Helper()
	return eval[[]string](b, `[...document.querySelectorAll('[data-testid="portal-row"]')].map(r => r.dataset.id)`)
}

// portalCookie is the browser context's portal session cookie for the app, as the browser holds
// it (nil if none).
func (b *browser) portalCookie() *network.Cookie {
	b.t.Helper()
	cookies, err := run(b, chromedp.Action[[]*network.Cookie](func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{b.app.base + "/portal/activity"}})
		return r.Cookies, err
	}))
	b.must(err, "read the cookies")
	for _, c := range cookies {
		if c.Name == "tenantry_portal" {
			return c
		}
	}
	return nil
}

// portalChildFrame is the first child frame of the tab's page (nil if none).
func (b *browser) portalChildFrame() (*cdp.Frame, error) {
	tree, err := run(b, chromedp.Action[*page.FrameTree](func(ctx context.Context, tg *chromedp.Target) (*page.FrameTree, error) {
		r, err := cdp.Call(ctx, tg, page.GetFrameTree, cdp.Empty{})
		return r.FrameTree, err
	}))
	if err != nil || tree == nil || len(tree.ChildFrames) == 0 {
		return nil, err
	}
	return tree.ChildFrames[0].Frame, nil
}

// portalWaitFrame waits until the page's iframe holds a frame for which ok is true, and has
// stopped loading, and returns it.
func (b *browser) portalWaitFrame(ok func(*cdp.Frame) bool, what string) *cdp.Frame {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	var last *cdp.Frame
	for {
		f, err := b.portalChildFrame()
		if err == nil && f != nil && ok(f) && eval[bool](b, `document.readyState === "complete"`) {
			return f
		}
		if f != nil {
			last = f
		}
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: timed out; the frame: %+v (err %v)", what, last, err)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// portalInFrame evaluates a JavaScript expression in the document of the page's iframe (the
// frame is same-site, so in the tab's process) and returns its value as a string.
func (b *browser) portalInFrame(expr string) string {
	b.t.Helper()
	frames, err := run(b, chromedp.Nodes(chromedp.CSS("iframe#portal")))
	b.must(err, "find the iframe")
	s, err := run(b, chromedp.Poll[string](`(() => { const v = (`+expr+`); return v === "" ? "\u0000empty" : String(v); })()`,
		chromedp.WithPollingInFrame(frames[0]), chromedp.WithPollingTimeout(stepTimeout)))
	b.must(err, "evaluate %s in the iframe", expr)
	if s == "\u0000empty" {
		return ""
	}
	return s
}

// portalTakeFatal waits until the browser reports a fatal problem containing substr, removes it
// from the test's failures (it was expected) and returns it. Every other one still fails the test.
func (b *browser) portalTakeFatal(substr, what string) string {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		b.watch.mu.Lock()
		i := slices.IndexFunc(b.watch.fatal, func(s string) bool { return strings.Contains(s, substr) })
		if i >= 0 {
			s := b.watch.fatal[i]
			b.watch.fatal = slices.Delete(b.watch.fatal, i, i+1)
			b.watch.mu.Unlock()
			return s
		}
		b.watch.mu.Unlock()
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: the browser reported no problem containing %q", what, substr)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

// portalResponses collects the headers of the responses the tab receives for one URL (any query).
type portalResponses struct {
	mu      sync.Mutex
	headers []network.Headers
	stop    context.CancelFunc
}

// portalWatchResponses records, until the next call or the test's end, the response headers of
// every request for rawURL (without its query) that the tab or its frames make.
func (b *browser) portalWatchResponses(rawURL string) *portalResponses {
	b.t.Helper()
	r := &portalResponses{}
	ctx, cancel := context.WithCancel(b.ctx)
	r.stop = cancel
	b.t.Cleanup(cancel)
	started := make(chan struct{})
	b.must(b.do(chromedp.Func(func(_ context.Context, tg *chromedp.Target) error {
		go func() {
			events := cdp.Events(ctx, tg, network.ResponseReceived)
			close(started)
			for ev, err := range events {
				if err != nil {
					return
				}
				if u, _, _ := strings.Cut(ev.Response.URL, "?"); u == rawURL {
					r.mu.Lock()
					r.headers = append(r.headers, ev.Response.Headers)
					r.mu.Unlock()
				}
			}
		}()
		return nil
	})), "watch responses")
	<-started
	return r
}

// frameAncestors is the frame-ancestors directive of the last response for the URL that was not
// a redirect (the document the frame would show).
func (r *portalResponses) frameAncestors(t *testing.T, what string) []string {
	t.Helper()
	// The events arrive on their own goroutine: give the last one a moment.
	for deadline := time.Now().Add(stepTimeout); ; time.Sleep(40 * time.Millisecond) {
		r.mu.Lock()
		n := len(r.headers)
		r.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.headers) - 1; i >= 0; i-- {
		csp, _ := r.headers[i]["Content-Security-Policy"].(string)
		if csp == "" {
			continue
		}
		for _, d := range strings.Split(csp, ";") {
			if f := strings.Fields(d); len(f) > 0 && f[0] == "frame-ancestors" {
				return f[1:]
			}
		}
		t.Errorf("%s: CSP %q has no frame-ancestors", what, csp)
		return nil
	}
	t.Errorf("%s: no response with a Content-Security-Policy seen (%d responses)", what, len(r.headers))
	return nil
}
