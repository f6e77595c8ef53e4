// Package universe renders the Console's read-only universe catalog: public apps, connectors
// and actions shipped with Tenantry, listed with filters by kind and app and a search, and one
// element's page with its config. Nothing here writes: the only way from the catalog into the
// workspace is a link to the elements area's create form.
package universe

import (
	"net/url"

	"tenantry/views/elements"
)

// Query is the catalog's state as it lives in the URL.
type Query struct {
	Kind   string // "", app, connector, action
	App    string // an app key
	Q      string
	Cursor string
}

// URL is the catalog's address for q.
func (q Query) URL() string {
	v := url.Values{}
	if q.Kind != "" {
		v.Set("kind", q.Kind)
	}
	if q.App != "" {
		v.Set("app", q.App)
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if enc := v.Encode(); enc != "" {
		return "/universe?" + enc
	}
	return "/universe"
}

// Filtered reports whether anything narrows the catalog.
func (q Query) Filtered() bool { return q.Kind != "" || q.App != "" || q.Q != "" }

// Row is one catalog element.
type Row struct {
	Href        string
	Kind        string // for people: App, Connector, Action
	Name        string
	Key         string
	App         string
	AppHref     string
	Type        string
	Description string
}

// ListView is the catalog page.
type ListView struct {
	Query  Query
	Kinds  []elements.Option
	Apps   []elements.Option
	Rows   []Row
	Pager  elements.Pager
	Notice string
}

// PageView is one catalog element's page.
type PageView struct {
	Kind        string // for people
	Name        string
	Key         string
	Description string
	App         string
	AppHref     string
	Type        string
	Config      string // pretty JSON
	Related     []Row  // an app's connectors and actions
	UseURL      string // the create form of a workspace element built on it; "" when not offered
}
