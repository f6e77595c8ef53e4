// Package browsertest drives the Console in headless Chromium (chromedp) against the real server
// and a real, seeded database: what a person sees and does, end to end.
//
// One Chromium serves the whole package (TestMain); every test gets its own server on a fresh
// database, its own browser context (fresh cookies) and a deadline. Any JavaScript exception, CSP
// violation or 5xx response seen by the browser fails the test. Screenshots of the main pages go
// to <repo root>/test-artifacts/screenshots (git-ignored).
//
// Without Chromium at /usr/bin/chromium the tests skip with a loud message, unless CI is set:
// then they fail.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"tenantry/internal/config"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
	"tenantry/web"
)

const (
	chromiumPath = "/usr/bin/chromium"
	testTimeout  = 60 * time.Second // per test function, browser actions included
	stepTimeout  = 15 * time.Second // per action or wait, so a failure is reported while the tab lives
	viewportW    = 1280
	viewportH    = 900
)

var (
	// browserCtx is the package's Chromium (nil when there is none); browserErr says why not.
	browserCtx context.Context
	browserErr error
	// browserMissing is true when Chromium is not installed (skip outside CI), false when it is
	// installed but would not start (always a failure).
	browserMissing bool
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if _, err := os.Stat(chromiumPath); err != nil {
		browserMissing = true
		browserErr = fmt.Errorf("Chromium is not installed at %s (%v); install it with `apt-get install chromium` (.ci/run does)", chromiumPath, err)
		fmt.Fprintf(os.Stderr, "\n%s\n!!! BROWSER TESTS NOT RUN: %v\n%s\n\n", strings.Repeat("!", 78), browserErr, strings.Repeat("!", 78))
		return m.Run()
	}
	dataDir, err := os.MkdirTemp("", "tenantry-chromium-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dataDir)

	// Exactly the flags CI relies on; chromedp's DefaultExecAllocatorOptions are not used (they
	// add a dozen more). chromedp itself adds --remote-debugging-pipe and about:blank.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dataDir),
	}
	var chromeOut lockedBuffer
	opts = append(opts, chromedp.CombinedOutput(&chromeOut))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(ctx); err != nil { // starts Chromium
		browserErr = fmt.Errorf("starting %s: %w\nChromium printed:\n%s", chromiumPath, err, chromeOut.String())
		fmt.Fprintf(os.Stderr, "\n!!! %v\n\n", browserErr)
	} else {
		browserCtx = ctx
	}
	code := m.Run()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = chromedp.Cancel(cctx) // graceful close; the deferred cancels kill it otherwise
	return code
}

// requireBrowser skips (outside CI, Chromium missing) or fails the test when there is no browser.
func requireBrowser(t *testing.T) {
	t.Helper()
	if browserCtx != nil {
		return
	}
	if browserMissing && os.Getenv("CI") == "" {
		t.Skipf("!!! SKIPPED, NO BROWSER: %v (set CI=1 to make this a failure)", browserErr)
	}
	t.Fatalf("no browser: %v", browserErr)
}

// lockedBuffer is an io.Writer the server's goroutines and the test can share.
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

// app is one running server on its own seeded database.
type app struct {
	base string // http://127.0.0.1:port
	db   *store.DB
	ws   *tenancy.Workspace
}

