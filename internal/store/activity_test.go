package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// activityEnv is a workspace with tenants A and B and a known set of entries, written past RLS
// with chosen times, types, statuses and references, so each filter's answer is known exactly.
type activityEnv struct {
	db         *store.DB
	ws, other  *tenancy.Workspace
	a, b       *tenancy.Tenant
	integ, con uuid.UUID
	elem       uuid.UUID
	entries    []entry // what was written, newest first
}

type entry struct {
	id                 uuid.UUID
	at                 time.Time
	tenant             uuid.UUID
	typ, status, actor string
	integ, conn, elem  uuid.UUID
	message            string
}

func newActivityEnv(t *testing.T) *activityEnv {
	t.Helper()
	db := newDB(t)
	e := &activityEnv{db: db, ws: mustWorkspace(t, db, "act"), other: mustWorkspace(t, db, "act2")}
	e.a = mustTenant(t, db, e.ws.ID, "a", "A")
	e.b = mustTenant(t, db, e.ws.ID, "b", "B")
	e.integ, e.con, e.elem = uuid.New(), uuid.New(), uuid.New()
	ctx := context.Background()
	now := time.Now().UTC()
	if err := db.EnsureActivityPartitions(ctx, now.Add(-40*24*time.Hour), now); err != nil {
		t.Fatal(err)
	}
	// Remove what creating the tenants recorded, so the fixture is exactly what follows.
	if _, err := db.SQL().ExecContext(ctx, `DELETE FROM activity_log`); err != nil {
		t.Fatal(err)
	}
	types := []string{"action.run", "tenant.updated", "connection.created", "flow.run"}
	statuses := []string{"success", "success", "error", "warning"}
	actors := []string{"tenant-token", "manager", "workspace-token", "system"}
	for i := 0; i < 60; i++ {
		en := entry{id: tenancy.NewID(), at: now.Add(-time.Duration(i) * 7 * time.Hour), typ: types[i%4], status: statuses[i%4],
			actor: actors[(i/2)%4], message: fmt.Sprintf("entry %d about %s", i, []string{"deals", "contacts", "invoices"}[i%3])}
		switch i % 3 {
		case 0:
			en.tenant = e.a.ID
		case 1:
			en.tenant = e.b.ID
		}
		if i%5 == 0 {
			en.integ, en.conn = e.integ, e.con
		}
		if i%6 == 0 {
			en.elem = e.elem
		}
		e.insert(t, e.ws.ID, en)
		e.entries = append(e.entries, en)
	}
	// Another workspace's entries, with the same tenant ids and texts: never visible here.
	for i := 0; i < 5; i++ {
		e.insert(t, e.other.ID, entry{id: tenancy.NewID(), at: now.Add(-time.Duration(i) * time.Hour), tenant: e.a.ID,
			typ: "action.run", status: "error", actor: "system", message: "entry about deals", integ: e.integ, conn: e.con, elem: e.elem})
	}
	return e
}

func (e *activityEnv) insert(t *testing.T, ws uuid.UUID, en entry) {
	t.Helper()
	nu := func(id uuid.UUID) any {
		if id == uuid.Nil {
			return nil
		}
		return id
	}
	if _, err := e.db.SQL().ExecContext(context.Background(), `INSERT INTO activity_log (workspace_id, created_at, id, tenant_id, type,
		status, actor_type, actor_id, integration_id, connection_id, element_id, message, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9, $10, $11, '{"k":1}')`, ws, en.at, en.id, nu(en.tenant), en.typ, en.status,
		en.actor, nu(en.integ), nu(en.conn), nu(en.elem), en.message); err != nil {
		t.Fatal(err)
	}
}

// want lists, newest first, the ids of the fixture's entries that pred accepts (within 30 days).
func (e *activityEnv) want(pred func(entry) bool) []uuid.UUID {
	var out []uuid.UUID
	for _, en := range e.entries {
		if en.at.After(time.Now().Add(-30*24*time.Hour)) && pred(en) {
			out = append(out, en.id)
		}
	}
	return out
}

// all pages through f in scope, pageSize at a time, and returns the ids in order.
func (e *activityEnv) all(t *testing.T, scope tenancy.Scope, f store.ActivityFilter) []uuid.UUID {
	t.Helper()
	var out []uuid.UUID
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		var page *store.ActivityPage
		if err := e.db.InScope(context.Background(), scope, func(tx *store.Tx) (err error) {
			page, err = tx.ListActivity(context.Background(), f)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			out = append(out, it.ID)
		}
		if page.Cursor == "" {
			return out
		}
		f.Cursor = page.Cursor
	}
}

