package tenancy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestBuildFieldSchemaRules(t *testing.T) {
	str := func(key string) FieldDraft { return FieldDraft{Key: key, Type: "string"} }
	tests := []struct {
		name   string
		drafts []FieldDraft
		path   string // the problem expected ("" = valid)
		msg    string // part of its message
	}{
		{"empty schema", nil, "", ""},
		{"plain string", []FieldDraft{str("plan")}, "", ""},
		{"key missing", []FieldDraft{str("  ")}, "fields[0].key", "required"},
		{"key starts with a digit", []FieldDraft{str("1plan")}, "fields[0].key", "start with a letter"},
		{"key with a dash", []FieldDraft{str("my-plan")}, "fields[0].key", "letters, digits and _"},
		{"key of 63 characters", []FieldDraft{str("a" + strings.Repeat("b", 62))}, "", ""},
		{"key of 64 characters", []FieldDraft{str("a" + strings.Repeat("b", 63))}, "fields[0].key", "at most 63"},
		{"duplicate key", []FieldDraft{str("plan"), str("seats"), str("plan")}, "fields[2].key", "already used by field 1"},
		{"type missing", []FieldDraft{{Key: "plan"}}, "fields[0].type", "choose a type"},
		{"type unknown", []FieldDraft{{Key: "plan", Type: "object"}}, "fields[0].type", "must be one of"},
		{"format on a string", []FieldDraft{{Key: "site", Type: "string", Format: "uri"}}, "", ""},
		{"format on a number", []FieldDraft{{Key: "seats", Type: "number", Format: "email"}}, "fields[0].format", "string"},
		{"format unknown", []FieldDraft{{Key: "a", Type: "string", Format: "ipv4"}}, "fields[0].format", "must be one of"},
		{"enum without options", []FieldDraft{{Key: "plan", Type: "string", Choices: true, Options: " , \n"}}, "fields[0].enum", "at least one option"},
		{"options without choices", []FieldDraft{{Key: "plan", Type: "string", Options: "a,b"}}, "fields[0].enum", "Pick from a list"},
		{"enum of strings", []FieldDraft{{Key: "plan", Type: "string", Choices: true, Options: "free, pro"}}, "", ""},
		{"enum of numbers", []FieldDraft{{Key: "tier", Type: "number", Choices: true, Options: "1\n2.5"}}, "", ""},
		{"enum option not a number", []FieldDraft{{Key: "tier", Type: "number", Choices: true, Options: "1, two"}}, "fields[0].enum", `"two" is not a number`},
		{"enum option not an integer", []FieldDraft{{Key: "tier", Type: "integer", Choices: true, Options: "1, 2.5"}}, "fields[0].enum", "whole number"},
		{"enum option twice", []FieldDraft{{Key: "plan", Type: "string", Choices: true, Options: "a, b, a"}}, "fields[0].enum", "twice"},
		{"enum on a boolean", []FieldDraft{{Key: "vip", Type: "boolean", Choices: true, Options: "true"}}, "fields[0].enum", "no options"},
		{"enum option not an email", []FieldDraft{{Key: "to", Type: "string", Format: "email", Choices: true, Options: "a@b.test, nope"}}, "fields[0].enum", "nope"},
		{"enum option below minimum", []FieldDraft{{Key: "n", Type: "integer", Minimum: "5", Choices: true, Options: "5, 3"}}, "fields[0].enum", "option 3"},
		{"default in enum", []FieldDraft{{Key: "plan", Type: "string", Choices: true, Options: "free, pro", Default: "pro"}}, "", ""},
		{"default not in enum", []FieldDraft{{Key: "plan", Type: "string", Choices: true, Options: "free, pro", Default: "gold"}}, "fields[0].default", "not valid"},
		{"default not a number", []FieldDraft{{Key: "seats", Type: "integer", Default: "many"}}, "fields[0].default", "not a number"},
		{"default not an integer", []FieldDraft{{Key: "seats", Type: "integer", Default: "1.5"}}, "fields[0].default", "whole number"},
		{"default not a boolean", []FieldDraft{{Key: "vip", Type: "boolean", Default: "yes"}}, "fields[0].default", "true or false"},
		{"default boolean", []FieldDraft{{Key: "vip", Type: "boolean", Default: "TRUE"}}, "", ""},
		{"default not an email", []FieldDraft{{Key: "to", Type: "string", Format: "email", Default: "nobody"}}, "fields[0].default", "not valid"},
		{"default not a date-time", []FieldDraft{{Key: "at", Type: "string", Format: "date-time", Default: "tomorrow"}}, "fields[0].default", "not valid"},
		{"default above maximum", []FieldDraft{{Key: "n", Type: "number", Maximum: "10", Default: "11"}}, "fields[0].default", "not valid"},
		{"default too long", []FieldDraft{{Key: "s", Type: "string", MaxLength: "2", Default: "abc"}}, "fields[0].default", "not valid"},
		{"minimum not a number", []FieldDraft{{Key: "n", Type: "number", Minimum: "low"}}, "fields[0].minimum", "number"},
		{"minimum above maximum", []FieldDraft{{Key: "n", Type: "number", Minimum: "10", Maximum: "1"}}, "fields[0].maximum", "less than the minimum"},
		{"minimum on a string", []FieldDraft{{Key: "s", Type: "string", Minimum: "1"}}, "fields[0].minimum", "number and integer"},
		{"length on a number", []FieldDraft{{Key: "n", Type: "number", MaxLength: "3"}}, "fields[0].maxLength", "text"},
		{"negative length", []FieldDraft{{Key: "s", Type: "string", MinLength: "-1"}}, "fields[0].minLength", "0 or more"},
		{"min length above max length", []FieldDraft{{Key: "s", Type: "string", MinLength: "5", MaxLength: "2"}}, "fields[0].maxLength", "less than the minimum"},
		{"title too long", []FieldDraft{{Key: "s", Type: "string", Title: strings.Repeat("t", MaxFieldTitle+1)}}, "fields[0].title", "at most"},
		{"too many fields", make([]FieldDraft, MaxSchemaFields+1), "fields", "at most"},
		{"the problem's index is the row's", []FieldDraft{str("a"), str("b"), {Key: "c", Type: "number", Format: "uri"}}, "fields[2].format", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := BuildFieldSchema(tt.drafts)
			if tt.path == "" {
				if err != nil {
					t.Fatalf("BuildFieldSchema: %v, want no problem", err)
				}
				if s.Type != "object" || s.Properties == nil || len(s.Order) != len(tt.drafts) {
					t.Fatalf("schema = %+v", s)
				}
				return
			}
			v, ok := AsValidation(err)
			if !ok {
				t.Fatalf("BuildFieldSchema: %v, want a problem at %s", err, tt.path)
			}
			msg := v.For(tt.path)
			if msg == "" || !strings.Contains(msg, tt.msg) {
				t.Fatalf("problems %v: want one at %s containing %q", v.Fields, tt.path, tt.msg)
			}
			if len(s.Properties) != 0 {
				t.Errorf("a refused schema came back with fields: %+v", s)
			}
		})
	}
}

