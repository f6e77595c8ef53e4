package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// --- helpers -----------------------------------------------------------------------------------

// signedIn returns a client signed in as email: once per test, bcrypt is slow.
func (e *testEnv) signedIn(t *testing.T, email string) *http.Client {
	t.Helper()
	c := e.client(t)
	e.mustSignIn(t, c, email)
	return c
}

// tenant reads a tenant past the Console, as the system.
func (e *testEnv) tenant(t *testing.T, selector string) *tenancy.Tenant {
	t.Helper()
	var tn *tenancy.Tenant
	err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		var err error
		tn, err = tx.Tenant(context.Background(), selector)
		return err
	})
	if err != nil {
		t.Fatalf("tenant %s: %v", selector, err)
	}
	return tn
}

// exec runs SQL as the connecting superuser: fixtures, not a code path under test.
func (e *testEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.db.SQL().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (e *testEnv) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.SQL().GetContext(context.Background(), &n, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *testEnv) setSchema(t *testing.T, schema string) {
	t.Helper()
	e.exec(t, `UPDATE workspaces SET tenant_field_schema = $2 WHERE id = $1`, e.ws.ID, schema)
}

// setFields merges fields into a tenant's stored fields, as a token may (without the schema).
func (e *testEnv) setFields(t *testing.T, internalID, fields string) {
	t.Helper()
	e.exec(t, `UPDATE tenants SET fields = fields || $3::jsonb WHERE workspace_id = $1 AND internal_id = $2`, e.ws.ID, internalID, fields)
}

// addConnection gives a tenant an active connection to the seeded HubSpot integration.
func (e *testEnv) addConnection(t *testing.T, tenantID uuid.UUID) {
	t.Helper()
	e.exec(t, `INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name)
		SELECT $1, $2, $3, id, 'HubSpot' FROM integrations WHERE workspace_id = $1 AND key = 'hubspot'`, e.ws.ID, uuid.New(), tenantID)
}

// credentials decrypts a tenant's stored credentials.
func (e *testEnv) credentials(t *testing.T, id uuid.UUID) any {
	t.Helper()
	var v any
	err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		var err error
		v, err = tx.TenantCredentials(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var nameRE = regexp.MustCompile(`<a class="link font-medium" href="/tenants/[^"]*">([^<]*)</a>`)

// names returns the listed tenants' names, in order.
func names(body string) []string {
	var out []string
	for _, m := range nameRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

var rowRE = regexp.MustCompile(`(?s)data-testid="tenant-row".*?<code class="font-mono text-xs">([^<]*)</code>`)

// rows returns the internal ids of the listed tenants, in order.
func rows(body string) []string {
	var ids []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func wantCode(t *testing.T, r result, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", r.Request.Method, r.Request.URL, r.StatusCode, status, r.body)
	}
}

func wantContains(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s: missing %q", what, s)
		}
	}
}

func wantAbsent(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("%s: contains %q, want it absent", what, s)
		}
	}
}

// fragment fails unless r is an htmx fragment: HTML without the page frame.
func fragment(t *testing.T, what string, r result, root string) {
	t.Helper()
	wantCode(t, r, http.StatusOK)
	if strings.Contains(r.body, "<html") || !strings.HasPrefix(strings.TrimSpace(r.body), root) {
		t.Errorf("%s: want a fragment starting %q, got:\n%s", what, root, r.body)
	}
}

// toastOf returns the showToast message an htmx response asks for.
func toastOf(t *testing.T, r result) (level, message string) {
	t.Helper()
	var trig struct {
		ShowToast struct{ Level, Message string } `json:"showToast"`
	}
	if h := r.Header.Get("HX-Trigger"); h != "" {
		if err := json.Unmarshal([]byte(h), &trig); err != nil {
			t.Fatalf("HX-Trigger %q: %v", h, err)
		}
	}
	return trig.ShowToast.Level, trig.ShowToast.Message
}

var hxHeaders = []string{"HX-Request", "true"}

func withTarget(target string) []string { return []string{"HX-Request", "true", "HX-Target", target} }

// inputTag returns the opening tag of the element with id, or "".
func inputTag(body, id string) string {
	re := regexp.MustCompile(`<(?:input|select)[^>]*\sid="` + regexp.QuoteMeta(id) + `"[^>]*>`)
	return re.FindString(body)
}

// --- the list ----------------------------------------------------------------------------------

