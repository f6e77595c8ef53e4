package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"tenantry/internal/tenancy"
)

// The activity log: one recorder every write path calls in its own transaction, and the reads
// behind the Console's Activity page, the API's /activity-logs and the tenant portal. Rows are
// read under row-level security (a tenant scope sees its own entries, never workspace-level
// ones); text search goes through app_private.search_activity_page (migration 00005), which
// returns keys only.

// Activity is one entry for the activity log. Record fills in the workspace, actor, time and
// request id from the transaction's scope and context.
type Activity struct {
	ID            uuid.UUID // optional: a run's id, so the run and its entry share one
	Type          string    // tenant.created, settings.updated, …
	Status        string    // success (default), warning, error
	TenantID      uuid.UUID
	ConnectionID  uuid.UUID
	IntegrationID uuid.UUID
	ElementID     uuid.UUID
	Message       string
	Details       map[string]any
	DurationMS    *int
}

// Record appends an entry in the same transaction as the change it describes, so the change and
// its record land together or not at all. Secret-looking values in Details are redacted here,
// whatever the caller passed.
func (tx *Tx) Record(ctx context.Context, a Activity) error {
	if a.Status == "" {
		a.Status = "success"
	}
	details := map[string]any{}
	if a.Details != nil {
		details = tenancy.RedactSecrets(a.Details).(map[string]any)
	}
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("activity details: %w", err)
	}
	if a.ID == uuid.Nil {
		a.ID = tenancy.NewID()
	}
	tenant := a.TenantID
	if tenant == uuid.Nil && !tx.Scope.WorkspaceWide() {
		tenant = tx.Scope.TenantID // a tenant's own actions are its entries
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO activity_log (workspace_id, id, tenant_id, type, status, actor_type, actor_id,
			connection_id, integration_id, element_id, message, details, duration_ms, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		tx.Scope.WorkspaceID, a.ID, nullUUID(tenant), a.Type, a.Status, string(tx.Scope.Actor.Type), tx.Scope.Actor.ID,
		nullUUID(a.ConnectionID), nullUUID(a.IntegrationID), nullUUID(a.ElementID), a.Message, string(b), a.DurationMS, tenancy.RequestID(ctx))
	if err != nil {
		return fmt.Errorf("record activity: %w", err)
	}
	return nil
}

func nullUUID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}

// MaintainActivity keeps the log's weekly partitions: it creates those covering yesterday to 14
// days ahead that are missing, drops those past every workspace's retention, and deletes entries
// past their workspace's retention that remain (up to batch per workspace); with expire it also
// deletes old rate-limit windows and sign-in failures. It runs as the app role
// through SECURITY DEFINER functions (migration 00005); at start (Migrate) and hourly.
func (d *DB) MaintainActivity(ctx context.Context, expire bool, batch int) (created, dropped int, deleted int64, err error) {
	tx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("activity maintenance: %w", err)
	}
	defer tx.Rollback()
	// Several server processes run this job; one at a time does the work, the others skip.
	var got bool
	if err := tx.GetContext(ctx, &got, `SELECT pg_try_advisory_xact_lock(7301884127)`); err != nil {
		return 0, 0, 0, fmt.Errorf("activity maintenance: %w", err)
	}
	if !got {
		return 0, 0, 0, nil
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL ROLE "+AppRole); err != nil {
		return 0, 0, 0, fmt.Errorf("activity maintenance: %w", err)
	}
	if err := tx.GetContext(ctx, &created, `SELECT app_private.ensure_activity_partitions(current_date - 1, current_date + 14)`); err != nil {
		return 0, 0, 0, fmt.Errorf("activity partitions: %w", err)
	}
	if expire {
		if err := tx.GetContext(ctx, &dropped, `SELECT app_private.drop_expired_activity_partitions()`); err != nil {
			return 0, 0, 0, fmt.Errorf("activity expiry: %w", err)
		}
		if err := tx.GetContext(ctx, &deleted, `SELECT app_private.delete_expired_activity($1)`, batch); err != nil {
			return 0, 0, 0, fmt.Errorf("activity expiry: %w", err)
		}
		// The other short-lived counters go with it: rate-limit windows over an hour old and
		// sign-in failures over a day old.
		if _, err := tx.ExecContext(ctx, `SELECT app_private.delete_old_rate_limit_counters(), app_private.delete_old_signin_failures()`); err != nil {
			return 0, 0, 0, fmt.Errorf("counter expiry: %w", err)
		}
	}
	return created, dropped, deleted, tx.Commit()
}

