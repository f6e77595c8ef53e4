package api

import (
	"fmt"
	"net/http"
	"strconv"

	"tenantry/internal/metrics"
	"tenantry/internal/store"
)

// Request rate limits (Settings > Limits): per tenant and per workspace, in one-minute windows
// counted in the database, so every server process shares the count. endpoint() calls limitRate
// after authentication, before the handler: a refused request does nothing. Public routes are
// not counted.

// Instrument makes the API count its rate-limit refusals in m and its runner report run outcomes
// and AI credit refusals to m. Call it once, before the API serves.
func (a *API) Instrument(m *metrics.Metrics) {
	a.metrics = m
	if m != nil {
		a.runs.SetObserver(m)
	}
}

// limitRate counts the request against the caller's limits. With a limit in force it sets
// X-RateLimit-Limit, -Remaining and -Reset (unix seconds, the window's end); over it, it answers
// 429 rate_limit_exceeded with Retry-After.
func (a *API) limitRate(w http.ResponseWriter, r *http.Request, c *caller) error {
	dec, err := a.db.CountRequest(r.Context(), c.scope, c.workspace.Workspace.Settings)
	if err != nil {
		return err
	}
	if dec.Scope == "" {
		return nil // no limit applies to this caller
	}
	setRateHeaders(w, dec)
	if dec.Allowed {
		return nil
	}
	a.metrics.RateLimited(dec.Scope)
	secs := retryAfter(dec.Reset)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("X-RateLimit-Remaining", "0")
	e := apiError(http.StatusTooManyRequests, "rate_limit_exceeded",
		fmt.Sprintf("the %s's limit of %d API requests per minute is reached: retry in %d s", dec.Scope, dec.Limit, secs))
	e.Data = map[string]any{"scope": dec.Scope, "limit": dec.Limit, "remaining": 0, "reset": dec.Reset.Unix(), "retryAfter": secs}
	return e
}

func setRateHeaders(w http.ResponseWriter, dec *store.RateDecision) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(dec.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(dec.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(dec.Reset.Unix(), 10))
}
