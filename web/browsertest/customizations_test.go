package browsertest

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// storedOverride is what a tenant's tenant-wide customization of an action stores, read past the
// browser; ok is false when the tenant has no row for it.
func (a *app) storedOverride(t *testing.T, tenantID, key string) (map[string]any, bool) {
	t.Helper()
	var raw []string
	if err := a.db.SQL().Select(&raw, `SELECT config::text FROM elements WHERE workspace_id = $1 AND tenant_id = $2
		AND kind = 'action' AND key = $3 AND connection_id IS NULL`, a.ws.ID, tenantID, key); err != nil {
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

// TestCustomizeActionForOneTenant: on Globex's Customizations tab, customize the list-deals action
// by changing one value in the JSON editor, see the change in the diff, see that Initech still
// gets the template, then reset (after a confirmation) and see "inherited" again.
func TestCustomizeActionForOneTenant(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	b := newBrowser(t, a)
	dialogs := b.acceptDialogs()
	b.signIn(seed.AdminEmail)
	globex, initech := a.tenant(t, "globex"), a.tenant(t, "initech")
	row := `[data-testid="element-actions-list-deals"]`

	// From the tenant's page, through its tabs.
	b.open("/tenants/" + globex.ID.String())
	b.click(`[data-testid="tab-customizations"]`)
	b.waitPath("/tenants/" + globex.ID.String() + "/customizations")
	b.visible(row)
	if got := b.text(row + ` [data-testid="element-status"]`); got != "inherited" {
		t.Errorf("globex's list-deals is %q before any change, want inherited", got)
	}
	for _, k := range tenancy.ElementKinds {
		if !b.exists(`[data-testid="kind-` + k.Plural() + `"]`) {
			t.Errorf("the tab has no section for %s", k.Plural())
		}
	}
	b.screenshot("tenant-customizations")

	// Customize: the editor holds the effective config; change the limit from 100 to 25.
	b.click(row + ` [data-testid="element-open"]`)
	b.waitPath("/tenants/" + globex.ID.String() + "/customizations/actions/list-deals")
	b.visible(`[data-testid="element-config"]`)
	if v := b.value(`[data-testid="element-config"]`); !strings.Contains(v, `"limit": "100"`) {
		t.Fatalf("the editor does not hold the template's config:\n%s", v)
	}
	if !b.exists(`[data-testid="no-changes"]`) {
		t.Errorf("an inherited element shows differences")
	}
	b.markDocument()
	// Select the 100 in the editor and type over it, as a person would.
	if !eval[bool](b, `(() => {
		const ta = document.querySelector('[data-testid="element-config"]');
		const at = ta.value.indexOf('"limit": "100"');
		if (at < 0) return false;
		ta.focus();
		ta.setSelectionRange(at + 10, at + 13);
		return true;
	})()`) {
		t.Fatalf("could not place the cursor on the limit")
	}
	b.keys("25")
	if v := b.value(`[data-testid="element-config"]`); !strings.Contains(v, `"limit": "25"`) {
		t.Fatalf("after typing the editor reads:\n%s", v)
	}
	b.click(`[data-testid="element-save"]`)
	b.waitText(`#tenant-element [data-testid="element-status"]`, "customized")
	b.notReloaded("saving the customization")

	// The diff pairs the template's line with the tenant's, and the changed path is listed.
	if !eval[bool](b, `[...document.querySelectorAll('[data-testid="diff-row"]')].some(r =>
		r.dataset.kind === "changed" &&
		r.querySelector('[data-testid="diff-left"]').textContent.includes('"limit": "100"') &&
		r.querySelector('[data-testid="diff-right"]').textContent.includes('"limit": "25"'))`) {
		t.Errorf("the diff shows no changed row from limit 100 to 25:\n%s", b.outer(`[data-testid="diff-row"]`))
	}
	if got := b.text(`[data-testid="changed-paths"]`); !strings.Contains(got, "config.query.limit") || !strings.Contains(got, `"25"`) {
		t.Errorf("changed paths read %q, want config.query.limit → \"25\"", got)
	}
	if got := b.text(`[data-testid="element-override"]`); !strings.Contains(got, `"limit": "25"`) || strings.Contains(got, "method") {
		t.Errorf("the stored override reads %q, want only the limit", got)
	}
	if got, ok := a.storedOverride(t, globex.ID.String(), "list-deals"); !ok || !reflect.DeepEqual(got, map[string]any{"query": map[string]any{"limit": "25"}}) {
		t.Errorf("the database stores %v (row %v), want only the changed limit", got, ok)
	}
	b.screenshot("tenant-customization-diff")

	// Initech still gets the template.
	b.open("/tenants/" + initech.ID.String() + "/customizations")
	if got := b.text(row + ` [data-testid="element-status"]`); got != "inherited" {
		t.Errorf("initech's list-deals is %q after globex customized it, want inherited", got)
	}
	b.click(row + ` [data-testid="element-open"]`)
	b.visible(`[data-testid="element-config"]`)
	if v := b.value(`[data-testid="element-config"]`); !strings.Contains(v, `"limit": "100"`) {
		t.Errorf("initech's effective config is not the template's:\n%s", v)
	}
	if _, ok := a.storedOverride(t, initech.ID.String(), "list-deals"); ok {
		t.Errorf("customizing globex stored a row for initech")
	}

	// Reset Globex's, after the confirmation.
	b.open("/tenants/" + globex.ID.String() + "/customizations/actions/list-deals")
	b.markDocument()
	b.click(`[data-testid="element-reset"]`)
	b.waitText(`#tenant-element [data-testid="element-status"]`, "inherited")
	b.notReloaded("resetting")
	if got := dialogs(); len(got) != 1 || !strings.Contains(got[0], "Reset List deals for Globex") {
		t.Errorf("reset asked %q: want one question naming the action and the tenant", got)
	}
	b.visible(`[data-testid="no-changes"]`)
	if b.exists(`[data-testid="element-reset"]`) {
		t.Errorf("an inherited element still offers Reset")
	}
	if got, _ := a.storedOverride(t, globex.ID.String(), "list-deals"); len(got) != 0 {
		t.Errorf("after reset the database stores %v, want nothing", got)
	}
	b.click(`[data-testid="back-to-customizations"]`)
	b.waitPath("/tenants/" + globex.ID.String() + "/customizations")
	if got := b.text(row + ` [data-testid="element-status"]`); got != "inherited" {
		t.Errorf("after reset the tab shows %q, want inherited", got)
	}
}

// TestConnectionsTabAfterArchive: disconnect one of Initech's connections on its Connections tab
// (after a confirmation), archive Initech with the tenant page's Archive button, and see its
// connections shown as deactivated.
func TestConnectionsTabAfterArchive(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	initech := a.tenant(t, "initech")
	ctx := context.Background()
	if err := a.db.InScope(ctx, tenancy.SystemScope(a.ws.ID), func(tx *store.Tx) error {
		hubspot, err := tx.Integration(ctx, "hubspot")
		if err != nil {
			return err
		}
		_, err = tx.CreateConnection(ctx, store.NewConnection{TenantID: initech.ID, IntegrationID: hubspot.ID, Name: "Initech HubSpot"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, a)
	dialogs := b.acceptDialogs()
	b.signIn(seed.AdminEmail)
	states := func() map[string]string {
		return eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('[data-testid="connection-row"]')].map(r =>
			[r.querySelector('[data-testid="connection-name"]').textContent.trim(), r.querySelector('[data-testid="connection-state"]').textContent.trim()]))`)
	}

	b.open("/tenants/" + initech.ID.String())
	b.click(`[data-testid="tab-connections"]`)
	b.waitPath("/tenants/" + initech.ID.String() + "/connections")
	b.visible(`[data-testid="connection-row"]`)
	if got, want := states(), map[string]string{"Initech Pipedrive": "READY", "Initech HubSpot": "READY"}; !reflect.DeepEqual(got, want) {
		t.Errorf("connections %v, want %v", got, want)
	}
	b.screenshot("tenant-connections")

	// Disconnect one, confirmed.
	b.click(`[aria-label="Disconnect Initech HubSpot"]`)
	b.waitFor(`[...document.querySelectorAll('[data-testid="connection-row"]')].some(r => r.textContent.includes("Initech HubSpot") && r.textContent.includes("DISCONNECTED"))`,
		"Initech HubSpot to show DISCONNECTED")
	if got := dialogs(); len(got) != 1 || !strings.Contains(got[0], "Disconnect Initech HubSpot?") {
		t.Errorf("disconnect asked %q", got)
	}

	// Archive the tenant on its overview.
	b.click(`[data-testid="tab-overview"]`)
	b.visible(`[data-testid="archive"]`)
	b.click(`[data-testid="archive"]`)
	b.visible(`[data-testid="archived-badge"]`)
	if got := dialogs(); len(got) != 2 || !strings.Contains(got[1], "Initech") {
		t.Errorf("archiving asked %q", got)
	}

	// Its connections are deactivated, and the tab says so.
	b.click(`[data-testid="tab-connections"]`)
	b.waitPath("/tenants/" + initech.ID.String() + "/connections")
	b.visible(`[data-testid="tenant-archived-notice"]`)
	if got, want := states(), map[string]string{"Initech Pipedrive": "deactivated", "Initech HubSpot": "deactivated"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after archiving the tenant the connections are %v, want %v", got, want)
	}
	if b.exists(`[data-testid="connection-disconnect"]`) || b.exists(`#new-connection-integration`) {
		t.Errorf("an archived tenant's tab still offers disconnecting or adding connections")
	}
	if n := b.count(`[data-testid="connection-archive"]`); n != 2 {
		t.Errorf("%d Archive buttons, want one per connection", n)
	}
	b.screenshot("tenant-connections-deactivated")
}
