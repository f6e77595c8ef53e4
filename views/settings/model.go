// Package settings renders the Console's Settings area: General (workspace name, key and
// secret, the tenant field schema editor with a live preview of the tenant form, limits and
// allowed origins) and Members. Handlers build the view models below; the templates only show
// them. Admins get forms; support managers get the same facts as plain text.
package settings

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/a-h/templ"

	"tenantry/internal/tenancy"
)

// Errors are problems with what was typed, by input name ("name", "fields[2].key").
type Errors map[string]string

// For returns the problem with the named input, or "".
func (e Errors) For(name string) string { return e[name] }

// ErrorsOf turns a validation error into per-input messages; a path with no input of its own
// lands on fallback.
func ErrorsOf(v *tenancy.ValidationError, inputs func(path string) bool, fallback string) Errors {
	errs := Errors{}
	if v == nil {
		return errs
	}
	for _, f := range v.Fields {
		path := f.Path
		if !inputs(path) {
			path = fallback
		}
		if _, ok := errs[path]; ok {
			continue // the first problem with an input is the one to fix first
		}
		errs[path] = f.Message
	}
	return errs
}

// General is Settings > General.
type General struct {
	Admin bool
	Now   time.Time

	Name       string // as stored, or as typed when it failed
	NameErrors Errors
	Key        string

	SecretRotatedAt     time.Time
	PrevSecretExpiresAt *time.Time
	Overlap             time.Duration // how long a rotated secret keeps verifying
	NewSecret           string        // only in the response to a rotation: shown once

	Schema  Schema
	Limits  Limits
	Origins Origins

	// Focus names what gets the focus after an htmx swap replaced what had it (FocusSaveName, …).
	Focus string
}

// What gets the focus after a section is swapped in.
const (
	FocusSaveName     = "save-name"
	FocusSecretCopy   = "secret-copy"
	FocusSaveSchema   = "save"
	FocusSaveLimits   = "save-limits"
	FocusSaveOrigins  = "save-origins"
	FocusPasswordCopy = "password-copy"
	FocusAddEmail     = "email"
)

// Schema is the tenant field schema editor's state: the fields as stored, or as typed.
type Schema struct {
	Fields []tenancy.FieldDraft
	Errors Errors // by input name; "" holds a problem with the schema as a whole
	// Focus is what gets the focus when there is no problem: an input name, or an editor
	// button ("up:2", "down:0", "add") after a button re-rendered the editor.
	Focus string
}

// Limits are the workspace's limits as text ("" = no limit).
type Limits struct {
	AICredits            string
	DefaultTenantCredits string
	PerTenantRPM         string
	PerWorkspaceRPM      string
	Errors               Errors
}

// The limit inputs' names: the settings' json names, so the store's problems land on them.
const (
	InputAICredits            = "aiCreditsRolling30DayLimit"
	InputDefaultTenantCredits = "defaultTenantAiCreditsLimit"
	InputPerTenantRPM         = "apiRequestsPerMinutePerTenant"
	InputPerWorkspaceRPM      = "apiRequestsPerMinutePerWorkspace"
	InputOrigins              = "allowedOrigins"
)

// LimitInputs lists the limit inputs in page order.
var LimitInputs = []string{InputAICredits, InputDefaultTenantCredits, InputPerTenantRPM, InputPerWorkspaceRPM}

// Origins is the allowed-origins list: Text as typed (one per line) for the form.
type Origins struct {
	List   []string
	Text   string
	Errors Errors
}

// SchemaInputs are the inputs of one editor row, in page order.
var SchemaInputs = []string{"key", "title", "type", "format", "description", "default", "required",
	"sensitive", "choices", "enum", "minimum", "maximum", "minLength", "maxLength"}

// FieldInput names input name of row i, as the editor's form posts it: "fields[2].key".
func FieldInput(i int, name string) string { return fmt.Sprintf("fields[%d].%s", i, name) }

var schemaPathRE = regexp.MustCompile(`^fields\[(\d+)\]\.([a-zA-Z]+)$`)

