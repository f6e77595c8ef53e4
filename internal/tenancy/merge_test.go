package tenancy

import (
	"encoding/json"
	"reflect"
	"testing"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

func wantJSON(t *testing.T, what string, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("%s = %s, want %s", what, g, want)
	}
}

// The cases of RFC 7386's appendix that matter for configs: nested objects merge, arrays and
// scalars replace, null removes, and removing an absent key changes nothing.
func TestMergeConfigFollowsRFC7386(t *testing.T) {
	cases := []struct{ base, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"q":{"limit":"100","sort":"asc"}}`, `{"q":{"limit":"25"}}`, `{"q":{"limit":"25","sort":"asc"}}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
	}
	for _, c := range cases {
		base := obj(t, c.base)
		got, err := MergeConfig(base, obj(t, c.patch))
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, c.base+" + "+c.patch, got, c.want)
		if b, _ := json.Marshal(base); string(b) != string(mustJSON(obj(t, c.base))) {
			t.Errorf("MergeConfig changed its base: %s", b)
		}
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// A customization stores the smallest override; merged onto the parent it gives back exactly
// what the tenant asked for, and it keeps following the template where it does not override.
func TestConfigOverrideRoundTripAndTemplateChange(t *testing.T) {
	template := obj(t, `{"method":"GET","path":"/deals","query":{"limit":"100","sort":"asc"},"headers":{"X-A":"1"},"tags":["a","b"]}`)
	desired := obj(t, `{"method":"GET","path":"/deals","query":{"limit":"25","sort":"asc"},"tags":["c"]}`)
	override, err := ConfigOverride(template, desired)
	if err != nil {
		t.Fatal(err)
	}
	// Only what differs: a nested key, an array replaced whole, a removed object (null).
	wantJSON(t, "override", override, `{"query":{"limit":"25"},"headers":null,"tags":["c"]}`)
	eff, err := MergeConfig(template, override)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "effective", eff, `{"method":"GET","path":"/deals","query":{"limit":"25","sort":"asc"},"tags":["c"]}`)

	// The template changes afterwards: the override keeps its keys, the rest follows.
	template2 := obj(t, `{"method":"POST","path":"/v2/deals","query":{"limit":"500","sort":"desc"},"headers":{"X-B":"2"},"tags":["z"]}`)
	eff2, err := MergeConfig(template2, override)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "effective after the template changed", eff2, `{"method":"POST","path":"/v2/deals","query":{"limit":"25","sort":"desc"},"tags":["c"]}`)

	// Nothing differs: an empty override (reset).
	none, err := ConfigOverride(template, template)
	if err != nil {
		t.Fatal(err)
	}
	if len(none) != 0 {
		t.Errorf("override of an unchanged config = %v, want {}", none)
	}
}

func TestMergeChainLayersInOrder(t *testing.T) {
	got, err := MergeChain(obj(t, `{"a":1,"b":{"x":1,"y":1}}`), obj(t, `{"b":{"y":2}}`), obj(t, `{"a":null,"b":{"z":3}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "chain", got, `{"b":{"x":1,"y":2,"z":3}}`)
}

func TestConfigChangesNamesEveryDifference(t *testing.T) {
	got := ConfigChanges(obj(t, `{"a":1,"n":{"x":1,"y":2},"arr":[1,2],"gone":true}`), obj(t, `{"a":1,"n":{"x":5,"y":2,"z":0},"arr":[1,2,3],"new":"v"}`))
	var paths []string
	for _, c := range got {
		paths = append(paths, c.Path)
	}
	want := []string{"arr", "gone", "n.x", "n.z", "new"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("changed paths = %v, want %v", paths, want)
	}
	if !got[1].Removed || !got[3].Added || got[2].Before != float64(1) || got[2].After != float64(5) {
		t.Errorf("change details wrong: %+v", got)
	}
}

func TestValidateElementNamesConfigPaths(t *testing.T) {
	verr := &ValidationError{}
	ValidateElement(KindAction, "list deals", "", "http-request", obj(t, `{"method":"FETCH","path":1,"timeoutSeconds":600,"oops":1}`), verr)
	for _, p := range []string{"key", "config.method", "config.path", "config.timeoutSeconds"} {
		if verr.For(p) == "" {
			t.Errorf("no problem named %s in %v", p, verr)
		}
	}
	if verr.For("config") == "" && verr.For("config.oops") == "" {
		t.Errorf("an unknown key in an http-request config was not refused: %v", verr)
	}
	ok := &ValidationError{}
	ValidateElement(KindAction, "list-deals", "List deals", "http-request", obj(t, `{"method":"GET","path":"/deals","query":{"limit":"10"}}`), ok)
	if ok.Err() != nil {
		t.Errorf("a valid action was refused: %v", ok)
	}
	bad := &ValidationError{}
	ValidateElement(KindFlow, "f", "F", "http-request", obj(t, `{"steps":[{"input":{}}]}`), bad)
	if bad.For("type") == "" || bad.Err() == nil {
		t.Errorf("a flow with a type / a step without an action passed: %v", bad)
	}
	kind := &ValidationError{}
	ValidateElement("app", "k", "K", "", nil, kind)
	if kind.For("kind") == "" {
		t.Errorf("apps are universe-only but validated as workspace elements")
	}
}
