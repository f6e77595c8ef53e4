package api_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// actEnv is an API with tenants ta and tb, an integration, one connection each, and a known set
// of activity entries written past RLS with chosen times and references, so that every filter's
// answer is known exactly.
type actEnv struct {
	*env
	a, b           customer
	integ          *tenancy.Integration
	connA, connB   *tenancy.Connection
	elem, elemB    uuid.UUID
	entries        []actEntry // newest first
	ws             uuid.UUID
	adminTok, aTok string
}

type actEntry struct {
	id                 uuid.UUID
	at                 time.Time
	tenant             uuid.UUID
	typ, status, actor string
	actorID            string
	integ, conn, elem  uuid.UUID
	message            string
	details            map[string]any
	duration           *int
}

// idAt is a UUIDv7 whose time is at, as the recorder's ids are for entries written at that time.
func idAt(at time.Time) uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(id[0:6], ms[2:8])
	return id
}

func newActEnv(t *testing.T) *actEnv {
	t.Helper()
	e := &actEnv{env: newEnv(t)}
	e.ws = e.env.ws.ID
	e.a = e.createCustomer(map[string]any{"internalId": "ta", "name": "Tenant A"})
	e.b = e.createCustomer(map[string]any{"internalId": "tb", "name": "Tenant B"})
	ctx := context.Background()
	err := e.db.InScope(ctx, tenancy.SystemScope(e.ws), func(tx *store.Tx) error {
		var err error
		if e.integ, err = tx.CreateIntegration(ctx, store.IntegrationInput{Key: "hub", Name: "Hub"}); err != nil {
			return err
		}
		if e.connA, err = tx.CreateConnection(ctx, store.NewConnection{TenantID: uuid.MustParse(e.a.ID), IntegrationID: e.integ.ID,
			Name: "A main", Key: "main"}); err != nil {
			return err
		}
		e.connB, err = tx.CreateConnection(ctx, store.NewConnection{TenantID: uuid.MustParse(e.b.ID), IntegrationID: e.integ.ID,
			Name: "B main", Key: "bmain"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.elem, e.elemB = uuid.New(), uuid.New()
	now := time.Now().UTC().Truncate(time.Microsecond) // the database keeps microseconds
	if err := e.db.EnsureActivityPartitions(ctx, now.Add(-5*24*time.Hour), now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.exec(`DELETE FROM activity_log`) // what the set-up recorded: the fixture is exactly what follows
	types := []string{"action.run", "tenant.updated", "connection.created", "flow.run"}
	statuses := []string{"success", "success", "error", "warning"}
	actors := []string{"tenant-token", "manager", "workspace-token", "system"}
	ta, tb := uuid.MustParse(e.a.ID), uuid.MustParse(e.b.ID)
	for i := 0; i < 41; i++ {
		at := now.Add(-time.Duration(i)*time.Hour - time.Minute)
		en := actEntry{id: idAt(at), at: at, typ: types[i%4], status: statuses[i%4], actor: actors[(i/2)%4],
			message: fmt.Sprintf("entry %d about %s", i, []string{"deals", "contacts", "invoices"}[i%3]),
			details: map[string]any{"n": float64(i)}}
		switch {
		case i%10 == 9: // workspace-level
		case i%2 == 0:
			en.tenant = ta
		default:
			en.tenant = tb
		}
		if i%3 == 0 {
			en.integ = e.integ.ID
			switch en.tenant {
			case ta:
				en.conn = e.connA.ID
			case tb:
				en.conn = e.connB.ID
			}
		}
		if i%4 == 0 {
			en.elem = e.elem
			if en.tenant == tb {
				en.elem = e.elemB
			}
		}
		if en.actor == "tenant-token" {
			en.actorID = "ta"
		}
		if en.typ == "action.run" {
			en.details = map[string]any{"input": map[string]any{"q": float64(i)}, "output": map[string]any{"ok": i%8 == 0}}
			d := 10 + i
			en.duration = &d
			if i%8 == 4 {
				en.status = "error"
				en.details["error"] = "upstream said no"
			}
		}
		e.insert(t, e.ws, en)
		e.entries = append(e.entries, en)
	}
	// Another workspace's entries with the same tenant ids and references: never visible.
	other, _ := e.workspace("w2")
	for i := 0; i < 3; i++ {
		at := now.Add(-time.Duration(i) * time.Minute)
		e.insert(t, other.ID, actEntry{id: idAt(at), at: at, tenant: ta, typ: "action.run", status: "error", actor: "system",
			message: "entry about deals", integ: e.integ.ID, conn: e.connA.ID, elem: e.elem})
	}
	e.adminTok = e.adminToken()
	e.aTok = e.tenantToken("ta", nil)
	return e
}

func (e *actEnv) insert(t *testing.T, ws uuid.UUID, en actEntry) {
	t.Helper()
	nu := func(id uuid.UUID) any {
		if id == uuid.Nil {
			return nil
		}
		return id
	}
	d, _ := json.Marshal(en.details)
	if en.details == nil {
		d = []byte("{}")
	}
	e.exec(`INSERT INTO activity_log (workspace_id, created_at, id, tenant_id, type, status, actor_type, actor_id,
		integration_id, connection_id, element_id, message, details, duration_ms, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'req-1')`, ws, en.at, en.id, nu(en.tenant), en.typ, en.status,
		en.actor, en.actorID, nu(en.integ), nu(en.conn), nu(en.elem), en.message, string(d), en.duration)
}

// want lists the ids of the fixture's entries that pred accepts, newest first.
func (e *actEnv) want(pred func(actEntry) bool) []string {
	out := []string{}
	for _, en := range e.entries {
		if pred(en) {
			out = append(out, en.id.String())
		}
	}
	return out
}

// actPage is one page of a list of entries.
type actPage struct {
	Items     []map[string]any
	Cursor    string
	HasCursor bool
}

func (e *actEnv) page(t *testing.T, token, path string) actPage {
	t.Helper()
	res := e.do(req{Method: "GET", Path: path, Token: token})
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, res.Status, res.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &raw); err != nil {
		t.Fatal(err)
	}
	var p actPage
	if err := json.Unmarshal(raw["items"], &p.Items); err != nil || p.Items == nil {
		t.Fatalf("GET %s: items: %v: %s", path, err, res.Body)
	}
	if c, ok := raw["cursor"]; ok {
		p.HasCursor = true
		_ = json.Unmarshal(c, &p.Cursor)
	}
	return p
}

// ids pages through a list limit entries at a time and returns every id in order; a page is
// full unless it is the last, and only the last has no cursor.
func (e *actEnv) ids(t *testing.T, token, base, query string, limit int) []string {
	t.Helper()
	out := []string{}
	cursor := "0" // the SDK's findAll starts with cursor=0
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s?%s: paging does not end", base, query)
		}
		q := fmt.Sprintf("limit=%d&cursor=%s", limit, url.QueryEscape(cursor))
		if query != "" {
			q = query + "&" + q
		}
		p := e.page(t, token, base+"?"+q)
		for _, it := range p.Items {
			out = append(out, it["id"].(string))
		}
		if !p.HasCursor {
			return out
		}
		if p.Cursor == "" {
			t.Fatalf("%s?%s: cursor present but empty", base, q)
		}
		if len(p.Items) != limit {
			t.Fatalf("%s?%s: a page with a cursor has %d items, want %d", base, q, len(p.Items), limit)
		}
		cursor = p.Cursor
	}
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %d entries, want %d\n got: %v\nwant: %v", what, len(got), len(want), got, want)
	}
}

// TestActivityLogFilters: each filter, its forms, and combinations, with a workspace token, paged
// 7 at a time, give exactly the fixture's matching entries, newest first.
func TestActivityLogFilters(t *testing.T) {
	e := newActEnv(t)
	ta, tb := uuid.MustParse(e.a.ID), uuid.MustParse(e.b.ID)
	mid := e.entries[10].at
	late := e.entries[3].at
	ts := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339Nano)) }
	typeIs := func(ts ...string) func(actEntry) bool {
		return func(en actEntry) bool { return slices.Contains(ts, en.typ) }
	}
	cases := []struct {
		query string
		pred  func(actEntry) bool
	}{
		{"", func(actEntry) bool { return true }},
		{"type=action.run", typeIs("action.run")},
		{"type=action.run&type=flow.run", typeIs("action.run", "flow.run")},
		{"type%5B0%5D=action.run&type%5B1%5D=tenant.updated", typeIs("action.run", "tenant.updated")},
		{"type%5B%5D=flow.run&type%5B%5D=connection.created", typeIs("flow.run", "connection.created")},
		{"type=action.run,connection.created", typeIs("action.run", "connection.created")},
		{"type=no.such.type", func(actEntry) bool { return false }},
		{"status=error", func(en actEntry) bool { return en.status == "error" }},
		{"status=error,warning", func(en actEntry) bool { return en.status != "success" }},
		{"status=success&status=warning", func(en actEntry) bool { return en.status != "error" }},
		{"tenantId=" + e.a.ID, func(en actEntry) bool { return en.tenant == ta }},
		{"tenantId=ta", func(en actEntry) bool { return en.tenant == ta }},
		{"userId=tb", func(en actEntry) bool { return en.tenant == tb }},
		{"tenantId=ta&userId=" + e.a.ID, func(en actEntry) bool { return en.tenant == ta }},
		{"tenantId=ta&userId=tb", func(actEntry) bool { return false }},
		{"tenantId=nobody", func(actEntry) bool { return false }},
		{"integrationId=" + e.integ.ID.String(), func(en actEntry) bool { return en.integ == e.integ.ID }},
		{"integrationId=hub", func(en actEntry) bool { return en.integ == e.integ.ID }},
		{"integrationKey=hub", func(en actEntry) bool { return en.integ == e.integ.ID }},
		{"integrationKey=nope", func(actEntry) bool { return false }},
		{"connectionId=" + e.connA.ID.String(), func(en actEntry) bool { return en.conn == e.connA.ID }},
		{"connectionId=" + e.connB.ID.String(), func(en actEntry) bool { return en.conn == e.connB.ID }},
		{"connectionId=main", func(actEntry) bool { return false }}, // a key names nothing for a workspace token
		{"elementId=" + e.elem.String(), func(en actEntry) bool { return en.elem == e.elem }},
		{"actor=manager", func(en actEntry) bool { return en.actor == "manager" }},
		{"actor=system,tenant-token", func(en actEntry) bool { return en.actor == "system" || en.actor == "tenant-token" }},
		{"actor=tenant-token&actorId=ta", func(en actEntry) bool { return en.actor == "tenant-token" }},
		{"actorId=nobody", func(actEntry) bool { return false }},
		{"from=" + ts(mid), func(en actEntry) bool { return !en.at.Before(mid) }},
		{"to=" + ts(mid), func(en actEntry) bool { return en.at.Before(mid) }},
		{"from=" + ts(mid) + "&to=" + ts(late), func(en actEntry) bool { return !en.at.Before(mid) && en.at.Before(late) }},
		{"from=" + mid.Format("2006-01-02"), func(en actEntry) bool {
			d, _ := time.Parse("2006-01-02", mid.Format("2006-01-02"))
			return !en.at.Before(d)
		}},
		{"to=" + url.QueryEscape(mid.Format("2006-01-02T15:04:05")), func(en actEntry) bool {
			return en.at.Before(mid.Truncate(time.Second))
		}},
		{"search=deals", func(en actEntry) bool { return strings.HasSuffix(en.message, "deals") }},
		{"search=DEA", func(en actEntry) bool { return strings.HasSuffix(en.message, "deals") }},
		{"search=entry+contacts", func(en actEntry) bool { return strings.HasSuffix(en.message, "contacts") }},
		{"search=nothing-like-this", func(actEntry) bool { return false }},
		// Combinations.
		{"tenantId=ta&type=action.run&status=success", func(en actEntry) bool {
			return en.tenant == ta && en.typ == "action.run" && en.status == "success"
		}},
		{"integrationKey=hub&status=error,warning&type=flow.run,connection.created", func(en actEntry) bool {
			return en.integ == e.integ.ID && en.status != "success" && (en.typ == "flow.run" || en.typ == "connection.created")
		}},
		{"userId=tb&search=invoices", func(en actEntry) bool { return en.tenant == tb && strings.HasSuffix(en.message, "invoices") }},
		{"search=deals&type=action.run,flow.run&from=" + ts(mid), func(en actEntry) bool {
			return strings.HasSuffix(en.message, "deals") && (en.typ == "action.run" || en.typ == "flow.run") && !en.at.Before(mid)
		}},
		{"connectionId=" + e.connA.ID.String() + "&elementId=" + e.elem.String(), func(en actEntry) bool {
			return en.conn == e.connA.ID && en.elem == e.elem
		}},
		{"actor=manager,system&status=success&tenantId=tb", func(en actEntry) bool {
			return (en.actor == "manager" || en.actor == "system") && en.status == "success" && en.tenant == tb
		}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			want := e.want(c.pred)
			sameIDs(t, c.query, e.ids(t, e.adminTok, "/api/activity-logs", c.query, 7), want)
			// One page of everything gives the same answer.
			q := "limit=1000"
			if c.query != "" {
				q = c.query + "&" + q
			}
			p := e.page(t, e.adminTok, "/api/activity-logs?"+q)
			if p.HasCursor {
				t.Errorf("a single last page has a cursor %q", p.Cursor)
			}
			var got []string
			for _, it := range p.Items {
				got = append(got, it["id"].(string))
			}
			if got == nil {
				got = []string{}
			}
			sameIDs(t, c.query+" in one page", got, want)
		})
	}
	if len(e.want(func(en actEntry) bool { return en.tenant == uuid.Nil })) == 0 {
		t.Fatal("fixture has no workspace-level entries")
	}
	// The default page is 50: 41 entries fit in one page without a cursor.
	if p := e.page(t, e.adminTok, "/api/activity-logs"); len(p.Items) != len(e.entries) || p.HasCursor {
		t.Errorf("default page: %d items (cursor %v), want %d and none", len(p.Items), p.HasCursor, len(e.entries))
	}
}

