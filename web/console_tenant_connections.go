package web

// A tenant's Connections tab: its connections with their state (READY, DISCONNECTED, or
// deactivated while the tenant is archived, or archived), disconnect / reconnect / archive with
// confirmation, and a form that adds one. Every change goes through the store methods the API
// uses, which record it in the activity log.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/tenants"
)

// tenantConnsPageSize is how many connections the tab shows at once.
const tenantConnsPageSize = 50

// tenantConnsQuery is the tab's state in the URL (and in the row forms, which keep it).
type tenantConnsQuery struct {
	archived bool
	cursor   string
}

func (q tenantConnsQuery) url(t *tenancy.Tenant) string {
	vals := url.Values{}
	if q.archived {
		vals.Set("archived", "1")
	}
	if q.cursor != "" {
		vals.Set("cursor", q.cursor)
	}
	if enc := vals.Encode(); enc != "" {
		return tenantPath(t.ID) + "/connections?" + enc
	}
	return tenantPath(t.ID) + "/connections"
}

// tenantConnsData is what the tab shows, read in one transaction.
type tenantConnsData struct {
	t            *tenancy.Tenant
	q            tenantConnsQuery
	conns        []*tenancy.Connection
	next         string
	integrations []*tenancy.Integration // for "Add connection": admins only
}

// loadTenantConns reads the tenant's connections (and, with write, the integrations a new one
// may use). A cursor the store refuses starts over at the first page.
func (s *Server) loadTenantConns(ctx context.Context, sess *store.Session, selector string, q tenantConnsQuery, write bool) (*tenantConnsData, error) {
	d := &tenantConnsData{q: q}
	err := s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error { return d.load(ctx, tx, selector, write) })
	if verr, ok := tenancy.AsValidation(err); ok && verr.For("cursor") != "" {
		d.q.cursor = ""
		err = s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error { return d.load(ctx, tx, selector, write) })
	}
	return d, err
}

func (d *tenantConnsData) load(ctx context.Context, tx *store.Tx, selector string, write bool) error {
	var err error
	if d.t == nil || d.t.ID.String() != selector {
		if d.t, err = tx.Tenant(ctx, selector); err != nil {
			return err
		}
	}
	page, err := tx.ListConnections(ctx, store.ConnectionFilter{TenantID: d.t.ID, IncludeArchived: d.q.archived,
		Limit: tenantConnsPageSize, Cursor: d.q.cursor})
	if err != nil {
		return err
	}
	d.conns, d.next = page.Items, page.Cursor
	d.integrations = nil
	if write && d.t.ArchivedAt == nil {
		ip, err := tx.ListIntegrations(ctx, store.IntegrationFilter{Limit: 200})
		if err != nil {
			return err
		}
		d.integrations = ip.Items
	}
	return nil
}

// tenantConnState is a connection's state as the tab shows it.
func tenantConnState(c *tenancy.Connection) string {
	switch {
	case c.ArchivedAt != nil:
		return tenants.ConnArchived
	case c.DeactivatedAt != nil:
		return tenants.ConnDeactivated
	case c.Disconnected:
		return tenants.ConnDisconnected
	}
	return c.State
}

func (d *tenantConnsData) view(write bool) tenants.ConnectionsView {
	v := tenants.ConnectionsView{Tenant: tenantIdentity(d.t), CanWrite: write, ShowArchived: d.q.archived}
	v.ToggleURL = tenantConnsQuery{archived: !d.q.archived}.url(d.t)
	if d.next != "" {
		v.NextURL = tenantConnsQuery{archived: d.q.archived, cursor: d.next}.url(d.t)
	}
	if d.q.cursor != "" {
		v.FirstURL = tenantConnsQuery{archived: d.q.archived}.url(d.t)
	}
	for _, c := range d.conns {
		row := tenants.ConnectionRow{ID: c.ID.String(), Name: c.Name, Key: c.Key, Integration: c.IntegrationName,
			IntegrationKey: c.IntegrationKey, State: tenantConnState(c), Test: c.IsTest, Created: c.CreatedAt, LastActive: c.LastActiveAt}
		base := tenantPath(d.t.ID) + "/connections/" + c.ID.String()
		if write {
			switch row.State {
			case tenants.ConnDisconnected:
				row.ReconnectURL = base + "/reconnect"
			case tenants.ConnArchived, tenants.ConnDeactivated:
			default:
				row.DisconnectURL = base + "/disconnect"
			}
			if c.ArchivedAt == nil {
				row.ArchiveURL = base + "/archive"
			}
		}
		v.Rows = append(v.Rows, row)
	}
	if write {
		v.New = d.newForm()
	}
	return v
}

func (d *tenantConnsData) newForm() tenants.NewConnectionForm {
	f := tenants.NewConnectionForm{Action: tenantPath(d.t.ID) + "/connections", Errors: map[string]string{}}
	for _, in := range d.integrations {
		f.Integrations = append(f.Integrations, tenants.Option{Value: in.Key, Label: in.Name + " (" + in.Key + ")"})
	}
	return f
}

