package tenancy

import "slices"

// FieldSchema describes the tenant fields a workspace shows and validates: a JSON-Schema subset,
// an object with properties. Order keeps the managers' chosen order (JSON objects have none).
type FieldSchema struct {
	Type       string              `json:"type"`
	Properties map[string]FieldDef `json:"properties"`
	Required   []string            `json:"required,omitempty"`
	Order      []string            `json:"x-order,omitempty"`
}

// FieldDef is one tenant field.
type FieldDef struct {
	Type        string   `json:"type"` // string, number, integer, boolean
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Format      string   `json:"format,omitempty"` // date-time, email, uri
	Enum        []any    `json:"enum,omitempty"`
	Default     any      `json:"default,omitempty"`
	Minimum     *float64 `json:"minimum,omitempty"`
	Maximum     *float64 `json:"maximum,omitempty"`
	MinLength   *int     `json:"minLength,omitempty"`
	MaxLength   *int     `json:"maxLength,omitempty"`
	Sensitive   bool     `json:"x-sensitive,omitempty"`
}

// Keys returns the field keys in display order: Order first, then any others by name.
func (s FieldSchema) Keys() []string {
	seen := make(map[string]bool, len(s.Properties))
	keys := make([]string, 0, len(s.Properties))
	for _, k := range s.Order {
		if _, ok := s.Properties[k]; ok && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	rest := make([]string, 0)
	for k := range s.Properties {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}