// startApp runs web.New + web.Serve on 127.0.0.1:0 over a fresh database seeded with seed.Demo.
// The server stops (and its log is printed on failure) before the database is dropped.
func startApp(t *testing.T) *app {
	t.Helper()
	requireBrowser(t) // before the database: a skipped test costs nothing
	env := map[string]string{"TENANTRY_DATA_DIR": t.TempDir(), "TENANTRY_ENV": "test", "TENANTRY_LOG_LEVEL": "debug"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	db := testdb.New(t)
	res, err := seed.Demo(context.Background(), db)
	if err != nil {
		t.Fatalf("seed.Demo: %v", err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := web.New(cfg, db, logger)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- web.Serve(ctx, "127.0.0.1:0", srv, logger, func(addr string) { ready <- addr }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		stop()
		t.Fatalf("web.Serve: %v", err)
	}
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("web.Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &app{base: "http://" + addr, db: db, ws: res.Workspace}
}

// pageWatch collects what the browser reports while a test runs.
type pageWatch struct {
	mu         sync.Mutex
	urls       map[network.RequestID]string
	requests   []string // "METHOD URL" of every request, in order
	fatal      []string // JavaScript exceptions, CSP violations, 5xx responses: fail the test
	noted      []string // console errors and failed requests: logged
	dialogs    chan *page.EventJavascriptDialogOpening
	dialogSeen []string
}

func (w *pageWatch) listen(ev any) {
	// Runs in the tab's read loop: quick, no commands.
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		w.urls[ev.RequestID] = ev.Request.Method + " " + ev.Request.URL
		w.requests = append(w.requests, w.urls[ev.RequestID])
	case *network.EventResponseReceived:
		if ev.Response.Status >= 500 {
			w.fatal = append(w.fatal, fmt.Sprintf("server error %d for %s", ev.Response.Status, w.urls[ev.RequestID]))
		}
	case *network.EventLoadingFailed:
		msg := fmt.Sprintf("request failed: %s: %s", w.urls[ev.RequestID], ev.ErrorText)
		if ev.BlockedReason != "" {
			msg += " (blocked: " + string(ev.BlockedReason) + ")"
		}
		if ev.BlockedReason == network.BlockedReasonCsp {
			w.fatal = append(w.fatal, "CSP violation: "+msg)
		} else {
			w.noted = append(w.noted, msg)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		w.fatal = append(w.fatal, fmt.Sprintf("JavaScript exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg := "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
		if isCSP(msg) {
			w.fatal = append(w.fatal, "CSP violation: "+msg)
		} else {
			w.noted = append(w.noted, msg)
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		msg := fmt.Sprintf("browser log (%s, %s): %s %s", e.Source, e.Level, e.Text, e.URL)
		switch {
		case isCSP(e.Text):
			w.fatal = append(w.fatal, "CSP violation: "+msg)
		case e.Level == cdplog.EntryLevelError || e.Level == cdplog.EntryLevelWarning:
			w.noted = append(w.noted, msg)
		}
	case *page.EventJavascriptDialogOpening:
		w.dialogSeen = append(w.dialogSeen, string(ev.Type)+": "+ev.Message)
		select {
		case w.dialogs <- ev:
		default:
		}
	}
}

func isCSP(s string) bool {
	return strings.Contains(s, "Content Security Policy") || strings.Contains(s, "Content-Security-Policy")
}

// browser is one test's tab in its own browser context, on one app.
type browser struct {
	t     *testing.T
	ctx   context.Context // the tab, with the test's deadline
	app   *app
	watch *pageWatch
}

// newBrowser opens a fresh browser context (no cookies) and a tab on a. The tab closes, and
// what the browser reported is checked, when the test ends.
func newBrowser(t *testing.T, a *app) *browser {
	t.Helper()
	requireBrowser(t)
	w := &pageWatch{urls: map[network.RequestID]string{}, dialogs: make(chan *page.EventJavascriptDialogOpening, 4)}
	tctx, cancelTimeout := context.WithTimeout(browserCtx, testTimeout)
	ctx, cancelTab := chromedp.NewContext(tctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(w.listen))
	b := &browser{t: t, ctx: ctx, app: a, watch: w}
	t.Cleanup(func() {
		cancelTab()
		cancelTimeout()
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, n := range w.noted {
			t.Logf("browser: %s", n)
		}
		for _, f := range w.fatal {
			t.Errorf("browser: %s", f)
		}
	})
	// No scrollbars (the --hide-scrollbars of chromedp's defaults, as a protocol call): full-page
	// screenshots then match the layout width instead of losing a scrollbar's width at the right.
	hideScrollbars := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScrollbarsHidden, emulation.SetScrollbarsHiddenParams{Hidden: true})
		return err
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewportW, viewportH), hideScrollbars); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return b
}

// run runs one action on the tab with the step timeout.
func run[T any](b *browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// do runs actions without results on the tab with the step timeout.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// must fails the test with what was being done when err is not nil.
func (b *browser) must(err error, what string, args ...any) {
	b.t.Helper()
	if err != nil {
		b.t.Fatalf("%s: %v\npage: %s", fmt.Sprintf(what, args...), err, b.pageTextBestEffort())
	}
}

// open navigates to path (a full page load) and waits for the load event.
func (b *browser) open(path string) {
	b.t.Helper()
	b.must(b.do(chromedp.Navigate(b.app.base+path)), "open %s", path)
}

// visible waits until an element matching css is visible.
func (b *browser) visible(css string) {
	b.t.Helper()
	b.must(b.do(chromedp.WaitVisible(chromedp.CSS(css))), "wait for %s to be visible", css)
	b.htmxIdle() // what arrived with it is settled too (autofocus, processed hx- attributes)
}

// gone waits until no element matches css.
func (b *browser) gone(css string) {
	b.t.Helper()
	b.must(b.do(chromedp.WaitNotPresent(chromedp.CSS(css))), "wait for %s to go away", css)
}

// click clicks the first visible element matching css.
func (b *browser) click(css string) {
	b.t.Helper()
	b.htmxIdle()
	b.must(b.do(chromedp.Click(chromedp.CSS(css))), "click %s", css)
}

// htmxIdle waits until htmx has no request in flight and has finished swapping and settling (it
// processes swapped-in content's hx- attributes and applies autofocus while settling): acting on,
// or checking, content that just arrived could otherwise see it half done — a link followed
// natively instead of through htmx, the focus not yet moved. Immediate on a page without htmx or
// with nothing under way.
func (b *browser) htmxIdle() {
	b.t.Helper()
	b.waitFor(`!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')`, "htmx to settle")
}

// typeInto focuses the element matching css and types text as key presses ("\n" is Enter).
func (b *browser) typeInto(css, text string) {
	b.t.Helper()
	b.must(b.do(chromedp.SendKeys(chromedp.CSS(css), text)), "type %q into %s", text, css)
}

// clear empties an input (as select-all and delete would: its input event fires).
func (b *browser) clear(css string) {
	b.t.Helper()
	b.visible(css)
	ok := eval[bool](b, fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		if (!e) return false;
		e.focus();
		e.value = "";
		e.dispatchEvent(new Event("input", {bubbles: true}));
		return true;
	})()`, strconv.Quote(css)))
	if !ok {
		b.t.Fatalf("clear %s: no such element", css)
	}
}

// keys types text into whatever has the focus.
func (b *browser) keys(text string) {
	b.t.Helper()
	b.htmxIdle()
	b.must(b.do(chromedp.KeyEvent(text)), "type %q", text)
}

// press presses one printable key the way a keyboard does: a keyDown carrying its text, then a
// keyUp, so that a page cancelling the keydown also stops the character. (chromedp.KeyEvent
// sends the character as a separate event that no keydown handler can cancel.)
func (b *browser) press(key, code string, keyCode int64) {
	b.t.Helper()
	b.must(b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
			p := input.DispatchKeyEventParams{Type: typ, Key: key, Code: code, WindowsVirtualKeyCode: keyCode, NativeVirtualKeyCode: keyCode}
			if typ == input.DispatchKeyEventTypeKeyDown {
				p.Text, p.UnmodifiedText = key, key
			}
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
				return err
			}
		}
		return nil
	})), "press %q", key)
}

// text returns the visible text of the first element matching css (waiting for it).
func (b *browser) text(css string) string {
	b.t.Helper()
	s, err := run(b, chromedp.Text(chromedp.CSS(css), chromedp.NodeVisible))
	b.must(err, "read the text of %s", css)
	return strings.TrimSpace(s)
}

// value returns the value of the input matching css.
func (b *browser) value(css string) string {
	b.t.Helper()
	s, err := run(b, chromedp.Value(chromedp.CSS(css), chromedp.NodeReady))
	b.must(err, "read the value of %s", css)
	return s
}

// eval evaluates a JavaScript expression and decodes its result into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := run(b, chromedp.Evaluate[T](expr))
	b.must(err, "evaluate %s", expr)
	return v
}

// count is the number of elements matching css.
func (b *browser) count(css string) int {
	b.t.Helper()
	return eval[int](b, "document.querySelectorAll("+strconv.Quote(css)+").length")
}

// waitFor waits until the JavaScript expression is truthy. It survives navigations (an
// evaluation that fails while a page loads is retried).
func (b *browser) waitFor(expr, what string) {
	b.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	var last error
	for {
		ok, err := run(b, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if b.ctx.Err() != nil || time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: timed out (last error: %v)\npage: %s", what, last, b.pageTextBestEffort())
		}
		select {
		case <-b.ctx.Done():
		case <-time.After(40 * time.Millisecond):
		}
	}
}

// pageTextBestEffort is the page's text for failure messages, or why it could not be read.
func (b *browser) pageTextBestEffort() string {
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(s) > 3000 {
		s = s[:3000] + "…"
	}
	return s
}

// waitText waits until the first element matching css contains want in its text.
func (b *browser) waitText(css, want string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e && e.textContent.includes(%s); })()`,
		strconv.Quote(css), strconv.Quote(want)), fmt.Sprintf("%s to contain %q", css, want))
}

// waitPath waits until the location's path is path.
func (b *browser) waitPath(path string) {
	b.t.Helper()
	b.waitFor("location.pathname === "+strconv.Quote(path), "the location to be "+path)
}

// location returns the current URL, parsed.
func (b *browser) location() *url.URL {
	b.t.Helper()
	s, err := run(b, chromedp.Location())
	b.must(err, "read the location")
	u, err := url.Parse(s)
	if err != nil {
		b.t.Fatalf("location %q: %v", s, err)
	}
	return u
}

// markDocument tags the current document so that notReloaded can tell a full reload (a new
// document) from an htmx swap.
func (b *browser) markDocument() {
	b.t.Helper()
	eval[bool](b, "(window.__browsertestMark = true)")
}

// notReloaded fails unless the document marked by markDocument is still the one shown.
func (b *browser) notReloaded(what string) {
	b.t.Helper()
	if !eval[bool](b, "window.__browsertestMark === true") {
		b.t.Errorf("%s reloaded the whole page; want an htmx swap", what)
	}
}

// signIn signs in through the form, pressing Enter in the password field, and waits for home.
func (b *browser) signIn(email string) {
	b.t.Helper()
	b.open("/signin")
	b.typeInto("#email", email)
	b.typeInto("#password", seed.DemoPassword+"\n")
	b.visible(`[data-testid="home-title"]`)
}

// acceptDialogs accepts every JavaScript dialog (confirm) the page opens from now on, and
// returns the messages seen so far when called.
func (b *browser) acceptDialogs() func() []string {
	b.t.Helper()
	go func() {
		for {
			select {
			case <-b.ctx.Done():
				return
			case <-b.watch.dialogs:
				_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}
		}
	}()
	return func() []string {
		b.watch.mu.Lock()
		defer b.watch.mu.Unlock()
		return append([]string(nil), b.watch.dialogSeen...)
	}
}

// screenshot saves a full-page PNG under <repo root>/test-artifacts/screenshots/<name>.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if missing := eval[string](b, missingClassesJS); missing != "" {
		b.t.Errorf("%s: classes with no rule in the page's CSS (run `make css` after adding Tailwind classes): %s", name, missing)
	}
	png, err := run(b, chromedp.FullScreenshot(100))
	b.must(err, "screenshot %s", name)
	dir := filepath.Join(repoRoot(b.t), "test-artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// missingClassesJS lists the classes used in the document that no rule of its style sheets
// names: a Tailwind class added to a template without rebuilding static/css/app.css.
const missingClassesJS = `(() => {
	const have = new Set();
	const walk = rules => {
		for (const r of rules) {
			if (r.selectorText) for (const m of r.selectorText.matchAll(/\.((?:\\.|[\w-])+)/g)) have.add(m[1].replace(/\\/g, ""));
			if (r.cssRules) walk(r.cssRules);
		}
	};
	for (const s of document.styleSheets) walk(s.cssRules);
	const used = new Set();
	document.querySelectorAll("[class]").forEach(e => e.classList.forEach(c => used.add(c)));
	return [...used].filter(c => !have.has(c)).sort().join(" ");
})()`

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot is the directory holding go.mod, found upwards from the package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("no go.mod above the test's directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatalf("repo root: %v", rootErr)
	}
	return rootDir
}

// requestsSoFar is how many requests the tab has made.
func (b *browser) requestsSoFar() int {
	b.watch.mu.Lock()
	defer b.watch.mu.Unlock()
	return len(b.watch.requests)
}

// requestsSince lists the requests made after the first n, as "METHOD URL".
func (b *browser) requestsSince(n int) []string {
	b.watch.mu.Lock()
	defer b.watch.mu.Unlock()
	return append([]string(nil), b.watch.requests[n:]...)
}

// openStatus navigates to path (a full page load) and returns the document's HTTP status.
func (b *browser) openStatus(path string) int64 {
	b.t.Helper()
	resp, err := run(b, chromedp.NavigateResponse(b.app.base+path))
	b.must(err, "open %s", path)
	if resp == nil {
		b.t.Fatalf("open %s: no response", path)
	}
	return resp.Status
}

// selectOption picks the option with value in the select matching css, as a person would: the
// select's input and change events fire.
func (b *browser) selectOption(css, value string) {
	b.t.Helper()
	ok := eval[bool](b, fmt.Sprintf(`(() => {
		const s = document.querySelector(%s);
		if (!s || ![...s.options].some(o => o.value === %s)) return false;
		s.focus();
		s.value = %s;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, strconv.Quote(css), strconv.Quote(value), strconv.Quote(value)))
	if !ok {
		b.t.Fatalf("select %q in %s: no such select or option\n%s", value, css, b.pageTextBestEffort())
	}
}

// exists reports whether an element matches css now (no waiting).
func (b *browser) exists(css string) bool {
	b.t.Helper()
	return b.count(css) > 0
}

// tenant reads a tenant of the demo workspace by internalId, past the browser.
func (a *app) tenant(t *testing.T, internalID string) *tenancy.Tenant {
	t.Helper()
	var out *tenancy.Tenant
	err := a.db.InScope(context.Background(), tenancy.SystemScope(a.ws.ID), func(tx *store.Tx) error {
		var err error
		out, err = tx.Tenant(context.Background(), internalID)
		return err
	})
	if err != nil {
		t.Fatalf("tenant %s: %v", internalID, err)
	}
	return out
}

// tenantCount counts the workspace's active tenants in the database, past the browser.
func (a *app) tenantCount(t *testing.T) int {
	t.Helper()
	var n int
	err := a.db.InScope(context.Background(), tenancy.SystemScope(a.ws.ID), func(tx *store.Tx) error {
		var err error
		n, err = tx.CountTenants(context.Background())
		return err
	})
	if err != nil {
		t.Fatalf("count tenants: %v", err)
	}
	return n
}

// chromedpBack goes back one history entry as the Back button does. (chromedp.NavigateBack
// waits for a load event, which an htmx history restore never fires.)
func chromedpBack(b *browser) error {
	_, err := run(b, chromedp.Evaluate[chromedp.Void]("history.back()"))
	return err
}

// outer is the outer HTML of the elements matching css, for failure messages.
func (b *browser) outer(css string) string {
	b.t.Helper()
	return eval[string](b, `[...document.querySelectorAll(`+strconv.Quote(css)+`)].map(e => e.outerHTML.slice(0, 200)).join("\n")`)
}

// evalAwait evaluates a JavaScript expression that gives a promise, and decodes what it resolves to.
func evalAwait[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := run(b, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	b.must(err, "evaluate %s", expr)
	return v
}
