package web

// The Console's workspace elements area, one list per kind under /elements/{kind} (connectors,
// actions, flows, data-sources, field-mappings): search and an integration filter in the URL,
// the create form (optionally building on a universe element), and an element's page with its
// effective and stored config, its universal parent, the tenants that customize it, the edit
// form and archive/restore. The config is typed as JSON; JSON that does not parse and what the
// kind's schema refuses are shown beside the textarea, by path ("config.method: …").

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/elements"
)

// elementsTitle is a kind's collection name for people: "Actions", "Data sources".
func elementsTitle(k tenancy.ElementKind) string { return k.Title() + "s" }

func elementPath(k tenancy.ElementKind, id uuid.UUID) string {
	return "/elements/" + k.Plural() + "/" + id.String()
}

// templateKindOf reads the {kind} of the URL: a workspace element kind by its plural.
func templateKindOf(r *http.Request) (tenancy.ElementKind, error) {
	k, ok := tenancy.KindByPlural(r.PathValue("kind"))
	if !ok || !k.Valid() {
		return "", errStatus(http.StatusNotFound, "There is no such kind of element. The kinds are connectors, actions, flows, data-sources and field-mappings.")
	}
	return k, nil
}

func elementTabs(active tenancy.ElementKind) []elements.Tab {
	tabs := make([]elements.Tab, len(tenancy.ElementKinds))
	for i, k := range tenancy.ElementKinds {
		tabs[i] = elements.Tab{Href: "/elements/" + k.Plural(), Label: elementsTitle(k), Active: k == active}
	}
	return tabs
}

func (s *Server) elementsIndex(w http.ResponseWriter, r *http.Request) error {
	http.Redirect(w, r, "/elements/"+tenancy.ElementKinds[0].Plural(), http.StatusSeeOther)
	return nil
}

// --- list ----------------------------------------------------------------------------------------

func elementListView(k tenancy.ElementKind, q elements.Query, write bool) elements.ListView {
	return elements.ListView{Title: elementsTitle(k), Singular: strings.ToLower(k.Title()), Tabs: elementTabs(k), Query: q,
		ShowType: k == tenancy.KindAction, CanWrite: write, NewURL: "/elements/" + k.Plural() + "/new"}
}

func (s *Server) elementsList(w http.ResponseWriter, r *http.Request) error {
	kind, err := templateKindOf(r)
	if err != nil {
		return err
	}
	vals := r.URL.Query()
	q := elements.Query{Kind: kind.Plural(), Q: searchText(vals.Get("q")), Integration: strings.TrimSpace(vals.Get("integration")),
		Archived: vals.Get("archived") == "1", Cursor: vals.Get("cursor")}
	v := elementListView(kind, q, canWrite(sessionFrom(r.Context())))
	if v.Query.Integration != "" {
		v.NewURL += "?integration=" + url.QueryEscape(v.Query.Integration)
	}
	err = s.listInScope(r, &v.Query.Cursor, &v.Notice, func(tx *store.Tx) error {
		integs, err := allIntegrations(r.Context(), tx)
		if err != nil {
			return err
		}
		v.Integrations = integrationFilter(integs)
		f := store.ElementFilter{Kind: kind, Search: v.Query.Q, IncludeArchived: v.Query.Archived, Limit: elements.DefaultPageSize,
			Cursor: v.Query.Cursor}
		if v.Query.Integration != "" {
			in := integrationByKey(integs, v.Query.Integration)
			if in == nil {
				v.Notice = fmt.Sprintf("There is no integration with the key %q.", v.Query.Integration)
				v.Rows = nil
				return nil
			}
			f.IntegrationID = in.ID
		}
		page, err := tx.ListElements(r.Context(), f)
		if err != nil {
			return err
		}
		v.Rows = make([]elements.Row, len(page.Items))
		for i, e := range page.Items {
			row := elements.Row{Href: elementPath(kind, e.ID), Name: e.Name, Key: e.Key, Type: e.Type, Updated: e.UpdatedAt,
				Archived: e.ArchivedAt != nil, Universal: e.UniversalParentID != uuid.Nil}
			if in := integrationByID(integs, e.IntegrationID); in != nil {
				row.Integration, row.IntegrationHref = in.Name, integrationPath(in.ID)
			}
			v.Rows[i] = row
		}
		v.Pager = pager("element-results", v.Query.Cursor, page.Cursor, func(c string) string {
			q := v.Query
			q.Cursor = c
			return q.URL()
		})
		return nil
	})
	if err != nil {
		return err
	}
	if wantsResults(r, "element-results") {
		return s.write(w, r, http.StatusOK, elements.Results(v))
	}
	return s.render(w, r, http.StatusOK, s.page(r, elementsTitle(kind), "/elements"), elements.List(v))
}

