package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// AI credits: a ledger of what each run used, and limits over a rolling 30-day window per tenant
// (the tenant's own limit, else the workspace default; none = unlimited) and per workspace
// (shared by all its tenants). Checking and consuming happen in one transaction that holds an
// advisory lock per workspace and per tenant, so concurrent runs — in one process or several —
// queue for the check and never overshoot a limit together.

// CreditWindow is the rolling window limits count over.
const CreditWindow = 30 * 24 * time.Hour

// CreditCharge is what one run uses.
type CreditCharge struct {
	TenantID  uuid.UUID
	Credits   float64
	ElementID uuid.UUID
	RunID     uuid.UUID
}

// CreditsExceededError says which limit a charge would pass, the usage, and when enough of it
// will have aged out of the window for the charge to fit.
type CreditsExceededError struct {
	Scope     string // "tenant" or "workspace"
	Limit     float64
	Used      float64
	Requested float64
	FreeAt    *time.Time // nil when the charge alone is larger than the limit
}

func (e *CreditsExceededError) Error() string {
	return fmt.Sprintf("the %s's AI credit limit of %g over 30 days would be passed: %g used, %g requested", e.Scope, e.Limit, e.Used, e.Requested)
}

// Data is the refusal's figures as run records and API errors carry them: scope, limit, used,
// requested, and freeAt when waiting helps.
func (e *CreditsExceededError) Data() map[string]any {
	d := map[string]any{"scope": e.Scope, "limit": e.Limit, "used": e.Used, "requested": e.Requested}
	if e.FreeAt != nil {
		d["freeAt"] = e.FreeAt
	}
	return d
}

// ConsumeCredits checks the charge against the tenant's and the workspace's limits and records
// it, atomically; over a limit it returns a *CreditsExceededError and records nothing (the caller
// records the refusal). The transaction must commit for the charge to count.
func (tx *Tx) ConsumeCredits(ctx context.Context, c CreditCharge, settings tenancy.Settings) error {
	if c.Credits <= 0 {
		return nil
	}
	// Workspace first, then tenant: every charge takes them in that order, so no two wait on
	// each other crosswise.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 7302)),
		pg_advisory_xact_lock(hashtextextended($2, 7303))`, tx.Scope.WorkspaceID.String(), c.TenantID.String()); err != nil {
		return fmt.Errorf("credits: lock: %w", err)
	}
	since := time.Now().Add(-CreditWindow)
	var tenantLimit sql.NullFloat64
	if err := tx.GetContext(ctx, &tenantLimit, `SELECT ai_credits_rolling_30_day_limit FROM tenants WHERE workspace_id = $1 AND id = $2`,
		tx.Scope.WorkspaceID, c.TenantID); err != nil {
		if notFound(err) {
			return tenancy.ErrNotFound
		}
		return fmt.Errorf("credits: tenant limit: %w", err)
	}
	limit := settings.DefaultTenantAICreditsLimit
	if tenantLimit.Valid {
		limit = &tenantLimit.Float64
	}
	if limit != nil {
		var used float64
		if err := tx.GetContext(ctx, &used, `SELECT coalesce(sum(credits), 0) FROM ai_credit_ledger
			WHERE workspace_id = $1 AND tenant_id = $2 AND created_at > $3`, tx.Scope.WorkspaceID, c.TenantID, since); err != nil {
			return fmt.Errorf("credits: tenant usage: %w", err)
		}
		if used+c.Credits > *limit {
			e := &CreditsExceededError{Scope: "tenant", Limit: *limit, Used: used, Requested: c.Credits}
			if c.Credits <= *limit {
				var at time.Time
				// The oldest entries age out first: the first time the remainder plus the charge fits.
				err := tx.GetContext(ctx, &at, `SELECT created_at + $4::interval FROM (
						SELECT created_at, sum(credits) OVER (ORDER BY created_at, id) AS freed FROM ai_credit_ledger
						WHERE workspace_id = $1 AND tenant_id = $2 AND created_at > $3) w
					WHERE $5::numeric - freed + $6::numeric <= $7::numeric ORDER BY created_at LIMIT 1`,
					tx.Scope.WorkspaceID, c.TenantID, since, fmt.Sprintf("%d seconds", int(CreditWindow.Seconds())), used, c.Credits, *limit)
				if err == nil {
					e.FreeAt = &at
				}
			}
			return e
		}
	}
	if wl := settings.AICreditsRolling30DayLimit; wl != nil {
		var used float64
		var freeAt sql.NullTime
		if err := tx.QueryRowxContext(ctx, `SELECT used, free_at FROM app_private.workspace_credit_usage($1, $2, $3)`,
			since, c.Credits, *wl).Scan(&used, &freeAt); err != nil {
			return fmt.Errorf("credits: workspace usage: %w", err)
		}
		if used+c.Credits > *wl {
			e := &CreditsExceededError{Scope: "workspace", Limit: *wl, Used: used, Requested: c.Credits}
			if freeAt.Valid {
				e.FreeAt = &freeAt.Time
			}
			return e
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ai_credit_ledger (workspace_id, id, tenant_id, credits, element_id, action_run_id)
		VALUES ($1, $2, $3, $4, $5, $6)`, tx.Scope.WorkspaceID, tenancy.NewID(), c.TenantID, c.Credits, nullUUID(c.ElementID), nullUUID(c.RunID))
	if err != nil {
		return writeError("credits: record", err)
	}
	return nil
}