func TestActivityFiltersAndCombinations(t *testing.T) {
	e := newActivityEnv(t)
	wide := tenancy.WorkspaceScope(e.ws.ID, tenancy.Actor{Type: tenancy.ActorManager, Role: tenancy.RoleAdmin})
	from := time.Now().Add(-5 * 24 * time.Hour)
	to := time.Now().Add(-2 * 24 * time.Hour)
	cases := []struct {
		name string
		f    store.ActivityFilter
		pred func(entry) bool
	}{
		{"everything", store.ActivityFilter{}, func(entry) bool { return true }},
		{"tenant", store.ActivityFilter{TenantID: e.a.ID}, func(x entry) bool { return x.tenant == e.a.ID }},
		{"one type", store.ActivityFilter{Types: []string{"flow.run"}}, func(x entry) bool { return x.typ == "flow.run" }},
		{"several types", store.ActivityFilter{Types: []string{"flow.run", "action.run"}}, func(x entry) bool { return x.typ == "flow.run" || x.typ == "action.run" }},
		{"status", store.ActivityFilter{Statuses: []string{"error"}}, func(x entry) bool { return x.status == "error" }},
		{"statuses", store.ActivityFilter{Statuses: []string{"error", "warning"}}, func(x entry) bool { return x.status != "success" }},
		{"integration", store.ActivityFilter{IntegrationID: e.integ}, func(x entry) bool { return x.integ == e.integ }},
		{"connection", store.ActivityFilter{ConnectionID: e.con}, func(x entry) bool { return x.conn == e.con }},
		{"element", store.ActivityFilter{ElementID: e.elem}, func(x entry) bool { return x.elem == e.elem }},
		{"actor", store.ActivityFilter{ActorTypes: []string{"manager"}}, func(x entry) bool { return x.actor == "manager" }},
		{"time range", store.ActivityFilter{From: &from, To: &to}, func(x entry) bool { return !x.at.Before(from) && x.at.Before(to) }},
		{"text", store.ActivityFilter{Text: "INVOICES"}, func(x entry) bool { return strings.Contains(x.message, "invoices") }},
		{"text with LIKE metacharacters", store.ActivityFilter{Text: "%_"}, func(x entry) bool { return false }},
		{"tenant + status", store.ActivityFilter{TenantID: e.b.ID, Statuses: []string{"error"}},
			func(x entry) bool { return x.tenant == e.b.ID && x.status == "error" }},
		{"types + statuses + actor", store.ActivityFilter{Types: []string{"connection.created", "action.run"}, Statuses: []string{"error", "success"}, ActorTypes: []string{"workspace-token", "tenant-token"}},
			func(x entry) bool {
				return (x.typ == "connection.created" || x.typ == "action.run") && x.status != "warning" && (x.actor == "workspace-token" || x.actor == "tenant-token")
			}},
		{"text + tenant + time", store.ActivityFilter{Text: "deals", TenantID: e.a.ID, From: &from},
			func(x entry) bool {
				return strings.Contains(x.message, "deals") && x.tenant == e.a.ID && !x.at.Before(from)
			}},
		{"text + type + connection", store.ActivityFilter{Text: "entry", Types: []string{"action.run", "flow.run"}, ConnectionID: e.con},
			func(x entry) bool { return (x.typ == "action.run" || x.typ == "flow.run") && x.conn == e.con }},
	}
	for _, c := range cases {
		for _, size := range []int{7, 1000} {
			f := c.f
			f.Limit = size
			got := e.all(t, wide, f)
			want := e.want(c.pred)
			if !slices.Equal(got, want) {
				t.Errorf("%s (pages of %d): %d entries, want %d\n got %v\nwant %v", c.name, size, len(got), len(want), got, want)
			}
		}
	}
	// A sanity check that the fixture exercises something: several filters select few entries.
	if n := len(e.want(func(x entry) bool { return x.tenant == e.b.ID && x.status == "error" })); n == 0 {
		t.Fatal("fixture: tenant + status selects nothing")
	}
}

