package settings

import (
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"tenantry/internal/tenancy"
)

// TenantField is one field of a tenant's Fields form, as the schema defines it: what the
// preview shows, and what a tenant page can render with TenantFieldInput.
type TenantField struct {
	Key         string
	Label       string
	Description string
	Type        string // string, number, integer, boolean
	Format      string // email, uri, date-time or ""
	Required    bool
	Sensitive   bool
	Options     []string // a select's options, as text; none = a free value
	Value       string   // the value shown, as text
	Min, Max    string   // number bounds
	MinLength   string
	MaxLength   string
	// IDPrefix keeps ids unique when two forms share a page ("preview-").
	IDPrefix string
}

// Control is the kind of input the field gets.
func (f TenantField) Control() string {
	switch {
	case f.Type == "boolean":
		return "checkbox"
	case len(f.Options) > 0:
		return "select"
	case f.Sensitive:
		return "password"
	case f.Type == "number" || f.Type == "integer":
		return "number"
	case f.Format == "email":
		return "email"
	case f.Format == "uri":
		return "url"
	case f.Format == "date-time":
		return "datetime-local"
	}
	return "text"
}

// InputName is the name the tenant page's form posts the field under.
func (f TenantField) InputName() string { return "fields." + f.Key }

// ID is the input's element id.
func (f TenantField) ID() string { return f.IDPrefix + "field-" + f.Key }

func (f TenantField) step() string {
	if f.Type == "integer" {
		return "1"
	}
	return "any"
}

// datetimeLocal turns an RFC 3339 value into what a datetime-local input shows.
func datetimeLocal(v string) string {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC().Format("2006-01-02T15:04")
	}
	return ""
}

// PreviewFields turns the editor's fields, valid or not yet, into the tenant form they would
// make: rows without a key or a known type are left out, options that do not parse too.
func PreviewFields(drafts []tenancy.FieldDraft) []TenantField {
	var out []TenantField
	seen := map[string]bool{}
	for i, d := range drafts {
		key := strings.TrimSpace(d.Key)
		typ := strings.ToLower(strings.TrimSpace(d.Type))
		if key == "" || seen[key] || !contains(tenancy.FieldTypes, typ) {
			continue
		}
		seen[key] = true
		f := TenantField{Key: key, Label: strings.TrimSpace(d.Title), Description: strings.TrimSpace(d.Description),
			Type: typ, Required: d.Required, Sensitive: d.Sensitive, Value: strings.TrimSpace(d.Default),
			IDPrefix: "preview-" + strconv.Itoa(i) + "-"}
		if f.Label == "" {
			f.Label = key
		}
		if typ == "string" {
			f.Format = strings.ToLower(strings.TrimSpace(d.Format))
			f.MinLength, f.MaxLength = strings.TrimSpace(d.MinLength), strings.TrimSpace(d.MaxLength)
		}
		if typ == "number" || typ == "integer" {
			f.Min, f.Max = strings.TrimSpace(d.Minimum), strings.TrimSpace(d.Maximum)
		}
		if d.Choices && typ != "boolean" {
			for _, o := range tenancy.SplitOptions(d.Options) {
				if typ == "string" {
					f.Options = append(f.Options, o)
				} else if _, err := strconv.ParseFloat(o, 64); err == nil {
					f.Options = append(f.Options, o)
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// inputAttrs are the attributes of a plain input (not a checkbox or select) for the field.
func (f TenantField) inputAttrs() templ.Attributes {
	a := templ.Attributes{"value": f.Value}
	if f.Required {
		a["required"] = true
	}
	if f.Description != "" {
		a["aria-describedby"] = f.ID() + "-desc"
	}
	switch f.Control() {
	case "number":
		a["step"] = f.step()
		if f.Min != "" {
			a["min"] = f.Min
		}
		if f.Max != "" {
			a["max"] = f.Max
		}
	case "datetime-local":
		a["value"] = datetimeLocal(f.Value)
	case "password":
		a["autocomplete"] = "off"
	}
	if f.Type == "string" {
		if f.MinLength != "" {
			a["minlength"] = f.MinLength
		}
		if f.MaxLength != "" {
			a["maxlength"] = f.MaxLength
		}
	}
	return a
}
