package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// --- fixture -------------------------------------------------------------------------------------

// actEntry is an activity entry the fixture wrote, with the values each filter looks at.
type actEntry struct {
	id                  uuid.UUID
	at                  time.Time
	tenant              uuid.UUID
	typ, status, actor  string
	actorID             string
	integ, conn, elem   uuid.UUID
	message             string
	details             map[string]any
	duration            int
	hasDuration         bool
	workspaceLevel, idx int
}

// actFixture is the demo workspace with a known activity log: 30 entries written past the
// Console (the seed's own entries removed), spread over the last 29 days, so each filter's answer
// is known exactly.
type actFixture struct {
	e                 *testEnv
	acme, globex      *tenancy.Tenant
	hubspot, pipe     uuid.UUID
	conn, elem        uuid.UUID
	entries           []actEntry // newest first
	now               time.Time
	otherWorkspaceIDs []uuid.UUID
}

var actTypes = []string{"action.run", "connection.created", "tenant.updated", "flow.run", "limit.exceeded"}
var actStatuses = []string{"success", "success", "error", "warning"}
var actActors = []string{"tenant-token", "manager", "workspace-token", "system"}
var actWords = []string{"deals", "contacts", "invoices"}

// actAt is the time of the fixture's entry i: 1 minute ago for 0, about 29 days ago for 29.
func actAt(now time.Time, i int) time.Time {
	return now.Add(-time.Duration(i*i*50+1) * time.Minute)
}

func newActFixture(t *testing.T) *actFixture {
	t.Helper()
	e := newTestEnv(t, nil)
	ctx := context.Background()
	f := &actFixture{e: e, now: time.Now().UTC().Truncate(time.Microsecond)}
	f.acme, f.globex = e.tenant(t, "acme"), e.tenant(t, "globex")
	f.hubspot, f.pipe = uuid.MustParse(e.integrationID(t, "hubspot")), uuid.MustParse(e.integrationID(t, "pipedrive"))
	f.conn = connectionNamed(t, e.tenantConnections(t, f.acme.ID), "Acme HubSpot").ID
	f.elem = uuid.MustParse(e.elementID(t, "action", "list-deals"))
	if err := e.db.EnsureActivityPartitions(ctx, f.now.Add(-40*24*time.Hour), f.now); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `DELETE FROM activity_log WHERE workspace_id = $1`, e.ws.ID)
	for i := 0; i < 30; i++ {
		en := actEntry{idx: i, id: idAt(actAt(f.now, i)), at: actAt(f.now, i), typ: actTypes[i%5], status: actStatuses[i%4],
			actor: actActors[(i/2)%4], actorID: fmt.Sprintf("actor-%d", i%3), message: fmt.Sprintf("entry %02d about %s", i, actWords[i%3]),
			details:  map[string]any{"n": float64(i), "nested": map[string]any{"word": actWords[i%3], "list": []any{"a", "b"}}},
			duration: i * 10, hasDuration: i%2 == 1}
		switch i % 3 {
		case 0:
			en.tenant = f.acme.ID
		case 1:
			en.tenant = f.globex.ID
		}
		if i%2 == 0 {
			en.integ = f.hubspot
		} else if i%5 == 1 {
			en.integ = f.pipe
		}
		if i%6 == 0 {
			en.conn = f.conn
		}
		if i%7 == 0 {
			en.elem = f.elem
		}
		f.insert(t, e.ws.ID, en)
		f.entries = append(f.entries, en)
	}
	// Another workspace's entries with the same tenant, references and words: never shown here.
	other, _, err := e.db.CreateWorkspace(ctx, "other-act", "Other")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		at := f.now.Add(-time.Duration(i+1) * time.Minute)
		en := actEntry{id: idAt(at), at: at, tenant: f.acme.ID, typ: "action.run",
			status: "error", actor: "system", message: "entry about deals", integ: f.hubspot, conn: f.conn, elem: f.elem,
			details: map[string]any{}}
		f.insert(t, other.ID, en)
		f.otherWorkspaceIDs = append(f.otherWorkspaceIDs, en.id)
	}
	return f
}

// idAt is a UUIDv7 of time at, as the recorder gives an entry written then (the store finds an
// entry by id near its id's time).
func idAt(at time.Time) uuid.UUID {
	id := tenancy.NewID()
	ms := uint64(at.UnixMilli())
	for i := 0; i < 6; i++ {
		id[i] = byte(ms >> (40 - 8*i))
	}
	return id
}

func nullID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}

func (f *actFixture) insert(t *testing.T, ws uuid.UUID, en actEntry) {
	t.Helper()
	details, err := json.Marshal(en.details)
	if err != nil {
		t.Fatal(err)
	}
	var dur any
	if en.hasDuration {
		dur = en.duration
	}
	f.e.exec(t, `INSERT INTO activity_log (workspace_id, created_at, id, tenant_id, type, status, actor_type, actor_id,
		integration_id, connection_id, element_id, message, details, duration_ms, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		ws, en.at, en.id, nullID(en.tenant), en.typ, en.status, en.actor, en.actorID, nullID(en.integ), nullID(en.conn),
		nullID(en.elem), en.message, string(details), dur, "req-"+en.id.String())
}

// want lists, newest first, the ids of the fixture's entries that pred accepts.
func (f *actFixture) want(pred func(actEntry) bool) []string {
	var out []string
	for _, en := range f.entries {
		if pred(en) {
			out = append(out, en.id.String())
		}
	}
	return out
}

var activityRowRE = regexp.MustCompile(`data-testid="activity-row" data-id="([^"]+)"`)