func tenantConnsQueryOf(vals url.Values) tenantConnsQuery {
	return tenantConnsQuery{archived: vals.Get("archived") == "1", cursor: vals.Get("cursor")}
}

func (s *Server) tenantConnections(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	d, err := s.loadTenantConns(r.Context(), sess, r.PathValue("id"), tenantConnsQueryOf(r.URL.Query()), canWrite(sess))
	if err != nil {
		return err
	}
	v := d.view(canWrite(sess))
	if !isFragmentRequest(r) {
		v.Notice = tenantConnFlash(s.takeFlash(w, r))
	}
	return s.renderTenants(w, r, http.StatusOK, tenantTabTitle(d.t, "Connections"), tenants.Connections(v))
}

// --- row actions ---------------------------------------------------------------------------------

// tenantConnAction is a change to one connection of the tenant in the URL.
type tenantConnAction struct {
	name     string // disconnect, reconnect, archive
	ask      bool   // asks for confirmation first
	title    string
	done     string // the toast, with %s for the connection's name
	flash    string
	apply    func(ctx context.Context, tx *store.Tx, c *tenancy.Connection) error
	question func(tenants.ConnectionRow) string
}

var (
	tenantConnDisconnect = tenantConnAction{name: "disconnect", ask: true, title: "Disconnect connection",
		done: "Connection %s disconnected.", flash: "connection-disconnected",
		question: tenants.ConnectionRow.DisconnectQuestion,
		apply: func(ctx context.Context, tx *store.Tx, c *tenancy.Connection) error {
			if c.ArchivedAt != nil || c.DeactivatedAt != nil {
				return errStatus(http.StatusConflict, "This connection is not active: there is nothing to disconnect.")
			}
			if c.Disconnected {
				return nil
			}
			yes := true
			_, err := tx.UpdateConnection(ctx, c.ID, store.ConnectionPatch{Disconnected: &yes})
			return err
		}}
	tenantConnReconnect = tenantConnAction{name: "reconnect", title: "Reconnect connection",
		done: "Connection %s reconnected.", flash: "connection-reconnected",
		apply: func(ctx context.Context, tx *store.Tx, c *tenancy.Connection) error {
			if c.ArchivedAt != nil || c.DeactivatedAt != nil {
				return errStatus(http.StatusConflict, "This connection is archived or deactivated: it cannot be reconnected here.")
			}
			if !c.Disconnected {
				return nil
			}
			no := false
			_, err := tx.UpdateConnection(ctx, c.ID, store.ConnectionPatch{Disconnected: &no})
			return err
		}}
	tenantConnArchive = tenantConnAction{name: "archive", ask: true, title: "Archive connection",
		done: "Connection %s archived.", flash: "connection-archived",
		question: tenants.ConnectionRow.ArchiveQuestion,
		apply: func(ctx context.Context, tx *store.Tx, c *tenancy.Connection) error {
			_, err := tx.ArchiveConnection(ctx, c.ID)
			return err
		}}
)

func (s *Server) tenantConnectionDisconnect(w http.ResponseWriter, r *http.Request) error {
	return s.changeTenantConn(w, r, tenantConnDisconnect)
}

func (s *Server) tenantConnectionReconnect(w http.ResponseWriter, r *http.Request) error {
	return s.changeTenantConn(w, r, tenantConnReconnect)
}

func (s *Server) tenantConnectionArchive(w http.ResponseWriter, r *http.Request) error {
	return s.changeTenantConn(w, r, tenantConnArchive)
}

// changeTenantConn applies a to the connection in the URL, which must be the tenant's. An action
// that asks first does nothing until confirmed=yes: htmx posts that after hx-confirm; a browser
// without JavaScript gets the question on the page, with a form that posts it.
func (s *Server) changeTenantConn(w http.ResponseWriter, r *http.Request, a tenantConnAction) error {
	sess := sessionFrom(r.Context())
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	confirmed := !a.ask || r.PostForm.Get("confirmed") == "yes"
	cid, err := uuid.Parse(r.PathValue("cid"))
	if err != nil {
		return tenancy.ErrNotFound
	}
	d := &tenantConnsData{q: tenantConnsQuery{archived: r.PostForm.Get("archived") == "1"}}
	var c *tenancy.Connection
	err = s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error {
		var err error
		if d.t, err = tx.Tenant(ctx, r.PathValue("id")); err != nil {
			return err
		}
		if c, err = tx.Connection(ctx, cid.String()); err != nil {
			return err
		}
		if c.TenantID != d.t.ID {
			return tenancy.ErrNotFound
		}
		if confirmed {
			if err := a.apply(ctx, tx, c); err != nil {
				return err
			}
		}
		return d.load(ctx, tx, d.t.ID.String(), true)
	})
	if err != nil {
		return err
	}
	if !confirmed {
		v := d.view(true)
		row := tenants.ConnectionRow{Name: c.Name}
		v.Confirm = &tenants.ConnectionConfirm{Title: a.title, Question: a.question(row),
			Action: tenantPath(d.t.ID) + "/connections/" + c.ID.String() + "/" + a.name, Button: strings.SplitN(a.title, " ", 2)[0]}
		return s.renderTenants(w, r, http.StatusOK, tenantTabTitle(d.t, "Connections"), tenants.Connections(v))
	}
	return s.saved(w, r, d.q.url(d.t), a.flash, fmt.Sprintf(a.done, c.Name), func() templ.Component {
		return tenants.ConnectionsSection(d.view(true))
	})
}

