package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/auth"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// htmx marks a request as htmx sends it (a fragment request).
var htmx = []string{"HX-Request", "true"}

// --- helpers -----------------------------------------------------------------------------------

// adminClient signs in as the demo admin (once per test: bcrypt is slow on purpose).
func (e *testEnv) adminClient(t *testing.T) *http.Client {
	t.Helper()
	c := e.client(t)
	e.mustSignIn(t, c, seed.AdminEmail)
	return c
}

// managerID returns the id of the manager with email.
func (e *testEnv) managerID(t *testing.T, email string) uuid.UUID {
	t.Helper()
	m, _, err := e.db.LookupManagerByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("lookup %s: %v", email, err)
	}
	return m.ID
}

// workspaceRow returns the demo workspace's stored state, read past row-level security, so a
// test can say "nothing changed".
func (e *testEnv) workspaceRow(t *testing.T) string {
	t.Helper()
	var s string
	err := e.db.SQL().GetContext(context.Background(), &s, `SELECT concat_ws('|', name, settings::text,
		tenant_field_schema::text, encode(secret_enc, 'hex'), updated_at::text) FROM workspaces WHERE id = $1`, e.ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *testEnv) storedSchema(t *testing.T) tenancy.FieldSchema {
	t.Helper()
	var b []byte
	if err := e.db.SQL().GetContext(context.Background(), &b, `SELECT tenant_field_schema FROM workspaces WHERE id = $1`, e.ws.ID); err != nil {
		t.Fatal(err)
	}
	var s tenancy.FieldSchema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *testEnv) storedSettings(t *testing.T) tenancy.Settings {
	t.Helper()
	var b []byte
	if err := e.db.SQL().GetContext(context.Background(), &b, `SELECT settings FROM workspaces WHERE id = $1`, e.ws.ID); err != nil {
		t.Fatal(err)
	}
	var s tenancy.Settings
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// settingsActivity is one workspace-level activity entry.
type settingsActivity struct {
	Type     string     `db:"type"`
	Actor    string     `db:"actor_type"`
	ActorID  string     `db:"actor_id"`
	TenantID *uuid.UUID `db:"tenant_id"`
	Details  string     `db:"details"`
}

// activityOf returns the demo workspace's entries of type typ, oldest first.
func (e *testEnv) activityOf(t *testing.T, typ string) []settingsActivity {
	t.Helper()
	var rows []settingsActivity
	err := e.db.SQL().SelectContext(context.Background(), &rows, `SELECT type, actor_type, actor_id, tenant_id, details::text AS details
		FROM activity_log WHERE workspace_id = $1 AND type = $2 ORDER BY created_at, id`, e.ws.ID, typ)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// wantActivity fails unless there are n entries of type typ, the newest by actor and without a
// tenant, and returns the newest's details.
func (e *testEnv) wantActivity(t *testing.T, typ string, n int, actor uuid.UUID) map[string]any {
	t.Helper()
	rows := e.activityOf(t, typ)
	if len(rows) != n {
		t.Fatalf("%d %s entries, want %d", len(rows), typ, n)
	}
	if n == 0 {
		return nil
	}
	a := rows[n-1]
	if a.Actor != "manager" || a.ActorID != actor.String() || a.TenantID != nil {
		t.Errorf("%s entry by %s %s for tenant %v; want manager %s and no tenant", typ, a.Actor, a.ActorID, a.TenantID, actor)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(a.Details), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// control returns the opening tag of the input, select or textarea named name, or "".
func control(body, name string) string {
	re := regexp.MustCompile(`<(?:input|select|textarea)\b[^>]*\bname="` + regexp.QuoteMeta(html.EscapeString(name)) + `"[^>]*>`)
	return re.FindString(body)
}

// wantInvalid fails unless the named input is marked invalid, described by its error, and the
// error's text contains msg.
func wantInvalid(t *testing.T, body, name, msg string) {
	t.Helper()
	tag := control(body, name)
	if tag == "" {
		t.Fatalf("no input named %s in:\n%s", name, body)
	}
	errID := strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(name) + "-error"
	if !strings.Contains(tag, `aria-invalid="true"`) || !strings.Contains(tag, errID) {
		t.Errorf("input %s is not marked invalid / described by %s: %s", name, errID, tag)
	}
	got, ok := testID(body, "error-"+name)
	if !ok || !strings.Contains(html.UnescapeString(got), msg) {
		t.Errorf("error for %s = %q (found %v), want it to contain %q", name, got, ok, msg)
	}
}

// wantFocus fails unless the named input has autofocus, and no other element does.
func wantFocus(t *testing.T, body, name string) {
	t.Helper()
	if tag := control(body, name); !regexp.MustCompile(`\sautofocus[\s>/]`).MatchString(tag) {
		t.Errorf("input %s has no autofocus: %s", name, tag)
	}
	if n := len(regexp.MustCompile(`\sautofocus[\s>/=]`).FindAllString(body, -1)); n != 1 {
		t.Errorf("%d elements have autofocus, want 1", n)
	}
}

// wantLabels fails unless every input, select and textarea has an id and a label for it.
func wantLabels(t *testing.T, body string) {
	t.Helper()
	for _, tag := range regexp.MustCompile(`<(?:input|select|textarea)\b[^>]*>`).FindAllString(body, -1) {
		if strings.Contains(tag, `type="hidden"`) {
			continue
		}
		m := regexp.MustCompile(`\bid="([^"]+)"`).FindStringSubmatch(tag)
		if m == nil {
			t.Errorf("input without an id (so without a label): %s", tag)
			continue
		}
		if !strings.Contains(body, `for="`+m[1]+`"`) {
			t.Errorf("input #%s has no label", m[1])
		}
	}
}

// wantToast fails unless the response asks for a toast of level containing text.
func wantToast(t *testing.T, r result, level, text string) {
	t.Helper()
	var trig struct {
		ShowToast struct{ Level, Message string } `json:"showToast"`
	}
	if err := json.Unmarshal([]byte(r.Header.Get("HX-Trigger")), &trig); err != nil {
		t.Fatalf("HX-Trigger %q: %v", r.Header.Get("HX-Trigger"), err)
	}
	if trig.ShowToast.Level != level || !strings.Contains(trig.ShowToast.Message, text) {
		t.Errorf("toast %+v, want %s containing %q", trig.ShowToast, level, text)
	}
}

func wantStatus(t *testing.T, r result, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
}

// schemaForm is the editor's form for fields, in order.
func schemaForm(fields ...tenancy.FieldDraft) url.Values {
	f := url.Values{}
	for i, d := range fields {
		p := fmt.Sprintf("fields[%d].", i)
		for name, v := range map[string]string{"key": d.Key, "title": d.Title, "type": d.Type, "format": d.Format,
			"description": d.Description, "default": d.Default, "enum": d.Options, "minimum": d.Minimum,
			"maximum": d.Maximum, "minLength": d.MinLength, "maxLength": d.MaxLength, "order": strconv.Itoa(i + 1)} {
			f.Set(p+name, v)
		}
		for name, on := range map[string]bool{"required": d.Required, "sensitive": d.Sensitive, "choices": d.Choices} {
			if on {
				f.Set(p+name, "true")
			}
		}
	}
	return f
}

// --- Settings > General ------------------------------------------------------------------------

func TestSettingsGeneralPage(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)

	r := e.get(t, c, "/settings/general")
	wantStatus(t, r, http.StatusOK)
	checkStrictHTML(t, "settings general", r)
	for _, want := range []string{
		`data-testid="settings-workspace-key">demo<`, `data-copy="demo"`, `action="/settings/general"`,
		`action="/settings/secret/rotate"`, `hx-confirm="Rotate the workspace secret?`, `id="schema"`,
		`data-testid="schema-editor"`, `id="schema-preview"`, `action="/settings/limits"`, `action="/settings/origins"`,
		`data-testid="settings-nav-Members"`, `data-testid="secret-rotated-at"`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("settings page lacks %s", want)
		}
	}
	// The secret itself is never on the page.
	wa, err := e.db.LookupWorkspaceByKey(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.body, string(wa.Secret)) {
		t.Fatal("the settings page shows the workspace secret")
	}
	wantLabels(t, r.body)
	// An htmx request for the page gets the body alone.
	r = e.get(t, c, "/settings/general", htmx...)
	if strings.Contains(r.body, "<html") || !strings.Contains(r.body, `id="schema"`) {
		t.Errorf("htmx GET: want the body fragment, got:\n%.300s", r.body)
	}
}

func TestSettingsRename(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	admin := e.managerID(t, seed.AdminEmail)

	// Without JavaScript: 303 back, the page shows the new name (and so does the header).
	r := e.postForm(t, c, "/settings/general", url.Values{"name": {"  Acme Integrations  "}})
	wantRedirect(t, r, "/settings/general#workspace")
	r = e.get(t, c, "/settings/general")
	if got, _ := testID(r.body, "workspace-name"); got != "Acme Integrations" {
		t.Errorf("header workspace name = %q", got)
	}
	d := e.wantActivity(t, "settings.updated", 1, admin)
	if !reflect.DeepEqual(d["to"], map[string]any{"name": "Acme Integrations"}) || !reflect.DeepEqual(d["from"], map[string]any{"name": "Demo Workspace"}) {
		t.Errorf("details = %v", d)
	}

	// htmx: the section comes back, with an out-of-band update of the header and a toast.
	r = e.postForm(t, c, "/settings/general", url.Values{"name": {"Acme"}}, htmx...)
	wantStatus(t, r, http.StatusOK)
	wantToast(t, r, "success", "name saved")
	if !strings.HasPrefix(strings.TrimSpace(r.body), `<section id="workspace"`) || !strings.Contains(r.body, `hx-swap-oob="innerHTML:[data-testid='workspace-name']">Acme</span>`) {
		t.Errorf("htmx rename response:\n%s", r.body)
	}
	e.wantActivity(t, "settings.updated", 2, admin)
	// The form it replaced had the focus: it goes to the new form's button.
	if !regexp.MustCompile(`<button[^>]*data-testid="save-name"[^>]*autofocus`).MatchString(r.body) {
		t.Error("after an htmx rename, the focus is lost")
	}

	// Problems: 422 with the page, inline; htmx gets 200 so that it swaps them in.
	before := e.workspaceRow(t)
	r = e.postForm(t, c, "/settings/general", url.Values{"name": {"   "}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	checkStrictHTML(t, "rename problem", r)
	wantInvalid(t, r.body, "name", "is required")
	wantFocus(t, r.body, "name")
	r = e.postForm(t, c, "/settings/general", url.Values{"name": {strings.Repeat("n", 201)}}, htmx...)
	wantStatus(t, r, http.StatusOK)
	wantToast(t, r, "error", "not saved")
	wantInvalid(t, r.body, "name", "at most 200")
	if e.workspaceRow(t) != before {
		t.Error("a refused rename changed the workspace")
	}
	e.wantActivity(t, "settings.updated", 2, admin)
}

func TestSettingsRotateSecret(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	ctx := context.Background()
	wa, err := e.db.LookupWorkspaceByKey(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	callAPI := func(secret string) int {
		t.Helper()
		tok, err := auth.Sign([]byte(secret), "demo", "acme", "", false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/self", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		return do(t, http.DefaultClient, req).StatusCode
	}
	oldSecret := string(wa.Secret)
	// The API caches the workspace's secrets now; the rotation must make it forget them.
	if got := callAPI(oldSecret); got != http.StatusOK {
		t.Fatalf("API with the current secret: %d", got)
	}

	r := e.postForm(t, c, "/settings/secret/rotate", url.Values{}, htmx...)
	wantStatus(t, r, http.StatusOK)
	wantToast(t, r, "success", "Secret rotated")
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	secret, ok := testID(r.body, "new-secret")
	if !ok || len(secret) < 32 || secret == oldSecret {
		t.Fatalf("rotation response shows no new secret:\n%s", r.body)
	}
	if !strings.Contains(r.body, "The previous secret keeps verifying tokens until") || !strings.Contains(r.body, `data-copy="`+secret+`"`) {
		t.Errorf("rotation response lacks the overlap or the copy button:\n%s", r.body)
	}
	now, _ := e.db.LookupWorkspaceByKey(ctx, "demo")
	if string(now.Secret) != secret {
		t.Fatal("the secret shown is not the stored one")
	}
	if d := time.Until(*now.Workspace.PrevSecretExpiresAt); d < e.cfg.SecretRotationOverlap-time.Minute || d > e.cfg.SecretRotationOverlap {
		t.Errorf("previous secret expires in %v, want the configured overlap %v", d, e.cfg.SecretRotationOverlap)
	}
	// Both secrets verify through this process's API at once: the new one only because the
	// verifier forgot its cached copy, the old one because the overlap lasts.
	if got := callAPI(secret); got != http.StatusOK {
		t.Errorf("API with the new secret right after rotating: %d, want 200", got)
	}
	if got := callAPI(oldSecret); got != http.StatusOK {
		t.Errorf("API with the old secret during the overlap: %d, want 200", got)
	}
	if got := callAPI("not-the-secret-at-all-not-the-secret"); got != http.StatusUnauthorized {
		t.Errorf("API with a wrong secret: %d, want 401", got)
	}
	d := e.wantActivity(t, "settings.secret_rotated", 1, e.managerID(t, seed.AdminEmail))
	if _, ok := d["prevSecretExpiresAt"]; !ok {
		t.Errorf("details = %v", d)
	}

	// Shown once: the page afterwards says until when the old one verifies, never the secret.
	r = e.get(t, c, "/settings/general")
	if strings.Contains(r.body, secret) {
		t.Fatal("a later GET shows the new secret")
	}
	if got, ok := testID(r.body, "prev-secret-until"); !ok || !strings.Contains(got, "Keeps verifying tokens until") {
		t.Errorf("page after rotation: prev-secret-until = %q, %v", got, ok)
	}

	// Without JavaScript: the page itself, with the secret, not a redirect.
	r = e.postForm(t, c, "/settings/secret/rotate", url.Values{})
	wantStatus(t, r, http.StatusOK)
	checkStrictHTML(t, "rotation page", r)
	if s, ok := testID(r.body, "new-secret"); !ok || s == secret {
		t.Errorf("plain rotation: new secret %q, %v", s, ok)
	}
}

func TestSettingsSchemaSave(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	admin := e.managerID(t, seed.AdminEmail)
	ctx := context.Background()

	fields := []tenancy.FieldDraft{
		{Key: "plan", Title: "Plan", Type: "string", Choices: true, Options: "starter\npro\nenterprise", Required: true, Default: "starter"},
		{Key: "seats", Title: "Seats", Type: "integer", Minimum: "1", Description: "Licensed seats"},
		{Key: "region", Type: "string", Choices: true, Options: "eu, us, apac"},
		{Key: "apiToken", Type: "string", Sensitive: true},
	}
	// The form posts rows in any order; the order inputs decide (seats moved to the top).
	form := schemaForm(fields...)
	form.Set("fields[1].order", "1")
	r := e.postForm(t, c, "/settings/schema", form)
	wantRedirect(t, r, "/settings/general#schema")
	s := e.storedSchema(t)
	if want := []string{"seats", "plan", "region", "apiToken"}; !reflect.DeepEqual(s.Order, want) {
		t.Errorf("stored order %v, want %v", s.Order, want)
	}
	plan := s.Properties["plan"]
	if !reflect.DeepEqual(plan.Enum, []any{"starter", "pro", "enterprise"}) || plan.Default != "starter" || plan.Title != "Plan" ||
		!reflect.DeepEqual(s.Required, []string{"plan"}) || !s.Properties["apiToken"].Sensitive || *s.Properties["seats"].Minimum != 1 {
		t.Errorf("stored schema = %+v", s)
	}
	d := e.wantActivity(t, "settings.schema_updated", 1, admin)
	if !reflect.DeepEqual(d["added"], []any{"seats", "plan", "region", "apiToken"}) {
		t.Errorf("details = %v", d)
	}
	// The page shows the stored schema in its order, every input labelled.
	r = e.get(t, c, "/settings/general")
	wantLabels(t, r.body)
	if !strings.Contains(control(r.body, "fields[0].key"), `value="seats"`) || !strings.Contains(control(r.body, "fields[3].key"), `value="apiToken"`) {
		t.Errorf("editor rows out of order:\n%s\n%s", control(r.body, "fields[0].key"), control(r.body, "fields[3].key"))
	}

	// The tenants' validation (the API's) now checks values against it; stored values stay.
	var acme *tenancy.Tenant
	err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		var err error
		if acme, err = tx.Tenant(ctx, "acme"); err != nil {
			return err
		}
		_, err = tx.PatchTenant(ctx, acme.ID, store.TenantPatch{Fields: map[string]any{"plan": "gold"}})
		return err
	})
	if v, ok := tenancy.AsValidation(err); !ok || v.For("fields.plan") == "" {
		t.Errorf("PatchTenant plan=gold after the schema: %v, want a problem at fields.plan", err)
	}
	err = e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		var err error
		if acme, err = tx.Tenant(ctx, "acme"); err != nil {
			return err
		}
		// The seed's plan "enterprise" is one of the options; seats stay as stored too.
		if acme.Fields["plan"] != "enterprise" || acme.Fields["seats"] != 250.0 {
			t.Errorf("acme's stored fields = %v, want them untouched", acme.Fields)
		}
		_, err = tx.PatchTenant(ctx, acme.ID, store.TenantPatch{Fields: map[string]any{"plan": "pro"}})
		return err
	})
	if err != nil {
		t.Errorf("PatchTenant plan=pro: %v", err)
	}

	// htmx: the editor comes back with a toast; saving the same schema records nothing.
	r = e.postForm(t, c, "/settings/schema", schemaForm(tenancy.DraftsOf(s)...), htmx...)
	wantStatus(t, r, http.StatusOK)
	wantToast(t, r, "success", "schema saved")
	if !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="schema-editor"`) {
		t.Errorf("htmx save: want the editor fragment, got:\n%.200s", r.body)
	}
	if !regexp.MustCompile(`<button[^>]*data-testid="schema-save"[^>]*autofocus`).MatchString(r.body) {
		t.Error("after an htmx save, the focus is lost")
	}
	e.wantActivity(t, "settings.schema_updated", 1, admin)

	// Remove a field, change another: the log says which.
	next := tenancy.DraftsOf(s)[:3]
	next[2].Options = "eu, us"
	wantRedirect(t, e.postForm(t, c, "/settings/schema", schemaForm(next...)), "/settings/general#schema")
	d = e.wantActivity(t, "settings.schema_updated", 2, admin)
	if !reflect.DeepEqual(d["removed"], []any{"apiToken"}) || !reflect.DeepEqual(d["changed"], []any{"region"}) || !reflect.DeepEqual(d["added"], []any{}) {
		t.Errorf("details = %v", d)
	}
}

func TestSettingsSchemaValidation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	ok := tenancy.FieldDraft{Key: "plan", Type: "string"}
	tests := []struct {
		name   string
		fields []tenancy.FieldDraft
		input  string
		msg    string
	}{
		{"duplicate key", []tenancy.FieldDraft{ok, {Key: "seats", Type: "integer"}, {Key: "plan", Type: "number"}}, "fields[2].key", "already used by field 1"},
		{"bad key", []tenancy.FieldDraft{ok, {Key: "2fa-enabled", Type: "boolean"}}, "fields[1].key", "start with a letter"},
		{"empty key", []tenancy.FieldDraft{{Key: "", Type: "string"}}, "fields[0].key", "is required"},
		{"enum without options", []tenancy.FieldDraft{{Key: "tier", Type: "string", Choices: true}}, "fields[0].enum", "at least one option"},
		{"enum options of the wrong type", []tenancy.FieldDraft{{Key: "tier", Type: "integer", Choices: true, Options: "1, 2, three"}}, "fields[0].enum", "not a number"},
		{"default not valid", []tenancy.FieldDraft{ok, {Key: "tier", Type: "string", Choices: true, Options: "a, b", Default: "c"}}, "fields[1].default", "not valid"},
		{"default of the wrong type", []tenancy.FieldDraft{{Key: "seats", Type: "integer", Default: "lots"}}, "fields[0].default", "not a number"},
		{"format on a number", []tenancy.FieldDraft{{Key: "seats", Type: "number", Format: "email"}}, "fields[0].format", "text (string) fields only"},
		{"minimum above maximum", []tenancy.FieldDraft{{Key: "seats", Type: "number", Minimum: "5", Maximum: "1"}}, "fields[0].maximum", "less than the minimum"},
	}
	before := e.workspaceRow(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.postForm(t, c, "/settings/schema", schemaForm(tt.fields...))
			wantStatus(t, r, http.StatusUnprocessableEntity)
			checkStrictHTML(t, tt.name, r)
			wantInvalid(t, r.body, tt.input, tt.msg)
			wantFocus(t, r.body, tt.input)
			if _, ok := testID(r.body, "schema-errors"); !ok && !strings.Contains(r.body, `data-testid="schema-errors"`) {
				t.Error("no summary of the problems")
			}
			// What was typed comes back, every row.
			for i, f := range tt.fields {
				if tag := control(r.body, fmt.Sprintf("fields[%d].key", i)); !strings.Contains(tag, `value="`+html.EscapeString(f.Key)+`"`) {
					t.Errorf("row %d key not kept: %s", i, tag)
				}
			}

			r = e.postForm(t, c, "/settings/schema", schemaForm(tt.fields...), htmx...)
			wantStatus(t, r, http.StatusOK)
			wantToast(t, r, "error", "schema was not saved")
			wantInvalid(t, r.body, tt.input, tt.msg)
			if e.workspaceRow(t) != before {
				t.Fatal("a refused schema was stored")
			}
		})
	}
	e.wantActivity(t, "settings.schema_updated", 0, uuid.Nil)
}

func TestSettingsSchemaPreview(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	before := e.workspaceRow(t)

	fields := []tenancy.FieldDraft{
		{Key: "company", Title: "Company", Type: "string", Required: true, Description: "Legal name"},
		{Key: "seats", Type: "integer", Minimum: "1", Maximum: "500", Default: "5"},
		{Key: "ratio", Type: "number"},
		{Key: "vip", Title: "VIP", Type: "boolean", Default: "true"},
		{Key: "plan", Type: "string", Choices: true, Options: "free, pro", Default: "pro"},
		{Key: "renewsAt", Type: "string", Format: "date-time", Default: "2030-01-02T03:04:05Z"},
		{Key: "billingEmail", Type: "string", Format: "email"},
		{Key: "site", Type: "string", Format: "uri"},
		{Key: "apiKey", Type: "string", Sensitive: true},
		{Key: "", Type: "string", Title: "not yet keyed"},
	}
	r := e.postForm(t, c, "/settings/schema/preview", schemaForm(fields...), htmx...)
	wantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="schema-preview"`) {
		t.Fatalf("preview: want the preview fragment, got:\n%s", r.body)
	}
	wantInput := func(name, want string) {
		t.Helper()
		tag := control(r.body, name)
		if tag == "" || !strings.Contains(tag, want) {
			t.Errorf("preview input %s = %q, want it to contain %q", name, tag, want)
		}
	}
	wantInput("fields.company", `type="text"`)
	wantInput("fields.company", "required")
	wantInput("fields.company", `aria-describedby="preview-0-field-company-desc"`)
	wantInput("fields.seats", `type="number"`)
	wantInput("fields.seats", `step="1"`)
	wantInput("fields.seats", `min="1"`)
	wantInput("fields.seats", `value="5"`)
	wantInput("fields.ratio", `step="any"`)
	wantInput("fields.vip", `type="checkbox"`)
	wantInput("fields.vip", "checked")
	wantInput("fields.plan", "<select")
	wantInput("fields.renewsAt", `type="datetime-local"`)
	wantInput("fields.renewsAt", `value="2030-01-02T03:04"`)
	wantInput("fields.billingEmail", `type="email"`)
	wantInput("fields.site", `type="url"`)
	wantInput("fields.apiKey", `type="password"`)
	for _, want := range []string{
		`<option value="pro" selected>pro</option>`, `class="required-mark"`, "Legal name",
		`data-testid="tenant-field-apiKey-masked"`, `<label class="label" for="preview-0-field-company">`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("preview lacks %s", want)
		}
	}
	if strings.Contains(r.body, "not yet keyed") {
		t.Error("a field without a key is in the preview")
	}
	if e.workspaceRow(t) != before {
		t.Error("a preview changed the workspace")
	}
}

func TestSettingsSchemaEditorButtons(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	a := tenancy.FieldDraft{Key: "alpha", Type: "string"}
	b := tenancy.FieldDraft{Key: "beta", Type: "number"}
	g := tenancy.FieldDraft{Key: "gamma", Type: "boolean"}
	keys := func(body string) []string {
		var out []string
		for i := 0; ; i++ {
			tag := control(body, fmt.Sprintf("fields[%d].key", i))
			if tag == "" {
				return out
			}
			m := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(tag)
			if m == nil {
				out = append(out, "")
			} else {
				out = append(out, m[1])
			}
		}
	}
	tests := []struct {
		op    string
		want  []string
		focus string // an input name, or a button's op value
	}{
		{"up:1", []string{"beta", "alpha", "gamma"}, "down:0"},
		{"up:2", []string{"alpha", "gamma", "beta"}, "up:1"},
		{"down:0", []string{"beta", "alpha", "gamma"}, "down:1"},
		{"down:1", []string{"alpha", "gamma", "beta"}, "up:2"},
		{"remove:1", []string{"alpha", "gamma"}, "fields[1].key"},
		{"remove:2", []string{"alpha", "beta"}, "add"},
		{"add", []string{"alpha", "beta", "gamma", ""}, "fields[3].key"},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			form := schemaForm(a, b, g)
			form.Set("op", tt.op)
			r := e.postForm(t, c, "/settings/schema/preview", form, htmx...)
			wantStatus(t, r, http.StatusOK)
			if !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="schema-editor"`) {
				t.Fatalf("want the editor fragment, got:\n%.300s", r.body)
			}
			if got := keys(r.body); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows %q, want %q", got, tt.want)
			}
			// Rows are renumbered, with fresh order inputs, so the next post is consistent.
			if tag := control(r.body, "fields[1].order"); !strings.Contains(tag, `value="2"`) {
				t.Errorf("order input of row 1: %s", tag)
			}
			var focused string
			if strings.Contains(tt.focus, ":") || tt.focus == "add" {
				focused = regexp.MustCompile(`<button[^>]*\bvalue="` + regexp.QuoteMeta(tt.focus) + `"[^>]*>`).FindString(r.body)
			} else {
				focused = control(r.body, tt.focus)
			}
			if !strings.Contains(focused, "autofocus") {
				t.Errorf("focus: %s has no autofocus: %q", tt.focus, focused)
			}
			// The preview beside the editor follows the new order.
			if i, j := strings.Index(r.body, `name="fields.`+tt.want[0]+`"`), strings.Index(r.body, `name="fields.`+tt.want[1]+`"`); tt.want[1] != "" && (i < 0 || j < 0 || i > j) {
				t.Errorf("preview out of order: %d, %d", i, j)
			}
		})
	}
	// Without JavaScript the buttons post to the same URL and get the whole page back.
	form := schemaForm(a, b, g)
	form.Set("op", "down:0")
	r := e.postForm(t, c, "/settings/schema/preview", form)
	wantStatus(t, r, http.StatusOK)
	checkStrictHTML(t, "editor without JS", r)
	if got := keys(r.body); !reflect.DeepEqual(got, []string{"beta", "alpha", "gamma"}) {
		t.Errorf("rows %q", got)
	}
	// Each editor button is a submit button for that fallback, and the Enter key saves.
	page := e.get(t, c, "/settings/general")
	for _, want := range []string{`formaction="/settings/schema/preview"`, `name="op"`, `value="add"`,
		`hx-trigger="input changed delay:300ms"`, `hx-target="#schema-preview"`} {
		if !strings.Contains(page.body+r.body, want) {
			t.Errorf("editor lacks %s", want)
		}
	}
	if i, j := strings.Index(r.body, `<button type="submit" class="sr-only"`), strings.Index(r.body, `value="up:`); i < 0 || i > j {
		t.Error("the form's first submit button is not Save")
	}
}

func TestSettingsLimitsAndOrigins(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	admin := e.managerID(t, seed.AdminEmail)

	limits := url.Values{
		"aiCreditsRolling30DayLimit": {"1000.5"}, "defaultTenantAiCreditsLimit": {"50"},
		"apiRequestsPerMinutePerTenant": {"60"}, "apiRequestsPerMinutePerWorkspace": {""},
	}
	wantRedirect(t, e.postForm(t, c, "/settings/limits", limits), "/settings/general#limits")
	st := e.storedSettings(t)
	if st.AICreditsRolling30DayLimit == nil || *st.AICreditsRolling30DayLimit != 1000.5 || *st.DefaultTenantAICreditsLimit != 50 ||
		*st.APIRequestsPerMinutePerTenant != 60 || st.APIRequestsPerMinutePerWorkspace != nil {
		t.Errorf("settings = %+v", st)
	}
	d := e.wantActivity(t, "settings.updated", 1, admin)
	if !reflect.DeepEqual(d["changed"], []any{"aiCreditsRolling30DayLimit", "apiRequestsPerMinutePerTenant", "defaultTenantAiCreditsLimit"}) {
		t.Errorf("details = %v", d)
	}
	r := e.get(t, c, "/settings/general")
	if !strings.Contains(control(r.body, "aiCreditsRolling30DayLimit"), `value="1000.5"`) {
		t.Errorf("limit input: %s", control(r.body, "aiCreditsRolling30DayLimit"))
	}

	// Blank = unlimited: the limit is unset.
	limits.Set("aiCreditsRolling30DayLimit", " ")
	r = e.postForm(t, c, "/settings/limits", limits, htmx...)
	wantStatus(t, r, http.StatusOK)
	wantToast(t, r, "success", "Limits saved")
	if st := e.storedSettings(t); st.AICreditsRolling30DayLimit != nil {
		t.Errorf("credit limit after blank = %v, want unset", *st.AICreditsRolling30DayLimit)
	}
	e.wantActivity(t, "settings.updated", 2, admin)

	before := e.workspaceRow(t)
	for _, tc := range []struct{ input, value, msg string }{
		{"defaultTenantAiCreditsLimit", "-1", "0 or more"},
		{"apiRequestsPerMinutePerWorkspace", "-5", "0 or more"},
		{"apiRequestsPerMinutePerTenant", "1.5", "whole number"},
		{"aiCreditsRolling30DayLimit", "lots", "must be a number"},
	} {
		bad := url.Values{}
		for k, v := range limits {
			bad[k] = v
		}
		bad.Set(tc.input, tc.value)
		r := e.postForm(t, c, "/settings/limits", bad)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantInvalid(t, r.body, tc.input, tc.msg)
		wantFocus(t, r.body, tc.input)
		if !strings.Contains(control(r.body, tc.input), `value="`+tc.value+`"`) {
			t.Errorf("%s: the typed value is not kept", tc.input)
		}
		r = e.postForm(t, c, "/settings/limits", bad, htmx...)
		wantStatus(t, r, http.StatusOK)
		wantToast(t, r, "error", "limits were not saved")
		wantInvalid(t, r.body, tc.input, tc.msg)
	}
	if e.workspaceRow(t) != before {
		t.Error("refused limits were stored")
	}

	// Origins: one per line, normalised, without repeats.
	r = e.postForm(t, c, "/settings/origins", url.Values{"allowedOrigins": {"https://App.Example.com/\r\nhttp://localhost:3000\n\nhttps://app.example.com"}})
	wantRedirect(t, r, "/settings/general#origins")
	if got := e.storedSettings(t).AllowedOrigins; !reflect.DeepEqual(got, []string{"https://app.example.com", "http://localhost:3000"}) {
		t.Errorf("origins = %q", got)
	}
	d = e.wantActivity(t, "settings.updated", 3, admin)
	if !reflect.DeepEqual(d["changed"], []any{"allowedOrigins"}) {
		t.Errorf("details = %v", d)
	}
	before = e.workspaceRow(t)
	r = e.postForm(t, c, "/settings/origins", url.Values{"allowedOrigins": {"https://ok.example.com\nhttps://app.example.com/embed"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantInvalid(t, r.body, "allowedOrigins", "must not have a path")
	wantFocus(t, r.body, "allowedOrigins")
	r = e.postForm(t, c, "/settings/origins", url.Values{"allowedOrigins": {"ftp//nope"}}, htmx...)
	wantStatus(t, r, http.StatusOK)
	wantInvalid(t, r.body, "allowedOrigins", "is not an origin")
	if e.workspaceRow(t) != before {
		t.Error("refused origins were stored")
	}
	// The API enforces what was saved: a listed origin passes, another is refused.
	wa, _ := e.db.LookupWorkspaceByKey(context.Background(), "demo")
	tok, _ := auth.Sign(wa.Secret, "demo", "acme", "", false, time.Hour)
	for origin, want := range map[string]int{"http://localhost:3000": http.StatusOK, "https://evil.example": http.StatusForbidden} {
		req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/self", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Origin", origin)
		if got := do(t, http.DefaultClient, req).StatusCode; got != want {
			t.Errorf("API from %s: %d, want %d", origin, got, want)
		}
	}
	// Empty: no browser origin.
	wantRedirect(t, e.postForm(t, c, "/settings/origins", url.Values{"allowedOrigins": {""}}), "/settings/general#origins")
	if got := e.storedSettings(t).AllowedOrigins; got != nil {
		t.Errorf("origins after clearing = %q", got)
	}
}

// --- Members -----------------------------------------------------------------------------------

func TestSettingsMembers(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	admin := e.managerID(t, seed.AdminEmail)
	support := e.managerID(t, seed.SupportEmail)

	r := e.get(t, c, "/settings/members")
	wantStatus(t, r, http.StatusOK)
	checkStrictHTML(t, "members", r)
	wantLabels(t, r.body)
	for _, want := range []string{`data-testid="member-admin@demo.test"`, `data-testid="member-support@demo.test"`,
		`action="/settings/members/` + support.String() + `/role"`, `hx-confirm="Remove support@demo.test from this workspace?`,
		`action="/settings/members"`, `aria-current="page" class="subnav-link subnav-link-active" data-testid="settings-nav-Members"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("members page lacks %s", want)
		}
	}

	// A new email: a manager is created; the password is shown once and signs in.
	r = e.postForm(t, c, "/settings/members", url.Values{"email": {"New.Person@Example.com"}, "name": {"New Person"}, "role": {"support"}}, htmx...)
	wantStatus(t, r, http.StatusOK)
	wantToast(t, r, "success", "new.person@example.com added as support")
	password, ok := testID(r.body, "new-password")
	if !ok || len(password) < auth.MinPasswordLength {
		t.Fatalf("no password shown:\n%s", r.body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Error("the response with the password may be cached")
	}
	if strings.Contains(e.get(t, c, "/settings/members").body, password) {
		t.Error("the password is shown again")
	}
	newbie := e.client(t)
	if r := e.signIn(t, newbie, "new.person@example.com", password, ""); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in with the shown password: %d", r.StatusCode)
	}
	if r := e.get(t, newbie, "/settings/general"); r.StatusCode != http.StatusOK || strings.Contains(r.body, `action="/settings/general"`) {
		t.Errorf("the new support manager's settings page: %d (controls shown: %v)", r.StatusCode, strings.Contains(r.body, `action="/settings/general"`))
	}
	newID := e.managerID(t, "new.person@example.com")
	d := e.wantActivity(t, "member.added", 1, admin)
	if d["email"] != "new.person@example.com" || d["newManager"] != true || d["role"] != "support" {
		t.Errorf("details = %v", d)
	}

	// An existing manager (of another workspace): just the membership, no password.
	other, _, err := e.db.CreateWorkspace(context.Background(), "other-ws", "Other")
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.EnsureManager(context.Background(), e.db, other.ID, "elsewhere@example.com", "elsewhere-password", tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	r = e.postForm(t, c, "/settings/members", url.Values{"email": {"elsewhere@example.com"}, "role": {"admin"}})
	wantRedirect(t, r, "/settings/members")
	r = e.get(t, c, "/settings/members")
	if !strings.Contains(r.body, `data-testid="member-elsewhere@example.com"`) || strings.Contains(r.body, `data-testid="new-password"`) {
		t.Errorf("existing manager added: row shown %v, password shown %v", strings.Contains(r.body, "member-elsewhere@example.com"), strings.Contains(r.body, "new-password"))
	}
	if d := e.wantActivity(t, "member.added", 2, admin); d["newManager"] != false {
		t.Errorf("details = %v", d)
	}
	elsewhere := e.managerID(t, "elsewhere@example.com")

	// Problems with the add form: inline, nothing added.
	for _, tc := range []struct{ email, role, input, msg string }{
		{"not an email", "admin", "email", "not an email address"},
		{"support@demo.test", "admin", "email", "already a member"},
		{"x@example.com", "owner", "role", "admin or support"},
	} {
		r := e.postForm(t, c, "/settings/members", url.Values{"email": {tc.email}, "role": {tc.role}})
		if r.StatusCode != http.StatusUnprocessableEntity && r.StatusCode != http.StatusConflict {
			t.Errorf("add %s: status %d, want 422 or 409", tc.email, r.StatusCode)
		}
		addForm := r.body[strings.Index(r.body, `id="add-member-title"`):]
		wantInvalid(t, addForm, tc.input, tc.msg)
		wantFocus(t, addForm, tc.input)
		r = e.postForm(t, c, "/settings/members", url.Values{"email": {tc.email}, "role": {tc.role}}, htmx...)
		wantStatus(t, r, http.StatusOK)
		wantToast(t, r, "error", "not added")
	}
	e.wantActivity(t, "member.added", 2, admin)

	// Change a role.
	r = e.postForm(t, c, "/settings/members/"+newID.String()+"/role", url.Values{"role": {"admin"}}, htmx...)
	wantStatus(t, r, http.StatusOK)
	wantToast(t, r, "success", "new.person@example.com is now admin")
	if !regexp.MustCompile(`name="role"[^>]*>\s*<option value="admin" selected>`).MatchString(r.body[strings.Index(r.body, "member-new.person@example.com"):]) {
		t.Error("the row does not show the new role")
	}
	if d := e.wantActivity(t, "member.role_changed", 1, admin); d["from"] != "support" || d["to"] != "admin" {
		t.Errorf("details = %v", d)
	}

	// Remove: the member's sessions end at once.
	if r := e.get(t, newbie, "/"); r.StatusCode != http.StatusOK {
		t.Fatalf("the member before removal: %d", r.StatusCode)
	}
	r = e.postForm(t, c, "/settings/members/"+newID.String()+"/remove", url.Values{})
	wantRedirect(t, r, "/settings/members")
	wantRedirect(t, e.get(t, newbie, "/"), "/signin?next=%2F")
	if d := e.wantActivity(t, "member.removed", 1, admin); d["email"] != "new.person@example.com" {
		t.Errorf("details = %v", d)
	}
	if r := e.postForm(t, c, "/settings/members/"+newID.String()+"/remove", url.Values{}); r.StatusCode != http.StatusNotFound {
		t.Errorf("remove a non-member: %d, want 404", r.StatusCode)
	}
	if r := e.postForm(t, c, "/settings/members/not-a-uuid/role", url.Values{"role": {"admin"}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("malformed member id: %d, want 404", r.StatusCode)
	}

	// The last admin: demote elsewhere, then the demo admin is the only admin left.
	wantRedirect(t, e.postForm(t, c, "/settings/members/"+elsewhere.String()+"/role", url.Values{"role": {"support"}}), "/settings/members")
	e.wantActivity(t, "member.role_changed", 2, admin)
	memberships := func() string {
		var s string
		_ = e.db.SQL().GetContext(context.Background(), &s, `SELECT string_agg(manager_id::text || role, ',' ORDER BY manager_id) FROM memberships WHERE workspace_id = $1`, e.ws.ID)
		return s
	}
	before := memberships()
	r = e.postForm(t, c, "/settings/members/"+admin.String()+"/role", url.Values{"role": {"support"}}, htmx...)
	wantStatus(t, r, http.StatusOK)
	wantToast(t, r, "error", "last admin")
	if got, ok := testID(r.body, "member-error-admin@demo.test"); !ok || !strings.Contains(got, "last admin") {
		t.Errorf("demote the last admin: row error %q, %v", got, ok)
	}
	r = e.postForm(t, c, "/settings/members/"+admin.String()+"/remove", url.Values{})
	wantStatus(t, r, http.StatusBadRequest)
	checkStrictHTML(t, "last admin refused", r)
	if got, ok := testID(r.body, "member-error-admin@demo.test"); !ok || !strings.Contains(got, "last admin") {
		t.Errorf("remove the last admin: row error %q, %v", got, ok)
	}
	if !strings.Contains(r.body, `aria-describedby="member-`+admin.String()+`-role-error"`) {
		t.Error("the refused row's select is not described by its error")
	}
	if memberships() != before {
		t.Error("a refused change to the last admin changed the memberships")
	}
	e.wantActivity(t, "member.role_changed", 2, admin)
	e.wantActivity(t, "member.removed", 1, admin)
	if r := e.get(t, c, "/settings/members"); r.StatusCode != http.StatusOK {
		t.Errorf("the admin after the refusals: %d", r.StatusCode)
	}
}

func TestSettingsMembersSelfDemotion(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	c := e.adminClient(t)
	admin := e.managerID(t, seed.AdminEmail)
	support := e.managerID(t, seed.SupportEmail)
	wantRedirect(t, e.postForm(t, c, "/settings/members/"+support.String()+"/role", url.Values{"role": {"admin"}}), "/settings/members")
	// Demoting yourself works when another admin is left; you land where you may still go.
	r := e.postForm(t, c, "/settings/members/"+admin.String()+"/role", url.Values{"role": {"support"}}, htmx...)
	wantStatus(t, r, http.StatusOK)
	if got := r.Header.Get("HX-Redirect"); got != "/settings/general" {
		t.Errorf("HX-Redirect %q", got)
	}
	if r := e.get(t, c, "/settings/members"); r.StatusCode != http.StatusForbidden {
		t.Errorf("members page after demoting yourself: %d, want 403", r.StatusCode)
	}
}

// --- Support managers --------------------------------------------------------------------------

func TestSettingsSupportIsReadOnly(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	ctx := context.Background()
	// Something to show: a schema, limits and origins.
	err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		s, err := tenancy.BuildFieldSchema([]tenancy.FieldDraft{{Key: "plan", Type: "string", Choices: true, Options: "free, pro"}, {Key: "vip", Type: "boolean"}})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE workspaces SET tenant_field_schema = $2, settings = $3 WHERE id = $1`, e.ws.ID,
			mustJSON(t, s), `{"apiRequestsPerMinutePerTenant": 60, "allowedOrigins": ["https://app.example.com"]}`); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	e.mustSignIn(t, c, seed.SupportEmail)

	r := e.get(t, c, "/settings/general")
	wantStatus(t, r, http.StatusOK)
	checkStrictHTML(t, "settings for support", r)
	body := r.body[strings.Index(r.body, `<main`):]
	for _, absent := range []string{"<form", "hx-post", "<button type=\"submit\"", "Rotate secret", "Save", `data-testid="settings-nav-Members"`, "<textarea"} {
		if strings.Contains(body, absent) {
			t.Errorf("support's settings page contains %q", absent)
		}
	}
	for _, want := range []string{`data-testid="read-only-notice"`, `data-testid="workspace-name-value">Demo Workspace<`,
		`data-testid="schema-table"`, "https://app.example.com", `<fieldset class="space-y-4" disabled>`, `data-testid="settings-workspace-key">demo<`} {
		if !strings.Contains(body, want) {
			t.Errorf("support's settings page lacks %s", want)
		}
	}
	// Every input on the page is inside the disabled preview.
	if n, m := strings.Count(body, "<input")+strings.Count(body, "<select"), strings.Count(body[strings.Index(body, "disabled>"):], "<input")+strings.Count(body[strings.Index(body, "disabled>"):], "<select"); n != m {
		t.Errorf("%d inputs on the page, %d of them disabled", n, m)
	}

	before, beforeMembers := e.workspaceRow(t), e.activityCount(t)
	admin := e.managerID(t, seed.AdminEmail)
	posts := map[string]url.Values{
		"/settings/general":                               {"name": {"Hijacked"}},
		"/settings/secret/rotate":                         {},
		"/settings/schema":                                schemaForm(tenancy.FieldDraft{Key: "x", Type: "string"}),
		"/settings/schema/preview":                        schemaForm(tenancy.FieldDraft{Key: "x", Type: "string"}),
		"/settings/limits":                                {"apiRequestsPerMinutePerTenant": {"1"}},
		"/settings/origins":                               {"allowedOrigins": {"*"}},
		"/settings/members":                               {"email": {"intruder@example.com"}, "role": {"admin"}},
		"/settings/members/" + admin.String() + "/role":   {"role": {"support"}},
		"/settings/members/" + admin.String() + "/remove": {},
	}
	for path, form := range posts {
		for _, h := range [][]string{nil, htmx} {
			r := e.postForm(t, c, path, form, h...)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("support POST %s (htmx %v): %d, want 403", path, h != nil, r.StatusCode)
			}
			if strings.Contains(r.body, "new-secret") {
				t.Errorf("support POST %s revealed a secret", path)
			}
		}
	}
	if r := e.get(t, c, "/settings/members"); r.StatusCode != http.StatusForbidden {
		t.Errorf("support GET /settings/members: %d, want 403", r.StatusCode)
	}
	if e.workspaceRow(t) != before || e.activityCount(t) != beforeMembers {
		t.Error("support's refused posts changed something")
	}
	if _, _, err := e.db.LookupManagerByEmail(ctx, "intruder@example.com"); err == nil {
		t.Error("support added a manager")
	}
}

func (e *testEnv) activityCount(t *testing.T) string {
	t.Helper()
	var s string
	if err := e.db.SQL().GetContext(context.Background(), &s, `SELECT (SELECT count(*) FROM activity_log WHERE workspace_id = $1)::text || '/' ||
		(SELECT string_agg(manager_id::text || role, ',' ORDER BY manager_id) FROM memberships WHERE workspace_id = $1)`, e.ws.ID); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