func TestTenantsListSearchFiltersSortAndPaging(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	ctx := context.Background()

	// The seed creates 12 tenants in one transaction (one created_at; ids in creation order).
	r := e.get(t, c, "/tenants")
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "GET /tenants", r)
	if n, _ := testID(r.body, "tenant-count"); n != "12 tenants" {
		t.Errorf("tenant-count = %q, want 12 tenants", n)
	}
	got := rows(r.body)
	if len(got) != 12 || got[0] != "oscorp" || got[11] != "acme" {
		t.Errorf("default order (newest first) = %v", got)
	}
	wantContains(t, "list", r.body, `href="/tenants/`+e.tenant(t, "acme").ID.String()+`"`, `data-search`, `aria-live="polite"`,
		`hx-target="#tenant-results"`, `hx-push-url="true"`, `data-open-dialog="new-tenant"`, `<dialog id="new-tenant"`)

	// Search is case-insensitive over name and internalId.
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.CreateTenant(ctx, store.NewTenant{InternalID: "cust-Q7-0042", Name: "Zeta Labs"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]string{
		"STARK INDUS": {"stark"},        // by name
		"q7-00":       {"cust-Q7-0042"}, // by internalId
		"  wonka ":    {"wonka"},
	} {
		r := e.get(t, c, "/tenants?q="+url.QueryEscape(q))
		if got := rows(r.body); !reflect.DeepEqual(got, want) {
			t.Errorf("search %q = %v, want %v", q, got, want)
		}
		if n, _ := testID(r.body, "tenant-count"); n != "1 tenant" {
			t.Errorf("search %q: count %q, want 1 tenant", q, n)
		}
	}

	// Sort by name, both ways; by last activity.
	r = e.get(t, c, "/tenants?sort=name&dir=asc")
	byName := rows(r.body)
	if n := names(r.body); !slices.IsSorted(n) || len(n) != 13 || byName[0] != "acme" || byName[1] != "cyberdyne" {
		t.Errorf("sort=name asc = %v, want all 13 A→Z from Acme Corp, Cyberdyne Systems", n)
	}
	r = e.get(t, c, "/tenants?sort=name") // a name sort defaults to A→Z
	if got := rows(r.body); !reflect.DeepEqual(got, byName) {
		t.Errorf("sort=name without dir = %v, want %v", got, byName)
	}
	r = e.get(t, c, "/tenants?sort=name&dir=desc")
	if got := rows(r.body); got[0] != "cust-Q7-0042" || got[len(got)-1] != "acme" {
		t.Errorf("sort=name desc = %v, want Zeta Labs first, Acme Corp last", got)
	}
	e.exec(t, `UPDATE tenants SET last_active_at = now() - interval '1 hour' WHERE internal_id = 'initech'`)
	e.exec(t, `UPDATE tenants SET last_active_at = now() - interval '1 minute' WHERE internal_id = 'tyrell'`)
	r = e.get(t, c, "/tenants?sort=lastActive&dir=desc")
	if got := rows(r.body); len(got) < 2 || got[0] != "tyrell" || got[1] != "initech" {
		t.Errorf("sort=lastActive desc = %v, want tyrell, initech first", got)
	}

	// Filters: status, connections, credits.
	hooli := e.tenant(t, "hooli")
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.ArchiveTenant(ctx, hooli.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.addConnection(t, e.tenant(t, "acme").ID)
	e.exec(t, `UPDATE tenants SET ai_credits_rolling_30_day_limit = 10 WHERE internal_id = 'wonka'`)
	e.exec(t, `INSERT INTO ai_credit_ledger (workspace_id, id, tenant_id, credits) VALUES ($1, $2, $3, 15)`,
		e.ws.ID, uuid.New(), e.tenant(t, "wonka").ID)
	for _, c2 := range []struct {
		query string
		want  int
		has   []string
		hasnt []string
	}{
		{"", 12, nil, []string{"hooli"}},
		{"status=active", 12, nil, []string{"hooli"}},
		{"status=archived", 1, []string{"hooli"}, nil},
		{"status=all", 13, []string{"hooli", "acme"}, nil},
		// The demo seed gives acme, globex and initech connections.
		{"connections=yes", 3, []string{"acme", "globex", "initech"}, nil},
		{"connections=no", 9, nil, []string{"acme", "hooli"}},
		{"credits=over", 1, []string{"wonka"}, nil},
		{"status=all&connections=no&q=o", -1, []string{"hooli"}, []string{"acme"}},
	} {
		r := e.get(t, c, "/tenants?"+c2.query)
		got := rows(r.body)
		if c2.want >= 0 && len(got) != c2.want {
			t.Errorf("?%s: %d rows %v, want %d", c2.query, len(got), got, c2.want)
		}
		for _, id := range c2.has {
			if !slices.Contains(got, id) {
				t.Errorf("?%s: %v lacks %s", c2.query, got, id)
			}
		}
		for _, id := range c2.hasnt {
			if slices.Contains(got, id) {
				t.Errorf("?%s: %v holds %s", c2.query, got, id)
			}
		}
		if c2.want >= 0 {
			if n, _ := testID(r.body, "tenant-count"); n != fmt.Sprintf("%d tenant", c2.want) && n != fmt.Sprintf("%d tenants", c2.want) {
				t.Errorf("?%s: count %q, want %d", c2.query, n, c2.want)
			}
		}
	}
	r = e.get(t, c, "/tenants?status=archived")
	wantContains(t, "archived filter", r.body, `<span class="badge badge-gray">Archived</span>`, `<option value="archived" selected>`)

	// Paging with a cursor: the count is the total on every page, pages do not overlap, the
	// filters travel with the cursor, and "First page" returns.
	var seen []string
	next := "/tenants?sort=name&limit=5"
	for page := 1; next != ""; page++ {
		r := e.get(t, c, next)
		wantCode(t, r, http.StatusOK)
		if n, _ := testID(r.body, "tenant-count"); n != "12 tenants" {
			t.Errorf("page %d: count %q, want 12 tenants", page, n)
		}
		got := rows(r.body)
		seen = append(seen, got...)
		_, hasFirst := testID(r.body, "first-page")
		if hasFirst != (page > 1) {
			t.Errorf("page %d: first-page link present = %v", page, hasFirst)
		}
		m := regexp.MustCompile(`href="([^"]*)"[^>]*data-testid="next-page"`).FindStringSubmatch(r.body)
		next = ""
		if m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
			u, _ := url.Parse(next)
			if u.Query().Get("cursor") == "" || u.Query().Get("sort") != "name" || u.Query().Get("limit") != "5" {
				t.Errorf("page %d: next link %q lacks the cursor, sort or limit", page, next)
			}
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if !reflect.DeepEqual(seen, withoutArchived(byName, "hooli")) {
		t.Errorf("pages by name = %v, want %v", seen, withoutArchived(byName, "hooli"))
	}

	// An outdated or forged cursor starts over at the first page, saying so.
	r = e.get(t, c, "/tenants?cursor=not-a-cursor")
	wantCode(t, r, http.StatusOK)
	wantContains(t, "bad cursor", r.body, "That page link is no longer valid")
	if got := rows(r.body); len(got) != 12 {
		t.Errorf("bad cursor: %d rows, want the first page (12)", len(got))
	}
	// A cursor of another sort (a name where a time belongs) too.
	m := regexp.MustCompile(`href="([^"]*)"[^>]*data-testid="next-page"`).FindStringSubmatch(e.get(t, c, "/tenants?sort=name&limit=2").body)
	u, _ := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	r = e.get(t, c, "/tenants?sort=created&cursor="+url.QueryEscape(u.Query().Get("cursor")))
	wantCode(t, r, http.StatusOK)
	wantContains(t, "cursor of another sort", r.body, "That page link is no longer valid")

	// Empty states: no match says what was searched and how to clear it (keeping filters).
	r = e.get(t, c, "/tenants?q=nothing-like-this&status=all")
	wantContains(t, "no match", r.body, `data-testid="tenants-no-match"`, "No tenant matches “nothing-like-this”",
		`href="/tenants?status=all">clear the search</a>`)
	if n, _ := testID(r.body, "tenant-count"); n != "0 tenants" {
		t.Errorf("no match: count %q", n)
	}
	r = e.get(t, c, "/tenants?credits=over&connections=yes")
	wantContains(t, "no filter match", r.body, `data-testid="tenants-no-match"`, "No tenant matches these filters")
	e.exec(t, `DELETE FROM tenants WHERE workspace_id = $1`, e.ws.ID)
	r = e.get(t, c, "/tenants")
	wantContains(t, "no tenants", r.body, `data-testid="tenants-empty"`, "No tenants yet.",
		"Create one, or send a tenant token to the API: tenants appear on first use.")
	wantAbsent(t, "no tenants", r.body, `data-testid="tenants-no-match"`)
}

func withoutArchived(ids []string, archived string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == archived })
}

