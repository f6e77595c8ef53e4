package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/tenants"
)

// storedConfig is the config column of a tenant's tenant-wide row for kind/key, as stored; ok is
// false when the tenant has no such row.
func (e *testEnv) storedConfig(t *testing.T, tenantID any, kind, key string) (map[string]any, bool) {
	t.Helper()
	var raw []string
	if err := e.db.SQL().Select(&raw, `SELECT config::text FROM elements WHERE workspace_id = $1 AND tenant_id = $2
		AND kind = $3 AND key = $4 AND connection_id IS NULL`, e.ws.ID, tenantID, kind, key); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw[0]), &m); err != nil {
		t.Fatal(err)
	}
	return m, true
}

// elementsSnapshot is every element row and the activity count, as text.
func (e *testEnv) elementsSnapshot(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, q := range []string{
		`SELECT coalesce(string_agg(row_to_json(x)::text, ',' ORDER BY id), '') FROM elements x WHERE workspace_id = $1`,
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

// listDealsWith is the seeded list-deals template's config with query.limit set to limit and an
// extra header: what a person types into the editor.
func listDealsWith(limit string) string {
	return `{
  "credits": 1,
  "headers": {"X-Team": "sales"},
  "method": "GET",
  "path": "/crm/v3/objects/deals",
  "query": {"limit": "` + limit + `"}
}`
}

func TestTenantElementsTab(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	acme, globex := e.tenant(t, "acme"), e.tenant(t, "globex")

	r := e.get(t, c, "/tenants/"+globex.ID.String()+"/customizations")
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "customizations tab", r)
	for _, k := range tenancy.ElementKinds {
		wantContains(t, "customizations tab", r.body, `data-testid="kind-`+k.Plural()+`"`)
	}
	wantContains(t, "customizations tab", r.body, `aria-current="page" class="subnav-link subnav-link-active" data-testid="tab-customizations"`,
		`data-testid="element-actions-list-deals"`, `data-testid="element-flows-sync-deals"`, `data-testid="element-field-mappings-contact-fields"`)
	if got := elementStatus(r.body, "actions", "list-deals"); got != "inherited" {
		t.Errorf("globex list-deals status %q, want inherited", got)
	}
	// acme's seeded customization shows as such, with its number of changes.
	r = e.get(t, c, "/tenants/"+acme.ID.String()+"/customizations")
	if got := elementStatus(r.body, "actions", "list-deals"); got != "customized" {
		t.Errorf("acme list-deals status %q, want customized", got)
	}
	wantContains(t, "acme tab", r.body, "2 changes", "Edit customization")

	// The overview links to the tabs.
	r = e.get(t, c, "/tenants/"+globex.ID.String())
	wantContains(t, "overview", r.body, `href="/tenants/`+globex.ID.String()+`/customizations"`, `href="/tenants/`+globex.ID.String()+`/connections"`)

	for _, p := range []string{"/tenants/" + globex.ID.String() + "/customizations/apps/list-deals",
		"/tenants/" + globex.ID.String() + "/customizations/actions/no-such-action",
		"/tenants/" + globex.ID.String() + "/customizations/flows/list-deals",
		"/tenants/00000000-0000-0000-0000-000000000000/customizations",
		"/tenants/00000000-0000-0000-0000-000000000000/customizations/actions/list-deals"} {
		wantCode(t, e.get(t, c, p), http.StatusNotFound)
	}
}

// elementStatus is the status badge of kind/key on the Customizations tab.
func elementStatus(body, plural, key string) string {
	_, row, ok := strings.Cut(body, `data-testid="element-`+plural+`-`+key+`"`)
	if !ok {
		return ""
	}
	row, _, _ = strings.Cut(row, "</tr>")
	s, _ := testID(row, "element-status")
	return s
}

func TestTenantElementCustomizeStoresOnlyTheDiff(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	globex, initech := e.tenant(t, "globex"), e.tenant(t, "initech")
	path := "/tenants/" + globex.ID.String() + "/customizations/actions/list-deals"

	r := e.get(t, c, path)
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "element page", r)
	wantContains(t, "inherited element page", r.body, `data-testid="no-changes"`, `<textarea`, `&#34;limit&#34;: &#34;100&#34;`)
	if s, _ := testID(r.body, "element-status"); s != "inherited" {
		t.Errorf("status %q, want inherited", s)
	}
	wantAbsent(t, "inherited element page", r.body, `data-testid="element-reset"`, `data-testid="element-override"`)

	// Save the whole desired config: only the difference from the template is stored.
	r = e.postForm(t, c, path, url.Values{"config": {listDealsWith("10")}})
	wantRedirect(t, r, path)
	got, ok := e.storedConfig(t, globex.ID, "action", "list-deals")
	want := map[string]any{"headers": map[string]any{"X-Team": "sales"}, "query": map[string]any{"limit": "10"}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored config %v (row %v), want only the difference %v", got, ok, want)
	}
	if n := e.count(t, `SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND tenant_id = $2 AND type IN ('customization.created', 'customization.updated')
		AND actor_type = 'manager'`, e.ws.ID, globex.ID); n != 2 {
		t.Errorf("activity entries for the customization: %d, want created + updated", n)
	}
	if _, ok := e.storedConfig(t, initech.ID, "action", "list-deals"); ok {
		t.Errorf("customizing globex created a row for initech")
	}

	// The page now shows it customized, the changed paths, the diff and the stored override.
	r = e.get(t, c, path)
	wantContains(t, "customized page", r.body, "Customization saved.", `data-testid="element-reset"`,
		`<code class="font-mono">config.query.limit</code>`, `<code class="font-mono">config.headers</code>`,
		`data-testid="element-override"`, `data-kind="changed"`)
	if s, _ := testID(r.body, "element-status"); s != "customized" {
		t.Errorf("status after save %q, want customized", s)
	}
	// The diff: the template's line on the left, the tenant's on the right, in one changed row.
	if !strings.Contains(r.body, `data-testid="diff-left" data-kind="changed"`) || !diffRowHas(r.body, `&#34;limit&#34;: &#34;100&#34;`, `&#34;limit&#34;: &#34;10&#34;`) {
		t.Errorf("the diff does not pair the template's limit 100 with the tenant's 10:\n%s", r.body)
	}

	// Another tenant still gets the template.
	r = e.get(t, c, "/tenants/"+initech.ID.String()+"/customizations/actions/list-deals")
	if s, _ := testID(r.body, "element-status"); s != "inherited" {
		t.Errorf("initech's list-deals status %q after globex customized it, want inherited", s)
	}
	wantContains(t, "initech's page", r.body, `&#34;limit&#34;: &#34;100&#34;`)

	// An htmx save answers with the element's fragment and a toast.
	r = e.postForm(t, c, path, url.Values{"config": {listDealsWith("20")}}, hxHeaders...)
	fragment(t, "htmx save", r, `<div id="tenant-element"`)
	if level, msg := toastOf(t, r); level != "success" || !strings.Contains(msg, "list-deals") {
		t.Errorf("htmx save toast %s %q", level, msg)
	}
	if got, _ := e.storedConfig(t, globex.ID, "action", "list-deals"); !reflect.DeepEqual(got["query"], map[string]any{"limit": "20"}) {
		t.Errorf("after the htmx save the stored query is %v", got["query"])
	}

	// Saving the template's config back stores nothing: inherited again.
	tmpl := `{"credits": 1, "method": "GET", "path": "/crm/v3/objects/deals", "query": {"limit": "100"}}`
	wantRedirect(t, e.postForm(t, c, path, url.Values{"config": {tmpl}}), path)
	if got, _ := e.storedConfig(t, globex.ID, "action", "list-deals"); len(got) != 0 {
		t.Errorf("saving the template's own config stored %v, want {}", got)
	}
	if s, _ := testID(e.get(t, c, path).body, "element-status"); s != "inherited" {
		t.Errorf("status after saving the template's config %q, want inherited", s)
	}
}

