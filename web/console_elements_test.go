package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

func (e *testEnv) elementID(t *testing.T, kind, key string) string {
	t.Helper()
	return e.catString(t, `SELECT id::text FROM elements WHERE workspace_id = $1 AND kind = $2 AND key = $3 AND tenant_id IS NULL`, e.ws.ID, kind, key)
}

// elementConfig reads a template's stored config.
func (e *testEnv) elementConfig(t *testing.T, id string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(e.catString(t, `SELECT config::text FROM elements WHERE id = $1`, id)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *testEnv) countTemplates(t *testing.T) int {
	t.Helper()
	return e.count(t, `SELECT count(*) FROM elements WHERE workspace_id = $1 AND tenant_id IS NULL`, e.ws.ID)
}

func TestElementPagesRenderForAdminAndSupport(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	listDeals := e.elementID(t, "action", "list-deals")
	seeded := map[string]string{"connectors": "hubspot-connector", "actions": "list-deals", "flows": "sync-deals",
		"data-sources": "contacts", "field-mappings": "contact-fields"}
	for _, who := range []struct {
		email string
		admin bool
	}{{seed.AdminEmail, true}, {seed.SupportEmail, false}} {
		c := e.signedIn(t, who.email)
		wantRedirect(t, e.get(t, c, "/elements"), "/elements/connectors")
		for plural, key := range seeded {
			r := e.get(t, c, "/elements/"+plural)
			wantCode(t, r, http.StatusOK)
			checkStrictHTML(t, "GET /elements/"+plural+" as "+who.email, r)
			if got := testIDs(r.body, "element-key"); !slices.Contains(got, key) {
				t.Errorf("%s %s: keys %v lack %s", who.email, plural, got, key)
			}
			wantContains(t, plural, r.body, `data-testid="elements-nav"`, `aria-current="page" class="subnav-link subnav-link-active"`,
				`hx-target="#element-results"`, `hx-push-url="true"`)
			if has := strings.Contains(r.body, `data-testid="new-element"`); has != who.admin {
				t.Errorf("%s: new-element shown = %v", who.email, has)
			}
		}
		if got := testIDs(e.get(t, c, "/elements/actions").body, "element-key"); !slices.Equal(got, []string{"list-deals", "create-contact"}) {
			t.Errorf("actions = %v", got)
		}

		// The template's page: config in force and stored, and acme's customization of it.
		r := e.get(t, c, "/elements/actions/"+listDeals)
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "element page as "+who.email, r)
		wantContains(t, "element page", r.body, `data-testid="effective-config"`, `&#34;path&#34;: &#34;/crm/v3/objects/deals&#34;`,
			`data-testid="stored-config"`, `>Acme Corp</a>`, `>Customized</span>`, `href="/tenants/`+e.tenant(t, "acme").ID.String()+`"`)
		if n := strings.Count(r.body, `data-testid="customization-row"`); n != 1 {
			t.Errorf("customization rows = %d, want 1 (acme)", n)
		}
		forms := catPostForms(r.body)
		if who.admin && !slices.Equal(forms, []string{"/elements/actions/" + listDeals + "/archive", "/elements/actions/" + listDeals}) {
			t.Errorf("admin forms = %v", forms)
		}
		if !who.admin && len(forms) != 0 {
			t.Errorf("support forms = %v", forms)
		}
		// By key as well as by id.
		wantCode(t, e.get(t, c, "/elements/actions/list-deals"), http.StatusOK)
	}
	c := e.signedIn(t, seed.AdminEmail)
	wantCode(t, e.get(t, c, "/elements/gadgets"), http.StatusNotFound)
	wantCode(t, e.get(t, c, "/elements/apps"), http.StatusNotFound)
	wantCode(t, e.get(t, c, "/elements/flows/list-deals"), http.StatusNotFound) // an action, not a flow
	r := e.get(t, c, "/elements/actions/new")
	wantCode(t, r, http.StatusOK)
	checkStrictHTML(t, "new action", r)
	wantContains(t, "new action form", r.body, `<form id="element-form" method="post" action="/elements/actions"`, `name="type"`, `name="config"`)
	if r := e.get(t, c, "/elements/flows/new"); strings.Contains(r.body, `name="type"`) {
		t.Errorf("flows have no type, but the form asks for one")
	}
}