// activityRows lists the ids of the rows a page shows, in order.
func activityRows(body string) []string {
	var out []string
	for _, m := range activityRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// local is a time as a datetime-local input writes it (UTC).
func local(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// --- filters -------------------------------------------------------------------------------------

func TestActivityPageRendersForAdminAndSupport(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	all := f.want(func(actEntry) bool { return true })
	for _, email := range []string{seed.AdminEmail, seed.SupportEmail} {
		c := e.signedIn(t, email)
		r := e.get(t, c, "/activity")
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "GET /activity as "+email, r)
		if got := activityRows(r.body); !slices.Equal(got, all) {
			t.Errorf("%s: rows = %v, want every entry newest first %v", email, got, all)
		}
		wantContains(t, "activity page", r.body, `text-accent-700">Activity<`, `hx-push-url="true"`, `id="activity-filters"`,
			`data-testid="activity-tenant-search"`, `data-testid="activity-status-error"`, `data-testid="activity-type-action.run"`,
			`data-testid="activity-type-connection.disconnected"`, `data-testid="activity-type-data-source.created"`,
			`data-testid="activity-actor-tenant-token"`, `<option value="hubspot">HubSpot</option>`, `<option value="week">Last 7 days</option>`,
			`href="/activity/export.csv"`, `href="/activity/export.ndjson"`, `href="/tenants/`+f.acme.ID.String()+`"`,
			`>Workspace<`, `entry 00 about deals`)
		wantAbsent(t, "activity page", r.body, "entry about deals") // the other workspace's
		if forms := catPostForms(r.body); len(forms) != 0 {
			t.Errorf("%s: the Activity page has write forms %v", email, forms)
		}
	}
	// Rows name each entry's tenant: its name, else its internalId.
	c := e.signedIn(t, seed.AdminEmail)
	wantContains(t, "tenant names", e.get(t, c, "/activity").body, `data-testid="activity-tenant-name">Acme Corp<`,
		`data-testid="activity-tenant-name">Globex<`)
	e.exec(t, `UPDATE tenants SET name = '' WHERE id = $1`, f.globex.ID)
	wantContains(t, "a tenant without a name", e.get(t, c, "/activity").body, `data-testid="activity-tenant-name">globex<`)
}

func TestActivityFiltersNarrowTheList(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	c := e.signedIn(t, seed.SupportEmail)
	acme, globex := f.acme.ID.String(), f.globex.ID.String()
	from, to := actAt(f.now, 10).Add(-time.Minute), actAt(f.now, 5).Add(time.Minute)
	cases := []struct {
		name, query string
		pred        func(actEntry) bool
	}{
		{"tenant by id", "tenant=" + acme, func(en actEntry) bool { return en.tenant == f.acme.ID }},
		{"tenant by internal id", "tenant=globex", func(en actEntry) bool { return en.tenant == f.globex.ID }},
		{"one type", "type=action.run", func(en actEntry) bool { return en.typ == "action.run" }},
		{"two types", "type=action.run&type=flow.run", func(en actEntry) bool { return en.typ == "action.run" || en.typ == "flow.run" }},
		{"types comma-separated", "type=action.run,limit.exceeded", func(en actEntry) bool { return en.typ == "action.run" || en.typ == "limit.exceeded" }},
		{"a type family", "type=connection.*", func(en actEntry) bool { return en.typ == "connection.created" }},
		{"a type no checkbox offers", "type=something.else", func(en actEntry) bool { return false }},
		{"status error", "status=error", func(en actEntry) bool { return en.status == "error" }},
		{"status warning and error", "status=error&status=warning", func(en actEntry) bool { return en.status != "success" }},
		{"integration", "integration=hubspot", func(en actEntry) bool { return en.integ == f.hubspot }},
		{"integration by id", "integration=" + f.pipe.String(), func(en actEntry) bool { return en.integ == f.pipe }},
		{"connection", "connection=" + f.conn.String(), func(en actEntry) bool { return en.conn == f.conn }},
		{"element", "element=" + f.elem.String(), func(en actEntry) bool { return en.elem == f.elem }},
		{"actor", "actor=manager", func(en actEntry) bool { return en.actor == "manager" }},
		{"two actors", "actor=manager&actor=system", func(en actEntry) bool { return en.actor == "manager" || en.actor == "system" }},
		{"actor id", "actorId=actor-1", func(en actEntry) bool { return en.actorID == "actor-1" }},
		{"last hour", "range=hour", func(en actEntry) bool { return en.at.After(f.now.Add(-time.Hour)) }},
		{"last day", "range=day", func(en actEntry) bool { return en.at.After(f.now.Add(-24 * time.Hour)) }},
		{"last week", "range=week", func(en actEntry) bool { return en.at.After(f.now.Add(-7 * 24 * time.Hour)) }},
		{"last 30 days", "range=30d", func(actEntry) bool { return true }},
		{"custom range", "range=custom&from=" + local(from) + "&to=" + local(to),
			func(en actEntry) bool { return !en.at.Before(from) && en.at.Before(to) }},
		{"from alone means custom", "from=" + local(from), func(en actEntry) bool { return !en.at.Before(from) }},
		{"a preset range ignores from", "range=hour&from=" + local(from), func(en actEntry) bool { return en.at.After(f.now.Add(-time.Hour)) }},
		{"text", "q=deals", func(en actEntry) bool { return strings.Contains(en.message, "deals") }},
		{"text prefix", "q=invo", func(en actEntry) bool { return strings.Contains(en.message, "invoices") }},
		{"text two words", "q=entry+07", func(en actEntry) bool { return en.idx == 7 }},
		// Combinations.
		{"tenant and status", "tenant=" + acme + "&status=error", func(en actEntry) bool { return en.tenant == f.acme.ID && en.status == "error" }},
		{"tenant, type and week", "tenant=" + globex + "&type=connection.created&type=action.run&range=week",
			func(en actEntry) bool {
				return en.tenant == f.globex.ID && (en.typ == "connection.created" || en.typ == "action.run") && en.at.After(f.now.Add(-7*24*time.Hour))
			}},
		{"statuses and actors", "status=error&status=warning&actor=tenant-token&actor=system",
			func(en actEntry) bool {
				return en.status != "success" && (en.actor == "tenant-token" || en.actor == "system")
			}},
		{"integration and text", "integration=hubspot&q=contacts", func(en actEntry) bool {
			return en.integ == f.hubspot && strings.Contains(en.message, "contacts")
		}},
		{"text, tenant and custom range", "q=deals&tenant=" + acme + "&from=" + local(from) + "&to=" + local(to),
			func(en actEntry) bool {
				return strings.Contains(en.message, "deals") && en.tenant == f.acme.ID && !en.at.Before(from) && en.at.Before(to)
			}},
		{"element and connection", "element=" + f.elem.String() + "&connection=" + f.conn.String(),
			func(en actEntry) bool { return en.elem == f.elem && en.conn == f.conn }},
	}
	for _, tc := range cases {
		want := f.want(tc.pred)
		r := e.get(t, c, "/activity?"+tc.query)
		wantCode(t, r, http.StatusOK)
		if got := activityRows(r.body); !slices.Equal(got, want) {
			t.Errorf("%s (%s): rows %v, want %v", tc.name, tc.query, got, want)
		}
		// The same through htmx: only the results, and the URL to push.
		h := e.get(t, c, "/activity?"+tc.query, "HX-Request", "true", "HX-Target", "activity-results")
		wantCode(t, h, http.StatusOK)
		if got := activityRows(h.body); !slices.Equal(got, want) {
			t.Errorf("%s (htmx): rows %v, want %v", tc.name, got, want)
		}
		if strings.Contains(h.body, "<html") || strings.Contains(h.body, `id="activity-filters"`) {
			t.Errorf("%s (htmx): the answer is a whole page, want the results", tc.name)
		}
		if push := h.Header.Get("HX-Push-Url"); !strings.HasPrefix(push, "/activity") {
			t.Errorf("%s (htmx): HX-Push-Url %q", tc.name, push)
		}
		// Export and live links carry the same filters.
		wantContains(t, tc.name, r.body, "/activity/export.csv?", "/activity/export.ndjson?")
	}

	// The checked controls keep the URL's values, and the tenant shows by name.
	r := e.get(t, c, "/activity?tenant=acme&status=error&type=flow.run&type=odd.one&integration=hubspot&range=custom&from="+local(from))
	wantContains(t, "controls keep their values", r.body, `value="error" checked`, `value="flow.run" checked`, `value="odd.one" checked`,
		`<option value="hubspot" selected>`, `<option value="custom" selected>`, `value="`+local(from)+`"`,
		`data-testid="activity-tenant-chosen">Acme Corp<`, `<input type="hidden" name="tenant" value="`+acme+`">`,
		`data-testid="activity-types-count">2 selected<`)
	// The canonical URL names the tenant by id.
	h := e.get(t, c, "/activity?tenant=acme&status=error", "HX-Request", "true", "HX-Target", "activity-results")
	if push := h.Header.Get("HX-Push-Url"); push != "/activity?status=error&tenant="+acme {
		t.Errorf("HX-Push-Url = %q", push)
	}
	wantContains(t, "htmx answer brings the picker and the problems out of band", h.body,
		`id="activity-tenant-picker" class="min-w-64 flex-1" hx-swap-oob="true"`, `id="activity-problem-status" class="field-error" hx-swap-oob="true"`,
		`id="activity-types-count" class="font-normal text-zinc-600" hx-swap-oob="true"`)
}

func TestActivityTenantTypeAhead(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	c := e.signedIn(t, seed.AdminEmail)
	r := e.get(t, c, "/activity/tenants?tenantq=glob&status=error&q=deals", "HX-Request", "true", "HX-Target", "activity-tenant-options")
	wantCode(t, r, http.StatusOK)
	link := "/activity?q=deals&amp;status=error&amp;tenant=" + f.globex.ID.String()
	wantContains(t, "suggestions", r.body, `data-testid="activity-tenant-option"`, `href="`+link+`"`, `hx-get="`+link+`"`, ">Globex<")
	if n := strings.Count(r.body, `data-testid="activity-tenant-option"`); n != 1 {
		t.Errorf("%d suggestions for glob, want 1:\n%s", n, r.body)
	}
	wantContains(t, "no match", e.get(t, c, "/activity/tenants?tenantq=zzzz").body, `data-testid="activity-tenant-none"`)
	if body := e.get(t, c, "/activity/tenants?tenantq=").body; strings.Contains(body, "<li") || strings.Contains(body, "No tenant") {
		t.Errorf("empty box suggests: %s", body)
	}

	// Submitting the form with text that matches one tenant picks it.
	r = e.get(t, c, "/activity?tenantq=Globex&status=error")
	wantCode(t, r, http.StatusOK)
	want := f.want(func(en actEntry) bool { return en.tenant == f.globex.ID && en.status == "error" })
	if got := activityRows(r.body); !slices.Equal(got, want) {
		t.Errorf("typed Globex and submitted: rows %v, want %v", got, want)
	}
	wantContains(t, "typed tenant picked", r.body, `data-testid="activity-tenant-chosen">Globex<`)
	// The same typed text does not pick while another control changes (htmx, not the form).
	r = e.get(t, c, "/activity?tenantq=Globex&status=error", "HX-Request", "true", "HX-Target", "activity-results",
		"HX-Trigger", "activity-filter-fields")
	if got, want := activityRows(r.body), f.want(func(en actEntry) bool { return en.status == "error" }); !slices.Equal(got, want) {
		t.Errorf("typed Globex, changed status: rows %v, want %v", got, want)
	}
	// Text matching several tenants asks to choose.
	r = e.get(t, c, "/activity?tenantq=c")
	wantCode(t, r, http.StatusUnprocessableEntity)
	wantContains(t, "ambiguous tenant", r.body, `Several tenants match`, `data-testid="activity-tenant-option"`)
}

func TestActivityBadFiltersShowInlineErrors(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	c := e.signedIn(t, seed.AdminEmail)
	cases := []struct{ query, field, message string }{
		{"status=bogus", "status", `&#34;bogus&#34; is not a status`},
		{"status=error&status=fatal", "status", `&#34;fatal&#34; is not a status`},
		{"actor=robot", "actor", `&#34;robot&#34; is not an actor`},
		{"connection=abc", "connection", "Must be a connection&#39;s ID"},
		{"element=12345", "element", "Must be an element&#39;s ID"},
		{"tenant=nobody", "tenant", "No tenant has this ID"},
		{"tenant=" + uuid.NewString(), "tenant", "No tenant has this ID"},
		{"integration=nope", "integration", "No integration has this key"},
		{"range=forever", "range", `&#34;forever&#34; is not a time range`},
		{"range=custom&from=yesterday", "from", "Must be a date and time"},
		{"range=custom&to=2026-13-45T99:00", "to", "Must be a date and time"},
		{"from=" + local(f.now) + "&to=" + local(f.now.Add(-time.Hour)), "to", "Must be after From"},
		{"type=" + strings.Repeat("x", 101), "type", "Each type must be at most 100 characters"},
		{"type=" + manyTypes(51), "type", "t most 50 types"},
	}
	for _, tc := range cases {
		r := e.get(t, c, "/activity?"+tc.query)
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", tc.query, r.StatusCode)
			continue
		}
		checkStrictHTML(t, tc.query, r)
		msg, _ := testID(r.body, "activity-problem-"+tc.field)
		if !strings.Contains(r.body, `data-testid="activity-problem-`+tc.field+`">`) || msg == "" {
			t.Errorf("%s: no problem under the %s control", tc.query, tc.field)
		}
		wantContains(t, tc.query, r.body, tc.message, `data-testid="activity-invalid"`)
		if rows := activityRows(r.body); len(rows) != 0 {
			t.Errorf("%s: rows shown for refused filters: %v", tc.query, rows)
		}
		// Through htmx: 200 (htmx swaps only those), the problems in the results and at the control.
		h := e.get(t, c, "/activity?"+tc.query, "HX-Request", "true", "HX-Target", "activity-results")
		wantCode(t, h, http.StatusOK)
		wantContains(t, tc.query+" (htmx)", h.body, tc.message, `data-testid="activity-invalid"`)
		// Exports and the live stream refuse them too, without a 500.
		for _, path := range []string{"/activity/export.csv?", "/activity/export.ndjson?", "/activity/live?"} {
			if x := e.get(t, c, path+tc.query); x.StatusCode != http.StatusBadRequest {
				t.Errorf("%s%s: status %d, want 400", path, tc.query, x.StatusCode)
			} else {
				wantContains(t, path+tc.query, x.body, "These filters cannot be applied.", tc.message)
			}
		}
	}
	// A page link that no longer works starts over at the first page, saying so.
	r := e.get(t, c, "/activity?status=error&cursor=garbage")
	wantCode(t, r, http.StatusOK)
	wantContains(t, "bad cursor", r.body, "That page link is no longer valid")
	if got, want := activityRows(r.body), f.want(func(en actEntry) bool { return en.status == "error" }); !slices.Equal(got, want) {
		t.Errorf("bad cursor: rows %v, want %v", got, want)
	}
	// Very long text is cut, not refused; NUL is dropped.
	wantCode(t, e.get(t, c, "/activity?q="+url.QueryEscape(strings.Repeat("é", 300))), http.StatusOK)
	wantCode(t, e.get(t, c, "/activity?q=deals%00&actorId=%00"), http.StatusOK)
}

