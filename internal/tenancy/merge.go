package tenancy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// Element configs are layered: universe → workspace → tenant → connection. Each layer below the
// first is an RFC 7386 JSON merge patch over the effective config of the layers above: objects
// merge key by key, a null removes a key, anything else (arrays included) replaces. The merge
// is evanphx/json-patch's, the reference Go implementation, rather than our own.

// MergeConfig returns base with patch merged on top (RFC 7386). Neither argument is changed.
func MergeConfig(base, patch map[string]any) (map[string]any, error) {
	if len(patch) == 0 {
		return clone(base)
	}
	b, err := json.Marshal(orEmpty(base))
	if err != nil {
		return nil, fmt.Errorf("merge: base: %w", err)
	}
	p, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("merge: patch: %w", err)
	}
	out, err := jsonpatch.MergePatch(b, p)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	return decodeObject(out)
}

// MergeChain merges each layer onto the ones before it.
func MergeChain(layers ...map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for _, l := range layers {
		var err error
		if out, err = MergeConfig(out, l); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ConfigOverride returns the smallest merge patch that turns parent into desired: what a
// customization stores so that it keeps only what differs and follows the template elsewhere.
func ConfigOverride(parent, desired map[string]any) (map[string]any, error) {
	a, err := json.Marshal(orEmpty(parent))
	if err != nil {
		return nil, fmt.Errorf("override: parent: %w", err)
	}
	b, err := json.Marshal(orEmpty(desired))
	if err != nil {
		return nil, fmt.Errorf("override: desired: %w", err)
	}
	p, err := jsonpatch.CreateMergePatch(a, b)
	if err != nil {
		return nil, fmt.Errorf("override: %w", err)
	}
	return decodeObject(p)
}

// ConfigChange is one difference between a parent's config and an element's, at a dotted path.
type ConfigChange struct {
	Path    string
	Before  any // absent in the parent: nil with Added
	After   any // removed: nil with Removed
	Added   bool
	Removed bool
}

// ConfigChanges lists, sorted by path, where after differs from before: objects are compared
// key by key, other values (arrays included, as merge patches treat them) as a whole.
func ConfigChanges(before, after map[string]any) []ConfigChange {
	var out []ConfigChange
	diffObjects("", orEmpty(before), orEmpty(after), &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func diffObjects(prefix string, a, b map[string]any, out *[]ConfigChange) {
	for k, av := range a {
		p := joinPath(prefix, k)
		bv, ok := b[k]
		if !ok {
			*out = append(*out, ConfigChange{Path: p, Before: av, Removed: true})
			continue
		}
		am, aok := av.(map[string]any)
		bm, bok := bv.(map[string]any)
		if aok && bok {
			diffObjects(p, am, bm, out)
			continue
		}
		if !jsonEqual(av, bv) {
			*out = append(*out, ConfigChange{Path: p, Before: av, After: bv})
		}
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			*out = append(*out, ConfigChange{Path: joinPath(prefix, k), After: bv, Added: true})
		}
	}
}

func joinPath(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func jsonEqual(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var x, y any
	_ = json.Unmarshal(ja, &x)
	_ = json.Unmarshal(jb, &y)
	return reflect.DeepEqual(x, y)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func clone(m map[string]any) (map[string]any, error) {
	b, err := json.Marshal(orEmpty(m))
	if err != nil {
		return nil, err
	}
	return decodeObject(b)
}

func decodeObject(b []byte) (map[string]any, error) {
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("merge: result: %w", err)
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}
