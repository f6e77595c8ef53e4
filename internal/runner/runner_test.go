package runner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTemplatesKeepTypesAndFailOnMissingValues(t *testing.T) {
	d := Data{"input": map[string]any{"email": "a@b.c", "limit": float64(25), "tags": []any{"x", "y"}, "nested": map[string]any{"id": "n1"}},
		"fields": map[string]any{"region": "eu"}}
	got, err := d.Render(map[string]any{
		"whole":  "{{input}}",
		"num":    "{{input.limit}}",
		"text":   "limit={{input.limit}} region={{fields.region}}",
		"arr":    []any{"{{input.tags.1}}", "{{ input.nested.id }}"},
		"static": "no placeholders {here}",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"whole": d["input"], "num": float64(25), "text": "limit=25 region=eu",
		"arr": []any{"y", "n1"}, "static": "no placeholders {here}"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rendered %v\nwant %v", got, want)
	}
	var me *MissingError
	if _, err := d.Render("{{input.missing}}", nil); !errors.As(err, &me) || me.Path != "input.missing" {
		t.Errorf("missing value: %v", err)
	}
	if _, err := d.RenderString("x {{credentials.apiKey}} y", nil); !errors.As(err, &me) {
		t.Errorf("missing value inside a string: %v", err)
	}
	// Nothing that looks like code runs: anything but a dotted path is left as text.
	s, err := d.RenderString("{{ input.email | exec }} {{os.Exit(1)}} {{.}}", nil)
	if err != nil || s != "{{ input.email | exec }} {{os.Exit(1)}} {{.}}" {
		t.Errorf("non-path templates: %q, %v", s, err)
	}
	// Path values are escaped where the caller asks (URL paths).
	p, err := Data{"input": map[string]any{"id": "a/../b c"}}.RenderString("/items/{{input.id}}", func(s string) string { return strings.ReplaceAll(s, "/", "%2F") })
	if err != nil || p != "/items/a%2F..%2Fb c" {
		t.Errorf("escaped path = %q", p)
	}
}

// upstream is a real HTTP server on 127.0.0.1 that records what it received.
type upstream struct {
	*httptest.Server
	got    chan *http.Request
	bodies chan string
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	u := &upstream{got: make(chan *http.Request, 100), bodies: make(chan string, 100)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.got <- r
		u.bodies <- string(b)
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func jsonReply(v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

func TestHTTPRequestBuildsAndAuthenticates(t *testing.T) {
	up := newUpstream(t, jsonReply(map[string]any{"results": []any{map[string]any{"id": "1", "properties": map[string]any{"email": "x@y.z"}}}}))
	r := New()
	cases := []struct {
		auth  string
		creds map[string]any
		check func(*http.Request) bool
	}{
		{"bearer", map[string]any{"accessToken": "tok-1"}, func(q *http.Request) bool { return q.Header.Get("Authorization") == "Bearer tok-1" }},
		{"api-key-header", map[string]any{"apiKey": "k-2"}, func(q *http.Request) bool { return q.Header.Get("X-Custom-Key") == "k-2" }},
		{"basic", map[string]any{"username": "u", "password": "p"}, func(q *http.Request) bool {
			user, pass, ok := q.BasicAuth()
			return ok && user == "u" && pass == "p"
		}},
		{"none", nil, func(q *http.Request) bool { return q.Header.Get("Authorization") == "" }},
	}
	for _, c := range cases {
		res, err := r.Do(context.Background(), Call{
			Integration: Integration{Key: "crm", BaseURL: up.URL + "/api/", AuthType: c.auth, APIKeyHeader: "X-Custom-Key"},
			Config: map[string]any{"method": "POST", "path": "/contacts/{{input.id}}", "query": map[string]any{"limit": "{{input.limit}}", "region": "{{fields.region}}"},
				"headers": map[string]any{"X-Tenant": "{{tenant.internalId}}"}, "body": map[string]any{"email": "{{input.email}}", "n": "{{input.limit}}"}},
			Data:        Data{"input": map[string]any{"id": "c 1", "limit": float64(5), "email": "a@b.c"}, "fields": map[string]any{"region": "eu"}, "tenant": map[string]any{"internalId": "acme"}},
			Credentials: c.creds,
		})
		if err != nil {
			t.Fatalf("%s: %v", c.auth, err)
		}
		q, body := <-up.got, <-up.bodies
		if q.Method != "POST" || q.URL.EscapedPath() != "/api/contacts/c%201" || q.URL.Query().Get("limit") != "5" || q.URL.Query().Get("region") != "eu" ||
			q.Header.Get("X-Tenant") != "acme" || q.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: request %s %s %v", c.auth, q.Method, q.URL, q.Header)
		}
		if body != `{"email":"a@b.c","n":5}` {
			t.Errorf("%s: body %s", c.auth, body)
		}
		if !c.check(q) {
			t.Errorf("%s: authentication headers %v", c.auth, q.Header)
		}
		if res.Status != 200 || res.Output.(map[string]any)["results"] == nil {
			t.Errorf("%s: result %+v", c.auth, res)
		}
	}
	// Missing credentials for the auth type fail before any request.
	_, err := r.Do(context.Background(), Call{Integration: Integration{BaseURL: up.URL, AuthType: "bearer"}, Config: map[string]any{"path": "/"}})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("bearer without a token: %v", err)
	}
}

func TestOnlyTheIntegrationsHostIsReachable(t *testing.T) {
	other := newUpstream(t, jsonReply("other"))
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
		case "/v1/loop":
			http.Redirect(w, r, "/v1/loop", http.StatusFound)
		case "/v1/hop":
			http.Redirect(w, r, "/v1/final", http.StatusFound)
		default:
			jsonReply(map[string]any{"path": r.URL.Path})(w, r)
		}
	})
	r := New()
	call := func(path string, data Data) (*Result, error) {
		return r.Do(context.Background(), Call{Integration: Integration{BaseURL: up.URL + "/v1"}, Config: map[string]any{"path": path}, Data: data})
	}
	var re *RefusedError
	for _, p := range []string{"//evil.example/x", "http://evil.example/", other.URL + "/x", "/../../..//evil.example"} {
		if _, err := call(p, nil); !errors.As(err, &re) {
			// A path that resolves on the same host is fine; anything else must be refused.
			if res, err2 := call(p, nil); err2 == nil && !strings.HasPrefix(res.URL, up.URL) {
				t.Errorf("path %q reached %s", p, res.URL)
			}
		}
	}
	// A placeholder cannot smuggle a host either: its value is escaped in the path.
	if res, err := call("/{{input.p}}", Data{"input": map[string]any{"p": "//evil.example/x"}}); err != nil || !strings.HasPrefix(res.URL, up.URL) {
		t.Errorf("placeholder host: %v %v", res, err)
	}
	for len(up.got) > 0 {
		<-up.got
	}
	// A value cannot be a dot segment or a path separator, with or without escaping in the
	// template's own text, nor can a path that is one placeholder leave its segment.
	for _, c := range []struct{ path, value, want string }{
		{"/accounts/{{input.v}}/contacts", "..", "/v1/accounts/%2E%2E/contacts"},
		{"/files/My Documents/{{input.v}}", "../../../admin", "/v1/files/My%20Documents/%2E%2E%2F%2E%2E%2F%2E%2E%2Fadmin"},
		{"{{input.v}}", "x?admin=1#frag", "/v1/x%3Fadmin=1%23frag"},
		{"{{input.v}}", "../../../../admin", "/v1/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fadmin"},
	} {
		res, err := call(c.path, Data{"input": map[string]any{"v": c.value}})
		if err != nil {
			t.Errorf("%s with %q: %v", c.path, c.value, err)
			continue
		}
		got := <-up.got
		if got.URL.RawPath != c.want && got.URL.EscapedPath() != c.want {
			t.Errorf("%s with %q reached %s (%s), want %s", c.path, c.value, got.URL.EscapedPath(), res.URL, c.want)
		}
		if got.URL.RawQuery != "" {
			t.Errorf("%s with %q added a query: %s", c.path, c.value, got.URL.RawQuery)
		}
	}
	if _, err := call("/away", nil); !errors.As(err, &re) {
		t.Errorf("redirect to another host: %v", err)
	}
	select {
	case q := <-other.got:
		t.Errorf("the other host was reached: %s", q.URL)
	default:
	}
	if _, err := call("/loop", nil); !errors.As(err, &re) {
		t.Errorf("redirect loop: %v", err)
	}
	if res, err := call("/hop", nil); err != nil || res.Output.(map[string]any)["path"] != "/v1/final" {
		t.Errorf("a redirect on the same host: %v %v", res, err)
	}
}

