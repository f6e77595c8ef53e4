package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// Flow runs: queued by the API, claimed one at a time per connection by a worker in any server
// process (app_private.claim_flow_run, migration 00007), advanced step by step with a heartbeat,
// and ended completed, stopped or failed. A run whose process died (no heartbeat) is queued again
// by the next claim and resumes at its first unfinished step.

const flowRunColumns = `id, tenant_id, connection_id, flow_id, flow_key, state, start_node_key, input, output, steps, errors,
	launched_by, stop_requested, attempts, created_at, started_at, ended_at`

func scanFlowRun(row interface{ Scan(...any) error }) (*tenancy.FlowRun, error) {
	var r tenancy.FlowRun
	var input, output, steps, errs []byte
	var started, ended sql.NullTime
	if err := row.Scan(&r.ID, &r.TenantID, &r.ConnectionID, &r.FlowID, &r.FlowKey, &r.State, &r.StartNodeKey, &input, &output,
		&steps, &errs, &r.LaunchedBy, &r.StopRequested, &r.Attempts, &r.CreatedAt, &started, &ended); err != nil {
		return nil, err
	}
	_ = json.Unmarshal(input, &r.Input)
	if output != nil {
		_ = json.Unmarshal(output, &r.Output)
	}
	if err := json.Unmarshal(steps, &r.Steps); err != nil {
		return nil, fmt.Errorf("flow run steps: %w", err)
	}
	if err := json.Unmarshal(errs, &r.Errors); err != nil {
		return nil, fmt.Errorf("flow run errors: %w", err)
	}
	if started.Valid {
		r.StartedAt = &started.Time
	}
	if ended.Valid {
		r.EndedAt = &ended.Time
	}
	return &r, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// NewFlowRun is a run to queue.
type NewFlowRun struct {
	TenantID     uuid.UUID
	ConnectionID uuid.UUID
	FlowID       uuid.UUID
	FlowKey      string
	StartNodeKey string
	Input        any
	Steps        []tenancy.FlowStep // the flow's steps, all queued
}

// CreateFlowRun queues a run and records it.
func (tx *Tx) CreateFlowRun(ctx context.Context, in NewFlowRun) (*tenancy.FlowRun, error) {
	if in.Input == nil {
		in.Input = map[string]any{}
	}
	if in.Steps == nil {
		in.Steps = []tenancy.FlowStep{}
	}
	r, err := scanFlowRun(tx.QueryRowxContext(ctx, `INSERT INTO flow_runs (workspace_id, id, tenant_id, connection_id, flow_id, flow_key,
			start_node_key, input, steps)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING `+flowRunColumns, tx.Scope.WorkspaceID, tenancy.NewID(), in.TenantID,
		in.ConnectionID, in.FlowID, in.FlowKey, in.StartNodeKey, jsonText(in.Input), jsonText(in.Steps)))
	if err != nil {
		return nil, writeError("create flow run", err)
	}
	return r, tx.Record(ctx, Activity{Type: "flow.queued", TenantID: in.TenantID, ConnectionID: in.ConnectionID, ElementID: in.FlowID,
		Message: fmt.Sprintf("Flow %s queued", in.FlowKey), Details: map[string]any{"flowRunId": r.ID, "input": in.Input}})
}

// FlowRun finds a run in scope.
func (tx *Tx) FlowRun(ctx context.Context, id uuid.UUID) (*tenancy.FlowRun, error) {
	r, err := scanFlowRun(tx.QueryRowxContext(ctx, `SELECT `+flowRunColumns+` FROM flow_runs WHERE workspace_id = $1 AND id = $2`,
		tx.Scope.WorkspaceID, id))
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	return r, err
}

// FlowRunFilter selects runs.
type FlowRunFilter struct {
	TenantID     uuid.UUID
	ConnectionID uuid.UUID
	FlowID       uuid.UUID
	State        string
	From, To     *time.Time
	Limit        int
	Cursor       string
}

// FlowRunPage is one page of runs, newest first.
type FlowRunPage struct {
	Items  []*tenancy.FlowRun
	Cursor string
}

// ListFlowRuns lists runs in scope, newest first.
func (tx *Tx) ListFlowRuns(ctx context.Context, f FlowRunFilter) (*FlowRunPage, error) {
	switch f.State {
	case "", tenancy.RunQueued, tenancy.RunRunning, tenancy.RunCompleted, tenancy.RunStopped, tenancy.RunFailed:
	default:
		return nil, tenancy.Invalid("state", "must be queued, running, completed, stopped or failed")
	}
	limit := clampLimit(f.Limit)
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where := "workspace_id = " + arg(tx.Scope.WorkspaceID)
	if !tx.Scope.WorkspaceWide() {
		where += " AND tenant_id = " + arg(tx.Scope.TenantID)
	}
	if f.TenantID != uuid.Nil {
		where += " AND tenant_id = " + arg(f.TenantID)
	}
	if f.ConnectionID != uuid.Nil {
		where += " AND connection_id = " + arg(f.ConnectionID)
	}
	if f.FlowID != uuid.Nil {
		where += " AND flow_id = " + arg(f.FlowID)
	}
	if f.State != "" {
		where += " AND state = " + arg(f.State)
	}
	if f.From != nil {
		where += " AND created_at >= " + arg(*f.From)
	}
	if f.To != nil {
		where += " AND created_at < " + arg(*f.To)
	}
	var c listCursor
	has, err := ParseCursor(f.Cursor, &c)
	if err != nil {
		return nil, err
	}
	if has {
		where += fmt.Sprintf(" AND (created_at, id) < (%s, %s)", arg(c.At), arg(c.ID))
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+flowRunColumns+` FROM flow_runs WHERE `+where+
		fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("list flow runs: %w", err)
	}
	defer rows.Close()
	page := &FlowRunPage{}
	for rows.Next() {
		r, err := scanFlowRun(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	page.Items, page.Cursor = pageOf(page.Items, limit, func(r *tenancy.FlowRun) (time.Time, uuid.UUID) { return r.CreatedAt, r.ID })
	return page, nil
}

// StopFlowRun stops a queued run at once, and asks a running one to stop before its next step.
func (tx *Tx) StopFlowRun(ctx context.Context, id uuid.UUID) (*tenancy.FlowRun, error) {
	r, err := scanFlowRun(tx.QueryRowxContext(ctx, `SELECT `+flowRunColumns+` FROM flow_runs WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
		tx.Scope.WorkspaceID, id))
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	switch r.State {
	case tenancy.RunQueued:
		_, err = tx.ExecContext(ctx, `UPDATE flow_runs SET state = 'stopped', stop_requested = true, ended_at = now() WHERE workspace_id = $1 AND id = $2`,
			tx.Scope.WorkspaceID, id)
	case tenancy.RunRunning:
		_, err = tx.ExecContext(ctx, `UPDATE flow_runs SET stop_requested = true WHERE workspace_id = $1 AND id = $2`, tx.Scope.WorkspaceID, id)
	default:
		return r, nil
	}
	if err != nil {
		return nil, writeError("stop flow run", err)
	}
	if err := tx.Record(ctx, Activity{Type: "flow.stop-requested", TenantID: r.TenantID, ConnectionID: r.ConnectionID, ElementID: r.FlowID,
		Message: fmt.Sprintf("Stop of flow %s requested", r.FlowKey), Details: map[string]any{"flowRunId": id}}); err != nil {
		return nil, err
	}
	return tx.FlowRun(ctx, id)
}

// SaveFlowRunSteps stores a running run's progress and beats its heartbeat; it reports whether a
// stop was requested meanwhile.
func (tx *Tx) SaveFlowRunSteps(ctx context.Context, id uuid.UUID, steps []tenancy.FlowStep) (stop bool, err error) {
	err = tx.QueryRowxContext(ctx, `UPDATE flow_runs SET steps = $3, heartbeat_at = now() WHERE workspace_id = $1 AND id = $2
		RETURNING stop_requested`, tx.Scope.WorkspaceID, id, jsonText(steps)).Scan(&stop)
	if notFound(err) {
		return false, tenancy.ErrNotFound
	}
	return stop, err
}

// BeatFlowRun keeps a running run's heartbeat fresh during a long step.
func (tx *Tx) BeatFlowRun(ctx context.Context, id uuid.UUID) error {
	_, err := tx.ExecContext(ctx, `UPDATE flow_runs SET heartbeat_at = now() WHERE workspace_id = $1 AND id = $2 AND state = 'running'`,
		tx.Scope.WorkspaceID, id)
	return err
}

// FinishFlowRun ends a run (completed, stopped or failed) and records it with its duration.
func (tx *Tx) FinishFlowRun(ctx context.Context, r *tenancy.FlowRun, state string, output any, errs []tenancy.RunError) error {
	if errs == nil {
		errs = []tenancy.RunError{}
	}
	var started time.Time
	err := tx.QueryRowxContext(ctx, `UPDATE flow_runs SET state = $3, output = $4, errors = $5, steps = $6, ended_at = now(), heartbeat_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING coalesce(started_at, created_at)`, tx.Scope.WorkspaceID, r.ID, state,
		jsonText(output), jsonText(errs), jsonText(r.Steps)).Scan(&started)
	if err != nil {
		return writeError("finish flow run", err)
	}
	status, msg := "success", fmt.Sprintf("Flow %s completed", r.FlowKey)
	switch state {
	case tenancy.RunFailed:
		status, msg = "error", fmt.Sprintf("Flow %s failed", r.FlowKey)
		if len(errs) > 0 {
			msg += ": " + errs[0].Message
		}
	case tenancy.RunStopped:
		status, msg = "warning", fmt.Sprintf("Flow %s stopped", r.FlowKey)
	}
	ms := int(time.Since(started).Milliseconds())
	return tx.Record(ctx, Activity{Type: "flow.run", Status: status, TenantID: r.TenantID, ConnectionID: r.ConnectionID, ElementID: r.FlowID,
		Message: msg, DurationMS: &ms, Details: map[string]any{"flowRunId": r.ID, "input": r.Input, "output": TrimForLog(output), "errors": errs}})
}

// ClaimFlowRun takes the oldest runnable queued run of any workspace for this process (see
// app_private.claim_flow_run); ok is false when there is none.
func (d *DB) ClaimFlowRun(ctx context.Context, staleAfter time.Duration) (workspaceID, runID uuid.UUID, ok bool, err error) {
	tx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return uuid.Nil, uuid.Nil, false, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL ROLE "+AppRole); err != nil {
		return uuid.Nil, uuid.Nil, false, err
	}
	err = tx.QueryRowxContext(ctx, `SELECT workspace_id, id FROM app_private.claim_flow_run($1::interval)`,
		fmt.Sprintf("%d milliseconds", staleAfter.Milliseconds())).Scan(&workspaceID, &runID)
	if notFound(err) {
		return uuid.Nil, uuid.Nil, false, tx.Commit()
	}
	if err != nil {
		return uuid.Nil, uuid.Nil, false, fmt.Errorf("claim flow run: %w", err)
	}
	return workspaceID, runID, true, tx.Commit()
}

// TrimForLog keeps a run's output in the activity log small: JSON over 16 KiB is cut, with a note.
func TrimForLog(v any) any {
	b, err := json.Marshal(v)
	if err != nil || len(b) <= 16<<10 {
		return v
	}
	return map[string]any{"truncated": true, "bytes": len(b), "preview": string(b[:4<<10])}
}
