package web

// The Console's Tenants area: the list (search, filters, sort, cursor paging, all in the URL),
// creating a tenant, and a tenant's page with its fields (a form generated from the workspace's
// schema), credentials, AI credit limit, and archive/restore. Every change goes through the same
// store methods, with the same validation, as the JSON API.
//
// Each page works without JavaScript (GET forms; POST, then 303 to the page with a one-time
// notice). With htmx, forms post for their own section, which comes back alone, with a toast.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/layout"
	"tenantry/views/tenants"
	"tenantry/views/usage"
)

// maxSearch bounds the search text: a longer one matches nothing a person typed.
const maxSearch = 200

func canWrite(sess *store.Session) bool { return sess.Role == tenancy.RoleAdmin }

func tenantPath(id fmt.Stringer) string { return "/tenants/" + id.String() }

// renderTenants renders a Tenants page: whole, or only its body for an htmx fragment request. An
// htmx history restore (back/forward after the snapshot expired) sends HX-Request too but swaps
// what it gets into <body>, so it gets the whole page.
func (s *Server) renderTenants(w http.ResponseWriter, r *http.Request, status int, title string, body templ.Component) error {
	p := s.page(r, title, "/tenants")
	if r.Header.Get("HX-History-Restore-Request") == "true" {
		return s.write(w, r, status, layout.Console(p, body))
	}
	return s.render(w, r, status, p, body)
}

// formFailed answers a submit that validation refused. An htmx fragment request gets the form's
// section alone, with 200 because htmx swaps only successful responses, retargeted at the
// section; any other htmx request (boosted) gets the whole page with 200 for the same reason; a
// plain form post gets the whole page with 422, or 409 for a clash with existing data.
func (s *Server) formFailed(w http.ResponseWriter, r *http.Request, err error, target string, section templ.Component,
	title string, page func() templ.Component) error {
	if isFragmentRequest(r) {
		w.Header().Set("HX-Retarget", target)
		w.Header().Set("HX-Reswap", "outerHTML")
		toast(w, "error", "Not saved: check the highlighted fields.")
		return s.write(w, r, http.StatusOK, section)
	}
	status := StatusOf(err)
	if r.Header.Get("HX-Request") == "true" {
		status = http.StatusOK
	}
	return s.renderTenants(w, r, status, title, page())
}