func TestTenantsListFragments(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)

	// Search as you type asks for the results only.
	r := e.get(t, c, "/tenants?q=acme", withTarget("tenant-results")...)
	wantCode(t, r, http.StatusOK)
	wantAbsent(t, "results fragment", r.body, "<html", `id="tenant-filters"`, `<dialog`, `id="tenant-results"`)
	wantContains(t, "results fragment", r.body, `data-testid="tenant-count"`)
	if got := rows(r.body); !reflect.DeepEqual(got, []string{"acme"}) {
		t.Errorf("results fragment rows = %v", got)
	}
	// Other htmx requests get the page's body (no frame); boosted navigation and history
	// restores get the whole page.
	r = e.get(t, c, "/tenants?q=acme", hxHeaders...)
	wantAbsent(t, "body fragment", r.body, "<html")
	wantContains(t, "body fragment", r.body, `id="tenant-filters"`, `id="tenant-results"`)
	for _, h := range [][]string{
		{"HX-Request", "true", "HX-Boosted", "true"},
		{"HX-Request", "true", "HX-History-Restore-Request", "true"},
	} {
		r := e.get(t, c, "/tenants?q=acme", h...)
		checkStrictHTML(t, "GET /tenants "+h[2], r)
		wantContains(t, h[2], r.body, `data-testid="manager-email"`, `value="acme"`)
	}
	// The search box keeps the filters (hx-include) and the state is pushed to the URL.
	r = e.get(t, c, "/tenants?status=all&sort=name")
	tag := inputTag(r.body, "tenant-search")
	for _, a := range []string{`name="q"`, `data-search`, `hx-get="/tenants"`, `hx-trigger="input changed delay:200ms, search"`,
		`hx-target="#tenant-results"`, `hx-push-url="true"`, `hx-include="closest form"`} {
		if !strings.Contains(tag, a) {
			t.Errorf("search input %s lacks %s", tag, a)
		}
	}
	wantContains(t, "filters", r.body, `<option value="all" selected>`, `<option value="name" selected>`, `<option value="asc" selected>`,
		`<label class="label" for="tenant-search">`, `<label class="label" for="filter-status">`)
}

// --- create ------------------------------------------------------------------------------------