func TestBuildFieldSchemaResult(t *testing.T) {
	s, err := BuildFieldSchema([]FieldDraft{
		{Key: " seats ", Title: " Seats ", Type: "integer", Required: true, Default: "5", Minimum: "1", Maximum: "1000"},
		{Key: "plan", Type: "string", Choices: true, Options: "free\npro, plus\nenterprise", Default: "free", Sensitive: true},
		{Key: "site", Type: "string", Format: "uri", Description: "Home page", MaxLength: "200"},
		{Key: "vip", Type: "boolean", Default: "false"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"seats", "plan", "site", "vip"}; !reflect.DeepEqual(s.Order, want) || !reflect.DeepEqual(s.Keys(), want) {
		t.Errorf("order %v, keys %v, want %v", s.Order, s.Keys(), want)
	}
	if !reflect.DeepEqual(s.Required, []string{"seats"}) {
		t.Errorf("required = %v", s.Required)
	}
	seats := s.Properties["seats"]
	if seats.Title != "Seats" || seats.Default != 5.0 || *seats.Minimum != 1 || *seats.Maximum != 1000 {
		t.Errorf("seats = %+v", seats)
	}
	// Lines win over commas: "pro, plus" is one option.
	if plan := s.Properties["plan"]; !reflect.DeepEqual(plan.Enum, []any{"free", "pro, plus", "enterprise"}) || !plan.Sensitive {
		t.Errorf("plan = %+v", plan)
	}
	if vip := s.Properties["vip"]; vip.Default != false {
		t.Errorf("vip default = %#v, want false (a set default, not none)", vip.Default)
	}
	if err := ValidateFieldSchema(s); err != nil {
		t.Errorf("ValidateFieldSchema of a built schema: %v", err)
	}
	// What the API's validation then does with it.
	if err := s.ValidateFields(map[string]any{"seats": 0}, true); err == nil {
		t.Error("seats 0 passed a minimum of 1")
	}
	if err := s.ValidateFields(map[string]any{"plan": "gold"}, true); err == nil {
		t.Error("plan gold passed the options")
	}
	// Round trip through JSON (the database) and back into the editor.
	b, _ := json.Marshal(s)
	var back FieldSchema
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	drafts := DraftsOf(back)
	if len(drafts) != 4 || drafts[0].Key != "seats" || drafts[0].Default != "5" || drafts[0].Minimum != "1" || !drafts[0].Required {
		t.Fatalf("drafts = %+v", drafts)
	}
	if drafts[1].Options != "free\npro, plus\nenterprise" || !drafts[1].Choices {
		t.Errorf("plan draft = %+v", drafts[1])
	}
	if drafts[3].Default != "false" {
		t.Errorf("vip draft default = %q", drafts[3].Default)
	}
	again, err := BuildFieldSchema(drafts)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(again)
	if string(b) != string(b2) {
		t.Errorf("editor round trip changed the schema:\n%s\n%s", b, b2)
	}
}

func TestValidateFieldSchema(t *testing.T) {
	min, max := 5.0, 1.0
	tests := []struct {
		name string
		s    FieldSchema
		path string
	}{
		{"empty", FieldSchema{Type: "object"}, ""},
		{"bad key", FieldSchema{Properties: map[string]FieldDef{"bad key": {Type: "string"}}}, "properties.bad key"},
		{"bad type", FieldSchema{Properties: map[string]FieldDef{"a": {Type: "array"}}}, "properties.a.type"},
		{"enum empty", FieldSchema{Properties: map[string]FieldDef{"a": {Type: "string", Enum: []any{}}}}, "properties.a.enum"},
		{"enum wrong type", FieldSchema{Properties: map[string]FieldDef{"a": {Type: "number", Enum: []any{"x"}}}}, "properties.a.enum"},
		{"bounds", FieldSchema{Properties: map[string]FieldDef{"a": {Type: "number", Minimum: &min, Maximum: &max}}}, "properties.a.maximum"},
		{"required unknown", FieldSchema{Properties: map[string]FieldDef{"a": {Type: "string"}}, Required: []string{"b"}}, "required"},
		{"order twice", FieldSchema{Properties: map[string]FieldDef{"a": {Type: "string"}}, Order: []string{"a", "a"}}, "x-order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateFieldSchema(tt.s)
			if tt.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			v, ok := AsValidation(err)
			if !ok || v.For(tt.path) == "" {
				t.Fatalf("ValidateFieldSchema = %v, want a problem at %s", err, tt.path)
			}
		})
	}
}

func TestSplitOptions(t *testing.T) {
	tests := map[string][]string{
		"":                nil,
		"a":               {"a"},
		"a, b ,c":         {"a", "b", "c"},
		"a\nb, c\n\n d ":  {"a", "b, c", "d"},
		"a\r\nb":          {"a", "b"},
		" , ,":            nil,
		"one option\n":    {"one option"},
		"x,y\n":           {"x", "y"},
		"\n\nsolo, two\n": {"solo", "two"},
	}
	for in, want := range tests {
		if got := SplitOptions(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitOptions(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"*", "*", ""},
		{"https://app.example.com", "https://app.example.com", ""},
		{" HTTPS://App.Example.COM/ ", "https://app.example.com", ""},
		{"http://localhost:3000", "http://localhost:3000", ""},
		{"https://example.com:443", "https://example.com", ""},
		{"http://example.com:80", "http://example.com", ""},
		{"http://[::1]:8080", "http://[::1]:8080", ""},
		{"https://example.com/app", "", "path"},
		{"https://example.com?x=1", "", "query"},
		{"https://example.com#top", "", "fragment"},
		{"example.com", "", "scheme://host"},
		{"https://", "", "scheme://host"},
		{"https://user:pw@example.com", "", "user name"},
		{"https://*.example.com", "", "wildcards"},
		{"https://example.com:99999", "", "port"},
		{"https://exa mple.com", "", "spaces"},
		{"", "", "empty"},
	}
	for _, tt := range tests {
		got, err := NormalizeOrigin(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want an error about %q", tt.in, got, err, tt.err)
		}
	}
}

func TestCheckSettings(t *testing.T) {
	neg, pos := -1.0, 10.0
	negInt, posInt := -5, 60
	tests := []struct {
		name string
		s    Settings
		path string
	}{
		{"empty", Settings{}, ""},
		{"limits", Settings{AICreditsRolling30DayLimit: &pos, APIRequestsPerMinutePerTenant: &posInt, AllowedOrigins: []string{"*", "https://a.test"}}, ""},
		{"negative credits", Settings{AICreditsRolling30DayLimit: &neg}, "aiCreditsRolling30DayLimit"},
		{"negative default", Settings{DefaultTenantAICreditsLimit: &neg}, "defaultTenantAiCreditsLimit"},
		{"negative per tenant", Settings{APIRequestsPerMinutePerTenant: &negInt}, "apiRequestsPerMinutePerTenant"},
		{"negative per workspace", Settings{APIRequestsPerMinutePerWorkspace: &negInt}, "apiRequestsPerMinutePerWorkspace"},
		{"origin with a path", Settings{AllowedOrigins: []string{"https://a.test/x"}}, "allowedOrigins"},
		{"origin not normalised", Settings{AllowedOrigins: []string{"https://A.test"}}, "allowedOrigins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSettings(tt.s)
			if tt.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if v, ok := AsValidation(err); !ok || v.For(tt.path) == "" {
				t.Fatalf("CheckSettings = %v, want a problem at %s", err, tt.path)
			}
		})
	}
}
