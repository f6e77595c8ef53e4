package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// Integrations are workspace level only: every scope of the workspace reads them, only a
// workspace-wide one writes (the policy, not only this code, refuses tenant writes).

const integrationColumns = `id, key, name, logo_uri, base_url, auth_type, created_at, updated_at, archived_at`

func scanIntegration(row interface{ Scan(...any) error }) (*tenancy.Integration, error) {
	var in tenancy.Integration
	var archived sql.NullTime
	if err := row.Scan(&in.ID, &in.Key, &in.Name, &in.LogoURI, &in.BaseURL, &in.AuthType, &in.CreatedAt, &in.UpdatedAt, &archived); err != nil {
		return nil, err
	}
	if archived.Valid {
		in.ArchivedAt = &archived.Time
	}
	return &in, nil
}

// IntegrationInput is an integration's editable properties.
type IntegrationInput struct {
	Key      string `validate:"required"`
	Name     string
	LogoURI  string
	BaseURL  string
	AuthType string // none (default), api-key-header, bearer, basic
}

// Validate checks the input; problems are named key, name, logoUri, baseUrl, authType.
func (in *IntegrationInput) Validate() error {
	verr := &tenancy.ValidationError{}
	if in.AuthType == "" {
		in.AuthType = "none"
	}
	if in.Name == "" {
		in.Name = in.Key
	}
	if !tenancy.ValidKey(in.Key) {
		verr.Add("key", "must be 1–100 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if len(in.Name) > 200 || strings.ContainsRune(in.Name, 0) {
		verr.Add("name", "must be at most 200 characters, without NUL")
	}
	checkURL(verr, "logoUri", in.LogoURI)
	checkURL(verr, "baseUrl", in.BaseURL)
	if !slices.Contains(tenancy.AuthTypes, in.AuthType) {
		verr.Add("authType", "must be one of %s", strings.Join(tenancy.AuthTypes, ", "))
	}
	return verr.Err()
}

func checkURL(verr *tenancy.ValidationError, path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(s) > 2000 {
		verr.Add(path, "must be an http or https URL of at most 2000 characters")
	}
}

// CreateIntegration adds an integration to the scope's workspace.
func (tx *Tx) CreateIntegration(ctx context.Context, in IntegrationInput) (*tenancy.Integration, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	out, err := scanIntegration(tx.QueryRowxContext(ctx, `INSERT INTO integrations (workspace_id, id, key, name, logo_uri, base_url, auth_type)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+integrationColumns,
		tx.Scope.WorkspaceID, tenancy.NewID(), in.Key, in.Name, in.LogoURI, in.BaseURL, in.AuthType))
	if isUniqueViolation(err, "") {
		return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key", Message: fmt.Sprintf("an integration with key %q already exists", in.Key)}}}
	}
	if err != nil {
		return nil, writeError("create integration", err)
	}
	return out, tx.Record(ctx, Activity{Type: "integration.created", IntegrationID: out.ID, Message: "Integration " + out.Key + " created"})
}

// UpdateIntegration replaces an integration's editable properties.
func (tx *Tx) UpdateIntegration(ctx context.Context, id uuid.UUID, in IntegrationInput) (*tenancy.Integration, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	out, err := scanIntegration(tx.QueryRowxContext(ctx, `UPDATE integrations SET key = $3, name = $4, logo_uri = $5, base_url = $6,
			auth_type = $7, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+integrationColumns,
		tx.Scope.WorkspaceID, id, in.Key, in.Name, in.LogoURI, in.BaseURL, in.AuthType))
	if isUniqueViolation(err, "") {
		return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key", Message: fmt.Sprintf("an integration with key %q already exists", in.Key)}}}
	}
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, writeError("update integration", err)
	}
	return out, tx.Record(ctx, Activity{Type: "integration.updated", IntegrationID: out.ID, Message: "Integration " + out.Key + " updated"})
}

// SetIntegrationArchived archives (hides from lists, keeps connections) or restores an integration.
func (tx *Tx) SetIntegrationArchived(ctx context.Context, id uuid.UUID, archived bool) (*tenancy.Integration, error) {
	var at *time.Time
	typ, verb := "integration.restored", "restored"
	if archived {
		now := time.Now()
		at, typ, verb = &now, "integration.archived", "archived"
	}
	out, err := scanIntegration(tx.QueryRowxContext(ctx, `UPDATE integrations SET archived_at = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+integrationColumns, tx.Scope.WorkspaceID, id, at))
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, writeError("archive integration", err)
	}
	return out, tx.Record(ctx, Activity{Type: typ, IntegrationID: out.ID, Message: "Integration " + out.Key + " " + verb})
}

// Integration finds an integration by id or key.
func (tx *Tx) Integration(ctx context.Context, selector string) (*tenancy.Integration, error) {
	var row interface{ Scan(...any) error }
	if id, err := uuid.Parse(selector); err == nil {
		row = tx.QueryRowxContext(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE workspace_id = $1 AND id = $2`, tx.Scope.WorkspaceID, id)
	} else {
		row = tx.QueryRowxContext(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE workspace_id = $1 AND key = $2`, tx.Scope.WorkspaceID, selector)
	}
	out, err := scanIntegration(row)
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	return out, err
}

// IntegrationFilter selects integrations.
type IntegrationFilter struct {
	Search          string
	IncludeArchived bool
	Limit           int
	Cursor          string
}

// IntegrationPage is one page of integrations, oldest first.
type IntegrationPage struct {
	Items  []*tenancy.Integration
	Cursor string
}

// ListIntegrations lists the workspace's integrations.
func (tx *Tx) ListIntegrations(ctx context.Context, f IntegrationFilter) (*IntegrationPage, error) {
	q := newListQuery(tx.Scope.WorkspaceID, f.Limit)
	if !f.IncludeArchived {
		q.where("archived_at IS NULL")
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		p := q.arg("%" + escapeLike(strings.ToLower(s)) + "%")
		q.where("(lower(key) LIKE " + p + " OR lower(name) LIKE " + p + ")")
	}
	if err := q.after(f.Cursor, ""); err != nil {
		return nil, err
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+integrationColumns+` FROM integrations WHERE `+q.sql(""), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", err)
	}
	defer rows.Close()
	page := &IntegrationPage{}
	for rows.Next() {
		in, err := scanIntegration(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, in)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	page.Items, page.Cursor = pageOf(page.Items, q.limit, func(in *tenancy.Integration) (time.Time, uuid.UUID) { return in.CreatedAt, in.ID })
	return page, nil
}