func manyTypes(n int) string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("t%d.x", i))
	}
	return strings.Join(out, ",")
}

// --- paging --------------------------------------------------------------------------------------

var loadMoreRE = regexp.MustCompile(`data-testid="activity-load-more"`)
var hxGetMoreRE = regexp.MustCompile(`id="activity-load-more"[^>]*hx-get="([^"]+)"`)

func TestActivityLoadMore(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	// 120 more action runs for acme, a second apart, newest a little before the fixture's newest.
	var want []string
	for i := 0; i < 120; i++ {
		at := f.now.Add(-30*time.Second - time.Duration(i)*100*time.Millisecond)
		en := actEntry{id: idAt(at), at: at, tenant: f.acme.ID,
			typ: "action.run", status: "success", actor: "tenant-token", message: fmt.Sprintf("bulk %d", i), details: map[string]any{}}
		f.insert(t, e.ws.ID, en)
		want = append(want, en.id.String())
	}
	want = append(want, f.want(func(en actEntry) bool { return en.tenant == f.acme.ID && en.typ == "action.run" })...)
	c := e.signedIn(t, seed.SupportEmail)
	r := e.get(t, c, "/activity?tenant=acme&type=action.run")
	wantCode(t, r, http.StatusOK)
	got := activityRows(r.body)
	if len(got) != 50 {
		t.Fatalf("first page: %d rows, want 50", len(got))
	}
	for pages := 0; ; pages++ {
		m := hxGetMoreRE.FindStringSubmatch(r.body)
		if m == nil {
			break
		}
		if pages > 5 {
			t.Fatal("Load more does not end")
		}
		next := strings.ReplaceAll(m[1], "&amp;", "&")
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		if u.Path != "/activity" || u.Query().Get("type") != "action.run" || u.Query().Get("tenant") != f.acme.ID.String() || u.Query().Get("cursor") == "" {
			t.Errorf("Load more URL %q does not keep the filters", next)
		}
		r = e.get(t, c, next, "HX-Request", "true", "HX-Target", "activity-more")
		wantCode(t, r, http.StatusOK)
		if strings.Contains(r.body, "<table") || strings.Contains(r.body, "activity-filters") {
			t.Errorf("Load more answers more than rows:\n%s", r.body)
		}
		if !strings.Contains(r.body, "<tr") {
			t.Errorf("Load more answered no rows")
		}
		got = append(got, activityRows(r.body)...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged through %d rows, want %d (newest first, each once)", len(got), len(want))
	}
	if loadMoreRE.MatchString(r.body) {
		t.Errorf("the last page offers Load more")
	}
	// Without JavaScript the link is a page of its own, starting at the cursor.
	first := e.get(t, c, "/activity?tenant=acme&type=action.run")
	m := regexp.MustCompile(`id="activity-load-more"[^>]*href="([^"]+)"`).FindStringSubmatch(first.body)
	if m == nil {
		t.Fatal("no Load more href")
	}
	page2 := e.get(t, c, strings.ReplaceAll(m[1], "&amp;", "&"))
	wantCode(t, page2, http.StatusOK)
	if rows := activityRows(page2.body); len(rows) != 50 || rows[0] != want[50] {
		t.Errorf("second page without JavaScript: %d rows starting %v, want 50 from %s", len(rows), rows[:min(1, len(rows))], want[50])
	}
}

// --- detail --------------------------------------------------------------------------------------

func TestActivityDetailPanel(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	c := e.signedIn(t, seed.SupportEmail)
	en := f.entries[0] // acme, hubspot, the acme connection, list-deals
	path := "/activity/" + en.id.String()
	r := e.get(t, c, path, "HX-Request", "true", "HX-Target", "activity-detail")
	wantCode(t, r, http.StatusOK)
	if strings.Contains(r.body, "<html") {
		t.Errorf("htmx detail is a whole page")
	}
	wantContains(t, "detail panel", r.body, `data-testid="activity-detail"`, `data-testid="activity-detail-type">action.run<`,
		`data-testid="activity-detail-status">success<`, "entry 00 about deals", en.id.String(),
		`href="/tenants/`+f.acme.ID.String()+`">Acme Corp<`, `href="/integrations/`+f.hubspot.String()+`">HubSpot<`,
		`href="/tenants/`+f.acme.ID.String()+`/connections">Acme HubSpot<`, `href="/elements/actions/`+f.elem.String()+`"`,
		"req-"+en.id.String(), "actor-0", `autofocus`,
		`/activity?tenant=`+f.acme.ID.String(), `/activity?connection=`+f.conn.String(), `/activity?integration=hubspot`)
	// The details, pretty-printed JSON.
	details, ok := testID(r.body, "activity-detail-json")
	if !ok {
		t.Fatalf("no details block:\n%s", r.body)
	}
	details = strings.NewReplacer("&#34;", `"`, "&quot;", `"`).Replace(details)
	var got map[string]any
	if err := json.Unmarshal([]byte(details), &got); err != nil {
		t.Fatalf("details %q: %v", details, err)
	}
	if !strings.Contains(details, "\n  \"nested\": {\n    \"list\": [") || got["n"] != float64(0) {
		t.Errorf("details not pretty-printed or wrong: %q", details)
	}
	// A workspace-level entry with a duration.
	ws := f.entries[11]
	r = e.get(t, c, "/activity/"+ws.id.String(), "HX-Request", "true")
	wantCode(t, r, http.StatusOK)
	wantContains(t, "workspace entry", r.body, "Workspace-level entry", "110 ms", `href="/integrations/`+f.pipe.String()+`"`)
	// Without htmx, a page of its own.
	r = e.get(t, c, path)
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "GET "+path, r)
	wantContains(t, "detail page", r.body, `data-testid="activity-detail"`, `text-accent-700">Activity<`)
	// Unknown, malformed and other workspaces' ids are not found.
	for _, id := range []string{tenancy.NewID().String(), "not-an-id", f.otherWorkspaceIDs[0].String()} {
		if r := e.get(t, c, "/activity/"+id); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET /activity/%s: status %d, want 404", id, r.StatusCode)
		}
	}
	// A manager's entry names the manager.
	mgr := e.managerID(t, seed.AdminEmail)
	me := actEntry{id: idAt(f.now), at: f.now, typ: "settings.updated", status: "success", actor: "manager", actorID: mgr.String(),
		message: "renamed", details: map[string]any{}}
	f.insert(t, e.ws.ID, me)
	r = e.get(t, c, "/activity/"+me.id.String(), "HX-Request", "true")
	wantContains(t, "manager entry", r.body, seed.AdminEmail)
	// A tenant-level element links to the tenant's customization page, a gone one to nothing.
	var custom uuid.UUID
	var key, name string
	if err := e.db.SQL().QueryRow(`SELECT id, key, name FROM elements WHERE workspace_id = $1 AND tenant_id = $2 AND kind = 'action'
		ORDER BY key LIMIT 1`, e.ws.ID, f.acme.ID).Scan(&custom, &key, &name); err != nil {
		t.Fatalf("the demo's customization of an action for acme: %v", err)
	}
	te := actEntry{id: idAt(f.now), at: f.now, tenant: f.acme.ID, typ: "element.customized", status: "success", actor: "system",
		elem: custom, message: "customized", details: map[string]any{}}
	gone := actEntry{id: idAt(f.now), at: f.now, typ: "element.deleted", status: "success", actor: "system",
		elem: tenancy.NewID(), message: "deleted", details: map[string]any{}}
	f.insert(t, e.ws.ID, te)
	f.insert(t, e.ws.ID, gone)
	r = e.get(t, c, "/activity/"+te.id.String(), "HX-Request", "true")
	wantContains(t, "tenant element entry", r.body,
		`href="/tenants/`+f.acme.ID.String()+`/customizations/actions/`+key+`"`, name+" (Action)")
	r = e.get(t, c, "/activity/"+gone.id.String(), "HX-Request", "true")
	wantCode(t, r, http.StatusOK)
	if strings.Contains(r.body, `href="/elements/`) || strings.Contains(r.body, "/customizations/") {
		t.Errorf("an entry about a deleted element links to one")
	}
}

