package web

// The tenant portal (issue 6): /portal/activity shows one tenant its own activity, often inside
// an iframe of the company's app.
//
// Opening it: the company's backend mints a tenant token (the same JWT the API accepts) and its
// front end opens /portal/activity?token=JWT (in a window or an iframe). The server verifies the
// token with the API's verifier, refuses workspace tokens and archived tenants, provisions the
// tenant as the API does, stores a session of one hour (portal_sessions: only the SHA-256 of a
// random token) and answers 303 to the same URL without the token, so the token is not left in
// the address bar, the history or a Referer. The access log never writes query strings
// (middleware.go), so the token is not in the log either. Later requests carry the session
// cookie; an ended or unknown session shows a page that says to reopen the portal from the app.
//
// The cookie (tenantry_portal, path /portal/, HttpOnly, one hour) is SameSite=None; Secure;
// Partitioned when the server runs on https (TENANTRY_BASE_URL): an iframe on the company's site
// is a third-party context, where browsers send only SameSite=None cookies, and Partitioned (CHIPS)
// keeps the cookie working where third-party cookies are blocked, in a jar of its own per
// embedding site. Over plain http (development) it is SameSite=Lax, which works for a top-level
// window and for iframes on the same site (localhost on another port).
//
// Isolation: every read runs in db.InScope with the session's tenant scope, so row-level security
// decides what is visible; filters and ids naming another tenant's things find nothing.
//
// Framing: portal pages send Content-Security-Policy frame-ancestors 'self' plus the workspace's
// allowed origins (Settings > General, the same list that admits browser calls to the API) and no
// X-Frame-Options, which cannot list origins; pages that know no workspace allow 'self' only.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/views/elements"
	"tenantry/views/portal"
	"tenantry/views/tenants"
)

const portalCookie = "tenantry_portal"

// portalRoute is one portal URL; its handler runs with a live session of a tenant that is not
// archived.
type portalRoute struct {
	pattern string
	handle  func(w http.ResponseWriter, r *http.Request, sess *store.PortalSession) error
}

// portalRoutes is the portal's route table. Every route is a GET: the portal changes nothing.
func (s *Server) portalRoutes() []portalRoute {
	return []portalRoute{
		{"GET /portal/activity", s.portalActivity},
		{"GET /portal/activity/{id}", s.portalEntry},
	}
}

// portal serves everything under /portal/.
func (s *Server) portal() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.portalRoutes() {
		mux.Handle(rt.pattern, s.portalHandler(rt))
	}
	mux.HandleFunc("/portal/", func(w http.ResponseWriter, r *http.Request) {
		portalHeaders(w, nil)
		s.portalProblem(w, r, http.StatusNotFound, nil, "Not found", "There is no page at this address.")
	})
	return mux
}

// portalCSP is the Console's policy with frame-ancestors 'self' and the allowed origins. Origins
// are written only as NormalizeOrigin writes them (or "*"), so nothing in the list can add a
// directive.
func portalCSP(origins []string) string {
	ancestors := []string{"'self'"}
	for _, o := range origins {
		n, err := tenancy.NormalizeOrigin(o)
		if err != nil || n != o || strings.ContainsAny(o, " ;,'\"") || slices.Contains(ancestors, o) {
			continue
		}
		ancestors = append(ancestors, o)
	}
	return strings.Replace(ContentSecurityPolicy, "frame-ancestors 'none'", "frame-ancestors "+strings.Join(ancestors, " "), 1)
}

// portalHeaders overrides the headers securityHeaders set for the Console: framing by the allowed
// origins only, no Referer (a refused token may still be in the URL), nothing cached.
func portalHeaders(w http.ResponseWriter, origins []string) {
	h := w.Header()
	h.Set("Content-Security-Policy", portalCSP(origins))
	h.Del("X-Frame-Options")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// portalHandler resolves the session (or exchanges a token for one) before rt's handler.
func (s *Server) portalHandler(rt portalRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		portalHeaders(w, nil)
		if r.URL.Query().Has("token") {
			s.portalExchange(w, r)
			return
		}
		var sess *store.PortalSession
		if ck, err := r.Cookie(portalCookie); err == nil && ck.Value != "" {
			sess, err = s.db.LookupPortalSession(r.Context(), store.HashSessionToken(ck.Value))
			if err != nil && !errors.Is(err, tenancy.ErrNotFound) {
				s.portalFail(w, r, nil, err)
				return
			}
		}
		if sess == nil {
			s.portalProblem(w, r, http.StatusUnauthorized, nil, "Open this page from the app",
				"This page shows your activity when the app you use opens it for you. Open it again from there.")
			return
		}
		portalHeaders(w, sess.AllowedOrigins)
		switch {
		case sess.Expired:
			s.portalProblem(w, r, http.StatusUnauthorized, sess, "This page has expired",
				"For your security this page stays open for an hour at a time. Open it again from the app.")
			return
		case sess.TenantArchived:
			s.portalProblem(w, r, http.StatusForbidden, sess, "This account is archived",
				"Its activity is not available while it is archived.")
			return
		}
		if err := rt.handle(w, r, sess); err != nil {
			s.portalFail(w, r, sess, err)
		}
	})
}