// saved answers a successful change: an htmx fragment request gets its section back and a toast;
// anything else a 303 to the tenant's page, which shows the notice once.
func (s *Server) saved(w http.ResponseWriter, r *http.Request, to, flash, message string, section func() templ.Component) error {
	if isFragmentRequest(r) {
		toast(w, "success", message)
		return s.write(w, r, http.StatusOK, section())
	}
	s.setFlash(w, flash)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// --- list ----------------------------------------------------------------------------------------

func oneOf(v, def string, allowed ...string) string {
	if slices.Contains(allowed, v) {
		return v
	}
	return def
}

// parseTenantQuery reads the list's state from the URL. Unknown values fall back to the
// defaults: a mangled link still shows a list.
func parseTenantQuery(vals url.Values) (tenants.Query, store.TenantFilter) {
	search := strings.TrimSpace(strings.ReplaceAll(vals.Get("q"), "\x00", ""))
	if utf8.RuneCountInString(search) > maxSearch {
		search = string([]rune(search)[:maxSearch])
	}
	q := tenants.Query{
		Q:           search,
		Status:      oneOf(vals.Get("status"), "active", "active", "archived", "all"),
		Connections: oneOf(vals.Get("connections"), "", "yes", "no"),
		Credits:     oneOf(vals.Get("credits"), "", "over"),
		Sort:        oneOf(vals.Get("sort"), "created", "created", "name", "lastActive"),
		Limit:       tenants.DefaultPageSize,
		Cursor:      vals.Get("cursor"),
	}
	q.Dir = oneOf(vals.Get("dir"), tenants.DefaultDir(q.Sort), "asc", "desc")
	if n, err := strconv.Atoi(vals.Get("limit")); err == nil && n >= 1 && n <= 200 {
		q.Limit = n
	}
	f := store.TenantFilter{Search: q.Q, Sort: q.Sort, Desc: q.Dir == "desc", Limit: q.Limit, Cursor: q.Cursor}
	switch q.Status {
	case "archived":
		f.OnlyArchived = true
	case "all":
		f.IncludeArchived = true
	}
	if q.Connections != "" {
		has := q.Connections == "yes"
		f.HasConnections = &has
	}
	if q.Credits == "over" {
		over := true
		f.OverCreditLimit = &over
	}
	return q, f
}

func (s *Server) tenantsList(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	q, f := parseTenantQuery(r.URL.Query())
	v := tenants.ListView{Query: q, CanWrite: canWrite(sess)}
	results := isFragmentRequest(r) && r.Header.Get("HX-Target") == "tenant-results"
	var schema *tenancy.FieldSchema
	if !results && v.CanWrite {
		schema = &tenancy.FieldSchema{}
	}
	if err := s.loadTenantList(r.Context(), sess, &v, f, schema); err != nil {
		return err
	}
	if results {
		return s.write(w, r, http.StatusOK, tenants.Results(v))
	}
	if schema != nil {
		v.New = newTenantForm(*schema, q)
	}
	v.New.Open = v.CanWrite && r.URL.Query().Get("new") == "1"
	return s.renderTenants(w, r, http.StatusOK, "Tenants", tenants.List(v))
}

// loadTenantList fills v with one page of tenants, the count of all matches and, for an empty
// page, why it is empty; and schema, when given, with the workspace's tenant field schema (for
// the "New tenant" form). A cursor the store refuses (outdated or edited) starts over at the
// first page, in a new transaction since the failed query ended the first.
func (s *Server) loadTenantList(ctx context.Context, sess *store.Session, v *tenants.ListView, f store.TenantFilter,
	schema *tenancy.FieldSchema) error {
	load := func(tx *store.Tx) error {
		page, err := tx.ListTenants(ctx, f)
		if err != nil {
			return err
		}
		if v.Total, err = tx.CountMatchingTenants(ctx, f, v.Query.CountCap()); err != nil {
			return err
		}
		v.Rows = make([]tenants.Row, len(page.Items))
		for i, t := range page.Items {
			v.Rows[i] = tenants.Row{Href: tenantPath(t.ID), Name: tenants.Identity{Name: t.Name, InternalID: t.InternalID}.DisplayName(),
				InternalID: t.InternalID, Created: t.CreatedAt, LastActive: t.LastActiveAt, Archived: t.Archived()}
		}
		if page.Cursor != "" {
			next := v.Query
			next.Cursor = page.Cursor
			v.NextURL = next.URL()
		}
		if v.Total == 0 {
			all, err := tx.CountMatchingTenants(ctx, store.TenantFilter{IncludeArchived: true}, 1)
			if err != nil {
				return err
			}
			v.Empty = tenants.NoMatch
			if all == 0 {
				v.Empty = tenants.NoTenants
			}
		}
		if schema != nil {
			ws, err := tx.Workspace(ctx)
			if err != nil {
				return err
			}
			*schema = ws.TenantFieldSchema
		}
		return nil
	}
	err := s.db.InScope(ctx, sess.Scope(), load)
	if verr, ok := tenancy.AsValidation(err); ok && verr.For("cursor") != "" {
		f.Cursor, v.Query.Cursor = "", ""
		v.Notice = "That page link is no longer valid: showing the first page."
		err = s.db.InScope(ctx, sess.Scope(), load)
	}
	if err != nil {
		return err
	}
	if v.Query.Cursor != "" {
		first := v.Query
		first.Cursor = ""
		v.FirstURL = first.URL()
	}
	return nil
}

// --- create --------------------------------------------------------------------------------------

// newTenantForm is the empty "New tenant" form. A tenant must satisfy the schema from its
// creation, so the schema's required fields are asked for too.
func newTenantForm(schema tenancy.FieldSchema, q tenants.Query) tenants.NewTenantForm {
	q.Cursor = ""
	fs := newFieldSet(schema, nil, "new-field-", false)
	return tenants.NewTenantForm{CancelURL: q.URL(), Fields: fs.views(fs.requiredKeys(), nil, true, "")}
}

func (s *Server) tenantCreate(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	in := store.NewTenant{InternalID: strings.TrimSpace(r.PostForm.Get("internalId")), Name: strings.TrimSpace(r.PostForm.Get("name"))}
	var t *tenancy.Tenant
	var fs *fieldSet
	var typed map[string]string
	err := s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		ws, err := tx.Workspace(r.Context())
		if err != nil {
			return err
		}
		fs = newFieldSet(ws.TenantFieldSchema, nil, "new-field-", false)
		in.Fields, typed = fs.fromForm(fs.requiredKeys(), r.PostForm)
		nt := in
		if nt.Name == "" {
			nt.Name = nt.InternalID // as the API does
		}
		if err := tx.ValidateNewTenant(r.Context(), nt); err != nil {
			return err
		}
		t, err = tx.CreateTenant(r.Context(), nt)
		return err
	})
	if verr, ok := tenancy.AsValidation(err); ok && fs != nil {
		form := newTenantForm(fs.schema, tenants.Query{})
		form.InternalID, form.Name, form.Open = in.InternalID, in.Name, true
		applyTyped(form.Fields, typed)
		form.Errors, form.FormError = createErrors(verr, form.Fields)
		return s.formFailed(w, r, err, "#new-tenant-form", tenants.NewTenant(form), "Tenants", func() templ.Component {
			q, f := parseTenantQuery(nil)
			v := tenants.ListView{Query: q, CanWrite: true, New: form}
			if err := s.loadTenantList(r.Context(), sess, &v, f, nil); err != nil {
				s.log.ErrorContext(r.Context(), "tenants list behind a failed create", "err", err)
			}
			return tenants.List(v)
		})
	}
	if err != nil {
		return err
	}
	s.setFlash(w, "created")
	if isFragmentRequest(r) {
		w.Header().Set("HX-Redirect", tenantPath(t.ID))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	http.Redirect(w, r, tenantPath(t.ID), http.StatusSeeOther)
	return nil
}