// --- the tenant's tab ----------------------------------------------------------------------------

func TestTenantActivityTab(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	c := e.signedIn(t, seed.SupportEmail)
	acme := f.acme.ID.String()
	show := e.get(t, c, "/tenants/"+acme)
	wantContains(t, "tenant page", show.body, `href="/tenants/`+acme+`/activity"`, `data-testid="tab-activity"`)
	r := e.get(t, c, "/tenants/"+acme+"/activity")
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "tenant activity tab", r)
	if got, want := activityRows(r.body), f.want(func(en actEntry) bool { return en.tenant == f.acme.ID }); !slices.Equal(got, want) {
		t.Errorf("tab rows %v, want acme's %v", got, want)
	}
	wantContains(t, "tab", r.body, `aria-current="page" class="subnav-link subnav-link-active" data-testid="tab-activity"`,
		`data-testid="tenant-name">Acme Corp<`, `action="/tenants/`+acme+`/activity"`, `href="/activity/export.csv?tenant=`+acme+`"`)
	wantAbsent(t, "tab", r.body, `data-testid="activity-tenant-search"`)
	// Filters within the tab; a tenant in the URL cannot widen it.
	r = e.get(t, c, "/tenants/"+acme+"/activity?status=error&tenant="+f.globex.ID.String())
	if got, want := activityRows(r.body), f.want(func(en actEntry) bool { return en.tenant == f.acme.ID && en.status == "error" }); !slices.Equal(got, want) {
		t.Errorf("tab with status=error: rows %v, want %v", got, want)
	}
	h := e.get(t, c, "/tenants/acme/activity?status=error", "HX-Request", "true", "HX-Target", "activity-results")
	if push := h.Header.Get("HX-Push-Url"); push != "/tenants/"+acme+"/activity?status=error" {
		t.Errorf("tab HX-Push-Url = %q", push)
	}
	if r := e.get(t, c, "/tenants/"+uuid.NewString()+"/activity"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown tenant's tab: status %d, want 404", r.StatusCode)
	}
}

