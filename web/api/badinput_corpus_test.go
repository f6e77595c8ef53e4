package api_test

// The bad-input corpus (issue 8, item 2), generated from the route table: every API write route
// (POST, PATCH, PUT) is called with valid ids of the caller's own data (the attack suite's
// fixture and parameter map) and a bad body: malformed and truncated JSON, a non-object, wrong
// types, unknown fields, an 11 MiB body, deep nesting, invalid UTF-8, NUL bytes, numbers out of
// range and wrong content types. Each must be refused with a 4xx in the SDK's error shape, and
// the database must be unchanged afterwards. Then odd but acceptable text (path traversal, SQL
// and template metacharacters, NUL escapes, a 100,000-character string, null) and the raw-input
// run routes: never a 5xx (a 502/504 of type action_run is the external app's), and whatever is
// accepted is stored byte for byte as sent.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"tenantry/web/api"
)

// badBody is one body of the corpus.
type badBody struct {
	name string
	body []byte
	ct   string // Content-Type; "" = application/json
	// mayAccept: the input may in fact be acceptable (a 2xx is allowed, then what was sent must
	// be what is stored); else only a 4xx is.
	mayAccept bool
	// check are the string fields whose stored value must equal what was sent, on a 2xx.
	check map[string]string
}

func badJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// badCorpus is the corpus.
func badCorpus() []badBody {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	huge := append(append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 11<<20)...), `"}`...)
	long := strings.Repeat("x", 100000)
	refuse := func(name string, body string) badBody { return badBody{name: name, body: []byte(body)} }
	odd := func(field, s string) badBody {
		return badBody{name: fmt.Sprintf("%s=%.30q", field, s), body: badJSON(map[string]any{field: s}), mayAccept: true,
			check: map[string]string{field: s}}
	}
	return []badBody{
		refuse("malformed JSON", `{name: "x"}`),
		refuse("malformed JSON (trailing comma)", `{"name": "x",}`),
		refuse("truncated JSON", `{"name": "x", "config": {"a": [1, 2`),
		refuse("truncated string", `{"name": "x`),
		refuse("trailing data", `{"name": "x"} {"name": "y"}`),
		refuse("array", `[{"name": "x"}]`),
		refuse("empty array", `[]`),
		refuse("string", `"x"`),
		refuse("number", `42`),
		refuse("boolean", `true`),
		refuse("name: number", `{"name": 123}`),
		refuse("name: object", `{"name": {"a": 1}}`),
		refuse("config: string", `{"config": "x"}`),
		refuse("config: number", `{"config": 7}`),
		refuse("fields: array", `{"fields": []}`),
		refuse("isTest: string", `{"isTest": "yes"}`),
		refuse("unknown field", `{"zzUnknownField": 1}`),
		refuse("unknown field beside name", `{"name": "x", "__proto__": {"admin": true}}`),
		{name: "11 MiB body", body: huge},
		refuse("deep nesting (10,000 arrays)", deep),
		refuse("deep nesting in config", `{"config": {"a": `+deep+`}}`),
		refuse("invalid UTF-8", "{\"name\": \"a\xff\xfeb\"}"),
		refuse("invalid UTF-8 in a key", "{\"na\xc3me\": \"x\"}"),
		refuse("raw NUL byte in a string", "{\"name\": \"a\x00b\"}"),
		refuse("name: 1e400", `{"name": 1e400}`),
		refuse("aiCreditsRolling30DayLimit: 1e400", `{"aiCreditsRolling30DayLimit": 1e400}`),
		refuse("aiCreditsRolling30DayLimit: -1e400", `{"aiCreditsRolling30DayLimit": -1e400}`),
		{name: "text/plain", body: []byte(`{"name": "x"}`), ct: "text/plain"},
		{name: "application/xml", body: []byte(`{"name": "x"}`), ct: "application/xml"},

		{name: "null", body: []byte(`null`), mayAccept: true},
		// A string is a single credential value (stored under "value"), not a wrong type.
		{name: "credentials: string", body: []byte(`{"credentials": "x"}`), mayAccept: true},
		{name: "credentials: number", body: []byte(`{"credentials": 5}`), mayAccept: true},
		{name: "aiCreditsRolling30DayLimit: 2^63", body: []byte(`{"aiCreditsRolling30DayLimit": 9223372036854775808}`), mayAccept: true},
		odd("name", "../../etc/passwd"),
		odd("key", "../../etc/passwd"),
		odd("internalId", "../../etc/passwd"),
		odd("name", "'; DROP TABLE tenants; --"),
		odd("key", "'; DROP TABLE tenants; --"),
		odd("name", "{{credentials.apiKey}}"),
		odd("name", "${7*7}"),
		odd("name", "<script>alert(1)</script>"),
		odd("name", "a\u0000b"),
		odd("name", long),
	}
}

