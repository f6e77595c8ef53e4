package web

// The bad-input corpus for the Console (issue 8, item 2), generated from consoleRoutes(): every
// POST route is sent by a signed-in admin of the demo workspace, same-origin, with its path
// filled with the workspace's own ids (the attack suite's fixture and filler, attack_test.go).
//
//   - A form route (corpusForms names the fields it reads and a valid value for each) gets its
//     valid form with one field replaced by each bad value in turn — invalid UTF-8, NUL bytes,
//     1 MiB+ strings, path traversal, SQL and template metacharacters, wrong types, numbers out
//     of range, deep nesting — and whole-body cases: a body over net/http's 10 MB form cap,
//     missing and unknown fields, repeated fields, malformed percent-encoding, wrong content
//     types. Then its valid form, which must be accepted (else the bad cases prove nothing).
//   - Every route with path parameters (bodiless ones included) gets malformed, traversing,
//     missing and foreign ids in each parameter.
//
// Never a 5xx (nor a panic: observe turns one into a 500); a refusal (any 4xx) writes nothing,
// and the values that must be refused (invalid UTF-8, NUL, a body over the cap, ids naming
// nothing) write nothing whatever the status: one query fingerprints every row of every table
// before and after each request. A POST route missing from corpusForms fails the test by name.

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/logscan"
	"tenantry/internal/seed"
	"tenantry/internal/tenancy"
)

// corpusForms is, for every Console POST route, the form it reads with a valid value for each
// field; nil marks a bodiless route (path parameters only). A new POST route must be added here.
func (e *consoleAttack) corpusForms() map[string]url.Values {
	schema := schemaForm(
		tenancy.FieldDraft{Key: "plan", Title: "Plan", Type: "string", Choices: true, Options: "starter, pro, enterprise", Required: true},
		tenancy.FieldDraft{Key: "seats", Title: "Seats", Type: "integer", Minimum: "1", Maximum: "1000"})
	preview := schemaForm(tenancy.FieldDraft{Key: "plan", Title: "Plan", Type: "string"})
	preview.Set("op", "add")
	return map[string]url.Values{
		"POST /signin":                                          {"email": {seed.SupportEmail}, "password": {seed.DemoPassword}, "next": {"/tenants"}},
		"POST /signout":                                         nil,
		"POST /tenants":                                         {"internalId": {"corpus-new"}, "name": {"Corpus tenant"}, "fields.plan": {"pro"}},
		"POST /tenants/{id}/fields":                             {"fields.plan": {"pro"}, "fields.seats": {"7"}, "fields.region": {"eu"}, "fields.discount": {"0.25"}, "fields.apiToken": {logscan.Sentinel + "corpus-field"}},
		"POST /tenants/{id}/credentials":                        {"key": {"corpusKey"}, "value": {logscan.Sentinel + "corpus-credential"}},
		"POST /tenants/{id}/credentials/{key}/clear":            nil,
		"POST /tenants/{id}/credits":                            {"limit": {"250"}},
		"POST /tenants/{id}/archive":                            {"confirmed": {"yes"}},
		"POST /tenants/{id}/restore":                            nil,
		"POST /tenants/{id}/customizations/{kind}/{key}":        {"config": {`{"credits":1,"method":"GET","path":"/crm/v3/objects/deals","query":{"limit":"10"}}`}},
		"POST /tenants/{id}/customizations/{kind}/{key}/reset":  {"confirmed": {"yes"}},
		"POST /tenants/{id}/customizations/{kind}/{key}/delete": {"confirmed": {"yes"}},
		"POST /tenants/{id}/connections": {"integration": {"hubspot"}, "name": {"Corpus connection"}, "credentialKey": {"accessToken"},
			"credentialValue": {logscan.Sentinel + "corpus-connection"}},
		"POST /tenants/{id}/connections/{cid}/disconnect": {"confirmed": {"yes"}},
		"POST /tenants/{id}/connections/{cid}/reconnect":  nil, // asks nothing: any POST reconnects
		"POST /tenants/{id}/connections/{cid}/archive":    {"confirmed": {"yes"}},
		"POST /settings/general":                          {"name": {"Corpus Workspace"}},
		"POST /settings/secret/rotate":                    nil,
		"POST /settings/schema":                           schema,
		"POST /settings/schema/preview":                   preview,
		"POST /settings/limits": {"aiCreditsRolling30DayLimit": {"1000"}, "defaultTenantAiCreditsLimit": {"100"},
			"apiRequestsPerMinutePerTenant": {"600"}, "apiRequestsPerMinutePerWorkspace": {"6000"}},
		"POST /settings/origins":             {"allowedOrigins": {"https://app.example.com"}},
		"POST /settings/members":             {"email": {"corpus@example.com"}, "name": {"Corpus Person"}, "role": {"support"}},
		"POST /settings/members/{id}/role":   {"role": {"support"}},
		"POST /settings/members/{id}/remove": nil,
		"POST /integrations": {"key": {"corpus-app"}, "name": {"Corpus app"}, "logoUri": {"https://example.com/logo.png"},
			"baseUrl": {"https://api.example.com"}, "authType": {"bearer"}},
		"POST /integrations/{id}": {"key": {"hubspot"}, "name": {"HubSpot"}, "logoUri": {""}, "baseUrl": {"https://api.hubapi.com"},
			"authType": {"bearer"}},
		"POST /integrations/{id}/archive": nil,
		"POST /integrations/{id}/restore": nil,
		"POST /elements/{kind}": {"key": {"corpus-action"}, "name": {"Corpus action"}, "description": {"made by the corpus"},
			"integrationId": {e.hubspot.String()}, "type": {"http-request"}, "config": {`{"method":"GET","path":"/corpus"}`}},
		"POST /elements/{kind}/{id}": {"key": {"list-deals"}, "name": {"List deals"}, "description": {"updated by the corpus"},
			"integrationId": {e.hubspot.String()}, "type": {"http-request"}, "config": {`{"method":"GET","path":"/deals"}`}},
		"POST /elements/{kind}/{id}/archive": nil,
		"POST /elements/{kind}/{id}/restore": nil,
	}
}