// createErrors places a create's problems: internalId and name at their inputs, schema fields
// at theirs, anything else above the form.
func createErrors(verr *tenancy.ValidationError, fields []tenants.Field) (map[string]string, string) {
	errs := map[string]string{}
	var rest []tenancy.FieldError
	for _, fe := range verr.Fields {
		switch fe.Path {
		case "internalId", "name":
			if errs[fe.Path] == "" {
				errs[fe.Path] = sentence(map[string]string{"internalId": "Internal ID", "name": "Name"}[fe.Path], fe.Message)
			}
		default:
			rest = append(rest, fe)
		}
	}
	formErr := applyFieldErrors(fields, rest)
	if errs["internalId"] != "" || errs["name"] != "" {
		for i := range fields {
			fields[i].Autofocus = false
		}
	}
	return errs, formErr
}

// sentence turns a validation message into one a person reads under its input: "is required"
// becomes "Internal ID is required".
func sentence(label, msg string) string {
	for _, p := range []string{"is ", "must ", "should ", "cannot "} {
		if strings.HasPrefix(msg, p) {
			return label + " " + msg
		}
	}
	if msg == "" {
		return msg
	}
	r, n := utf8.DecodeRuneInString(msg)
	return strings.ToUpper(string(r)) + msg[n:]
}

// --- the tenant's page ---------------------------------------------------------------------------

// tenantData is what a tenant's page shows, read in one transaction.
type tenantData struct {
	t     *tenancy.Tenant
	ws    *tenancy.Workspace
	used  float64
	days  []store.CreditDay // the chart's 30 days
	conns int
}

func (s *Server) loadTenant(ctx context.Context, sess *store.Session, selector string) (*tenantData, error) {
	d := &tenantData{}
	err := s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error {
		return d.load(ctx, tx, selector)
	})
	return d, err
}

func (d *tenantData) load(ctx context.Context, tx *store.Tx, selector string) error {
	var err error
	if d.t, err = tx.Tenant(ctx, selector); err != nil {
		return err
	}
	if d.ws, err = tx.Workspace(ctx); err != nil {
		return err
	}
	if d.used, err = tx.TenantCreditUsage(ctx, d.t.ID); err != nil {
		return err
	}
	if d.days, err = tx.CreditUsageByDay(ctx, d.t.ID); err != nil {
		return err
	}
	d.conns, err = tx.CountActiveConnections(ctx, d.t.ID)
	return err
}

func (d *tenantData) path() string { return tenantPath(d.t.ID) }

func (d *tenantData) identity() tenants.Identity {
	return tenants.Identity{ID: d.t.ID.String(), InternalID: d.t.InternalID, Name: d.t.Name, Created: d.t.CreatedAt,
		LastActive: d.t.LastActiveAt, ArchivedAt: d.t.ArchivedAt}
}

func (d *tenantData) fieldSet() *fieldSet {
	return newFieldSet(d.ws.TenantFieldSchema, d.t.Fields, "field-", true)
}

// fields is the Fields section; revealed names the sensitive fields shown in clear (admins only).
func (d *tenantData) fields(write bool, revealed map[string]bool) tenants.FieldsView {
	fs := d.fieldSet()
	v := tenants.FieldsView{Action: d.path() + "/fields", CanWrite: write, Fields: fs.views(fs.schema.Keys(), revealed, write, d.path())}
	for k := range d.t.Fields {
		if _, ok := fs.schema.Properties[k]; !ok {
			v.WithoutSchema++
		}
	}
	return v
}