func TestTimeoutsAndSizeCapsHold(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		case "/big":
			w.Header().Set("Content-Type", "application/octet-stream")
			chunk := strings.Repeat("x", 1<<20)
			for i := 0; i < 31; i++ {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		case "/error":
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"message":"bad email"}`+strings.Repeat(" ", 5000))
		}
	})
	r := New()
	start := time.Now()
	_, err := r.Do(context.Background(), Call{Integration: Integration{BaseURL: up.URL}, Config: map[string]any{"path": "/slow", "timeoutSeconds": float64(1)}})
	var ue *UnreachableError
	if !errors.As(err, &ue) || !ue.Timeout {
		t.Errorf("slow upstream: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 1 s timeout took %s", d)
	}
	if _, err := r.Do(context.Background(), Call{Integration: Integration{BaseURL: up.URL}, Config: map[string]any{"path": "/big"}}); !errors.As(err, &ue) || !strings.Contains(ue.Message, "larger than 30 MiB") {
		t.Errorf("31 MiB answer: %v", err)
	}
	_, err = r.Do(context.Background(), Call{Integration: Integration{BaseURL: up.URL}, Config: map[string]any{"path": "/error"}})
	var up2 *UpstreamError
	if !errors.As(err, &up2) || up2.Status != 422 || !strings.HasPrefix(up2.Body, `{"message":"bad email"}`) || len(up2.Body) > 2100 {
		t.Errorf("error answer: %v", err)
	}
	// A closed port fails fast.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := r.Do(context.Background(), Call{Integration: Integration{BaseURL: "http://" + addr}, Config: map[string]any{"path": "/"}}); !errors.As(err, &ue) || ue.Timeout {
		t.Errorf("closed port: %v", err)
	}
}

func TestFieldMappingReshapesRecords(t *testing.T) {
	mapping := map[string]any{"email": "{{properties.email}}", "name": "{{properties.first}} {{properties.last}}", "missing": "{{nope}}"}
	out := ApplyMapping(mapping, map[string]any{"results": []any{
		map[string]any{"properties": map[string]any{"email": "a@b.c", "first": "Ada", "last": "L"}},
		map[string]any{"properties": map[string]any{"email": "x@y.z", "first": "Bo", "last": "K"}},
	}})
	want := []any{map[string]any{"email": "a@b.c", "name": "Ada L", "missing": nil}, map[string]any{"email": "x@y.z", "name": "Bo K", "missing": nil}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("mapped %v", out)
	}
	if got := ApplyMapping(nil, "as is"); got != "as is" {
		t.Errorf("no mapping changed the output: %v", got)
	}
}