// --- exports -------------------------------------------------------------------------------------

// dbEntry is an entry as the database holds it.
type dbEntry struct {
	ID            string  `db:"id"`
	CreatedAt     string  `db:"created_at"`
	Type          string  `db:"type"`
	Status        string  `db:"status"`
	TenantID      *string `db:"tenant_id"`
	ActorType     string  `db:"actor_type"`
	ActorID       string  `db:"actor_id"`
	ConnectionID  *string `db:"connection_id"`
	IntegrationID *string `db:"integration_id"`
	ElementID     *string `db:"element_id"`
	Message       string  `db:"message"`
	Details       string  `db:"details"`
	DurationMS    *int    `db:"duration_ms"`
	RequestID     string  `db:"request_id"`
}

// dbEntries reads the workspace's entries matching where, newest first, as the connecting superuser.
func (e *testEnv) dbEntries(t *testing.T, where string, args ...any) []dbEntry {
	t.Helper()
	var out []dbEntry
	q := `SELECT id::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created_at, type, status,
		tenant_id::text, actor_type, actor_id, connection_id::text, integration_id::text, element_id::text, message, details::text,
		duration_ms, request_id FROM activity_log WHERE workspace_id = $1 AND ` + where + ` ORDER BY created_at DESC, id DESC`
	if err := e.db.SQL().SelectContext(context.Background(), &out, q, append([]any{e.ws.ID}, args...)...); err != nil {
		t.Fatal(err)
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Errorf("not JSON: %q", a)
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Errorf("not JSON: %q", b)
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// sameTime compares an exported time with the database's (microseconds, UTC).
func sameTime(t *testing.T, exported, db string) bool {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, exported)
	if err != nil {
		t.Errorf("exported time %q: %v", exported, err)
		return false
	}
	return at.UTC().Format("2006-01-02T15:04:05.000000") == db
}

func TestActivityExportCSV(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	c := e.signedIn(t, seed.SupportEmail)
	// A message that needs RFC 4180 quoting.
	tricky := actEntry{id: idAt(f.now), at: f.now, tenant: f.acme.ID, typ: "action.run", status: "error", actor: "system",
		message: "line one, \"quoted\"\nline two", details: map[string]any{"why": "a, \"b\""}}
	f.insert(t, e.ws.ID, tricky)
	r := e.get(t, c, "/activity/export.csv?tenant=acme&status=error&status=warning")
	wantCode(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="activity-\d{8}-\d{6}\.csv"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if !strings.Contains(r.body, "\r\n") {
		t.Errorf("CSV lines do not end in CRLF")
	}
	records, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, r.body)
	}
	if !slices.Equal(records[0], activityCSVHeader) {
		t.Errorf("header %v", records[0])
	}
	want := e.dbEntries(t, `tenant_id = $2 AND status IN ('error', 'warning')`, f.acme.ID)
	if len(want) == 0 || len(records)-1 != len(want) {
		t.Fatalf("%d rows, want %d", len(records)-1, len(want))
	}
	for i, w := range want {
		got := records[i+1]
		dur := ""
		if w.DurationMS != nil {
			dur = fmt.Sprint(*w.DurationMS)
		}
		if got[0] != w.ID || !sameTime(t, got[1], w.CreatedAt) || got[2] != w.Type || got[3] != w.Status || got[4] != str(w.TenantID) ||
			got[5] != w.ActorType || got[6] != w.ActorID || got[7] != str(w.ConnectionID) || got[8] != str(w.IntegrationID) ||
			got[9] != str(w.ElementID) || got[10] != w.Message || !sameJSON(t, got[11], w.Details) || got[12] != dur || got[13] != w.RequestID {
			t.Errorf("row %d = %q, want %+v", i, got, w)
		}
	}
	if records[1][0] != tricky.id.String() || records[1][10] != tricky.message {
		t.Errorf("the quoted message came back as %q", records[1][10])
	}
}

