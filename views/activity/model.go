// Package activity renders the Console's Activity area: the activity log filtered by tenant
// (type-ahead), types, statuses, integration, connection, element, actor, time range and text,
// newest first, with "Load more" paging, a detail panel per entry, a live mode (server-sent
// events through htmx's SSE extension) and exports of the filtered set. A tenant's Activity tab
// is the same view with the tenant fixed. Handlers build the view models below; templates only
// render them.
package activity

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"tenantry/internal/tenancy"
	"tenantry/views/elements"
	"tenantry/views/tenants"
)

// PageSize is how many entries a page (and each "Load more") shows.
const PageSize = 50

// Results is the id of the part of the page that filters replace; More the row that "Load more"
// replaces with the next rows; Detail the panel an entry opens in.
const (
	Results = "activity-results"
	More    = "activity-more"
	Detail  = "activity-detail"
)

// Time ranges of the time filter.
const (
	RangeHour   = "hour"
	RangeDay    = "day"
	RangeWeek   = "week"
	Range30Days = "30d"
	RangeCustom = "custom"
)

// Ranges are the time filter's choices.
var Ranges = []elements.Option{
	{Value: "", Label: "Any time"},
	{Value: RangeHour, Label: "Last hour"},
	{Value: RangeDay, Label: "Last 24 hours"},
	{Value: RangeWeek, Label: "Last 7 days"},
	{Value: Range30Days, Label: "Last 30 days"},
	{Value: RangeCustom, Label: "Custom range"},
}

// RangeStart is the start of a relative range at now; ok is false for "" and custom.
func RangeStart(r string, now time.Time) (time.Time, bool) {
	switch r {
	case RangeHour:
		return now.Add(-time.Hour), true
	case RangeDay:
		return now.Add(-24 * time.Hour), true
	case RangeWeek:
		return now.Add(-7 * 24 * time.Hour), true
	case Range30Days:
		return now.Add(-30 * 24 * time.Hour), true
	}
	return time.Time{}, false
}

// Statuses and Actors are the choices of the status and actor filters.
var (
	Statuses = []string{"success", "warning", "error"}
	Actors   = []elements.Option{
		{Value: string(tenancy.ActorManager), Label: "Manager"},
		{Value: string(tenancy.ActorWorkspaceToken), Label: "Workspace token"},
		{Value: string(tenancy.ActorTenantToken), Label: "Tenant token"},
		{Value: string(tenancy.ActorSystem), Label: "System"},
	}
)

// TypeGroup is a family of entry types in the type filter.
type TypeGroup struct {
	Label string
	Types []string
}

// KnownTypes are the entry types Tenantry records, by family: the type filter's checkboxes. Any
// other type can still be asked for in the URL.
var KnownTypes = knownTypes()

func knownTypes() []TypeGroup {
	groups := []TypeGroup{
		{"Tenants", []string{"tenant.created", "tenant.updated", "tenant.archived", "tenant.restored"}},
		{"Credentials", []string{"credentials.read", "credentials.updated"}},
		{"Connections", []string{"connection.created", "connection.updated", "connection.disconnected", "connection.reconnected",
			"connection.archived"}},
		{"Customizations", []string{"customization.created", "customization.updated", "customization.reset", "customization.deleted"}},
		{"Runs and limits", []string{"action.run", "flow.run", "limit.exceeded"}},
		{"Integrations", []string{"integration.created", "integration.updated", "integration.archived", "integration.restored"}},
	}
	for _, k := range tenancy.ElementKinds {
		g := TypeGroup{Label: k.Title() + "s"}
		for _, verb := range []string{"created", "updated", "archived", "restored", "deleted"} {
			g.Types = append(g.Types, string(k)+"."+verb)
		}
		groups = append(groups, g)
	}
	return append(groups,
		TypeGroup{"Event subscriptions", []string{"event-subscription.created", "event-subscription.deleted"}},
		TypeGroup{"Workspace", []string{"settings.updated", "settings.schema_updated", "settings.secret_rotated",
			"member.added", "member.role_changed", "member.removed"}},
	)
}

// ExpandType turns "family.*" into the known types of that family; any other value is itself.
func ExpandType(t string) []string {
	family, ok := strings.CutSuffix(t, ".*")
	if !ok || family == "" {
		return []string{t}
	}
	var out []string
	for _, g := range KnownTypes {
		for _, k := range g.Types {
			if strings.HasPrefix(k, family+".") {
				out = append(out, k)
			}
		}
	}
	if out == nil {
		return []string{t}
	}
	return out
}

