package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"tenantry/internal/metrics"
	"tenantry/internal/tenancy"
	"tenantry/static"
	"tenantry/views/layout"
)

// access says who may use a route.
type access int

const (
	public  access = iota // anyone
	manager               // any signed-in manager (admins and support alike)
	admin                 // signed-in admins only: every change to workspace data
)

// route is one Console URL.
type route struct {
	pattern string // ServeMux pattern with method, e.g. "GET /tenants/{id}"
	access  access
	handle  handlerFunc
}

// consoleRoutes is the Console's route table: every page and form, and who may use it.
func (s *Server) consoleRoutes() []route {
	return []route{
		{"GET /signin", public, s.signInPage},
		{"POST /signin", public, s.signIn},
		{"POST /signout", manager, s.signOut},
		{"GET /{$}", manager, s.home},

		// Tenants (console_tenants.go, views/tenants)
		{"GET /tenants", manager, s.tenantsList},
		{"POST /tenants", admin, s.tenantCreate},
		{"GET /tenants/{id}", manager, s.tenantShow},
		{"POST /tenants/{id}/fields", admin, s.tenantSaveFields},
		{"GET /tenants/{id}/fields/{key}/reveal", admin, s.tenantRevealField},
		{"POST /tenants/{id}/credentials", admin, s.tenantSetCredential},
		{"POST /tenants/{id}/credentials/{key}/clear", admin, s.tenantClearCredential},
		{"POST /tenants/{id}/credits", admin, s.tenantSaveCreditLimit},
		{"POST /tenants/{id}/archive", admin, s.tenantArchive},
		{"POST /tenants/{id}/restore", admin, s.tenantRestore},

		// A tenant's Customizations and Connections tabs (console_tenant_elements.go,
		// console_tenant_connections.go, views/tenants)
		{"GET /tenants/{id}/customizations", manager, s.tenantCustomizations},
		{"GET /tenants/{id}/customizations/{kind}/{key}", manager, s.tenantElementShow},
		{"POST /tenants/{id}/customizations/{kind}/{key}", admin, s.tenantElementSave},
		{"POST /tenants/{id}/customizations/{kind}/{key}/reset", admin, s.tenantElementReset},
		{"POST /tenants/{id}/customizations/{kind}/{key}/delete", admin, s.tenantElementDelete},
		{"GET /tenants/{id}/connections", manager, s.tenantConnections},
		{"POST /tenants/{id}/connections", admin, s.tenantConnectionCreate},
		{"POST /tenants/{id}/connections/{cid}/disconnect", admin, s.tenantConnectionDisconnect},
		{"POST /tenants/{id}/connections/{cid}/reconnect", admin, s.tenantConnectionReconnect},
		{"POST /tenants/{id}/connections/{cid}/archive", admin, s.tenantConnectionArchive},

		// Settings (console_settings.go, views/settings)
		{"GET /settings/general", manager, s.settingsGeneral},
		{"POST /settings/general", admin, s.settingsSaveGeneral},
		{"POST /settings/secret/rotate", admin, s.settingsRotateSecret},
		{"POST /settings/schema", admin, s.settingsSaveSchema},
		{"POST /settings/schema/preview", admin, s.settingsPreviewSchema},
		{"POST /settings/limits", admin, s.settingsSaveLimits},
		{"POST /settings/origins", admin, s.settingsSaveOrigins},
		{"GET /settings/members", admin, s.membersList},
		{"POST /settings/members", admin, s.memberAdd},
		{"POST /settings/members/{id}/role", admin, s.memberSetRole},
		{"POST /settings/members/{id}/remove", admin, s.memberRemove},

		// Integrations, workspace elements, the universe and all connections
		// (console_integrations.go, console_elements.go, console_universe.go,
		// console_connections.go; views/integrations, elements, universe, connections)
		{"GET /integrations", manager, s.integrationsList},
		{"POST /integrations", admin, s.integrationCreate},
		{"GET /integrations/{id}", manager, s.integrationShow},
		{"POST /integrations/{id}", admin, s.integrationUpdate},
		{"POST /integrations/{id}/archive", admin, s.integrationArchive},
		{"POST /integrations/{id}/restore", admin, s.integrationRestore},
		{"GET /elements", manager, s.elementsIndex},
		{"GET /elements/{kind}", manager, s.elementsList},
		{"POST /elements/{kind}", admin, s.elementCreate},
		{"GET /elements/{kind}/new", admin, s.elementNew},
		{"GET /elements/{kind}/{id}", manager, s.elementShow},
		{"POST /elements/{kind}/{id}", admin, s.elementUpdate},
		{"POST /elements/{kind}/{id}/archive", admin, s.elementArchive},
		{"POST /elements/{kind}/{id}/restore", admin, s.elementRestore},
		{"GET /universe", manager, s.universeList},
		{"GET /universe/{kind}/{key}", manager, s.universeShow},
		{"GET /connections", manager, s.connectionsList},

		// Activity, and a tenant's Activity tab (console_activity.go, views/activity)
		{"GET /activity", manager, s.activityList},
		{"GET /activity/tenants", manager, s.activityTenantSearch},
		{"GET /activity/live", manager, s.activityLive},
		{"GET /activity/export.csv", manager, s.activityExportCSV},
		{"GET /activity/export.ndjson", manager, s.activityExportNDJSON},
		{"GET /activity/{id}", manager, s.activityShow},
		{"GET /tenants/{id}/activity", manager, s.tenantActivity},

		// Usage: the workspace's AI credits and its top tenants (console_usage.go, views/usage)
		{"GET /usage", manager, s.usagePage},
	}
}

