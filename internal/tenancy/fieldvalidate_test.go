package tenancy

import (
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func testSchema() FieldSchema {
	return FieldSchema{Type: "object", Required: []string{"plan"}, Properties: map[string]FieldDef{
		"plan":    {Type: "string", Enum: []any{"starter", "pro", "enterprise"}},
		"seats":   {Type: "integer", Minimum: ptr(1.0), Maximum: ptr(10000.0)},
		"email":   {Type: "string", Format: "email"},
		"site":    {Type: "string", Format: "uri"},
		"renewal": {Type: "string", Format: "date-time"},
		"code":    {Type: "string", MinLength: ptr(2), MaxLength: ptr(4)},
		"vip":     {Type: "boolean"},
		"ratio":   {Type: "number"},
	}}
}

func TestValidateFields(t *testing.T) {
	s := testSchema()
	cases := []struct {
		name    string
		fields  map[string]any
		partial bool
		bad     []string // paths expected in the error; nil = valid
	}{
		{"valid full", map[string]any{"plan": "pro", "seats": 3, "email": "a@b.co", "site": "https://x.io",
			"renewal": "2026-01-02T03:04:05Z", "code": "ab", "vip": true, "ratio": 0.5}, false, nil},
		{"unknown keys pass", map[string]any{"plan": "pro", "whatever": map[string]any{"x": 1}}, false, nil},
		{"missing required", map[string]any{"seats": 3}, false, []string{"fields.plan"}},
		{"partial skips required", map[string]any{"seats": 3}, true, nil},
		{"partial cannot remove required", map[string]any{"plan": nil}, true, []string{"fields.plan"}},
		{"partial may remove optional", map[string]any{"seats": nil}, true, nil},
		{"enum", map[string]any{"plan": "gold"}, false, []string{"fields.plan"}},
		{"integer", map[string]any{"plan": "pro", "seats": 2.5}, false, []string{"fields.seats"}},
		{"wrong type", map[string]any{"plan": "pro", "seats": "many"}, false, []string{"fields.seats"}},
		{"minimum", map[string]any{"plan": "pro", "seats": 0}, false, []string{"fields.seats"}},
		{"maximum", map[string]any{"plan": "pro", "seats": 10001}, false, []string{"fields.seats"}},
		{"email", map[string]any{"plan": "pro", "email": "nope"}, false, []string{"fields.email"}},
		{"uri", map[string]any{"plan": "pro", "site": "not a uri"}, false, []string{"fields.site"}},
		{"date-time", map[string]any{"plan": "pro", "renewal": "yesterday"}, false, []string{"fields.renewal"}},
		{"minLength", map[string]any{"plan": "pro", "code": "a"}, false, []string{"fields.code"}},
		{"maxLength", map[string]any{"plan": "pro", "code": "abcde"}, false, []string{"fields.code"}},
		{"boolean", map[string]any{"plan": "pro", "vip": "yes"}, false, []string{"fields.vip"}},
		{"several at once", map[string]any{"plan": "x", "seats": "y"}, false, []string{"fields.plan", "fields.seats"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.ValidateFields(c.fields, c.partial)
			if c.bad == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			v, ok := AsValidation(err)
			if !ok {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			for _, p := range c.bad {
				if v.For(p) == "" {
					t.Errorf("no problem reported for %s (got %v)", p, v.Fields)
				}
			}
			if len(v.Fields) != len(c.bad) {
				t.Errorf("problems %v, want exactly %v", v.Fields, c.bad)
			}
		})
	}
}

func TestValidateFieldsNoSchema(t *testing.T) {
	if err := (FieldSchema{}).ValidateFields(map[string]any{"anything": []any{1, "x"}}, false); err != nil {
		t.Fatal(err)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := testSchema().ValidateFields(map[string]any{"plan": "gold"}, false)
	if err == nil || !strings.Contains(err.Error(), "fields.plan") {
		t.Fatalf("message %v does not name the path", err)
	}
}
