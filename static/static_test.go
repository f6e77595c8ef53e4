package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func mustNew(t *testing.T) *Assets {
	t.Helper()
	a, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func TestEmbeddedAssets(t *testing.T) {
	a := mustNew(t)
	want := []string{"css/app.css", "img/logo.svg", "js/app.js", "js/htmx-ext-sse.min.js", "js/htmx.min.js"}
	got := a.Names()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		if len(a.byName[n].body) == 0 {
			t.Errorf("%s is empty", n)
		}
	}
	// The component classes are safelisted in tailwind.config.js; make sure a
	// rebuild did not purge them.
	css := string(a.byName["css/app.css"].body)
	for _, cls := range []string{".btn-primary", ".card", ".badge-green", ".field-error", ".toast", ".table-base"} {
		if !strings.Contains(css, cls) {
			t.Errorf("css/app.css lacks %s; run `make css`", cls)
		}
	}
}

func TestPath(t *testing.T) {
	a := mustNew(t)
	tests := []struct {
		name string
		want *regexp.Regexp
	}{
		{"css/app.css", regexp.MustCompile(`^/static/css/app\.[0-9a-f]{10}\.css$`)},
		{"/css/app.css", regexp.MustCompile(`^/static/css/app\.[0-9a-f]{10}\.css$`)},
		{"js/htmx.min.js", regexp.MustCompile(`^/static/js/htmx\.min\.[0-9a-f]{10}\.js$`)},
		{"img/logo.svg", regexp.MustCompile(`^/static/img/logo\.[0-9a-f]{10}\.svg$`)},
		{"css/nope.css", regexp.MustCompile(`^/static/css/nope\.css$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Path(tt.name); !tt.want.MatchString(got) {
				t.Errorf("Path(%q) = %q, want match %s", tt.name, got, tt.want)
			}
		})
	}
	var nilAssets *Assets
	if got := nilAssets.Path("css/app.css"); got != "/static/css/app.css" {
		t.Errorf("nil Path = %q", got)
	}
}

func TestHandler(t *testing.T) {
	a := mustNew(t)
	h := a.Handler()
	css := a.byName["css/app.css"]
	svg := a.byName["img/logo.svg"]

	tests := []struct {
		name        string
		method      string
		path        string
		header      map[string]string
		wantStatus  int
		wantCache   string
		wantType    string
		wantEnc     string
		wantBody    []byte // compared after gunzip when wantEnc == "gzip"
		wantETag    bool
		wantVary    bool
		wantNoBytes bool
	}{
		{name: "hashed css", path: a.Path("css/app.css"), wantStatus: 200, wantCache: cacheImmutable,
			wantType: "text/css; charset=utf-8", wantBody: css.body, wantETag: true, wantVary: true},
		{name: "hashed js", path: a.Path("js/app.js"), wantStatus: 200, wantCache: cacheImmutable,
			wantType: "text/javascript; charset=utf-8", wantBody: a.byName["js/app.js"].body, wantETag: true, wantVary: true},
		{name: "hashed svg", path: a.Path("img/logo.svg"), wantStatus: 200, wantCache: cacheImmutable,
			wantType: "image/svg+xml", wantBody: svg.body, wantETag: true, wantVary: svg.gz != nil},
		{name: "unhashed css", path: "/static/css/app.css", wantStatus: 200, wantCache: cacheNoCache,
			wantType: "text/css; charset=utf-8", wantBody: css.body, wantETag: true, wantVary: true},
		{name: "unknown", path: "/static/css/nope.css", wantStatus: 404},
		{name: "wrong hash", path: "/static/css/app.0000000000.css", wantStatus: 404},
		{name: "directory", path: "/static/css/", wantStatus: 404},
		{name: "traversal", path: "/static/../static.go", wantStatus: 404},
		{name: "missing prefix", path: "/css/app.css", wantStatus: 404},
		{name: "if-none-match hashed", path: a.Path("css/app.css"),
			header:     map[string]string{"If-None-Match": css.etag},
			wantStatus: 304, wantCache: cacheImmutable, wantETag: true, wantVary: true, wantNoBytes: true},
		{name: "if-none-match unhashed weak list", path: "/static/css/app.css",
			header:     map[string]string{"If-None-Match": `"other", W/` + css.etag},
			wantStatus: 304, wantCache: cacheNoCache, wantETag: true, wantVary: true, wantNoBytes: true},
		{name: "if-none-match stale", path: "/static/css/app.css",
			header:     map[string]string{"If-None-Match": `"0000000000"`},
			wantStatus: 200, wantCache: cacheNoCache, wantType: "text/css; charset=utf-8", wantBody: css.body, wantETag: true, wantVary: true},
		{name: "gzip accepted", path: a.Path("css/app.css"),
			header:     map[string]string{"Accept-Encoding": "br, gzip, deflate"},
			wantStatus: 200, wantCache: cacheImmutable, wantType: "text/css; charset=utf-8", wantEnc: "gzip",
			wantBody: css.body, wantETag: true, wantVary: true},
		{name: "gzip refused q=0", path: a.Path("css/app.css"),
			header:     map[string]string{"Accept-Encoding": "gzip;q=0, *"},
			wantStatus: 200, wantCache: cacheImmutable, wantType: "text/css; charset=utf-8", wantBody: css.body, wantETag: true, wantVary: true},
		{name: "head", method: http.MethodHead, path: a.Path("js/htmx.min.js"), wantStatus: 200, wantCache: cacheImmutable,
			wantType: "text/javascript; charset=utf-8", wantETag: true, wantVary: true, wantNoBytes: true},
		{name: "post", method: http.MethodPost, path: a.Path("js/app.js"), wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()

			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus >= 400 {
				return
			}
			if got := res.Header.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
			}
			if got := res.Header.Get("Content-Type"); tt.wantType != "" && got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.wantEnc {
				t.Errorf("Content-Encoding = %q, want %q", got, tt.wantEnc)
			}
			if got := res.Header.Get("ETag"); tt.wantETag && !regexp.MustCompile(`^"[0-9a-f]{10}"$`).MatchString(got) {
				t.Errorf("ETag = %q, want quoted 10-hex hash", got)
			}
			if got := res.Header.Get("Vary"); tt.wantVary != (got == "Accept-Encoding") {
				t.Errorf("Vary = %q, wantVary %v", got, tt.wantVary)
			}
			body, _ := io.ReadAll(res.Body)
			if tt.wantNoBytes {
				if len(body) != 0 {
					t.Errorf("body has %d bytes, want none", len(body))
				}
				return
			}
			if tt.wantEnc == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("gzip reader: %v", err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("gunzip: %v", err)
				}
			}
			if !bytes.Equal(body, tt.wantBody) {
				t.Errorf("body mismatch: got %d bytes, want %d", len(body), len(tt.wantBody))
			}
		})
	}
}

func TestHashContent(t *testing.T) {
	a1, a2, b := hashContent([]byte("body{color:red}")), hashContent([]byte("body{color:red}")), hashContent([]byte("body{color:blue}"))
	if len(a1) != 10 || !regexp.MustCompile(`^[0-9a-f]{10}$`).MatchString(a1) {
		t.Fatalf("hash %q is not 10 hex chars", a1)
	}
	if a1 != a2 {
		t.Errorf("hash not deterministic: %q vs %q", a1, a2)
	}
	if a1 == b {
		t.Errorf("different content, same hash %q", a1)
	}
	// sha256("") = e3b0c44298fc1c14...
	if got := hashContent(nil); got != "e3b0c44298" {
		t.Errorf("hashContent(nil) = %q, want e3b0c44298", got)
	}
}

func TestPathChangesWithContent(t *testing.T) {
	load := func(css string) *Assets {
		a, err := newFromFS(fstest.MapFS{"css/app.css": {Data: []byte(css)}})
		if err != nil {
			t.Fatalf("newFromFS: %v", err)
		}
		return a
	}
	p1, p2 := load("a{}").Path("css/app.css"), load("b{}").Path("css/app.css")
	if p1 == p2 {
		t.Errorf("Path unchanged after content change: %s", p1)
	}
	if want := "/static/css/app." + hashContent([]byte("a{}")) + ".css"; p1 != want {
		t.Errorf("Path = %s, want %s", p1, want)
	}
}

func TestHashedName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"css/app.css", "css/app.0123456789.css"},
		{"js/htmx.min.js", "js/htmx.min.0123456789.js"},
		{"LICENSE", "LICENSE.0123456789"},
	}
	for _, tt := range tests {
		if got := hashedName(tt.in, "0123456789"); got != tt.want {
			t.Errorf("hashedName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, br", false},
		{"br;q=1.0, gzip;q=0.8", true},
		{"gzip;q=0", false},
		{"*", true},
		{"*;q=0", false},
		{"gzip;q=0, *", false},
		{"identity, *;q=0.5", true},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestNoGzipWhenItDoesNotHelp(t *testing.T) {
	a, err := newFromFS(fstest.MapFS{"css/app.css": {Data: []byte("a{}")}})
	if err != nil {
		t.Fatalf("newFromFS: %v", err)
	}
	req := httptest.NewRequest(http.MethodGet, "/static/css/app.css", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "a{}" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	if enc, vary := rec.Header().Get("Content-Encoding"), rec.Header().Get("Vary"); enc != "" || vary != "" {
		t.Errorf("Content-Encoding = %q, Vary = %q; want both empty", enc, vary)
	}
}