// --- the form ------------------------------------------------------------------------------------

// integrationChoices is the integration select: none, the active integrations, and the
// selected one even when archived.
func integrationChoices(all []*tenancy.Integration, selected string) []elements.Option {
	out := []elements.Option{{Value: "", Label: "No integration"}}
	for _, in := range all {
		switch {
		case in.ArchivedAt == nil:
			out = append(out, elements.Option{Value: in.ID.String(), Label: in.Name + " (" + in.Key + ")"})
		case in.ID.String() == selected:
			out = append(out, elements.Option{Value: in.ID.String(), Label: in.Name + " (" + in.Key + ", archived)"})
		}
	}
	return out
}

func typeChoices(k tenancy.ElementKind) []elements.Option {
	if k != tenancy.KindAction {
		return nil
	}
	out := []elements.Option{{Value: "", Label: "No type"}}
	for _, t := range tenancy.ActionTypes {
		out = append(out, elements.Option{Value: t, Label: t})
	}
	return out
}

func universeRef(u *tenancy.UniverseElement) *elements.ParentRef {
	return &elements.ParentRef{ID: u.ID.String(), Name: u.Name, Key: u.Key, Href: universePath(u.Kind, u.Key),
		Config: elements.Pretty(u.Config)}
}

func newElementForm(k tenancy.ElementKind) elements.Form {
	return elements.Form{Action: "/elements/" + k.Plural(), Target: "this", Title: "New " + strings.ToLower(k.Title()),
		Submit: "Create " + strings.ToLower(k.Title()), CancelURL: "/elements/" + k.Plural(), KindTitle: k.Title(),
		Types: typeChoices(k), Config: "{}"}
}

// parseConfig reads the config textarea: blank is {}; anything else must be a JSON object.
// The problem is said the way the store's are, for the path "config".
func parseConfig(text string) (map[string]any, string) {
	if strings.TrimSpace(text) == "" {
		return map[string]any{}, ""
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := configLineCol(text, se.Offset)
			return nil, fmt.Sprintf("is not valid JSON: %v (line %d, column %d)", se, line, col)
		}
		return nil, "is not valid JSON: " + err.Error()
	}
	switch v := v.(type) {
	case nil:
		return map[string]any{}, ""
	case map[string]any:
		return v, ""
	}
	return nil, `must be a JSON object, like {"key": "value"}`
}

// configLineCol turns a byte offset into a 1-based line and column.
func configLineCol(text string, offset int64) (int, int) {
	if offset > int64(len(text)) {
		offset = int64(len(text))
	}
	before := text[:offset]
	line := strings.Count(before, "\n") + 1
	col := len([]rune(before[strings.LastIndex(before, "\n")+1:]))
	if col == 0 {
		col = 1
	}
	return line, col
}

