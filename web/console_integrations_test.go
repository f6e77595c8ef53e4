package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// --- helpers shared by the Integrations, Elements, Universe and Connections tests --------------

// testIDs returns the text of every element with data-testid=id, in page order.
func testIDs(body, id string) []string {
	re := regexp.MustCompile(`data-testid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// catString reads one text value as the connecting superuser.
func (e *testEnv) catString(t *testing.T, q string, args ...any) string {
	t.Helper()
	var s string
	if err := e.db.SQL().GetContext(context.Background(), &s, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

func (e *testEnv) integrationID(t *testing.T, key string) string {
	t.Helper()
	return e.catString(t, `SELECT id::text FROM integrations WHERE workspace_id = $1 AND key = $2`, e.ws.ID, key)
}

// inWorkspace runs fn in a workspace-wide system scope: fixtures through the store.
func (e *testEnv) inWorkspace(t *testing.T, fn func(ctx context.Context, tx *store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

// postForms lists the actions of the page's POST forms, sign-out aside.
var catPostFormRE = regexp.MustCompile(`<form[^>]*method="post"[^>]*action="([^"]*)"`)

func catPostForms(body string) []string {
	var out []string
	for _, m := range catPostFormRE.FindAllStringSubmatch(body, -1) {
		if m[1] != "/signout" {
			out = append(out, m[1])
		}
	}
	return out
}

// --- Integrations ------------------------------------------------------------------------------

func TestIntegrationPagesRenderForAdminAndSupport(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	hubspot := e.integrationID(t, "hubspot")
	for _, who := range []struct {
		email string
		admin bool
	}{{seed.AdminEmail, true}, {seed.SupportEmail, false}} {
		c := e.signedIn(t, who.email)
		r := e.get(t, c, "/integrations")
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "GET /integrations as "+who.email, r)
		if got := testIDs(r.body, "integration-key"); !slices.Equal(got, []string{"hubspot", "salesforce", "pipedrive"}) {
			t.Errorf("%s: integrations = %v", who.email, got)
		}
		wantContains(t, "list", r.body, `aria-current="page" class="rounded px-3 py-1.5 text-sm font-medium bg-accent-50 text-accent-700">Integrations<`,
			`hx-push-url="true"`, `data-search`)
		if has := strings.Contains(r.body, `data-testid="new-integration"`); has != who.admin {
			t.Errorf("%s: new-integration button shown = %v", who.email, has)
		}

		r = e.get(t, c, "/integrations/"+hubspot)
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "GET /integrations/{id} as "+who.email, r)
		if n, _ := testID(r.body, "integration-name"); n != "HubSpot" {
			t.Errorf("integration-name = %q", n)
		}
		if n, _ := testID(r.body, "integration-connections"); n != "2 connections" {
			t.Errorf("integration-connections = %q, want 2 connections (acme and globex)", n)
		}
		wantContains(t, "integration page", r.body, `/connections?integration=hubspot`, `>List deals</a>`, `>Sync deals</a>`,
			`>HubSpot connector</a>`, `href="/elements/actions?integration=hubspot"`)
		forms := catPostForms(r.body)
		if who.admin && !slices.Contains(forms, "/integrations/"+hubspot) {
			t.Errorf("admin: no edit form in %v", forms)
		}
		if !who.admin && len(forms) > 0 {
			t.Errorf("support: write forms %v", forms)
		}
	}
	// By key too; an unknown one is a 404 page.
	c := e.signedIn(t, seed.SupportEmail)
	wantCode(t, e.get(t, c, "/integrations/pipedrive"), http.StatusOK)
	wantCode(t, e.get(t, c, "/integrations/no-such-thing"), http.StatusNotFound)
}