// MaintainActivityEvery runs MaintainActivity (with expiry) now and then every interval until ctx
// ends, logging what it changed and any failure (the next run retries).
func (d *DB) MaintainActivityEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		created, dropped, deleted, err := d.MaintainActivity(ctx, true, 10_000)
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Error("activity maintenance failed", "err", err)
		case created+dropped > 0 || deleted > 0:
			d.log.Info("activity maintenance", "partitions_created", created, "partitions_dropped", dropped, "entries_deleted", deleted)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EnsureActivityPartitions creates the weekly partitions that hold [from, to] (for loading old
// entries: imports, benchmarks, tests).
func (d *DB) EnsureActivityPartitions(ctx context.Context, from, to time.Time) error {
	tx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL ROLE "+AppRole); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `SELECT app_private.ensure_activity_partitions($1::date, $2::date)`,
		from.UTC().Format("2006-01-02"), to.UTC().Format("2006-01-02")); err != nil {
		return fmt.Errorf("activity partitions: %w", err)
	}
	return tx.Commit()
}

// ActivityFilter selects entries. Multi-valued filters match any of their values.
type ActivityFilter struct {
	TenantID      uuid.UUID
	Types         []string
	Statuses      []string
	IntegrationID uuid.UUID
	ConnectionID  uuid.UUID
	ElementID     uuid.UUID
	ActorTypes    []string
	ActorID       string
	From, To      *time.Time // [From, To)
	Text          string     // words in the message, each matched as a prefix, case-insensitive
	Limit         int        // 1..1000, default 50
	Cursor        string
}

// ActivityPage is one page of entries, newest first; Cursor is "" on the last page.
type ActivityPage struct {
	Items  []*tenancy.ActivityEntry
	Cursor string
}

var activityStatuses = []string{"success", "warning", "error"}
var actorTypes = []string{string(tenancy.ActorManager), string(tenancy.ActorWorkspaceToken), string(tenancy.ActorTenantToken), string(tenancy.ActorSystem)}

// Validate checks the filter's values; problems name the query parameter.
func (f *ActivityFilter) Validate() error {
	verr := &tenancy.ValidationError{}
	for _, s := range f.Statuses {
		if !slices.Contains(activityStatuses, s) {
			verr.Add("status", "must be success, warning or error")
		}
	}
	for _, a := range f.ActorTypes {
		if !slices.Contains(actorTypes, a) {
			verr.Add("actor", "must be manager, workspace-token, tenant-token or system")
		}
	}
	for _, t := range f.Types {
		if len(t) > 100 || strings.ContainsRune(t, 0) {
			verr.Add("type", "must be at most 100 characters")
		}
	}
	if len(f.Types) > 50 {
		verr.Add("type", "at most 50 types at once")
	}
	if len(f.Text) > 200 || strings.ContainsRune(f.Text, 0) {
		verr.Add("search", "must be at most 200 characters, without NUL")
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		verr.Add("from", "must be before to")
	}
	if f.Limit < 0 || f.Limit > 1000 {
		verr.Add("limit", "must be from 1 to 1000")
	}
	return verr.Err()
}

type activityCursor struct {
	At time.Time `json:"t"`
	ID uuid.UUID `json:"i"`
}

const activityColumns = `a.id, a.created_at, a.tenant_id, a.type, a.status, a.actor_type, a.actor_id, a.connection_id,
	a.integration_id, a.element_id, a.message, a.details, a.duration_ms, a.request_id`

func scanActivity(row interface{ Scan(...any) error }) (*tenancy.ActivityEntry, error) {
	var e tenancy.ActivityEntry
	var tenant, conn, integ, elem uuid.NullUUID
	var details []byte
	var dur sql.NullInt32
	var actor string
	if err := row.Scan(&e.ID, &e.CreatedAt, &tenant, &e.Type, &e.Status, &actor, &e.ActorID, &conn, &integ, &elem,
		&e.Message, &details, &dur, &e.RequestID); err != nil {
		return nil, err
	}
	e.ActorType = tenancy.ActorType(actor)
	e.TenantID, e.ConnectionID, e.IntegrationID, e.ElementID = tenant.UUID, conn.UUID, integ.UUID, elem.UUID
	if dur.Valid {
		d := int(dur.Int32)
		e.DurationMS = &d
	}
	if err := json.Unmarshal(details, &e.Details); err != nil {
		return nil, fmt.Errorf("activity details: %w", err)
	}
	return &e, nil
}

// retentionStart is the oldest time the workspace keeps entries for: older ones are hidden at
// once, before the hourly job removes them.
func (tx *Tx) retentionStart(ctx context.Context) (time.Time, error) {
	var days sql.NullInt64
	if err := tx.GetContext(ctx, &days, `SELECT (settings->>'activityRetentionDays')::integer FROM workspaces WHERE id = $1`,
		tx.Scope.WorkspaceID); err != nil && !notFound(err) {
		return time.Time{}, fmt.Errorf("activity retention: %w", err)
	}
	d := int64(30)
	if days.Valid && days.Int64 > 0 {
		d = days.Int64
	}
	return time.Now().Add(-time.Duration(d) * 24 * time.Hour), nil
}