// TestActivityLogShape: an entry's JSON, in the list and by id.
func TestActivityLogShape(t *testing.T) {
	e := newActEnv(t)
	en := e.entries[0] // action.run of ta, with integration, connection and element
	if en.tenant.String() != e.a.ID || en.conn != e.connA.ID || en.elem != e.elem || en.typ != "action.run" {
		t.Fatalf("fixture changed: %+v", en)
	}
	p := e.page(t, e.adminTok, "/api/activity-logs?limit=1")
	if len(p.Items) != 1 || !p.HasCursor {
		t.Fatalf("limit=1: %d items, cursor %v", len(p.Items), p.HasCursor)
	}
	got := e.do(req{Method: "GET", Path: "/api/activity-logs/" + en.id.String(), Token: e.adminTok})
	if got.Status != http.StatusOK {
		t.Fatalf("GET by id: %d %s", got.Status, got.Body)
	}
	for what, item := range map[string]map[string]any{"list": p.Items[0], "by id": got.JSON()} {
		want := map[string]any{
			"id": en.id.String(), "createdAt": en.at.Format(time.RFC3339Nano), "type": "action.run", "status": en.status,
			"userId": e.a.ID, "tenantId": e.a.ID, "actor": map[string]any{"type": "tenant-token", "id": "ta"},
			"connectionId": e.connA.ID.String(), "integrationId": e.integ.ID.String(), "elementId": e.elem.String(),
			"message": en.message, "details": map[string]any{"input": map[string]any{"q": 0.0}, "output": map[string]any{"ok": true}},
			"durationMs": 10.0, "requestId": "req-1",
		}
		// Times come back in the database's precision (microseconds, rounded): compare them parsed.
		gotAt, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(item["createdAt"]))
		if d := gotAt.Sub(en.at); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: createdAt %v, want %v", what, item["createdAt"], en.at)
		}
		item["createdAt"], want["createdAt"] = nil, nil
		gj, _ := json.Marshal(item)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%s:\n got %s\nwant %s", what, gj, wj)
		}
	}
	// A workspace-level entry has no tenant.
	for _, en := range e.entries {
		if en.tenant == uuid.Nil {
			m := e.must(http.StatusOK, req{Method: "GET", Path: "/api/activity-logs/" + en.id.String(), Token: e.adminTok})
			if _, ok := m["tenantId"]; ok {
				t.Errorf("workspace-level entry has a tenantId: %v", m)
			}
			if _, ok := m["userId"]; ok {
				t.Errorf("workspace-level entry has a userId: %v", m)
			}
			break
		}
	}
}