// --- adding one ----------------------------------------------------------------------------------

func (s *Server) tenantConnectionCreate(w http.ResponseWriter, r *http.Request) error {
	sess := sessionFrom(r.Context())
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	integration := strings.TrimSpace(r.PostForm.Get("integration"))
	name := strings.TrimSpace(r.PostForm.Get("name"))
	credKey := strings.TrimSpace(r.PostForm.Get("credentialKey"))
	credValue := r.PostForm.Get("credentialValue")

	// What the form itself can tell; the rest is the store's to refuse.
	verr := &tenancy.ValidationError{}
	if integration == "" {
		verr.Add("integration", "Choose an integration.")
	}
	switch {
	case credKey == "" && credValue != "":
		verr.Add("credentialKey", "A credential value needs a key.")
	case credKey != "" && credValue == "":
		verr.Add("credentialValue", "Enter the value of %s.", credKey)
	case utf8.RuneCountInString(credKey) > 100 || strings.ContainsRune(credKey, 0):
		verr.Add("credentialKey", "The key must be at most 100 characters, without NUL.")
	}

	d := &tenantConnsData{}
	var c *tenancy.Connection
	var createErr error
	err := s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error {
		if err := d.load(ctx, tx, r.PathValue("id"), true); err != nil {
			return err
		}
		if d.t.ArchivedAt != nil {
			createErr = tenancy.Invalid("", "The tenant is archived: restore it before adding connections.")
			return createErr
		}
		if err := verr.Err(); err != nil {
			createErr = err
			return err
		}
		integ, err := tx.Integration(ctx, integration)
		if errors.Is(err, tenancy.ErrNotFound) || (err == nil && integ.ArchivedAt != nil) {
			createErr = tenancy.Invalid("integration", "No active integration with this key.")
			return createErr
		}
		if err != nil {
			return err
		}
		in := store.NewConnection{TenantID: d.t.ID, IntegrationID: integ.ID, Name: name}
		if credKey != "" {
			in.Credentials = map[string]any{credKey: credValue}
		}
		if c, err = tx.CreateConnection(ctx, in); err != nil {
			createErr = err
			return err
		}
		return d.load(ctx, tx, d.t.ID.String(), true)
	})
	if verr, ok := tenancy.AsValidation(createErr); ok && d.t != nil {
		v := d.view(true)
		f := &v.New
		f.Name, f.CredKey, f.Autofocus = name, credKey, true
		for i := range f.Integrations {
			f.Integrations[i].Selected = f.Integrations[i].Value == integration
		}
		var rest []string
		for _, fe := range verr.Fields {
			input, ok := tenantConnInputs[fe.Path]
			switch {
			case !ok:
				rest = append(rest, sentence("The connection", fe.Message))
			case f.Errors[input.name] == "":
				f.Errors[input.name] = sentence(input.label, fe.Message)
			}
		}
		f.FormError = strings.Join(rest, " ")
		return s.formFailed(w, r, createErr, "#tenant-page", tenants.Connections(v), tenantTabTitle(d.t, "Connections"), func() templ.Component {
			return tenants.Connections(v)
		})
	}
	if err != nil {
		return err
	}
	return s.saved(w, r, tenantPath(d.t.ID)+"/connections", "connection-created",
		fmt.Sprintf("Connection %s to %s added.", c.Name, c.IntegrationName), func() templ.Component {
			return tenants.Connections(d.view(true))
		})
}

// tenantConnInputs places the problems of a refused "Add connection" at their inputs: the form's
// own names and the store's (which are the API's).
var tenantConnInputs = map[string]struct{ name, label string }{
	"integration":     {"integration", "Integration"},
	"integrationKey":  {"integration", "Integration"},
	"name":            {"name", "Name"},
	"credentialKey":   {"credentialKey", "Credential key"},
	"credentialValue": {"credentialValue", "Credential value"},
	"credentials":     {"credentialValue", "Credentials"},
}

// tenantConnFlash is the one-time notice after a change on the Connections tab.
func tenantConnFlash(code string) string {
	switch code {
	case "connection-created":
		return "Connection added."
	case "connection-disconnected":
		return "Connection disconnected."
	case "connection-reconnected":
		return "Connection reconnected."
	case "connection-archived":
		return "Connection archived."
	}
	return ""
}