// portalExchange turns the token in the URL into a session and redirects to the same page
// without it. The token is never logged, stored or echoed.
func (s *Server) portalExchange(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	raw := strings.TrimSpace(r.URL.Query().Get("token"))
	if raw == "" {
		s.portalProblem(w, r, http.StatusUnauthorized, nil, "This link has no token",
			"Open this page again from the app.")
		return
	}
	claims, wa, err := s.api.Verifier().Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, tenancy.ErrUnauthenticated) {
			s.portalProblem(w, r, http.StatusUnauthorized, nil, "This link could not be opened",
				"The token in it was refused ("+err.Error()+"). Open this page again from the app.")
			return
		}
		s.portalFail(w, r, nil, err)
		return
	}
	portalHeaders(w, wa.Workspace.Settings.AllowedOrigins)
	frame := &store.PortalSession{WorkspaceName: wa.Workspace.Name}
	if claims.Tenant() == "" {
		s.portalProblem(w, r, http.StatusForbidden, frame, "A workspace token cannot open this page",
			"This page shows one tenant its own activity: open it with a tenant token (workspaceKey and tenantKey). "+
				"A workspace token sees every tenant and must stay on your server, never in a URL.")
		return
	}
	scope, err := s.api.Provisioner().Scope(ctx, claims, wa)
	switch {
	case errors.Is(err, tenancy.ErrTenantArchived):
		s.portalProblem(w, r, http.StatusForbidden, frame, "This account is archived",
			"Its activity is not available while it is archived.")
		return
	case err != nil && StatusOf(err) < 500:
		s.portalProblem(w, r, http.StatusBadRequest, frame, "This link could not be opened",
			"The token's claims were refused: "+err.Error())
		return
	case err != nil:
		s.portalFail(w, r, frame, err)
		return
	}
	token := randomToken()
	if err := s.db.InScope(ctx, scope, func(tx *store.Tx) error {
		return tx.CreatePortalSession(ctx, token, store.PortalSessionTTL)
	}); err != nil {
		s.portalFail(w, r, frame, err)
		return
	}
	// A new token replaces the session the browser had.
	if old, err := r.Cookie(portalCookie); err == nil && old.Value != "" {
		if err := s.db.EndPortalSession(ctx, store.HashSessionToken(old.Value)); err != nil {
			s.log.WarnContext(ctx, "portal: ending the previous session", "request_id", tenancy.RequestID(ctx), "err", err)
		}
	}
	http.SetCookie(w, s.newPortalCookie(token, store.PortalSessionTTL))
	q := r.URL.Query()
	q.Del("token")
	target := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	http.Redirect(w, r, target.String(), http.StatusSeeOther)
}

// newPortalCookie is the session cookie; see the top of this file for its attributes.
func (s *Server) newPortalCookie(token string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: portalCookie, Value: token, Path: "/portal/", MaxAge: int(ttl.Seconds()), HttpOnly: true,
		SameSite: http.SameSiteLaxMode}
	if s.cfg.SecureCookies() {
		c.Secure, c.SameSite, c.Partitioned = true, http.SameSiteNoneMode, true
	}
	return c
}

// portalFrame is the frame of a portal page for sess (nil: none known).
func (s *Server) portalFrame(title string, sess *store.PortalSession) portal.Frame {
	f := portal.Frame{Title: title, Assets: s.layoutAssets()}
	if sess != nil {
		f.TenantName = tenants.Identity{Name: sess.TenantName, InternalID: sess.TenantInternalID}.DisplayName()
		f.WorkspaceName = sess.WorkspaceName
	}
	return f
}

// portalProblem answers with a page that says what happened; an htmx request gets a toast.
func (s *Server) portalProblem(w http.ResponseWriter, r *http.Request, status int, sess *store.PortalSession, title, message string) {
	if isFragmentRequest(r) {
		toast(w, "error", title+": "+message)
		w.WriteHeader(status)
		return
	}
	_ = s.write(w, r, status, portal.Page(s.portalFrame(title, sess), portal.Problem(title, message)))
}