// readElementForm reads a posted element form into the store's input; the form keeps what was
// typed. It returns the problems only the Console can see (JSON that does not parse, an
// integration that is not the workspace's) together with the store's checks of the other
// inputs, so that one submit shows every problem.
func readElementForm(ctx context.Context, tx *store.Tx, k tenancy.ElementKind, form url.Values, f *elements.Form) (store.ElementInput, error) {
	f.Key, f.Name = strings.TrimSpace(form.Get("key")), strings.TrimSpace(form.Get("name"))
	f.Description, f.IntegrationID, f.Config = strings.TrimSpace(form.Get("description")), form.Get("integrationId"), form.Get("config")
	in := store.ElementInput{Kind: k, Key: f.Key, Name: f.Name, Description: f.Description}
	if k == tenancy.KindAction {
		f.Type = form.Get("type")
		in.Type = f.Type
	}
	verr := &tenancy.ValidationError{}
	if f.IntegrationID != "" {
		id, err := uuid.Parse(f.IntegrationID)
		if err == nil {
			_, err = tx.Integration(ctx, id.String())
		}
		switch {
		case err == nil:
			in.IntegrationID = id
		case err != nil && (errors.Is(err, tenancy.ErrNotFound) || id == uuid.Nil):
			verr.Add("integrationId", "is not an integration of this workspace")
		default:
			return in, err
		}
	}
	cfg, problem := parseConfig(f.Config)
	if problem != "" {
		verr.Add("config", "%s", problem)
	}
	in.Config = cfg
	if len(verr.Fields) == 0 {
		return in, nil
	}
	// The store's own checks of what could be read, without the config it cannot check now.
	more := &tenancy.ValidationError{}
	name := in.Name
	if name == "" {
		name = in.Key
	}
	tenancy.ValidateElement(k, in.Key, name, in.Type, map[string]any{}, more)
	for _, fe := range more.Fields {
		if fe.Path != "config" && !strings.HasPrefix(fe.Path, "config.") {
			verr.Fields = append(verr.Fields, fe)
		}
	}
	return in, verr
}

var elementLabels = map[string]string{"key": "Key", "name": "Name", "description": "Description", "integrationId": "Integration",
	"type": "Type", "universalParentId": "Universal parent"}

// placeElementErrors puts each problem at its input: config problems, by path, beside the
// config; what belongs to no input above the form.
func placeElementErrors(f *elements.Form, verr *tenancy.ValidationError) {
	f.Errors, f.ConfigErrors = elements.Errors{}, nil
	var rest []string
	for _, fe := range verr.Fields {
		switch label, ok := elementLabels[fe.Path]; {
		case fe.Path == "config" || strings.HasPrefix(fe.Path, "config."):
			f.ConfigErrors = append(f.ConfigErrors, fe.Path+": "+fe.Message)
		case ok:
			if f.Errors[fe.Path] == "" {
				f.Errors[fe.Path] = sentence(label, fe.Message)
			}
		default:
			rest = append(rest, sentence("", strings.TrimSpace(fe.Path+" "+fe.Message)))
		}
	}
	f.FormError = strings.Join(rest, "; ")
}

// --- create --------------------------------------------------------------------------------------

// elementNew shows the create form. ?integration=<key> preselects an integration; ?from=<key>
// builds on the universe element of that key (the form then types only what differs).
func (s *Server) elementNew(w http.ResponseWriter, r *http.Request) error {
	kind, err := templateKindOf(r)
	if err != nil {
		return err
	}
	f := newElementForm(kind)
	err = s.inScope(r, func(tx *store.Tx) error {
		integs, err := allIntegrations(r.Context(), tx)
		if err != nil {
			return err
		}
		if in := integrationByKey(integs, r.URL.Query().Get("integration")); in != nil {
			f.IntegrationID = in.ID.String()
		}
		f.Integrations = integrationChoices(integs, f.IntegrationID)
		if from := r.URL.Query().Get("from"); from != "" {
			u, err := tx.UniverseElement(r.Context(), kind, from)
			if errors.Is(err, tenancy.ErrNotFound) {
				return errStatus(http.StatusNotFound, fmt.Sprintf("The universe has no %s %q.", strings.ToLower(kind.Title()), from))
			}
			if err != nil {
				return err
			}
			f.UniversalParentID, f.Parent = u.ID.String(), universeRef(u)
			f.Key, f.Name, f.Description, f.Type = u.Key, u.Name, u.Description, u.Type
		}
		return nil
	})
	if err != nil {
		return err
	}
	v := elementListView(kind, elements.Query{Kind: kind.Plural()}, true)
	return s.render(w, r, http.StatusOK, s.page(r, f.Title, "/elements"), elements.NewPage(v, f))
}

