package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// elementsEnv is a workspace with an integration, an action template and two tenants, A and B,
// each with a connection.
type elementsEnv struct {
	db           *store.DB
	ws           *tenancy.Workspace
	a, b         *tenancy.Tenant
	integ        *tenancy.Integration
	tmpl         *tenancy.Element
	connA, connB *tenancy.Connection
}

func newElementsEnv(t *testing.T) *elementsEnv {
	t.Helper()
	db := newDB(t)
	e := &elementsEnv{db: db, ws: mustWorkspace(t, db, "elw")}
	e.a = mustTenant(t, db, e.ws.ID, "a", "A")
	e.b = mustTenant(t, db, e.ws.ID, "b", "B")
	e.wide(t, func(tx *store.Tx) (err error) {
		ctx := context.Background()
		if e.integ, err = tx.CreateIntegration(ctx, store.IntegrationInput{Key: "crm", Name: "CRM", BaseURL: "https://crm.example", AuthType: "bearer"}); err != nil {
			return err
		}
		if e.tmpl, err = tx.CreateElement(ctx, store.ElementInput{Kind: tenancy.KindAction, Key: "list-deals", Name: "List deals",
			Type: "http-request", IntegrationID: e.integ.ID, Config: jsonObj(t, `{"method":"GET","path":"/deals","query":{"limit":"100","sort":"asc"},"headers":{"X-A":"1"}}`)}); err != nil {
			return err
		}
		if e.connA, err = tx.CreateConnection(ctx, store.NewConnection{TenantID: e.a.ID, IntegrationID: e.integ.ID, Name: "A's CRM",
			Credentials: map[string]any{"accessToken": "sentinel-secret-A"}}); err != nil {
			return err
		}
		e.connB, err = tx.CreateConnection(ctx, store.NewConnection{TenantID: e.b.ID, IntegrationID: e.integ.ID, Name: "B's CRM"})
		return err
	})
	return e
}

func jsonObj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sameJSON(t *testing.T, what string, got map[string]any, want string) {
	t.Helper()
	w := jsonObj(t, want)
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("%s = %s, want %s", what, g, want)
	}
}

func (e *elementsEnv) wide(t *testing.T, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := e.db.InScope(context.Background(), tenancy.SystemScope(e.ws.ID), fn); err != nil {
		t.Fatal(err)
	}
}

func (e *elementsEnv) as(tenant *tenancy.Tenant, fn func(tx *store.Tx) error) error {
	return e.db.InScope(context.Background(), tenancy.TenantScope(e.ws.ID, tenant.ID), fn)
}

