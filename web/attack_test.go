package web

// The isolation attack suite for the Console and the tenant portal (issue 8, item 1), generated
// from consoleRoutes() and portalRoutes():
//
//   - a signed-in admin of another workspace (W2, whose tenants have the demo workspace's
//     internalIds and keys) requests every Console route with parameters, filled with the demo
//     workspace's (W1's) ids: 404, and no page or list W2 reads names anything of W1's;
//   - W1's support manager sends every POST (and every admin-only page) with W1's real ids: 403;
//   - tenant globex's portal session, and W2's acme's, open acme's (W1) entries: 404;
//
// and nothing any of them sends changes a row of the database. A route whose parameter this file
// cannot fill fails the test by name: a new route has to be taught here before it ships.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/auth"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

const attackW2Admin = "admin@other.test"

// consoleAttack is the fixture: the seeded demo workspace (W1) with acme's secrets, entries and
// connection, and W2 with the same internalIds and keys and an admin of its own.
type consoleAttack struct {
	*testEnv
	w1Secret         []byte
	w2               *tenancy.Workspace
	w2Secret         string
	acme, globex     uuid.UUID // W1
	acmeConn         uuid.UUID
	hubspot          uuid.UUID
	listDeals        uuid.UUID // W1's action template
	acmeEntry        uuid.UUID // acme's activity entry
	wsEntry          uuid.UUID // a workspace-level entry of W1
	support, w1Admin uuid.UUID // W1's managers
	acme2            uuid.UUID // W2's acme
}