func (s *Server) elementCreate(w http.ResponseWriter, r *http.Request) error {
	kind, err := templateKindOf(r)
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	f := newElementForm(kind)
	var e *tenancy.Element
	err = s.inScope(r, func(tx *store.Tx) error {
		integs, err := allIntegrations(r.Context(), tx)
		if err != nil {
			return err
		}
		in, rerr := readElementForm(r.Context(), tx, kind, r.PostForm, &f)
		f.Integrations = integrationChoices(integs, f.IntegrationID)
		if p := r.PostForm.Get("universalParentId"); p != "" {
			f.UniversalParentID = p
			id, perr := uuid.Parse(p)
			if perr != nil {
				return tenancy.Invalid("universalParentId", "is not the id of a universe %s", strings.ToLower(kind.Title()))
			}
			in.UniversalParentID = id
			if u, err := tx.UniverseElement(r.Context(), kind, id.String()); err == nil {
				f.Parent = universeRef(u)
			}
		}
		if rerr != nil {
			return rerr
		}
		e, err = tx.CreateElement(r.Context(), in)
		return err
	})
	if verr, ok := tenancy.AsValidation(err); ok {
		placeElementErrors(&f, verr)
		return s.refused(w, r, err, elements.ElementForm(f), f.Title, "/elements", func() templ.Component {
			return elements.NewPage(elementListView(kind, elements.Query{Kind: kind.Plural()}, true), f)
		})
	}
	if err != nil {
		return err
	}
	return s.created(w, r, elementPath(kind, e.ID), "element-created")
}

// --- an element's page ---------------------------------------------------------------------------

// customizationsShown is how many customizations an element's page lists.
const customizationsShown = 50

// elementData is what an element's page shows, read in one transaction.
type elementData struct {
	e      *tenancy.Element
	integs []*tenancy.Integration
	parent *tenancy.UniverseElement
	custom []elements.Customization
	more   bool
}

func loadElement(ctx context.Context, tx *store.Tx, k tenancy.ElementKind, selector string) (*elementData, error) {
	e, err := tx.Element(ctx, k, selector)
	if err != nil {
		return nil, err
	}
	d := &elementData{e: e}
	if d.integs, err = allIntegrations(ctx, tx); err != nil {
		return nil, err
	}
	if e.UniversalParentID != uuid.Nil {
		d.parent, err = tx.UniverseElement(ctx, k, e.UniversalParentID.String())
		if err != nil && !errors.Is(err, tenancy.ErrNotFound) {
			return nil, err
		}
	}
	page, err := tx.ListTenantElements(ctx, store.TenantElementFilter{Kind: k, ParentID: e.ID, Limit: customizationsShown})
	if err != nil {
		return nil, err
	}
	d.more = page.Cursor != ""
	tenants := map[uuid.UUID]*tenancy.Tenant{}
	conns := map[uuid.UUID]string{}
	for _, c := range page.Items {
		t := tenants[c.TenantID]
		if t == nil {
			if t, err = tx.Tenant(ctx, c.TenantID.String()); err != nil {
				return nil, fmt.Errorf("tenant of customization %s: %w", c.ID, err)
			}
			tenants[c.TenantID] = t
		}
		row := elements.Customization{TenantName: t.Name, TenantHref: tenantPath(t.ID), Customized: c.IsCustomized(), Updated: c.UpdatedAt}
		if row.TenantName == "" {
			row.TenantName = t.InternalID
		}
		if c.ConnectionID != uuid.Nil {
			name, ok := conns[c.ConnectionID]
			if !ok {
				conn, err := tx.Connection(ctx, c.ConnectionID.String())
				if err != nil {
					return nil, fmt.Errorf("connection of customization %s: %w", c.ID, err)
				}
				name = conn.Name
				conns[c.ConnectionID] = name
			}
			row.Connection = name
		}
		if c.InstanceKey != "" {
			row.Connection = strings.TrimSpace(row.Connection + " (instance " + c.InstanceKey + ")")
		}
		d.custom = append(d.custom, row)
	}
	return d, nil
}

func (d *elementData) form() elements.Form {
	e := d.e
	f := elements.Form{Action: elementPath(e.Kind, e.ID), Target: "#element-page", Title: "Edit", Submit: "Save " + strings.ToLower(e.Kind.Title()),
		KindTitle: e.Kind.Title(), Key: e.Key, Name: e.Name, Description: e.Description, Type: e.Type,
		Config: elements.Pretty(e.Config), Types: typeChoices(e.Kind)}
	if e.IntegrationID != uuid.Nil {
		f.IntegrationID = e.IntegrationID.String()
	}
	f.Integrations = integrationChoices(d.integs, f.IntegrationID)
	if d.parent != nil {
		f.Parent, f.UniversalParentID = universeRef(d.parent), d.parent.ID.String()
	}
	return f
}