func TestTenantCreate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	countTenants := func() int {
		return e.count(t, `SELECT count(*) FROM tenants WHERE workspace_id = $1`, e.ws.ID)
	}

	// Without JavaScript, ?new=1 opens the dialog.
	r := e.get(t, c, "/tenants?new=1")
	wantContains(t, "?new=1", r.body, `<dialog id="new-tenant" class="dialog" aria-labelledby="new-tenant-title" open>`)

	// A duplicate internalId: the whole page with the dialog open and the error at the input.
	r = e.postForm(t, c, "/tenants", url.Values{"internalId": {"acme"}, "name": {"Another Acme"}})
	wantCode(t, r, http.StatusConflict)
	checkStrictHTML(t, "duplicate create", r)
	wantContains(t, "duplicate create", r.body, ` open>`, `value="Another Acme"`)
	if msg, _ := testID(r.body, "new-internal-id-error"); !strings.Contains(msg, "already exists") {
		t.Errorf("duplicate internalId error = %q, want it to say it already exists", msg)
	}
	tag := inputTag(r.body, "new-internal-id")
	for _, a := range []string{`aria-invalid="true"`, `aria-describedby="new-internal-id-help new-internal-id-error"`, "autofocus", "required"} {
		if !strings.Contains(tag, a) {
			t.Errorf("internalId input %s lacks %s", tag, a)
		}
	}
	if n := countTenants(); n != 12 {
		t.Errorf("%d tenants after a refused create, want 12", n)
	}

	// The same with htmx: the form alone, retargeted at itself, 200 so that htmx swaps it.
	r = e.postForm(t, c, "/tenants", url.Values{"internalId": {"acme"}}, hxHeaders...)
	fragment(t, "htmx duplicate create", r, `<form id="new-tenant-form"`)
	if r.Header.Get("HX-Retarget") != "#new-tenant-form" || r.Header.Get("HX-Reswap") != "outerHTML" {
		t.Errorf("htmx duplicate: HX-Retarget %q HX-Reswap %q", r.Header.Get("HX-Retarget"), r.Header.Get("HX-Reswap"))
	}
	wantContains(t, "htmx duplicate create", r.body, "already exists", `aria-invalid="true"`)
	if level, _ := toastOf(t, r); level != "error" {
		t.Errorf("htmx duplicate: toast level %q, want error", level)
	}

	r = e.postForm(t, c, "/tenants", url.Values{"internalId": {"  "}})
	wantCode(t, r, http.StatusUnprocessableEntity)
	if msg, _ := testID(r.body, "new-internal-id-error"); msg != "Internal ID is required" {
		t.Errorf("blank internalId error = %q", msg)
	}
	if n := countTenants(); n != 12 {
		t.Errorf("%d tenants after refused creates, want 12", n)
	}

	// Success: 303 to the tenant's page, which says so once.
	r = e.postForm(t, c, "/tenants", url.Values{"internalId": {" new-co "}, "name": {"New Co"}})
	created := e.tenant(t, "new-co")
	wantRedirect(t, r, "/tenants/"+created.ID.String())
	if created.Name != "New Co" {
		t.Errorf("created name %q", created.Name)
	}
	r = e.get(t, c, "/tenants/"+created.ID.String())
	if msg, _ := testID(r.body, "notice"); msg != "Tenant New Co created." {
		t.Errorf("notice after create = %q", msg)
	}
	if msg, ok := testID(e.get(t, c, "/tenants/"+created.ID.String()).body, "notice"); ok {
		t.Errorf("notice shown twice: %q", msg)
	}

	// With htmx: HX-Redirect; a blank name is the internalId (as in the API).
	r = e.postForm(t, c, "/tenants", url.Values{"internalId": {"htmx-co"}}, hxHeaders...)
	wantCode(t, r, http.StatusOK)
	hx := e.tenant(t, "htmx-co")
	if got := r.Header.Get("HX-Redirect"); got != "/tenants/"+hx.ID.String() {
		t.Errorf("HX-Redirect = %q", got)
	}
	if hx.Name != "htmx-co" {
		t.Errorf("blank name stored as %q, want the internalId", hx.Name)
	}

	// A schema with a required field: the dialog asks for it, and it is validated.
	e.setSchema(t, `{"type":"object","properties":{"plan":{"type":"string","title":"Plan","enum":["starter","pro"]},
		"note":{"type":"string"}},"required":["plan"]}`)
	r = e.get(t, c, "/tenants")
	wantContains(t, "dialog with a required field", r.body, `name="fields.plan"`)
	wantAbsent(t, "dialog with a required field", r.body, `name="fields.note"`)
	r = e.postForm(t, c, "/tenants", url.Values{"internalId": {"needs-plan"}, "fields.plan": {""}})
	wantCode(t, r, http.StatusUnprocessableEntity)
	if msg, _ := testID(r.body, "field-error-plan"); msg != "Plan is required" {
		t.Errorf("missing required field error = %q", msg)
	}
	if strings.Contains(inputTag(r.body, "new-field-plan"), "autofocus") == false {
		t.Errorf("the invalid field is not focused: %s", inputTag(r.body, "new-field-plan"))
	}
	if n := e.count(t, `SELECT count(*) FROM tenants WHERE internal_id = 'needs-plan'`); n != 0 {
		t.Error("a tenant was created without its required field")
	}
	r = e.postForm(t, c, "/tenants", url.Values{"internalId": {"needs-plan"}, "fields.plan": {"pro"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create with the required field: %d\n%s", r.StatusCode, r.body)
	}
	if got := e.tenant(t, "needs-plan").Fields; !reflect.DeepEqual(got, map[string]any{"plan": "pro"}) {
		t.Errorf("created fields = %v", got)
	}
}

// --- the tenant's page: fields -------------------------------------------------------------------

const fieldSchema = `{"type":"object","properties":{
	"plan":{"type":"string","title":"Plan","enum":["starter","pro","enterprise"]},
	"seats":{"type":"integer","title":"Seats","minimum":1,"description":"Paid seats"},
	"region":{"type":"string","title":"Region"},
	"discount":{"type":"number","title":"Discount","maximum":0.5},
	"beta":{"type":"boolean","title":"Beta"},
	"renewsAt":{"type":"string","format":"date-time","title":"Renews"},
	"billingEmail":{"type":"string","format":"email","title":"Billing email"},
	"website":{"type":"string","format":"uri","title":"Website"},
	"apiToken":{"type":"string","title":"API token","x-sensitive":true}},
	"required":["plan"],
	"x-order":["plan","seats","region","discount","beta","renewsAt","billingEmail","website","apiToken"]}`

func TestTenantFieldsForm(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	acme := e.tenant(t, "acme")
	path := "/tenants/" + acme.ID.String()

	// Without a schema the page says where to define one, and counts the stored fields.
	r := e.get(t, c, path)
	wantCode(t, r, http.StatusOK)
	wantContains(t, "no schema", r.body, `data-testid="no-schema"`, "This tenant has 3 fields without a schema.")

	e.setSchema(t, fieldSchema)
	e.setFields(t, "acme", `{"legacyNote":"legacy-value-7731","legacyFlag":true}`)
	r = e.get(t, c, path)
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "tenant page", r)
	if msg, _ := testID(r.body, "unschema-notice"); !strings.HasPrefix(msg, "This tenant has 2 fields without a schema.") {
		t.Errorf("unschema notice = %q, want 2 fields (legacyNote, legacyFlag)", msg)
	}
	wantContains(t, "tenant page", r.body, `href="/settings/general#schema">Define them in Settings → General</a>`)
	wantAbsent(t, "tenant page", r.body, "legacy-value-7731", "legacyNote", "legacyFlag")
	for id, attrs := range map[string][]string{
		"field-plan":         {`<select`, `name="fields.plan"`, "required"},
		"field-seats":        {`type="number"`, `step="1"`, `min="1"`, `value="250"`, `aria-describedby="field-seats-help"`},
		"field-region":       {`type="text"`, `value="eu"`},
		"field-discount":     {`type="number"`, `step="any"`, `max="0.5"`},
		"field-beta":         {`type="checkbox"`},
		"field-renewsAt":     {`type="datetime-local"`},
		"field-billingEmail": {`type="email"`},
		"field-website":      {`type="url"`},
	} {
		tag := inputTag(r.body, id)
		for _, a := range attrs {
			if !strings.Contains(tag, a) {
				t.Errorf("%s: %q lacks %s", id, tag, a)
			}
		}
		wantContains(t, "labels", r.body, `for="`+id+`"`)
	}
	wantContains(t, "tenant page", r.body, `<option value="enterprise" selected>`, `id="field-seats-help">Paid seats</p>`,
		`Plan <span class="required-mark" aria-hidden="true">*</span>`)
	if strings.Contains(inputTag(r.body, "field-region"), "required") {
		t.Error("an optional field is marked required")
	}
	// The page answers to the internalId too, and not to a stranger.
	wantCode(t, e.get(t, c, "/tenants/acme"), http.StatusOK)
	wantCode(t, e.get(t, c, "/tenants/no-such-tenant"), http.StatusNotFound)
	wantCode(t, e.get(t, c, "/tenants/"+uuid.NewString()), http.StatusNotFound)

	// Saving the form as shown changes nothing (no write, no activity entry).
	updates := func() int {
		return e.count(t, `SELECT count(*) FROM activity_log WHERE tenant_id = $1 AND type = 'tenant.updated'`, acme.ID)
	}
	shown := url.Values{"fields.plan": {"enterprise"}, "fields.seats": {"250"}, "fields.region": {"eu"}, "fields.discount": {""},
		"fields.beta": {"false"}, "fields.renewsAt": {""}, "fields.billingEmail": {""}, "fields.website": {""}, "fields.apiToken": {""}}
	wantRedirect(t, e.postForm(t, c, path+"/fields", shown), path)
	if n := updates(); n != 0 {
		t.Errorf("saving unchanged fields recorded %d updates", n)
	}

	// Valid values, without JavaScript: 303, stored with their JSON types; emptied optional
	// field removed; fields without a schema kept.
	form := url.Values{"fields.plan": {"pro"}, "fields.seats": {"300"}, "fields.region": {""}, "fields.discount": {"0.25"},
		"fields.beta": {"false", "true"}, "fields.renewsAt": {"2026-03-04T05:06"}, "fields.billingEmail": {"ops@acme.test"},
		"fields.website": {"https://acme.test/"}, "fields.notInSchema": {"ignored"}}
	wantRedirect(t, e.postForm(t, c, path+"/fields", form), path)
	want := map[string]any{"plan": "pro", "seats": float64(300), "discount": 0.25, "beta": true, "renewsAt": "2026-03-04T05:06:00Z",
		"billingEmail": "ops@acme.test", "website": "https://acme.test/", "legacyNote": "legacy-value-7731", "legacyFlag": true}
	if got := e.tenant(t, "acme").Fields; !reflect.DeepEqual(got, want) {
		t.Errorf("stored fields = %v\nwant %v", got, want)
	}
	if n := updates(); n != 1 {
		t.Errorf("%d tenant.updated entries, want 1", n)
	}
	r = e.get(t, c, path)
	if msg, _ := testID(r.body, "notice"); msg != "Fields saved." {
		t.Errorf("notice after save = %q", msg)
	}
	if tag := inputTag(r.body, "field-renewsAt"); !strings.Contains(tag, `value="2026-03-04T05:06:00"`) {
		t.Errorf("date-time shown as %s, want the UTC local form", tag)
	}
	if tag := inputTag(r.body, "field-beta"); !strings.Contains(tag, "checked") {
		t.Errorf("boolean shown as %s, want checked", tag)
	}

	// Invalid values: 422, each error at its field, the first invalid field focused, what was
	// typed shown again, nothing stored.
	bad := url.Values{"fields.plan": {"pro"}, "fields.seats": {"0"}, "fields.billingEmail": {"not-an-email"}, "fields.discount": {"0.9"}}
	r = e.postForm(t, c, path+"/fields", bad)
	wantCode(t, r, http.StatusUnprocessableEntity)
	checkStrictHTML(t, "invalid fields", r)
	for _, key := range []string{"seats", "billingEmail", "discount"} {
		if msg, ok := testID(r.body, "field-error-"+key); !ok || msg == "" {
			t.Errorf("no inline error at %s", key)
		}
	}
	if _, ok := testID(r.body, "field-error-plan"); ok {
		t.Error("an error at a valid field")
	}
	seats := inputTag(r.body, "field-seats")
	for _, a := range []string{`aria-invalid="true"`, "autofocus", `value="0"`, "field-seats-error"} {
		if !strings.Contains(seats, a) {
			t.Errorf("invalid seats input %s lacks %s", seats, a)
		}
	}
	if strings.Contains(inputTag(r.body, "field-billingEmail"), "autofocus") {
		t.Error("more than the first invalid field is focused")
	}
	wantContains(t, "invalid fields", r.body, `value="not-an-email"`)
	if got := e.tenant(t, "acme").Fields; !reflect.DeepEqual(got, want) {
		t.Errorf("fields after a refused save = %v, want unchanged", got)
	}

	// With htmx: the section alone, with a toast; a required field cannot be removed.
	r = e.postForm(t, c, path+"/fields", url.Values{"fields.plan": {""}}, hxHeaders...)
	fragment(t, "htmx invalid fields", r, `<section id="tenant-fields"`)
	if r.Header.Get("HX-Retarget") != "#tenant-fields" {
		t.Errorf("HX-Retarget %q", r.Header.Get("HX-Retarget"))
	}
	if msg, _ := testID(r.body, "field-error-plan"); !strings.Contains(msg, "required") {
		t.Errorf("removing a required field: error %q", msg)
	}
	if got := e.tenant(t, "acme").Fields["plan"]; got != "pro" {
		t.Errorf("plan = %v after a refused removal", got)
	}
	r = e.postForm(t, c, path+"/fields", url.Values{"fields.seats": {"12"}}, hxHeaders...)
	fragment(t, "htmx save", r, `<section id="tenant-fields"`)
	if level, msg := toastOf(t, r); level != "success" || msg != "Fields saved." {
		t.Errorf("htmx save toast = %s %q", level, msg)
	}
	if got := e.tenant(t, "acme").Fields["seats"]; got != float64(12) {
		t.Errorf("seats = %v after htmx save", got)
	}

	// A stored value that breaks the schema (tokens may store one) is marked, edited as text,
	// and kept when other fields are saved.
	e.setFields(t, "acme", `{"seats":"many"}`)
	r = e.get(t, c, path)
	wantContains(t, "broken value", r.body, `data-testid="field-broken"`, "does not match the schema")
	if tag := inputTag(r.body, "field-seats"); !strings.Contains(tag, `type="text"`) || !strings.Contains(tag, `value="many"`) || strings.Contains(tag, "min=") {
		t.Errorf("broken seats shown as %s, want a plain text input holding it", tag)
	}
	wantRedirect(t, e.postForm(t, c, path+"/fields", url.Values{"fields.plan": {"starter"}, "fields.seats": {"many"}}), path)
	if got := e.tenant(t, "acme").Fields; got["seats"] != "many" || got["plan"] != "starter" {
		t.Errorf("fields = %v, want seats kept as stored and plan saved", got)
	}
	r = e.postForm(t, c, path+"/fields", url.Values{"fields.seats": {"lots"}})
	wantCode(t, r, http.StatusUnprocessableEntity)
	if _, ok := testID(r.body, "field-error-seats"); !ok {
		t.Error("an edited broken value is not validated")
	}
}

