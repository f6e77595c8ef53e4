package web

// The Console's Integrations area: the list (search, include archived, cursor paging, all in
// the URL), creating an integration in a dialog, and an integration's page with its edit form,
// archive/restore, its elements by kind and the number of connections that use it. Writes go
// through the same store methods, with the same validation, as the JSON API.
//
// This file also holds the helpers the Integrations, Elements, Universe and Connections areas
// share: reading a search box, paging with a cursor the store may refuse, and answering a form
// three ways (htmx fragment with a toast; redirect with a one-time notice; whole page with the
// problems and 422).

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/elements"
	"tenantry/views/integrations"
)

// --- shared by the catalog areas ---------------------------------------------------------------

// searchText reads a search box: trimmed, without NUL, at most maxSearch characters.
func searchText(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\x00", ""))
	if utf8.RuneCountInString(s) > maxSearch {
		s = string([]rune(s)[:maxSearch])
	}
	return s
}

// listInScope runs load in one scoped transaction. A cursor the store refuses (outdated or
// edited) starts over at the first page, in a new transaction since the failed query ended the
// first; load must read the cursor through the pointer.
func (s *Server) listInScope(r *http.Request, cursor, notice *string, load func(tx *store.Tx) error) error {
	err := s.inScope(r, load)
	if verr, ok := tenancy.AsValidation(err); ok && verr.For("cursor") != "" && *cursor != "" {
		*cursor = ""
		*notice = "That page link is no longer valid: showing the first page."
		err = s.inScope(r, load)
	}
	return err
}

// pager links to the first page (when not on it) and the next one (when there is one).
func pager(target, cursor, next string, urlAt func(cursor string) string) elements.Pager {
	p := elements.Pager{Target: target}
	if cursor != "" {
		p.FirstURL = urlAt("")
	}
	if next != "" {
		p.NextURL = urlAt(next)
	}
	return p
}

// wantsResults reports an htmx request for a list's results alone.
func wantsResults(r *http.Request, target string) bool {
	return isFragmentRequest(r) && r.Header.Get("HX-Target") == target
}

// refused answers a submit that validation refused. An htmx fragment request gets section (the
// part its form replaces) with 200, because htmx swaps only successful responses, and an error
// toast; anything else gets the whole page with the problems: 422, or 409 for a clash with
// existing data (200 for a boosted request, which htmx would not swap otherwise).
func (s *Server) refused(w http.ResponseWriter, r *http.Request, err error, section templ.Component, title, active string,
	page func() templ.Component) error {
	if isFragmentRequest(r) {
		toast(w, "error", "Not saved: check the highlighted fields.")
		return s.write(w, r, http.StatusOK, section)
	}
	return s.render(w, r, problemStatus(r, StatusOf(err)), s.page(r, title, active), page())
}