func TestIntegrationListFilters(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)

	r := e.get(t, c, "/integrations?q=SALES")
	wantCode(t, r, http.StatusOK)
	if got := testIDs(r.body, "integration-key"); !slices.Equal(got, []string{"salesforce"}) {
		t.Errorf("search SALES = %v", got)
	}
	if tag := inputTag(r.body, "integration-search"); !strings.Contains(tag, `value="SALES"`) {
		t.Errorf("search box does not keep the search: %s", tag)
	}
	r = e.get(t, c, "/integrations?q=nothing-like-it")
	wantContains(t, "no match", r.body, `data-testid="integrations-empty"`)

	e.exec(t, `UPDATE integrations SET archived_at = now() WHERE workspace_id = $1 AND key = 'pipedrive'`, e.ws.ID)
	if got := testIDs(e.get(t, c, "/integrations").body, "integration-key"); !slices.Equal(got, []string{"hubspot", "salesforce"}) {
		t.Errorf("default list (archived left out) = %v", got)
	}
	r = e.get(t, c, "/integrations?archived=1")
	if got := testIDs(r.body, "integration-key"); !slices.Equal(got, []string{"hubspot", "salesforce", "pipedrive"}) {
		t.Errorf("with archived = %v", got)
	}
	wantContains(t, "with archived", r.body, `data-testid="archived-badge"`)

	// htmx asks for the results alone.
	r = e.get(t, c, "/integrations?q=hub", withTarget("integration-results")...)
	wantCode(t, r, http.StatusOK)
	if strings.Contains(r.body, "<html") || strings.Contains(r.body, `id="integration-filters"`) {
		t.Errorf("results fragment has the page around it:\n%s", r.body)
	}
	if got := testIDs(r.body, "integration-key"); !slices.Equal(got, []string{"hubspot"}) {
		t.Errorf("fragment rows = %v", got)
	}
	// A mangled cursor starts over at the first page.
	r = e.get(t, c, "/integrations?cursor=garbage")
	wantCode(t, r, http.StatusOK)
	wantContains(t, "bad cursor", r.body, "That page link is no longer valid")
}