func TestActivityExportNDJSONStreamsEverything(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	// 2,500 more entries (several of the store's pages), through one statement.
	e.exec(t, `INSERT INTO activity_log (workspace_id, created_at, id, tenant_id, type, status, actor_type, actor_id, message, details)
		SELECT $1, $2::timestamptz - (i || ' seconds')::interval, gen_random_uuid(), $3, 'flow.run',
			CASE WHEN i % 3 = 0 THEN 'error' ELSE 'success' END, 'tenant-token', 'acme', 'bulk run ' || i, jsonb_build_object('i', i)
		FROM generate_series(1, 2500) i`, e.ws.ID, f.now.Add(-2*time.Hour), f.globex.ID)
	c := e.signedIn(t, seed.AdminEmail)
	r := e.get(t, c, "/activity/export.ndjson?type=flow.run")
	wantCode(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="activity-\d{8}-\d{6}\.ndjson"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}
	want := e.dbEntries(t, `type = 'flow.run'`)
	lines := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
	if len(lines) != len(want) || len(want) < 2500 {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, w := range want {
		var got activityExportRecord
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, lines[i])
		}
		details, _ := json.Marshal(got.Details)
		if got.ID != w.ID || got.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000") != w.CreatedAt || got.Type != w.Type ||
			got.Status != w.Status || got.TenantID != str(w.TenantID) || got.ActorType != w.ActorType || got.Message != w.Message ||
			!sameJSON(t, string(details), w.Details) || got.IntegrationID != str(w.IntegrationID) {
			t.Fatalf("line %d = %s, want %+v", i, lines[i], w)
		}
	}
	// The same set through a text filter, and a filter matching nothing: an empty file, not an error.
	r = e.get(t, c, "/activity/export.ndjson?q=bulk+run&status=error")
	if n, want := strings.Count(r.body, "\n"), len(e.dbEntries(t, `message LIKE 'bulk run %' AND status = 'error'`)); n != want || n == 0 {
		t.Errorf("text+status export: %d lines, want %d", n, want)
	}
	r = e.get(t, c, "/activity/export.csv?type=nothing.such")
	wantCode(t, r, http.StatusOK)
	if r.body != strings.Join(activityCSVHeader, ",")+"\r\n" {
		t.Errorf("empty CSV export = %q", r.body)
	}
}

