package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// Integration is an external app the workspace supports.
type Integration struct {
	ID        uuid.UUID `db:"id"`
	Key       string    `db:"key"`
	Name      string    `db:"name"`
	LogoURI   string    `db:"logo_uri"`
	BaseURL   string    `db:"base_url"`
	AuthType  string    `db:"auth_type"` // none, api-key-header, bearer, basic
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

// CreateIntegration adds an integration to the scope's workspace.
func (tx *Tx) CreateIntegration(ctx context.Context, in Integration) (*Integration, error) {
	if in.AuthType == "" {
		in.AuthType = "none"
	}
	in.ID = tenancy.NewID()
	err := tx.QueryRowxContext(ctx, `INSERT INTO integrations (workspace_id, id, key, name, logo_uri, base_url, auth_type)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at, updated_at`,
		tx.Scope.WorkspaceID, in.ID, in.Key, in.Name, in.LogoURI, in.BaseURL, in.AuthType).Scan(&in.CreatedAt, &in.UpdatedAt)
	if isUniqueViolation(err, "") {
		return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key", Message: fmt.Sprintf("an integration with key %q already exists", in.Key)}}}
	}
	if err != nil {
		return nil, fmt.Errorf("create integration: %w", err)
	}
	return &in, tx.Record(ctx, Activity{Type: "integration.created", IntegrationID: in.ID, Message: "Integration " + in.Key + " created"})
}