// routes assembles the whole server: health checks, static assets, the Console (behind
// cross-origin protection) and the API.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	system := func(pattern string, h http.Handler) {
		s.metrics.Route(metrics.SurfaceSystem, pattern)
		mux.Handle(pattern, h)
	}
	system("GET /healthz", http.HandlerFunc(s.healthz))
	system("GET /readyz", http.HandlerFunc(s.readyz))
	system("GET "+static.Prefix, s.assets.Handler())
	system("GET /metrics", s.metricsHandler())
	// The API authenticates with bearer tokens, never cookies, so cross-site requests carry no
	// ambient authority: it does its own CORS instead of the Console's cross-origin protection.
	// Its endpoints tag their own pattern (metrics.Tag), registered here with the same spelling.
	for _, rt := range s.api.Routes() {
		s.metrics.Route(metrics.SurfaceAPI, rt.Method+" /api"+rt.Path)
	}
	s.metrics.Route(metrics.SurfaceAPI, "OPTIONS /api/") // CORS preflights
	mux.Handle("/api/", s.api)
	// The tenant portal (portal.go) authenticates with its own session cookie, changes nothing
	// (GET only) and sets its own framing policy. Its mux sets Request.Pattern, which the
	// metrics read.
	for _, rt := range s.portalRoutes() {
		s.metrics.Route(metrics.SurfacePortal, rt.pattern)
	}
	mux.Handle("/portal/", s.portal())

	console := http.NewServeMux()
	for _, rt := range s.consoleRoutes() {
		method, _, _ := strings.Cut(rt.pattern, " ")
		if method != "GET" && rt.access == manager && rt.pattern != "POST /signout" {
			// Support managers change nothing: a write route must be admin-only.
			panic(fmt.Sprintf("route %q changes data but is open to every manager", rt.pattern))
		}
		s.metrics.Route(metrics.SurfaceConsole, rt.pattern)
		console.Handle(rt.pattern, s.consoleHandler(rt))
	}
	console.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.consoleError(w, r, errStatus(http.StatusNotFound, "There is no page at this address."))
	})
	cop := http.NewCrossOriginProtection()
	mux.Handle("/", cop.Handler(console))

	return observe(s.log, s.metrics, securityHeaders(mux))
}