// TestActivityLogTenantToken: a tenant token sees its own entries only, whatever filter or id it
// names; a workspace token sees every entry.
func TestActivityLogTenantToken(t *testing.T) {
	e := newActEnv(t)
	ta := uuid.MustParse(e.a.ID)
	own := func(en actEntry) bool { return en.tenant == ta }
	none := func(actEntry) bool { return false }
	cases := []struct {
		query string
		pred  func(actEntry) bool
	}{
		{"", own},
		{"tenantId=ta", own},
		{"tenantId=" + e.a.ID, own},
		{"userId=ta", own},
		// Another tenant's ids, by every filter that can name one.
		{"tenantId=tb", none},
		{"tenantId=" + e.b.ID, none},
		{"userId=tb", none},
		{"userId=" + e.b.ID, none},
		{"tenantId=ta&userId=tb", none},
		{"connectionId=" + e.connB.ID.String(), none},
		{"connectionId=bmain", none},
		{"elementId=" + e.elemB.String(), none},
		{"actor=manager&tenantId=tb", none},
		{"search=entry&tenantId=tb", none},
		// Its own connection, by id and by key; shared integrations and elements narrow its own.
		{"connectionId=" + e.connA.ID.String(), func(en actEntry) bool { return en.conn == e.connA.ID }},
		{"connectionId=main", func(en actEntry) bool { return en.conn == e.connA.ID }},
		{"integrationId=" + e.integ.ID.String(), func(en actEntry) bool { return own(en) && en.integ == e.integ.ID }},
		{"integrationKey=hub", func(en actEntry) bool { return own(en) && en.integ == e.integ.ID }},
		{"elementId=" + e.elem.String(), func(en actEntry) bool { return own(en) && en.elem == e.elem }},
		{"status=error", func(en actEntry) bool { return own(en) && en.status == "error" }},
		{"type=tenant.updated,flow.run", func(en actEntry) bool { return own(en) && (en.typ == "tenant.updated" || en.typ == "flow.run") }},
		{"search=deals", func(en actEntry) bool { return own(en) && strings.HasSuffix(en.message, "deals") }},
		{"actor=system", func(en actEntry) bool { return own(en) && en.actor == "system" }},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			want := e.want(c.pred)
			sameIDs(t, c.query, e.ids(t, e.aTok, "/api/activity-logs", c.query, 5), want)
		})
	}
	if n := len(e.want(own)); n == 0 || n == len(e.entries) {
		t.Fatalf("fixture: tenant a has %d of %d entries", n, len(e.entries))
	}
	// Entries by id: its own 200, another tenant's and workspace-level ones 404.
	for _, en := range e.entries {
		res := e.do(req{Method: "GET", Path: "/api/activity-logs/" + en.id.String(), Token: e.aTok})
		want := http.StatusNotFound
		if en.tenant == ta {
			want = http.StatusOK
		}
		if res.Status != want {
			t.Errorf("tenant a GET entry of tenant %v: status %d, want %d: %s", en.tenant, res.Status, want, res.Body)
		}
		if want == http.StatusNotFound {
			if k := res.Err(t).Key; k != "not_found" {
				t.Errorf("key %q, want not_found", k)
			}
		}
		// The workspace token reads every one.
		e.must(http.StatusOK, req{Method: "GET", Path: "/api/activity-logs/" + en.id.String(), Token: e.adminTok})
	}
	// Tenant b's token sees exactly b's entries.
	sameIDs(t, "tenant b", e.ids(t, e.tenantToken("tb", nil), "/api/activity-logs", "", 50),
		e.want(func(en actEntry) bool { return en.tenant.String() == e.b.ID }))
	// A tenant whose token is new has nothing yet (its own tenant.created aside).
	fresh := e.ids(t, e.tenantToken("tc", nil), "/api/activity-logs", "", 50)
	for _, id := range fresh {
		if slices.Contains(e.want(func(actEntry) bool { return true }), id) {
			t.Errorf("a new tenant sees fixture entry %s", id)
		}
	}
}