// ListActivity returns one page of entries in scope, newest first. It is a lag-tolerant read:
// it may be served by the read replica (replica.go).
func (tx *Tx) ListActivity(ctx context.Context, f ActivityFilter) (*ActivityPage, error) {
	var page *ActivityPage
	err := tx.lagTolerant(ctx, func(tx *Tx) (err error) {
		page, err = tx.listActivity(ctx, f)
		return err
	})
	return page, err
}

func (tx *Tx) listActivity(ctx context.Context, f ActivityFilter) (*ActivityPage, error) {
	query, args, limit, err := tx.activityQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	items, err := tx.queryActivity(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	page := &ActivityPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := page.Items[limit-1]
		page.Cursor = MakeCursor(activityCursor{At: last.CreatedAt, ID: last.ID})
	}
	return page, nil
}

// activityQuery builds the SQL of one page (limit+1 rows) of f.
func (tx *Tx) activityQuery(ctx context.Context, f ActivityFilter) (string, []any, int, error) {
	if err := f.Validate(); err != nil {
		return "", nil, 0, err
	}
	// A tenant scope's own tenant, said in the query too: the policy's "workspace-wide OR this
	// tenant" cannot drive an index scan, the plain condition can. RLS still decides.
	if !tx.Scope.WorkspaceWide() && f.TenantID == uuid.Nil {
		f.TenantID = tx.Scope.TenantID
	}
	limit := f.Limit
	if limit == 0 {
		limit = 50
	}
	var cur activityCursor
	has, err := ParseCursor(f.Cursor, &cur)
	if err != nil {
		return "", nil, 0, err
	}
	since, err := tx.retentionStart(ctx)
	if err != nil {
		return "", nil, 0, err
	}
	if f.From != nil && f.From.After(since) {
		since = *f.From
	}
	var q string
	var args []any
	if strings.TrimSpace(f.Text) != "" {
		q, args = tx.searchActivity(f, since, has, cur, limit)
	} else {
		q, args = tx.filterActivity(f, since, has, cur, limit)
	}
	return q, args, limit, nil
}

// ExplainActivity returns the plan of f's first page as the app role in scope, executed.
func (d *DB) ExplainActivity(ctx context.Context, scope tenancy.Scope, f ActivityFilter) (string, error) {
	var plan strings.Builder
	err := d.InScope(ctx, scope, func(tx *Tx) error {
		q, args, _, err := tx.activityQuery(ctx, f)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "EXPLAIN (ANALYZE, COSTS OFF, BUFFERS OFF) "+q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan.WriteString(line + "\n")
		}
		return rows.Err()
	})
	return plan.String(), err
}

// filterActivity reads a page under RLS. Every filter has an index ending in (created_at, id), so
// the planner reads one index newest first and stops after the page. A multi-valued filter is a
// UNION ALL of one such read per value, merged: an IN list over an index cannot be read in
// created_at order, and sorting every match of a broad type would not stop early.
func (tx *Tx) filterActivity(f ActivityFilter, since time.Time, has bool, cur activityCursor, limit int) (string, []any) {
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	conds := []string{"a.workspace_id = " + arg(tx.Scope.WorkspaceID), "a.created_at >= " + arg(since)}
	if f.To != nil {
		conds = append(conds, "a.created_at < "+arg(*f.To))
	}
	if has {
		at, id := arg(cur.At), arg(cur.ID)
		conds = append(conds, "a.created_at <= "+at, "(a.created_at, a.id) < ("+at+", "+id+")")
	}
	if f.TenantID != uuid.Nil {
		conds = append(conds, "a.tenant_id = "+arg(f.TenantID))
	}
	if f.IntegrationID != uuid.Nil {
		conds = append(conds, "a.integration_id = "+arg(f.IntegrationID))
	}
	if f.ConnectionID != uuid.Nil {
		conds = append(conds, "a.connection_id = "+arg(f.ConnectionID))
	}
	if f.ElementID != uuid.Nil {
		conds = append(conds, "a.element_id = "+arg(f.ElementID))
	}
	if f.ActorID != "" {
		conds = append(conds, "a.actor_id = "+arg(f.ActorID))
	}
	// Single values become plain conditions; the multi-valued filter with the most values is
	// split into a UNION ALL; any other multi-valued filter stays an = ANY condition.
	multi := map[string][]string{"a.type": f.Types, "a.status": f.Statuses, "a.actor_type": f.ActorTypes}
	split, splitN := "", 1
	for col, vals := range multi {
		if len(vals) > splitN {
			split, splitN = col, len(vals)
		}
	}
	for col, vals := range multi {
		switch {
		case col == split || len(vals) == 0:
		case len(vals) == 1:
			conds = append(conds, col+" = "+arg(vals[0]))
		default:
			conds = append(conds, col+" = ANY("+arg(pq.Array(vals))+")")
		}
	}
	lim := fmt.Sprintf(" ORDER BY a.created_at DESC, a.id DESC LIMIT %d", limit+1)
	where := strings.Join(conds, " AND ")
	var query string
	if split == "" {
		query = `SELECT ` + activityColumns + ` FROM activity_log a WHERE ` + where + lim
	} else {
		parts := make([]string, len(multi[split]))
		for i, v := range multi[split] {
			parts[i] = `(SELECT ` + activityColumns + ` FROM activity_log a WHERE ` + where + ` AND ` + split + ` = ` + arg(v) + lim + `)`
		}
		query = `SELECT * FROM (` + strings.Join(parts, " UNION ALL ") + `) a` + strings.ReplaceAll(lim, "a.", "")
	}
	return query, args
}