// badSend sends body as is; a transport error (the server may close the connection on an
// oversized body) is returned, not fatal.
func badSend(base, method, path, token string, b badBody) (*resp, error) {
	hr, err := http.NewRequest(method, base+"/api"+path, bytes.NewReader(b.body))
	if err != nil {
		return nil, err
	}
	ct := b.ct
	if ct == "" {
		ct = "application/json"
	}
	hr.Header.Set("Content-Type", ct)
	hr.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: body}, nil
}

// badTarget is one write route filled with the caller's own valid ids.
type badTarget struct {
	route  string
	method string
	path   string
	tokens []string // the callers: the workspace token, and A's tenant token where tenant-level
	raw    bool     // a run route: the body is (or carries) the run's input
}

// badTargets are the write routes of Routes(), filled; bodiless routes (restore, reset, stop)
// are named in skipped.
func (e *attackEnv) badTargets(t *testing.T, routes []api.Route) (ts []badTarget, skipped []string) {
	owner := attacker{name: "W1", token: e.w1Admin, w1: true, conn: e.aConn.ID}
	for _, rt := range routes {
		route := rt.Method + " " + rt.Path
		if !slices.Contains([]string{"POST", "PATCH", "PUT"}, rt.Method) {
			continue
		}
		if strings.HasSuffix(rt.Path, "/restore") || strings.HasSuffix(rt.Path, "/reset") || strings.HasSuffix(rt.Path, "/stop") {
			skipped = append(skipped, route)
			continue
		}
		path := rt.Path
		if strings.Contains(path, "{") {
			_, paths, err := e.expand(owner, path)
			if err != nil || len(paths) == 0 {
				t.Errorf("%s: cannot fill its parameters: %v", route, err)
				continue
			}
			path = paths[0]
		} else if qs, ok := e.selectorQueries(path); ok {
			path += qs[0].s
		} else if rt.Method != "POST" && path != "/self" {
			t.Errorf("%s: a parameterless write route the corpus does not know", route)
			continue
		}
		tenantLevel := strings.HasPrefix(rt.Path, "/connection") || strings.Contains(rt.Path, "-instance") ||
			strings.HasSuffix(rt.Path, "/run") || strings.HasPrefix(rt.Path, "/flow-runs") || rt.Path == "/self"
		tg := badTarget{route: route, method: rt.Method, path: path, raw: strings.HasSuffix(rt.Path, "/run")}
		if rt.Path != "/self" {
			tg.tokens = append(tg.tokens, e.w1Admin)
		}
		if tenantLevel {
			tg.tokens = append(tg.tokens, e.aTok)
		}
		ts = append(ts, tg)
	}
	return ts, skipped
}