// IsSchemaInput reports whether path names an input of the editor with n rows.
func IsSchemaInput(n int) func(path string) bool {
	return func(path string) bool {
		m := schemaPathRE.FindStringSubmatch(path)
		if m == nil {
			return false
		}
		var i int
		fmt.Sscan(m[1], &i)
		return i < n && contains(SchemaInputs, m[2])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// firstInvalid returns the first of names (in page order) that has a problem, or "".
func firstInvalid(errs Errors, names ...string) string {
	for _, n := range names {
		if errs.For(n) != "" {
			return n
		}
	}
	return ""
}

func (s Schema) focus() string {
	if len(s.Errors) == 0 {
		return s.Focus
	}
	for i := range s.Fields {
		for _, in := range SchemaInputs {
			if s.Errors.For(FieldInput(i, in)) != "" {
				return FieldInput(i, in)
			}
		}
	}
	return ""
}

// extraInputs are a row's inputs folded under "Options and limits".
var extraInputs = []string{"choices", "enum", "minimum", "maximum", "minLength", "maxLength"}

// extrasOpen reports whether row i's options and limits are unfolded: when any is set or has
// a problem.
func (s Schema) extrasOpen(i int) bool {
	f := s.Fields[i]
	if f.Choices || strings.TrimSpace(f.Options+f.Minimum+f.Maximum+f.MinLength+f.MaxLength) != "" {
		return true
	}
	for _, in := range extraInputs {
		if s.Errors.For(FieldInput(i, in)) != "" {
			return true
		}
	}
	return false
}

// inputID turns an input name into an element id: "fields[2].key" → "fields-2-key".
func inputID(name string) string {
	r := strings.NewReplacer("[", "-", "]", "", ".", "-")
	return r.Replace(name)
}

func errorID(name string) string { return inputID(name) + "-error" }

// when formats a time for people, in UTC (the Console does not know the reader's zone).
func when(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

func machineTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Duration says d in words: "24 hours", "90 minutes".
func Duration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d <= 0:
		return "no time"
	case d%(24*time.Hour) == 0 && d >= 48*time.Hour:
		return plural(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// overlapActive reports whether the previous secret still verifies tokens.
func (g General) overlapActive() bool {
	return g.PrevSecretExpiresAt != nil && g.PrevSecretExpiresAt.After(g.Now)
}

func (g General) rotateConfirm() string {
	if g.Overlap <= 0 {
		return "Rotate the workspace secret? Tokens signed with the current secret stop working at once. The new secret is shown only once."
	}
	return fmt.Sprintf("Rotate the workspace secret? Tokens signed with the current secret keep working for %s, then only the new secret verifies. The new secret is shown only once.", Duration(g.Overlap))
}

// limitText shows a limit for reading: "" is no limit.
func limitText(v string) string {
	if v == "" {
		return "No limit"
	}
	return v
}

// Member is one row of the members list.
type Member struct {
	ID    string
	Email string
	Name  string
	Role  string
	Since time.Time
	Self  bool
	Error string // a refused change to this member (the last admin)
}

// Members is Settings > Members.
type Members struct {
	Rows []Member
	// The add form, as typed when it failed.
	AddEmail  string
	AddName   string
	AddRole   string
	AddErrors Errors
	// NewManager and NewPassword are set only in the response that created a manager: the
	// password is shown once.
	NewManager  string
	NewPassword string
	// Focus names what gets the focus after a swap: FocusPasswordCopy, FocusAddEmail, or a
	// member's role select (RoleInput).
	Focus string
}

// RoleInput is the id of a member's role select.
func RoleInput(id string) string { return roleInput(id) }

func (m Members) addFocus() string {
	if f := firstInvalid(m.AddErrors, AddInputs...); f != "" {
		return f
	}
	if m.Focus == FocusAddEmail {
		return "email"
	}
	return ""
}

// AddInputs are the add form's inputs in page order.
var AddInputs = []string{"email", "name", "role"}

// Roles are the roles a member may have, in the order the selects list them.
var Roles = []string{string(tenancy.RoleAdmin), string(tenancy.RoleSupport)}

func roleLabel(r string) string {
	switch r {
	case string(tenancy.RoleAdmin):
		return "Admin — changes everything"
	case string(tenancy.RoleSupport):
		return "Support — read-only"
	}
	return r
}

// control returns the attributes that tie an input to its name, its problem (aria-invalid,
// aria-describedby) and, when it is the first invalid input, the focus. help names the ids of
// elements that describe the input besides its problem.
func control(name string, errs Errors, focus string, help ...string) templ.Attributes {
	a := templ.Attributes{"id": inputID(name), "name": name}
	described := append([]string{}, help...)
	if errs.For(name) != "" {
		a["aria-invalid"] = "true"
		described = append(described, errorID(name))
	}
	if len(described) > 0 {
		a["aria-describedby"] = strings.Join(described, " ")
	}
	if focus != "" && focus == name {
		a["autofocus"] = true
	}
	return a
}

// previewOn makes an editor input refresh the tenant form preview: text as it is typed
// (debounced), selects and checkboxes when they change.
func previewOn(trigger string) templ.Attributes {
	return templ.Attributes{"hx-post": "/settings/schema/preview", "hx-trigger": trigger,
		"hx-target": "#schema-preview", "hx-swap": "outerHTML"}
}

func merge(as ...templ.Attributes) templ.Attributes {
	out := templ.Attributes{}
	for _, a := range as {
		for k, v := range a {
			out[k] = v
		}
	}
	return out
}