// searchActivity finds a page of entries whose message contains the text: the definer function
// returns the page's keys (through the trigram index), and the rows are read under RLS.
func (tx *Tx) searchActivity(f ActivityFilter, since time.Time, has bool, cur activityCursor, limit int) (string, []any) {
	fj := map[string]any{}
	if f.TenantID != uuid.Nil {
		fj["tenant"] = f.TenantID
	}
	if len(f.Types) > 0 {
		fj["types"] = f.Types
	}
	if len(f.Statuses) > 0 {
		fj["statuses"] = f.Statuses
	}
	if f.IntegrationID != uuid.Nil {
		fj["integration"] = f.IntegrationID
	}
	if f.ConnectionID != uuid.Nil {
		fj["connection"] = f.ConnectionID
	}
	if f.ElementID != uuid.Nil {
		fj["element"] = f.ElementID
	}
	if len(f.ActorTypes) > 0 {
		fj["actors"] = f.ActorTypes
	}
	if f.ActorID != "" {
		fj["actorId"] = f.ActorID
	}
	if f.To != nil {
		fj["until"] = f.To.UTC().Format(time.RFC3339Nano)
	}
	fb, _ := json.Marshal(fj)
	var beforeAt, beforeID any
	if has {
		beforeAt, beforeID = cur.At, cur.ID
	}
	return `SELECT ` + activityColumns + ` FROM activity_log a
		JOIN app_private.search_activity_page($1, $2, $3, $4, $5, $6) k ON k.created_at = a.created_at AND k.id = a.id
		WHERE a.workspace_id = $7 AND a.created_at >= $5
		ORDER BY a.created_at DESC, a.id DESC`, []any{strings.TrimSpace(f.Text), string(fb), beforeAt, beforeID, since, limit + 1, tx.Scope.WorkspaceID}
}

func (tx *Tx) queryActivity(ctx context.Context, query string, args ...any) ([]*tenancy.ActivityEntry, error) {
	rows, err := tx.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("activity: %w", err)
	}
	defer rows.Close()
	var out []*tenancy.ActivityEntry
	for rows.Next() {
		e, err := scanActivity(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ActivityEntry finds one entry in scope by id.
func (tx *Tx) ActivityEntry(ctx context.Context, id uuid.UUID) (*tenancy.ActivityEntry, error) {
	since, err := tx.retentionStart(ctx)
	if err != nil {
		return nil, err
	}
	// The id is a UUIDv7: its time bounds the partition to look in.
	at := time.Unix(id.Time().UnixTime())
	items, err := tx.queryActivity(ctx, `SELECT `+activityColumns+` FROM activity_log a
		WHERE a.workspace_id = $1 AND a.id = $2 AND a.created_at >= $3 AND a.created_at BETWEEN $4 AND $5`,
		tx.Scope.WorkspaceID, id, since, at.Add(-24*time.Hour), at.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, tenancy.ErrNotFound
	}
	return items[0], nil
}

// EachActivity calls fn for every entry the filter selects (its Limit and Cursor ignored), newest
// first, reading a page at a time so an export of any size holds one page in memory. Each page is
// a lag-tolerant ListActivity: a replica that fails mid-export hands the next pages to the primary.
func (tx *Tx) EachActivity(ctx context.Context, f ActivityFilter, fn func(*tenancy.ActivityEntry) error) error {
	f.Limit, f.Cursor = 1000, ""
	for {
		page, err := tx.ListActivity(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page.Items {
			if err := fn(e); err != nil {
				return err
			}
		}
		if page.Cursor == "" {
			return nil
		}
		f.Cursor = page.Cursor
	}
}
