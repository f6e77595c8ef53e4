// Package web is Tenantry's HTTP surface: the server, its middleware, the Console's handlers and
// the route table (routes.go) that names every URL. The JSON API lives in web/api and is mounted
// under /api by this package.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/sessions"

	"tenantry/internal/auth"
	"tenantry/internal/config"
	"tenantry/internal/metrics"
	"tenantry/internal/store"
	"tenantry/static"
	"tenantry/views/layout"
	"tenantry/web/api"
)

// Server serves the Console and the API.
type Server struct {
	cfg      *config.Config
	db       *store.DB
	log      *slog.Logger
	assets   *static.Assets
	cookies  *sessions.CookieStore
	throttle *auth.Throttle
	api      *api.API
	metrics  *metrics.Metrics
	handler  http.Handler
}

// New builds the server and its route table.
func New(cfg *config.Config, db *store.DB, log *slog.Logger) (*Server, error) {
	assets, err := static.New()
	if err != nil {
		return nil, err
	}
	cookies := sessions.NewCookieStore(cfg.SessionKeys...)
	cookies.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(store.SessionTTL.Seconds()),
		HttpOnly: true,
		Secure:   cfg.SecureCookies(),
		SameSite: http.SameSiteLaxMode,
	}
	s := &Server{
		cfg:      cfg,
		db:       db,
		log:      log,
		assets:   assets,
		cookies:  cookies,
		throttle: auth.NewThrottle(db, 15*time.Minute, 5, 30),
		api:      api.New(db, log),
		metrics:  metrics.New(),
	}
	if err := s.metrics.RegisterDB("primary", db.SQL().DB); err != nil {
		return nil, err
	}
	if r := db.Replica(); r != nil {
		if err := s.metrics.RegisterDB("replica", r.SQL().DB); err != nil {
			return nil, err
		}
		if err := s.metrics.RegisterReplica(func() (bool, time.Duration) {
			st := db.ReplicaStatus()
			return st.Usable, st.Lag
		}); err != nil {
			return nil, err
		}
	}
	s.api.Instrument(s.metrics)
	s.handler = s.routes()
	return s, nil
}

// Metrics is the server's Prometheus registry and instruments (served at GET /metrics).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// ServeHTTP serves every request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Run listens on the configured address until ctx ends, then shuts down gracefully, letting
// requests in flight finish (up to 15 s). It also runs the flow workers, which execute queued
// flow runs (of any workspace, shared with other processes on the database) until ctx ends.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	// Flow workers stop with ctx; Run waits for them (a step in flight finishes or is left for the
	// next claim) so nothing uses the database after the caller closes it.
	wait := s.api.Runner().Work(ctx, 2)
	defer wait()
	return Serve(ctx, s.cfg.Addr, s, s.log, ready)
}

func (s *Server) layoutAssets() layout.Assets {
	return layout.Assets{
		CSS:  s.assets.Path("css/app.css"),
		HTMX: s.assets.Path("js/htmx.min.js"),
		SSE:  s.assets.Path("js/htmx-ext-sse.min.js"),
		App:  s.assets.Path("js/app.js"),
		Logo: s.assets.Path("img/logo.svg"),
	}
}