// --- live mode -----------------------------------------------------------------------------------

// sseEvent is one server-sent event.
type sseEvent struct {
	id, event, data string
}

// readSSE parses events from r onto a channel (comments as event ":"), closing it at the end.
func readSSE(r io.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" || len(data) > 0 || ev.id != "" {
					ev.data = strings.Join(data, "\n")
					ch <- ev
				}
				ev, data = sseEvent{}, nil
			case strings.HasPrefix(line, ":"):
				ch <- sseEvent{event: ":", data: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[6:])
			}
		}
	}()
	return ch
}

// nextActivityEvent waits for the next "activity" event (skipping comments).
func nextActivityEvent(t *testing.T, ch <-chan sseEvent, wait time.Duration) (sseEvent, bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return sseEvent{}, false
			}
			if ev.event == "activity" {
				return ev, true
			}
		case <-deadline:
			return sseEvent{}, false
		}
	}
}

// record writes an entry through the store's recorder, as the given tenant's token would.
func (e *testEnv) record(t *testing.T, scope tenancy.Scope, a store.Activity) uuid.UUID {
	t.Helper()
	err := e.db.InScope(context.Background(), scope, func(tx *store.Tx) error { return tx.Record(context.Background(), a) })
	if err != nil {
		t.Fatal(err)
	}
	var id string
	if err := e.db.SQL().GetContext(context.Background(), &id, `SELECT id::text FROM activity_log WHERE workspace_id = $1 AND message = $2`,
		e.ws.ID, a.Message); err != nil {
		t.Fatal(err)
	}
	return uuid.MustParse(id)
}

