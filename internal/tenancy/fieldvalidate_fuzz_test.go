package tenancy

// Fuzz target for tenant field validation: a schema from a fixed set, random JSON values. Run with
//
//	go test -run '^$' -fuzz '^FuzzValidateFields$' -fuzztime 30s ./internal/tenancy/

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func fuzzF(v float64) *float64 { return &v }
func fuzzI(v int) *int         { return &v }

// fuzzSchemas are the schemas the target picks from: every type, format and bound the Console
// lets a manager set, plus the empty schema.
var fuzzSchemas = []FieldSchema{
	{},
	{Type: "object", Required: []string{"plan"}, Properties: map[string]FieldDef{
		"plan":    {Type: "string", Enum: []any{"starter", "pro", "enterprise"}},
		"seats":   {Type: "integer", Minimum: fuzzF(1), Maximum: fuzzF(10000)},
		"email":   {Type: "string", Format: "email"},
		"site":    {Type: "string", Format: "uri"},
		"renewal": {Type: "string", Format: "date-time"},
		"code":    {Type: "string", MinLength: fuzzI(2), MaxLength: fuzzI(4)},
		"vip":     {Type: "boolean"},
		"ratio":   {Type: "number"},
	}},
	{Type: "object", Required: []string{"region", "tier"}, Order: []string{"tier", "region"}, Properties: map[string]FieldDef{
		"region":  {Type: "string", Enum: []any{"eu", "us"}, Default: "eu"},
		"tier":    {Type: "integer", Enum: []any{1.0, 2.0, 3.0}},
		"limit":   {Type: "number", Minimum: fuzzF(-1.5), Maximum: fuzzF(1e9)},
		"api-key": {Type: "string", Sensitive: true, MinLength: fuzzI(8)},
		"a.b":     {Type: "string", MaxLength: fuzzI(3)},
	}},
	{Type: "object", Properties: map[string]FieldDef{
		"name":  {Type: "string", MaxLength: fuzzI(0)},
		"flag":  {Type: "boolean", Enum: []any{true}},
		"count": {Type: "integer", Minimum: fuzzF(0)},
	}},
}

// fuzzTypeOK is an independent check of a JSON value against a field's type and enum.
func fuzzTypeOK(d FieldDef, v any) bool {
	ok := false
	switch d.Type {
	case "string":
		_, ok = v.(string)
	case "boolean":
		_, ok = v.(bool)
	case "number":
		_, ok = v.(float64)
	case "integer":
		x, isNum := v.(float64)
		ok = isNum && x == math.Trunc(x)
	}
	if ok && d.Enum != nil {
		ok = slices.ContainsFunc(d.Enum, func(e any) bool { return reflect.DeepEqual(e, v) })
	}
	if s, isStr := v.(string); ok && isStr {
		n := utf8.RuneCountInString(s)
		if d.MinLength != nil && n < *d.MinLength || d.MaxLength != nil && n > *d.MaxLength {
			ok = false
		}
	}
	if x, isNum := v.(float64); ok && isNum {
		if d.Minimum != nil && x < *d.Minimum || d.Maximum != nil && x > *d.Maximum {
			ok = false
		}
	}
	return ok
}

func fuzzPaths(err error) []string {
	if err == nil {
		return nil
	}
	v, _ := AsValidation(err)
	var out []string
	for _, f := range v.Fields {
		out = append(out, f.Path)
	}
	slices.Sort(out)
	return out
}