func TestSensitiveFieldReveal(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	admin := e.signedIn(t, seed.AdminEmail)
	support := e.signedIn(t, seed.SupportEmail)
	const secret = "tok-SENSITIVE-4242"
	e.setSchema(t, fieldSchema)
	e.setFields(t, "acme", `{"apiToken":"`+secret+`"}`)
	acme := e.tenant(t, "acme")
	path := "/tenants/" + acme.ID.String()
	reveal := path + "/fields/apiToken/reveal"
	revealed := func() int {
		return e.count(t, `SELECT count(*) FROM activity_log WHERE tenant_id = $1 AND type = 'field.revealed'`, acme.ID)
	}

	r := e.get(t, admin, path)
	wantAbsent(t, "admin page", r.body, secret)
	wantContains(t, "admin page", r.body, `data-testid="masked"`, `href="`+reveal+`"`, `hx-get="`+reveal+`"`, `hx-target="#field-apiToken-row"`)
	if inputTag(r.body, "field-apiToken") != "" {
		t.Error("a masked field has an input: saving would send it")
	}

	r = e.get(t, admin, reveal, hxHeaders...)
	fragment(t, "reveal", r, `<div id="field-apiToken-row"`)
	if tag := inputTag(r.body, "field-apiToken"); !strings.Contains(tag, `value="`+secret+`"`) || !strings.Contains(tag, "autofocus") {
		t.Errorf("revealed input = %s", tag)
	}
	if n := revealed(); n != 1 {
		t.Errorf("%d field.revealed entries, want 1", n)
	}
	var details string
	if err := e.db.SQL().Get(&details, `SELECT details::text || message FROM activity_log WHERE type = 'field.revealed'`); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(details, secret) || !strings.Contains(details, "apiToken") {
		t.Errorf("field.revealed entry %q: want the key, never the value", details)
	}
	r = e.get(t, admin, reveal) // without JavaScript: the page, with the field revealed
	checkStrictHTML(t, "reveal page", r)
	wantContains(t, "reveal page", r.body, `value="`+secret+`"`, `data-testid="tenant-name"`)
	wantCode(t, e.get(t, admin, path+"/fields/region/reveal"), http.StatusNotFound)
	wantCode(t, e.get(t, admin, path+"/fields/nope/reveal"), http.StatusNotFound)

	// Saving the form with the field masked leaves it alone.
	wantRedirect(t, e.postForm(t, admin, path+"/fields", url.Values{"fields.region": {"us"}}), path)
	if got := e.tenant(t, "acme").Fields["apiToken"]; got != secret {
		t.Errorf("apiToken = %v after saving with it masked", got)
	}

	// Support managers never see it: masked without Reveal, 403 on reveal, and no page of theirs
	// holds the value.
	before := revealed()
	r = e.get(t, support, reveal, hxHeaders...)
	wantCode(t, r, http.StatusForbidden)
	wantAbsent(t, "support reveal", r.body, secret)
	r = e.get(t, support, reveal)
	wantCode(t, r, http.StatusForbidden)
	wantAbsent(t, "support reveal page", r.body, secret)
	for _, p := range []string{path, "/tenants/acme", "/tenants?q=acme", "/tenants?status=all"} {
		for _, h := range [][]string{nil, hxHeaders} {
			r := e.get(t, support, p, h...)
			wantCode(t, r, http.StatusOK)
			wantAbsent(t, "support "+p, r.body, secret, "/reveal")
		}
	}
	wantContains(t, "support page", e.get(t, support, path).body, `data-testid="masked"`)
	if n := revealed(); n != before {
		t.Errorf("support's attempts recorded %d field.revealed entries", n-before)
	}
}

