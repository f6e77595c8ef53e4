package browsertest

import (
	"strings"
	"testing"

	"tenantry/internal/seed"
)

// TestSearchAndOpenTenant: "/" focuses the search, typing filters the list in place (htmx, URL
// pushed), a result opens the tenant, and Back returns to the filtered list.
func TestSearchAndOpenTenant(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	b := newBrowser(t, a)
	b.signIn(seed.AdminEmail)

	// Through the navigation, as a person gets there.
	b.click(`nav[aria-label="Console"] a[href="/tenants"]`)
	b.visible(`[data-testid="tenant-search"]`)
	b.waitPath("/tenants")
	if got := b.text(`#tenant-results [data-testid="tenant-count"]`); got != "12 tenants" {
		t.Errorf("tenant list count %q, want %q", got, "12 tenants")
	}
	if n := b.count(`[data-testid="tenant-row"]`); n != 12 {
		t.Errorf("tenant list shows %d rows, want 12", n)
	}
	b.screenshot("tenants")

	// "/" focuses the search box (and is not typed into it).
	b.markDocument()
	b.press("/", "Slash", 191)
	b.waitFor(`document.activeElement && document.activeElement.id === "tenant-search"`, "/ to focus the search box")
	b.keys("glob")
	b.waitFor(`new URLSearchParams(location.search).get("q") === "glob"`, "the URL to hold q=glob (hx-push-url)")
	b.waitFor(`document.querySelectorAll('[data-testid="tenant-row"]').length === 1`, "the list to narrow to one tenant")
	b.notReloaded("searching")
	if got := b.value(`[data-testid="tenant-search"]`); got != "glob" {
		t.Errorf("search box holds %q, want %q", got, "glob")
	}
	if got := b.text(`[data-testid="tenant-row"]`); !strings.Contains(got, "Globex") || !strings.Contains(got, "globex") {
		t.Errorf("the one result reads %q, want Globex (globex)", got)
	}
	if got := b.text(`#tenant-results [data-testid="tenant-count"]`); got != "1 tenant" {
		t.Errorf("filtered count %q, want %q", got, "1 tenant")
	}

	// Open it.
	b.click(`[data-testid="tenant-row"] a`)
	b.waitText(`[data-testid="tenant-internal-id"]`, "globex")
	if got := b.text(`[data-testid="tenant-name"]`); got != "Globex" {
		t.Errorf("tenant page title %q, want Globex", got)
	}
	globex := a.tenant(t, "globex")
	if got := b.text(`[data-testid="tenant-id"]`); got != globex.ID.String() {
		t.Errorf("tenant page id %q, want %s", got, globex.ID)
	}
	if u := b.location(); u.Path != "/tenants/"+globex.ID.String() {
		t.Errorf("tenant page URL %s, want /tenants/%s", u, globex.ID)
	}
	if b.exists(`[data-testid="archived-badge"]`) {
		t.Errorf("an active tenant shows the Archived badge")
	}
	b.screenshot("tenant")

	// Back: the filtered list again, search box included.
	b.must(chromedpBack(b), "history.back()")
	b.waitPath("/tenants")
	b.waitFor(`document.querySelectorAll('[data-testid="tenant-row"]').length === 1`, "Back to show the filtered list")
	if q := b.location().Query().Get("q"); q != "glob" {
		t.Errorf("after Back the URL's q is %q, want glob", q)
	}
	if got := b.text(`[data-testid="tenant-row"]`); !strings.Contains(got, "Globex") {
		t.Errorf("after Back the list shows %q, want Globex", got)
	}
	if got := b.value(`[data-testid="tenant-search"]`); got != "glob" {
		t.Errorf("after Back the search box holds %q, want %q (the list is filtered by it)", got, "glob")
	}
}

