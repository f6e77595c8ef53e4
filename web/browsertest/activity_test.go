package browsertest

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// record writes an activity entry through the store's recorder as the tenant's token would, and
// returns its id.
func (a *app) record(t *testing.T, tenant *tenancy.Tenant, typ, status, message string) string {
	t.Helper()
	ctx := context.Background()
	err := a.db.InScope(ctx, tenancy.TenantScope(a.ws.ID, tenant.ID), func(tx *store.Tx) error {
		return tx.Record(ctx, store.Activity{Type: typ, Status: status, Message: message, Details: map[string]any{"attempt": 1}})
	})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	if err := a.db.SQL().Get(&id, `SELECT id::text FROM activity_log WHERE workspace_id = $1 AND message = $2`, a.ws.ID, message); err != nil {
		t.Fatal(err)
	}
	return id
}

// activityIDs lists, newest first, the ids of the workspace's entries for tenant with status.
func (a *app) activityIDs(t *testing.T, tenant *tenancy.Tenant, status string) []string {
	t.Helper()
	var ids []string
	if err := a.db.SQL().Select(&ids, `SELECT id::text FROM activity_log WHERE workspace_id = $1 AND tenant_id = $2 AND status = $3
		ORDER BY created_at DESC, id DESC`, a.ws.ID, tenant.ID, status); err != nil {
		t.Fatal(err)
	}
	return ids
}

// rowIDs are the ids of the rows the Activity list shows, in order.
func (b *browser) rowIDs() []string {
	b.t.Helper()
	return eval[[]string](b, `[...document.querySelectorAll('[data-testid="activity-row"]')].map(r => r.dataset.id)`)
}