// --- credentials, credits, archive -------------------------------------------------------------

func TestTenantCredentials(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	acme := e.tenant(t, "acme")
	path := "/tenants/" + acme.ID.String()
	var pages []string // every body the admin saw: none may hold a value

	r := e.postForm(t, c, path+"/credentials", url.Values{"key": {"apiKey"}, "value": {"cred-VALUE-1"}})
	wantRedirect(t, r, path)
	r = e.get(t, c, path)
	pages = append(pages, r.body)
	wantContains(t, "credentials", r.body, `<code class="font-mono">apiKey</code>`, `type="password"`, `for="credential-key"`, `for="credential-value"`)
	if msg, _ := testID(r.body, "notice"); msg != "Credential set." {
		t.Errorf("notice = %q", msg)
	}

	r = e.postForm(t, c, path+"/credentials", url.Values{"key": {"webhookSecret"}, "value": {"cred-VALUE-2"}}, hxHeaders...)
	fragment(t, "htmx set credential", r, `<section id="tenant-credentials"`)
	pages = append(pages, r.body)
	if n := strings.Count(r.body, `data-testid="credential-row"`); n != 2 {
		t.Errorf("%d credential rows, want 2", n)
	}
	if level, msg := toastOf(t, r); level != "success" || !strings.Contains(msg, "webhookSecret") {
		t.Errorf("toast = %s %q", level, msg)
	}
	wantContains(t, "clear control", r.body, `hx-confirm="Clear the credential apiKey? The value is deleted."`,
		`action="`+path+`/credentials/apiKey/clear"`)

	// Replace one key; the other stays.
	wantRedirect(t, e.postForm(t, c, path+"/credentials", url.Values{"key": {"apiKey"}, "value": {"cred-VALUE-3"}}), path)
	want := map[string]any{"apiKey": "cred-VALUE-3", "webhookSecret": "cred-VALUE-2"}
	if got := e.credentials(t, acme.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("credentials = %v, want %v", got, want)
	}

	// Refusals show the error inline and never echo the value.
	r = e.postForm(t, c, path+"/credentials", url.Values{"key": {""}, "value": {"cred-VALUE-4"}})
	wantCode(t, r, http.StatusUnprocessableEntity)
	pages = append(pages, r.body)
	if msg, _ := testID(r.body, "credential-key-error"); msg != "Key is required" {
		t.Errorf("empty key error = %q", msg)
	}
	r = e.postForm(t, c, path+"/credentials", url.Values{"key": {"token"}, "value": {""}}, hxHeaders...)
	fragment(t, "htmx empty value", r, `<section id="tenant-credentials"`)
	pages = append(pages, r.body)
	if msg, _ := testID(r.body, "credential-value-error"); !strings.HasPrefix(msg, "Value is required") {
		t.Errorf("empty value error = %q", msg)
	}
	wantContains(t, "empty value", r.body, `value="token"`)

	// Clear one key.
	wantRedirect(t, e.postForm(t, c, path+"/credentials/webhookSecret/clear", nil), path)
	if got := e.credentials(t, acme.ID); !reflect.DeepEqual(got, map[string]any{"apiKey": "cred-VALUE-3"}) {
		t.Errorf("credentials after clear = %v", got)
	}
	r = e.postForm(t, c, path+"/credentials/apiKey/clear", nil, hxHeaders...)
	fragment(t, "htmx clear", r, `<section id="tenant-credentials"`)
	pages = append(pages, r.body)
	wantContains(t, "all cleared", r.body, `data-testid="no-credentials"`)
	if got := e.credentials(t, acme.ID); got != nil {
		t.Errorf("credentials after clearing every key = %v", got)
	}
	// A key that needs escaping in the clear URL (keys may come from the API).
	odd := "team/key ?#1"
	if err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.SetTenantCredential(context.Background(), acme.ID, odd, "cred-VALUE-5")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r = e.get(t, c, path)
	clearURL := path + "/credentials/" + url.PathEscape(odd) + "/clear"
	wantContains(t, "escaped clear URL", r.body, `action="`+clearURL+`"`)
	wantRedirect(t, e.postForm(t, c, clearURL, nil), path)
	if got := e.credentials(t, acme.ID); got != nil {
		t.Errorf("credentials after clearing %q = %v", odd, got)
	}
	pages = append(pages, r.body, e.get(t, c, path).body, e.get(t, c, "/tenants").body)
	for i, body := range pages {
		wantAbsent(t, fmt.Sprintf("page %d", i), body, "cred-VALUE")
	}
}