func TestActivityTenantScopeSeesOnlyItsEntries(t *testing.T) {
	e := newActivityEnv(t)
	scopeA := tenancy.TenantScope(e.ws.ID, e.a.ID)
	got := e.all(t, scopeA, store.ActivityFilter{})
	want := e.want(func(x entry) bool { return x.tenant == e.a.ID })
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("A sees %d entries, want its %d", len(got), len(want))
	}
	// Every filter that names B, or matches B's and workspace-level entries, still finds only A's.
	for name, f := range map[string]store.ActivityFilter{
		"B's tenant id":  {TenantID: e.b.ID},
		"text":           {Text: "entry"},
		"connection":     {ConnectionID: e.con},
		"type":           {Types: []string{"tenant.updated", "connection.created"}},
		"text + B":       {Text: "deals", TenantID: e.b.ID},
		"actor":          {ActorTypes: []string{"manager", "system"}},
		"element":        {ElementID: e.elem},
		"several status": {Statuses: []string{"success", "error", "warning"}},
	} {
		for _, id := range e.all(t, scopeA, f) {
			if !slices.Contains(want, id) {
				t.Errorf("A's scope with filter %s returned entry %s, which is not A's", name, id)
			}
		}
	}
	// By id: B's entry and a workspace-level entry are not found.
	var bID, wsID uuid.UUID
	for _, en := range e.entries {
		if en.tenant == e.b.ID && bID == uuid.Nil {
			bID = en.id
		}
		if en.tenant == uuid.Nil && wsID == uuid.Nil {
			wsID = en.id
		}
	}
	err := e.db.InScope(context.Background(), scopeA, func(tx *store.Tx) error {
		for _, id := range []uuid.UUID{bID, wsID} {
			if _, err := tx.ActivityEntry(context.Background(), id); !errors.Is(err, tenancy.ErrNotFound) {
				t.Errorf("A reading entry %s: %v, want not found", id, err)
			}
		}
		own, err := tx.ActivityEntry(context.Background(), want[0])
		if err != nil || own.ID != want[0] || own.Details["k"] != float64(1) {
			t.Errorf("A reading its own entry: %+v, %v", own, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// New entries arriving while someone pages do not shift or repeat what the cursor has not
// reached: they are newer than the first page.
func TestActivityCursorIsStableWhileEntriesArrive(t *testing.T) {
	e := newActivityEnv(t)
	wide := tenancy.WorkspaceScope(e.ws.ID, tenancy.Actor{Type: tenancy.ActorManager, Role: tenancy.RoleAdmin})
	want := e.want(func(entry) bool { return true })
	var got []uuid.UUID
	f := store.ActivityFilter{Limit: 10}
	for {
		var page *store.ActivityPage
		if err := e.db.InScope(context.Background(), wide, func(tx *store.Tx) (err error) {
			page, err = tx.ListActivity(context.Background(), f)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			got = append(got, it.ID)
		}
		// Between pages, three new entries arrive through the recorder.
		if err := e.db.InScope(context.Background(), wide, func(tx *store.Tx) error {
			for i := 0; i < 3; i++ {
				if err := tx.Record(context.Background(), store.Activity{Type: "action.run", Message: "arrived"}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if page.Cursor == "" {
			break
		}
		f.Cursor = page.Cursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d entries, want the %d that existed when paging began", len(got), len(want))
	}
}

func TestActivityRecordRedactsSecrets(t *testing.T) {
	db := newDB(t)
	ws := mustWorkspace(t, db, "red")
	ctx := context.Background()
	sentinel := "sentinel-" + uuid.NewString()
	err := db.InScope(ctx, tenancy.SystemScope(ws.ID), func(tx *store.Tx) error {
		return tx.Record(ctx, store.Activity{Type: "action.run", Details: map[string]any{
			"input":       map[string]any{"email": "a@b.c", "apiKey": sentinel, "nested": []any{map[string]any{"password": sentinel}}},
			"output":      map[string]any{"access_token": sentinel, "Authorization": "Bearer " + sentinel},
			"headers":     map[string]any{"X-Client-Secret": sentinel, "Accept": "json"},
			"credentials": map[string]any{"user": sentinel},
		}})
	})
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := db.SQL().GetContext(ctx, &raw, `SELECT details::text FROM activity_log WHERE workspace_id = $1 AND type = 'action.run'`, ws.ID); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, sentinel) {
		t.Fatalf("a secret reached the log: %s", raw)
	}
	var d map[string]any
	_ = json.Unmarshal([]byte(raw), &d)
	if d["input"].(map[string]any)["email"] != "a@b.c" || d["headers"].(map[string]any)["Accept"] != "json" ||
		d["input"].(map[string]any)["apiKey"] != tenancy.Redacted {
		t.Errorf("redaction took too much or too little: %s", raw)
	}
}

func TestActivityRetentionAndPartitions(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	keep := mustWorkspace(t, db, "keep90")
	short := mustWorkspace(t, db, "keep7")
	ninety, seven := 90, 7
	for ws, days := range map[uuid.UUID]*int{keep.ID: &ninety, short.ID: &seven} {
		b, _ := json.Marshal(tenancy.Settings{ActivityRetentionDays: days})
		if _, err := db.SQL().ExecContext(ctx, `UPDATE workspaces SET settings = $2 WHERE id = $1`, ws, string(b)); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	if err := db.EnsureActivityPartitions(ctx, now.Add(-120*24*time.Hour), now); err != nil {
		t.Fatal(err)
	}
	partitions := func() int {
		var n int
		if err := db.SQL().GetContext(ctx, &n, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'activity_log'::regclass`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := partitions()
	if before < 19 {
		t.Fatalf("%d weekly partitions for 120 days back and 14 ahead", before)
	}
	for _, ws := range []uuid.UUID{keep.ID, short.ID} {
		for _, age := range []int{1, 10, 60, 100} {
			if _, err := db.SQL().ExecContext(ctx, `INSERT INTO activity_log (workspace_id, created_at, id, type, actor_type, message)
				VALUES ($1, now() - make_interval(days => $2), gen_random_uuid(), 'test', 'system', $3)`, ws, age, fmt.Sprint(age)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Hidden at once: the short workspace's reads stop at 7 days before the job runs.
	err := db.InScope(ctx, tenancy.SystemScope(short.ID), func(tx *store.Tx) error {
		p, err := tx.ListActivity(ctx, store.ActivityFilter{})
		if err != nil {
			return err
		}
		if len(p.Items) != 1 || p.Items[0].Message != "1" {
			t.Errorf("the 7-day workspace shows %d entries", len(p.Items))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	created, dropped, deleted, err := db.MaintainActivity(ctx, true, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Partitions older than the longest retention (90 days) go; the 7-day workspace loses its
	// 10- and 60-day entries row by row; the 90-day one keeps everything younger than 90 days.
	if dropped < 3 || created != 0 {
		t.Errorf("maintenance created %d and dropped %d partitions", created, dropped)
	}
	if deleted != 2 {
		t.Errorf("deleted %d rows, want 2 (the 7-day workspace's 10- and 60-day entries)", deleted)
	}
	var left []string
	if err := db.SQL().SelectContext(ctx, &left, `SELECT w.key || ':' || a.message FROM activity_log a JOIN workspaces w ON w.id = a.workspace_id
		WHERE a.type = 'test' ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(left, ",") != "keep7:1,keep90:1,keep90:10,keep90:60" {
		t.Errorf("left after expiry: %v", left)
	}
	if partitions() != before-dropped {
		t.Errorf("partition count %d, want %d", partitions(), before-dropped)
	}
	var stale int
	if err := db.SQL().GetContext(ctx, &stale, `SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'activity_log'::regclass AND to_date(substr(c.relname, 15), 'YYYYMMDD') + 7 <= current_date - 90`); err != nil {
		t.Fatal(err)
	}
	if stale != 0 {
		t.Errorf("%d partitions wholly past the longest retention remain", stale)
	}
	// Ahead of time: the next 14 days exist.
	var ahead int
	if err := db.SQL().GetContext(ctx, &ahead, `SELECT count(*) FROM pg_class
		WHERE relname = 'activity_log_w' || to_char(date_trunc('week', (now() AT TIME ZONE 'UTC')::date + 14), 'YYYYMMDD')`); err != nil {
		t.Fatal(err)
	}
	if ahead != 1 {
		t.Error("no partition 14 days ahead")
	}
}

// Search words go through the parser that indexed the messages, so hyphenated words and their
// prefixes are found, and tsquery syntax in a search is only text.
func TestActivitySearchFindsHyphenatedWords(t *testing.T) {
	e := newActivityEnv(t)
	wide := tenancy.WorkspaceScope(e.ws.ID, tenancy.Actor{Type: tenancy.ActorManager, Role: tenancy.RoleAdmin})
	target := entry{id: tenancy.NewID(), at: time.Now().Add(-time.Minute), typ: "action.run", status: "error", actor: "system",
		message: "Action create-invoice failed: timeout after 30 s for cust-4217 (user@example.com) in 12 ms"}
	e.insert(t, e.ws.ID, target)
	for q, want := range map[string]bool{
		"cust-4217":               true,
		"cust-421":                true,
		"create-invoice timeout":  true,
		"TIMEOUT cust-4217":       true,
		"cust-999":                false,
		"timeout & !deals":        false, // '&' and '!' are text, not operators: "deals" must match too
		"create-invoice' | 'x":    true,  // quotes and '|' stripped: create-invoice x… — no 'x' word: false below
		"invoice:* <-> (timeout)": true,
		"\\' OR 1=1 --":           false,
	} {
		got := e.all(t, wide, store.ActivityFilter{Text: q})
		found := slices.Contains(got, target.id)
		if q == "create-invoice' | 'x" {
			want = false // "x" is a word of its own and no message has a word starting with x
		}
		if found != want {
			t.Errorf("search %q: found %v, want %v (%d results)", q, found, want, len(got))
		}
	}
}
