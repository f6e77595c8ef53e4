package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

const workspaceColumns = `id, key, name, settings, tenant_field_schema, secret_rotated_at, prev_secret_expires_at, created_at, updated_at`

func scanWorkspace(row interface{ Scan(...any) error }, w *tenancy.Workspace, extra ...any) error {
	var settings, schema []byte
	var prevExp sql.NullTime
	dest := append([]any{&w.ID, &w.Key, &w.Name, &settings, &schema, &w.SecretRotatedAt, &prevExp, &w.CreatedAt, &w.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return err
	}
	if prevExp.Valid {
		w.PrevSecretExpiresAt = &prevExp.Time
	}
	if err := json.Unmarshal(settings, &w.Settings); err != nil {
		return fmt.Errorf("workspace settings: %w", err)
	}
	if err := json.Unmarshal(schema, &w.TenantFieldSchema); err != nil {
		return fmt.Errorf("tenant field schema: %w", err)
	}
	return nil
}

// newWorkspaceSecret returns a random HMAC secret, printable so it can be pasted into a config.
func newWorkspaceSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func secretAAD(workspaceID uuid.UUID) []byte {
	return []byte("workspace:" + workspaceID.String() + ":secret")
}

// CreateWorkspace creates a workspace and returns it with its secret in clear: the only time the
// secret is shown.
func (d *DB) CreateWorkspace(ctx context.Context, key, name string) (*tenancy.Workspace, string, error) {
	id := tenancy.NewID()
	secret := newWorkspaceSecret()
	var w tenancy.Workspace
	err := d.InScope(ctx, tenancy.SystemScope(id), func(tx *Tx) error {
		row := tx.QueryRowxContext(ctx, `INSERT INTO workspaces (id, key, name, secret_enc) VALUES ($1, $2, $3, $4)
			RETURNING `+workspaceColumns, id, key, name, d.keys.Seal([]byte(secret), secretAAD(id)))
		if err := scanWorkspace(row, &w); err != nil {
			if isUniqueViolation(err, "") {
				return tenancy.ErrConflict
			}
			if pqCode(err) == "23514" {
				return tenancy.Invalid("key", "use 2-63 lowercase letters, digits, - or _")
			}
			return fmt.Errorf("create workspace: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return &w, secret, nil
}

// Workspace returns the scope's workspace.
func (tx *Tx) Workspace(ctx context.Context) (*tenancy.Workspace, error) {
	var w tenancy.Workspace
	err := scanWorkspace(tx.QueryRowxContext(ctx, `SELECT `+workspaceColumns+` FROM workspaces WHERE id = $1`, tx.Scope.WorkspaceID), &w)
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get workspace: %w", err)
	}
	return &w, nil
}

// workspaceAuth reads a workspace with its secrets decrypted.
func (tx *Tx) workspaceAuth(ctx context.Context, where string, arg any) (*WorkspaceAuth, error) {
	var wa WorkspaceAuth
	var secretEnc, prevEnc []byte
	err := scanWorkspace(tx.QueryRowxContext(ctx, `SELECT `+workspaceColumns+`, secret_enc, prev_secret_enc FROM workspaces WHERE `+where, arg),
		&wa.Workspace, &secretEnc, &prevEnc)
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get workspace: %w", err)
	}
	aad := secretAAD(wa.Workspace.ID)
	if wa.Secret, err = tx.db.keys.Open(secretEnc, aad); err != nil {
		return nil, fmt.Errorf("workspace %s secret: %w", wa.Workspace.Key, err)
	}
	if prevEnc != nil && wa.Workspace.PrevSecretExpiresAt != nil && time.Now().Before(*wa.Workspace.PrevSecretExpiresAt) {
		if wa.PrevSecret, err = tx.db.keys.Open(prevEnc, aad); err != nil {
			return nil, fmt.Errorf("workspace %s previous secret: %w", wa.Workspace.Key, err)
		}
	}
	return &wa, nil
}

// WorkspaceSecret returns the scope's workspace with its current secret, for signing tokens.
func (tx *Tx) WorkspaceSecret(ctx context.Context) (*WorkspaceAuth, error) {
	return tx.workspaceAuth(ctx, "id = $1", tx.Scope.WorkspaceID)
}

// RotateWorkspaceSecret replaces the secret; the old one keeps verifying tokens for overlap.
// It returns the new secret in clear, the only time it is shown.
func (tx *Tx) RotateWorkspaceSecret(ctx context.Context, overlap time.Duration) (string, error) {
	secret := newWorkspaceSecret()
	res, err := tx.ExecContext(ctx, `UPDATE workspaces SET prev_secret_enc = secret_enc,
			prev_secret_expires_at = now() + $3 * interval '1 second', secret_enc = $2,
			secret_rotated_at = now(), updated_at = now()
		WHERE id = $1`, tx.Scope.WorkspaceID, tx.db.keys.Seal([]byte(secret), secretAAD(tx.Scope.WorkspaceID)), overlap.Seconds())
	if err != nil {
		return "", fmt.Errorf("rotate secret: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", tenancy.ErrForbidden
	}
	return secret, nil
}