// portalFail answers an error from a handler; 5xx are logged once, without the query string.
func (s *Server) portalFail(w http.ResponseWriter, r *http.Request, sess *store.PortalSession, err error) {
	status := StatusOf(err)
	switch {
	case status == http.StatusNotFound:
		s.portalProblem(w, r, status, sess, "Not found", "There is nothing here.")
	case status < 500:
		s.portalProblem(w, r, status, sess, http.StatusText(status), err.Error())
	default:
		s.log.ErrorContext(r.Context(), "portal error", "request_id", tenancy.RequestID(r.Context()), "path", r.URL.Path, "err", err)
		s.portalProblem(w, r, http.StatusInternalServerError, sess, "Something went wrong",
			"It has been logged; please retry in a moment.")
	}
}

// portalPageSize is how many entries a page of the portal shows.
const portalPageSize = 50

// parsePortalQuery reads the list's state from the URL. Unknown values fall back to none: a
// mangled link still shows a list.
func parsePortalQuery(vals url.Values) portal.Query {
	q := portal.Query{
		Status:      oneOf(vals.Get("status"), "", "success", "warning", "error", "warning,error"),
		Integration: strings.TrimSpace(vals.Get("integration")),
		Connection:  strings.TrimSpace(vals.Get("connection")),
		Range:       oneOf(vals.Get("range"), "", "1h", "24h", "7d", "30d", "custom"),
		Q:           searchText(vals.Get("q")),
		Cursor:      vals.Get("cursor"),
	}
	for _, t := range listParam(vals, "type") {
		if len(t) <= 100 && !strings.ContainsRune(t, 0) && len(q.Types) < 50 {
			q.Types = append(q.Types, t)
		}
	}
	if q.Range == "custom" {
		q.From, q.To = strings.TrimSpace(vals.Get("from")), strings.TrimSpace(vals.Get("to"))
	}
	return q
}

// portalRange turns the time range into From and To, or says what is wrong with a custom one.
func portalRange(q portal.Query, now time.Time) (from, to *time.Time, problem string) {
	ago := map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}
	if d, ok := ago[q.Range]; ok {
		t := now.Add(-d)
		return &t, nil, ""
	}
	if q.Range != "custom" {
		return nil, nil, ""
	}
	parse := func(s string) (*time.Time, bool) {
		if s == "" {
			return nil, true
		}
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, s); err == nil {
				return &t, true
			}
		}
		return nil, false
	}
	from, okFrom := parse(q.From)
	to, okTo := parse(q.To)
	switch {
	case !okFrom || !okTo:
		return nil, nil, "The custom time range is not a pair of dates and times: showing everything."
	case from != nil && to != nil && !from.Before(*to):
		return nil, nil, "The custom range ends before it starts: showing everything."
	}
	return from, to, ""
}