func (d *tenantData) credentials(write bool) tenants.CredentialsView {
	v := tenants.CredentialsView{Action: d.path() + "/credentials", CanWrite: write}
	for k, at := range d.t.CredentialsMeta {
		v.Keys = append(v.Keys, tenants.CredentialKey{Key: k, SetAt: at,
			ClearURL: d.path() + "/credentials/" + url.PathEscape(k) + "/clear"})
	}
	slices.SortFunc(v.Keys, func(a, b tenants.CredentialKey) int { return strings.Compare(a.Key, b.Key) })
	return v
}

func (d *tenantData) credits(write bool) tenants.CreditsView {
	v := tenants.CreditsView{Action: d.path() + "/credits", CanWrite: write, Own: d.t.AICreditsRolling30DayLimit,
		Default: d.ws.Settings.DefaultTenantAICreditsLimit, Used: d.used}
	if v.Own != nil {
		v.Limit = strconv.FormatFloat(*v.Own, 'f', -1, 64)
	}
	label := "Limit"
	if v.Own == nil {
		label = "Workspace default limit"
	}
	v.Chart = usage.New(usage.Input{ID: "tenant-usage", Subject: d.identity().DisplayName(), Days: usageDays(d.days),
		Used: d.used, Limit: v.Effective(), LimitLabel: label, Today: time.Now().UTC()})
	return v
}

func (d *tenantData) page(write bool) tenants.PageView {
	return tenants.PageView{
		Tenant:      d.identity(),
		CanWrite:    write,
		Fields:      d.fields(write, nil),
		Credentials: d.credentials(write),
		Credits:     d.credits(write),
		Archive:     tenants.ArchiveView{ActiveConnections: d.conns},
	}
}

func (s *Server) tenantShow(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	d, err := s.loadTenant(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := d.page(canWrite(sess))
	if !isFragmentRequest(r) {
		v.Notice = flashMessage(s.takeFlash(w, r), d.t)
	}
	return s.renderTenants(w, r, http.StatusOK, v.Tenant.DisplayName(), tenants.Page(v))
}

func (s *Server) tenantSaveFields(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	d, err := s.loadTenant(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		return err
	}
	fs := d.fieldSet()
	patch, typed := fs.fromForm(fs.schema.Keys(), r.PostForm)
	if len(patch) > 0 {
		err = s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
			t, err := tx.PatchTenant(r.Context(), d.t.ID, store.TenantPatch{Fields: patch})
			if err == nil {
				d.t = t
			}
			return err
		})
	}
	if verr, ok := tenancy.AsValidation(err); ok {
		// Sensitive fields that were in the form stay as typed: the admin had them revealed.
		revealed := map[string]bool{}
		for k := range typed {
			revealed[k] = true
		}
		v := d.fields(true, revealed)
		applyTyped(v.Fields, typed)
		v.FormError = applyFieldErrors(v.Fields, verr.Fields)
		return s.formFailed(w, r, err, "#tenant-fields", tenants.Fields(v), d.identity().DisplayName(), func() templ.Component {
			p := d.page(true)
			p.Fields = v
			return tenants.Page(p)
		})
	}
	if err != nil {
		return err
	}
	return s.saved(w, r, d.path(), "fields", "Fields saved.", func() templ.Component {
		v := d.fields(true, nil)
		v.FocusSave = true
		return tenants.Fields(v)
	})
}

// tenantRevealField shows one sensitive field's value to an admin (the route is admin-only) and
// records that it was shown.
func (s *Server) tenantRevealField(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	key := r.PathValue("key")
	d := &tenantData{}
	err := s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		if err := d.load(r.Context(), tx, r.PathValue("id")); err != nil {
			return err
		}
		def, ok := d.ws.TenantFieldSchema.Properties[key]
		if !ok || !def.Sensitive {
			return tenancy.ErrNotFound
		}
		if v, ok := d.t.Fields[key]; !ok || v == nil {
			return nil // nothing to show, nothing to record
		}
		return tx.Record(r.Context(), store.Activity{Type: "field.revealed", TenantID: d.t.ID,
			Message: fmt.Sprintf("Sensitive field %s of tenant %s revealed", key, d.t.InternalID),
			Details: map[string]any{"key": key}})
	})
	if err != nil {
		return err
	}
	revealed := map[string]bool{key: true}
	if isFragmentRequest(r) {
		f := d.fieldSet().field(key, true, true, d.path())
		f.Autofocus = true
		return s.write(w, r, http.StatusOK, tenants.FieldRow(f))
	}
	v := d.page(true)
	v.Fields = d.fields(true, revealed)
	return s.renderTenants(w, r, http.StatusOK, v.Tenant.DisplayName(), tenants.Page(v))
}

