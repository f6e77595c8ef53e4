// Package integrations renders the Console's Integrations area: the list (search, archived),
// the "New integration" dialog, and an integration's page (its properties, edit form,
// archive/restore, its elements by kind and how many connections use it). Handlers build the
// view models below; templates only render them. Inputs and the pager come from the elements
// area's kit.
package integrations

import (
	"net/url"
	"strconv"
	"time"

	"tenantry/views/elements"
)

// Query is the list's state as it lives in the URL.
type Query struct {
	Q        string
	Archived bool // include archived integrations
	Cursor   string
}

// URL is the list's address for q.
func (q Query) URL() string {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Archived {
		v.Set("archived", "1")
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if enc := v.Encode(); enc != "" {
		return "/integrations?" + enc
	}
	return "/integrations"
}

// NewDialogURL opens the "New integration" dialog without JavaScript.
func (q Query) NewDialogURL() string {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Archived {
		v.Set("archived", "1")
	}
	v.Set("new", "1")
	return "/integrations?" + v.Encode()
}

// Row is one integration in the list.
type Row struct {
	Href     string
	Name     string
	Key      string
	AuthType string
	BaseURL  string
	Created  time.Time
	Archived bool
}

// ListView is the Integrations list page.
type ListView struct {
	Query    Query
	Rows     []Row
	Pager    elements.Pager
	Notice   string
	CanWrite bool
	New      Form
}

// Form is the create or edit form of an integration: what was typed and what is wrong with it.
type Form struct {
	Action    string
	Target    string // what an htmx submit replaces
	IDPrefix  string // "new-" or "edit-": both forms can be on one page
	Title     string
	Submit    string
	CancelURL string
	Key       string
	Name      string
	LogoURI   string
	BaseURL   string
	AuthType  string
	Errors    elements.Errors // key, name, logoUri, baseUrl, authType
	FormError string
	Open      bool // the dialog is rendered open (no JavaScript, or after a refusal)
}

// Focus is the first input with a problem.
func (f Form) Focus() string {
	for _, n := range []string{"key", "name", "logoUri", "baseUrl", "authType"} {
		if f.Errors[n] != "" {
			return n
		}
	}
	return ""
}

// AuthTypes are the auth type select's choices.
var AuthTypes = []elements.Option{
	{Value: "none", Label: "None"},
	{Value: "api-key-header", Label: "API key header"},
	{Value: "bearer", Label: "Bearer token"},
	{Value: "basic", Label: "Basic (user and password)"},
}

// AuthLabel names an auth type for people.
func AuthLabel(v string) string {
	for _, o := range AuthTypes {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

// KindGroup is the integration's elements of one kind.
type KindGroup struct {
	Kind    string // plural: actions, data-sources
	Title   string // "Actions"
	NewText string // "New action"
	ListURL string // the kind's list, filtered by this integration
	NewURL  string // "" for support managers
	Items   []ElementLink
	More    bool
}

// CountText is how many the group lists: "2 elements", "100+ elements".
func (g KindGroup) CountText() string {
	if g.More {
		return strconv.Itoa(len(g.Items)) + "+ elements"
	}
	return elements.Plural(len(g.Items), "element", "elements")
}

// ElementLink is one element on the integration's page.
type ElementLink struct {
	Name string
	Key  string
	Href string
}

// PageView is an integration's page.
type PageView struct {
	Path            string
	Name            string
	Key             string
	LogoURI         string
	BaseURL         string
	AuthType        string
	Created         time.Time
	Updated         time.Time
	ArchivedAt      *time.Time
	Kinds           []KindGroup
	Connections     int
	ConnectionsMore bool // counting stopped at Connections
	ConnectionsURL  string
	Notice          string
	CanWrite        bool
	Form            Form
}