// portalActivity is the activity list: the filters, one page of entries, load more.
func (s *Server) portalActivity(w http.ResponseWriter, r *http.Request, sess *store.PortalSession) error {
	ctx := r.Context()
	v := portal.ListView{Query: parsePortalQuery(r.URL.Query())}
	f := store.ActivityFilter{Types: v.Query.Types, Text: v.Query.Q, Limit: portalPageSize}
	if v.Query.Status != "" {
		f.Statuses = strings.Split(v.Query.Status, ",")
	}
	f.From, f.To, v.Notice = portalRange(v.Query, time.Now())
	load := func(tx *store.Tx) error {
		v.Rows, v.MoreURL = nil, ""
		names, nothing, err := s.portalFilters(ctx, tx, sess, &v, &f)
		if err != nil || nothing {
			return err
		}
		f.Cursor = v.Query.Cursor
		page, err := tx.ListActivity(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page.Items {
			v.Rows = append(v.Rows, names.row(e))
		}
		if page.Cursor != "" {
			next := v.Query
			next.Cursor = page.Cursor
			v.MoreURL = next.URL()
		}
		return nil
	}
	err := s.db.InScope(ctx, sess.Scope(), load)
	if verr, ok := tenancy.AsValidation(err); ok && verr.For("cursor") != "" && v.Query.Cursor != "" {
		v.Query.Cursor = "" // an outdated or edited "load more" link: start over
		v.Notice = "That link is no longer valid: showing the newest entries."
		err = s.db.InScope(ctx, sess.Scope(), load)
	}
	if err != nil {
		return err
	}
	switch {
	case wantsResults(r, "portal-more"):
		return s.write(w, r, http.StatusOK, portal.Rows(v))
	case wantsResults(r, "portal-results"):
		return s.write(w, r, http.StatusOK, portal.Results(v))
	}
	return s.write(w, r, http.StatusOK, portal.Page(s.portalFrame("Activity", sess), portal.List(v)))
}

// portalNames names the integrations and connections entries refer to.
type portalNames struct {
	integrations map[uuid.UUID]string
	connections  map[uuid.UUID]string
}

func (n portalNames) row(e *tenancy.ActivityEntry) portal.Row {
	return portal.Row{ID: e.ID.String(), Href: portal.Path + "/" + e.ID.String(), At: e.CreatedAt, Type: e.Type, Status: e.Status,
		Message: e.Message, Integration: n.integrations[e.IntegrationID], Connection: n.connections[e.ConnectionID]}
}

// portalFilters loads the integration and connection choices (the tenant's own connections:
// RLS shows no other) and turns the chosen ones into ids. nothing is true when a filter names
// something that is not there: the list is then empty.
func (s *Server) portalFilters(ctx context.Context, tx *store.Tx, sess *store.PortalSession, v *portal.ListView, f *store.ActivityFilter) (portalNames, bool, error) {
	names := portalNames{integrations: map[uuid.UUID]string{}, connections: map[uuid.UUID]string{}}
	integs, err := tx.ListIntegrations(ctx, store.IntegrationFilter{IncludeArchived: true, Limit: 1000})
	if err != nil {
		return names, false, err
	}
	v.Integrations = []elements.Option{{Value: "", Label: "Any integration"}}
	for _, in := range integs.Items {
		names.integrations[in.ID] = in.Name
		v.Integrations = append(v.Integrations, elements.Option{Value: in.Key, Label: in.Name})
		if in.Key == v.Query.Integration {
			f.IntegrationID = in.ID
		}
	}
	conns, err := tx.ListConnections(ctx, store.ConnectionFilter{TenantID: sess.TenantID, IncludeArchived: true, Limit: 1000})
	if err != nil {
		return names, false, err
	}
	v.Connections = []elements.Option{{Value: "", Label: "Any connection"}}
	for _, c := range conns.Items {
		names.connections[c.ID] = c.Name
		label := c.Name
		if in := names.integrations[c.IntegrationID]; in != "" {
			label += " (" + in + ")"
		}
		v.Connections = append(v.Connections, elements.Option{Value: c.ID.String(), Label: label})
		if c.ID.String() == v.Query.Connection {
			f.ConnectionID = c.ID
		}
	}
	nothing := (v.Query.Integration != "" && f.IntegrationID == uuid.Nil) || (v.Query.Connection != "" && f.ConnectionID == uuid.Nil)
	return names, nothing, nil
}

// portalEntry is one entry: the panel beside the list for htmx, its own page otherwise. Another
// tenant's entry, or a workspace-level one, is not found (RLS).
func (s *Server) portalEntry(w http.ResponseWriter, r *http.Request, sess *store.PortalSession) error {
	ctx := r.Context()
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return tenancy.ErrNotFound
	}
	var d portal.Detail
	err = s.db.InScope(ctx, sess.Scope(), func(tx *store.Tx) error {
		e, err := tx.ActivityEntry(ctx, id)
		if err != nil {
			return err
		}
		names := portalNames{integrations: map[uuid.UUID]string{}, connections: map[uuid.UUID]string{}}
		if e.IntegrationID != uuid.Nil {
			if in, err := tx.Integration(ctx, e.IntegrationID.String()); err == nil {
				names.integrations[in.ID] = in.Name
			}
		}
		if e.ConnectionID != uuid.Nil {
			if c, err := tx.Connection(ctx, e.ConnectionID.String()); err == nil {
				names.connections[c.ID] = c.Name
			}
		}
		d = portal.Detail{Row: names.row(e), Actor: portalActorLabel(e.ActorType), DurationMS: e.DurationMS, RequestID: e.RequestID,
			Details: elements.Pretty(e.Details), BackURL: portal.Path}
		return nil
	})
	if err != nil {
		return err
	}
	if wantsResults(r, "portal-detail") {
		return s.write(w, r, http.StatusOK, portal.DetailPanel(d))
	}
	return s.write(w, r, http.StatusOK, portal.Page(s.portalFrame("Activity entry", sess), portal.DetailPage(d)))
}

// portalActorLabel says who acted, in a tenant's words; managers' ids are not shown to tenants.
func portalActorLabel(t tenancy.ActorType) string {
	switch t {
	case tenancy.ActorManager:
		return "A manager of the workspace"
	case tenancy.ActorWorkspaceToken:
		return "The app's server"
	case tenancy.ActorTenantToken:
		return "You, through the app"
	case tenancy.ActorSystem:
		return "Tenantry"
	}
	return string(t)
}