// done answers a change that succeeded: an htmx fragment request gets section and a toast;
// anything else a 303 to to, which shows the notice once.
func (s *Server) done(w http.ResponseWriter, r *http.Request, to, notice, message string, section func() templ.Component) error {
	if isFragmentRequest(r) {
		toast(w, "success", message)
		return s.write(w, r, http.StatusOK, section())
	}
	s.setNotice(w, notice)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// created sends the browser to what a form created, with a one-time notice.
func (s *Server) created(w http.ResponseWriter, r *http.Request, to, notice string) error {
	s.setNotice(w, notice)
	if isFragmentRequest(r) {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// noticeCookie carries a notice across the 303 after a form post. It holds a code, never text,
// so that only notices below decide what a page says.
const noticeCookie = "tenantry_notice"

var notices = map[string]string{
	"integration-created":  "Integration created.",
	"integration-saved":    "Integration saved.",
	"integration-archived": "Integration archived.",
	"integration-restored": "Integration restored.",
	"element-created":      "Element created.",
	"element-saved":        "Element saved.",
	"element-archived":     "Element archived.",
	"element-restored":     "Element restored.",
}

func (s *Server) setNotice(w http.ResponseWriter, code string) {
	http.SetCookie(w, &http.Cookie{Name: noticeCookie, Value: code, Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode})
}

// takeNotice returns the pending notice's text and clears it; "" for an htmx fragment request,
// which shows its outcome as a toast.
func (s *Server) takeNotice(w http.ResponseWriter, r *http.Request) string {
	if isFragmentRequest(r) {
		return ""
	}
	c, err := r.Cookie(noticeCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: noticeCookie, Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode})
	return notices[c.Value]
}

// allIntegrations reads every integration of the workspace, archived ones too (for filters,
// selects and names in lists).
func allIntegrations(ctx context.Context, tx *store.Tx) ([]*tenancy.Integration, error) {
	var out []*tenancy.Integration
	f := store.IntegrationFilter{IncludeArchived: true, Limit: 1000}
	for {
		page, err := tx.ListIntegrations(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Cursor == "" || len(out) >= 10_000 {
			return out, nil
		}
		f.Cursor = page.Cursor
	}
}

func integrationByKey(all []*tenancy.Integration, key string) *tenancy.Integration {
	for _, in := range all {
		if in.Key == key {
			return in
		}
	}
	return nil
}

func integrationByID(all []*tenancy.Integration, id uuid.UUID) *tenancy.Integration {
	for _, in := range all {
		if in.ID == id {
			return in
		}
	}
	return nil
}

// integrationFilter is the choices of a list's integration filter, by key.
func integrationFilter(all []*tenancy.Integration) []elements.Option {
	out := []elements.Option{{Value: "", Label: "All integrations"}}
	for _, in := range all {
		label := in.Name
		if in.ArchivedAt != nil {
			label += " (archived)"
		}
		out = append(out, elements.Option{Value: in.Key, Label: label})
	}
	return out
}

func integrationPath(id uuid.UUID) string { return "/integrations/" + id.String() }

// --- list and create ---------------------------------------------------------------------------

func parseIntegrationQuery(vals url.Values) integrations.Query {
	return integrations.Query{Q: searchText(vals.Get("q")), Archived: vals.Get("archived") == "1", Cursor: vals.Get("cursor")}
}

func (s *Server) integrationsList(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	v := integrations.ListView{Query: parseIntegrationQuery(r.URL.Query()), CanWrite: canWrite(sess)}
	if err := s.loadIntegrationList(r, &v); err != nil {
		return err
	}
	if wantsResults(r, "integration-results") {
		return s.write(w, r, http.StatusOK, integrations.Results(v))
	}
	v.New = newIntegrationForm(v.Query)
	v.New.Open = v.CanWrite && r.URL.Query().Get("new") == "1"
	return s.render(w, r, http.StatusOK, s.page(r, "Integrations", "/integrations"), integrations.List(v))
}

func (s *Server) loadIntegrationList(r *http.Request, v *integrations.ListView) error {
	return s.listInScope(r, &v.Query.Cursor, &v.Notice, func(tx *store.Tx) error {
		page, err := tx.ListIntegrations(r.Context(), store.IntegrationFilter{Search: v.Query.Q, IncludeArchived: v.Query.Archived,
			Limit: elements.DefaultPageSize, Cursor: v.Query.Cursor})
		if err != nil {
			return err
		}
		v.Rows = make([]integrations.Row, len(page.Items))
		for i, in := range page.Items {
			v.Rows[i] = integrations.Row{Href: integrationPath(in.ID), Name: in.Name, Key: in.Key, AuthType: in.AuthType,
				BaseURL: in.BaseURL, Created: in.CreatedAt, Archived: in.ArchivedAt != nil}
		}
		v.Pager = pager("integration-results", v.Query.Cursor, page.Cursor, func(c string) string {
			q := v.Query
			q.Cursor = c
			return q.URL()
		})
		return nil
	})
}

func newIntegrationForm(q integrations.Query) integrations.Form {
	q.Cursor = ""
	return integrations.Form{Action: "/integrations", Target: "this", IDPrefix: "new-", Title: "New integration",
		Submit: "Create integration", CancelURL: q.URL(), AuthType: "none"}
}

// readIntegration reads a posted integration form; the form keeps what was typed.
func readIntegration(form url.Values, f *integrations.Form) store.IntegrationInput {
	f.Key, f.Name = strings.TrimSpace(form.Get("key")), strings.TrimSpace(form.Get("name"))
	f.LogoURI, f.BaseURL = strings.TrimSpace(form.Get("logoUri")), strings.TrimSpace(form.Get("baseUrl"))
	f.AuthType = form.Get("authType")
	return store.IntegrationInput{Key: f.Key, Name: f.Name, LogoURI: f.LogoURI, BaseURL: f.BaseURL, AuthType: f.AuthType}
}

var integrationLabels = map[string]string{"key": "Key", "name": "Name", "logoUri": "Logo URL", "baseUrl": "Base URL", "authType": "Auth type"}

// placeIntegrationErrors puts each problem at its input; the rest goes above the form.
func placeIntegrationErrors(f *integrations.Form, verr *tenancy.ValidationError) {
	f.Errors = elements.Errors{}
	var rest []string
	for _, fe := range verr.Fields {
		if label, ok := integrationLabels[fe.Path]; ok {
			if f.Errors[fe.Path] == "" {
				f.Errors[fe.Path] = sentence(label, fe.Message)
			}
			continue
		}
		rest = append(rest, sentence("", strings.TrimSpace(fe.Path+" "+fe.Message)))
	}
	f.FormError = strings.Join(rest, "; ")
}

func (s *Server) integrationCreate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	f := newIntegrationForm(integrations.Query{})
	in := readIntegration(r.PostForm, &f)
	var out *tenancy.Integration
	err := s.inScope(r, func(tx *store.Tx) error {
		var err error
		out, err = tx.CreateIntegration(r.Context(), in)
		return err
	})
	if verr, ok := tenancy.AsValidation(err); ok {
		placeIntegrationErrors(&f, verr)
		f.Open = true
		return s.refused(w, r, err, integrations.IntegrationForm(f), "Integrations", "/integrations", func() templ.Component {
			v := integrations.ListView{CanWrite: true, New: f}
			if err := s.loadIntegrationList(r, &v); err != nil {
				s.log.ErrorContext(r.Context(), "integrations list behind a failed create", "err", err)
			}
			return integrations.List(v)
		})
	}
	if err != nil {
		return err
	}
	return s.created(w, r, integrationPath(out.ID), "integration-created")
}

// --- an integration's page ---------------------------------------------------------------------

// connectionCountCap is where an integration's page stops counting its connections.
const connectionCountCap = 10_000

// integrationData is what an integration's page shows, read in one transaction.
type integrationData struct {
	in        *tenancy.Integration
	kinds     []integrations.KindGroup
	conns     int
	connsMore bool
}

func loadIntegration(ctx context.Context, tx *store.Tx, selector string, write bool) (*integrationData, error) {
	in, err := tx.Integration(ctx, selector)
	if err != nil {
		return nil, err
	}
	d := &integrationData{in: in}
	for _, kind := range tenancy.ElementKinds {
		page, err := tx.ListElements(ctx, store.ElementFilter{Kind: kind, IntegrationID: in.ID, Limit: 100})
		if err != nil {
			return nil, err
		}
		g := integrations.KindGroup{Kind: kind.Plural(), Title: elementsTitle(kind), NewText: "New " + strings.ToLower(kind.Title()), More: page.Cursor != "",
			ListURL: elements.Query{Kind: kind.Plural(), Integration: in.Key}.URL()}
		if write {
			g.NewURL = "/elements/" + kind.Plural() + "/new?integration=" + url.QueryEscape(in.Key)
		}
		for _, e := range page.Items {
			g.Items = append(g.Items, integrations.ElementLink{Name: e.Name, Key: e.Key, Href: elementPath(kind, e.ID)})
		}
		d.kinds = append(d.kinds, g)
	}
	f := store.ConnectionFilter{IntegrationID: in.ID, Limit: 1000}
	for {
		page, err := tx.ListConnections(ctx, f)
		if err != nil {
			return nil, err
		}
		d.conns += len(page.Items)
		if page.Cursor == "" {
			break
		}
		if d.conns >= connectionCountCap {
			d.connsMore = true
			break
		}
		f.Cursor = page.Cursor
	}
	return d, nil
}

func (d *integrationData) form() integrations.Form {
	path := integrationPath(d.in.ID)
	return integrations.Form{Action: path, Target: "#integration-page", IDPrefix: "edit-", Title: "Edit", Submit: "Save integration",
		Key: d.in.Key, Name: d.in.Name, LogoURI: d.in.LogoURI, BaseURL: d.in.BaseURL, AuthType: d.in.AuthType}
}

func (d *integrationData) page(write bool) integrations.PageView {
	in := d.in
	return integrations.PageView{Path: integrationPath(in.ID), Name: in.Name, Key: in.Key, LogoURI: in.LogoURI, BaseURL: in.BaseURL,
		AuthType: in.AuthType, Created: in.CreatedAt, Updated: in.UpdatedAt, ArchivedAt: in.ArchivedAt, Kinds: d.kinds,
		Connections: d.conns, ConnectionsMore: d.connsMore, CanWrite: write, Form: d.form(),
		ConnectionsURL: "/connections?integration=" + url.QueryEscape(in.Key)}
}

func (s *Server) integrationShow(w http.ResponseWriter, r *http.Request) error {
	write := canWrite(sessionFrom(r.Context()))
	var d *integrationData
	err := s.inScope(r, func(tx *store.Tx) error {
		var err error
		d, err = loadIntegration(r.Context(), tx, r.PathValue("id"), write)
		return err
	})
	if err != nil {
		return err
	}
	v := d.page(write)
	v.Notice = s.takeNotice(w, r)
	return s.render(w, r, http.StatusOK, s.page(r, d.in.Name, "/integrations"), integrations.Page(v))
}

func (s *Server) integrationUpdate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	var d *integrationData
	var f integrations.Form
	err := s.inScope(r, func(tx *store.Tx) error {
		var err error
		if d, err = loadIntegration(r.Context(), tx, r.PathValue("id"), true); err != nil {
			return err
		}
		f = d.form()
		in := readIntegration(r.PostForm, &f)
		if _, err := tx.UpdateIntegration(r.Context(), d.in.ID, in); err != nil {
			return err
		}
		d, err = loadIntegration(r.Context(), tx, d.in.ID.String(), true)
		return err
	})
	if verr, ok := tenancy.AsValidation(err); ok && d != nil {
		placeIntegrationErrors(&f, verr)
		v := d.page(true)
		v.Form = f
		return s.refused(w, r, err, integrations.Page(v), d.in.Name, "/integrations", func() templ.Component { return integrations.Page(v) })
	}
	if err != nil {
		return err
	}
	return s.done(w, r, integrationPath(d.in.ID), "integration-saved", "Integration "+d.in.Name+" saved.", func() templ.Component {
		return integrations.Page(d.page(true))
	})
}

func (s *Server) integrationArchive(w http.ResponseWriter, r *http.Request) error {
	return s.setIntegrationArchived(w, r, true)
}

func (s *Server) integrationRestore(w http.ResponseWriter, r *http.Request) error {
	return s.setIntegrationArchived(w, r, false)
}

func (s *Server) setIntegrationArchived(w http.ResponseWriter, r *http.Request, archived bool) error {
	var d *integrationData
	err := s.inScope(r, func(tx *store.Tx) error {
		in, err := tx.Integration(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		if _, err := tx.SetIntegrationArchived(r.Context(), in.ID, archived); err != nil {
			return err
		}
		d, err = loadIntegration(r.Context(), tx, in.ID.String(), true)
		return err
	})
	if err != nil {
		return err
	}
	code, message := "integration-restored", "Integration "+d.in.Name+" restored."
	if archived {
		code, message = "integration-archived", "Integration "+d.in.Name+" archived."
	}
	return s.done(w, r, integrationPath(d.in.ID), code, message, func() templ.Component { return integrations.Page(d.page(true)) })
}
