// Package connections renders the Console's workspace-wide connections view: every tenant's
// connections, filtered by integration and state, searched, with archived ones on request and
// cursor paging. Each connection is managed on its tenant's page; this view links there.
package connections

import (
	"net/url"
	"time"

	"tenantry/views/elements"
)

// Query is the list's state as it lives in the URL.
type Query struct {
	Integration string // an integration key
	State       string // "", READY, DISCONNECTED, DEACTIVATED
	Q           string
	Archived    bool // include archived connections
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
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.Archived {
		v.Set("archived", "1")
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if enc := v.Encode(); enc != "" {
		return "/connections?" + enc
	}
	return "/connections"
}

// Filtered reports whether anything narrows the list.
func (q Query) Filtered() bool { return q.Integration != "" || q.State != "" || q.Q != "" }

// States are the state filter's choices.
var States = []elements.Option{
	{Value: "", Label: "Any state"},
	{Value: "READY", Label: "Ready"},
	{Value: "DISCONNECTED", Label: "Disconnected"},
	{Value: "DEACTIVATED", Label: "Deactivated (tenant archived)"},
}

// Row is one connection.
type Row struct {
	TenantHref      string
	Tenant          string
	Name            string
	Key             string
	Integration     string
	IntegrationHref string
	State           string // READY, DISCONNECTED, DEACTIVATED
	IsTest          bool
	Created         time.Time
	LastActive      *time.Time
	Archived        bool
}

// StateClass is the badge of a state.
func (r Row) StateClass() string {
	if r.State == "READY" {
		return "badge badge-green"
	}
	if r.State == "DEACTIVATED" {
		return "badge badge-gray"
	}
	return "badge badge-red"
}

// ListView is the connections page.
type ListView struct {
	Query        Query
	Integrations []elements.Option
	Rows         []Row
	Pager        elements.Pager
	Notice       string
}