func TestElementListFilters(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	e.inWorkspace(t, func(ctx context.Context, tx *store.Tx) error {
		sf, err := tx.Integration(ctx, "salesforce")
		if err != nil {
			return err
		}
		_, err = tx.CreateElement(ctx, store.ElementInput{Kind: tenancy.KindAction, Key: "sf-accounts", Name: "List accounts",
			IntegrationID: sf.ID, Type: "http-request", Config: map[string]any{"method": "GET", "path": "/accounts"}})
		return err
	})
	keys := func(path string, headers ...string) []string {
		t.Helper()
		r := e.get(t, c, path, headers...)
		wantCode(t, r, http.StatusOK)
		return testIDs(r.body, "element-key")
	}
	if got := keys("/elements/actions"); !slices.Equal(got, []string{"list-deals", "create-contact", "sf-accounts"}) {
		t.Errorf("all actions = %v", got)
	}
	if got := keys("/elements/actions?integration=salesforce"); !slices.Equal(got, []string{"sf-accounts"}) {
		t.Errorf("salesforce actions = %v", got)
	}
	if got := keys("/elements/actions?integration=hubspot"); !slices.Equal(got, []string{"list-deals", "create-contact"}) {
		t.Errorf("hubspot actions = %v", got)
	}
	if got := keys("/elements/actions?q=CONTACT"); !slices.Equal(got, []string{"create-contact"}) {
		t.Errorf("search CONTACT = %v", got)
	}
	if got := keys("/elements/actions?q=accounts&integration=hubspot"); len(got) != 0 {
		t.Errorf("search and filter together = %v", got)
	}
	r := e.get(t, c, "/elements/actions?integration=nope")
	wantContains(t, "unknown integration", r.body, `There is no integration with the key &#34;nope&#34;.`, `data-testid="elements-empty"`)
	if sel := inputTag(r.body, "filter-integration"); sel == "" {
		t.Errorf("no integration filter")
	}
	wantContains(t, "filter keeps its value", e.get(t, c, "/elements/actions?integration=salesforce").body, `<option value="salesforce" selected>`)

	// Archived elements only on request.
	e.exec(t, `UPDATE elements SET archived_at = now() WHERE workspace_id = $1 AND key = 'create-contact'`, e.ws.ID)
	if got := keys("/elements/actions"); !slices.Equal(got, []string{"list-deals", "sf-accounts"}) {
		t.Errorf("without archived = %v", got)
	}
	if got := keys("/elements/actions?archived=1"); !slices.Equal(got, []string{"list-deals", "create-contact", "sf-accounts"}) {
		t.Errorf("with archived = %v", got)
	}
	// htmx gets the results alone.
	r = e.get(t, c, "/elements/actions?integration=salesforce", withTarget("element-results")...)
	if strings.Contains(r.body, "<html") || strings.Contains(r.body, `id="element-filters"`) {
		t.Errorf("results fragment has the page around it")
	}
	if got := testIDs(r.body, "element-key"); !slices.Equal(got, []string{"sf-accounts"}) {
		t.Errorf("fragment = %v", got)
	}
}

