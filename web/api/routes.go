package api

import (
	_ "embed"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"tenantry/internal/metrics"
	"tenantry/internal/tenancy"
)

// handlerFunc is an API handler that returns its error; serve turns it into the SDK's shape.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one API endpoint. Path is relative to /api.
type Route struct {
	Method string
	Path   string
	Public bool // served without a token
	handle handlerFunc
}

// tenantCollections are the names Membrane's SDK uses for tenants: customers, and the tenants
// and users aliases. Each gets the same routes.
var tenantCollections = []struct{ plural, singular string }{
	{"customers", "customer"}, {"tenants", "tenant"}, {"users", "user"},
}

// Routes is the API's route table: every endpoint, in one place. The OpenAPI description
// (openapi.json) must describe exactly these; a test holds them together.
func (a *API) Routes() []Route {
	rs := []Route{
		{Method: "GET", Path: "/openapi.json", Public: true, handle: serveOpenAPI},
		{Method: "GET", Path: "/self", handle: a.getSelf},
		{Method: "PATCH", Path: "/self", handle: a.patchSelf},
	}
	for _, c := range tenantCollections {
		p, s := "/"+c.plural, "/"+c.singular
		rs = append(rs,
			Route{Method: "GET", Path: p, handle: a.listCustomers},
			Route{Method: "POST", Path: p, handle: a.createCustomer},
			Route{Method: "GET", Path: p + "/{selector}", handle: a.getCustomer},
			Route{Method: "PATCH", Path: p + "/{selector}", handle: a.patchCustomer},
			Route{Method: "PUT", Path: p + "/{selector}", handle: a.putCustomer},
			Route{Method: "DELETE", Path: p + "/{selector}", handle: a.archiveCustomer},
			Route{Method: "POST", Path: p + "/{selector}/restore", handle: a.restoreCustomer},
			Route{Method: "GET", Path: s, handle: a.getCustomer},
			Route{Method: "PATCH", Path: s, handle: a.patchCustomer},
			Route{Method: "PUT", Path: s, handle: a.putCustomer},
			Route{Method: "DELETE", Path: s, handle: a.archiveCustomer},
			Route{Method: "POST", Path: s + "/restore", handle: a.restoreCustomer},
		)
	}
	rs = append(rs, a.integrationRoutes()...)
	rs = append(rs, a.universeRoutes()...)
	rs = append(rs, a.elementRoutes()...)
	rs = append(rs, a.connectionRoutes()...)
	rs = append(rs, a.instanceRoutes()...)
	rs = append(rs, a.activityRoutes()...)
	rs = append(rs, a.runRoutes()...)
	return rs
}

func (a *API) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.Routes() {
		mux.Handle(rt.Method+" /api"+rt.Path, a.endpoint(rt))
	}
	mux.HandleFunc("OPTIONS /api/", preflight)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError(http.StatusNotFound, "not_found", "no API endpoint "+r.Method+" "+r.URL.Path))
	})
	return mux
}

// endpoint wraps a handler with authentication, the origin check, the request rate limits
// (ratelimit.go) and error writing.
func (a *API) endpoint(rt Route) http.Handler {
	pattern := rt.Method + " /api" + rt.Path // the metrics' route label, as web registers it
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics.Tag(w, pattern)
		if !rt.Public {
			c, err := a.authenticate(w, r)
			if err != nil {
				a.fail(w, r, err)
				return
			}
			if err := a.limitRate(w, r, c); err != nil {
				a.fail(w, r, err)
				return
			}
			r = r.WithContext(contextWithCaller(r, c))
		}
		if err := rt.handle(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// fail writes err in the SDK's error shape; a server error is logged here, once (an external
// app's failure, a 502/504 of type action_run, is not ours: the activity log has it).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	if e.Status >= 500 && e.Type == "internal" {
		a.log.ErrorContext(r.Context(), "api error", "request_id", tenancy.RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, e)
}

func writeError(w http.ResponseWriter, e *Error) { writeJSON(w, e.Status, e) }

// CORS. Tokens travel in the Authorization header, never in cookies, so credentials are never
// allowed. A preflight cannot know the workspace (it carries no token), so it is answered for any
// origin; the real request is then refused before it does anything unless its Origin is in the
// workspace's allowed origins.

var corsHeaders = "Authorization, Content-Type, membrane-api-version"

func preflight(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", corsHeaders)
		h.Set("Access-Control-Max-Age", "600")
		h.Add("Vary", "Origin")
	}
	w.WriteHeader(http.StatusNoContent)
}

// allowOrigin checks a cross-origin request's Origin against the workspace's allowed origins and
// says so in the response headers. Requests without an Origin (servers, curl) and same-origin
// requests pass.
func allowOrigin(w http.ResponseWriter, r *http.Request, allowed []string) error {
	o := r.Header.Get("Origin")
	if o == "" || sameOrigin(o, r) {
		return nil
	}
	w.Header().Add("Vary", "Origin")
	if !slices.Contains(allowed, o) && !slices.Contains(allowed, "*") {
		return apiError(http.StatusForbidden, "access_denied", "origin "+o+" is not allowed for this workspace (Settings > General > Allowed origins)")
	}
	w.Header().Set("Access-Control-Allow-Origin", o)
	w.Header().Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset")
	return nil
}

func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}