// diffRowHas reports whether one diff row has left on its left side and right on its right.
func diffRowHas(body, left, right string) bool {
	for _, row := range strings.Split(body, `data-testid="diff-row"`)[1:] {
		row, _, _ = strings.Cut(row, "</tr>")
		l, r, ok := strings.Cut(row, `data-testid="diff-right"`)
		if ok && strings.Contains(l, left) && strings.Contains(r, right) {
			return true
		}
	}
	return false
}

func TestTenantElementInvalidConfigWritesNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	globex := e.tenant(t, "globex")
	path := "/tenants/" + globex.ID.String() + "/customizations/actions/list-deals"
	before := e.elementsSnapshot(t)

	cases := []struct {
		name, config string
		want         []string
	}{
		{"syntax", "{\n  \"method\": \"GET\",\n  \"path\": \n}", []string{`data-testid="element-config-error"`, "not valid JSON", "line 4"}},
		{"trailing", `{"method": "GET", "path": "/x"} {}`, []string{`data-testid="element-config-error"`, "more text after the object"}},
		{"not an object", `["GET"]`, []string{`data-testid="element-config-error"`, "must be a JSON object"}},
		{"empty", "  ", []string{`data-testid="element-config-error"`, "empty"}},
		{"schema", `{"method": "FETCH", "path": "/x", "timeoutSeconds": 0, "typo": 1}`, []string{`data-testid="element-config-problems"`,
			"config.method:", "config.timeoutSeconds:", "config.typo: is not a known property here"}},
		{"required", `{"query": {"limit": "5"}}`, []string{"config.method: is required", "config.path: is required"}},
	}
	for _, tc := range cases {
		r := e.postForm(t, c, path, url.Values{"config": {tc.config}})
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", tc.name, r.StatusCode)
		}
		checkStrictHTML(t, tc.name, r)
		wantContains(t, tc.name, r.body, tc.want...)
		wantContains(t, tc.name, r.body, `aria-invalid="true"`)
		// What was typed stays in the editor.
		if !strings.Contains(r.body, ">"+tenantsEscape(tc.config)+"</textarea>") {
			t.Errorf("%s: the editor does not hold what was typed", tc.name)
		}

		// htmx: the element's fragment, retargeted, with an error toast.
		r = e.postForm(t, c, path, url.Values{"config": {tc.config}}, hxHeaders...)
		fragment(t, tc.name+" (htmx)", r, `<div id="tenant-element"`)
		if got := r.Header.Get("HX-Retarget"); got != "#tenant-element" {
			t.Errorf("%s (htmx): HX-Retarget %q", tc.name, got)
		}
		if level, _ := toastOf(t, r); level != "error" {
			t.Errorf("%s (htmx): toast level %q, want error", tc.name, level)
		}
		wantContains(t, tc.name+" (htmx)", r.body, tc.want...)
	}
	if after := e.elementsSnapshot(t); after != before {
		t.Errorf("refused saves changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

// tenantsEscape is s as templ escapes text.
func tenantsEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func TestTenantElementResetAsksFirst(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	acme := e.tenant(t, "acme")
	path := "/tenants/" + acme.ID.String() + "/customizations/actions/list-deals"
	seeded, ok := e.storedConfig(t, acme.ID, "action", "list-deals")
	if !ok || len(seeded) == 0 {
		t.Fatalf("acme's seeded customization is missing: %v", seeded)
	}

	// Without confirmation (no JavaScript): the question, and nothing changes.
	r := e.postForm(t, c, path+"/reset", nil)
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "reset question", r)
	wantContains(t, "reset question", r.body, `data-testid="element-confirm"`, "Reset List deals for Acme", `name="confirmed" value="yes"`)
	if got, _ := e.storedConfig(t, acme.ID, "action", "list-deals"); !reflect.DeepEqual(got, seeded) {
		t.Errorf("an unconfirmed reset changed the config to %v", got)
	}

	wantRedirect(t, e.postForm(t, c, path+"/reset", url.Values{"confirmed": {"yes"}}), path)
	if got, _ := e.storedConfig(t, acme.ID, "action", "list-deals"); len(got) != 0 {
		t.Errorf("after reset the stored config is %v, want {}", got)
	}
	if n := e.count(t, `SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND tenant_id = $2 AND type = 'customization.reset'`, e.ws.ID, acme.ID); n != 1 {
		t.Errorf("%d customization.reset entries, want 1", n)
	}
	r = e.get(t, c, path)
	wantContains(t, "after reset", r.body, "Customization reset", `data-testid="no-changes"`)
	if s, _ := testID(r.body, "element-status"); s != "inherited" {
		t.Errorf("status after reset %q, want inherited", s)
	}

	// htmx: customize, then reset, confirmed by hx-confirm.
	wantRedirect(t, e.postForm(t, c, path, url.Values{"config": {listDealsWith("7")}}), path)
	r = e.postForm(t, c, path+"/reset", url.Values{"confirmed": {"yes"}}, hxHeaders...)
	fragment(t, "htmx reset", r, `<div id="tenant-element"`)
	if s, _ := testID(r.body, "element-status"); s != "inherited" {
		t.Errorf("htmx reset fragment status %q, want inherited", s)
	}
	if got, _ := e.storedConfig(t, acme.ID, "action", "list-deals"); len(got) != 0 {
		t.Errorf("after the htmx reset the stored config is %v", got)
	}
}

func TestTenantElementTenantOnly(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	globex := e.tenant(t, "globex")
	if err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.CreateTenantElement(context.Background(), globex.ID, store.ElementInput{Kind: tenancy.KindAction, Key: "globex-report",
			Name: "Globex report", Type: "http-request", Config: map[string]any{"method": "GET", "path": "/reports"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, c, "/tenants/"+globex.ID.String()+"/customizations")
	if got := elementStatus(r.body, "actions", "globex-report"); got != "tenant-only" {
		t.Errorf("tenant-only element status %q", got)
	}
	// Not on another tenant's tab.
	if strings.Contains(e.get(t, c, "/tenants/"+e.tenant(t, "acme").ID.String()+"/customizations").body, "globex-report") {
		t.Errorf("acme's tab shows globex's own element")
	}

	path := "/tenants/" + globex.ID.String() + "/customizations/actions/globex-report"
	r = e.get(t, c, path)
	wantContains(t, "tenant-only page", r.body, `data-testid="element-delete"`, `data-testid="element-config"`)
	wantAbsent(t, "tenant-only page", r.body, `data-testid="element-diff"`, `data-testid="element-reset"`)

	// Its config is stored whole.
	wantRedirect(t, e.postForm(t, c, path, url.Values{"config": {`{"method": "POST", "path": "/reports"}`}}), path)
	if got, _ := e.storedConfig(t, globex.ID, "action", "globex-report"); !reflect.DeepEqual(got, map[string]any{"method": "POST", "path": "/reports"}) {
		t.Errorf("tenant-only config stored as %v", got)
	}
	// Reset does not apply.
	wantCode(t, e.postForm(t, c, path+"/reset", url.Values{"confirmed": {"yes"}}), http.StatusBadRequest)

	// Delete asks first, then deletes.
	r = e.postForm(t, c, path+"/delete", nil)
	wantCode(t, r, http.StatusOK)
	wantContains(t, "delete question", r.body, `data-testid="element-confirm"`, "Delete Globex report")
	if _, ok := e.storedConfig(t, globex.ID, "action", "globex-report"); !ok {
		t.Fatalf("an unconfirmed delete deleted")
	}
	wantRedirect(t, e.postForm(t, c, path+"/delete", url.Values{"confirmed": {"yes"}}), "/tenants/"+globex.ID.String()+"/customizations")
	if _, ok := e.storedConfig(t, globex.ID, "action", "globex-report"); ok {
		t.Errorf("the element is still there after delete")
	}
	if n := e.count(t, `SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND tenant_id = $2 AND type = 'action.deleted'`, e.ws.ID, globex.ID); n != 1 {
		t.Errorf("%d action.deleted entries, want 1", n)
	}
	wantCode(t, e.get(t, c, path), http.StatusNotFound)
	// A template cannot be deleted from here.
	wantCode(t, e.postForm(t, c, "/tenants/"+globex.ID.String()+"/customizations/actions/list-deals/delete", url.Values{"confirmed": {"yes"}}), http.StatusBadRequest)
}

func TestTenantElementSupportReadsOnly(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	acme := e.tenant(t, "acme")
	base := "/tenants/" + acme.ID.String() + "/customizations"
	for _, p := range []string{base, base + "/actions/list-deals", base + "/flows/sync-deals"} {
		r := e.get(t, c, p)
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "support GET "+p, r)
		if found := writeControls(r.body); len(found) > 0 {
			t.Errorf("support GET %s: controls that change data: %q", p, found)
		}
	}
	r := e.get(t, c, base+"/actions/list-deals")
	wantContains(t, "support element page", r.body, `data-testid="element-effective"`, `data-testid="element-diff"`, "config.query.limit")

	before := e.elementsSnapshot(t)
	for _, p := range []string{base + "/actions/list-deals", base + "/actions/list-deals/reset", base + "/actions/list-deals/delete",
		base + "/actions/create-contact"} {
		for _, h := range [][]string{nil, hxHeaders} {
			r := e.postForm(t, c, p, url.Values{"config": {`{"method": "GET", "path": "/x"}`}, "confirmed": {"yes"}}, h...)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("support POST %s (htmx %v): status %d, want 403", p, h != nil, r.StatusCode)
			}
		}
	}
	if after := e.elementsSnapshot(t); after != before {
		t.Errorf("support managers' refused writes changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

func TestTenantElementConfigParsing(t *testing.T) {
	for _, tc := range []struct {
		text string
		want map[string]any
		err  string
	}{
		{`{}`, map[string]any{}, ""},
		{" {\"a\": {\"b\": null}} \n", map[string]any{"a": map[string]any{"b": nil}}, ""},
		{"{\n\"a\": 1,\n}", nil, "line 3, column 1"},
		{`{"a": 1`, nil, "ends too early"},
		{`null`, nil, "must be a JSON object"},
		{`"x"`, nil, "must be a JSON object"},
		{`{} x`, nil, "more text after the object"},
	} {
		got, msg := parseTenantConfig(tc.text)
		if tc.err == "" {
			if msg != "" || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parse %q = %v, %q; want %v", tc.text, got, msg, tc.want)
			}
			continue
		}
		if got != nil || !strings.Contains(msg, tc.err) {
			t.Errorf("parse %q = %v, %q; want an error with %q", tc.text, got, msg, tc.err)
		}
	}
}

func TestTenantElementDiffModel(t *testing.T) {
	left := map[string]any{"a": 1, "b": map[string]any{"c": "x", "d": true}, "e": []any{1, 2}}
	right := map[string]any{"a": 1, "b": map[string]any{"c": "y", "d": true}, "f": "new"}
	d := tenants.DiffJSON(left, right)
	if !d.Changed() {
		t.Fatalf("no change found")
	}
	var kinds []string
	for _, r := range d.Rows {
		kinds = append(kinds, r.Left.Kind+"/"+r.Right.Kind)
		if r.Left.Kind == tenants.LineSame && r.Left.Text != r.Right.Text {
			t.Errorf("same row with different text: %+v", r)
		}
	}
	// Every line of both sides appears once, in order.
	for side, want := range map[string]string{"left": tenants.PrettyJSON(left), "right": tenants.PrettyJSON(right)} {
		var lines []string
		n := 0
		for _, r := range d.Rows {
			c := r.Left
			if side == "right" {
				c = r.Right
			}
			if c.Kind == tenants.LineEmpty {
				continue
			}
			n++
			if c.Num != n {
				t.Errorf("%s line numbers: got %d, want %d", side, c.Num, n)
			}
			lines = append(lines, c.Text)
		}
		if got := strings.Join(lines, "\n"); got != want {
			t.Errorf("%s side reads\n%s\nwant\n%s", side, got, want)
		}
	}
	if !diffHas(d, `    "c": "x",`, `    "c": "y",`, tenants.LineChanged) {
		t.Errorf("the changed value is not paired: %v", kinds)
	}
	if !diffHas(d, `  "a": 1,`, `  "a": 1,`, tenants.LineSame) {
		t.Errorf("an unchanged line is not aligned: %v", kinds)
	}
	if tenants.DiffJSON(left, left).Changed() {
		t.Errorf("a config differs from itself")
	}
	if got := tenants.PrettyJSON(map[string]any{}); got != "{}" {
		t.Errorf("PrettyJSON({}) = %q", got)
	}
	if got := tenants.PrettyJSON(map[string]any{"h": "<b>&"}); got != "{\n  \"h\": \"<b>&\"\n}" {
		t.Errorf("PrettyJSON escapes HTML: %q", got)
	}
}

func diffHas(d tenants.Diff, left, right, kind string) bool {
	for _, r := range d.Rows {
		if r.Left.Text == left && r.Right.Text == right && r.Left.Kind == kind && r.Right.Kind == kind {
			return true
		}
	}
	return false
}
