package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// Activity is one entry for the activity log. Record fills in the workspace, actor, time and
// request id from the transaction's scope and context.
type Activity struct {
	Type          string // tenant.created, settings.updated, …
	Status        string // success (default), warning, error
	TenantID      uuid.UUID
	ConnectionID  uuid.UUID
	IntegrationID uuid.UUID
	ElementID     uuid.UUID
	Message       string
	Details       map[string]any
	DurationMS    *int
}

// Record appends an entry in the same transaction as the change it describes, so the change and
// its record land together or not at all.
func (tx *Tx) Record(ctx context.Context, a Activity) error {
	if a.Status == "" {
		a.Status = "success"
	}
	details := a.Details
	if details == nil {
		details = map[string]any{}
	}
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("activity details: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO activity_log (workspace_id, id, tenant_id, type, status, actor_type, actor_id,
			connection_id, integration_id, element_id, message, details, duration_ms, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		tx.Scope.WorkspaceID, tenancy.NewID(), nullUUID(a.TenantID), a.Type, a.Status, string(tx.Scope.Actor.Type), tx.Scope.Actor.ID,
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
