package web

// A tenant's Customizations tab: every workspace element by kind, each inherited, customized or
// the tenant's own; one page per element with the side-by-side diff against its template, the
// stored override, and (for admins) a JSON editor of the tenant's config and a reset. Saving
// sends the whole desired config (store.ConfigReplace): the store keeps only what differs from
// the template and validates it as the API does.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/tenants"
)

// tenantTabTitle is the browser title of a tenant's tab.
func tenantTabTitle(t *tenancy.Tenant, tab string) string {
	return tenants.Identity{Name: t.Name, InternalID: t.InternalID}.DisplayName() + " · " + tab
}

func tenantIdentity(t *tenancy.Tenant) tenants.Identity {
	return tenants.Identity{ID: t.ID.String(), InternalID: t.InternalID, Name: t.Name, Created: t.CreatedAt,
		LastActive: t.LastActiveAt, ArchivedAt: t.ArchivedAt}
}

// tenantElementKind reads the kind from the URL ("actions", "data-sources", …).
func tenantElementKind(r *http.Request) (tenancy.ElementKind, error) {
	k, ok := tenancy.KindByPlural(r.PathValue("kind"))
	if !ok || !k.Valid() {
		return "", tenancy.ErrNotFound
	}
	return k, nil
}

func tenantElementPath(tenantID fmt.Stringer, kind tenancy.ElementKind, key string) string {
	return tenantPath(tenantID) + "/customizations/" + kind.Plural() + "/" + key
}

// --- the tab -------------------------------------------------------------------------------------

func (s *Server) tenantCustomizations(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	ctx := r.Context()
	var t *tenancy.Tenant
	sections := make([]tenants.KindSection, 0, len(tenancy.ElementKinds))
	err := s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error {
		var err error
		if t, err = tx.Tenant(ctx, r.PathValue("id")); err != nil {
			return err
		}
		for _, kind := range tenancy.ElementKinds {
			rows, err := tx.TenantElements(ctx, t.ID, kind)
			if err != nil {
				return err
			}
			sec := tenants.KindSection{Plural: kind.Plural(), Title: kind.Title() + "s"}
			for _, row := range rows {
				sec.Rows = append(sec.Rows, tenantElementRow(t, kind, row))
			}
			sections = append(sections, sec)
		}
		return nil
	})
	if err != nil {
		return err
	}
	v := tenants.CustomizationsView{Tenant: tenantIdentity(t), CanWrite: canWrite(sess), Kinds: sections}
	if !isFragmentRequest(r) {
		v.Notice = tenantElementFlash(s.takeFlash(w, r))
	}
	return s.renderTenants(w, r, http.StatusOK, tenantTabTitle(t, "Customizations"), tenants.Customizations(v))
}

func tenantElementRow(t *tenancy.Tenant, kind tenancy.ElementKind, row store.TenantElementRow) tenants.ElementRow {
	e := row.Template
	if e == nil {
		e = row.Tenant
	}
	out := tenants.ElementRow{Key: e.Key, Name: e.Name, Integration: e.IntegrationKey, Status: row.Status,
		Href: tenantElementPath(t.ID, kind, e.Key)}
	if row.Tenant != nil && row.Tenant.Name != "" {
		out.Name = row.Tenant.Name
	}
	if out.Name == "" {
		out.Name = e.Key
	}
	if row.Template != nil && row.Status == tenancy.StatusCustomized {
		out.Changes = len(tenancy.ConfigChanges(row.Template.Effective, row.Effective))
	}
	return out
}

// --- one element ---------------------------------------------------------------------------------

// tenantElementData is one element as a tenant has it, read in one transaction.
type tenantElementData struct {
	t    *tenancy.Tenant
	kind tenancy.ElementKind
	key  string
	row  store.TenantElementRow
}

// loadTenantElement finds the element of kind with key for the tenant named in the URL: the
// template with the tenant's tenant-wide customization of it (if any), or the tenant's own
// element. Neither: not found.
func loadTenantElement(r *http.Request, tx *store.Tx) (*tenantElementData, error) {
	ctx := r.Context()
	kind, err := tenantElementKind(r)
	if err != nil {
		return nil, err
	}
	d := &tenantElementData{kind: kind, key: r.PathValue("key")}
	if d.t, err = tx.Tenant(ctx, r.PathValue("id")); err != nil {
		return nil, err
	}
	own, err := tx.TenantLevelElement(ctx, store.TenantElementAt{TenantID: d.t.ID, Kind: kind, Key: d.key})
	if err != nil && !errors.Is(err, tenancy.ErrNotFound) {
		return nil, err
	}
	if own != nil && own.ParentID == uuid.Nil {
		d.row = store.TenantElementRow{Tenant: own, Status: tenancy.StatusTenantOnly, Effective: own.Effective}
		return d, nil
	}
	tmpl, err := tx.Element(ctx, kind, d.key)
	if errors.Is(err, tenancy.ErrNotFound) || (err == nil && tmpl.ArchivedAt != nil) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	d.row = store.TenantElementRow{Template: tmpl, Status: tenancy.StatusInherited, Effective: tmpl.Effective}
	if own != nil {
		d.row.Tenant, d.row.Status, d.row.Effective = own, own.Status(), own.Effective
	}
	return d, nil
}

