package runner

// Fuzz targets for action templates and the request they build. Run one with
//
//	go test -run '^$' -fuzz '^FuzzRender$' -fuzztime 30s ./internal/runner/

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fuzzData is the data templates read when the input gives none that parses.
func fuzzData() Data {
	return Data{
		"input": map[string]any{"email": "a@b.co", "id": "a/../b?c=d#e", "n": 25.0, "tags": []any{"x", "y/z"},
			"nested": map[string]any{"id": "n1", "null": nil}, "tmpl": "{{credentials.apiKey}}", "crlf": "x\r\nX-Evil: 1",
			"host": "//evil.example/", "empty": ""},
		"fields":      map[string]any{"region": "eu"},
		"credentials": map[string]any{"apiKey": "secret"},
		"steps":       map[string]any{"list": map[string]any{"output": map[string]any{"results": []any{map[string]any{"id": 7.0}}}}},
	}
}

// fuzzWholePath returns the path of a template that is exactly one placeholder ("{{ a.b }}"),
// decided here without the package's regular expression.
func fuzzWholePath(s string) (string, bool) {
	if !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") || len(s) < 5 {
		return "", false
	}
	p := strings.Trim(s[2:len(s)-2], " \t\n\f\r")
	if p == "" {
		return "", false
	}
	for i, part := range strings.Split(p, ".") {
		if part == "" {
			return "", false
		}
		for j, r := range part {
			word := r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !word || i == 0 && j == 0 && (r == '-' || r >= '0' && r <= '9') {
				return "", false
			}
		}
	}
	return p, true
}

// fuzzSameShape reports whether out has the shape of in: the same keys and lengths, strings
// wherever a string had no placeholder, non-strings unchanged.
func fuzzSameShape(in, out any) bool {
	switch x := in.(type) {
	case map[string]any:
		o, ok := out.(map[string]any)
		if !ok || len(o) != len(x) {
			return false
		}
		for k, v := range x {
			ov, ok := o[k]
			if !ok || !fuzzSameShape(v, ov) {
				return false
			}
		}
		return true
	case []any:
		o, ok := out.([]any)
		if !ok || len(o) != len(x) {
			return false
		}
		for i := range x {
			if !fuzzSameShape(x[i], o[i]) {
				return false
			}
		}
		return true
	case string:
		if !strings.Contains(x, "{{") {
			return out == x
		}
		return true
	}
	return reflect.DeepEqual(in, out)
}

// FuzzRender: random templates and data. Render never panics and is deterministic; text without
// "{{" comes back unchanged; a whole placeholder is its value; errors name a missing path; the
// path escaper is applied to every value placed inside a longer string, so url.PathEscape lets
// no "/", "?" or "#" in from a value; JSON templates keep their shape.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"", "plain", "{{input}}", "{{input.email}}", " {{input.email}}", "{{ input.email }}", "{{input.missing}}",
		"/contacts/{{input.id}}", "/a/{{input.tags}}/{{input.n}}", "{{input.tags.1}}", "{{input.tags.9}}", "{{input.tags.-1}}",
		"{{steps.list.output.results.0.id}}", "x {{input.tmpl}} y", "{{input.nested.null}}", "a{{input.nested.null}}b",
		"{{input.email | exec}}", "{{os.Exit(1)}}", "{{.}}", "{{}}", "{{{{input.email}}}}", "{{input.email}}{{input.n}}",
		"{{input.crlf}}", "h: {{input.crlf}}", "{{ input.host }}x", "{{\tinput.email\n}}", "{{input..email}}", "{{_}}",
		"{{input.email}", "{input.email}}", "}}{{", "\xff{{input.email}}\xfe", "{{input.\u00e9}}",
		`{"path":"/x/{{input.id}}","q":["{{input.n}}",1,true,null],"o":{"k":"{{input}}"}}`, `["{{input.missing}}"]`, `"{{input.n}}"`,
	} {
		f.Add(s, "")
		f.Add(s, `{"input":{"email":"e/f?g","id":"../..","n":1e21,"tags":[null,{"k":"v/w"}],"tmpl":"{{input.email}}"}}`)
	}
	f.Fuzz(func(t *testing.T, tmpl, rawData string) {
		d := fuzzData()
		var custom map[string]any
		if rawData != "" && json.Unmarshal([]byte(rawData), &custom) == nil && custom != nil {
			d = Data(custom)
		}

		got, err := d.Render(tmpl, nil)
		again, err2 := d.Render(tmpl, nil)
		if !reflect.DeepEqual(got, again) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("not deterministic: %#v (%v) then %#v (%v)", got, err, again, err2)
		}
		if err != nil {
			var me *MissingError
			if !errors.As(err, &me) {
				t.Fatalf("error %v (%T) is not a MissingError", err, err)
			}
			if _, ok := d.Lookup(me.Path); ok {
				t.Fatalf("MissingError for %q, which Lookup finds", me.Path)
			}
			if !strings.Contains(tmpl, me.Path) {
				t.Fatalf("MissingError for %q, which %q does not name", me.Path, tmpl)
			}
		}
		if !strings.Contains(tmpl, "{{") && (err != nil || got != tmpl) {
			t.Fatalf("%q has no placeholder but rendered to %#v (%v)", tmpl, got, err)
		}
		if p, whole := fuzzWholePath(tmpl); whole {
			v, ok := d.Lookup(p)
			if ok != (err == nil) || ok && !reflect.DeepEqual(v, got) {
				t.Fatalf("whole placeholder %q: got %#v (%v), Lookup says %#v, %v", tmpl, got, err, v, ok)
			}
		} else if err == nil {
			if _, isString := got.(string); !isString {
				t.Fatalf("%q is not one placeholder but rendered to a %T", tmpl, got)
			}
			// Escaped into a longer string: every "/", "?" and "#" comes from the template itself.
			s, err := d.RenderString(tmpl, url.PathEscape)
			if err != nil {
				t.Fatalf("RenderString failed where Render did not: %v", err)
			}
			for _, c := range []string{"/", "?", "#"} {
				if strings.Count(s, c) != strings.Count(tmpl, c) {
					t.Fatalf("%q rendered with PathEscape to %q: a value brought a raw %q", tmpl, s, c)
				}
			}
			// With an escaper that drops every value, only the template's own text is left.
			bare, _ := d.RenderString(tmpl, func(string) string { return "" })
			if len(bare) > len(tmpl) {
				t.Fatalf("%q with values dropped rendered to the longer %q", tmpl, bare)
			}
		}

		// A JSON template is walked: same shape out.
		var v any
		if json.Unmarshal([]byte(tmpl), &v) == nil {
			out, err := d.Render(v, nil)
			if err == nil && !fuzzSameShape(v, out) {
				t.Fatalf("%s rendered to %#v: shape changed", tmpl, out)
			}
		}
	})
}