// TestActivityLogBadParams: bad parameters are 400 invalid_query naming the parameter; ids that
// cannot exist are 404; nothing is a 5xx.
func TestActivityLogBadParams(t *testing.T) {
	e := newActEnv(t)
	cases := []struct{ path, field string }{
		{"/api/activity-logs?status=bogus", "status"},
		{"/api/activity-logs?status=success,bogus", "status"},
		{"/api/activity-logs?actor=robot", "actor"},
		{"/api/activity-logs?limit=0", "limit"},
		{"/api/activity-logs?limit=1001", "limit"},
		{"/api/activity-logs?limit=ten", "limit"},
		{"/api/activity-logs?from=yesterday", "from"},
		{"/api/activity-logs?to=2026-13-45", "to"},
		{"/api/activity-logs?from=2026-02-01&to=2026-01-01", "from"},
		{"/api/activity-logs?cursor=garbage", "cursor"},
		{"/api/activity-logs?cursor=" + url.QueryEscape("eyJ0IjoieCJ9"), "cursor"},
		{"/api/activity-logs?elementId=list-deals", "elementId"},
		{"/api/activity-logs?search=" + strings.Repeat("x", 201), "search"},
		{"/api/activity-logs?search=a%00b", "search"},
		{"/api/activity-logs?type=" + strings.Repeat("t", 101), "type"},
		{"/api/activity-logs?tenantId=nobody&status=bogus", "status"}, // checked before anything is looked up
		{"/api/action-run-logs?status=warning", "status"},
		{"/api/action-run-logs?status=bogus", "status"},
		{"/api/action-run-logs?actionId=list-deals", "actionId"},
		{"/api/action-run-logs?universalActionId=x", "universalActionId"},
		{"/api/action-run-logs?limit=5000", "limit"},
		{"/api/action-run-logs?from=soon", "from"},
		{"/api/action-run-logs?cursor=%7B", "cursor"},
	}
	for _, c := range cases {
		for _, tok := range []string{e.adminTok, e.aTok} {
			res := e.do(req{Method: "GET", Path: c.path, Token: tok})
			sane(t, c.path, res)
			if res.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400: %s", c.path, res.Status, res.Body)
				continue
			}
			er := res.Err(t)
			if er.Key != "invalid_query" || !slices.Contains(er.paths(), c.field) {
				t.Errorf("%s: key %q fields %v, want invalid_query on %s", c.path, er.Key, er.paths(), c.field)
			}
		}
	}
	for _, id := range []string{"nope", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-7fff-bfff-ffffffffffff",
		"ffffffff-ffff-4fff-bfff-ffffffffffff", uuid.NewString(), tenancy.NewID().String(), "a%00b"} {
		for _, base := range []string{"/api/activity-logs/", "/api/action-run-logs/"} {
			res := e.do(req{Method: "GET", Path: base + id, Token: e.adminTok})
			sane(t, base+id, res)
			if res.Status != http.StatusNotFound {
				t.Errorf("GET %s%s: status %d, want 404: %s", base, id, res.Status, res.Body)
			}
		}
	}
	// Without a token: 401.
	for _, p := range []string{"/api/activity-logs", "/api/action-run-logs", "/api/activity-logs/" + e.entries[0].id.String()} {
		if res := e.do(req{Method: "GET", Path: p}); res.Status != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: status %d, want 401", p, res.Status)
		}
	}
}

