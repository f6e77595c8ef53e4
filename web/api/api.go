// Package api is Tenantry's JSON API, mounted under /api. It follows Membrane's REST conventions
// closely enough that Membrane's JavaScript SDK works against it unchanged
// (shared/SDK-CONTRACT.md): {items, cursor} lists, {type, key, message} errors, selector routes.
// It calls the same store methods, with the same validation, as the Console.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"tenantry/internal/auth"
	"tenantry/internal/metrics"
	"tenantry/internal/runner"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// API serves the JSON API.
type API struct {
	db          *store.DB
	verifier    *auth.Verifier
	provisioner *auth.Provisioner
	log         *slog.Logger
	runs        *runner.Service
	metrics     *metrics.Metrics // nil: none (see Instrument)
	handler     http.Handler
}

// New builds the API and its route table.
func New(db *store.DB, log *slog.Logger) *API {
	a := &API{
		db:          db,
		verifier:    auth.NewVerifier(db.LookupWorkspaceByKey),
		provisioner: auth.NewProvisioner(db),
		log:         log,
		runs:        runner.NewService(db, log),
	}
	a.handler = a.routes()
	return a
}

// ServeHTTP serves a request whose path starts with /api.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Runner is the API's action and flow runner. Its flow workers must be started once per server
// process (Runner().Work) for queued flow runs to execute.
func (a *API) Runner() *runner.Service { return a.runs }

// Verifier exposes the token verifier (for the tenant portal, which accepts the same tokens).
func (a *API) Verifier() *auth.Verifier { return a.verifier }

// caller is who is calling, resolved by authenticate.
type caller struct {
	scope     tenancy.Scope
	workspace *store.WorkspaceAuth
	claims    *auth.Claims
}

type callerKey struct{}

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// bearer returns the token in the Authorization header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate resolves the caller from the bearer token: verify, check the browser origin
// against the workspace's allowed origins, then provision and scope — so a refused origin
// changes nothing.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) (*caller, error) {
	claims, wa, err := a.verifier.Verify(r.Context(), bearer(r))
	if err != nil {
		return nil, err
	}
	if err := allowOrigin(w, r, wa.Workspace.Settings.AllowedOrigins); err != nil {
		return nil, err
	}
	scope, err := a.provisioner.Scope(r.Context(), claims, wa)
	if err != nil {
		if errors.Is(err, tenancy.ErrTenantArchived) {
			return nil, apiError(http.StatusForbidden, "access_denied",
				"tenant "+claims.Tenant()+" is archived: restore it (POST /customers/{id}/restore with a workspace token) before using its token")
		}
		return nil, err
	}
	return &caller{scope: scope, workspace: wa, claims: claims}, nil
}

// inScope runs fn in the caller's scope.
func (a *API) inScope(r *http.Request, fn func(tx *store.Tx) error) error {
	return a.db.InScope(r.Context(), callerFrom(r.Context()).scope, fn)
}

func contextWithCaller(r *http.Request, c *caller) context.Context {
	return context.WithValue(r.Context(), callerKey{}, c)
}
