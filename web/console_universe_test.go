package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"tenantry/internal/seed"
)

// catalogRows lists the catalog rows as kind/key.
func catalogRows(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, row := range strings.Split(body, `data-testid="universe-row"`)[1:] {
		kind := strings.TrimSpace(between(row, "</a></td><td>", "</td>"))
		key, _ := testID(row, "universe-key")
		out = append(out, kind+"/"+key)
	}
	return out
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}

func TestUniverseRendersReadOnlyForAdminAndSupport(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	total := e.count(t, `SELECT count(*) FROM universe_elements`)
	if total == 0 {
		t.Fatal("the universe catalog is empty")
	}
	for _, who := range []struct {
		email string
		admin bool
	}{{seed.AdminEmail, true}, {seed.SupportEmail, false}} {
		c := e.signedIn(t, who.email)
		r := e.get(t, c, "/universe")
		wantCode(t, r, http.StatusOK)
		checkStrictHTML(t, "GET /universe as "+who.email, r)
		rows := catalogRows(t, r.body)
		if want := min(total, 50); len(rows) != want {
			t.Errorf("%s: %d rows, want %d", who.email, len(rows), want)
		}
		if !slices.Contains(rows, "App/hubspot") || !slices.Contains(rows, "Connector/hubspot") {
			t.Errorf("%s: rows %v lack the HubSpot app and connector", who.email, rows)
		}
		if forms := catPostForms(r.body); len(forms) != 0 {
			t.Errorf("%s: the universe has write forms %v", who.email, forms)
		}
		if strings.Contains(r.body, "hx-post") {
			t.Errorf("%s: the universe list posts somewhere", who.email)
		}

		for _, path := range []string{"/universe/connectors/hubspot", "/universe/connector/hubspot", "/universe/apps/hubspot"} {
			r = e.get(t, c, path)
			wantCode(t, r, http.StatusOK)
			checkStrictHTML(t, path, r)
			if forms := catPostForms(r.body); len(forms) != 0 || strings.Contains(r.body, "hx-post") {
				t.Errorf("%s %s: write forms %v", who.email, path, forms)
			}
			if has := strings.Contains(r.body, `data-testid="use-in-workspace"`); has != (who.admin && !strings.Contains(path, "/apps/")) {
				t.Errorf("%s %s: use-in-workspace shown = %v", who.email, path, has)
			}
		}
		r = e.get(t, c, "/universe/connectors/hubspot")
		wantContains(t, "connector page", r.body, `data-testid="universe-config"`, `&#34;baseUrl&#34;: &#34;https://api.hubapi.com&#34;`,
			`href="/universe/apps/hubspot"`)
		if who.admin {
			wantContains(t, "connector page", r.body, `href="/elements/connectors/new?from=hubspot"`)
		}
		r = e.get(t, c, "/universe/apps/hubspot")
		if got := catalogRows(t, r.body); !slices.Contains(got, "Connector/hubspot") || slices.Contains(got, "App/hubspot") {
			t.Errorf("the app's related elements = %v", got)
		}
	}
	c := e.signedIn(t, seed.SupportEmail)
	wantCode(t, e.get(t, c, "/universe/flows/hubspot"), http.StatusNotFound)
	wantCode(t, e.get(t, c, "/universe/connectors/no-such-connector"), http.StatusNotFound)
	// There is no write route at all: a POST finds nothing.
	if r := e.postForm(t, e.signedIn(t, seed.AdminEmail), "/universe", url.Values{"key": {"x"}}); r.StatusCode < 400 {
		t.Errorf("POST /universe: status %d", r.StatusCode)
	}
}

func TestUniverseFilters(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.signedIn(t, seed.SupportEmail)
	rowsOf := func(path string, headers ...string) []string {
		t.Helper()
		r := e.get(t, c, path, headers...)
		wantCode(t, r, http.StatusOK)
		return catalogRows(t, r.body)
	}
	apps := rowsOf("/universe?kind=app")
	if len(apps) == 0 || len(apps) != e.count(t, `SELECT count(*) FROM universe_elements WHERE kind = 'app'`) {
		t.Errorf("apps = %v", apps)
	}
	for _, r := range apps {
		if !strings.HasPrefix(r, "App/") {
			t.Errorf("kind=app lists %s", r)
		}
	}
	hub := rowsOf("/universe?app=hubspot")
	if want := e.count(t, `SELECT count(*) FROM universe_elements WHERE app_key = 'hubspot' OR (kind = 'app' AND key = 'hubspot')`); len(hub) != want {
		t.Errorf("app=hubspot = %v, want %d rows", hub, want)
	}
	for _, r := range hub {
		if !strings.HasSuffix(r, "/hubspot") && !strings.Contains(r, "Action/") {
			t.Errorf("app=hubspot lists %s", r)
		}
	}
	if got := rowsOf("/universe?app=hubspot&kind=connector"); !slices.Equal(got, []string{"Connector/hubspot"}) {
		t.Errorf("hubspot connectors = %v", got)
	}
	if got := rowsOf("/universe?q=PIPEDRIVE&kind=app"); !slices.Equal(got, []string{"App/pipedrive"}) {
		t.Errorf("search PIPEDRIVE among apps = %v", got)
	}
	if got := rowsOf("/universe?q=zzz-nothing"); len(got) != 0 {
		t.Errorf("search for nothing = %v", got)
	}
	// Unknown kinds fall back to every kind; htmx gets the results alone.
	if got := rowsOf("/universe?kind=flow"); len(got) == 0 {
		t.Errorf("kind=flow (unknown) shows nothing")
	}
	r := e.get(t, c, "/universe?kind=connector", withTarget("universe-results")...)
	if strings.Contains(r.body, "<html") || strings.Contains(r.body, `id="universe-filters"`) {
		t.Errorf("results fragment has the page around it")
	}
	for _, row := range catalogRows(t, r.body) {
		if !strings.HasPrefix(row, "Connector/") {
			t.Errorf("kind=connector fragment lists %s", row)
		}
	}
}