func newConsoleAttack(t *testing.T) *consoleAttack {
	t.Helper()
	e := &consoleAttack{testEnv: newTestEnv(t, nil)}
	ctx := context.Background()
	one := func(q string, args ...any) uuid.UUID {
		t.Helper()
		var id uuid.UUID
		if err := e.db.SQL().GetContext(ctx, &id, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	wa, err := e.db.LookupWorkspaceByKey(ctx, seed.WorkspaceKey)
	if err != nil {
		t.Fatal(err)
	}
	e.w1Secret = wa.Secret
	e.acme = one(`SELECT id FROM tenants WHERE workspace_id = $1 AND internal_id = 'acme'`, e.ws.ID)
	e.globex = one(`SELECT id FROM tenants WHERE workspace_id = $1 AND internal_id = 'globex'`, e.ws.ID)
	e.acmeConn = one(`SELECT id FROM connections WHERE workspace_id = $1 AND tenant_id = $2 ORDER BY created_at, id LIMIT 1`, e.ws.ID, e.acme)
	e.hubspot = one(`SELECT id FROM integrations WHERE workspace_id = $1 AND key = 'hubspot'`, e.ws.ID)
	e.listDeals = one(`SELECT id FROM elements WHERE workspace_id = $1 AND kind = 'action' AND key = 'list-deals' AND tenant_id IS NULL`, e.ws.ID)
	e.support, e.w1Admin = e.managerID(t, seed.SupportEmail), e.managerID(t, seed.AdminEmail)

	// W1: acme gets a sensitive field, a credential and entries of its own; the workspace one.
	e.setSchema(t, fieldSchema)
	e.setFields(t, "acme", `{"plan":"enterprise","apiToken":"acme-field-secret-w1"}`)
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.ws.ID), func(tx *store.Tx) error {
		_, err := tx.SetTenantCredential(ctx, e.acme, "apiKey", "acme-cred-secret-w1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, `SELECT count(*) FROM elements WHERE workspace_id = $1 AND tenant_id = $2 AND key = 'list-deals'`, e.ws.ID, e.acme); n == 0 {
		t.Fatal("the demo seed gives acme a customization of list-deals")
	}
	e.acmeEntry = e.record(t, tenancy.SystemScope(e.ws.ID), store.Activity{Type: "action.run", TenantID: e.acme, ConnectionID: e.acmeConn,
		IntegrationID: e.hubspot, Message: "acme private run w1"})
	e.wsEntry = e.record(t, tenancy.SystemScope(e.ws.ID), store.Activity{Type: "settings.updated", Message: "workspace private change w1"})

	// W2: the same internalIds, integration and template keys, a connection for its acme, and
	// an admin of its own (and of nothing else).
	e.w2, e.w2Secret, err = e.db.CreateWorkspace(ctx, "other", "Other workspace")
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.EnsureManager(ctx, e.db, e.w2.ID, attackW2Admin, seed.DemoPassword, tenancy.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := e.db.InScope(ctx, tenancy.SystemScope(e.w2.ID), func(tx *store.Tx) error {
		var acme2 *tenancy.Tenant
		for _, id := range []string{"acme", "globex"} {
			tn, err := tx.CreateTenant(ctx, store.NewTenant{InternalID: id, Name: id + " of W2", Fields: map[string]any{"plan": "pro"}})
			if err != nil {
				return err
			}
			if id == "acme" {
				acme2 = tn
			}
		}
		e.acme2 = acme2.ID
		in, err := tx.CreateIntegration(ctx, store.IntegrationInput{Key: "hubspot", Name: "HubSpot", BaseURL: "https://api.hubapi.com", AuthType: "bearer"})
		if err != nil {
			return err
		}
		if _, err := tx.CreateElement(ctx, store.ElementInput{Kind: tenancy.KindAction, Key: "list-deals", Name: "List deals", Type: "http-request",
			IntegrationID: in.ID, Config: map[string]any{"method": "GET", "path": "/deals"}}); err != nil {
			return err
		}
		c, err := tx.CreateConnection(ctx, store.NewConnection{TenantID: acme2.ID, IntegrationID: in.ID, Name: "Acme HubSpot", Key: "main",
			Credentials: map[string]any{"accessToken": "acme-conn-secret-w2"}})
		if err != nil {
			return err
		}
		return tx.Record(ctx, store.Activity{Type: "action.run", TenantID: acme2.ID, ConnectionID: c.ID, IntegrationID: in.ID, Message: "acme run in w2"})
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// consoleVal is a value put in a Console path. A W1 id names W1's thing only; a name
// (internalId, key, kind) names W2's own thing as well, when W2 has one.
type consoleVal struct {
	s    string
	w1ID bool
}

// consoleParamKind names what a path parameter holds, from the segments around it.
func consoleParamKind(path, param string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	i := slices.Index(segs, "{"+param+"}")
	if i < 1 {
		return ""
	}
	prev, before2 := segs[i-1], ""
	if i >= 2 {
		before2 = segs[i-2]
	}
	switch {
	case param == "id" && prev == "tenants":
		return "tenant"
	case param == "key" && prev == "fields":
		return "field-key"
	case param == "key" && prev == "credentials":
		return "credential-key"
	case param == "kind" && (prev == "customizations" || prev == "elements"):
		return "element-kind"
	case param == "key" && prev == "{kind}" && before2 == "customizations":
		return "template-key"
	case param == "id" && prev == "{kind}" && before2 == "elements":
		return "element"
	case param == "cid" && prev == "connections":
		return "connection"
	case param == "id" && prev == "members":
		return "manager"
	case param == "id" && prev == "integrations":
		return "integration"
	case param == "kind" && prev == "universe":
		return "universe-kind"
	case param == "key" && prev == "{kind}" && before2 == "universe":
		return "universe-key"
	case param == "id" && prev == "activity":
		return "activity"
	}
	return ""
}

// values are W1's values for a parameter kind: ids first (the support sweep uses the first).
func (e *consoleAttack) values(t *testing.T, kind string) []consoleVal {
	switch kind {
	case "tenant":
		return []consoleVal{{e.acme.String(), true}, {"acme", false}}
	case "field-key":
		return []consoleVal{{"apiToken", false}}
	case "credential-key":
		return []consoleVal{{"apiKey", false}}
	case "element-kind":
		return []consoleVal{{"actions", false}}
	case "template-key":
		return []consoleVal{{"list-deals", false}}
	case "element":
		return []consoleVal{{e.listDeals.String(), true}, {"list-deals", false}}
	case "connection":
		return []consoleVal{{e.acmeConn.String(), true}}
	case "manager":
		return []consoleVal{{e.support.String(), true}, {e.w1Admin.String(), true}}
	case "integration":
		return []consoleVal{{e.hubspot.String(), true}, {"hubspot", false}}
	case "universe-kind":
		return []consoleVal{{"apps", false}}
	case "universe-key":
		var key string
		if err := e.db.SQL().GetContext(context.Background(), &key, `SELECT key FROM universe_elements WHERE kind = 'app' ORDER BY key LIMIT 1`); err != nil {
			t.Fatalf("a universe app: %v", err)
		}
		return []consoleVal{{key, false}}
	case "activity":
		return []consoleVal{{e.acmeEntry.String(), true}, {e.wsEntry.String(), true}}
	}
	return nil
}

var consoleParamRE = regexp.MustCompile(`\{([a-zA-Z$]+)\}`)

// fill returns every filling of a route's path with W1's values (only the first value of each
// parameter when first is set), or an error naming the parameter it cannot fill.
func (e *consoleAttack) fill(t *testing.T, path string, first bool) ([][]consoleVal, []string, error) {
	params := consoleParamRE.FindAllStringSubmatch(path, -1)
	combos := [][]consoleVal{{}}
	for _, p := range params {
		if p[1] == "$" {
			continue
		}
		vs := e.values(t, consoleParamKind(path, p[1]))
		if vs == nil {
			return nil, nil, fmt.Errorf("parameter {%s}: unknown kind (teach consoleParamKind and values)", p[1])
		}
		if first {
			vs = vs[:1]
		}
		var next [][]consoleVal
		for _, c := range combos {
			for _, v := range vs {
				next = append(next, append(slices.Clone(c), v))
			}
		}
		combos = next
	}
	var paths []string
	for _, c := range combos {
		i := 0
		paths = append(paths, consoleParamRE.ReplaceAllStringFunc(path, func(m string) string {
			if m == "{$}" {
				return ""
			}
			v := c[i].s
			i++
			return v
		}))
	}
	return combos, paths, nil
}

// attackForm is a plausible form for every Console write: each route reads the fields it knows.
func (e *consoleAttack) attackForm() url.Values {
	return url.Values{
		"internalId": {"made-by-attacker"}, "name": {"Hijacked"}, "key": {"apiKey"}, "value": {"stolen"}, "limit": {"1"},
		"confirmed": {"yes"}, "config": {`{"query":{"owner":"attacker"}}`}, "integration": {e.hubspot.String()},
		"integrationId": {e.hubspot.String()}, "credentialKey": {"accessToken"}, "credentialValue": {"stolen"},
		"role": {"admin"}, "email": {"attacker@evil.test"}, "fields.plan": {"starter"}, "fields.apiToken": {"stolen"},
		"baseUrl": {"https://evil.example"}, "authType": {"bearer"}, "type": {"http-request"}, "description": {"x"},
	}
}

// request sends GET or a form POST (with htmx headers when hx).
func (e *consoleAttack) request(t *testing.T, c *http.Client, method, path string, hx bool) result {
	t.Helper()
	var h []string
	if hx {
		h = hxHeaders
	}
	if method == http.MethodGet {
		return e.get(t, c, path, h...)
	}
	return e.postForm(t, c, path, e.attackForm(), h...)
}

// attackClean fails when body contains anything of forbid, once the values the request itself sent
// (a page may echo them) are taken out.
func attackClean(t *testing.T, what, body string, forbid []string, sent ...string) {
	t.Helper()
	s := strings.ToLower(body)
	for _, v := range sent {
		s = strings.ReplaceAll(s, strings.ToLower(v), "")
	}
	for _, f := range forbid {
		if strings.Contains(s, strings.ToLower(f)) {
			i := strings.Index(s, strings.ToLower(f))
			lo, hi := max(0, i-150), min(len(s), i+150)
			t.Errorf("%s: the answer contains %q, which is not the caller's to see: …%s…", what, f, s[lo:hi])
		}
	}
}

// attackQueryValue is the value in a one-parameter query string ("?tenant=acme": "acme").
func attackQueryValue(qs string) string {
	_, v, _ := strings.Cut(qs, "=")
	return v
}

// attackRowIDs are the ids of the rows, of every table with an id column and col, whose col is arg.
func attackRowIDs(t *testing.T, e *testEnv, col string, arg any) []string {
	t.Helper()
	ctx := context.Background()
	var tables []string
	if err := e.db.SQL().SelectContext(ctx, &tables, `SELECT format('%I.%I', c1.table_schema, c1.table_name)
		FROM information_schema.columns c1 JOIN information_schema.columns c2 USING (table_schema, table_name)
		JOIN pg_class pc ON pc.oid = format('%I.%I', c1.table_schema, c1.table_name)::regclass
		WHERE c1.column_name = 'id' AND c2.column_name = $1 AND pc.relkind IN ('r', 'p') AND NOT pc.relispartition
		AND c1.table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`, col); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		var ids []string
		if err := e.db.SQL().SelectContext(ctx, &ids, `SELECT id::text FROM `+tb+` WHERE `+col+` = $1`, arg); err != nil {
			t.Fatalf("%s: %v", tb, err)
		}
		out = append(out, ids...)
	}
	if len(out) < 5 {
		t.Fatalf("rows with %s = %v: only %v", col, arg, out)
	}
	return out
}

// attackSnapshot reads every row of every table (every column) as the superuser, as JSON, sorted.
func attackSnapshot(t *testing.T, e *testEnv) map[string][]string {
	t.Helper()
	ctx := context.Background()
	var tables []string
	if err := e.db.SQL().SelectContext(ctx, &tables, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, tb := range tables {
		var rows []string
		if err := e.db.SQL().SelectContext(ctx, &rows, `SELECT to_jsonb(t)::text FROM `+tb+` t ORDER BY 1`); err != nil {
			t.Fatalf("snapshot %s: %v", tb, err)
		}
		out[tb] = rows
	}
	if len(out) < 10 {
		t.Fatalf("snapshot: only %d tables", len(out))
	}
	return out
}

// sameAttackSnapshot fails with the rows that differ.
func sameAttackSnapshot(t *testing.T, what string, before, after map[string][]string) {
	t.Helper()
	tables := map[string]bool{}
	for k := range before {
		tables[k] = true
	}
	for k := range after {
		tables[k] = true
	}
	for tb := range tables {
		b, a := before[tb], after[tb]
		if slices.Equal(b, a) {
			continue
		}
		var gone, added []string
		for _, r := range b {
			if !slices.Contains(a, r) {
				gone = append(gone, r)
			}
		}
		for _, r := range a {
			if !slices.Contains(b, r) {
				added = append(added, r)
			}
		}
		t.Errorf("%s changed table %s (%d rows before, %d after):\n  gone:  %s\n  added: %s", what, tb, len(b), len(a),
			strings.Join(gone, "\n         "), strings.Join(added, "\n         "))
	}
}

// consoleStreams are routes that stream until the client leaves: the list sweep does not read
// them whole (their own tests cover them).
var consoleStreams = map[string]bool{"GET /activity/live": true}

// TestAttackConsole: W2's admin with W1's ids, W1's support manager's writes, and portal
// sessions with another tenant's entries.
func TestAttackConsole(t *testing.T) {
	start := time.Now()
	e := newConsoleAttack(t)
	w2 := e.signedIn(t, attackW2Admin)
	support := e.signedIn(t, seed.SupportEmail)
	routes := e.srv.consoleRoutes()

	// What W2 must never see: the id of every row of W1 (and of W1's managers), W1's secrets
	// and W1's managers' emails.
	w1Forbid := append(attackRowIDs(t, e.testEnv, "workspace_id", e.ws.ID), e.ws.ID.String(), e.support.String(), e.w1Admin.String(),
		"secret-w1", "private run w1", "private change w1", "@demo.test")
	// The check is not vacuous: W1's admin sees W1's ids on the pages W2 reads.
	w1 := e.signedIn(t, seed.AdminEmail)
	for _, p := range []string{"/tenants", "/connections", "/activity", "/integrations", "/settings/members", "/tenants/acme"} {
		r := e.get(t, w1, p)
		if r.StatusCode != 200 || !slices.ContainsFunc(w1Forbid, func(s string) bool { return strings.Contains(strings.ToLower(r.body), strings.ToLower(s)) }) {
			t.Errorf("W1's admin: GET %s (%d) shows nothing W2 must not see: the check would be vacuous", p, r.StatusCode)
		}
	}
	// W1's values name real things: W1's admin opens every page with parameters with them.
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if method != http.MethodGet || !strings.Contains(strings.ReplaceAll(path, "{$}", ""), "{") {
			continue
		}
		if _, paths, err := e.fill(t, path, true); err == nil {
			if r := e.get(t, w1, paths[0]); r.StatusCode != 200 {
				t.Errorf("W1's admin: GET %s: status %d: W1's values name nothing (fixture or kind map wrong)", paths[0], r.StatusCode)
			}
		}
	}
	// A route the suite cannot fill fails it.
	if _, _, err := e.fill(t, "/tenants/{id}/widgets/{wid}", false); err == nil {
		t.Error("a route with an unknown parameter would escape the suite")
	}

	// Portal sessions (opening one writes a session row): globex's in W1, W2's acme's.
	globexForbid := append(attackRowIDs(t, e.testEnv, "tenant_id", e.acme), e.acme.String(), e.wsEntry.String(),
		"acme", "private change w1")
	w2Tok, err := auth.Sign([]byte(e.w2Secret), e.w2.Key, "acme", "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	glxTok, err := auth.Sign(e.w1Secret, seed.WorkspaceKey, "globex", "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	portals := []struct {
		name   string
		c      *http.Client
		forbid []string
	}{{"globex's portal (W1)", e.client(t), globexForbid}, {"W2's acme's portal", e.client(t), w1Forbid}}
	for i, tok := range []string{glxTok, w2Tok} {
		wantRedirect(t, e.get(t, portals[i].c, "/portal/activity?token="+url.QueryEscape(tok)), "/portal/activity")
	}

	before := attackSnapshot(t, e.testEnv)
	sent := 0

	// 1. W2's admin, every route with parameters, W1's values.
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if !strings.Contains(strings.ReplaceAll(path, "{$}", ""), "{") {
			continue
		}
		combos, paths, err := e.fill(t, path, false)
		if err != nil {
			t.Errorf("route not covered by the attack suite: %s: %v", rt.pattern, err)
			continue
		}
		attacked := false
		for i, c := range combos {
			hasID := slices.ContainsFunc(c, func(v consoleVal) bool { return v.w1ID })
			var sentVals []string
			for _, v := range c {
				sentVals = append(sentVals, v.s)
			}
			if !hasID && method != http.MethodGet {
				// Names only: W2's own things of the same names. Only the form names W1's
				// integration (integrationId): a create with it must fail.
				if !strings.HasSuffix(path, "}") || strings.Count(path, "{") != 1 || consoleParamKind(path, "kind") != "element-kind" {
					continue
				}
				r := e.request(t, w2, method, paths[i], false)
				what := fmt.Sprintf("W2's admin: %s %s with W1's integration id in the form", method, paths[i])
				sent++
				attacked = true
				if r.StatusCode < 400 || r.StatusCode >= 500 {
					t.Errorf("%s: status %d (Location %q), want a 4xx form error", what, r.StatusCode, r.Header.Get("Location"))
				}
				attackClean(t, what, r.body, w1Forbid, e.hubspot.String())
				continue
			}
			for _, hx := range []bool{false, true} {
				r := e.request(t, w2, method, paths[i], hx)
				what := fmt.Sprintf("W2's admin: %s %s (htmx %v)", method, paths[i], hx)
				sent++
				switch {
				case r.StatusCode >= 500:
					t.Errorf("%s: status %d (a server error):\n%s", what, r.StatusCode, r.body)
				case hasID && r.StatusCode != http.StatusNotFound:
					t.Errorf("%s: status %d, want 404 (Location %q)", what, r.StatusCode, r.Header.Get("Location"))
				}
				if hasID {
					attacked = true
				}
				attackClean(t, what, r.body, w1Forbid, sentVals...)
			}
		}
		if !attacked && method != http.MethodGet {
			t.Errorf("%s: no request with W1's ids", rt.pattern)
		}
	}

	// 2. W2's admin reads every page without parameters, with filters naming W1's things.
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.ReplaceAll(path, "{$}", "")
		if method != http.MethodGet || strings.Contains(path, "{") || rt.access == public || consoleStreams[rt.pattern] {
			continue
		}
		for _, qs := range []string{"", "?tenant=" + e.acme.String(), "?tenant=acme", "?connection=" + e.acmeConn.String(),
			"?integration=" + e.hubspot.String(), "?q=acme", "?tenantq=acme", "?element=" + e.listDeals.String()} {
			r := e.get(t, w2, path+qs)
			what := "W2's admin: GET " + path + qs
			sent++
			if r.StatusCode >= 500 || (qs == "" && r.StatusCode != 200 && !(r.StatusCode == 303 && strings.HasPrefix(r.Header.Get("Location"), "/"))) {
				t.Errorf("%s: status %d", what, r.StatusCode)
			}
			attackClean(t, what, r.body, w1Forbid, attackQueryValue(qs))
		}
	}

	// 3. W1's support manager: every POST and every admin-only page, with W1's real ids, is 403.
	writes := 0
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if rt.pattern == "POST /signin" || rt.pattern == "POST /signout" || (method == http.MethodGet && rt.access != admin) {
			continue
		}
		_, paths, err := e.fill(t, path, true)
		if err != nil {
			t.Errorf("route not covered by the attack suite: %s: %v", rt.pattern, err)
			continue
		}
		writes++
		for _, hx := range []bool{false, true} {
			r := e.request(t, support, method, paths[0], hx)
			sent++
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("W1's support: %s %s (htmx %v): status %d, want 403", method, paths[0], hx, r.StatusCode)
			}
			wantAbsent(t, "W1's support "+paths[0], r.body, "acme-field-secret-w1", "acme-cred-secret-w1")
		}
	}
	if writes < 30 {
		t.Errorf("the support sweep sent only %d routes: it is not sweeping", writes)
	}

	// 4. Portal sessions: globex's (W1) and W2's acme's open acme's and the workspace's entries.
	for _, p := range portals {
		c := p.c
		own := e.get(t, c, "/portal/activity")
		if own.StatusCode != 200 || !strings.Contains(own.body, `data-testid="portal-row"`) {
			t.Errorf("%s: its own list (%d) shows no entry: the check would be vacuous", p.name, own.StatusCode)
		}
		for _, rt := range e.srv.portalRoutes() {
			_, path, _ := strings.Cut(rt.pattern, " ")
			if !strings.Contains(path, "{") {
				for _, qs := range []string{"", "?connection=" + e.acmeConn.String(), "?integration=hubspot", "?q=acme", "?q=private", "?tenant=acme"} {
					r := e.get(t, c, path+qs)
					what := p.name + ": GET " + path + qs
					sent++
					if r.StatusCode != 200 {
						t.Errorf("%s: status %d", what, r.StatusCode)
					}
					attackClean(t, what, r.body, p.forbid, attackQueryValue(qs))
				}
				continue
			}
			combos, paths, err := e.fill(t, path, false)
			if err != nil {
				t.Errorf("portal route not covered by the attack suite: %s: %v", rt.pattern, err)
				continue
			}
			for i := range combos {
				for _, hx := range []bool{false, true} {
					r := e.request(t, c, http.MethodGet, paths[i], hx)
					what := fmt.Sprintf("%s: GET %s (htmx %v)", p.name, paths[i], hx)
					sent++
					if r.StatusCode != http.StatusNotFound {
						t.Errorf("%s: status %d, want 404", what, r.StatusCode)
					}
					attackClean(t, what, r.body, p.forbid, combos[i][0].s)
				}
			}
		}
	}

	sameAttackSnapshot(t, "the attacks", before, attackSnapshot(t, e.testEnv))
	t.Logf("%d requests over %d Console and %d portal routes in %v", sent, len(routes), len(e.srv.portalRoutes()),
		time.Since(start).Round(time.Millisecond))
}