// TestActivityLogCursorStable: entries that arrive between pages do not shift the pages: the
// walk returns exactly the entries there were when it started, none twice, none skipped.
func TestActivityLogCursorStable(t *testing.T) {
	e := newActEnv(t)
	want := e.want(func(actEntry) bool { return true })
	var got []string
	cursor := "0"
	for i := 0; ; i++ {
		p := e.page(t, e.adminTok, "/api/activity-logs?limit=6&cursor="+url.QueryEscape(cursor))
		for _, it := range p.Items {
			got = append(got, it["id"].(string))
		}
		// New entries, newer than everything, and one in the past between pages already read.
		now := time.Now().UTC()
		e.insert(t, e.ws, actEntry{id: idAt(now), at: now, tenant: uuid.MustParse(e.a.ID), typ: "tenant.updated", status: "success",
			actor: "system", message: fmt.Sprintf("arrived during page %d", i)})
		at := e.entries[0].at.Add(-time.Second) // between entries already read
		e.insert(t, e.ws, actEntry{id: idAt(at), at: at, typ: "settings.updated", status: "success", actor: "manager",
			message: fmt.Sprintf("late arrival during page %d", i)})
		if !p.HasCursor {
			break
		}
		cursor = p.Cursor
	}
	sameIDs(t, "walk while entries arrive", got, want)
}