func (s *Server) tenantSetCredential(w http.ResponseWriter, r *http.Request) error {
	key := strings.TrimSpace(r.PostFormValue("key"))
	value := r.PostFormValue("value")
	return s.changeCredential(w, r, key, func(tx *store.Tx, id tenancy.Tenant) (*tenancy.Tenant, error) {
		return tx.SetTenantCredential(r.Context(), id.ID, key, value)
	}, "credential", fmt.Sprintf("Credential %s set.", key))
}

func (s *Server) tenantClearCredential(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	return s.changeCredential(w, r, "", func(tx *store.Tx, t tenancy.Tenant) (*tenancy.Tenant, error) {
		return tx.ClearTenantCredential(r.Context(), t.ID, key)
	}, "credential-cleared", fmt.Sprintf("Credential %s cleared.", key))
}

// changeCredential runs one credential change and answers with the Credentials section. The
// value typed is never rendered back, not even after a refusal.
func (s *Server) changeCredential(w http.ResponseWriter, r *http.Request, typedKey string,
	change func(tx *store.Tx, t tenancy.Tenant) (*tenancy.Tenant, error), flash, message string) error {
	sess := sessionFrom(r.Context())
	d := &tenantData{}
	var changeErr error
	err := s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		if err := d.load(r.Context(), tx, r.PathValue("id")); err != nil {
			return err
		}
		t, err := change(tx, *d.t)
		if err != nil {
			changeErr = err
			return err
		}
		d.t = t
		return nil
	})
	if verr, ok := tenancy.AsValidation(changeErr); ok {
		v := d.credentials(true)
		v.Key = typedKey
		v.Errors = map[string]string{}
		clearing := r.PathValue("key") != ""
		for _, fe := range verr.Fields {
			if !clearing && (fe.Path == "key" || fe.Path == "value") {
				if v.Errors[fe.Path] == "" {
					v.Errors[fe.Path] = sentence(map[string]string{"key": "Key", "value": "Value"}[fe.Path], fe.Message)
				}
				continue
			}
			v.FormError = sentence("Credentials", fe.Message)
		}
		return s.formFailed(w, r, changeErr, "#tenant-credentials", tenants.Credentials(v), d.identity().DisplayName(), func() templ.Component {
			p := d.page(true)
			p.Credentials = v
			return tenants.Page(p)
		})
	}
	if err != nil {
		return err
	}
	return s.saved(w, r, d.path(), flash, message, func() templ.Component {
		v := d.credentials(true)
		v.FocusKey = true
		return tenants.Credentials(v)
	})
}

func (s *Server) tenantSaveCreditLimit(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	typed := strings.TrimSpace(r.PostFormValue("limit"))
	d := &tenantData{}
	limit, parseErr := parseLimit(typed)
	err := s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		if err := d.load(r.Context(), tx, r.PathValue("id")); err != nil {
			return err
		}
		if parseErr != nil {
			return parseErr
		}
		t, err := tx.PatchTenant(r.Context(), d.t.ID, store.TenantPatch{SetLimit: true, AICreditsRolling30DayLimit: limit})
		if err == nil {
			d.t = t
		}
		return err
	})
	if verr, ok := tenancy.AsValidation(err); ok && d.t != nil {
		v := d.credits(true)
		v.Limit, v.Autofocus = typed, true
		v.Error = sentence("The limit", verr.Fields[0].Message)
		return s.formFailed(w, r, err, "#tenant-credits", tenants.Credits(v), d.identity().DisplayName(), func() templ.Component {
			p := d.page(true)
			p.Credits = v
			return tenants.Page(p)
		})
	}
	if err != nil {
		return err
	}
	message := "AI credit limit removed: the workspace default applies."
	if limit != nil {
		message = "AI credit limit set to " + tenants.Number(*limit) + "."
	}
	return s.saved(w, r, d.path(), "credits", message, func() templ.Component {
		v := d.credits(true)
		v.Autofocus = true
		return tenants.Credits(v)
	})
}

