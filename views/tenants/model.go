// Package tenants renders the Console's Tenants area: the list with its search, filters and
// paging, the "New tenant" dialog, and a tenant's page (identity, fields from the workspace's
// schema, credentials, AI credits, archive). Handlers build the view models below; templates
// only render them.
package tenants

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"tenantry/views/usage"
)

// DefaultPageSize is how many tenants a list page shows unless the URL says otherwise.
const DefaultPageSize = 50

// Query is the list's state as it lives in the URL: every filter, the sort and the page.
type Query struct {
	Q           string // search over name and internalId
	Status      string // active (default), archived, all
	Connections string // "", yes, no
	Credits     string // "", over
	Sort        string // created (default), name, lastActive
	Dir         string // asc, desc
	Limit       int
	Cursor      string
}

// DefaultDir is the direction a sort has when the URL names none: newest and most recently
// active first, names from A.
func DefaultDir(sort string) string {
	if sort == "name" {
		return "asc"
	}
	return "desc"
}

// Values encodes q as query parameters, leaving out what is the default.
func (q Query) Values() url.Values {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Status != "" && q.Status != "active" {
		v.Set("status", q.Status)
	}
	if q.Connections != "" {
		v.Set("connections", q.Connections)
	}
	if q.Credits != "" {
		v.Set("credits", q.Credits)
	}
	if q.Sort != "" && q.Sort != "created" {
		v.Set("sort", q.Sort)
	}
	if q.Dir != "" && q.Dir != DefaultDir(q.Sort) {
		v.Set("dir", q.Dir)
	}
	if q.Limit != 0 && q.Limit != DefaultPageSize {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	return v
}

// URL is the list's address for q.
func (q Query) URL() string {
	if enc := q.Values().Encode(); enc != "" {
		return "/tenants?" + enc
	}
	return "/tenants"
}

// Filtered reports whether anything narrows the list beyond the default (active tenants).
func (q Query) Filtered() bool {
	return q.Q != "" || (q.Status != "" && q.Status != "active") || q.Connections != "" || q.Credits != ""
}

// Empty says why a list shows no tenant.
type Empty int

const (
	NotEmpty  Empty = iota
	NoTenants       // the workspace has no tenant at all
	NoMatch         // tenants exist, none matches the search or filters
)

// ListView is the Tenants list page.
type ListView struct {
	Query    Query
	Rows     []Row
	Total    int
	NextURL  string // "" on the last page
	FirstURL string // "" on the first page
	Empty    Empty
	Notice   string // e.g. an outdated page link
	CanWrite bool
	New      NewTenantForm
}

// ClearSearchURL keeps the filters and drops the search and the page.
func (v ListView) ClearSearchURL() string {
	q := v.Query
	q.Q, q.Cursor = "", ""
	return q.URL()
}

// NewDialogURL opens the "New tenant" dialog without JavaScript.
func (v ListView) NewDialogURL() string {
	q := v.Query
	vals := q.Values()
	vals.Set("new", "1")
	return "/tenants?" + vals.Encode()
}

// Row is one tenant in the list.
type Row struct {
	Href       string
	Name       string
	InternalID string
	Created    time.Time
	LastActive *time.Time
	Archived   bool
}

// NewTenantForm is the "New tenant" dialog's form: what was typed and what is wrong with it.
type NewTenantForm struct {
	InternalID string
	Name       string
	Errors     map[string]string // by input name: internalId, name
	FormError  string            // a problem that belongs to no one input
	Fields     []Field           // the schema's required fields: a tenant must satisfy the schema from the start
	Open       bool              // rendered open (no JavaScript, or after a failed submit)
	CancelURL  string
}

// PageView is a tenant's page.
type PageView struct {
	Tenant      Identity
	CanWrite    bool
	Notice      string
	Fields      FieldsView
	Credentials CredentialsView
	Credits     CreditsView
	Archive     ArchiveView
}

// Identity is who the tenant is.
type Identity struct {
	ID         string
	InternalID string
	Name       string
	Created    time.Time
	LastActive *time.Time
	ArchivedAt *time.Time
}

// Path is the tenant page's address; its forms post below it.
func (i Identity) Path() string { return "/tenants/" + url.PathEscape(i.ID) }

// DisplayName is the name, or the internalId for a tenant without one.
func (i Identity) DisplayName() string {
	if i.Name != "" {
		return i.Name
	}
	return i.InternalID
}

// FieldsView is the form generated from the workspace's tenant field schema.
type FieldsView struct {
	Action        string
	Fields        []Field
	WithoutSchema int // stored fields the schema does not define: counted, never shown
	FormError     string
	CanWrite      bool
	FocusSave     bool
}

// Field kinds: which control a field is edited with.
const (
	KindText     = "text"
	KindEmail    = "email"
	KindURL      = "url"
	KindNumber   = "number"
	KindInteger  = "integer"
	KindCheckbox = "checkbox"
	KindSelect   = "select"
	KindDateTime = "datetime"
	// KindRaw edits a stored value that breaks the schema as plain text without the browser's
	// constraints, so that saving other fields is not blocked by it and the value is not lost.
	KindRaw = "raw"
)

// Field is one schema field on a tenant's page.
type Field struct {
	Key         string
	ID          string // the input's id
	Name        string // the input's name: fields.<key>
	Label       string
	Description string
	Kind        string
	Value       string // the input's value
	Checked     bool   // checkbox
	Options     []Option
	Required    bool
	Sensitive   bool
	HasValue    bool   // the tenant holds a value for the key
	Masked      bool   // a sensitive value not revealed: neither shown nor submitted
	Min, Max    string // number bounds
	MinLength   string
	MaxLength   string
	Error       string // why the last save refused it
	Broken      string // why the stored value breaks the schema ("" when it does not)
	Autofocus   bool
	RevealURL   string // "" when the viewer may not reveal
	CanWrite    bool
}

// Option is one choice of an enum field.
type Option struct {
	Value    string
	Label    string
	Selected bool
}

// RowID is the id of the element that holds the field (the swap target of Reveal).
func (f Field) RowID() string { return f.ID + "-row" }

// DescribedBy lists the ids of the texts that describe the input.
func (f Field) DescribedBy() string {
	var ids []string
	if f.Description != "" {
		ids = append(ids, f.ID+"-help")
	}
	if f.Broken != "" {
		ids = append(ids, f.ID+"-broken")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

// CredentialsView lists which credential keys are set and lets admins set or clear one.
type CredentialsView struct {
	Action    string
	Keys      []CredentialKey
	Key       string            // the key typed into the set form
	Errors    map[string]string // by input name: key, value
	FormError string
	CanWrite  bool
	FocusKey  bool
}

// CredentialKey is one set key: never its value.
type CredentialKey struct {
	Key      string
	SetAt    time.Time
	ClearURL string
}

// CreditsView is the tenant's AI credit limit and usage.
type CreditsView struct {
	Action    string
	Limit     string   // the input's value; "" = none of its own
	Own       *float64 // the tenant's own limit
	Default   *float64 // the workspace's default per-tenant limit
	Used      float64  // over the rolling 30 days
	Chart     usage.Chart
	Error     string
	CanWrite  bool
	Autofocus bool
}

// Effective is the limit that applies: the tenant's own, else the workspace default; nil =
// unlimited.
func (c CreditsView) Effective() *float64 {
	if c.Own != nil {
		return c.Own
	}
	return c.Default
}

// Over reports usage above the limit that applies.
func (c CreditsView) Over() bool {
	e := c.Effective()
	return e != nil && c.Used > *e
}

// ArchiveView is the archive or restore control.
type ArchiveView struct {
	ActiveConnections int
	Confirming        bool // the no-JavaScript confirmation step is open
	Focus             bool
}

// ArchiveQuestion is what archiving asks first.
func ArchiveQuestion(name string, connections int) string {
	switch connections {
	case 0:
		return fmt.Sprintf("Archive %s? It has no active connections to deactivate.", name)
	case 1:
		return fmt.Sprintf("Archive %s? Its 1 active connection will be deactivated.", name)
	}
	return fmt.Sprintf("Archive %s? Its %s active connections will be deactivated.", name, Count(connections))
}

// Count formats n with thousands separators: 1,234.
func Count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Plural is "1 tenant", "1,234 tenants".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return Count(n) + " " + many
}

// Number formats a credit amount: grouped integer part, shortest exact fraction.
func Number(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.Atoi(whole)
	if err != nil {
		return s
	}
	if frac != "" {
		return Count(n) + "." + frac
	}
	return Count(n)
}

// When formats a time for people (UTC, minutes); Machine for the datetime attribute.
func When(t time.Time) string    { return t.UTC().Format("2006-01-02 15:04 UTC") }
func Machine(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// inputAttrs are the input's type and constraints for its kind.
func (f Field) inputAttrs() templ.Attributes {
	a := templ.Attributes{}
	switch f.Kind {
	case KindEmail:
		a["type"] = "email"
	case KindURL:
		a["type"] = "url"
	case KindNumber, KindInteger:
		a["type"] = "number"
		a["step"] = "any"
		if f.Kind == KindInteger {
			a["step"] = "1"
		}
		if f.Min != "" {
			a["min"] = f.Min
		}
		if f.Max != "" {
			a["max"] = f.Max
		}
	case KindDateTime:
		a["type"] = "datetime-local"
		a["step"] = "1"
	default:
		a["type"] = "text"
	}
	if f.Kind == KindText {
		if f.MinLength != "" {
			a["minlength"] = f.MinLength
		}
		if f.MaxLength != "" {
			a["maxlength"] = f.MaxLength
		}
	}
	if f.Sensitive {
		a["autocomplete"] = "off"
	}
	return a
}

// ariaAttrs tie the control to its help and error texts.
func (f Field) ariaAttrs() templ.Attributes {
	a := templ.Attributes{}
	if d := f.DescribedBy(); d != "" {
		a["aria-describedby"] = d
	}
	if f.Error != "" {
		a["aria-invalid"] = "true"
	}
	return a
}

// Display is the value as text, for the read-only view.
func (f Field) Display() string {
	switch f.Kind {
	case KindCheckbox:
		if f.Checked {
			return "Yes"
		}
		return "No"
	case KindSelect:
		for _, o := range f.Options {
			if o.Selected {
				return o.Label
			}
		}
	case KindDateTime:
		return strings.Replace(f.Value, "T", " ", 1) + " UTC"
	}
	return f.Value
}

// TotalCap is where the list stops counting matches: beyond it the page says "10,000+ tenants"
// (an exact count of a hundred thousand rows costs tens of milliseconds, and says no more). A
// search stops at SearchTotalCap: counting its matches means rechecking each against the text.
const (
	TotalCap       = 10_000
	SearchTotalCap = 1_000
)

// CountCap is how far the list counts for this query.
func (q Query) CountCap() int {
	if strings.TrimSpace(q.Q) != "" {
		return SearchTotalCap
	}
	return TotalCap
}

// TotalLabel is the list's count line.
func (v ListView) TotalLabel() string {
	if c := v.Query.CountCap(); v.Total >= c {
		return Count(c) + "+ tenants"
	}
	return Plural(v.Total, "tenant", "tenants")
}
