package store

// Tenant portal sessions (migration 00006): a tenant token, exchanged once at /portal/activity,
// becomes a short-lived session whose random token travels in a cookie; the database keeps only
// its SHA-256. A session is created in its tenant's scope and found by its token before a scope
// exists, like a Console session.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// PortalSessionTTL is how long a tenant portal session lasts; the company's app opens the portal
// again with a fresh token after that.
const PortalSessionTTL = time.Hour

// portalSessionKeep is how long an expired session is kept, so that its page can still say
// "reopen it from the app" inside the workspace's frames.
const portalSessionKeep = 24 * time.Hour

// PortalSession is a tenant's portal session, resolved from its cookie token, with what every
// portal page needs: the tenant and the workspace's allowed origins (for frame-ancestors).
type PortalSession struct {
	TokenHash        []byte
	WorkspaceID      uuid.UUID
	TenantID         uuid.UUID
	TenantName       string
	TenantInternalID string
	TenantArchived   bool
	WorkspaceName    string
	AllowedOrigins   []string
	ExpiresAt        time.Time
	Expired          bool
}

// Scope is the tenant scope the session's reads run in.
func (s *PortalSession) Scope() tenancy.Scope { return tenancy.TenantScope(s.WorkspaceID, s.TenantID) }

// CreatePortalSession records a new portal session for the scope's tenant; token is the random
// value the cookie will carry. Only a tenant scope may create one. The tenant's sessions that
// expired long ago are cleared on the way.
func (tx *Tx) CreatePortalSession(ctx context.Context, token string, ttl time.Duration) error {
	if tx.Scope.WorkspaceWide() {
		return tenancy.ErrForbidden
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE workspace_id = $1 AND tenant_id = $2
		AND expires_at < now() - $3 * interval '1 second'`, tx.Scope.WorkspaceID, tx.Scope.TenantID, portalSessionKeep.Seconds()); err != nil {
		return fmt.Errorf("clear portal sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO portal_sessions (workspace_id, token_hash, tenant_id, expires_at)
		VALUES ($1, $2, $3, now() + $4 * interval '1 second')`,
		tx.Scope.WorkspaceID, HashSessionToken(token), tx.Scope.TenantID, ttl.Seconds()); err != nil {
		return fmt.Errorf("create portal session: %w", err)
	}
	return nil
}

// LookupPortalSession resolves a portal session token, outside any scope. A session that expired
// (within the last day) is returned with Expired set, so its page can be framed as the workspace
// allows; one that does not exist, or expired longer ago, is ErrNotFound.
func (d *DB) LookupPortalSession(ctx context.Context, tokenHash []byte) (*PortalSession, error) {
	s := &PortalSession{TokenHash: tokenHash}
	err := d.lookup(ctx, "tenantry.portal_session_hash", hex.EncodeToString(tokenHash), func(tx *Tx) error {
		err := tx.QueryRowxContext(ctx, `SELECT workspace_id, tenant_id, expires_at, expires_at <= now() FROM portal_sessions
			WHERE token_hash = $1 AND expires_at > now() - $2 * interval '1 second'`, tokenHash, portalSessionKeep.Seconds()).
			Scan(&s.WorkspaceID, &s.TenantID, &s.ExpiresAt, &s.Expired)
		if notFound(err) {
			return tenancy.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("lookup portal session: %w", err)
		}
		// From here on the transaction is the session's tenant scope; the values are the ids the
		// database just returned.
		if _, err := tx.ExecContext(ctx, `SELECT set_config('tenantry.workspace_id', $1, true), set_config('tenantry.tenant_id', $2, true)`,
			s.WorkspaceID.String(), s.TenantID.String()); err != nil {
			return err
		}
		var origins []byte
		err = tx.QueryRowxContext(ctx, `SELECT t.name, t.internal_id, t.archived_at IS NOT NULL, w.name,
				coalesce(w.settings->'allowedOrigins', '[]')
			FROM tenants t JOIN workspaces w ON w.id = t.workspace_id
			WHERE t.workspace_id = $1 AND t.id = $2`, s.WorkspaceID, s.TenantID).
			Scan(&s.TenantName, &s.TenantInternalID, &s.TenantArchived, &s.WorkspaceName, &origins)
		if notFound(err) {
			return tenancy.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("lookup portal session: %w", err)
		}
		if err := json.Unmarshal(origins, &s.AllowedOrigins); err != nil {
			s.AllowedOrigins = nil // not a list: no origin allowed
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// EndPortalSession deletes a portal session by its token (a new token replaces it).
func (d *DB) EndPortalSession(ctx context.Context, tokenHash []byte) error {
	return d.lookup(ctx, "tenantry.portal_session_hash", hex.EncodeToString(tokenHash), func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE token_hash = $1`, tokenHash)
		return err
	})
}