func TestIntegrationCreateEditArchive(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.AdminEmail)
	countIntegrations := func() int {
		return e.count(t, `SELECT count(*) FROM integrations WHERE workspace_id = $1`, e.ws.ID)
	}

	// Invalid: every problem at its input, nothing written.
	bad := url.Values{"key": {"not a key"}, "name": {"X"}, "baseUrl": {"ftp://example.com"}, "logoUri": {"nope"}, "authType": {"magic"}}
	r := e.postForm(t, c, "/integrations", bad)
	wantCode(t, r, http.StatusUnprocessableEntity)
	for _, id := range []string{"new-key-error", "new-base-url-error", "new-logo-error", "new-auth-type-error"} {
		if msg, ok := testID(r.body, id); !ok || msg == "" {
			t.Errorf("no inline error %s", id)
		}
	}
	if msg, _ := testID(r.body, "new-base-url-error"); !strings.HasPrefix(msg, "Base URL must be an http or https URL") {
		t.Errorf("base URL error = %q", msg)
	}
	wantContains(t, "refused create", r.body, `<dialog id="new-integration" class="dialog" aria-labelledby="new-integration-form-title" open`, `value="not a key"`)
	if n := countIntegrations(); n != 3 {
		t.Fatalf("integrations after refused create = %d, want 3", n)
	}
	// The same through htmx: the form alone, 200, an error toast.
	r = e.postForm(t, c, "/integrations", bad, hxHeaders...)
	fragment(t, "htmx refused create", r, `<form id="new-integration-form"`)
	if level, _ := toastOf(t, r); level != "error" {
		t.Errorf("toast level = %q", level)
	}
	// A duplicate key is a conflict.
	r = e.postForm(t, c, "/integrations", url.Values{"key": {"hubspot"}, "authType": {"none"}})
	wantCode(t, r, http.StatusConflict)
	if msg, _ := testID(r.body, "new-key-error"); !strings.Contains(msg, "already exists") {
		t.Errorf("duplicate key error = %q", msg)
	}
	if n := countIntegrations(); n != 3 {
		t.Fatalf("integrations after refused creates = %d, want 3", n)
	}

	// Valid.
	r = e.postForm(t, c, "/integrations", url.Values{"key": {"zendesk"}, "name": {"Zendesk"}, "baseUrl": {"https://x.zendesk.com/api/v2"},
		"logoUri": {"https://example.com/z.svg"}, "authType": {"basic"}})
	id := e.integrationID(t, "zendesk")
	wantRedirect(t, r, "/integrations/"+id)
	if got := e.catString(t, `SELECT name || '|' || base_url || '|' || logo_uri || '|' || auth_type FROM integrations WHERE id = $1`, id); got != "Zendesk|https://x.zendesk.com/api/v2|https://example.com/z.svg|basic" {
		t.Errorf("stored = %q", got)
	}
	r = e.get(t, c, "/integrations/"+id)
	if n, _ := testID(r.body, "notice"); n != "Integration created." {
		t.Errorf("notice after create = %q", n)
	}
	if n := e.count(t, `SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = 'integration.created' AND integration_id = $2`, e.ws.ID, id); n != 1 {
		t.Errorf("activity integration.created = %d", n)
	}
	// htmx create redirects with HX-Redirect.
	r = e.postForm(t, c, "/integrations", url.Values{"key": {"jira"}, "authType": {"bearer"}}, hxHeaders...)
	wantCode(t, r, http.StatusOK)
	if got := r.Header.Get("HX-Redirect"); got != "/integrations/"+e.integrationID(t, "jira") {
		t.Errorf("HX-Redirect = %q", got)
	}

	// Edit: invalid leaves the row alone; valid replaces it.
	r = e.postForm(t, c, "/integrations/"+id, url.Values{"key": {"zendesk"}, "name": {"Zendesk 2"}, "baseUrl": {"javascript:alert(1)"}, "authType": {"basic"}})
	wantCode(t, r, http.StatusUnprocessableEntity)
	if msg, _ := testID(r.body, "edit-base-url-error"); !strings.Contains(msg, "http or https") {
		t.Errorf("edit base URL error = %q", msg)
	}
	wantContains(t, "refused edit keeps what was typed", r.body, `value="Zendesk 2"`)
	if got := e.catString(t, `SELECT name FROM integrations WHERE id = $1`, id); got != "Zendesk" {
		t.Errorf("name after refused edit = %q", got)
	}
	r = e.postForm(t, c, "/integrations/"+id, url.Values{"key": {"zendesk-support"}, "name": {"Zendesk Support"}, "authType": {"api-key-header"}})
	wantRedirect(t, r, "/integrations/"+id)
	if got := e.catString(t, `SELECT key || '|' || name || '|' || base_url || '|' || auth_type FROM integrations WHERE id = $1`, id); got != "zendesk-support|Zendesk Support||api-key-header" {
		t.Errorf("after edit = %q", got)
	}
	// Through htmx the page comes back with a toast.
	r = e.postForm(t, c, "/integrations/"+id, url.Values{"key": {"zendesk-support"}, "name": {"ZS"}, "authType": {"bearer"}}, hxHeaders...)
	fragment(t, "htmx edit", r, `<div id="integration-page">`)
	if level, msg := toastOf(t, r); level != "success" || !strings.Contains(msg, "saved") {
		t.Errorf("toast = %s %q", level, msg)
	}

	// Archive and restore.
	r = e.postForm(t, c, "/integrations/"+id+"/archive", nil)
	wantRedirect(t, r, "/integrations/"+id)
	if n := e.count(t, `SELECT count(*) FROM integrations WHERE id = $1 AND archived_at IS NOT NULL`, id); n != 1 {
		t.Errorf("not archived")
	}
	r = e.get(t, c, "/integrations/"+id)
	wantContains(t, "archived page", r.body, `data-testid="archived-badge"`, `data-testid="restore"`)
	if !slices.Contains(catPostForms(e.get(t, c, "/integrations").body), "/integrations") {
		t.Errorf("list lost its create form")
	}
	r = e.postForm(t, c, "/integrations/"+id+"/restore", nil, hxHeaders...)
	fragment(t, "htmx restore", r, `<div id="integration-page">`)
	if n := e.count(t, `SELECT count(*) FROM integrations WHERE id = $1 AND archived_at IS NULL`, id); n != 1 {
		t.Errorf("not restored")
	}
}

func TestIntegrationWritesForbiddenToSupport(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	id := e.integrationID(t, "hubspot")
	before := e.catString(t, `SELECT row_to_json(i)::text FROM integrations i WHERE id = $1`, id)
	for _, path := range []string{"/integrations", "/integrations/" + id, "/integrations/" + id + "/archive", "/integrations/" + id + "/restore"} {
		r := e.postForm(t, c, path, url.Values{"key": {"support-made"}, "name": {"Nope"}, "authType": {"none"}})
		wantCode(t, r, http.StatusForbidden)
	}
	if n := e.count(t, `SELECT count(*) FROM integrations WHERE workspace_id = $1`, e.ws.ID); n != 3 {
		t.Errorf("integrations = %d, want 3", n)
	}
	if after := e.catString(t, `SELECT row_to_json(i)::text FROM integrations i WHERE id = $1`, id); after != before {
		t.Errorf("integration changed by support:\n%s\n%s", before, after)
	}
}