func TestActivityLiveStreamsNewMatchingEntries(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	c := e.signedIn(t, seed.SupportEmail)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The page's live URL: after the newest entry it shows.
	page := e.get(t, c, "/activity?tenant=acme&status=error&live=1")
	m := regexp.MustCompile(`sse-connect="([^"]+)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("live page has no sse-connect:\n%s", page.body)
	}
	wantContains(t, "live page", page.body, `hx-ext="sse"`, `sse-swap="activity"`, `hx-swap="afterbegin"`, `data-testid="activity-live-on"`,
		`<input type="hidden" name="live" value="1">`)
	liveURL := strings.ReplaceAll(m[1], "&amp;", "&")
	if u, _ := url.Parse(liveURL); u.Path != "/activity/live" || u.Query().Get("tenant") != f.acme.ID.String() || u.Query().Get("status") != "error" ||
		u.Query().Get("after") == "" {
		t.Errorf("live URL %q does not carry the filters", liveURL)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+liveURL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("live: status %d, Content-Type %q, Cache-Control %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	events := readSSE(resp.Body)
	// Entries that do not match (another tenant, another status) and one that does.
	acmeScope := tenancy.TenantScope(e.ws.ID, f.acme.ID)
	e.record(t, tenancy.TenantScope(e.ws.ID, f.globex.ID), store.Activity{Type: "action.run", Status: "error", Message: "globex failed"})
	e.record(t, acmeScope, store.Activity{Type: "action.run", Status: "success", Message: "acme fine"})
	id := e.record(t, acmeScope, store.Activity{Type: "action.run", Status: "error", Message: "acme <b>failed</b> live",
		Details: map[string]any{"password": "hunter2"}})
	ev, ok := nextActivityEvent(t, events, 10*time.Second)
	if !ok {
		t.Fatal("no event for the new matching entry")
	}
	if ev.id != id.String() || !strings.Contains(ev.data, `data-id="`+id.String()+`"`) || !strings.Contains(ev.data, "acme &lt;b&gt;failed&lt;/b&gt; live") ||
		!strings.Contains(ev.data, `<tr data-testid="activity-row"`) || !strings.Contains(ev.data, `hx-get="/activity/`+id.String()+`"`) {
		t.Errorf("event = %+v", ev)
	}
	for _, bad := range []string{"globex failed", "acme fine", "hunter2"} {
		if strings.Contains(ev.data, bad) {
			t.Errorf("event shows %q", bad)
		}
	}
	// Two more at once arrive oldest first (each goes to the top), and nothing is sent twice.
	a := e.record(t, acmeScope, store.Activity{Type: "flow.run", Status: "error", Message: "acme second"})
	b := e.record(t, acmeScope, store.Activity{Type: "flow.run", Status: "error", Message: "acme third"})
	var ids []string
	for len(ids) < 2 {
		ev, ok := nextActivityEvent(t, events, 10*time.Second)
		if !ok {
			t.Fatalf("got %v, want the two new entries", ids)
		}
		ids = append(ids, ev.id)
	}
	if !slices.Equal(ids, []string{a.String(), b.String()}) {
		t.Errorf("events %v, want %v then %v", ids, a, b)
	}
	if ev, ok := nextActivityEvent(t, events, 2500*time.Millisecond); ok {
		t.Errorf("an entry was sent again: %+v", ev)
	}
	// The client goes: the body ends.
	cancel()
	select {
	case _, open := <-events:
		for open {
			_, open = <-events
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream did not end after the client went")
	}

	// A reconnect with Last-Event-ID carries on after that entry.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel2()
	req, _ = http.NewRequestWithContext(ctx2, http.MethodGet, e.ts.URL+liveURL, nil)
	req.Header.Set("Last-Event-ID", a.String())
	resp2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	ev, ok = nextActivityEvent(t, readSSE(resp2.Body), 10*time.Second)
	if !ok || ev.id != b.String() {
		t.Errorf("after reconnecting from %s: event %+v, want %s", a, ev, b)
	}
}

// flushBuffer is a ResponseWriter that the test reads while the handler writes.
type flushBuffer struct {
	mu      sync.Mutex
	header  http.Header
	buf     bytes.Buffer
	status  int
	flushes int
}

func (w *flushBuffer) Header() http.Header { return w.header }
func (w *flushBuffer) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.status = code
}
func (w *flushBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
func (w *flushBuffer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes++
}
func (w *flushBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// liveRequest is a signed-in request for the live stream, as the route would hand it to the handler.
func (e *testEnv) liveRequest(t *testing.T, ctx context.Context, c *http.Client, query string) *http.Request {
	t.Helper()
	u, _ := url.Parse(e.ts.URL)
	req := httptest.NewRequest(http.MethodGet, "/activity/live?"+query, nil).WithContext(ctx)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	req, err := e.srv.loadSession(req)
	if err != nil || sessionFrom(req.Context()) == nil {
		t.Fatalf("no session for the live request: %v", err)
	}
	return req
}

func TestActivityLiveStopsCleanly(t *testing.T) {
	t.Parallel()
	f := newActFixture(t)
	e := f.e
	c := e.signedIn(t, seed.AdminEmail)
	fast := liveTiming{poll: 20 * time.Millisecond, heartbeat: 50 * time.Millisecond, maxAge: time.Hour, recheck: time.Hour, lookback: 5 * time.Second}
	run := func(ctx context.Context, timing liveTiming, query string) (*flushBuffer, <-chan error) {
		w := &flushBuffer{header: http.Header{}}
		done := make(chan error, 1)
		req := e.liveRequest(t, ctx, c, query)
		go func() { done <- e.srv.streamActivity(w, req, timing) }()
		return w, done
	}
	waitDone := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: handler returned %v", what, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: the handler did not return", what)
		}
	}

	// The client goes: the handler returns.
	ctx, cancel := context.WithCancel(context.Background())
	w, done := run(ctx, fast, "status=error")
	// Until the first heartbeat is out (50 ms apart; a loaded machine may take longer), then leave.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(w.String(), ": heartbeat\n\n") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	waitDone("client cancelled", done)
	if out := w.String(); !strings.HasPrefix(out, "retry: 3000\n: live\n\n") || !strings.Contains(out, ": heartbeat\n\n") {
		t.Errorf("stream = %q, want the opening and heartbeats", out)
	}
	if w.flushes < 2 {
		t.Errorf("%d flushes, want one per write", w.flushes)
	}

	// A stream's life is capped: it ends by itself (the browser reconnects).
	capped := fast
	capped.maxAge = 150 * time.Millisecond
	_, done = run(context.Background(), capped, "")
	waitDone("stream past its age", done)

	// A session that ends (sign-out elsewhere) ends the stream at the next check.
	rechecked := fast
	rechecked.recheck = 50 * time.Millisecond
	_, done = run(context.Background(), rechecked, "")
	time.Sleep(100 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("the stream ended while the session was valid")
	default:
	}
	e.exec(t, `DELETE FROM manager_sessions`)
	waitDone("session gone", done)
}

// TestActivityLiveLetsTheServerShutDown: an open stream ends when the server shuts down, so a
// graceful shutdown does not wait for it.
func TestActivityLiveLetsTheServerShutDown(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.srv}
	go func() { _ = srv.Serve(ln) }()
	u, _ := url.Parse(e.ts.URL)
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/activity/live", nil)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("live: status %d", resp.StatusCode)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "retry: 3000\n" {
		t.Fatalf("stream starts %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a live stream open: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %s with a live stream open", d)
	}
}
