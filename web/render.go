package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/a-h/templ"

	"tenantry/internal/store"
	"tenantry/views/layout"
)

// isFragmentRequest reports an htmx request that wants only a fragment: htmx sets HX-Request;
// boosted navigation (HX-Boosted) swaps the whole body, so it gets the whole page.
func isFragmentRequest(r *http.Request) bool {
	// A history restore after a cache miss also carries HX-Request but needs the whole page.
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Boosted") != "true" &&
		r.Header.Get("HX-History-Restore-Request") != "true"
}

// nav lists the Console areas that exist; later areas add their entry here.
func nav(active string) []layout.NavItem {
	items := []layout.NavItem{
		{Label: "Home", Href: "/"},
		{Label: "Tenants", Href: "/tenants"},
		{Label: "Connections", Href: "/connections"},
		{Label: "Activity", Href: "/activity"},
		{Label: "Usage", Href: "/usage"},
		{Label: "Integrations", Href: "/integrations"},
		{Label: "Elements", Href: "/elements"},
		{Label: "Universe", Href: "/universe"},
		{Label: "Settings", Href: "/settings/general"},
	}
	for i := range items {
		items[i].Active = items[i].Href == active ||
			(items[i].Href != "/" && strings.HasPrefix(active, items[i].Href)) ||
			(items[i].Href == "/settings/general" && strings.HasPrefix(active, "/settings/"))
	}
	return items
}

// page builds the frame's view model for a signed-in manager.
func (s *Server) page(r *http.Request, title, active string) layout.Page {
	p := layout.Page{Title: title, Assets: s.layoutAssets(), Nav: nav(active)}
	if sess := sessionFrom(r.Context()); sess != nil {
		p.WorkspaceName, p.WorkspaceKey = sess.WorkspaceName, sess.WorkspaceKey
		p.ManagerEmail, p.Role = sess.Email, string(sess.Role)
	}
	return p
}

// render writes a Console view: the whole page for a normal (or boosted) request, only body for
// an htmx fragment request. It renders into a buffer first so a failing template never leaves a
// half-written page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, p layout.Page, body templ.Component) error {
	c := body
	if !isFragmentRequest(r) {
		c = layout.Console(p, body)
	}
	return s.write(w, r, status, c)
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, c templ.Component) error {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// toast asks the page to show a message after an htmx swap (static/js/app.js listens).
func toast(w http.ResponseWriter, level, message string) {
	b, _ := json.Marshal(map[string]any{"showToast": map[string]string{"level": level, "message": message}})
	w.Header().Set("HX-Trigger", string(b))
}

type sessionKey struct{}

func withSession(ctx context.Context, s *store.Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// sessionFrom returns the signed-in manager's session, or nil.
func sessionFrom(ctx context.Context) *store.Session {
	s, _ := ctx.Value(sessionKey{}).(*store.Session)
	return s
}
