// Package portal renders the tenant portal: the page a tenant opens from the company's app (often
// in an iframe) to see its own activity. It has the Console's activity filters minus the tenant
// (types, status, integration, connection, time range, text), newest first with "load more", and
// an entry's detail. It knows nothing of sessions or SQL: handlers (web/portal.go) build the view
// models below.
package portal

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"tenantry/views/elements"
	"tenantry/views/layout"
)

// Path is the portal's activity page.
const Path = "/portal/activity"

// Frame is what every portal page shows around its body.
type Frame struct {
	Title         string
	Assets        layout.Assets
	TenantName    string // "" outside a session
	WorkspaceName string
}

// Query is the activity list's state as it lives in the URL.
type Query struct {
	Types       []string
	Status      string // "", success, warning, error, or warning,error
	Integration string // an integration key
	Connection  string // a connection id
	Range       string // "", 1h, 24h, 7d, 30d, custom
	From, To    string // custom range, "2006-01-02T15:04" in UTC
	Q           string
	Cursor      string
}

// Values is q as URL parameters.
func (q Query) Values() url.Values {
	v := url.Values{}
	for _, t := range q.Types {
		v.Add("type", t)
	}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("status", q.Status)
	set("integration", q.Integration)
	set("connection", q.Connection)
	set("range", q.Range)
	if q.Range == "custom" {
		set("from", q.From)
		set("to", q.To)
	}
	set("q", q.Q)
	set("cursor", q.Cursor)
	return v
}

// URL is the list's address for q.
func (q Query) URL() string {
	if enc := q.Values().Encode(); enc != "" {
		return Path + "?" + enc
	}
	return Path
}

// Filtered reports whether anything narrows the list.
func (q Query) Filtered() bool {
	return len(q.Types) > 0 || q.Status != "" || q.Integration != "" || q.Connection != "" || q.Range != "" || q.Q != ""
}

// HasType reports whether t is one of the chosen types.
func (q Query) HasType(t string) bool { return slices.Contains(q.Types, t) }

// KnownTypes are the entry types a tenant's log holds, offered as the type filter's choices.
var KnownTypes = []string{
	"action.run", "flow.run", "flow.queued", "connection.created", "connection.updated", "connection.archived",
	"credentials.read", "credentials.updated", "customization.created", "customization.updated", "customization.reset",
	"event-subscription.created", "event-subscription.deleted", "tenant.created", "tenant.updated", "limit.exceeded",
}

func typeID(i int) string { return "portal-type-" + strconv.Itoa(i) }

// TypeChoices are the known types and any other type the URL names.
func (q Query) TypeChoices() []string {
	out := slices.Clone(KnownTypes)
	for _, t := range q.Types {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// Statuses are the status filter's choices.
var Statuses = []elements.Option{
	{Value: "", Label: "Any status"},
	{Value: "success", Label: "Success"},
	{Value: "warning", Label: "Warning"},
	{Value: "error", Label: "Error"},
	{Value: "warning,error", Label: "Warnings and errors"},
}

// Ranges are the time range filter's choices.
var Ranges = []elements.Option{
	{Value: "", Label: "Everything kept"},
	{Value: "1h", Label: "Last hour"},
	{Value: "24h", Label: "Last day"},
	{Value: "7d", Label: "Last week"},
	{Value: "30d", Label: "Last 30 days"},
	{Value: "custom", Label: "Custom (UTC)"},
}

// Row is one entry in the list.
type Row struct {
	ID          string
	Href        string
	At          time.Time
	Type        string
	Status      string
	Message     string
	Integration string
	Connection  string
}

// StatusClass is the badge of a status.
func (r Row) StatusClass() string {
	switch r.Status {
	case "success":
		return "badge badge-green"
	case "error":
		return "badge badge-red"
	}
	return "badge badge-gray"
}

// ListView is the activity page.
type ListView struct {
	Query        Query
	Integrations []elements.Option
	Connections  []elements.Option
	Rows         []Row
	MoreURL      string // the next page; "" on the last
	Notice       string // a problem with the filters, said above the results
}

// Detail is one entry, whole.
type Detail struct {
	Row
	Actor      string
	DurationMS *int
	RequestID  string
	Details    string // indented JSON
	BackURL    string
}

// Duration formats the duration in milliseconds.
func (d Detail) Duration() string {
	if d.DurationMS == nil {
		return ""
	}
	return strings.TrimSpace(time.Duration(*d.DurationMS * int(time.Millisecond)).String())
}