// parseLimit reads the credit limit input: blank is none of the tenant's own. Its range is
// checked where the API's is, in store.PatchTenant.
func parseLimit(typed string) (*float64, error) {
	if typed == "" {
		return nil, nil
	}
	n, err := strconv.ParseFloat(typed, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return nil, tenancy.Invalid("aiCreditsRolling30DayLimit", "must be a number, or blank")
	}
	return &n, nil
}

func (s *Server) tenantArchive(w http.ResponseWriter, r *http.Request) error {
	return s.archiveOrRestore(w, r, true)
}

func (s *Server) tenantRestore(w http.ResponseWriter, r *http.Request) error {
	return s.archiveOrRestore(w, r, false)
}

// archiveOrRestore archives (deactivating the tenant's connections) or restores a tenant.
// Archiving asks first: htmx with hx-confirm, which then posts confirmed=yes; a browser without
// JavaScript gets the question as a page with a confirming form.
func (s *Server) archiveOrRestore(w http.ResponseWriter, r *http.Request, archive bool) error {
	sess := sessionFrom(r.Context())
	d, err := s.loadTenant(r.Context(), sess, r.PathValue("id"))
	if err != nil {
		return err
	}
	if archive && !d.t.Archived() && r.PostFormValue("confirmed") != "yes" {
		v := d.page(true)
		v.Archive.Confirming = true
		return s.renderTenants(w, r, http.StatusOK, v.Tenant.DisplayName(), tenants.Page(v))
	}
	deactivated := d.conns
	err = s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		var err error
		if archive {
			_, err = tx.ArchiveTenant(r.Context(), d.t.ID)
		} else {
			_, err = tx.RestoreTenant(r.Context(), d.t.ID)
		}
		if err != nil {
			return err
		}
		return d.load(r.Context(), tx, d.t.ID.String())
	})
	if err != nil {
		return err
	}
	name := d.identity().DisplayName()
	flash, message := "restored", name+" restored."
	if archive {
		flash = "archived"
		message = fmt.Sprintf("%s archived; %s deactivated.", name, tenants.Plural(deactivated, "connection", "connections"))
	}
	return s.saved(w, r, d.path(), flash, message, func() templ.Component {
		v := d.page(true)
		v.Archive.Focus = true
		return tenants.Page(v)
	})
}

// --- one-time notices after a redirect ---------------------------------------------------------

// flashCookie carries a notice across the 303 after a form post without JavaScript. It holds a
// code, never text, so nothing but this code decides what a page says.
const flashCookie = "tenantry_flash"

func (s *Server) setFlash(w http.ResponseWriter, code string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: code, Path: "/tenants", MaxAge: 60,
		HttpOnly: true, Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode})
}

func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/tenants", MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode})
	return c.Value
}

func flashMessage(code string, t *tenancy.Tenant) string {
	name := tenants.Identity{Name: t.Name, InternalID: t.InternalID}.DisplayName()
	switch code {
	case "created":
		return "Tenant " + name + " created."
	case "fields":
		return "Fields saved."
	case "credential":
		return "Credential set."
	case "credential-cleared":
		return "Credential cleared."
	case "credits":
		return "AI credit limit saved."
	case "archived":
		return name + " archived; its active connections were deactivated."
	case "restored":
		return name + " restored."
	}
	return ""
}

// --- fields from the schema ----------------------------------------------------------------------

// fieldSet is a tenant's stored fields as the workspace's schema shows them: which control edits
// each, what it shows, and how what a form sends becomes a value again.
type fieldSet struct {
	schema   tenancy.FieldSchema
	stored   map[string]any
	broken   map[string]string // key → why its stored value breaks the schema
	idPrefix string
}

// newFieldSet reads stored against schema. With check, stored values are validated (the same
// rule PatchTenant applies) so that values that break the schema can be marked.
func newFieldSet(schema tenancy.FieldSchema, stored map[string]any, idPrefix string, check bool) *fieldSet {
	fs := &fieldSet{schema: schema, stored: stored, broken: map[string]string{}, idPrefix: idPrefix}
	if check {
		if verr, ok := tenancy.AsValidation(schema.ValidateFields(stored, false)); ok {
			for _, fe := range verr.Fields {
				if rest, ok := strings.CutPrefix(fe.Path, "fields."); ok {
					k, _, _ := strings.Cut(rest, ".")
					if _, seen := fs.broken[k]; !seen {
						fs.broken[k] = fe.Message
					}
				}
			}
		}
	}
	return fs
}