// badSnapshot is every row of every table as JSON, without last_active_at (the callers' own
// requests touch their tenant's and connections').
func (e *attackEnv) badSnapshot() map[string][]string {
	e.t.Helper()
	ctx := context.Background()
	var tables []string
	if err := e.db.SQL().SelectContext(ctx, &tables, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1`); err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, tb := range tables {
		var rows []string
		if err := e.db.SQL().SelectContext(ctx, &rows, `SELECT (to_jsonb(t) - 'last_active_at')::text FROM `+tb+` t ORDER BY 1`); err != nil {
			e.t.Fatalf("snapshot %s: %v", tb, err)
		}
		out[tb] = rows
	}
	if len(out) < 10 {
		e.t.Fatalf("snapshot: only %d tables", len(out))
	}
	return out
}

// badFingerprint is one query's digest of every row of every table (without last_active_at; of
// the append-only logs, their row count): it tells whether a single refused request wrote
// anything.
func (e *attackEnv) badFingerprint(tables []string) string {
	e.t.Helper()
	parts := make([]string, len(tables))
	for i, tb := range tables {
		parts[i] = fmt.Sprintf(`SELECT %s || (to_jsonb(t) - 'last_active_at')::text AS x FROM %s t`, quoteLiteral(tb), tb)
		if strings.Contains(tb, "activity_log") || strings.Contains(tb, "run") {
			// The logs only grow (and grow large with run input): their size tells.
			parts[i] = fmt.Sprintf(`SELECT %s || count(*)::text AS x FROM %s t`, quoteLiteral(tb), tb)
		}
	}
	var fp string
	if err := e.db.SQL().GetContext(context.Background(), &fp,
		`SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (`+strings.Join(parts, " UNION ALL ")+`) s`); err != nil {
		e.t.Fatalf("fingerprint: %v", err)
	}
	return fp
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// badCheck checks one answer; it returns the status (0 on a transport error).
func (e *attackEnv) badCheck(t *testing.T, tg badTarget, tok string, b badBody, mustRefuse bool) int {
	t.Helper()
	who := "workspace token"
	if tok == e.aTok {
		who = "A's tenant token"
	}
	what := fmt.Sprintf("%s: %s /api%s body %s (%s)", who, tg.method, tg.path, b.name, badShow(b))
	res, err := badSend(e.ts.URL, tg.method, tg.path, tok, b)
	if err != nil {
		t.Errorf("%s: no answer: %v", what, err)
		return 0
	}
	if tg.raw && testing.Verbose() {
		t.Logf("run route: %s: %d %s", what, res.Status, attackTrim(res.Body))
	}
	switch {
	case tg.raw && (res.Status == http.StatusBadGateway || res.Status == http.StatusGatewayTimeout):
		if m := res.JSON(); m == nil || m["type"] != "action_run" {
			t.Errorf("%s: status %d that is not the external app's (type action_run): %s", what, res.Status, attackTrim(res.Body))
		}
	case res.Status >= 500:
		t.Errorf("%s: status %d (a server error): %s", what, res.Status, attackTrim(res.Body))
	case res.Status >= 400:
		sane(t, what, res)
		if m := res.JSON(); m != nil {
			if k, _ := m["key"].(string); k == "" {
				t.Errorf("%s: error body has no key: %s", what, attackTrim(res.Body))
			}
		}
	case res.Status >= 300 || res.Status < 200:
		t.Errorf("%s: status %d: %s", what, res.Status, attackTrim(res.Body))
	case mustRefuse:
		t.Errorf("%s: status %d: bad input accepted: %s", what, res.Status, attackTrim(res.Body))
	default:
		// Accepted: what was sent is what is stored.
		m := res.JSON()
		for f, want := range b.check {
			got, ok := m[f].(string)
			if !ok {
				if f == "name" && !tg.raw {
					t.Errorf("%s: accepted, but the answer has no %s to compare: %s", what, f, attackTrim(res.Body))
				}
				continue
			}
			if got != want {
				t.Errorf("%s: accepted, but %s is stored as %.60q, not as sent (%.60q)", what, f, got, want)
			}
		}
	}
	return res.Status
}

func badShow(b badBody) string {
	s := string(b.body)
	if len(s) > 80 {
		s = s[:80] + fmt.Sprintf("… %d bytes", len(b.body))
	}
	if b.ct != "" {
		s += ", Content-Type " + b.ct
	}
	return fmt.Sprintf("%q", s)
}

// TestBadInputCorpus is the sweep.
func TestBadInputCorpus(t *testing.T) {
	start := time.Now()
	e := newAttackEnv(t)
	targets, skipped := e.badTargets(t, newAPI(e.env).Routes())
	if len(targets) < 40 {
		t.Fatalf("only %d write routes: the route table is not being swept", len(targets))
	}
	t.Logf("fixture ready in %v; %d write routes (bodiless, not swept: %v)", time.Since(start).Round(time.Millisecond), len(targets), skipped)
	corpus := badCorpus()

	// Provision the callers (their first request writes), then nothing refused may write.
	for _, tok := range []string{e.w1Admin, e.aTok} {
		e.must(http.StatusOK, req{Method: "GET", Path: "/api/integrations", Token: tok})
	}
	e.hits.Store(0)
	before := e.badSnapshot()

	// Phase 1: bodies no write route may accept, on every non-run route.
	sent, refused := 0, 0
	for _, tg := range targets {
		if tg.raw {
			continue
		}
		for _, tok := range tg.tokens {
			for _, b := range corpus {
				if b.mayAccept {
					continue
				}
				sent++
				if st := e.badCheck(t, tg, tok, b, true); st >= 400 && st < 500 {
					refused++
				}
			}
		}
	}
	failed := t.Failed()
	e.sameSnapshot(t, before, e.badSnapshot())
	if !failed && t.Failed() {
		t.Error("phase 1: the database changed although every bad body was refused: a partial write")
	}
	if n := e.hits.Load(); n != 0 {
		t.Errorf("the external app received %d requests during the refusals", n)
	}
	if refused != sent || sent < 1000 {
		t.Errorf("phase 1: %d bad requests, %d refused with a 4xx", sent, refused)
	}
	t.Logf("phase 1: %d of %d bad bodies refused (%v)", refused, sent, time.Since(start).Round(time.Millisecond))

	// Phase 2: input that may be acceptable on every route, and the whole corpus on the run
	// routes (their input is any JSON value; the external app answers 200).
	accepted, sent2 := 0, 0
	statuses := map[string]map[int]int{} // body name -> status -> count
	var tables []string
	for tb := range e.badSnapshot() {
		tables = append(tables, tb)
	}
	slices.Sort(tables)
	fp := e.badFingerprint(tables)
	// The run routes go first: the accepted full replacements (PUT with null) that follow empty
	// the templates they run.
	ordered := slices.Clone(targets)
	slices.SortStableFunc(ordered, func(a, b badTarget) int {
		switch {
		case a.raw == b.raw:
			return 0
		case a.raw:
			return -1
		}
		return 1
	})
	rawAccepted, findings := 0, 0
	for _, tg := range ordered {
		for _, tok := range tg.tokens {
			for _, b := range corpus {
				if !b.mayAccept && !tg.raw {
					continue
				}
				sent2++
				hits := e.hits.Load()
				st := e.badCheck(t, tg, tok, b, false)
				if st >= 400 && st < 500 && e.hits.Load() != hits {
					// Known (reported to the lead, not fixed here): a run whose input holds a
					// NUL escape (\u0000) reaches the external app, then recording it fails and
					// the caller gets a 422 with no activity entry. Logged, not failed, so the
					// suite stays green until the runner refuses such input before calling out.
					t.Errorf("FINDING: %s %s (body %s): answered %d, but the external app was called (%d requests)",
						tg.method, tg.path, badShow(b), st, e.hits.Load()-hits)
					findings++
				}
				if st >= 200 && st < 300 {
					accepted++
					if tg.raw {
						rawAccepted++
					}
				}
				// A refused request writes nothing (a run's failure at the external app, a
				// 502/504, is recorded in the activity log: that is its answer, not a partial write).
				now := e.badFingerprint(tables)
				if st >= 400 && st < 500 && now != fp {
					t.Errorf("%s %s (%s, body %s): refused with %d, but the database changed: a partial write", tg.method, tg.path,
						map[bool]string{true: "A's tenant token", false: "workspace token"}[tok == e.aTok], badShow(b), st)
				}
				fp = now
				if statuses[b.name] == nil {
					statuses[b.name] = map[int]int{}
				}
				statuses[b.name][st]++
			}
		}
	}
	// Positive control: the run routes did run (else the sweep of them is vacuous).
	if rawAccepted == 0 || e.hits.Load() == 0 {
		t.Errorf("the run routes accepted %d requests and the external app got %d: nothing ran", rawAccepted, e.hits.Load())
	}
	for _, b := range corpus {
		if statuses[b.name] != nil {
			t.Logf("phase 2: %s: statuses %v", b.name, statuses[b.name])
		}
	}
	if findings > 0 {
		t.Errorf("FINDING: %d refused run requests reached the external app", findings)
	}
	t.Logf("phase 2: %d requests, %d accepted; %d requests in all in %v", sent2, accepted, sent+sent2, time.Since(start).Round(time.Millisecond))
}