// corpusValue is one bad field value; mustRefuse: nothing may be written, whatever the status.
type corpusValue struct {
	name       string
	v          string
	mustRefuse bool
}

func corpusValues() []corpusValue {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	return []corpusValue{
		{"invalid UTF-8", "a\xff\xfeb\xc0\xaf", true},
		{"NUL byte", "a\x00b", true},
		{"1 MiB+ string", strings.Repeat("x", 1<<20+7), false},
		{"empty", "", false},
		{"path traversal", "../../etc/passwd", false},
		{"encoded traversal", `%2e%2e%2f..\..\windows`, false},
		{"SQL metacharacters", `'; DROP TABLE tenants; --" OR 1=1`, false},
		{"template metacharacters", "{{credentials.apiKey}}{{ .Secret }}${7*7}", false},
		{"HTML", `<script>alert(1)</script><img src=x onerror=alert(1)>`, false},
		{"not a number", "twelve", false},
		{"huge number", "1e400", false},
		{"int overflow", "-99999999999999999999999999", false},
		{"NaN", "NaN", false},
		{"JSON array", "[1,2,3]", false},
		{"truncated JSON", `{"query":{"owner":`, false},
		{"deep nesting", `{"a":` + deep + `}`, false},
		{"control characters", "a\r\nb\tc\x1b[31m", false},
	}
}

// corpusBody is one whole-request case.
type corpusBody struct {
	name       string
	body       []byte
	ct         string
	mustRefuse bool
}

