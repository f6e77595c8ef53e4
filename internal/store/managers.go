package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// CreateManager adds a person who can sign in; email is unique across Tenantry. It runs in the
// narrow lookup scope of that email, so it can create only that row.
func (d *DB) CreateManager(ctx context.Context, email, name, passwordHash string) (*tenancy.Manager, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	m := &tenancy.Manager{ID: tenancy.NewID(), Email: email, Name: name, PasswordHash: passwordHash, CreatedAt: time.Now()}
	err := d.lookup(ctx, "tenantry.lookup_manager_email", email, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO managers (id, email, name) VALUES ($1, $2, $3)`, m.ID, email, name)
		if isUniqueViolation(err, "") {
			return tenancy.ErrConflict
		}
		if err != nil {
			return fmt.Errorf("create manager: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO manager_passwords (manager_id, password_hash) VALUES ($1, $2)`, m.ID, passwordHash)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (tx *Tx) membershipsOf(ctx context.Context, managerID uuid.UUID) ([]tenancy.Membership, error) {
	rows, err := tx.QueryxContext(ctx, `SELECT ms.workspace_id, w.key, w.name, ms.manager_id, ms.role
		FROM memberships ms JOIN workspaces w ON w.id = ms.workspace_id
		WHERE ms.manager_id = $1 ORDER BY w.name`, managerID)
	if err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	defer rows.Close()
	var out []tenancy.Membership
	for rows.Next() {
		var m tenancy.Membership
		if err := rows.Scan(&m.WorkspaceID, &m.WorkspaceKey, &m.WorkspaceName, &m.ManagerID, &m.Role); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Member is a manager as seen from one workspace.
type Member struct {
	ManagerID uuid.UUID
	Email     string
	Name      string
	Role      tenancy.Role
	Since     time.Time
}

// ListMembers returns the workspace's managers.
func (tx *Tx) ListMembers(ctx context.Context) ([]Member, error) {
	var out []Member
	rows, err := tx.QueryxContext(ctx, `SELECT m.id, m.email, m.name, ms.role, ms.created_at
		FROM memberships ms JOIN managers m ON m.id = ms.manager_id
		WHERE ms.workspace_id = $1 ORDER BY m.email`, tx.Scope.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.ManagerID, &m.Email, &m.Name, &m.Role, &m.Since); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// SetMembership gives a manager a role in the scope's workspace (adding or changing it). Taking
// the last admin's admin role away fails with ErrLastAdmin.
func (tx *Tx) SetMembership(ctx context.Context, managerID uuid.UUID, role tenancy.Role) error {
	if !role.Valid() {
		return tenancy.Invalid("role", "must be admin or support")
	}
	// Lock the workspace's memberships so two concurrent demotions cannot both pass the check.
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE`, tx.Scope.WorkspaceID); err != nil {
		return fmt.Errorf("lock workspace: %w", err)
	}
	if role != tenancy.RoleAdmin {
		if err := tx.ensureOtherAdmin(ctx, managerID); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO memberships (workspace_id, manager_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (workspace_id, manager_id) DO UPDATE SET role = excluded.role`, tx.Scope.WorkspaceID, managerID, role)
	if err != nil {
		return fmt.Errorf("set membership: %w", err)
	}
	return nil
}

// RemoveMembership takes a manager out of the workspace and ends their sessions in it.
func (tx *Tx) RemoveMembership(ctx context.Context, managerID uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE`, tx.Scope.WorkspaceID); err != nil {
		return fmt.Errorf("lock workspace: %w", err)
	}
	if err := tx.ensureOtherAdmin(ctx, managerID); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE workspace_id = $1 AND manager_id = $2`, tx.Scope.WorkspaceID, managerID)
	if err != nil {
		return fmt.Errorf("remove membership: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tenancy.ErrNotFound
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM manager_sessions WHERE workspace_id = $1 AND manager_id = $2`, tx.Scope.WorkspaceID, managerID)
	return err
}

// ensureOtherAdmin fails with ErrLastAdmin when managerID is the workspace's only admin.
func (tx *Tx) ensureOtherAdmin(ctx context.Context, managerID uuid.UUID) error {
	var others int
	err := tx.GetContext(ctx, &others, `SELECT count(*) FROM memberships
		WHERE workspace_id = $1 AND role = 'admin' AND manager_id <> $2`, tx.Scope.WorkspaceID, managerID)
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if others == 0 {
		var isAdmin bool
		if err := tx.GetContext(ctx, &isAdmin, `SELECT EXISTS (SELECT 1 FROM memberships
			WHERE workspace_id = $1 AND manager_id = $2 AND role = 'admin')`, tx.Scope.WorkspaceID, managerID); err != nil {
			return err
		}
		if isAdmin {
			return tenancy.ErrLastAdmin
		}
	}
	return nil
}

// SessionTTL is how long a Console session lasts without signing in again.
const SessionTTL = 12 * time.Hour

// HashSessionToken is what the database keeps of a session token.
func HashSessionToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateSession records a new session for a manager in a workspace they belong to. token is the
// random value the cookie will carry.
func (d *DB) CreateSession(ctx context.Context, managerID, workspaceID uuid.UUID, token string) error {
	return d.lookup(ctx, "tenantry.manager_id", managerID.String(), func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO manager_sessions (workspace_id, token_hash, manager_id, expires_at)
			SELECT $1, $2, $3, now() + $4 * interval '1 second'
			WHERE EXISTS (SELECT 1 FROM memberships WHERE workspace_id = $1 AND manager_id = $3)`,
			workspaceID, HashSessionToken(token), managerID, SessionTTL.Seconds())
		if err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tenancy.ErrForbidden // not (or no longer) a member of that workspace
		}
		return nil
	})
}

// DeleteSession ends one session (sign-out).
func (d *DB) DeleteSession(ctx context.Context, s *Session) error {
	return d.lookup(ctx, "tenantry.manager_id", s.ManagerID.String(), func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM manager_sessions WHERE token_hash = $1 OR expires_at < now()`, s.TokenHash)
		return err
	})
}