func (d *tenantElementData) at() store.TenantElementAt {
	return store.TenantElementAt{TenantID: d.t.ID, Kind: d.kind, Key: d.key}
}

func (d *tenantElementData) path() string { return tenantElementPath(d.t.ID, d.kind, d.key) }

// view is the element's page; the editor holds the tenant's effective config.
func (d *tenantElementData) view(write bool) tenants.ElementView {
	e := d.row.Template
	if e == nil {
		e = d.row.Tenant
	}
	v := tenants.ElementView{
		Tenant: tenantIdentity(d.t), CanWrite: write, Path: d.path(), BackURL: tenantPath(d.t.ID) + "/customizations",
		KindTitle: d.kind.Title(), Key: e.Key, Name: e.Name, Type: e.Type, Integration: e.IntegrationKey,
		Status: d.row.Status, Effective: tenants.PrettyJSON(d.row.Effective),
	}
	if d.row.Tenant != nil && d.row.Tenant.Name != "" {
		v.Name = d.row.Tenant.Name
	}
	if v.Name == "" {
		v.Name = e.Key
	}
	v.Editor.Text = v.Effective
	if t := d.row.Template; t != nil {
		v.Template = tenants.PrettyJSON(t.Effective)
		v.Diff = tenants.DiffJSON(t.Effective, d.row.Effective)
		for _, c := range tenancy.ConfigChanges(t.Effective, d.row.Effective) {
			cv := tenants.ConfigChangeView{Path: c.Path, Kind: tenants.ChangeChanged,
				Before: tenants.CompactJSON(c.Before), After: tenants.CompactJSON(c.After)}
			switch {
			case c.Added:
				cv.Kind = tenants.ChangeAdded
			case c.Removed:
				cv.Kind = tenants.ChangeRemoved
			}
			v.Changes = append(v.Changes, cv)
		}
		if d.row.Tenant != nil && len(d.row.Tenant.Config) > 0 {
			v.Override = tenants.PrettyJSON(d.row.Tenant.Config)
		}
	}
	return v
}

func (s *Server) tenantElementShow(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	var d *tenantElementData
	err := s.db.InScope(r.Context(), sess.Scope(), func(tx *store.Tx) error {
		var err error
		d, err = loadTenantElement(r, tx)
		return err
	})
	if err != nil {
		return err
	}
	v := d.view(canWrite(sess))
	if !isFragmentRequest(r) {
		v.Notice = tenantElementFlash(s.takeFlash(w, r))
	}
	return s.renderTenants(w, r, http.StatusOK, tenantTabTitle(d.t, v.Name), tenants.ElementPage(v))
}

// maxTenantConfigText bounds what the editor may send: the store refuses configs over
// tenancy.MaxConfigBytes as compact JSON, and indentation adds to that.
const maxTenantConfigText = 4 * tenancy.MaxConfigBytes

// parseTenantConfig reads the editor's JSON: one object, nothing after it. The error is a
// sentence for the page, with the line and column of a syntax error.
func parseTenantConfig(text string) (map[string]any, string) {
	if strings.TrimSpace(text) == "" {
		return nil, "The config is empty: write a JSON object, {} for none."
	}
	if len(text) > maxTenantConfigText {
		return nil, fmt.Sprintf("The config is too long: at most %d KiB.", maxTenantConfigText>>10)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	var v any
	err := dec.Decode(&v)
	if err == nil {
		end := int(dec.InputOffset())
		rest := strings.TrimLeft(text[end:], " \t\r\n")
		if rest != "" {
			line, col := textLineCol(text, len(text)-len(rest))
			return nil, fmt.Sprintf("The config is not valid JSON: more text after the object (line %d, column %d).", line, col)
		}
	}
	if err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			line, col := textLineCol(text, int(syn.Offset)-1) // Offset is just past the offending byte
			return nil, fmt.Sprintf("The config is not valid JSON: %s (line %d, column %d).", syn.Error(), line, col)
		case errors.As(err, &typ):
			return nil, "The config is not valid JSON: " + typ.Error() + "."
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			return nil, "The config is not valid JSON: it ends too early."
		}
		return nil, "The config is not valid JSON: " + err.Error() + "."
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, "The config must be a JSON object ({ … })."
	}
	return obj, ""
}

// textLineCol is where the byte at index i of text is, line and column counted from 1.
func textLineCol(text string, i int) (int, int) {
	i = max(0, min(i, len(text)))
	before := text[:i]
	return strings.Count(before, "\n") + 1, i - strings.LastIndexByte(before, '\n')
}

// tenantEditorProblems places a refused save's problems: config paths under the editor, anything else
// above the form.
func tenantEditorProblems(verr *tenancy.ValidationError) (problems []string, formErr string) {
	var rest []string
	for _, fe := range verr.Fields {
		if fe.Path == "config" || strings.HasPrefix(fe.Path, "config.") {
			problems = append(problems, fe.Path+": "+fe.Message)
			continue
		}
		if fe.Path == "" {
			rest = append(rest, sentence("The element", fe.Message))
		} else {
			rest = append(rest, fe.Path+": "+fe.Message)
		}
	}
	return problems, strings.Join(rest, "; ")
}