func (d *elementData) page(write bool) elements.PageView {
	e := d.e
	v := elements.PageView{Path: elementPath(e.Kind, e.ID), KindTitle: e.Kind.Title(), ListHref: "/elements/" + e.Kind.Plural(),
		ListLabel: elementsTitle(e.Kind), Name: e.Name, Key: e.Key, Description: e.Description, Type: e.Type, Created: e.CreatedAt,
		Updated: e.UpdatedAt, ArchivedAt: e.ArchivedAt, Effective: elements.Pretty(e.Effective), Stored: elements.Pretty(e.Config),
		Customizations: d.custom, MoreCustomized: d.more, CanWrite: write, Form: d.form()}
	if in := integrationByID(d.integs, e.IntegrationID); in != nil {
		v.Integration, v.IntegrationHref = in.Name, integrationPath(in.ID)
	}
	if d.parent != nil {
		v.Parent = universeRef(d.parent)
	}
	return v
}

func (s *Server) elementShow(w http.ResponseWriter, r *http.Request) error {
	kind, err := templateKindOf(r)
	if err != nil {
		return err
	}
	var d *elementData
	err = s.inScope(r, func(tx *store.Tx) error {
		d, err = loadElement(r.Context(), tx, kind, r.PathValue("id"))
		return err
	})
	if err != nil {
		return err
	}
	v := d.page(canWrite(sessionFrom(r.Context())))
	v.Notice = s.takeNotice(w, r)
	return s.render(w, r, http.StatusOK, s.page(r, d.e.Name, "/elements"), elements.Page(v))
}

func (s *Server) elementUpdate(w http.ResponseWriter, r *http.Request) error {
	kind, err := templateKindOf(r)
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	var d *elementData
	var f elements.Form
	err = s.inScope(r, func(tx *store.Tx) error {
		var err error
		if d, err = loadElement(r.Context(), tx, kind, r.PathValue("id")); err != nil {
			return err
		}
		f = d.form()
		in, err := readElementForm(r.Context(), tx, kind, r.PostForm, &f)
		f.Integrations = integrationChoices(d.integs, f.IntegrationID)
		if err != nil {
			return err
		}
		in.UniversalParentID = d.e.UniversalParentID // the form does not change what it builds on
		if _, err := tx.UpdateElement(r.Context(), d.e.ID, in); err != nil {
			return err
		}
		d, err = loadElement(r.Context(), tx, kind, d.e.ID.String())
		return err
	})
	if verr, ok := tenancy.AsValidation(err); ok && d != nil {
		placeElementErrors(&f, verr)
		v := d.page(true)
		v.Form = f
		return s.refused(w, r, err, elements.Page(v), d.e.Name, "/elements", func() templ.Component { return elements.Page(v) })
	}
	if err != nil {
		return err
	}
	return s.done(w, r, elementPath(kind, d.e.ID), "element-saved", kind.Title()+" "+d.e.Key+" saved.", func() templ.Component {
		return elements.Page(d.page(true))
	})
}

func (s *Server) elementArchive(w http.ResponseWriter, r *http.Request) error {
	return s.setElementArchived(w, r, true)
}

func (s *Server) elementRestore(w http.ResponseWriter, r *http.Request) error {
	return s.setElementArchived(w, r, false)
}

func (s *Server) setElementArchived(w http.ResponseWriter, r *http.Request, archived bool) error {
	kind, err := templateKindOf(r)
	if err != nil {
		return err
	}
	var d *elementData
	err = s.inScope(r, func(tx *store.Tx) error {
		e, err := tx.Element(r.Context(), kind, r.PathValue("id"))
		if err != nil {
			return err
		}
		if _, err := tx.SetElementArchived(r.Context(), e.ID, archived); err != nil {
			return err
		}
		d, err = loadElement(r.Context(), tx, kind, e.ID.String())
		return err
	})
	if err != nil {
		return err
	}
	code, verb := "element-restored", "restored"
	if archived {
		code, verb = "element-archived", "archived"
	}
	return s.done(w, r, elementPath(kind, d.e.ID), code, kind.Title()+" "+d.e.Key+" "+verb+".", func() templ.Component {
		return elements.Page(d.page(true))
	})
}
