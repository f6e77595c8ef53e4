package store

import (
	"context"
	"fmt"
	"time"

	"tenantry/internal/tenancy"
)

// Request rate limits per tenant and per workspace, in fixed one-minute windows counted in the
// database, so several server processes share one count. Each request adds one to its tenant's
// window (an upsert) and its workspace's (through app_private.count_workspace_request, the only
// way a tenant scope can touch the shared count) — only for the limits that are set — in one
// message with the scope: a single round trip.

// RateDecision is the answer for one request: the tightest of the limits that apply.
type RateDecision struct {
	Allowed   bool
	Scope     string // "tenant" or "workspace": which limit decided
	Limit     int
	Remaining int
	Reset     time.Time // when the window ends
}

// CountRequest counts one request of scope against the workspace's limits. With no limit set it
// costs nothing and allows.
func (d *DB) CountRequest(ctx context.Context, scope tenancy.Scope, s tenancy.Settings) (*RateDecision, error) {
	perTenant, perWorkspace := s.APIRequestsPerMinutePerTenant, s.APIRequestsPerMinutePerWorkspace
	if scope.WorkspaceWide() {
		perTenant = nil
	}
	if perTenant == nil && perWorkspace == nil {
		return &RateDecision{Allowed: true}, nil
	}
	// The window comes from the database's clock, which every process shares (their own clocks
	// may drift apart). Every value inlined is produced by the server (UUIDs), never request input.
	ts := `date_trunc('minute', now())`
	var q string
	if perTenant != nil {
		q = `WITH t AS (INSERT INTO rate_limit_counters (workspace_id, scope_key, window_start, count)
			VALUES (` + quoteLiteral(scope.WorkspaceID.String()) + `::uuid, ` + quoteLiteral(scope.TenantID.String()) + `, ` + ts + `, 1)
			ON CONFLICT (workspace_id, scope_key, window_start) DO UPDATE SET count = rate_limit_counters.count + 1
			RETURNING scope_key, count) SELECT scope_key, count, ` + ts + ` FROM t`
	}
	if perWorkspace != nil {
		w := `SELECT '*', app_private.count_workspace_request(` + ts + `), ` + ts
		if q == "" {
			q = w
		} else {
			// A request its tenant's limit refuses does not use up the workspace's shared count.
			q += ` UNION ALL ` + w + fmt.Sprintf(` FROM t WHERE t.count <= %d`, *perTenant)
		}
	}
	dec := &RateDecision{Allowed: true}
	first := true
	// execScoped's single message is one implicit transaction: the upsert commits with it.
	err := d.execScoped(ctx, scope, q, func(rows *ScopedRows) error {
		for rows.Next() {
			var key string
			var n int
			var window time.Time
			if err := rows.Scan(&key, &n, &window); err != nil {
				return err
			}
			dec.Reset = window.Add(time.Minute)
			limit, which := 0, "tenant"
			if key == "*" {
				limit, which = *perWorkspace, "workspace"
			} else {
				limit = *perTenant
			}
			remaining := max(limit-n, 0)
			// Report the tightest limit; a refusal by either wins.
			if first || remaining < dec.Remaining || (n > limit && dec.Allowed) {
				dec.Scope, dec.Limit, dec.Remaining = which, limit, remaining
			}
			if n > limit {
				dec.Allowed = false
			}
			first = false
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	return dec, nil
}