// TestCreateTenant: a duplicate internalId is refused inline in the New tenant dialog and
// creates nothing; a new one lands on its page.
func TestCreateTenant(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	b := newBrowser(t, a)
	b.signIn(seed.AdminEmail)
	b.open("/tenants")

	b.click(`[data-testid="new-tenant"]`)
	b.visible(`dialog#new-tenant #new-internal-id`)
	if !eval[bool](b, `document.getElementById("new-tenant").open`) {
		t.Fatalf("the New tenant dialog did not open")
	}

	// Duplicate: the error sits at the internalId input; nothing is created.
	b.typeInto("#new-internal-id", "acme")
	b.typeInto("#new-name", "Second Acme")
	b.click(`#new-tenant-form button[type="submit"]`)
	b.visible(`[data-testid="new-internal-id-error"]`)
	msg := b.text(`[data-testid="new-internal-id-error"]`)
	if !strings.Contains(strings.ToLower(msg), "already") && !strings.Contains(strings.ToLower(msg), "exists") && !strings.Contains(strings.ToLower(msg), "taken") {
		t.Errorf("duplicate internalId error %q does not say the id is taken", msg)
	}
	// Next to its input: in the same field block, and announced with it.
	if !eval[bool](b, `(() => {
		const i = document.getElementById("new-internal-id"), e = document.querySelector('[data-testid="new-internal-id-error"]');
		return i.parentElement === e.parentElement && i.getAttribute("aria-invalid") === "true" &&
			(i.getAttribute("aria-describedby") || "").split(" ").includes(e.id);
	})()`) {
		t.Errorf("the duplicate error is not tied to the internalId input (same block, aria-invalid, aria-describedby)")
	}
	if got := b.value("#new-internal-id"); got != "acme" {
		t.Errorf("after the error the internalId input holds %q, want what was typed", got)
	}
	if got := b.value("#new-name"); got != "Second Acme" {
		t.Errorf("after the error the name input holds %q, want what was typed", got)
	}
	if !eval[bool](b, `document.getElementById("new-tenant").open`) {
		t.Errorf("the dialog closed on a refused create")
	}
	if got := eval[string](b, `document.activeElement ? document.activeElement.id : ""`); got != "new-internal-id" {
		t.Errorf("after the error the focus is on %q, want the internalId input", got)
	}
	if got := b.text(`#tenant-results [data-testid="tenant-count"]`); got != "12 tenants" {
		t.Errorf("list count after a refused create %q, want 12 tenants", got)
	}
	if n := a.tenantCount(t); n != 12 {
		t.Errorf("a refused create changed the tenant count to %d", n)
	}

	// A new internalId: created, and the browser lands on its page.
	b.clear("#new-internal-id")
	b.typeInto("#new-internal-id", "initrode")
	b.clear("#new-name")
	b.typeInto("#new-name", "Initrode\n") // Enter submits
	b.waitText(`[data-testid="tenant-internal-id"]`, "initrode")
	if got := b.text(`[data-testid="tenant-name"]`); got != "Initrode" {
		t.Errorf("new tenant page title %q, want Initrode", got)
	}
	created := a.tenant(t, "initrode")
	if u := b.location(); u.Path != "/tenants/"+created.ID.String() {
		t.Errorf("after create the URL is %s, want /tenants/%s", u, created.ID)
	}
	if n := a.tenantCount(t); n != 13 {
		t.Errorf("tenant count after create %d, want 13", n)
	}
}

// TestArchiveRestore: archiving asks first (and says what happens to connections), then shows
// the Archived badge; restoring removes it.
func TestArchiveRestore(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	b := newBrowser(t, a)
	dialogs := b.acceptDialogs()
	b.signIn(seed.AdminEmail)
	initech := a.tenant(t, "initech")
	b.open("/tenants/" + initech.ID.String())
	b.visible(`[data-testid="archive"]`)
	if b.exists(`[data-testid="archived-badge"]`) {
		t.Fatalf("initech shows Archived before it is archived")
	}

	b.click(`[data-testid="archive"]`)
	b.visible(`[data-testid="archived-badge"]`)
	if got := dialogs(); len(got) != 1 || !strings.Contains(got[0], "Initech") || !strings.Contains(got[0], "connection") {
		t.Errorf("archive confirmation %q: want one question naming Initech and its connections", got)
	}
	if got := b.text(`[data-testid="archived-badge"]`); got != "Archived" {
		t.Errorf("badge %q, want Archived", got)
	}
	b.visible(`[data-testid="restore"]`)
	if b.exists(`[data-testid="archive"]`) {
		t.Errorf("an archived tenant still offers Archive")
	}
	if a.tenant(t, "initech").ArchivedAt == nil {
		t.Errorf("the page says archived, the database does not")
	}
	b.screenshot("tenant-archived")

	b.click(`[data-testid="restore"]`)
	b.gone(`[data-testid="archived-badge"]`)
	b.visible(`[data-testid="archive"]`)
	if a.tenant(t, "initech").ArchivedAt != nil {
		t.Errorf("the page says restored, the database does not")
	}
	if got := dialogs(); len(got) != 1 {
		t.Errorf("restoring asked %d more questions: %q", len(got)-1, got)
	}
	// A full reload agrees.
	b.open("/tenants/" + initech.ID.String())
	b.visible(`[data-testid="archive"]`)
	if b.exists(`[data-testid="archived-badge"]`) {
		t.Errorf("after a reload the restored tenant shows Archived")
	}
}