func TestElementCreateEditArchive(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	hubspot := e.integrationID(t, "hubspot")
	before := e.countTemplates(t)

	form := func(key, config string) url.Values {
		return url.Values{"key": {key}, "name": {"Get owner"}, "description": {"Reads one owner"}, "integrationId": {hubspot},
			"type": {"http-request"}, "config": {config}}
	}

	// JSON that does not parse: said beside the textarea, with where; nothing written.
	r := e.postForm(t, c, "/elements/actions", form("get-owner", "{\"method\": \"GET\",\n \"path\": }"))
	wantCode(t, r, http.StatusUnprocessableEntity)
	wantContains(t, "bad JSON", r.body, `data-testid="element-config-errors"`, `config: is not valid JSON`, `(line 2, column`,
		`aria-invalid="true"`, `&#34;path&#34;: }</textarea>`)
	if n := e.countTemplates(t); n != before {
		t.Fatalf("templates after bad JSON = %d, want %d", n, before)
	}
	// Not an object.
	r = e.postForm(t, c, "/elements/actions", form("get-owner", `[1, 2]`))
	wantCode(t, r, http.StatusUnprocessableEntity)
	wantContains(t, "array config", r.body, `config: must be a JSON object`)
	// What the schema refuses, by path; other problems at their inputs, all at once.
	r = e.postForm(t, c, "/elements/actions", form("get owner!", `{"method": "FETCH", "path": "/owners/1", "colour": "red"}`))
	wantCode(t, r, http.StatusUnprocessableEntity)
	wantContains(t, "schema problems", r.body, `<li>config.method: `, `data-testid="element-key-error"`)
	if msg, _ := testID(r.body, "element-key-error"); !strings.HasPrefix(msg, "Key must be") {
		t.Errorf("key error = %q", msg)
	}
	if !strings.Contains(r.body, "colour") {
		t.Errorf("the unknown key is not named:\n%s", r.body)
	}
	// An integration that is not the workspace's, and bad JSON, with the key's problem too.
	bad := form("bad key", "{")
	bad.Set("integrationId", "0190aaaa-0000-7000-8000-000000000000")
	r = e.postForm(t, c, "/elements/actions", bad)
	wantCode(t, r, http.StatusUnprocessableEntity)
	for _, id := range []string{"element-integration-error", "element-key-error"} {
		if _, ok := testID(r.body, id); !ok {
			t.Errorf("no %s", id)
		}
	}
	// Through htmx: the form alone, 200, error toast.
	r = e.postForm(t, c, "/elements/actions", form("get-owner", `{"method": "FETCH", "path": "/x"}`), hxHeaders...)
	fragment(t, "htmx refused create", r, `<form id="element-form"`)
	if level, _ := toastOf(t, r); level != "error" {
		t.Errorf("toast level %q", level)
	}
	if n := e.countTemplates(t); n != before {
		t.Fatalf("templates after refused creates = %d, want %d", n, before)
	}
	// A duplicate key is a conflict.
	r = e.postForm(t, c, "/elements/actions", form("list-deals", `{"method": "GET", "path": "/x"}`))
	wantCode(t, r, http.StatusConflict)
	if msg, _ := testID(r.body, "element-key-error"); !strings.Contains(msg, "already exists") {
		t.Errorf("duplicate key error = %q", msg)
	}

	// Valid.
	r = e.postForm(t, c, "/elements/actions", form("get-owner", `{"method": "GET", "path": "/crm/v3/owners/{{input.id}}", "credits": 2}`))
	id := e.elementID(t, "action", "get-owner")
	wantRedirect(t, r, "/elements/actions/"+id)
	if got := e.catString(t, `SELECT name || '|' || description || '|' || type || '|' || integration_id::text FROM elements WHERE id = $1`, id); got != "Get owner|Reads one owner|http-request|"+hubspot {
		t.Errorf("stored = %q", got)
	}
	if got, want := e.elementConfig(t, id), map[string]any{"method": "GET", "path": "/crm/v3/owners/{{input.id}}", "credits": 2.0}; !reflect.DeepEqual(got, want) {
		t.Errorf("config = %v, want %v", got, want)
	}
	r = e.get(t, c, "/elements/actions/"+id)
	if n, _ := testID(r.body, "notice"); n != "Element created." {
		t.Errorf("notice = %q", n)
	}
	if n := e.count(t, `SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = 'action.created' AND element_id = $2`, e.ws.ID, id); n != 1 {
		t.Errorf("activity action.created = %d", n)
	}

	// Edit: a schema problem leaves it alone and keeps what was typed.
	edit := form("get-owner", `{"method": "GET", "path": "/owners", "timeoutSeconds": 600}`)
	r = e.postForm(t, c, "/elements/actions/"+id, edit)
	wantCode(t, r, http.StatusUnprocessableEntity)
	wantContains(t, "refused edit", r.body, `<li>config.timeoutSeconds: `, `&#34;timeoutSeconds&#34;: 600}</textarea>`)
	if got := e.elementConfig(t, id)["path"]; got != "/crm/v3/owners/{{input.id}}" {
		t.Errorf("path after refused edit = %v", got)
	}
	// htmx: the whole element page comes back, with the problems.
	r = e.postForm(t, c, "/elements/actions/"+id, edit, hxHeaders...)
	fragment(t, "htmx refused edit", r, `<div id="element-page">`)
	wantContains(t, "htmx refused edit", r.body, `config.timeoutSeconds`)
	// Valid edit: without an integration, with a new config.
	edit = form("get-owner", `{"method": "POST", "path": "/owners/search"}`)
	edit.Set("integrationId", "")
	edit.Set("name", "Search owners")
	r = e.postForm(t, c, "/elements/actions/"+id, edit)
	wantRedirect(t, r, "/elements/actions/"+id)
	if got := e.catString(t, `SELECT name || '|' || coalesce(integration_id::text, 'none') FROM elements WHERE id = $1`, id); got != "Search owners|none" {
		t.Errorf("after edit = %q", got)
	}
	if got, want := e.elementConfig(t, id), map[string]any{"method": "POST", "path": "/owners/search"}; !reflect.DeepEqual(got, want) {
		t.Errorf("config after edit = %v", got)
	}
	r = e.postForm(t, c, "/elements/actions/"+id, edit, hxHeaders...)
	fragment(t, "htmx edit", r, `<div id="element-page">`)
	if level, _ := toastOf(t, r); level != "success" {
		t.Errorf("toast level %q", level)
	}

	// Archive and restore.
	wantRedirect(t, e.postForm(t, c, "/elements/actions/"+id+"/archive", nil), "/elements/actions/"+id)
	if n := e.count(t, `SELECT count(*) FROM elements WHERE id = $1 AND archived_at IS NOT NULL`, id); n != 1 {
		t.Errorf("not archived")
	}
	if got := testIDs(e.get(t, c, "/elements/actions").body, "element-key"); slices.Contains(got, "get-owner") {
		t.Errorf("archived element still listed: %v", got)
	}
	r = e.postForm(t, c, "/elements/actions/"+id+"/restore", nil, hxHeaders...)
	fragment(t, "htmx restore", r, `<div id="element-page">`)
	if n := e.count(t, `SELECT count(*) FROM elements WHERE id = $1 AND archived_at IS NULL`, id); n != 1 {
		t.Errorf("not restored")
	}
}

