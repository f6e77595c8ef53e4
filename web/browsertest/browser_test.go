package browsertest

import (
	"testing"

	"tenantry/internal/seed"
)

// TestSignIn: sign in through the form (Enter submits), see the workspace at a glance, get a
// wrong password refused, sign out.
func TestSignIn(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	b := newBrowser(t, a)

	// Signed out, the Console sends you to the sign-in page, and back afterwards.
	b.open("/")
	b.visible("#email")
	if u := b.location(); u.Path != "/signin" || u.Query().Get("next") != "/" {
		t.Errorf("signed out, / went to %s; want /signin?next=/", u)
	}
	if got := eval[string](b, "document.activeElement && document.activeElement.id"); got != "email" {
		t.Errorf("sign-in page: focus on %q, want the email input (autofocus)", got)
	}
	b.screenshot("signin")

	// A wrong password: the error, the email kept, still signed out.
	b.typeInto("#email", seed.AdminEmail)
	b.typeInto("#password", "not-the-password\n")
	b.waitText(`[data-testid="signin-error"]`, "do not match")
	if got := b.value("#email"); got != seed.AdminEmail {
		t.Errorf("after a wrong password the email input holds %q, want %q", got, seed.AdminEmail)
	}
	if got := b.value("#password"); got != "" {
		t.Errorf("after a wrong password the password input still holds %q", got)
	}
	if n := b.count(`[data-testid="home-title"]`); n != 0 {
		t.Errorf("a wrong password showed the home page")
	}

	// The right one, Enter in the password field: home shows the workspace and its 12 tenants.
	b.typeInto("#password", seed.DemoPassword+"\n")
	b.visible(`[data-testid="home-title"]`)
	if u := b.location(); u.Path != "/" {
		t.Errorf("after sign-in the location is %s, want /", u)
	}
	if got := b.text(`[data-testid="home-title"]`); got != "Demo Workspace" {
		t.Errorf("home title %q, want the workspace name %q", got, "Demo Workspace")
	}
	if got := b.text(`[data-testid="workspace-name"]`); got != "Demo Workspace" {
		t.Errorf("header workspace name %q, want %q", got, "Demo Workspace")
	}
	if got := b.text(`[data-testid="tenant-count"]`); got != "12" {
		t.Errorf("home tenant count %q, want 12", got)
	}
	if got := b.text(`[data-testid="manager-email"]`); got != seed.AdminEmail {
		t.Errorf("header manager %q, want %q", got, seed.AdminEmail)
	}
	if got := b.text(`[data-testid="manager-role"]`); got != "admin" {
		t.Errorf("header role %q, want admin", got)
	}
	if got := b.text(`[data-testid="workspace-key"]`); got != seed.WorkspaceKey {
		t.Errorf("home workspace key %q, want %q", got, seed.WorkspaceKey)
	}
	b.screenshot("home")

	// Sign out: back on the sign-in page, and the session is gone.
	b.click(`form[action="/signout"] button[type="submit"]`)
	b.visible("#email")
	b.waitPath("/signin")
	b.open("/")
	b.visible("#email")
	if u := b.location(); u.Path != "/signin" {
		t.Errorf("after signing out, / went to %s; want the sign-in page", u)
	}
}