// CreditDay is one day's credit usage.
type CreditDay struct {
	Day     time.Time
	Credits float64
}

// CreditUsageByDay returns the last 30 days of usage, one entry per day (zero days included),
// for one tenant or (TenantID Nil, workspace-wide scopes) the whole workspace.
func (tx *Tx) CreditUsageByDay(ctx context.Context, tenantID uuid.UUID) ([]CreditDay, error) {
	// Days are UTC days whatever the session's time zone: d is a UTC midnight as timestamptz.
	rows, err := tx.QueryxContext(ctx, `SELECT (d AT TIME ZONE 'UTC')::date, coalesce(sum(l.credits), 0)
		FROM generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '29 days',
			date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', interval '1 day') d
		LEFT JOIN ai_credit_ledger l ON l.workspace_id = $1 AND ($2::uuid IS NULL OR l.tenant_id = $2)
			AND l.created_at >= d AND l.created_at < d + interval '1 day'
		GROUP BY d ORDER BY d`, tx.Scope.WorkspaceID, nullUUID(tenantID))
	if err != nil {
		return nil, fmt.Errorf("credit usage by day: %w", err)
	}
	defer rows.Close()
	var out []CreditDay
	for rows.Next() {
		var d CreditDay
		if err := rows.Scan(&d.Day, &d.Credits); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// TenantCredits is one tenant's usage over the window.
type TenantCredits struct {
	TenantID   uuid.UUID
	InternalID string
	Name       string
	Credits    float64
	Limit      *float64
}

// TopCreditTenants returns the n tenants that used the most credits over the window (a
// workspace-wide scope sees all of them).
func (tx *Tx) TopCreditTenants(ctx context.Context, n int) ([]TenantCredits, error) {
	rows, err := tx.QueryxContext(ctx, `SELECT t.id, t.internal_id, t.name, u.credits, t.ai_credits_rolling_30_day_limit
		FROM (SELECT tenant_id, sum(credits) AS credits FROM ai_credit_ledger
		      WHERE workspace_id = $1 AND created_at > now() - interval '30 days' GROUP BY tenant_id
		      ORDER BY 2 DESC LIMIT $2) u
		JOIN tenants t ON t.workspace_id = $1 AND t.id = u.tenant_id ORDER BY u.credits DESC, t.internal_id`, tx.Scope.WorkspaceID, n)
	if err != nil {
		return nil, fmt.Errorf("top credit tenants: %w", err)
	}
	defer rows.Close()
	var out []TenantCredits
	for rows.Next() {
		var c TenantCredits
		var limit sql.NullFloat64
		if err := rows.Scan(&c.TenantID, &c.InternalID, &c.Name, &c.Credits, &limit); err != nil {
			return nil, err
		}
		if limit.Valid {
			c.Limit = &limit.Float64
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// WorkspaceCreditUsage sums every tenant's credits over the rolling window (a workspace-wide
// scope; a tenant scope sees only its own rows).
func (tx *Tx) WorkspaceCreditUsage(ctx context.Context) (float64, error) {
	var used float64
	err := tx.GetContext(ctx, &used, `SELECT coalesce(sum(credits), 0) FROM ai_credit_ledger
		WHERE workspace_id = $1 AND created_at > now() - interval '30 days'`, tx.Scope.WorkspaceID)
	if err != nil {
		return 0, fmt.Errorf("workspace credit usage: %w", err)
	}
	return used, nil
}
