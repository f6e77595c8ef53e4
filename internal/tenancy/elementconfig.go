package tenancy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Each element kind's config has a JSON Schema; an element is checked against its kind's (and,
// for actions, its type's) schema on every write, with problems named "config.<path>". Unknown
// keys are refused where the shape is ours (http-request actions, flows), so a typo fails
// instead of being silently ignored; kinds whose configs come from elsewhere stay open.
var configSchemas = map[string]string{
	"connector": `{"type":"object","properties":{
		"baseUrl":{"type":"string","maxLength":2000},
		"authType":{"enum":["none","api-key-header","bearer","basic"]},
		"apiKeyHeader":{"type":"string","maxLength":200}}}`,
	"action:http-request": `{"type":"object","properties":{
		"method":{"enum":["GET","POST","PUT","PATCH","DELETE","HEAD"]},
		"path":{"type":"string","maxLength":2000},
		"query":{"type":"object","additionalProperties":{"type":["string","number","boolean"]}},
		"headers":{"type":"object","propertyNames":{"pattern":"^[A-Za-z0-9!#$%&'*+.^_|~-]{1,200}$"},
			"additionalProperties":{"type":"string","maxLength":8000}},
		"body":{},
		"credits":{"type":"number","minimum":0,"maximum":1000000},
		"timeoutSeconds":{"type":"number","minimum":1,"maximum":60},
		"outputMapping":{"type":"string","maxLength":100}},
		"required":["method","path"],"additionalProperties":false}`,
	"action": `{"type":"object","properties":{
		"credits":{"type":"number","minimum":0,"maximum":1000000}}}`,
	"flow": `{"type":"object","properties":{
		"steps":{"type":"array","maxItems":50,"items":{"type":"object","properties":{
			"key":{"type":"string","pattern":"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$"},
			"action":{"type":"string","pattern":"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$"},
			"input":{"type":"object"}},
			"required":["action"],"additionalProperties":false}}},
		"additionalProperties":false}`,
	"data-source": `{"type":"object","properties":{
		"collectionKey":{"type":"string","maxLength":200},
		"collectionParameters":{"type":"object"},
		"pullUpdatesIntervalSeconds":{"type":"integer","minimum":60},
		"fullSyncIntervalSeconds":{"type":"integer","minimum":60}}}`,
	"field-mapping": `{"type":"object","properties":{
		"direction":{"enum":["import","export","both"]},
		"dataSourceKey":{"type":"string","maxLength":100},
		"importValue":{"type":"object"},
		"exportValue":{"type":"object"}}}`,
}

var configCompiled sync.Map // schema name -> *jsonschema.Schema

var keyPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$`)

// ValidKey reports whether s can be an element, integration or connection key.
func ValidKey(s string) bool { return keyPattern.MatchString(s) }

// MaxConfigBytes caps an element's config as JSON.
const MaxConfigBytes = 256 << 10

// ValidateElement checks an element's key, name, type and (effective) config. Problems are named
// key, name, type and config.<path>.
func ValidateElement(kind ElementKind, key, name, typ string, config map[string]any, verr *ValidationError) {
	if !kind.Valid() {
		verr.Add("kind", "must be one of connector, action, flow, data-source, field-mapping")
		return
	}
	if !ValidKey(key) {
		verr.Add("key", "must be 1–100 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if len(name) > 200 || strings.ContainsRune(name, 0) {
		verr.Add("name", "must be at most 200 characters, without NUL")
	}
	if kind == KindAction {
		if typ != "" && !slices.Contains(ActionTypes, typ) {
			verr.Add("type", "must be one of %s", strings.Join(ActionTypes, ", "))
			return
		}
	} else if typ != "" {
		verr.Add("type", "only actions have a type")
	}
	ValidateConfig(kind, typ, config, verr)
}

// ValidateConfig checks config against the schema of kind (and type, for actions).
func ValidateConfig(kind ElementKind, typ string, config map[string]any, verr *ValidationError) {
	b, err := json.Marshal(orEmpty(config))
	if err != nil {
		verr.Add("config", "is not representable as JSON")
		return
	}
	if len(b) > MaxConfigBytes {
		verr.Add("config", "must be at most %d bytes as JSON", MaxConfigBytes)
		return
	}
	name := string(kind)
	if kind == KindAction && typ == "http-request" {
		name = "action:http-request"
	}
	sch, err := configSchema(name)
	if err != nil {
		verr.Add("config", "cannot be checked: %v", err)
		return
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		verr.Add("config", "is not representable as JSON")
		return
	}
	if err := sch.Validate(inst); err != nil {
		if ve, ok := err.(*jsonschema.ValidationError); ok {
			collectErrors(ve.BasicOutput(), verr, "config")
		} else {
			verr.Add("config", "%v", err)
		}
	}
}

func configSchema(name string) (*jsonschema.Schema, error) {
	if v, ok := configCompiled.Load(name); ok {
		return v.(*jsonschema.Schema), nil
	}
	src, ok := configSchemas[name]
	if !ok {
		return nil, fmt.Errorf("no schema for %s", name)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(src))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(name+".json", doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(name + ".json")
	if err != nil {
		return nil, err
	}
	configCompiled.Store(name, sch)
	return sch, nil
}
