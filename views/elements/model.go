// Package elements renders the Console's workspace elements area: one list per kind (connectors,
// actions, flows, data sources, field mappings) with search and an integration filter, the
// create form, and an element's page (effective and stored config, universal parent, the
// tenants that customize it, the edit form, archive/restore). Handlers build the view models
// below; templates only render them.
//
// It also holds the small kit (inputs with inline errors, pager, JSON blocks, time formats)
// that the integrations, universe and connections areas share, so those pages look and behave
// alike.
package elements

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// DefaultPageSize is how many rows a list page shows.
const DefaultPageSize = 50

// --- the kit ---------------------------------------------------------------------------------

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
}

// Input is a labelled text input with its help and its problem.
type Input struct {
	ID, Name, Label, Help, Value, Error string
	Type                                string // text (default), url, …
	MaxLength                           string
	Placeholder                         string
	Required, Autofocus                 bool
}

// Choice is a labelled select.
type Choice struct {
	ID, Name, Label, Help, Error string
	Value                        string
	Options                      []Option
	Autofocus                    bool
}

// Pager links to the first and the next page of a list; Target is the results' id.
type Pager struct {
	FirstURL string // "" on the first page
	NextURL  string // "" on the last page
	Target   string
}

// Errors are problems with what was typed, by input name.
type Errors map[string]string

// When formats a time for people (UTC, minutes); Machine for the datetime attribute.
func When(t time.Time) string    { return t.UTC().Format("2006-01-02 15:04 UTC") }
func Machine(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Pretty shows a JSON value indented, keys sorted.
func Pretty(v any) string {
	if m, ok := v.(map[string]any); ok && m == nil {
		v = map[string]any{}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "{}"
	}
	return string(b)
}

// Plural is "1 element", "3 elements".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func describedBy(id, help, err string) string {
	var ids []string
	if help != "" {
		ids = append(ids, id+"-help")
	}
	if err != "" {
		ids = append(ids, id+"-error")
	}
	return strings.Join(ids, " ")
}

func ariaAttrs(id, help, err string) templ.Attributes {
	a := templ.Attributes{}
	if d := describedBy(id, help, err); d != "" {
		a["aria-describedby"] = d
	}
	if err != "" {
		a["aria-invalid"] = "true"
	}
	return a
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// --- the elements area -------------------------------------------------------------------------

// Tab is one kind in the area's sub-navigation.
type Tab struct {
	Href   string
	Label  string
	Active bool
}

// Query is an elements list's state as it lives in the URL.
type Query struct {
	Kind        string // plural: actions, data-sources, …
	Q           string
	Integration string // an integration key
	Archived    bool   // include archived elements
	Cursor      string
}

// URL is the list's address for q.
func (q Query) URL() string {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Integration != "" {
		v.Set("integration", q.Integration)
	}
	if q.Archived {
		v.Set("archived", "1")
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	base := "/elements/" + q.Kind
	if enc := v.Encode(); enc != "" {
		return base + "?" + enc
	}
	return base
}

// Filtered reports whether anything narrows the list.
func (q Query) Filtered() bool { return q.Q != "" || q.Integration != "" }

// Row is one element in a list.
type Row struct {
	Href            string
	Name            string
	Key             string
	Type            string
	Integration     string
	IntegrationHref string
	Universal       bool // built on a universe element
	Updated         time.Time
	Archived        bool
}

// ListView is one kind's list.
type ListView struct {
	Title        string // "Actions"
	Singular     string // "action"
	Tabs         []Tab
	Query        Query
	Integrations []Option // the integration filter's choices (keys)
	Rows         []Row
	Pager        Pager
	Notice       string
	ShowType     bool
	CanWrite     bool
	NewURL       string
}

// ResultsPath is where the filters send their requests.
func (v ListView) ResultsPath() string { return "/elements/" + v.Query.Kind }

// ParentRef is the universe element a workspace element builds on.
type ParentRef struct {
	ID     string
	Name   string
	Key    string
	Href   string
	Config string // pretty
}

// Form is the create or edit form of an element: what was typed and what is wrong with it.
type Form struct {
	Action            string
	Target            string // what an htmx submit replaces: "this" (the form) or "#element-page"
	Title             string // "New action", "Edit"
	Submit            string
	CancelURL         string
	KindTitle         string
	Key               string
	Name              string
	Description       string
	IntegrationID     string
	Type              string
	Config            string
	UniversalParentID string
	Parent            *ParentRef
	Integrations      []Option
	Types             []Option // nil: the kind has no type
	Errors            Errors   // key, name, description, integrationId, type, universalParentId
	ConfigErrors      []string // "config.method: value must be one of …"
	FormError         string
}

// Focus is the first input with a problem.
func (f Form) Focus() string {
	for _, n := range []string{"key", "name", "description", "integrationId", "type"} {
		if f.Errors[n] != "" {
			return n
		}
	}
	if len(f.ConfigErrors) > 0 {
		return "config"
	}
	return ""
}

// Invalid reports whether the form shows problems.
func (f Form) Invalid() bool {
	return len(f.Errors) > 0 || len(f.ConfigErrors) > 0 || f.FormError != ""
}

// ConfigDescribedBy ties the config textarea to its help and its problems.
func (f Form) configAttrs() templ.Attributes {
	a := templ.Attributes{"aria-describedby": "element-config-help"}
	if len(f.ConfigErrors) > 0 {
		a["aria-describedby"] = "element-config-help element-config-errors"
		a["aria-invalid"] = "true"
	}
	if f.Focus() == "config" {
		a["autofocus"] = true
	}
	return a
}

// Customization is one tenant's customization of a template.
type Customization struct {
	TenantName string
	TenantHref string
	Connection string // "" = tenant-wide
	Customized bool
	Updated    time.Time
}

// PageView is an element's page.
type PageView struct {
	Path            string
	KindTitle       string
	ListHref        string
	ListLabel       string
	Name            string
	Key             string
	Description     string
	Type            string
	Integration     string
	IntegrationHref string
	Created         time.Time
	Updated         time.Time
	ArchivedAt      *time.Time
	Effective       string
	Stored          string
	Parent          *ParentRef
	Customizations  []Customization
	MoreCustomized  bool // more than the page shows
	Notice          string
	CanWrite        bool
	Form            Form
}
