package browsertest

import (
	"context"
	"strings"
	"testing"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// TestSchemaFieldOnTenant: an admin defines a required integer field (minimum 1) under
// Settings > General; it appears in every tenant's Fields form; an invalid value is refused
// inline and not stored, a valid one saves.
func TestSchemaFieldOnTenant(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	b := newBrowser(t, a)
	b.signIn(seed.AdminEmail)

	b.click(`nav[aria-label="Console"] a[href="/settings/general"]`)
	b.visible(`[data-testid="schema-editor"]`)
	b.waitPath("/settings/general")
	b.visible(`[data-testid="schema-empty"]`)

	// Add a field: the editor grows a row and puts the focus on its key.
	b.click(`[data-testid="schema-add"]`)
	b.visible("#fields-0-key")
	b.waitFor(`document.activeElement && document.activeElement.id === "fields-0-key"`, "Add field to focus the new key input")
	b.typeInto("#fields-0-key", "seats")
	b.typeInto("#fields-0-title", "Seats")
	b.selectOption("#fields-0-type", "integer")
	b.typeInto("#fields-0-description", "Licensed seats.")
	b.click("#fields-0-required")
	if !eval[bool](b, `document.querySelector('[data-testid="schema-extras-0"]').open`) {
		b.click(`[data-testid="schema-extras-0"] > summary`) // "Options and limits"
	}
	b.typeInto("#fields-0-minimum", "1")
	// The live preview shows the tenant form as it will be.
	b.waitFor(`(() => { const i = document.querySelector('#schema-preview [data-testid="tenant-field-seats"] input');
		return i && i.type === "number" && i.required && i.min === "1"; })()`, "the preview to show a required number input, minimum 1")
	b.click(`[data-testid="schema-save"]`)
	b.waitFor(`[...document.querySelectorAll(".toast")].some(t => t.textContent.includes("schema saved"))`, "the saved toast")
	if b.exists(`[data-testid="schema-errors"]`) {
		t.Fatalf("saving the schema showed errors: %s", b.text(`[data-testid="schema-errors"]`))
	}

	// A reload shows what was saved.
	b.open("/settings/general")
	b.visible("#fields-0-key")
	if got := b.value("#fields-0-key"); got != "seats" {
		t.Errorf("saved schema: key %q, want seats", got)
	}
	if got := b.value("#fields-0-type"); got != "integer" {
		t.Errorf("saved schema: type %q, want integer", got)
	}
	if got := b.value("#fields-0-minimum"); got != "1" {
		t.Errorf("saved schema: minimum %q, want 1", got)
	}
	if !eval[bool](b, `document.getElementById("fields-0-required").checked`) {
		t.Errorf("saved schema: required is not checked")
	}
	b.screenshot("settings-general")

	// Members, for the record (admins only).
	b.click(`[data-testid="settings-nav-Members"]`)
	b.visible(`[data-testid="members-table"]`)
	b.waitPath("/settings/members")
	for _, email := range []string{seed.AdminEmail, seed.SupportEmail} {
		if !b.exists(`[data-testid="member-` + email + `"]`) {
			t.Errorf("members list lacks %s", email)
		}
	}
	b.screenshot("members")

	// The field on a tenant's page, with the value the tenant already had.
	acme := a.tenant(t, "acme")
	path := "/tenants/" + acme.ID.String()
	b.open(path)
	b.visible(`[data-testid="field-seats"] #field-seats`)
	if got := b.value("#field-seats"); got != "250" {
		t.Errorf("acme's seats input holds %q, want 250", got)
	}
	if got := b.text(`[data-testid="field-seats"] label`); !strings.Contains(got, "Seats") || !strings.Contains(got, "*") {
		t.Errorf("seats label %q: want the title and the required mark", got)
	}
	if got := b.text(`[data-testid="unschema-notice"]`); !strings.Contains(got, "2 fields") {
		t.Errorf("notice about fields without a schema %q: want 2 (plan, region)", got)
	}
	save := `#tenant-fields-form button[type="submit"]`

	// "0": the browser's own check stops it (min=1), nothing is sent.
	b.clear("#field-seats")
	b.typeInto("#field-seats", "0")
	before := b.requestsSoFar()
	b.click(save)
	if !eval[bool](b, `document.getElementById("field-seats").validity.rangeUnderflow`) {
		t.Errorf("seats 0: the browser does not flag it below the minimum")
	}
	for _, r := range b.requestsSince(before) {
		if strings.HasPrefix(r, "POST ") {
			t.Errorf("seats 0 was sent despite failing the browser's check: %s", r)
		}
	}

	// "-3" from a browser that does not check (noValidate): the server refuses it at the field.
	eval[bool](b, `(document.getElementById("tenant-fields-form").noValidate = true)`)
	b.clear("#field-seats")
	b.typeInto("#field-seats", "-3")
	b.click(save)
	b.visible(`[data-testid="field-error-seats"]`)
	if got := b.text(`[data-testid="field-error-seats"]`); got == "" {
		t.Errorf("the seats error is empty")
	}
	if !eval[bool](b, `(() => {
		const i = document.getElementById("field-seats"), e = document.querySelector('[data-testid="field-error-seats"]');
		return i.closest('[data-testid="field-seats"]') === e.closest('[data-testid="field-seats"]') &&
			i.getAttribute("aria-invalid") === "true" && (i.getAttribute("aria-describedby") || "").split(" ").includes(e.id);
	})()`) {
		t.Errorf("the seats error is not tied to its input (same row, aria-invalid, aria-describedby)")
	}
	if got := b.value("#field-seats"); got != "-3" {
		t.Errorf("after the error the input holds %q, want what was typed (-3)", got)
	}
	if got := a.tenant(t, "acme").Fields["seats"]; got != float64(250) {
		t.Errorf("a refused value was stored: seats = %v", got)
	}
	b.open(path)
	b.visible("#field-seats")
	if got := b.value("#field-seats"); got != "250" {
		t.Errorf("after a refused save and a reload seats shows %q, want 250", got)
	}

	// A valid value saves.
	b.clear("#field-seats")
	b.typeInto("#field-seats", "300")
	b.click(save)
	b.waitFor(`[...document.querySelectorAll(".toast")].some(t => t.textContent.includes("Fields saved"))`, "the saved toast")
	if b.exists(`[data-testid="field-error-seats"]`) {
		t.Errorf("a valid value shows an error: %s", b.text(`[data-testid="field-error-seats"]`))
	}
	if got := a.tenant(t, "acme").Fields["seats"]; got != float64(300) {
		t.Errorf("seats stored as %v, want 300", got)
	}
	b.open(path)
	b.visible("#field-seats")
	if got := b.value("#field-seats"); got != "300" {
		t.Errorf("after saving and a reload seats shows %q, want 300", got)
	}
}

// TestSupportReadOnly: a support manager sees every page but no control that changes anything,
// and the server refuses a write they forge anyway.
func TestSupportReadOnly(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	// A schema with a sensitive field, so that there is something to reveal and to edit.
	err := a.db.InScope(context.Background(), tenancy.SystemScope(a.ws.ID), func(tx *store.Tx) error {
		schema, err := tenancy.BuildFieldSchema([]tenancy.FieldDraft{
			{Key: "seats", Title: "Seats", Type: "integer", Minimum: "1", Required: true},
			{Key: "plan", Title: "Plan", Type: "string", Sensitive: true},
		})
		if err != nil {
			return err
		}
		return tx.SaveTenantFieldSchema(context.Background(), schema)
	})
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	b := newBrowser(t, a)
	b.signIn(seed.SupportEmail)
	if got := b.text(`[data-testid="manager-role"]`); got != "support" {
		t.Errorf("header role %q, want support", got)
	}

	// What would change data, anywhere in the page's main part.
	const writeControls = `#main form[method="post" i], #main [hx-post], #main [hx-put], #main [hx-patch], #main [hx-delete], ` +
		`#main [formmethod="post" i], #main [data-open-dialog]`

	// Tenants: no New tenant.
	b.open("/tenants")
	b.visible(`[data-testid="tenant-search"]`)
	if b.exists(`[data-testid="new-tenant"]`) || b.exists("dialog#new-tenant") {
		t.Errorf("support sees the New tenant button or dialog")
	}
	if n := b.count(writeControls); n != 0 {
		t.Errorf("/tenants: support sees %d controls that post: %s", n, b.outer(writeControls))
	}

	// A tenant: fields read-only, sensitive masked with no Reveal, no Archive, no forms.
	acme := a.tenant(t, "acme")
	b.open("/tenants/" + acme.ID.String())
	b.visible(`[data-testid="tenant-internal-id"]`)
	for _, id := range []string{"archive", "restore", "reveal"} {
		if b.exists(`[data-testid="` + id + `"]`) {
			t.Errorf("tenant page: support sees %q", id)
		}
	}
	if n := b.count(writeControls); n != 0 {
		t.Errorf("tenant page: support sees %d controls that post: %s", n, b.outer(writeControls))
	}
	if n := b.count(`#main input:not([type="hidden"]), #main select, #main textarea`); n != 0 {
		t.Errorf("tenant page: support sees %d inputs: %s", n, b.outer(`#main input:not([type="hidden"]), #main select, #main textarea`))
	}
	if got := b.text(`dt[data-testid="field-seats"] + dd`); got != "250" {
		t.Errorf("tenant page: support reads seats %q, want 250", got)
	}
	if !b.exists(`[data-testid="masked"]`) {
		t.Errorf("tenant page: the sensitive plan is not shown masked")
	}
	if strings.Contains(b.text("#main"), "enterprise") {
		t.Errorf("tenant page: support sees the sensitive plan's value")
	}
	b.screenshot("tenant-support")

	// The server refuses the write a support manager forges anyway.
	status := evalAwait[int](b, `fetch(location.pathname + "/archive", {method: "POST",
		headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "confirmed=yes"}).then(r => r.status)`)
	if status != 403 {
		t.Errorf("a forged archive by support answered %d, want 403", status)
	}
	if a.tenant(t, "acme").ArchivedAt != nil {
		t.Errorf("a forged archive by support archived the tenant")
	}

	// Settings > General: read-only, nothing to save or rotate.
	b.open("/settings/general")
	b.visible(`[data-testid="read-only-notice"]`)
	for _, id := range []string{"save-name", "rotate-secret", "schema-editor", "schema-add", "schema-save", "save-limits", "save-origins"} {
		if b.exists(`[data-testid="` + id + `"]`) {
			t.Errorf("settings: support sees %q", id)
		}
	}
	if n := b.count(writeControls); n != 0 {
		t.Errorf("settings: support sees %d controls that post: %s", n, b.outer(writeControls))
	}
	if b.exists(`[data-testid="settings-nav-Members"]`) {
		t.Errorf("settings: support sees the Members link")
	}
	if !b.exists(`[data-testid="schema-table"]`) {
		t.Errorf("settings: support does not see the schema (read-only table)")
	}
	b.screenshot("settings-general-support")

	// Members: refused.
	if st := b.openStatus("/settings/members"); st != 403 {
		t.Errorf("/settings/members for support: status %d, want 403", st)
	}
	b.visible(`[data-testid="problem"]`)
	if got := b.text(`[data-testid="problem"]`); !strings.Contains(got, "Forbidden") {
		t.Errorf("/settings/members for support shows %q, want the 403 page", got)
	}
	if b.exists(`[data-testid="members-table"]`) {
		t.Errorf("/settings/members for support shows the members")
	}
}
