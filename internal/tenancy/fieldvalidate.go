package tenancy

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compiled caches compiled schemas by their JSON, so validating costs no compile per request.
var compiled sync.Map // [32]byte -> *jsonschema.Schema

// ValidateFields checks tenant field values against the schema with a JSON Schema validator
// (formats asserted). With partial, only the given keys are checked (a PATCH): "required" is
// not enforced, except that removing a required key (a nil value) is refused. Keys without a
// schema are accepted as they are. Problems name their path as "fields.<key>".
func (s FieldSchema) ValidateFields(fields map[string]any, partial bool) error {
	verr := &ValidationError{}
	if len(s.Properties) == 0 {
		return nil
	}
	check := s
	check.Order = nil
	if partial {
		check.Required = nil
		for _, r := range s.Required {
			if v, ok := fields[r]; ok && v == nil {
				verr.Add("fields."+r, "is required and cannot be removed")
			}
		}
	}
	values := make(map[string]any, len(fields))
	for k, v := range fields {
		if v != nil || !partial {
			values[k] = v
		}
	}
	sch, err := compileFieldSchema(check)
	if err != nil {
		verr.Add("fields", "the workspace's tenant field schema is invalid: %v", err)
		return verr
	}
	// Round-trip through JSON so the validator sees only JSON types (numbers as float64 or
	// json.Number, maps as map[string]any).
	b, err := json.Marshal(values)
	if err != nil {
		verr.Add("fields", "not representable as JSON")
		return verr
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		verr.Add("fields", "not representable as JSON")
		return verr
	}
	if err := sch.Validate(inst); err != nil {
		if ve, ok := err.(*jsonschema.ValidationError); ok {
			collectErrors(ve.BasicOutput(), verr, "fields")
		} else {
			verr.Add("fields", "%v", err)
		}
	}
	return verr.Err()
}

// collectErrors turns a validator's output into field errors whose paths start with prefix.
func collectErrors(u *jsonschema.OutputUnit, verr *ValidationError, prefix string) {
	seen := map[string]bool{}
	var walk func(u jsonschema.OutputUnit)
	walk = func(u jsonschema.OutputUnit) {
		if u.Error != nil {
			msg := u.Error.String()
			path := prefix + strings.ReplaceAll(u.InstanceLocation, "/", ".")
			// "required" errors sit on the object; name the missing key instead.
			if strings.HasPrefix(msg, "missing propert") {
				if i := strings.Index(msg, "'"); i >= 0 {
					for _, k := range strings.Split(msg[i:], ",") {
						k = strings.Trim(strings.TrimSpace(k), "'")
						if k != "" && !seen[path+"."+k] {
							seen[path+"."+k] = true
							verr.Add(path+"."+k, "is required")
						}
					}
					return
				}
			}
			// Unknown keys are reported on the object too; name each key.
			if strings.HasPrefix(msg, "additional propert") {
				if i := strings.Index(msg, "'"); i >= 0 {
					for _, k := range strings.Split(strings.Split(msg[i:], " not allowed")[0], ",") {
						k = strings.Trim(strings.TrimSpace(k), "'")
						if k != "" && !seen[path+"."+k] {
							seen[path+"."+k] = true
							verr.Add(path+"."+k, "is not a known property here")
						}
					}
					return
				}
			}
			if path != prefix && !seen[path] && !strings.HasPrefix(msg, "validation failed") {
				seen[path] = true
				verr.Add(path, "%s", msg)
			}
		}
		for _, c := range u.Errors {
			walk(c)
		}
	}
	walk(*u)
	if len(verr.Fields) == 0 {
		verr.Add(prefix, "does not match its schema")
	}
}

func compileFieldSchema(s FieldSchema) (*jsonschema.Schema, error) {
	if s.Type == "" {
		s.Type = "object"
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(b)
	if v, ok := compiled.Load(key); ok {
		return v.(*jsonschema.Schema), nil
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("tenant-fields.json", doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile("tenant-fields.json")
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	compiled.Store(key, sch)
	return sch, nil
}