// FuzzValidateFields: never panics; every problem is a ValidationError field under "fields";
// the answer is deterministic; a value the validator accepts satisfies an independent check of
// types, enums and bounds, and still validates after a JSON round trip; a value that fails the
// independent check is refused with its own path named.
func FuzzValidateFields(f *testing.F) {
	for _, c := range []string{
		`{"plan":"pro","seats":3,"email":"a@b.co","site":"https://x.io","renewal":"2026-01-02T03:04:05Z","code":"ab","vip":true,"ratio":0.5}`,
		`{"plan":"gold"}`, `{"plan":null}`, `{"seats":null}`, `{}`, `{"plan":"pro","seats":2.5}`,
		`{"plan":"pro","seats":1e308}`, `{"plan":"pro","seats":-0}`, `{"plan":"pro","seats":10000.0000000001}`,
		`{"plan":"pro","code":"ééé"}`, `{"plan":"pro","code":"😀😀"}`, `{"plan":"pro","code":"\u0000\u0000"}`,
		`{"plan":"pro","email":"a@b"}`, `{"plan":"pro","email":"\"a b\"@example.com"}`, `{"plan":"pro","site":"javascript:alert(1)"}`,
		`{"plan":"pro","renewal":"2026-02-30T00:00:00Z"}`, `{"plan":"pro","renewal":"2026-01-02T03:04:60Z"}`,
		`{"plan":"pro","vip":"true"}`, `{"plan":"pro","ratio":"1"}`, `{"plan":["pro"]}`, `{"plan":{"$ref":"#"}}`,
		`{"plan":"pro","unknown":{"deep":[1,{"x":null}]}}`, `{"region":"eu","tier":2}`, `{"region":"eu","tier":2.0000001}`,
		`{"region":"us","tier":3,"api-key":"12345678","a.b":"xyz","limit":-1.5}`, `{"a.b":"abcd","region":"eu","tier":1}`,
		`{"name":"","flag":true,"count":0}`, `{"name":"x","flag":false,"count":-1}`, `{"fields.plan":1}`, `{"/":1,"~0":2}`,
	} {
		for i := range fuzzSchemas {
			f.Add(uint8(i), c, false)
			f.Add(uint8(i), c, true)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, raw string, partial bool) {
		var fields map[string]any
		if json.Unmarshal([]byte(raw), &fields) != nil || fields == nil {
			return
		}
		s := fuzzSchemas[int(which)%len(fuzzSchemas)]
		err := s.ValidateFields(fields, partial)
		if err != nil {
			v, ok := AsValidation(err)
			if !ok {
				t.Fatalf("error %v (%T) is not a ValidationError", err, err)
			}
			if len(v.Fields) == 0 {
				t.Fatal("a ValidationError without fields")
			}
			for _, fe := range v.Fields {
				if fe.Path != "fields" && !strings.HasPrefix(fe.Path, "fields.") {
					t.Fatalf("problem path %q is not under fields (%v)", fe.Path, v.Fields)
				}
				if fe.Message == "" {
					t.Fatalf("problem at %q has no message", fe.Path)
				}
			}
		}
		if again := s.ValidateFields(fields, partial); !slices.Equal(fuzzPaths(err), fuzzPaths(again)) {
			t.Fatalf("not deterministic: %v then %v", err, again)
		}

		// The independent check of each value with a schema.
		for k, d := range s.Properties {
			val, present := fields[k]
			switch {
			case !present && !partial && slices.Contains(s.Required, k):
				if err == nil {
					t.Fatalf("required %q missing but accepted", k)
				}
			case present && val == nil && partial:
				if slices.Contains(s.Required, k) && err == nil {
					t.Fatalf("required %q removed but accepted", k)
				}
			case present && !fuzzTypeOK(d, val):
				if err == nil {
					t.Fatalf("%q = %#v does not fit %+v but was accepted", k, val, d)
				}
				if v, _ := AsValidation(err); v.For("fields."+k) == "" {
					t.Fatalf("%q = %#v does not fit its schema but the error does not name fields.%s: %v", k, val, k, err)
				}
			}
		}
		if err != nil {
			return
		}
		b, mErr := json.Marshal(fields)
		if mErr != nil {
			t.Fatalf("accepted values do not marshal: %v", mErr)
		}
		var back map[string]any
		if uErr := json.Unmarshal(b, &back); uErr != nil {
			t.Fatalf("accepted values do not round-trip: %v", uErr)
		}
		if err := s.ValidateFields(back, partial); err != nil {
			t.Fatalf("accepted %s, then refused it after a JSON round trip: %v", raw, err)
		}
	})
}