func (e *elementsEnv) storedConfig(t *testing.T, id uuid.UUID) map[string]any {
	t.Helper()
	var b []byte
	if err := e.db.SQL().GetContext(context.Background(), &b, `SELECT config FROM elements WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func (e *elementsEnv) activityCount(t *testing.T, typ string) int {
	t.Helper()
	var n int
	if err := e.db.SQL().GetContext(context.Background(), &n, `SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = $2`, e.ws.ID, typ); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCustomizationKeepsOnlyItsOverrideAndFollowsTheTemplate(t *testing.T) {
	e := newElementsEnv(t)
	ctx := context.Background()
	at := store.TenantElementAt{TenantID: e.a.ID, Kind: tenancy.KindAction, Key: "list-deals"}

	// A customizes through its own scope: a nested key changes, a header object goes away.
	var custom *tenancy.Element
	if err := e.as(e.a, func(tx *store.Tx) (err error) {
		custom, err = tx.Customize(ctx, at, store.ElementChange{Mode: store.ConfigMerge, Config: jsonObj(t, `{"query":{"limit":"25"},"headers":null}`)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !custom.IsCustomized() || custom.ParentID != e.tmpl.ID || custom.Status() != tenancy.StatusCustomized {
		t.Fatalf("customization = %+v", custom)
	}
	sameJSON(t, "stored override", e.storedConfig(t, custom.ID), `{"query":{"limit":"25"},"headers":null}`)
	sameJSON(t, "effective", custom.Effective, `{"method":"GET","path":"/deals","query":{"limit":"25","sort":"asc"}}`)
	if n := e.activityCount(t, "customization.updated"); n != 1 {
		t.Errorf("customization.updated entries = %d, want 1", n)
	}

	// The template changes: A keeps its overrides and follows the rest; B still gets the template.
	e.wide(t, func(tx *store.Tx) error {
		_, err := tx.UpdateElement(ctx, e.tmpl.ID, store.ElementInput{Key: "list-deals", Name: "List deals", Type: "http-request",
			IntegrationID: e.integ.ID, Config: jsonObj(t, `{"method":"GET","path":"/v2/deals","query":{"limit":"500","sort":"desc"},"headers":{"X-B":"2"}}`)})
		return err
	})
	if err := e.as(e.a, func(tx *store.Tx) error {
		got, err := tx.EffectiveElement(ctx, at)
		if err != nil {
			return err
		}
		sameJSON(t, "A's effective after the template changed", got.Effective, `{"method":"GET","path":"/v2/deals","query":{"limit":"25","sort":"desc"}}`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.as(e.b, func(tx *store.Tx) error {
		got, err := tx.EffectiveElement(ctx, store.TenantElementAt{TenantID: e.b.ID, Kind: tenancy.KindAction, Key: "list-deals"})
		if err != nil {
			return err
		}
		if !got.IsTemplate() {
			t.Errorf("B's effective element is not the template: %+v", got)
		}
		sameJSON(t, "B's effective", got.Effective, `{"method":"GET","path":"/v2/deals","query":{"limit":"500","sort":"desc"},"headers":{"X-B":"2"}}`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A connection-level customization merges onto the tenant-wide one; arrays replace.
	var connRow uuid.UUID
	if err := e.as(e.a, func(tx *store.Tx) error {
		conn := at
		conn.ConnectionID = e.connA.ID
		c, err := tx.Customize(ctx, conn, store.ElementChange{Mode: store.ConfigMerge, Config: jsonObj(t, `{"query":{"sort":"asc"},"body":[1,2]}`)})
		if err != nil {
			return err
		}
		connRow = c.ID
		sameJSON(t, "connection effective", c.Effective, `{"method":"GET","path":"/v2/deals","query":{"limit":"25","sort":"asc"},"body":[1,2]}`)
		c, err = tx.ChangeTenantElement(ctx, c.ID, store.ElementChange{Mode: store.ConfigMerge, Config: jsonObj(t, `{"body":[3]}`)})
		if err != nil {
			return err
		}
		sameJSON(t, "array replaced, not merged", c.Effective, `{"method":"GET","path":"/v2/deals","query":{"limit":"25","sort":"asc"},"body":[3]}`)
		run, err := tx.EffectiveElement(ctx, conn)
		if err != nil || run.ID != c.ID {
			t.Errorf("a run on the connection would use %v (%v), want the connection's customization", run, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "connection override", e.storedConfig(t, connRow), `{"query":{"sort":"asc"},"body":[3]}`)

	// Reset removes the override: A uses the template again, and the row keeps its id.
	if err := e.as(e.a, func(tx *store.Tx) error {
		r, err := tx.ResetCustomization(ctx, custom.ID)
		if err != nil {
			return err
		}
		if r.IsCustomized() || r.Status() != tenancy.StatusInherited || r.ID != custom.ID {
			t.Errorf("after reset: %+v", r)
		}
		sameJSON(t, "effective after reset", r.Effective, `{"method":"GET","path":"/v2/deals","query":{"limit":"500","sort":"desc"},"headers":{"X-B":"2"}}`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "stored after reset", e.storedConfig(t, custom.ID), `{}`)
	if n := e.activityCount(t, "customization.reset"); n != 1 {
		t.Errorf("customization.reset entries = %d, want 1", n)
	}
}

func TestCustomizationIsValidatedAndWritesNothingWhenBad(t *testing.T) {
	e := newElementsEnv(t)
	ctx := context.Background()
	at := store.TenantElementAt{TenantID: e.a.ID, Kind: tenancy.KindAction, Key: "list-deals"}
	before := e.activityCount(t, "customization.updated")
	err := e.as(e.a, func(tx *store.Tx) error {
		_, err := tx.Customize(ctx, at, store.ElementChange{Mode: store.ConfigMerge, Config: jsonObj(t, `{"method":"FETCH","timeoutSeconds":900}`)})
		return err
	})
	v, ok := tenancy.AsValidation(err)
	if !ok || v.For("config.method") == "" || v.For("config.timeoutSeconds") == "" {
		t.Fatalf("bad customization: err = %v, want problems on config.method and config.timeoutSeconds", err)
	}
	var n int
	if err := e.db.SQL().GetContext(ctx, &n, `SELECT count(*) FROM elements WHERE tenant_id = $1`, e.a.ID); err != nil {
		t.Fatal(err)
	}
	if n != 0 || e.activityCount(t, "customization.updated") != before {
		t.Errorf("a refused customization left %d rows / an activity entry", n)
	}
}

func TestTenantScopeCannotTouchTemplatesOrOtherTenants(t *testing.T) {
	e := newElementsEnv(t)
	ctx := context.Background()
	err := e.as(e.a, func(tx *store.Tx) error {
		_, err := tx.CreateElement(ctx, store.ElementInput{Kind: tenancy.KindAction, Key: "x", Config: map[string]any{}})
		return err
	})
	if !errors.Is(err, tenancy.ErrForbidden) {
		t.Errorf("tenant creating a template: %v, want ErrForbidden", err)
	}
	err = e.as(e.a, func(tx *store.Tx) error {
		_, err := tx.UpdateElement(ctx, e.tmpl.ID, store.ElementInput{Key: "list-deals", Config: map[string]any{}})
		return err
	})
	if !errors.Is(err, tenancy.ErrForbidden) {
		t.Errorf("tenant updating a template: %v, want ErrForbidden", err)
	}
	// Customizing for B, or on B's connection, from A's scope finds nothing.
	for name, at := range map[string]store.TenantElementAt{
		"B's tenant-wide":   {TenantID: e.b.ID, Kind: tenancy.KindAction, Key: "list-deals"},
		"on B's connection": {TenantID: e.a.ID, Kind: tenancy.KindAction, Key: "list-deals", ConnectionID: e.connB.ID},
	} {
		err := e.as(e.a, func(tx *store.Tx) error {
			_, err := tx.Customize(ctx, at, store.ElementChange{Mode: store.ConfigMerge, Config: map[string]any{"path": "/x"}})
			return err
		})
		if err == nil {
			t.Errorf("A customizing %s succeeded", name)
		}
	}
	var n int
	if err := e.db.SQL().GetContext(ctx, &n, `SELECT count(*) FROM elements WHERE tenant_id IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d tenant rows written by refused customizations", n)
	}
	// B's customization is invisible to A by id.
	var bRow *tenancy.Element
	if err := e.as(e.b, func(tx *store.Tx) (err error) {
		bRow, err = tx.Customize(ctx, store.TenantElementAt{TenantID: e.b.ID, Kind: tenancy.KindAction, Key: "list-deals"},
			store.ElementChange{Mode: store.ConfigMerge, Config: map[string]any{"path": "/b"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err = e.as(e.a, func(tx *store.Tx) error {
		if _, err := tx.TenantElement(ctx, tenancy.KindAction, bRow.ID); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("A reading B's customization: %v", err)
		}
		if _, err := tx.ResetCustomization(ctx, bRow.ID); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("A resetting B's customization: %v", err)
		}
		if err := tx.DeleteTenantElement(ctx, bRow.ID); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("A deleting B's customization: %v", err)
		}
		page, err := tx.ListTenantElements(ctx, store.TenantElementFilter{Kind: tenancy.KindAction})
		if err != nil {
			return err
		}
		if len(page.Items) != 0 {
			t.Errorf("A lists %d tenant-level actions, want 0 (B's are not A's)", len(page.Items))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTenantElementsShowsEachTemplatesStatus(t *testing.T) {
	e := newElementsEnv(t)
	ctx := context.Background()
	e.wide(t, func(tx *store.Tx) error {
		if _, err := tx.CreateElement(ctx, store.ElementInput{Kind: tenancy.KindAction, Key: "create-contact", Type: "http-request",
			Config: jsonObj(t, `{"method":"POST","path":"/contacts"}`)}); err != nil {
			return err
		}
		if _, err := tx.Customize(ctx, store.TenantElementAt{TenantID: e.a.ID, Kind: tenancy.KindAction, Key: "list-deals"},
			store.ElementChange{Mode: store.ConfigMerge, Config: map[string]any{"path": "/mine"}}); err != nil {
			return err
		}
		if _, err := tx.CreateTenantElement(ctx, e.a.ID, store.ElementInput{Kind: tenancy.KindAction, Key: "own-report", Type: "http-request",
			Config: jsonObj(t, `{"method":"GET","path":"/report"}`)}); err != nil {
			return err
		}
		_, err := tx.CreateTenantElement(ctx, e.a.ID, store.ElementInput{Kind: tenancy.KindAction, Key: "list-deals", Config: map[string]any{}})
		if v, ok := tenancy.AsValidation(err); !ok || !v.Conflict {
			t.Errorf("a tenant-own element with a template's key: %v, want a conflict", err)
		}
		return nil
	})
	var rows []store.TenantElementRow
	if err := e.as(e.a, func(tx *store.Tx) (err error) {
		rows, err = tx.TenantElements(ctx, e.a.ID, tenancy.KindAction)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		key := ""
		if r.Template != nil {
			key = r.Template.Key
		} else {
			key = r.Tenant.Key
		}
		got[key] = r.Status
	}
	want := map[string]string{"create-contact": "inherited", "list-deals": "customized", "own-report": "tenant-only"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
}

func TestConnectionsSealCredentialsAndFollowTheirTenant(t *testing.T) {
	e := newElementsEnv(t)
	ctx := context.Background()
	var raw []byte
	if err := e.db.SQL().GetContext(ctx, &raw, `SELECT credentials_enc FROM connections WHERE id = $1`, e.connA.ID); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || bytes.Contains(raw, []byte("sentinel-secret-A")) {
		t.Fatalf("credentials at rest: %q", raw)
	}
	if !reflect.DeepEqual(e.connA.CredentialKeys, []string{"accessToken"}) || e.connA.State != tenancy.StateReady || !e.connA.Connected() {
		t.Errorf("created connection = %+v", e.connA)
	}
	// Reading the credentials decrypts them and records the read.
	if err := e.as(e.a, func(tx *store.Tx) error {
		v, err := tx.ConnectionCredentials(ctx, e.connA.ID)
		if err != nil {
			return err
		}
		if v.(map[string]any)["accessToken"] != "sentinel-secret-A" {
			t.Errorf("credentials = %v", v)
		}
		if _, err := tx.Connection(ctx, e.connB.ID.String()); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("A reading B's connection: %v", err)
		}
		if _, err := tx.UpdateConnection(ctx, e.connB.ID, store.ConnectionPatch{Disconnected: new(bool)}); !errors.Is(err, tenancy.ErrNotFound) {
			t.Errorf("A changing B's connection: %v", err)
		}
		page, err := tx.ListConnections(ctx, store.ConnectionFilter{})
		if err != nil {
			return err
		}
		if len(page.Items) != 1 || page.Items[0].ID != e.connA.ID {
			t.Errorf("A lists %d connections", len(page.Items))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := e.activityCount(t, "credentials.read"); n != 1 {
		t.Errorf("credentials.read entries = %d, want 1", n)
	}

	// Disconnect A's connection, then archive and restore both tenants: restoring reactivates
	// only what archiving deactivated, and A's stays disconnected.
	yes := true
	e.wide(t, func(tx *store.Tx) error {
		c, err := tx.UpdateConnection(ctx, e.connA.ID, store.ConnectionPatch{Disconnected: &yes})
		if err != nil {
			return err
		}
		if c.State != tenancy.StateDisconnected || c.Connected() {
			t.Errorf("disconnected connection = %+v", c)
		}
		archivedConn, err := tx.CreateConnection(ctx, store.NewConnection{TenantID: e.b.ID, IntegrationID: e.integ.ID, Name: "old"})
		if err != nil {
			return err
		}
		if _, err := tx.ArchiveConnection(ctx, archivedConn.ID); err != nil {
			return err
		}
		if _, err := tx.ArchiveTenant(ctx, e.b.ID); err != nil {
			return err
		}
		deact, err := tx.ListConnections(ctx, store.ConnectionFilter{State: "DEACTIVATED", IncludeArchived: true})
		if err != nil {
			return err
		}
		if len(deact.Items) != 1 || deact.Items[0].ID != e.connB.ID {
			t.Errorf("deactivated by archiving: %d connections, want B's active one only", len(deact.Items))
		}
		if _, err := tx.RestoreTenant(ctx, e.b.ID); err != nil {
			return err
		}
		ready, err := tx.ListConnections(ctx, store.ConnectionFilter{Connected: &yes})
		if err != nil {
			return err
		}
		if len(ready.Items) != 1 || ready.Items[0].ID != e.connB.ID {
			t.Errorf("usable after restore: %v", ready.Items)
		}
		all, err := tx.ListConnections(ctx, store.ConnectionFilter{IncludeArchived: true, Limit: 1})
		if err != nil {
			return err
		}
		if len(all.Items) != 1 || all.Cursor == "" {
			t.Fatalf("first page of one: %d items, cursor %q", len(all.Items), all.Cursor)
		}
		seen := map[uuid.UUID]bool{all.Items[0].ID: true}
		for cur := all.Cursor; cur != ""; {
			p, err := tx.ListConnections(ctx, store.ConnectionFilter{IncludeArchived: true, Limit: 1, Cursor: cur})
			if err != nil {
				return err
			}
			for _, c := range p.Items {
				if seen[c.ID] {
					t.Errorf("connection %s on two pages", c.ID)
				}
				seen[c.ID] = true
			}
			cur = p.Cursor
		}
		if len(seen) != 3 {
			t.Errorf("paging saw %d connections, want 3", len(seen))
		}
		return nil
	})
}

func TestUniverseIsReadableByEveryScope(t *testing.T) {
	e := newElementsEnv(t)
	ctx := context.Background()
	if err := e.as(e.a, func(tx *store.Tx) error {
		apps, err := tx.ListUniverse(ctx, store.UniverseFilter{Kind: tenancy.KindApp})
		if err != nil {
			return err
		}
		if len(apps.Items) < 5 {
			t.Errorf("universe apps = %d", len(apps.Items))
		}
		hub, err := tx.ListUniverse(ctx, store.UniverseFilter{App: "hubspot", Kind: tenancy.KindAction})
		if err != nil {
			return err
		}
		for _, u := range hub.Items {
			if u.AppKey != "hubspot" || u.Kind != tenancy.KindAction {
				t.Errorf("app filter let through %+v", u)
			}
		}
		if len(hub.Items) == 0 {
			t.Error("no hubspot actions in the universe")
		}
		u, err := tx.UniverseElement(ctx, tenancy.KindConnector, "github")
		if err != nil {
			return err
		}
		if u.Config["baseUrl"] != "https://api.github.com" {
			t.Errorf("github connector config = %v", u.Config)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A template built on a universe action merges onto it.
	e.wide(t, func(tx *store.Tx) error {
		u, err := tx.UniverseElement(ctx, tenancy.KindAction, "github.list-issues")
		if err != nil {
			return err
		}
		el, err := tx.CreateElement(ctx, store.ElementInput{Kind: tenancy.KindAction, Key: "issues", Type: "http-request",
			UniversalParentID: u.ID, Config: jsonObj(t, `{"query":{"state":"open"}}`)})
		if err != nil {
			return err
		}
		if el.Effective["method"] != "GET" || el.Effective["query"].(map[string]any)["state"] != "open" {
			t.Errorf("effective on a universal parent = %v", el.Effective)
		}
		return nil
	})
}

func TestTemplateRenameCannotTakeATenantOwnKey(t *testing.T) {
	e := newElementsEnv(t)
	ctx := context.Background()
	e.wide(t, func(tx *store.Tx) error {
		if _, err := tx.CreateTenantElement(ctx, e.a.ID, store.ElementInput{Kind: tenancy.KindAction, Key: "mine", Type: "http-request",
			Config: jsonObj(t, `{"method":"GET","path":"/m"}`)}); err != nil {
			return err
		}
		return nil
	})
	err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.UpdateElement(ctx, e.tmpl.ID, store.ElementInput{Key: "mine", Type: "http-request", Config: e.tmpl.Config})
		return err
	})
	if v, ok := tenancy.AsValidation(err); !ok || !v.Conflict || v.For("key") == "" {
		t.Fatalf("renaming a template onto a tenant's own key: %v, want a conflict on key", err)
	}
}