func (s *Server) tenantElementSave(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	text := r.PostForm.Get("config")
	cfg, syntax := parseTenantConfig(text)
	var d *tenantElementData
	var saveErr error
	err := s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error {
		var err error
		if d, err = loadTenantElement(r, tx); err != nil {
			return err
		}
		if syntax != "" {
			saveErr = tenancy.Invalid("config", "%s", syntax)
			return saveErr
		}
		if _, err := tx.Customize(ctx, d.at(), store.ElementChange{Mode: store.ConfigReplace, Config: cfg}); err != nil {
			saveErr = err
			return err
		}
		d, err = loadTenantElement(r, tx)
		return err
	})
	if verr, ok := tenancy.AsValidation(saveErr); ok && d != nil {
		v := d.view(true)
		v.Editor.Text, v.Editor.Autofocus = text, true
		if syntax != "" {
			v.Editor.Error = syntax
		} else {
			v.Editor.Problems, v.Editor.FormError = tenantEditorProblems(verr)
		}
		return s.formFailed(w, r, saveErr, "#tenant-element", tenants.Element(v), tenantTabTitle(d.t, v.Name), func() templ.Component {
			return tenants.ElementPage(v)
		})
	}
	if err != nil {
		return err
	}
	message := fmt.Sprintf("Customization of %s %s saved.", d.kind.Title(), d.key)
	switch d.row.Status {
	case tenancy.StatusInherited:
		message = fmt.Sprintf("Saved: no difference from the template, %s %s is inherited.", d.kind.Title(), d.key)
	case tenancy.StatusTenantOnly:
		message = fmt.Sprintf("%s %s saved.", d.kind.Title(), d.key)
	}
	return s.saved(w, r, d.path(), "element-saved", message, func() templ.Component {
		v := d.view(true)
		v.Editor.FocusSave = true
		return tenants.Element(v)
	})
}

// tenantElementReset removes the tenant's customization. It asks first: htmx with hx-confirm,
// which then posts confirmed=yes; a browser without JavaScript gets the question on the page.
func (s *Server) tenantElementReset(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	ctx := r.Context()
	confirmed := r.PostFormValue("confirmed") == "yes"
	var d *tenantElementData
	err := s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error {
		var err error
		if d, err = loadTenantElement(r, tx); err != nil || !confirmed {
			return err
		}
		if d.row.Tenant == nil || d.row.Status == tenancy.StatusInherited {
			return nil // nothing to reset: already the template
		}
		if d.row.Status == tenancy.StatusTenantOnly {
			return errStatus(http.StatusBadRequest, "This element is the tenant's own: it has no template to reset to.")
		}
		if _, err := tx.ResetCustomization(ctx, d.row.Tenant.ID); err != nil {
			return err
		}
		d, err = loadTenantElement(r, tx)
		return err
	})
	if err != nil {
		return err
	}
	if !confirmed {
		v := d.view(true)
		if d.row.Status == tenancy.StatusCustomized {
			v.Confirm = "reset"
		}
		return s.renderTenants(w, r, http.StatusOK, tenantTabTitle(d.t, v.Name), tenants.ElementPage(v))
	}
	return s.saved(w, r, d.path(), "element-reset", d.kind.Title()+" "+d.key+" reset: this tenant uses the template.", func() templ.Component {
		return tenants.Element(d.view(true))
	})
}

// tenantElementDelete deletes a tenant's own element, asking first as reset does.
func (s *Server) tenantElementDelete(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	ctx := r.Context()
	confirmed := r.PostFormValue("confirmed") == "yes"
	var d *tenantElementData
	err := s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error {
		var err error
		if d, err = loadTenantElement(r, tx); err != nil || !confirmed {
			return err
		}
		if d.row.Status != tenancy.StatusTenantOnly {
			return errStatus(http.StatusBadRequest, "Only the tenant's own elements can be deleted; reset a customization instead.")
		}
		return tx.DeleteTenantElement(ctx, d.row.Tenant.ID)
	})
	if err != nil {
		return err
	}
	if !confirmed {
		v := d.view(true)
		if d.row.Status == tenancy.StatusTenantOnly {
			v.Confirm = "delete"
		}
		return s.renderTenants(w, r, http.StatusOK, tenantTabTitle(d.t, v.Name), tenants.ElementPage(v))
	}
	to := tenantPath(d.t.ID) + "/customizations"
	s.setFlash(w, "element-deleted")
	if isFragmentRequest(r) {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// tenantElementFlash is the one-time notice after a change on the Customizations tab.
func tenantElementFlash(code string) string {
	switch code {
	case "element-saved":
		return "Customization saved."
	case "element-reset":
		return "Customization reset: the tenant uses the template."
	case "element-deleted":
		return "Element deleted."
	}
	return ""
}