// TestActivityFilterOpenExportLive: on the Activity page, pick a tenant with the keyboard from the
// type-ahead, tick "error", open an entry in the panel, download the filtered set (its link carries
// the filters and gives those rows), and go live: an entry written meanwhile appears at the top.
func TestActivityFilterOpenExportLive(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	acme, globex := a.tenant(t, "acme"), a.tenant(t, "globex")
	for i := 0; i < 3; i++ {
		a.record(t, acme, "action.run", "error", fmt.Sprintf("acme list-deals failed #%d", i))
		a.record(t, acme, "action.run", "success", fmt.Sprintf("acme list-deals ran #%d", i))
		a.record(t, globex, "action.run", "error", fmt.Sprintf("globex list-deals failed #%d", i))
	}
	b := newBrowser(t, a)
	b.signIn(seed.AdminEmail)

	b.click(`nav[aria-label="Console"] a[href="/activity"]`)
	b.waitPath("/activity")
	b.visible(`[data-testid="activity-row"]`)
	b.screenshot("activity")
	b.markDocument()

	// The tenant, from the type-ahead, by keyboard: type, Tab to the match, Enter.
	b.click(`[data-testid="activity-tenant-search"]`)
	b.keys("acm")
	b.visible(`[data-testid="activity-tenant-option"]`)
	if n := b.count(`[data-testid="activity-tenant-option"]`); n != 1 {
		t.Errorf("%d tenants suggested for acm, want 1", n)
	}
	b.keys("\t")
	b.waitFor(`document.activeElement && document.activeElement.dataset.testid === "activity-tenant-option"`, "Tab to reach the match")
	b.keys("\r")
	b.waitFor(`new URLSearchParams(location.search).get("tenant") === `+strconv.Quote(acme.ID.String()), "the URL to hold the tenant")
	b.waitText(`[data-testid="activity-tenant-chosen"]`, "Acme Corp")
	b.waitFor(`[...document.querySelectorAll('[data-testid="activity-tenant-name"]')].every(e => e.textContent.trim() === "Acme Corp")`,
		"every row to be Acme's")

	// The status.
	b.click(`[data-testid="activity-status-error"]`)
	b.waitFor(`new URLSearchParams(location.search).get("status") === "error"`, "the URL to hold status=error")
	want := a.activityIDs(t, acme, "error")
	b.waitFor(fmt.Sprintf(`document.querySelectorAll('[data-testid="activity-row"]').length === %d`, len(want)), "the list to narrow")
	if got := b.rowIDs(); !slices.Equal(got, want) {
		t.Errorf("rows %v, want acme's errors %v", got, want)
	}
	b.notReloaded("filtering")
	if u := b.location(); u.Query().Get("tenant") != acme.ID.String() || u.Query().Get("status") != "error" {
		t.Errorf("location %s lost a filter", u)
	}

	// Open the newest entry: the panel shows it, with its details, and takes the focus.
	b.click(`[data-testid="activity-row"] [data-testid="activity-open"]`)
	b.waitText(`[data-testid="activity-detail-message"]`, "acme list-deals failed #2")
	if got := b.text(`[data-testid="activity-detail-id"]`); got != want[0] {
		t.Errorf("the panel shows %s, want %s", got, want[0])
	}
	if got := b.text(`[data-testid="activity-detail-json"]`); !strings.Contains(got, `"attempt": 1`) {
		t.Errorf("details %q", got)
	}
	b.waitFor(`document.activeElement && document.activeElement.id === "activity-detail-title"`, "the panel to take the focus")
	b.notReloaded("opening an entry")
	b.waitFor(`!document.querySelector(".htmx-added, .htmx-settling, .htmx-swapping")`, "htmx to settle")
	b.screenshot("activity-detail")

	// Export: the link carries the filters, and fetching it gives exactly those rows.
	for _, format := range []string{"csv", "ndjson"} {
		href := eval[string](b, `document.querySelector('[data-testid="activity-export-`+format+`"]').href`)
		u, err := url.Parse(href)
		if err != nil {
			t.Fatal(err)
		}
		if u.Path != "/activity/export."+format || u.Query().Get("tenant") != acme.ID.String() || u.Query().Get("status") != "error" {
			t.Errorf("%s export link %s does not carry the filters", format, href)
		}
		body := evalAwait[string](b, `fetch(`+strconv.Quote(href)+`, {credentials: "same-origin"}).then(r => r.text())`)
		var ids []string
		for i, line := range strings.Split(strings.TrimSpace(body), "\n") {
			if format == "csv" && i == 0 {
				continue // the header
			}
			id, _, _ := strings.Cut(strings.TrimPrefix(line, `{"id":"`), map[string]string{"csv": ",", "ndjson": `"`}[format])
			ids = append(ids, id)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s export has %v, want %v\n%s", format, ids, want, body)
		}
	}

	// Live mode: the stream connects, and an entry written now appears at the top; others do not.
	eval[bool](b, `(window.__sseOpen = false, document.body.addEventListener("htmx:sseOpen", () => { window.__sseOpen = true }), true)`)
	b.click(`[data-testid="activity-live-toggle"]`)
	b.visible(`[data-testid="activity-live-on"]`)
	b.waitFor(`new URLSearchParams(location.search).get("live") === "1"`, "the URL to hold live=1")
	b.waitFor(`window.__sseOpen === true`, "the live stream to connect")
	a.record(t, globex, "action.run", "error", "globex failed while live")
	fresh := a.record(t, acme, "action.run", "error", "acme failed while live")
	b.waitFor(`(() => { const r = document.querySelector('[data-testid="activity-row"]'); return r && r.dataset.id === `+strconv.Quote(fresh)+`; })()`,
		"the new entry at the top")
	if got := b.text(`[data-testid="activity-row"] [data-testid="activity-message"]`); got != "acme failed while live" {
		t.Errorf("the top row reads %q", got)
	}
	if n := b.count(`[data-testid="activity-row"]`); n != len(want)+1 {
		t.Errorf("%d rows after the live entry, want %d (the globex one must not appear)", n, len(want)+1)
	}
	b.notReloaded("going live")
	// The new row opens like the others.
	b.click(`[data-testid="activity-row"] [data-testid="activity-open"]`)
	b.waitText(`[data-testid="activity-detail-message"]`, "acme failed while live")
	b.waitFor(`!document.querySelector(".htmx-added, .htmx-settling, .htmx-swapping")`, "htmx to settle")
	b.screenshot("activity-live")

	// The tenant's Activity tab is the same view, fixed to the tenant.
	b.open("/tenants/" + acme.ID.String())
	b.click(`[data-testid="tab-activity"]`)
	b.waitPath("/tenants/" + acme.ID.String() + "/activity")
	b.visible(`[data-testid="activity-row"]`)
	if b.exists(`[data-testid="activity-tenant-search"]`) {
		t.Error("the tenant's tab offers a tenant filter")
	}
	b.waitFor(`[...document.querySelectorAll('[data-testid="activity-tenant-name"]')].every(e => e.textContent.trim() === "Acme Corp")`,
		"every row of the tab to be Acme's")
}