// TestActionRunLogs: /action-run-logs lists action.run entries only, in the SDK's shape, with its
// filters; a tenant token sees its own runs only.
func TestActionRunLogs(t *testing.T) {
	e := newActEnv(t)
	ta := uuid.MustParse(e.a.ID)
	runs := func(pred func(actEntry) bool) []string {
		return e.want(func(en actEntry) bool { return en.typ == "action.run" && pred(en) })
	}
	all := func(actEntry) bool { return true }
	none := func(actEntry) bool { return false }
	cases := []struct {
		token, query string
		pred         func(actEntry) bool
	}{
		{e.adminTok, "", all},
		{e.adminTok, "status=error", func(en actEntry) bool { return en.status == "error" }},
		{e.adminTok, "status=success", func(en actEntry) bool { return en.status == "success" }},
		{e.adminTok, "status=success,error", all},
		{e.adminTok, "actionId=" + e.elem.String(), func(en actEntry) bool { return en.elem == e.elem }},
		{e.adminTok, "integrationActionId=" + e.elemB.String(), func(en actEntry) bool { return en.elem == e.elemB }},
		{e.adminTok, "connectionActionId=" + e.elem.String(), func(en actEntry) bool { return en.elem == e.elem }},
		{e.adminTok, "actionId=" + e.elem.String() + "&integrationActionId=" + e.elemB.String(), none},
		{e.adminTok, "integrationId=" + e.integ.ID.String(), func(en actEntry) bool { return en.integ == e.integ.ID }},
		{e.adminTok, "integrationKey=hub", func(en actEntry) bool { return en.integ == e.integ.ID }},
		{e.adminTok, "connectionId=" + e.connB.ID.String(), func(en actEntry) bool { return en.conn == e.connB.ID }},
		{e.adminTok, "tenantId=ta", func(en actEntry) bool { return en.tenant == ta }},
		{e.adminTok, "userId=" + e.b.ID + "&status=error", func(en actEntry) bool { return en.tenant.String() == e.b.ID && en.status == "error" }},
		{e.adminTok, "from=" + url.QueryEscape(e.entries[20].at.Format(time.RFC3339Nano)) + "&to=" + url.QueryEscape(e.entries[4].at.Format(time.RFC3339Nano)),
			func(en actEntry) bool { return !en.at.Before(e.entries[20].at) && en.at.Before(e.entries[4].at) }},
		{e.aTok, "", func(en actEntry) bool { return en.tenant == ta }},
		{e.aTok, "tenantId=tb", none},
		{e.aTok, "userId=" + e.b.ID, none},
		{e.aTok, "connectionId=" + e.connB.ID.String(), none},
		{e.aTok, "actionId=" + e.elemB.String(), none},
		{e.aTok, "connectionId=main&status=success", func(en actEntry) bool { return en.conn == e.connA.ID && en.status == "success" }},
	}
	for _, c := range cases {
		who := "workspace"
		if c.token == e.aTok {
			who = "tenant a"
		}
		t.Run(who+" "+c.query, func(t *testing.T) {
			sameIDs(t, c.query, e.ids(t, c.token, "/api/action-run-logs", c.query, 3), runs(c.pred))
		})
	}
	if n := len(runs(func(en actEntry) bool { return en.status == "error" })); n == 0 {
		t.Fatal("fixture has no failed runs")
	}
	// The shape: a successful run of tenant a and a failed one.
	for _, en := range e.entries {
		if en.typ != "action.run" || en.tenant == uuid.Nil {
			continue
		}
		m := e.must(http.StatusOK, req{Method: "GET", Path: "/api/action-run-logs/" + en.id.String(), Token: e.adminTok})
		want := map[string]any{"id": en.id.String(), "userId": en.tenant.String(), "tenantId": en.tenant.String(), "name": en.message,
			"integrationActionId": idOr(en.elem), "integrationId": idOr(en.integ), "connectionId": idOr(en.conn), "status": en.status,
			"input": en.details["input"], "output": en.details["output"], "duration": float64(*en.duration)}
		if en.status == "error" {
			want["error"] = map[string]any{"message": "upstream said no"}
		}
		delete(m, "createdAt")
		gj, _ := json.Marshal(m)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("run %s:\n got %s\nwant %s", en.id, gj, wj)
		}
		// Tenant a reads its own runs by id, never b's.
		res := e.do(req{Method: "GET", Path: "/api/action-run-logs/" + en.id.String(), Token: e.aTok})
		if wantStatus := map[bool]int{true: 200, false: 404}[en.tenant == ta]; res.Status != wantStatus {
			t.Errorf("tenant a GET run of %v: %d, want %d", en.tenant, res.Status, wantStatus)
		}
	}
	// An entry that is not an action run is not one by id either.
	for _, en := range e.entries {
		if en.typ != "action.run" {
			if res := e.do(req{Method: "GET", Path: "/api/action-run-logs/" + en.id.String(), Token: e.adminTok}); res.Status != 404 {
				t.Errorf("GET /action-run-logs/<a %s entry>: %d, want 404", en.typ, res.Status)
			}
			break
		}
	}
}

func idOr(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}