func (fs *fieldSet) requiredKeys() []string {
	var keys []string
	for _, k := range fs.schema.Keys() {
		if slices.Contains(fs.schema.Required, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func (fs *fieldSet) views(keys []string, revealed map[string]bool, write bool, path string) []tenants.Field {
	out := make([]tenants.Field, len(keys))
	for i, k := range keys {
		out[i] = fs.field(k, revealed[k], write, path)
	}
	return out
}

var plainID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// htmlID makes a field key safe as (part of) an element id.
func htmlID(key string) string {
	if plainID.MatchString(key) {
		return key
	}
	return "x" + hex.EncodeToString([]byte(key))
}

func kindOf(def tenancy.FieldDef) string {
	switch {
	case len(def.Enum) > 0:
		return tenants.KindSelect
	case def.Type == "boolean":
		return tenants.KindCheckbox
	case def.Type == "integer":
		return tenants.KindInteger
	case def.Type == "number":
		return tenants.KindNumber
	case def.Format == "date-time":
		return tenants.KindDateTime
	case def.Format == "email":
		return tenants.KindEmail
	case def.Format == "uri":
		return tenants.KindURL
	}
	return tenants.KindText
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// jsonText is a value as an enum option or a raw input shows it.
func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return formatFloat(v)
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

const dateTimeLocal = "2006-01-02T15:04:05"

// field is the view of one schema field. A sensitive value is left out of the view entirely
// unless reveal is set: what is not in the view model cannot reach the page.
func (fs *fieldSet) field(key string, reveal, write bool, path string) tenants.Field {
	def := fs.schema.Properties[key]
	stored, has := fs.stored[key]
	has = has && stored != nil
	f := tenants.Field{Key: key, ID: fs.idPrefix + htmlID(key), Name: "fields." + key, Label: def.Title,
		Description: def.Description, Kind: kindOf(def), Required: slices.Contains(fs.schema.Required, key),
		Sensitive: def.Sensitive, HasValue: has, CanWrite: write}
	if f.Label == "" {
		f.Label = key
	}
	if def.Minimum != nil {
		f.Min = formatFloat(*def.Minimum)
	}
	if def.Maximum != nil {
		f.Max = formatFloat(*def.Maximum)
	}
	if def.MinLength != nil {
		f.MinLength = strconv.Itoa(*def.MinLength)
	}
	if def.MaxLength != nil {
		f.MaxLength = strconv.Itoa(*def.MaxLength)
	}
	for _, e := range def.Enum {
		f.Options = append(f.Options, tenants.Option{Value: jsonText(e), Label: jsonText(e)})
	}
	if msg, ok := fs.broken[key]; ok {
		switch {
		case !has:
			f.Broken = "Required, but this tenant has no value."
		case def.Sensitive:
			f.Broken = "The stored value does not match the schema."
		default:
			f.Broken = "The stored value does not match the schema: " + msg
		}
	}
	if has && (f.Broken != "" || !showValue(&f, stored)) {
		// Edited as plain text, without the browser's checks, so that it neither blocks saving
		// other fields nor is lost by being shown in a control that cannot hold it.
		f.Kind, f.Value, f.Checked = tenants.KindRaw, jsonText(stored), false
		for i := range f.Options {
			f.Options[i].Selected = false
		}
	}
	if def.Sensitive && has && !reveal {
		f.Masked, f.Value, f.Checked = true, "", false
		for i := range f.Options {
			f.Options[i].Selected = false
		}
		if write {
			f.RevealURL = path + "/fields/" + url.PathEscape(key) + "/reveal"
		}
	}
	return f
}

// showValue puts a stored value into f's control; false when the control cannot hold it.
func showValue(f *tenants.Field, v any) bool {
	switch f.Kind {
	case tenants.KindCheckbox:
		b, ok := v.(bool)
		f.Checked = b
		return ok
	case tenants.KindNumber, tenants.KindInteger:
		n, ok := v.(float64)
		f.Value = formatFloat(n)
		return ok
	case tenants.KindSelect:
		s := jsonText(v)
		for i := range f.Options {
			if f.Options[i].Value == s {
				f.Options[i].Selected, f.Value = true, s
				return true
			}
		}
		return false
	case tenants.KindDateTime:
		s, ok := v.(string)
		t, err := time.Parse(time.RFC3339, s)
		if !ok || err != nil {
			return false
		}
		f.Value = t.UTC().Format(dateTimeLocal)
		return true
	}
	s, ok := v.(string)
	f.Value = s
	return ok
}

// fromForm reads the fields of keys that the form sent (a masked field is not in the form, so it
// is left alone) and returns the patch: only what differs from what the control showed, so that
// saving never rewrites a value nobody touched. Emptying a field removes its key (nil); typed is
// what was sent, to show it again after a refusal.
func (fs *fieldSet) fromForm(keys []string, form url.Values) (patch map[string]any, typed map[string]string) {
	patch, typed = map[string]any{}, map[string]string{}
	for _, key := range keys {
		vals := form["fields."+key]
		if len(vals) == 0 {
			continue
		}
		s := vals[len(vals)-1] // a checkbox sends its hidden "false", then "true" when checked
		typed[key] = s
		cur := fs.field(key, true, true, "")
		if unchanged(cur, s) {
			continue
		}
		patch[key] = parseInput(fs.schema.Properties[key], cur, s)
	}
	return patch, typed
}

func unchanged(cur tenants.Field, s string) bool {
	switch cur.Kind {
	case tenants.KindCheckbox:
		if !cur.HasValue { // an unchecked box writes false only where a value is required
			return s != "true" && !cur.Required
		}
		return (s == "true") == cur.Checked
	case tenants.KindDateTime:
		if !cur.HasValue || strings.TrimSpace(s) == "" {
			return !cur.HasValue && strings.TrimSpace(s) == ""
		}
		a, errA := parseLocal(cur.Value)
		b, errB := parseLocal(s)
		return errA == nil && errB == nil && a.Equal(b)
	}
	return s == cur.Value
}

// parseLocal reads a datetime-local value (seconds optional) as UTC.
func parseLocal(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{dateTimeLocal, "2006-01-02T15:04", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date and time: %q", s)
}

// parseInput turns what a control sent into a JSON value. What does not parse is passed on as
// text, so that the store's validation (the one rule for the Console and the API) refuses it
// with its own message.
func parseInput(def tenancy.FieldDef, cur tenants.Field, s string) any {
	if cur.Kind == tenants.KindCheckbox {
		return s == "true"
	}
	if strings.TrimSpace(s) == "" {
		return nil
	}
	kind := cur.Kind
	if kind == tenants.KindRaw {
		kind = kindOf(def)
		if kind == tenants.KindCheckbox {
			if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
				return b
			}
			return s
		}
	}
	switch kind {
	case tenants.KindNumber, tenants.KindInteger:
		if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
			return n
		}
	case tenants.KindSelect:
		for _, e := range def.Enum {
			if jsonText(e) == s {
				return e
			}
		}
	case tenants.KindDateTime:
		if t, err := parseLocal(s); err == nil {
			return t.Format(time.RFC3339)
		}
	case tenants.KindEmail, tenants.KindURL:
		return strings.TrimSpace(s)
	}
	return s
}

// applyTyped shows what was sent in place of what is stored, after a refusal.
func applyTyped(fields []tenants.Field, typed map[string]string) {
	for i := range fields {
		s, ok := typed[fields[i].Key]
		if !ok {
			continue
		}
		f := &fields[i]
		f.Masked, f.RevealURL = false, ""
		switch f.Kind {
		case tenants.KindCheckbox:
			f.Checked = s == "true"
		case tenants.KindSelect:
			found := false
			for j := range f.Options {
				f.Options[j].Selected = f.Options[j].Value == s
				found = found || f.Options[j].Selected
			}
			if !found && s != "" {
				f.Kind = tenants.KindRaw
			}
		}
		f.Value = s
	}
}

// applyFieldErrors puts each problem at its field ("fields.<key>"), focuses the first invalid
// field, and returns the problems that belong to no field, as one line.
func applyFieldErrors(fields []tenants.Field, problems []tenancy.FieldError) string {
	at := map[string]int{}
	for i, f := range fields {
		at[f.Key] = i
	}
	var rest []string
	for _, fe := range problems {
		if key, ok := strings.CutPrefix(fe.Path, "fields."); ok {
			key, _, _ = strings.Cut(key, ".")
			if i, ok := at[key]; ok {
				if fields[i].Error == "" {
					fields[i].Error = sentence(fields[i].Label, fe.Message)
				}
				continue
			}
		}
		if fe.Path != "" && fe.Path != "fields" {
			rest = append(rest, strings.TrimPrefix(fe.Path, "fields.")+": "+fe.Message)
		} else {
			rest = append(rest, sentence("Fields", fe.Message))
		}
	}
	for i := range fields {
		if fields[i].Error != "" {
			fields[i].Autofocus = true
			break
		}
	}
	return strings.Join(rest, "; ")
}