func TestTenantCreditLimit(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	acme := e.tenant(t, "acme")
	path := "/tenants/" + acme.ID.String()
	e.exec(t, `UPDATE workspaces SET settings = settings || '{"defaultTenantAiCreditsLimit": 500}' WHERE id = $1`, e.ws.ID)
	e.exec(t, `INSERT INTO ai_credit_ledger (workspace_id, id, tenant_id, credits, created_at) VALUES
		($1, $2, $3, 12.5, now() - interval '2 days'), ($1, $4, $3, 1000, now() - interval '40 days')`,
		e.ws.ID, uuid.New(), acme.ID, uuid.New())
	limit := func() *float64 { return e.tenant(t, "acme").AICreditsRolling30DayLimit }

	r := e.get(t, c, path)
	if msg, _ := testID(r.body, "credit-usage"); !strings.HasPrefix(msg, "Used in the last 30 days:") {
		t.Errorf("credit-usage = %q", msg)
	}
	wantContains(t, "credits", r.body, "<strong>12.5</strong> of 500 credits", `placeholder="Workspace default: 500"`,
		"Blank: the workspace default applies (500 credits).", `for="credit-limit"`)
	wantAbsent(t, "credits", r.body, `data-testid="over-limit"`)

	wantRedirect(t, e.postForm(t, c, path+"/credits", url.Values{"limit": {"10"}}), path)
	if l := limit(); l == nil || *l != 10 {
		t.Errorf("limit = %v, want 10", l)
	}
	r = e.get(t, c, path)
	wantContains(t, "own limit", r.body, "<strong>12.5</strong> of 10 credits", `data-testid="over-limit"`, `value="10"`)

	for _, bad := range []string{"-1", "lots", "NaN"} {
		r := e.postForm(t, c, path+"/credits", url.Values{"limit": {bad}})
		wantCode(t, r, http.StatusUnprocessableEntity)
		if msg, _ := testID(r.body, "credit-limit-error"); msg == "" {
			t.Errorf("limit %q: no inline error", bad)
		}
		if tag := inputTag(r.body, "credit-limit"); !strings.Contains(tag, `aria-invalid="true"`) || !strings.Contains(tag, "autofocus") {
			t.Errorf("limit %q: input %s", bad, tag)
		}
		if l := limit(); l == nil || *l != 10 {
			t.Errorf("limit %q changed the stored limit to %v", bad, l)
		}
	}

	// Blank removes the tenant's own limit (the workspace default applies; none = unlimited).
	r = e.postForm(t, c, path+"/credits", url.Values{"limit": {""}}, hxHeaders...)
	fragment(t, "htmx credits", r, `<section id="tenant-credits"`)
	if l := limit(); l != nil {
		t.Errorf("limit = %v after saving blank, want none", *l)
	}
	e.exec(t, `UPDATE workspaces SET settings = '{}' WHERE id = $1`, e.ws.ID)
	wantContains(t, "unlimited", e.get(t, c, path).body, `placeholder="Unlimited"`, "Blank: unlimited.")
}

func TestTenantArchiveAndRestore(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	acme := e.tenant(t, "acme")
	path := "/tenants/" + acme.ID.String()
	// The demo seed gives acme two connections and globex one.
	active := func(id uuid.UUID) int {
		return e.count(t, `SELECT count(*) FROM connections WHERE tenant_id = $1 AND deactivated_at IS NULL`, id)
	}
	question := "Archive Acme Corp? Its 2 active connections will be deactivated."

	r := e.get(t, c, path)
	wantContains(t, "archive control", r.body, `hx-confirm="`+question+`"`, `hx-vals='{"confirmed":"yes"}'`, `data-testid="archive"`)
	wantAbsent(t, "active tenant", r.body, `data-testid="archived-badge"`)

	// Without JavaScript the first post asks (and changes nothing); the confirmed one archives.
	r = e.postForm(t, c, path+"/archive", nil)
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "archive confirmation", r)
	wantContains(t, "archive confirmation", r.body, `data-testid="archive-confirm"`, question, `name="confirmed" value="yes"`)
	if e.tenant(t, "acme").Archived() || active(acme.ID) != 2 {
		t.Fatal("the unconfirmed post archived the tenant")
	}
	wantRedirect(t, e.postForm(t, c, path+"/archive", url.Values{"confirmed": {"yes"}}), path)
	if !e.tenant(t, "acme").Archived() {
		t.Fatal("not archived")
	}
	if n := active(acme.ID); n != 0 {
		t.Errorf("%d of the tenant's connections still active after archiving", n)
	}
	if n := active(e.tenant(t, "globex").ID); n != 1 {
		t.Error("archiving deactivated another tenant's connection")
	}
	r = e.get(t, c, path)
	wantContains(t, "archived page", r.body, `data-testid="archived-badge"`, `data-testid="restore"`)
	if msg, _ := testID(r.body, "notice"); !strings.Contains(msg, "archived") {
		t.Errorf("notice = %q", msg)
	}

	// With htmx: the page comes back in place, with a toast.
	r = e.postForm(t, c, path+"/restore", nil, hxHeaders...)
	fragment(t, "htmx restore", r, `<div id="tenant-page"`)
	wantAbsent(t, "restored page", r.body, `data-testid="archived-badge"`)
	if tag := regexp.MustCompile(`<button[^>]*data-testid="archive"[^>]*>`).FindString(r.body); !strings.Contains(tag, "autofocus") {
		t.Errorf("after restoring, focus is not on Archive: %q", tag)
	}
	if level, msg := toastOf(t, r); level != "success" || msg != "Acme Corp restored." {
		t.Errorf("restore toast = %s %q", level, msg)
	}
	if e.tenant(t, "acme").Archived() || active(acme.ID) != 2 {
		t.Errorf("after restore: archived %v, %d active connections; want active with 2", e.tenant(t, "acme").Archived(), active(acme.ID))
	}
	r = e.postForm(t, c, path+"/archive", url.Values{"confirmed": {"yes"}}, hxHeaders...)
	fragment(t, "htmx archive", r, `<div id="tenant-page"`)
	wantContains(t, "htmx archive", r.body, `data-testid="archived-badge"`)
	if _, msg := toastOf(t, r); msg != "Acme Corp archived; 2 connections deactivated." {
		t.Errorf("archive toast %q", msg)
	}
}