var fuzzBases = []string{"https://api.example.com/v1/", "http://127.0.0.1:8080", "https://[::1]:8443/api/v2", "https://crm.example:443/x%2Fy/"}

// FuzzBuildRequest builds a request from random path, query and header templates and input
// values: it never goes to a host other than the integration's, never carries a header with a
// line break, keeps the connection's authentication, and keeps its timeout within bounds; a
// value inside a longer path never adds a query parameter.
func FuzzBuildRequest(f *testing.F) {
	for _, c := range []struct {
		path, value, query, hname, hval, method string
		timeout                                 float64
	}{
		{"/contacts/{{input.value}}", "42", "{{input.value}}", "X-Trace", "t-{{input.value}}", "GET", 10},
		{"/contacts/{{input.value}}", "../../../admin", "", "X-Trace", "", "POST", 0},
		{"/contacts/{{input.value}}", "@evil.example", "", "Host", "evil.example", "GET", 0},
		{"/contacts/{{input.value}}", "%2e%2e/%2e%2e", "", "X", "y", "DELETE", 0},
		{"{{input.value}}", "//evil.example/x", "", "X", "y", "GET", 0},
		{"{{input.value}}", "https://evil.example/", "", "X", "y", "GET", 0},
		{"{{input.value}}", "/\\evil.example", "", "X", "y", "GET", 0},
		{"{{input.value}}", "x?admin=1", "", "X", "y", "GET", 0},
		{"//evil.example/x", "", "", "X", "y", "GET", 0},
		{"/x/../../../../y", "", "", "X", "y", "GET", 0},
		{"\\\\evil.example\\x", "", "", "X", "y", "GET", 0},
		{"http:evil.example", "", "", "X", "y", "GET", 0},
		{"/a?b={{input.value}}", "c&d=e", "", "X", "y", "GET", 0},
		{"/a#{{input.value}}", "frag", "", "X", "y", "GET", 0},
		{"/h", "a\r\nX-Evil: 1", "", "X-Value", "{{input.value}}", "GET", 0},
		{"/h", "a\nb", "", "X-Value", "v {{input.value}}", "GET", 0},
		{"/h", "", "", "X-Evil\r\nInjected", "1", "GET", 0},
		{"/h", "", "", "Authorization", "Basic Zm9vOmJhcg==", "GET", 0},
		{"/h", "", "", "X", "\x00", "GET", 0},
		{"/t", "", "", "X", "y", "GET", 1e300},
		{"/t", "", "", "X", "y", "GET", 1e10},
		{"/t", "", "", "X", "y", "GET", -5},
		{"/t", "", "", "X", "y", "GET", 0.0000000001},
		{"/m", "", "", "X", "y", "G ET", 0},
		{"/m", "", "", "X", "y", "CONNECT", 0},
		{"/\xff\xfe", "\xff", "\xff", "X", "\xff", "GET", 0},
	} {
		for i := range fuzzBases {
			f.Add(uint8(i), c.path, c.value, c.query, c.hname, c.hval, c.method, c.timeout)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, path, value, query, hname, hval, method string, timeout float64) {
		base, err := url.Parse(fuzzBases[int(which)%len(fuzzBases)])
		if err != nil {
			t.Fatal(err)
		}
		cfg := map[string]any{"method": method, "path": path,
			"query":   map[string]any{"q": query, "id": "{{input.value}}"},
			"headers": map[string]any{hname: hval, "X-Id": "id {{input.value}}"},
			"body":    map[string]any{"v": "{{input.value}}"}}
		if timeout != 0 {
			cfg["timeoutSeconds"] = timeout
		}
		creds := map[string]any{"accessToken": "token-123"}
		call := Call{Integration: Integration{Key: "crm", BaseURL: base.String(), AuthType: "bearer"}, Config: cfg,
			Data:        Data{"input": map[string]any{"value": value}, "credentials": creds},
			Credentials: creds}
		req, d, err := build(call)
		if err != nil {
			var ce *ConfigError
			var re *RefusedError
			if !errors.As(err, &ce) && !errors.As(err, &re) {
				t.Fatalf("error %v (%T) is neither a ConfigError nor a RefusedError", err, err)
			}
			if req != nil {
				t.Fatal("an error and a request")
			}
			return
		}
		if req.URL.Scheme != base.Scheme || req.URL.Host != base.Host || req.URL.User != nil {
			t.Fatalf("path %q value %q: request to %q, want host %s", path, value, req.URL.String(), base.Host)
		}
		if req.Host != "" && req.Host != base.Host {
			t.Fatalf("request Host %q, want %s", req.Host, base.Host)
		}
		if u, err := url.Parse(req.URL.String()); err != nil || u.Host != base.Host {
			t.Fatalf("the request's URL %q reparses to host %v (%v)", req.URL.String(), u, err)
		}
		for k, vs := range req.Header {
			if strings.ContainsAny(k, "\r\n") {
				// Names come from the action's config as they are; what matters is that such a
				// request never reaches the wire: the transport refuses it before dialing.
				dialed := false
				tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
					dialed = true
					return nil, errors.New("no network in fuzzing")
				}}
				if _, err := tr.RoundTrip(req); err == nil || dialed {
					t.Fatalf("header name %q with a line break was sent (err %v, dialed %v)", k, err, dialed)
				}
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") {
					t.Fatalf("header %s: %q has a line break", k, v)
				}
			}
		}
		if got := req.Header.Get("Authorization"); got != "Bearer token-123" {
			t.Fatalf("Authorization %q, want the connection's bearer token", got)
		}
		if d < 0 || d > MaxTimeout || d == 0 && timeout*float64(time.Second) >= 1 {
			t.Fatalf("timeoutSeconds %v gave a timeout of %v, want within (0, %v]", timeout, d, MaxTimeout)
		}
		if timeout >= 1 && timeout <= MaxTimeout.Seconds() && d != time.Duration(timeout*float64(time.Second)) {
			t.Fatalf("timeoutSeconds %v gave %v", timeout, d)
		}
		if req.Method != strings.ToUpper(method) && !(method == "" && req.Method == http.MethodGet) {
			t.Fatalf("method %q sent as %q", method, req.Method)
		}
		if _, whole := fuzzWholePath(path); !whole && !strings.Contains(path, "?") {
			for k := range req.URL.Query() {
				if k != "q" && k != "id" {
					t.Fatalf("path %q with value %q added query parameter %q: %s", path, value, k, req.URL)
				}
			}
			// A value inside a longer path stays inside its segment: the request has as many
			// segments as the base path and the template's own text give — also when a value is
			// "." or ".." (escaped to %2E) and when the template's own text needs escaping (the
			// values' %2F survive). Dot segments and fragments of the template's text itself are
			// resolved, so such templates are not counted.
			lit := placeholder.ReplaceAllString(path, "")
			if !strings.ContainsAny(lit, ".#%") {
				want := strings.Count(strings.TrimSuffix(base.EscapedPath(), "/")+"/"+strings.TrimPrefix(lit, "/"), "/")
				if got := strings.Count(req.URL.EscapedPath(), "/"); got != want {
					t.Fatalf("path %q with value %q gave %s: %d segments, want %d", path, value, req.URL.EscapedPath(), got, want)
				}
			}
		}
	})
}