// metricsHandler serves the Prometheus metrics. With TENANTRY_METRICS_TOKEN set it requires
// "Authorization: Bearer <token>" and answers anything else 401 with nothing of the metrics;
// without it the metrics are open to whoever reaches the listener (keep that listener private,
// or set the token). The metrics hold no tenant data: route patterns, counts and the runtime.
func (s *Server) metricsHandler() http.Handler {
	h := s.metrics.Handler(s.log)
	if s.cfg.MetricsToken == "" {
		return h
	}
	// Comparing digests keeps the comparison constant-time whatever the lengths.
	want := sha256.Sum256([]byte(s.cfg.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := "", false
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			got, ok = strings.TrimSpace(a[7:]), true
		}
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"type":"bad_request","key":"not_authenticated",` +
				`"message":"GET /metrics needs the header Authorization: Bearer <TENANTRY_METRICS_TOKEN>"}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// consoleHandler wraps a Console handler with its session and role checks and error pages.
func (s *Server) consoleHandler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.Tag(w, rt.pattern)
		r, err := s.loadSession(r)
		if err != nil {
			s.consoleError(w, r, err)
			return
		}
		sess := sessionFrom(r.Context())
		if rt.access != public && sess == nil {
			requireSignIn(w, r)
			return
		}
		if rt.access != public {
			// A signed-in page holds workspace data: no browser or proxy keeps a copy.
			w.Header().Set("Cache-Control", "no-store")
		}
		if rt.access == admin && sess.Role != tenancy.RoleAdmin {
			s.consoleError(w, r, tenancy.ErrForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := readConsoleForm(w, r); err != nil {
				s.consoleError(w, r, err)
				return
			}
		}
		if err := rt.handle(w, r); err != nil {
			s.consoleError(w, r, err)
		}
	})
}

// maxConsoleForm caps a Console form's body (Go's own cap for url-encoded forms, made explicit).
const maxConsoleForm = 10 << 20

// readConsoleForm reads a Console POST's form once, before its handler, so that no handler can see
// a half-read form as an empty one (an empty limit means "no limit": a body over the cap would
// silently clear it). It refuses what no Console form sends: a body that is not url-encoded (415),
// one over the cap (413), one that cannot be parsed, text that is not UTF-8, and NUL characters
// (400) — the same rules as the API's.
func readConsoleForm(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength != 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			return errStatus(http.StatusUnsupportedMediaType, "Console forms are sent as application/x-www-form-urlencoded; this request was not.")
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxConsoleForm)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errStatus(http.StatusRequestEntityTooLarge, "The form is larger than 10 MiB: nothing was saved.")
		}
		return errStatus(http.StatusBadRequest, "The form could not be read: nothing was saved.")
	}
	for k, vs := range r.Form {
		if !utf8.ValidString(k) {
			return errStatus(http.StatusBadRequest, "A field name is not valid UTF-8 text: nothing was saved.")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return errStatus(http.StatusBadRequest, fmt.Sprintf("The field %q is not valid UTF-8 text: nothing was saved.", k))
			}
			if strings.IndexByte(v, 0) >= 0 {
				return errStatus(http.StatusBadRequest, fmt.Sprintf("The field %q contains a NUL character: nothing was saved.", k))
			}
		}
	}
	return nil
}

// consoleError turns an error into an error page (or a toast for an htmx request). 5xx errors are
// logged here, once; 4xx are not incidents.
func (s *Server) consoleError(w http.ResponseWriter, r *http.Request, err error) {
	status := StatusOf(err)
	title, message := http.StatusText(status), "Something went wrong on our side. It has been logged; please retry."
	var he *httpError
	switch {
	case errors.As(err, &he):
		status, message = he.status, he.message
		title = http.StatusText(status)
	case status == http.StatusNotFound:
		message = "There is nothing here, or it is not yours to see."
	case status == http.StatusForbidden:
		message = "Your role does not allow this. Ask a workspace admin."
	case status < 500:
		message = err.Error()
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "console error", "request_id", tenancy.RequestID(r.Context()), "path", r.URL.Path, "err", err)
	}
	if isFragmentRequest(r) {
		toast(w, "error", message)
		w.WriteHeader(status)
		return
	}
	p := s.page(r, title, "")
	var body = layout.Problem(status, title, message)
	if sessionFrom(r.Context()) == nil {
		_ = s.write(w, r, status, layout.Bare(p, body))
		return
	}
	_ = s.render(w, r, status, p, body)
}
