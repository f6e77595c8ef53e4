package store

// Lookups that happen before a scope exists: a workspace by its key (to verify a token), a
// manager by email (sign-in), a session by its token (every Console request). Each still runs as
// the app role, but with one narrow setting that the policies of workspaces, managers and
// manager_sessions accept instead of a workspace scope, so each can see only the row it asks for.

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// lookup runs fn as the app role with only the named setting set; the value travels as a
// parameter, never inlined, because it comes from the request.
func (d *DB) lookup(ctx context.Context, setting, value string, fn func(tx *Tx) error) error {
	return d.withSettings(ctx, tenancy.Scope{}, nil, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT set_config($1, $2, true)", setting, value); err != nil {
			return fmt.Errorf("store: lookup setting: %w", err)
		}
		return fn(tx)
	})
}

// WorkspaceAuth is what verifying a token needs: the workspace and its current (and, during a
// rotation's overlap, previous) secret in clear.
type WorkspaceAuth struct {
	Workspace  tenancy.Workspace
	Secret     []byte
	PrevSecret []byte // nil when there is none or its overlap has ended
}

// LookupWorkspaceByKey finds a workspace by its public key, outside any scope.
func (d *DB) LookupWorkspaceByKey(ctx context.Context, key string) (*WorkspaceAuth, error) {
	var wa *WorkspaceAuth
	err := d.lookup(ctx, "tenantry.lookup_workspace_key", key, func(tx *Tx) error {
		var err error
		wa, err = tx.workspaceAuth(ctx, "key = $1", key)
		return err
	})
	return wa, err
}

// LookupManagerByEmail finds a manager and their workspaces by email, for sign-in.
func (d *DB) LookupManagerByEmail(ctx context.Context, email string) (*tenancy.Manager, []tenancy.Membership, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var m tenancy.Manager
	var ms []tenancy.Membership
	err := d.lookup(ctx, "tenantry.lookup_manager_email", email, func(tx *Tx) error {
		err := tx.QueryRowxContext(ctx, `SELECT m.id, m.email, m.name, coalesce(p.password_hash, ''), m.created_at
			FROM managers m LEFT JOIN manager_passwords p ON p.manager_id = m.id WHERE m.email = $1`, email).
			Scan(&m.ID, &m.Email, &m.Name, &m.PasswordHash, &m.CreatedAt)
		if err != nil {
			if notFound(err) {
				return tenancy.ErrNotFound
			}
			return fmt.Errorf("lookup manager: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "SELECT set_config('tenantry.manager_id', $1, true)", m.ID.String()); err != nil {
			return err
		}
		ms, err = tx.membershipsOf(ctx, m.ID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return &m, ms, nil
}

// Session is a signed-in manager's Console session, resolved from its cookie token.
type Session struct {
	TokenHash     []byte
	ManagerID     uuid.UUID
	Email         string
	Name          string
	WorkspaceID   uuid.UUID
	WorkspaceKey  string
	WorkspaceName string
	Role          tenancy.Role
}

// Scope returns the workspace-wide scope the session's manager acts in.
func (s *Session) Scope() tenancy.Scope {
	return tenancy.WorkspaceScope(s.WorkspaceID, tenancy.Actor{Type: tenancy.ActorManager, ID: s.ManagerID.String(), Role: s.Role})
}

// LookupSession resolves a session token. A session whose manager has lost their membership, or
// that has expired, is not found.
func (d *DB) LookupSession(ctx context.Context, tokenHash []byte) (*Session, error) {
	s := &Session{TokenHash: tokenHash}
	err := d.lookup(ctx, "tenantry.session_hash", hex.EncodeToString(tokenHash), func(tx *Tx) error {
		err := tx.QueryRowxContext(ctx, `SELECT manager_id, workspace_id FROM manager_sessions
			WHERE token_hash = $1 AND expires_at > now()`, tokenHash).Scan(&s.ManagerID, &s.WorkspaceID)
		if notFound(err) {
			return tenancy.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("lookup session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `SELECT set_config('tenantry.manager_id', $1, true), set_config('tenantry.workspace_id', $2, true)`,
			s.ManagerID.String(), s.WorkspaceID.String()); err != nil {
			return err
		}
		err = tx.QueryRowxContext(ctx, `SELECT m.email, m.name, ms.role, w.key, w.name
			FROM memberships ms JOIN managers m ON m.id = ms.manager_id JOIN workspaces w ON w.id = ms.workspace_id
			WHERE ms.manager_id = $1 AND ms.workspace_id = $2`, s.ManagerID, s.WorkspaceID).
			Scan(&s.Email, &s.Name, &s.Role, &s.WorkspaceKey, &s.WorkspaceName)
		if notFound(err) {
			return tenancy.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