func TestElementFromUniverse(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	r := e.get(t, c, "/elements/connectors/new?from=hubspot")
	wantCode(t, r, http.StatusOK)
	wantContains(t, "form from the universe", r.body, `data-testid="element-parent"`, `name="universalParentId"`, `value="hubspot"`)
	wantCode(t, e.get(t, c, "/elements/connectors/new?from=no-such-app"), http.StatusNotFound)

	uid := e.catString(t, `SELECT id::text FROM universe_elements WHERE kind = 'connector' AND key = 'hubspot'`)
	r = e.postForm(t, c, "/elements/connectors", url.Values{"key": {"hubspot-public"}, "universalParentId": {uid},
		"config": {`{"apiKeyHeader": "X-Key"}`}})
	id := e.elementID(t, "connector", "hubspot-public")
	wantRedirect(t, r, "/elements/connectors/"+id)
	if got := e.catString(t, `SELECT universal_parent_id::text FROM elements WHERE id = $1`, id); got != uid {
		t.Errorf("universal parent = %q, want %q", got, uid)
	}
	r = e.get(t, c, "/elements/connectors/"+id)
	wantContains(t, "page of an element built on the universe", r.body, `href="/universe/connectors/hubspot"`,
		`&#34;baseUrl&#34;: &#34;https://api.hubapi.com&#34;`, `&#34;apiKeyHeader&#34;: &#34;X-Key&#34;`, `data-testid="parent-config"`)
	// Editing keeps the parent.
	r = e.postForm(t, c, "/elements/connectors/"+id, url.Values{"key": {"hubspot-public"}, "config": {`{}`}})
	wantRedirect(t, r, "/elements/connectors/"+id)
	if got := e.catString(t, `SELECT universal_parent_id::text FROM elements WHERE id = $1`, id); got != uid {
		t.Errorf("universal parent after edit = %q", got)
	}
}

func TestElementWritesForbiddenToSupport(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	id := e.elementID(t, "action", "list-deals")
	before := e.catString(t, `SELECT row_to_json(x)::text FROM elements x WHERE id = $1`, id)
	n := e.countTemplates(t)
	valid := url.Values{"key": {"support-made"}, "type": {"http-request"}, "config": {`{"method": "GET", "path": "/x"}`}}
	for _, path := range []string{"/elements/actions", "/elements/actions/" + id, "/elements/actions/" + id + "/archive", "/elements/actions/" + id + "/restore"} {
		wantCode(t, e.postForm(t, c, path, valid), http.StatusForbidden)
		wantCode(t, e.postForm(t, c, path, valid, hxHeaders...), http.StatusForbidden)
	}
	wantCode(t, e.get(t, c, "/elements/actions/new"), http.StatusForbidden)
	if got := e.countTemplates(t); got != n {
		t.Errorf("templates = %d, want %d", got, n)
	}
	if after := e.catString(t, `SELECT row_to_json(x)::text FROM elements x WHERE id = $1`, id); after != before {
		t.Errorf("element changed by support")
	}
}