// Query is the view's state as it lives in the URL: every filter, the page and live mode.
type Query struct {
	Base        string // "/activity", or a tenant's "/tenants/{id}/activity" (the tenant is then fixed)
	Tenant      string // the chosen tenant's id (or what the URL said, when it names no tenant)
	TenantQ     string // what was typed into the tenant type-ahead (not part of the URL)
	Types       []string
	Statuses    []string
	Integration string // an integration key
	Connection  string // a connection id (or key)
	Element     string // an element id
	Actors      []string
	ActorID     string
	Range       string // "", hour, day, week, 30d, custom
	From, To    string // the custom range, as datetime-local values (UTC)
	Q           string // words in the message
	Cursor      string
	Live        bool
}

// TenantFixed reports the view of one tenant's Activity tab.
func (q Query) TenantFixed() bool { return q.Base != "/activity" }

// filters encodes the filters (not the page or live mode); tenant says whether to include the
// tenant (the tab's address holds it in its path).
func (q Query) filters(tenant bool) url.Values {
	v := url.Values{}
	if tenant && q.Tenant != "" {
		v.Set("tenant", q.Tenant)
	}
	for _, t := range q.Types {
		v.Add("type", t)
	}
	for _, s := range q.Statuses {
		v.Add("status", s)
	}
	if q.Integration != "" {
		v.Set("integration", q.Integration)
	}
	if q.Connection != "" {
		v.Set("connection", q.Connection)
	}
	if q.Element != "" {
		v.Set("element", q.Element)
	}
	for _, a := range q.Actors {
		v.Add("actor", a)
	}
	if q.ActorID != "" {
		v.Set("actorId", q.ActorID)
	}
	if q.Range != "" {
		v.Set("range", q.Range)
	}
	if q.Range == RangeCustom {
		if q.From != "" {
			v.Set("from", q.From)
		}
		if q.To != "" {
			v.Set("to", q.To)
		}
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if enc := v.Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}

// URL is the view's address for q.
func (q Query) URL() string {
	v := q.filters(!q.TenantFixed())
	if q.Live {
		v.Set("live", "1")
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	return withQuery(q.Base, v)
}

// LiveToggleURL is q with live mode switched.
func (q Query) LiveToggleURL() string {
	q.Live, q.Cursor = !q.Live, ""
	return q.URL()
}

// WithoutTenant is the view's address with the tenant filter removed.
func (q Query) WithoutTenant() string {
	q.Tenant, q.Cursor = "", ""
	return q.URL()
}

// WithTenant is the view's address filtered to a tenant.
func (q Query) WithTenant(id string) string {
	q.Tenant, q.Cursor = id, ""
	return q.URL()
}

// ExportURL is the address of the filtered set as a file (csv or ndjson).
func (q Query) ExportURL(format string) string {
	return withQuery("/activity/export."+format, q.filters(true))
}

// LiveURL is the address of the stream of new entries matching q, newer than after (an entry's
// id, or a time).
func (q Query) LiveURL(after string) string {
	v := q.filters(true)
	v.Set("after", after)
	return withQuery("/activity/live", v)
}

// Filtered reports whether anything narrows the log (the tab's fixed tenant aside).
func (q Query) Filtered() bool {
	return (q.Tenant != "" && !q.TenantFixed()) || len(q.Types) > 0 || len(q.Statuses) > 0 || q.Integration != "" ||
		q.Connection != "" || q.Element != "" || len(q.Actors) > 0 || q.ActorID != "" || q.Range != "" || q.Q != ""
}

// HasType, HasStatus and HasActor say whether a checkbox is checked.
func (q Query) HasType(t string) bool       { return slices.Contains(q.Types, t) }
func (q Query) HasStatus(s string) bool     { return slices.Contains(q.Statuses, s) }
func (q Query) HasActor(a string) bool      { return slices.Contains(q.Actors, a) }
func (q Query) TypesLabel() string          { return typesLabel(len(q.Types)) }
func (q Query) OtherTypes() []string        { return otherTypes(q.Types) }
func (q Query) StatusLabel(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func typesLabel(n int) string {
	if n == 0 {
		return "Any type"
	}
	return strconv.Itoa(n) + " selected"
}

// otherTypes are the types asked for that no checkbox offers.
func otherTypes(types []string) []string {
	var out []string
	for _, t := range types {
		known := false
		for _, g := range KnownTypes {
			known = known || slices.Contains(g.Types, t)
		}
		if !known {
			out = append(out, t)
		}
	}
	return out
}

// TenantChoice is the tenant the view is filtered to.
type TenantChoice struct {
	ID   string
	Name string
	Href string // the tenant's page
}

// Suggestion is a tenant the type-ahead offers.
type Suggestion struct {
	Name       string
	InternalID string
	Archived   bool
	URL        string // the view filtered to this tenant
}

// Picker is the tenant type-ahead: the chosen tenant, or the search box and its suggestions.
type Picker struct {
	Query       Query
	Chosen      *TenantChoice
	Suggestions []Suggestion
	Searched    bool // suggestions were looked for (an empty list then says "no match")
	Error       string
}

// Row is one entry in the list.
type Row struct {
	ID         string
	Href       string // the entry's page (and the detail panel's content)
	At         time.Time
	Type       string
	Status     string
	Actor      string
	Tenant     string // "" on a workspace-level entry
	TenantHref string
	Message    string
}

// StatusClass is the badge of a status.
func StatusClass(status string) string {
	switch status {
	case "success":
		return "badge badge-green"
	case "error":
		return "badge badge-red"
	case "warning":
		return "badge bg-amber-50 text-amber-800 ring-amber-600/20"
	}
	return "badge badge-gray"
}

// ListView is the Activity page (or a tenant's Activity tab).
type ListView struct {
	Query        Query
	Tenant       *tenants.Identity // the tab's tenant; nil on /activity
	Picker       Picker
	Integrations []elements.Option
	Errors       map[string]string // by parameter: tenant, type, status, integration, connection, element, actor, actorId, from, to, q
	Notice       string            // e.g. an outdated page link
	Rows         []Row
	NextURL      string // the next page ("" on the last), for "Load more"
	LiveAfter    string // live mode streams entries newer than this: the newest shown (its id), or a time
	Detail       *DetailView
}

// Invalid reports whether a filter was refused (the list is then not shown).
func (v ListView) Invalid() bool { return len(v.Errors) > 0 }

// ErrorList is the refused filters, in the order of the form.
func (v ListView) ErrorList() []FilterError {
	var out []FilterError
	for _, f := range errorOrder {
		if msg := v.Errors[f.Name]; msg != "" {
			out = append(out, FilterError{Name: f.Name, Label: f.Label, Message: msg, Input: f.Input})
		}
	}
	return out
}

// FilterError is a refused filter.
type FilterError struct {
	Name, Label, Message string
	Input                string // the id of the control to fix it in
}

var errorOrder = []FilterError{
	{Name: "q", Label: "Text", Input: "activity-q"},
	{Name: "tenant", Label: "Tenant", Input: "activity-tenant-search"},
	{Name: "integration", Label: "Integration", Input: "activity-integration"},
	{Name: "range", Label: "Time", Input: "activity-range"},
	{Name: "from", Label: "From", Input: "activity-from"},
	{Name: "to", Label: "To", Input: "activity-to"},
	{Name: "status", Label: "Status", Input: "activity-status-success"},
	{Name: "actor", Label: "Actor", Input: "activity-actor-manager"},
	{Name: "type", Label: "Type", Input: "activity-types"},
	{Name: "connection", Label: "Connection", Input: "activity-connection"},
	{Name: "element", Label: "Element", Input: "activity-element"},
	{Name: "actorId", Label: "Actor ID", Input: "activity-actor-id"},
	{Name: "cursor", Label: "Page", Input: "activity-q"},
}

// Link is a labelled link in the detail panel.
type Link struct {
	Label string
	Href  string
}

// DetailView is one entry with everything about it.
type DetailView struct {
	ID          string
	Href        string
	At          time.Time
	Type        string
	Status      string
	ActorType   string
	ActorID     string
	ActorName   string // a manager's email, when known
	Message     string
	DurationMS  *int
	RequestID   string
	Tenant      *Link // nil: a workspace-level entry
	TenantID    string
	Connection  *Link
	ConnID      string
	Integration *Link
	IntegID     string
	Element     *Link
	ElementID   string
	Details     string // pretty JSON
	Related     []Link // the log filtered to this entry's tenant, connection, …
}

// Exact is a time with its fractions, for the detail panel.
func Exact(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000 UTC") }

// Short is a time for a row: the date and the second.
func Short(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// Duration is a duration in milliseconds for people.
func Duration(ms int) string { return strconv.Itoa(ms) + " ms" }

// ErrorFields are the filters whose problem is shown under their control and replaced out of
// band with the results (the tenant's is inside the picker, which is replaced whole).
var ErrorFields = []string{"q", "integration", "range", "from", "to", "status", "actor", "type", "connection", "element", "actorId"}

func oobAttrs(oob bool) templ.Attributes {
	if oob {
		return templ.Attributes{"hx-swap-oob": "true"}
	}
	return templ.Attributes{}
}
