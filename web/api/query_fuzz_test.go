package api

// Fuzz targets for query-string parsing: raw query strings as a client could send them, read the
// way handlers read them. In package api (not api_test) to reach query; no database. Run one with
//
//	go test -run '^$' -fuzz '^FuzzQueryList$' -fuzztime 30s ./web/api/

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fuzzQuery reads raw as a handler does: through the request's URL.
func fuzzQuery(raw string) query {
	return newQuery(&http.Request{URL: &url.URL{Path: "/api/x", RawQuery: raw}})
}

// fuzzWantBadQuery checks err is the 400 invalid_query answer naming param.
func fuzzWantBadQuery(t *testing.T, err error, param string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Key != "invalid_query" || e.Type != "bad_request" {
		t.Fatalf("error %#v is not a 400 invalid_query", err)
	}
	if len(e.Fields) != 1 || e.Fields[0].Path != param || e.Fields[0].Message == "" || !strings.HasPrefix(e.Message, param+": ") {
		t.Fatalf("error %#v does not name %q", e, param)
	}
}

var fuzzQuerySeeds = []string{
	"", "status=success", "status=success,error", "status[]=success&status[]=warning", "status[0]=a&status[1]=b",
	"status=,,,", "status=%20,%20x%20,", "status=a&status=b,c&status[]=d&status[x]=e", "status[=x", "status]=x",
	"status[[]]=x", "statuses=x", "status%5B%5D=y", "status=%00", "status=%ff%fe", "status=a%2Cb", "status=%E2%80%A8",
	";status=x", "status=x;y", "status", "=", "&&&", "%", "%zz=1", "status=%", "a=1&&b=2&status=+x+",
	"isTest=true", "isTest=TRUE", "isTest=%20true%20", "isTest=1", "isTest=0", "isTest=false", "isTest=",
	"isTest=yes", "isTest=tru", "isTest=true&isTest=nope", "isTest=nope&isTest=true", "isTest=%00", "isTest=\u0130",
	"isTest=%C4%B0", "isTest=ﬁ", "limit=10", "limit=0", "limit=1001", "limit=-1", "limit=+5", "limit=005",
	"limit=1e3", "limit=99999999999999999999", "limit= 7 ", "limit=0x10", "limit=%D9%A3",
}

// FuzzQueryList: list never panics and never returns an empty, untrimmed or comma-holding item;
// it returns exactly the comma-separated items of the name's plain, [] and [i] keys.
func FuzzQueryList(f *testing.F) {
	for _, s := range fuzzQuerySeeds {
		f.Add(s, "status")
	}
	f.Add("type=a&type[]=b", "type")
	f.Add("a[b]=1", "a[b")
	f.Add("[]=1&[x]=2&=3", "")
	f.Fuzz(func(t *testing.T, raw, name string) {
		q := fuzzQuery(raw)
		got := q.list(name)
		for _, s := range got {
			if s == "" || s != strings.TrimSpace(s) || strings.Contains(s, ",") {
				t.Fatalf("list(%q) of %q has item %q", name, raw, s)
			}
		}
		// The reference: every value of every key that is name, name[] or name[anything].
		var want []string
		for k, vs := range q.v {
			inner, bracketed := strings.CutPrefix(k, name+"[")
			if k != name && !(bracketed && strings.HasSuffix(inner, "]")) {
				continue
			}
			for _, v := range vs {
				for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' }) {
					if p = strings.TrimSpace(p); p != "" {
						want = append(want, p)
					}
				}
			}
		}
		slices.Sort(want)
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		if !slices.Equal(sorted, want) {
			t.Fatalf("list(%q) of %q = %q, want %q", name, raw, got, want)
		}
	})
}

// FuzzQueryBoolean: boolean answers true for true/1, false for false/0, nothing for an absent or
// empty value (case and surrounding space ignored), and a 400 naming the parameter for anything
// else; limit stays within its range or answers a 400 on "limit".
func FuzzQueryBoolean(f *testing.F) {
	for _, s := range fuzzQuerySeeds {
		f.Add(s, "isTest")
	}
	f.Add("connected=1", "connected")
	f.Fuzz(func(t *testing.T, raw, name string) {
		q := fuzzQuery(raw)
		b, err := q.boolean(name)
		first := strings.ToLower(strings.TrimSpace(q.v.Get(name)))
		switch first {
		case "":
			if b != nil || err != nil {
				t.Fatalf("boolean(%q) of %q = %v, %v; want nothing", name, raw, b, err)
			}
		case "true", "1", "false", "0":
			if err != nil || b == nil || *b != (first == "true" || first == "1") {
				t.Fatalf("boolean(%q) of %q = %v, %v; want %s", name, raw, b, err, first)
			}
		default:
			if b != nil {
				t.Fatalf("boolean(%q) of %q = %v for %q", name, raw, *b, first)
			}
			fuzzWantBadQuery(t, err, name)
		}
		if s := q.str(name); s != strings.TrimSpace(q.v.Get(name)) {
			t.Fatalf("str(%q) = %q", name, s)
		}

		for _, max := range []int{1, 100, 1000} {
			n, err := q.limit(50, max)
			s := strings.TrimSpace(q.v.Get("limit"))
			switch {
			case s == "":
				if err != nil || n != 50 {
					t.Fatalf("limit of %q = %d, %v; want the default", raw, n, err)
				}
			case err != nil:
				fuzzWantBadQuery(t, err, "limit")
				if v, perr := strconv.ParseInt(s, 10, 64); perr == nil && v >= 1 && v <= int64(max) {
					t.Fatalf("limit %q refused, but it is within 1..%d", s, max)
				}
			default:
				if n < 1 || n > max {
					t.Fatalf("limit %q gave %d, outside 1..%d", s, n, max)
				}
				if v, perr := strconv.ParseInt(s, 10, 64); perr != nil || v != int64(n) {
					t.Fatalf("limit %q gave %d", s, n)
				}
			}
		}
	})
}
