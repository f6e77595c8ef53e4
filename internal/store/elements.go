package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// Element kinds on the workspace and tenant levels.
const (
	KindConnector    = "connector"
	KindAction       = "action"
	KindFlow         = "flow"
	KindDataSource   = "data-source"
	KindFieldMapping = "field-mapping"
)

// NewElement is a workspace element (a template tenants read) to create.
type NewElement struct {
	Kind          string
	Key           string
	Name          string
	IntegrationID uuid.UUID
	Config        map[string]any
}

// CreateWorkspaceElement adds a template element to the scope's workspace.
func (tx *Tx) CreateWorkspaceElement(ctx context.Context, in NewElement) (uuid.UUID, error) {
	cfg, err := json.Marshal(in.Config)
	if err != nil || in.Config == nil {
		cfg = []byte("{}")
	}
	id := tenancy.NewID()
	_, err = tx.ExecContext(ctx, `INSERT INTO elements (workspace_id, id, kind, key, name, integration_id, config)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, tx.Scope.WorkspaceID, id, in.Kind, in.Key, in.Name, nullUUID(in.IntegrationID), string(cfg))
	if isUniqueViolation(err, "") {
		return uuid.Nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key", Message: fmt.Sprintf("a %s with key %q already exists", in.Kind, in.Key)}}}
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("create element: %w", err)
	}
	return id, tx.Record(ctx, Activity{Type: in.Kind + ".created", ElementID: id, IntegrationID: in.IntegrationID,
		Message: fmt.Sprintf("%s %s created", in.Kind, in.Key)})
}