// --- support managers --------------------------------------------------------------------------

var (
	postFormRE = regexp.MustCompile(`<form[^>]*method="post"[^>]*>`)
	controlRE  = regexp.MustCompile(`<(?:input|select|textarea)\b[^>]*>`)
)

// writeControls lists what on a page could change data: post forms (but sign-out), htmx posts,
// dialogs, inputs other than the list's search and filters, reveal links.
func writeControls(body string) []string {
	var found []string
	for _, f := range postFormRE.FindAllString(body, -1) {
		if !strings.Contains(f, `action="/signout"`) {
			found = append(found, f)
		}
	}
	for _, c := range controlRE.FindAllString(body, -1) {
		if !regexp.MustCompile(`name="(q|status|connections|credits|sort|dir|limit)"`).MatchString(c) {
			found = append(found, c)
		}
	}
	for _, s := range []string{"hx-post", "<dialog", "data-open-dialog", "/reveal", `data-testid="archive"`, `data-testid="restore"`, "New tenant"} {
		if strings.Contains(body, s) {
			found = append(found, s)
		}
	}
	return found
}

// snapshot is every row support managers might touch, as text.
func (e *testEnv) snapshot(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, q := range []string{
		`SELECT coalesce(string_agg(row_to_json(t)::text, ',' ORDER BY id), '') FROM tenants t WHERE workspace_id = $1`,
		`SELECT coalesce(string_agg(row_to_json(c)::text, ',' ORDER BY id), '') FROM connections c WHERE workspace_id = $1`,
		`SELECT count(*)::text FROM activity_log WHERE workspace_id = $1`,
	} {
		var s string
		if err := e.db.SQL().Get(&s, q, e.ws.ID); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "\n")
}

func TestSupportManagerReadsOnly(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	e.setSchema(t, fieldSchema)
	e.setFields(t, "acme", `{"apiToken":"tok-support-never"}`)
	acme := e.tenant(t, "acme")
	e.addConnection(t, acme.ID)
	if err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.SetTenantCredential(context.Background(), acme.ID, "apiKey", "cred-support-never")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	path := "/tenants/" + acme.ID.String()

	for _, p := range []string{"/tenants", "/tenants?new=1", "/tenants?status=all&sort=name", path, "/tenants/globex"} {
		r := e.get(t, c, p)
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "support GET "+p, r)
		if found := writeControls(r.body); len(found) > 0 {
			t.Errorf("support GET %s: controls that change data: %q", p, found)
		}
		wantAbsent(t, "support GET "+p, r.body, "tok-support-never", "cred-support-never")
	}
	// They still see everything: fields (sensitive masked), credential keys, credits, status.
	r := e.get(t, c, path)
	wantContains(t, "support page", r.body, `data-testid="field-plan"`, "enterprise", `data-testid="masked"`,
		`<code class="font-mono">apiKey</code>`, `data-testid="credit-usage"`, `data-testid="credit-limit"`)

	// Every write route of the Tenants area refuses them, and nothing changes.
	before := e.snapshot(t)
	var writes []string
	for _, rt := range e.srv.consoleRoutes() {
		if strings.HasPrefix(rt.pattern, "POST /tenants") || strings.Contains(rt.pattern, "/reveal") {
			writes = append(writes, rt.pattern)
		}
	}
	if len(writes) != 15 {
		t.Errorf("found %d Tenants write routes, want 15: %v", len(writes), writes)
	}
	form := url.Values{"internalId": {"support-made"}, "fields.plan": {"starter"}, "key": {"apiKey"}, "value": {"x"},
		"limit": {"1"}, "confirmed": {"yes"}}
	for _, pattern := range writes {
		method, p, _ := strings.Cut(pattern, " ")
		p = strings.NewReplacer("{id}", acme.ID.String(), "{key}", "apiKey").Replace(p)
		for _, h := range [][]string{nil, hxHeaders} {
			var r result
			if method == http.MethodGet {
				r = e.get(t, c, p, h...)
			} else {
				r = e.postForm(t, c, p, form, h...)
			}
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("support %s %s (htmx %v): status %d, want 403", method, p, h != nil, r.StatusCode)
			}
			wantAbsent(t, "support "+p, r.body, "tok-support-never", "cred-support-never")
			if h != nil {
				if level, _ := toastOf(t, r); level != "error" {
					t.Errorf("support htmx %s: no error toast", p)
				}
			}
		}
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("support managers' refused writes changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

// TestTenantViewHelpers pins the small formatting rules the pages rely on.
func TestTenantViewHelpers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"is required": "Plan is required", "must be at most 3": "Plan must be at most 3",
		"got string, want number": "Got string, want number", "": ""} {
		if got := sentence("Plan", in); got != want {
			t.Errorf("sentence(%q) = %q, want %q", in, got, want)
		}
	}
	if got := htmlID("plan_2"); got != "plan_2" {
		t.Errorf("htmlID(plan_2) = %q", got)
	}
	if got := htmlID(`a "b"`); strings.ContainsAny(got, ` "`) {
		t.Errorf("htmlID leaves unsafe characters: %q", got)
	}
	at, err := parseLocal("2026-03-04T05:06")
	if err != nil || !at.Equal(time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)) {
		t.Errorf("parseLocal = %v, %v", at, err)
	}
}