func corpusBodies(base url.Values) []corpusBody {
	enc := base.Encode()
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for k, vs := range base {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	_ = mw.Close()
	huge := append([]byte(enc+"&filler="), bytes.Repeat([]byte("a"), 11<<20)...)
	unknown := url.Values{}
	twiceBadFirst, twiceBadLast := url.Values{}, url.Values{}
	for k, vs := range base {
		unknown[k] = vs
		twiceBadFirst[k] = []string{"\xff\x00", vs[0]}
		twiceBadLast[k] = []string{vs[0], "\xff\x00"}
	}
	unknown.Set("zzUnknown", "1")
	unknown.Set("__proto__[admin]", "true")
	unknown.Set("workspace_id", uuid.NewString())
	unknown.Set("tenantId", uuid.NewString())
	return []corpusBody{
		{name: "body over the 10 MB form cap", body: huge, ct: "application/x-www-form-urlencoded", mustRefuse: true},
		{name: "every field missing", body: nil, ct: "application/x-www-form-urlencoded"},
		{name: "malformed percent-encoding", body: []byte(enc + "&bad=%zz%"), ct: "application/x-www-form-urlencoded"},
		{name: "malformed percent-encoding only", body: []byte("%zz=%zz&%"), ct: "application/x-www-form-urlencoded"},
		{name: "semicolon separators", body: []byte(strings.ReplaceAll(enc, "&", ";")), ct: "application/x-www-form-urlencoded"},
		{name: "text/plain", body: []byte(enc), ct: "text/plain"},
		{name: "application/json", body: []byte(`{"name":"x","config":{}}`), ct: "application/json"},
		{name: "no Content-Type", body: []byte(enc), ct: ""},
		{name: "multipart without boundary", body: mp.Bytes(), ct: "multipart/form-data"},
		{name: "multipart", body: mp.Bytes(), ct: mw.FormDataContentType()},
		{name: "repeated fields, bad first", body: []byte(twiceBadFirst.Encode()), ct: "application/x-www-form-urlencoded"},
		{name: "repeated fields, bad last", body: []byte(twiceBadLast.Encode()), ct: "application/x-www-form-urlencoded"},
		{name: "unknown fields", body: []byte(unknown.Encode()), ct: "application/x-www-form-urlencoded"},
	}
}

// corpusIDs are path-parameter values that name nothing of the caller's (or name it badly).
func (e *consoleAttack) corpusIDs(kind string) []string {
	ids := []string{"not-a-uuid", uuid.NewString(), "00000000-0000-0000-0000-000000000000", "%2e%2e", "..%2F..%2Fsettings",
		"%00", "%FF%FE", "'%20OR%201=1--", "%7B%7Bcredentials.apiKey%7D%7D", strings.Repeat("a", 5000)}
	switch kind {
	case "tenant":
		ids = append(ids, e.acme2.String()) // another workspace's tenant
	case "manager":
		ids = append(ids, uuid.NewString())
	}
	return ids
}

// corpusFingerprint digests every row of every table in one query (without the session rows'
// last-use times, which every request touches).
func (e *consoleAttack) corpusFingerprint(t *testing.T, tables []string) string {
	t.Helper()
	parts := make([]string, len(tables))
	for i, tb := range tables {
		parts[i] = fmt.Sprintf(`SELECT %s || (to_jsonb(t) - 'last_seen_at' - 'last_used_at' - 'last_active_at')::text AS x FROM %s t`,
			quoteLit(tb), tb)
	}
	var fp string
	if err := e.db.SQL().GetContext(context.Background(), &fp,
		`SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (`+strings.Join(parts, " UNION ALL ")+`) s`); err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return fp
}

// pageText is a page's main text, for messages.
func pageText(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	return strings.Join(strings.Fields(tagRE.ReplaceAllString(body, " ")), " ")
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// corpusSend posts body with content type ct (same-origin, as a browser would label it).
func (e *consoleAttack) corpusSend(t *testing.T, c *http.Client, path string, body []byte, ct string) (result, error) {
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Origin", e.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return result{}, err
	}
	registerPage(b.String())
	return result{Response: resp, body: b.String()}, nil
}

func corpusShow(b []byte) string {
	s := string(b)
	if len(s) > 80 {
		s = s[:80] + fmt.Sprintf("… %d bytes", len(b))
	}
	return fmt.Sprintf("%q", s)
}

// corpusKnown are findings this suite reports without failing, because the fix belongs to a file
// another engineer is changing (reported to the lead): each is logged as FINDING while it occurs,
// and the test fails once it no longer occurs, so the entry is removed with the fix. A key is
// "<route> <field>=<value name>" or "<route> <body case>"; a trailing "*" matches any suffix.
var corpusKnown = map[string]string{}

func corpusKnownMatch(key string) (string, bool) {
	for k := range corpusKnown {
		if k == key || (strings.HasSuffix(k, "*") && strings.HasPrefix(key, strings.TrimSuffix(k, "*"))) {
			return k, true
		}
		if strings.Contains(k, "*=") { // "fields.*=invalid UTF-8": a wildcard field name
			pre, post, _ := strings.Cut(k, "*=")
			if strings.HasPrefix(key, pre) && strings.HasSuffix(key, "="+post) {
				return k, true
			}
		}
	}
	return "", false
}

// TestBadInputCorpusConsole is the sweep.
func TestBadInputCorpusConsole(t *testing.T) {
	start := time.Now()
	e := newConsoleAttack(t)
	forms := e.corpusForms()
	owner := e.signedIn(t, seed.AdminEmail)
	fresh := func() *http.Client { return e.client(t) } // for sign-in: never signed in

	var tables []string
	for tb := range attackSnapshot(t, e.testEnv) {
		// A refused sign-in is meant to write one thing: the failure the throttle counts.
		if tb != "public.signin_failures" {
			tables = append(tables, tb)
		}
	}
	sort.Strings(tables)
	// The fingerprint ignores what reads touch: two GETs change nothing.
	fp := e.corpusFingerprint(t, tables)
	e.get(t, owner, "/tenants")
	e.get(t, owner, "/settings/general")
	if now := e.corpusFingerprint(t, tables); now != fp {
		t.Fatal("the fingerprint changes on reads: it cannot tell a refused write")
	}

	var routes []route
	for _, rt := range e.srv.consoleRoutes() {
		if strings.HasPrefix(rt.pattern, "POST ") {
			routes = append(routes, rt)
			if _, ok := forms[rt.pattern]; !ok {
				t.Errorf("%s: not in corpusForms: the bad-input corpus does not know this form (add its fields)", rt.pattern)
			}
		}
	}
	if len(routes) < 30 {
		t.Fatalf("only %d POST routes: the route table is not being swept", len(routes))
	}
	for p := range forms {
		if !slices.ContainsFunc(routes, func(rt route) bool { return rt.pattern == p }) {
			t.Errorf("corpusForms names %s, which is not a Console POST route", p)
		}
	}

	sent, refused, accepted := 0, 0, 0
	seenKnown := map[string]bool{}
	fail := func(key, format string, args ...any) {
		t.Helper()
		if k, ok := corpusKnownMatch(key); ok {
			seenKnown[k] = true
			t.Logf("FINDING (known: %s): "+format, append([]any{k}, args...)...)
			return
		}
		t.Errorf(format, args...)
	}
	// check sends one request and checks its answer and the database (fp is the fingerprint
	// before it; it is updated).
	check := func(c *http.Client, key, what, path string, body []byte, ct string, mustRefuse bool) int {
		t.Helper()
		before := fp
		r, err := e.corpusSend(t, c, path, body, ct)
		sent++
		fp = e.corpusFingerprint(t, tables)
		if err != nil {
			// Only a body over the cap may be cut off (the server stops reading it).
			if len(body) < 10<<20 {
				fail(key, "%s: no answer: %v", what, err)
			}
			if fp != before {
				fail(key, "%s: no answer, but the database changed", what)
			}
			return 0
		}
		switch {
		case r.StatusCode >= 500:
			fail(key, "%s: status %d (a server error):\n%.400s", what, r.StatusCode, r.body)
		case r.StatusCode >= 400:
			refused++
			if fp != before {
				fail(key, "%s: refused with %d, but the database changed: a partial write", what, r.StatusCode)
			}
			if strings.Contains(r.Header.Get("Content-Type"), "text/html") && !strings.Contains(r.body, `data-testid="problem"`) &&
				!strings.Contains(r.body, `field-error`) && !strings.Contains(r.body, `role="alert"`) && !strings.Contains(r.body, `aria-invalid="true"`) {
				fail(key, "%s: refused with %d, but the page names no problem:\n%.1500s", what, r.StatusCode, pageText(r.body))
			}
		case mustRefuse && fp != before:
			fail(key, "%s: status %d and the database changed: bad input was written", what, r.StatusCode)
		default:
			if fp != before {
				accepted++
			}
		}
		return r.StatusCode
	}

	// 1. Every route with path parameters (bodiless ones included): bad ids in each parameter,
	// with the route's valid form if it has one. First, before phase 2 creates anything a bad
	// id could name.
	for _, rt := range routes {
		_, path, _ := strings.Cut(rt.pattern, " ")
		params := consoleParamRE.FindAllStringSubmatch(path, -1)
		if len(params) == 0 {
			continue
		}
		combos, _, err := e.fill(t, path, true)
		if err != nil {
			t.Errorf("%s: %v", rt.pattern, err)
			continue
		}
		var body []byte
		if f := forms[rt.pattern]; f != nil {
			body = []byte(f.Encode())
		}
		for i, p := range params {
			for _, bad := range e.corpusIDs(consoleParamKind(path, p[1])) {
				j := 0
				filled := consoleParamRE.ReplaceAllStringFunc(path, func(string) string {
					defer func() { j++ }()
					if j == i {
						return bad
					}
					return url.PathEscape(combos[0][j].s)
				})
				check(owner, rt.pattern+" {"+p[1]+"}", fmt.Sprintf("POST %s (%s {%s} = %.40q)", filled, rt.pattern, p[1], bad), filled, body,
					"application/x-www-form-urlencoded", true)
			}
		}
	}
	phase1 := sent
	t.Logf("phase 1: %d requests with bad ids (%v)", sent, time.Since(start).Round(time.Millisecond))

	// 2. Form routes: each field gets each bad value, then whole-body cases, then the valid form.
	for _, rt := range routes {
		base := forms[rt.pattern]
		if base == nil {
			continue
		}
		_, path, _ := strings.Cut(rt.pattern, " ")
		if strings.Contains(path, "{") {
			_, paths, err := e.fill(t, path, true)
			if err != nil {
				t.Errorf("%s: %v", rt.pattern, err)
				continue
			}
			path = paths[0]
		}
		signin := rt.pattern == "POST /signin"
		client := func() *http.Client {
			if signin {
				return fresh()
			}
			return owner
		}
		if signin {
			// The valid form first: the bad passwords below throttle the account.
			if st := check(client(), "", "POST /signin, the valid form", path, []byte(base.Encode()), "application/x-www-form-urlencoded", false); st != http.StatusSeeOther {
				t.Errorf("POST /signin: the valid form got %d, want 303", st)
			}
		}
		fields := make([]string, 0, len(base))
		for k := range base {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		for _, f := range fields {
			for _, v := range corpusValues() {
				form := url.Values{}
				for k, vs := range base {
					form[k] = slices.Clone(vs)
				}
				form.Set(f, v.v)
				// A sign-in writes a session whatever next says: next is made safe, not refused.
				must := v.mustRefuse && !(signin && f == "next")
				check(client(), rt.pattern+" "+f+"="+v.name, fmt.Sprintf("POST %s with %s = %s (%.40q)", path, f, v.name, v.v), path,
					[]byte(form.Encode()), "application/x-www-form-urlencoded", must)
			}
		}
		for _, b := range corpusBodies(base) {
			if b.mustRefuse && !signin {
				// Re-arm: the valid form first, so that a write of the bad body shows whatever
				// the cases before it left (an empty limit, say).
				if _, err := e.corpusSend(t, owner, path, []byte(base.Encode()), "application/x-www-form-urlencoded"); err != nil {
					t.Fatal(err)
				}
				fp = e.corpusFingerprint(t, tables)
			}
			check(client(), rt.pattern+" "+b.name, fmt.Sprintf("POST %s, %s (%s, Content-Type %q)", path, b.name, corpusShow(b.body), b.ct),
				path, b.body, b.ct, b.mustRefuse)
		}
		if !signin && rt.pattern != "POST /tenants/{id}/customizations/{kind}/{key}/delete" {
			// Positive control: the valid form is accepted (or conflicts with what an accepted
			// case made: 409), so the refusals above were the bad values'. (acme's list-deals is
			// a customization: deleting it is refused by design, reset instead.)
			r, err := e.corpusSend(t, owner, path, []byte(base.Encode()), "application/x-www-form-urlencoded")
			sent++
			fp = e.corpusFingerprint(t, tables)
			if err != nil || (r.StatusCode >= 400 && r.StatusCode != http.StatusConflict) {
				t.Errorf("POST %s: the valid form was not accepted (%v): %d\n%.1500s", path, err, r.StatusCode, pageText(r.body))
			}
			// What the control archived is restored, so the routes after it act on live things.
			if strings.HasSuffix(path, "/archive") {
				restore := strings.TrimSuffix(path, "/archive") + "/restore"
				if _, ok := forms["POST "+strings.TrimSuffix(rt.pattern[len("POST "):], "/archive")+"/restore"]; ok {
					if r, err := e.corpusSend(t, owner, restore, nil, "application/x-www-form-urlencoded"); err != nil || r.StatusCode >= 400 {
						t.Errorf("POST %s after the control: %v %d", restore, err, r.StatusCode)
					}
					fp = e.corpusFingerprint(t, tables)
				}
			}
		}
	}
	t.Logf("phase 2: %d requests to form routes, %d refused with a 4xx, %d accepted writes; %d requests in all in %v",
		sent-phase1, refused, accepted, sent, time.Since(start).Round(time.Millisecond))
	for k, why := range corpusKnown {
		if !seenKnown[k] {
			t.Errorf("known finding %q (%s) no longer occurs: remove it from corpusKnown", k, why)
		}
	}
	if sent < 1000 {
		t.Errorf("only %d requests: the corpus is not sweeping", sent)
	}
}
