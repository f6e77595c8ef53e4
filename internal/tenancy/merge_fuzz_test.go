package tenancy

// Fuzz target for the config layers' merge patch. Run with
//
//	go test -run '^$' -fuzz '^FuzzMergeConfig$' -fuzztime 30s ./internal/tenancy/

import (
	"encoding/json"
	"reflect"
	"testing"
)

// libraryPrunesNullsInArrays records a known departure of evanphx/json-patch (v5.9.11) from
// RFC 7386, reported on issue 8: a patch's arrays should be taken as they are, but the library
// drops null members of objects inside them ({"a":[{"b":null}]} merges as {"a":[{}]}). Null
// elements themselves are kept. Set it to false once MergeConfig follows the RFC there.
const libraryPrunesNullsInArrays = true

// fuzzPruneInArrays is what the library does to a patch's array values: null members of the
// objects inside go, recursively.
func fuzzPruneInArrays(v any, inArray bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e == nil && inArray {
				continue
			}
			out[k] = fuzzPruneInArrays(e, inArray)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fuzzPruneInArrays(e, true)
		}
		return out
	}
	return v
}

// fuzzMergeRef is RFC 7386's MergePatch pseudo-code, written out: the reference the library's
// merge is checked against.
func fuzzMergeRef(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		if libraryPrunesNullsInArrays {
			return fuzzPruneInArrays(patch, false)
		}
		return patch
	}
	t, ok := target.(map[string]any)
	out := map[string]any{}
	if ok {
		for k, v := range t {
			out[k] = v
		}
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = fuzzMergeRef(out[k], v)
		}
	}
	return out
}

// fuzzObjectNull reports whether an object member in v is null: outside arrays (a merge patch
// cannot say "null" there), and inside them too while the library prunes those.
func fuzzObjectNull(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if e == nil || fuzzObjectNull(e) {
				return true
			}
		}
	case []any:
		if !libraryPrunesNullsInArrays {
			return false
		}
		for _, e := range x {
			if fuzzObjectNull(e) {
				return true
			}
		}
	}
	return false
}

func fuzzJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// FuzzMergeConfig checks, for random JSON objects a and b: MergeConfig is RFC 7386 (against the
// reference above) and idempotent; ConfigOverride(a, b) applied to a gives b when no member of b
// is null;
// no function changes its arguments; ConfigChanges is empty exactly when a and b are equal.
func FuzzMergeConfig(f *testing.F) {
	for _, c := range [][2]string{
		{`{"a":"b"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"a":null}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`},
		{`{"a":{"b":{"c":{"d":1}}}}`, `{"a":{"b":{"c":null,"e":[null]}}}`},
		{`{"a":1}`, `{"a":{"b":null}}`},
		{`{}`, `{"a":{"b":null,"c":{"d":null}}}`},
		{`{"method":"GET","path":"/deals","query":{"limit":10}}`, `{"query":{"limit":null,"owner":"{{input.owner}}"}}`},
		{`{"big":12345678901234567890,"small":1e-320,"neg":-0}`, `{"big":12345678901234567891}`},
		{`{"":{"":""}}`, `{"":{"":null}}`},
		{`{"a.b":1,"a":{"b":2}}`, `{"a":{"b":3}}`},
		{`{"x":"\u0000\ud800"}`, `{"x":"\ufffd"}`},
		{`{"a":[1,2,3]}`, `{"a":[1,2,3]}`},
		{`{"a":{}}`, `{"a":[]}`},
		{`{"a":false}`, `{"a":0}`},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, rawA, rawB string) {
		var a, b map[string]any
		if json.Unmarshal([]byte(rawA), &a) != nil || json.Unmarshal([]byte(rawB), &b) != nil {
			return
		}
		aBefore, bBefore := fuzzJSON(a), fuzzJSON(b)
		unchanged := func(what string) {
			t.Helper()
			if fuzzJSON(a) != aBefore || fuzzJSON(b) != bBefore {
				t.Fatalf("%s changed its arguments: a %s -> %s, b %s -> %s", what, aBefore, fuzzJSON(a), bBefore, fuzzJSON(b))
			}
		}

		// MergeConfig is RFC 7386, deterministic and idempotent.
		m, err := MergeConfig(a, b)
		unchanged("MergeConfig")
		if err != nil {
			t.Fatalf("MergeConfig(%s, %s): %v", rawA, rawB, err)
		}
		want := fuzzMergeRef(orEmpty(a), b)
		if !jsonEqual(m, want) {
			t.Fatalf("MergeConfig(%s, %s) = %s, RFC 7386 says %s", rawA, rawB, fuzzJSON(m), fuzzJSON(want))
		}
		m2, err := MergeConfig(m, b)
		if err != nil || !jsonEqual(m, m2) {
			t.Fatalf("merging %s twice: %s then %s (%v)", rawB, fuzzJSON(m), fuzzJSON(m2), err)
		}

		// The stored override turns the parent into the desired config.
		p, err := ConfigOverride(a, b)
		unchanged("ConfigOverride")
		if err != nil {
			t.Fatalf("ConfigOverride(%s, %s): %v", rawA, rawB, err)
		}
		got, err := MergeConfig(a, p)
		unchanged("MergeConfig(a, override)")
		if err != nil {
			t.Fatalf("MergeConfig(a, ConfigOverride(a, b)): %v", err)
		}
		if !fuzzObjectNull(b) && !jsonEqual(got, b) {
			t.Fatalf("a=%s b=%s: override %s gives %s, want b", rawA, rawB, fuzzJSON(p), fuzzJSON(got))
		}
		if same, err := ConfigOverride(a, a); err != nil || len(same) != 0 {
			t.Fatalf("ConfigOverride(a, a) = %s (%v), want {}", fuzzJSON(same), err)
		}

		// ConfigChanges: nothing between equals, something between differents, paths sorted.
		if ch := ConfigChanges(a, a); len(ch) != 0 {
			t.Fatalf("ConfigChanges(a, a) = %+v, want none", ch)
		}
		ch := ConfigChanges(a, b)
		unchanged("ConfigChanges")
		if equal := reflect.DeepEqual(orEmpty(a), orEmpty(b)); equal != (len(ch) == 0) {
			t.Fatalf("a=%s b=%s equal=%v but ConfigChanges = %+v", rawA, rawB, equal, ch)
		}
		for i := 1; i < len(ch); i++ {
			if ch[i-1].Path > ch[i].Path {
				t.Fatalf("ConfigChanges not sorted: %q before %q", ch[i-1].Path, ch[i].Path)
			}
		}
		for _, c := range ch {
			if c.Added && c.Removed {
				t.Fatalf("change %+v both added and removed", c)
			}
		}
	})
}
