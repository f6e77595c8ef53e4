package tenancy

// Rules for defining the tenant field schema (what a manager types into Settings > General) and
// for the workspace settings beside it. Pure: text in, a FieldSchema or Settings problems out.
// The store applies the same rules before it writes, so the Console and any other caller agree.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldTypes are the types a tenant field may have.
var FieldTypes = []string{"string", "number", "integer", "boolean"}

// StringFormats are the formats a string field may have; "" is plain text.
var StringFormats = []string{"email", "uri", "date-time"}

// Limits on a schema's size, so that a schema stays something a person can read on one page.
const (
	MaxSchemaFields     = 100
	MaxFieldOptions     = 500
	MaxFieldTitle       = 200
	MaxFieldDescription = 2000
	singleValueKey      = "value"
)

var fieldKeyRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{0,62}$`)

// ValidFieldKey reports whether key may name a tenant field.
func ValidFieldKey(key string) bool { return fieldKeyRE.MatchString(key) }

// FieldDraft is one field of the schema editor as typed: every value is still text. The input
// names of the editor (and so the paths of problems) are the json names.
type FieldDraft struct {
	Key         string `json:"key"`
	Title       string `json:"title"`
	Type        string `json:"type"`
	Format      string `json:"format"`
	Description string `json:"description"`
	Required    bool   `json:"required"`
	Sensitive   bool   `json:"sensitive"`
	Default     string `json:"default"` // "" = no default
	Choices     bool   `json:"choices"` // the value is picked from Options
	Options     string `json:"enum"`    // one per line, or comma-separated on one line
	Minimum     string `json:"minimum"`
	Maximum     string `json:"maximum"`
	MinLength   string `json:"minLength"`
	MaxLength   string `json:"maxLength"`
}

// BuildFieldSchema checks the editor's fields and returns the schema they define, with Order
// the fields' order. Problems name their input as "fields[i].<name>" (i counts from 0 in the
// order given), e.g. "fields[2].key".
func BuildFieldSchema(drafts []FieldDraft) (FieldSchema, error) {
	verr := &ValidationError{}
	s := FieldSchema{Type: "object", Properties: map[string]FieldDef{}}
	if len(drafts) > MaxSchemaFields {
		verr.Add("fields", "a schema has at most %d fields", MaxSchemaFields)
		return s, verr
	}
	firstUse := map[string]int{}
	for i, d := range drafts {
		path := func(name string) string { return fmt.Sprintf("fields[%d].%s", i, name) }
		key := strings.TrimSpace(d.Key)
		switch {
		case key == "":
			verr.Add(path("key"), "is required")
		case !ValidFieldKey(key):
			verr.Add(path("key"), "must start with a letter and use only letters, digits and _ (at most 63 characters)")
		default:
			if j, dup := firstUse[key]; dup {
				verr.Add(path("key"), "is already used by field %d", j+1)
			} else {
				firstUse[key] = i
			}
		}
		def, required, ok := parseDraft(d, path, verr)
		if ok {
			checkFieldDef(def, path, verr)
		}
		if key != "" {
			if _, taken := s.Properties[key]; !taken {
				s.Properties[key] = def
				s.Order = append(s.Order, key)
				if required {
					s.Required = append(s.Required, key)
				}
			}
		}
	}
	if err := verr.Err(); err != nil {
		return FieldSchema{Type: "object", Properties: map[string]FieldDef{}}, err
	}
	return s, nil
}

// parseDraft turns a draft's text into a FieldDef; ok is false when some text did not parse (the
// problems are in verr), and then the value checks are skipped.
func parseDraft(d FieldDraft, path func(string) string, verr *ValidationError) (def FieldDef, required, ok bool) {
	before := len(verr.Fields)
	def = FieldDef{
		Type:        strings.ToLower(strings.TrimSpace(d.Type)),
		Title:       strings.TrimSpace(d.Title),
		Description: strings.TrimSpace(d.Description),
		Format:      strings.ToLower(strings.TrimSpace(d.Format)),
		Sensitive:   d.Sensitive,
	}
	if def.Type == "" {
		verr.Add(path("type"), "choose a type")
	} else if !slices.Contains(FieldTypes, def.Type) {
		verr.Add(path("type"), "must be one of %s", strings.Join(FieldTypes, ", "))
	}
	def.Minimum = parseBound(d.Minimum, path("minimum"), verr)
	def.Maximum = parseBound(d.Maximum, path("maximum"), verr)
	def.MinLength = parseLength(d.MinLength, path("minLength"), verr)
	def.MaxLength = parseLength(d.MaxLength, path("maxLength"), verr)
	typeOK := slices.Contains(FieldTypes, def.Type)
	options := SplitOptions(d.Options)
	switch {
	case d.Choices:
		def.Enum = []any{}
		if !typeOK || def.Type == "boolean" {
			break // checkFieldDef says what is wrong
		}
		for _, o := range options {
			v, err := parseValue(def.Type, o)
			if err != nil {
				verr.Add(path("enum"), "option %q %s", o, err.Error())
				break
			}
			def.Enum = append(def.Enum, v)
		}
	case len(options) > 0:
		verr.Add(path("enum"), "tick “Pick from a list” to use these options, or clear them")
	}
	if text := strings.TrimSpace(d.Default); text != "" && typeOK {
		v, err := parseValue(def.Type, text)
		if err != nil {
			verr.Add(path("default"), "%s", err.Error())
		} else {
			def.Default = v
		}
	}
	return def, d.Required, len(verr.Fields) == before
}

func parseBound(text, path string, verr *ValidationError) *float64 {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		verr.Add(path, "must be a number")
		return nil
	}
	return &f
}

func parseLength(text, path string, verr *ValidationError) *int {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 {
		verr.Add(path, "must be a whole number, 0 or more")
		return nil
	}
	return &n
}

// parseValue reads one value typed for a field of type typ. Numbers become float64, as they
// would from JSON.
func parseValue(typ, text string) (any, error) {
	switch typ {
	case "number", "integer":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("is not a number")
		}
		if typ == "integer" && f != math.Trunc(f) {
			return nil, fmt.Errorf("is not a whole number")
		}
		return f, nil
	case "boolean":
		switch strings.ToLower(text) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("must be true or false")
	}
	return text, nil
}

// SplitOptions splits an options text: one option per line, or, when it is one line, separated
// by commas. Blank options are dropped.
func SplitOptions(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	sep := "\n"
	if !strings.Contains(strings.TrimSpace(text), "\n") {
		sep = ","
	}
	var out []string
	for _, o := range strings.Split(text, sep) {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// checkFieldDef applies the rules a field's definition must follow; path names each input.
func checkFieldDef(def FieldDef, path func(string) string, verr *ValidationError) {
	before := len(verr.Fields)
	if !slices.Contains(FieldTypes, def.Type) {
		verr.Add(path("type"), "must be one of %s", strings.Join(FieldTypes, ", "))
		return
	}
	if utf8.RuneCountInString(def.Title) > MaxFieldTitle {
		verr.Add(path("title"), "must be at most %d characters", MaxFieldTitle)
	}
	if utf8.RuneCountInString(def.Description) > MaxFieldDescription {
		verr.Add(path("description"), "must be at most %d characters", MaxFieldDescription)
	}
	numeric := def.Type == "number" || def.Type == "integer"
	if def.Format != "" {
		switch {
		case def.Type != "string":
			verr.Add(path("format"), "applies to text (string) fields only")
		case !slices.Contains(StringFormats, def.Format):
			verr.Add(path("format"), "must be one of %s, or none", strings.Join(StringFormats, ", "))
		}
	}
	if !numeric {
		if def.Minimum != nil {
			verr.Add(path("minimum"), "applies to number and integer fields only")
		}
		if def.Maximum != nil {
			verr.Add(path("maximum"), "applies to number and integer fields only")
		}
	} else if def.Minimum != nil && def.Maximum != nil && *def.Minimum > *def.Maximum {
		verr.Add(path("maximum"), "must not be less than the minimum")
	}
	if def.Type != "string" {
		if def.MinLength != nil {
			verr.Add(path("minLength"), "applies to text (string) fields only")
		}
		if def.MaxLength != nil {
			verr.Add(path("maxLength"), "applies to text (string) fields only")
		}
	} else {
		if def.MinLength != nil && *def.MinLength < 0 {
			verr.Add(path("minLength"), "must be 0 or more")
		}
		if def.MaxLength != nil && *def.MaxLength < 0 {
			verr.Add(path("maxLength"), "must be 0 or more")
		}
		if def.MinLength != nil && def.MaxLength != nil && *def.MinLength > *def.MaxLength {
			verr.Add(path("maxLength"), "must not be less than the minimum length")
		}
	}
	if def.Enum != nil {
		switch {
		case def.Type == "boolean":
			verr.Add(path("enum"), "a yes/no (boolean) field has no options")
		case len(def.Enum) == 0:
			verr.Add(path("enum"), "add at least one option")
		case len(def.Enum) > MaxFieldOptions:
			verr.Add(path("enum"), "at most %d options", MaxFieldOptions)
		}
	}
	if len(verr.Fields) > before {
		return // the values below cannot be judged against a definition that is itself wrong
	}
	// Each option must be a value the field accepts without its list of options.
	if len(def.Enum) > 0 {
		plain := def
		plain.Enum, plain.Default = nil, nil
		seen := map[string]bool{}
		for _, o := range def.Enum {
			b, _ := json.Marshal(o)
			if seen[string(b)] {
				verr.Add(path("enum"), "option %s is listed twice", formatOption(o))
				break
			}
			seen[string(b)] = true
			if msg := singleValueProblem(plain, o); msg != "" {
				verr.Add(path("enum"), "option %s: %s", formatOption(o), msg)
				break
			}
		}
	}
	// The default must be a value the field accepts: the same check tenants' values get.
	if def.Default != nil {
		if msg := singleValueProblem(def, def.Default); msg != "" {
			verr.Add(path("default"), "is not valid for this field: %s", msg)
		}
	}
}

// singleValueProblem validates v against a one-field schema with def, as tenant values are.
func singleValueProblem(def FieldDef, v any) string {
	s := FieldSchema{Type: "object", Properties: map[string]FieldDef{singleValueKey: def}}
	err := s.ValidateFields(map[string]any{singleValueKey: v}, true)
	if err == nil {
		return ""
	}
	if ve, ok := AsValidation(err); ok && len(ve.Fields) > 0 {
		return ve.Fields[0].Message
	}
	return err.Error()
}

func formatOption(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return FormatFieldValue(v)
}

// ValidateFieldSchema checks a whole schema (as stored, or sent by a caller other than the
// editor) by the same rules. Problems name "properties.<key>.<name>".
func ValidateFieldSchema(s FieldSchema) error {
	verr := &ValidationError{}
	if s.Type != "" && s.Type != "object" {
		verr.Add("type", "must be object")
	}
	if len(s.Properties) > MaxSchemaFields {
		verr.Add("properties", "a schema has at most %d fields", MaxSchemaFields)
		return verr
	}
	for _, key := range s.Keys() {
		if !ValidFieldKey(key) {
			verr.Add("properties."+key, "key must start with a letter and use only letters, digits and _ (at most 63 characters)")
		}
		checkFieldDef(s.Properties[key], func(name string) string { return "properties." + key + "." + name }, verr)
	}
	for _, r := range s.Required {
		if _, ok := s.Properties[r]; !ok {
			verr.Add("required", "names %q, which is not a field", r)
		}
	}
	seen := map[string]bool{}
	for _, k := range s.Order {
		if seen[k] {
			verr.Add("x-order", "names %q twice", k)
		}
		seen[k] = true
	}
	return verr.Err()
}

// DraftsOf turns a schema back into editor rows, in display order.
func DraftsOf(s FieldSchema) []FieldDraft {
	keys := s.Keys()
	out := make([]FieldDraft, 0, len(keys))
	for _, k := range keys {
		def := s.Properties[k]
		d := FieldDraft{Key: k, Title: def.Title, Type: def.Type, Format: def.Format, Description: def.Description,
			Required: slices.Contains(s.Required, k), Sensitive: def.Sensitive, Choices: def.Enum != nil}
		if def.Default != nil {
			d.Default = FormatFieldValue(def.Default)
		}
		opts := make([]string, len(def.Enum))
		for i, o := range def.Enum {
			opts[i] = FormatFieldValue(o)
		}
		d.Options = strings.Join(opts, "\n")
		if def.Minimum != nil {
			d.Minimum = FormatFieldValue(*def.Minimum)
		}
		if def.Maximum != nil {
			d.Maximum = FormatFieldValue(*def.Maximum)
		}
		if def.MinLength != nil {
			d.MinLength = strconv.Itoa(*def.MinLength)
		}
		if def.MaxLength != nil {
			d.MaxLength = strconv.Itoa(*def.MaxLength)
		}
		out = append(out, d)
	}
	return out
}

// FormatFieldValue writes a field value as a person would type it: numbers without exponent or
// trailing zeros, booleans as true/false, strings as they are.
func FormatFieldValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case int:
		return strconv.Itoa(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// --- Workspace settings ------------------------------------------------------------------------

// MaxAllowedOrigins bounds the allowed-origins list.
const MaxAllowedOrigins = 100

// NormalizeOrigin returns origin as browsers send it in the Origin header (lowercase scheme and
// host, no default port, no trailing slash), or an error saying why it is not an origin. "*"
// (every origin) is returned as it is.
func NormalizeOrigin(origin string) (string, error) {
	origin = strings.TrimSpace(origin)
	switch {
	case origin == "*":
		return origin, nil
	case origin == "":
		return "", fmt.Errorf("is empty")
	case strings.IndexFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "", fmt.Errorf("must not contain spaces")
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" {
		return "", fmt.Errorf("is not an origin: write scheme://host[:port], e.g. https://app.example.com")
	}
	if u.User != nil {
		return "", fmt.Errorf("must not contain a user name or password")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(origin, "#") {
		return "", fmt.Errorf("must not have a path, query or fragment: an origin is scheme://host[:port]")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return "", fmt.Errorf("has no host")
	}
	if strings.Contains(host, "*") {
		return "", fmt.Errorf("wildcards in a host are not supported: list each origin, or * alone for every origin")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("has an invalid port")
		}
		port = strconv.Itoa(n)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// CheckSettings applies the rules workspace settings must follow: limits are 0 or more, and
// allowed origins are origins (as NormalizeOrigin writes them) or "*". Problems name the
// settings' json names.
func CheckSettings(s Settings) error {
	verr := &ValidationError{}
	nonNegative := func(path string, v *float64) {
		if v != nil && (*v < 0 || math.IsNaN(*v) || math.IsInf(*v, 0)) {
			verr.Add(path, "must be 0 or more (leave it blank for no limit)")
		}
	}
	nonNegativeInt := func(path string, v *int) {
		if v != nil && *v < 0 {
			verr.Add(path, "must be 0 or more (leave it blank for no limit)")
		}
	}
	nonNegative("aiCreditsRolling30DayLimit", s.AICreditsRolling30DayLimit)
	nonNegative("defaultTenantAiCreditsLimit", s.DefaultTenantAICreditsLimit)
	nonNegativeInt("apiRequestsPerMinutePerTenant", s.APIRequestsPerMinutePerTenant)
	nonNegativeInt("apiRequestsPerMinutePerWorkspace", s.APIRequestsPerMinutePerWorkspace)
	if len(s.AllowedOrigins) > MaxAllowedOrigins {
		verr.Add("allowedOrigins", "at most %d origins", MaxAllowedOrigins)
	}
	for _, o := range s.AllowedOrigins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			verr.Add("allowedOrigins", "%q %s", o, err.Error())
			break
		}
		if n != o {
			verr.Add("allowedOrigins", "%q must be written as %q", o, n)
			break
		}
	}
	return verr.Err()
}
