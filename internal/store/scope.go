package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"tenantry/internal/tenancy"
)

// Tx is a scoped transaction: the queries run as the app role, limited by row-level security to
// Scope. Store methods take it; handlers never see it.
type Tx struct {
	*sqlx.Tx
	Scope tenancy.Scope
	db    *DB
}

// ErrNoScope is returned when a scoped call is made without a workspace.
var ErrNoScope = errors.New("store: no workspace in scope")

// InScope runs fn in one transaction that first becomes the app role and sets the scope as
// transaction-local settings, so they vanish with the transaction and never reach the next user
// of the pooled connection. fn's error rolls everything back.
func (d *DB) InScope(ctx context.Context, scope tenancy.Scope, fn func(tx *Tx) error) error {
	if scope.WorkspaceID == uuid.Nil {
		return ErrNoScope
	}
	tenant := "*"
	if !scope.WorkspaceWide() {
		tenant = scope.TenantID.String()
	}
	return d.withSettings(ctx, scope, map[string]string{
		"tenantry.workspace_id": scope.WorkspaceID.String(),
		"tenantry.tenant_id":    tenant,
	}, fn)
}

// withSettings opens a transaction as the app role with the given settings. The settings are
// inlined into one simple-protocol statement, so scoping costs one round trip; that is safe only
// because every value is a UUID the server produced or a string quoted by quoteLiteral here,
// never raw request input in SQL position.
func (d *DB) withSettings(ctx context.Context, scope tenancy.Scope, settings map[string]string, fn func(tx *Tx) error) (err error) {
	sqlTx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	stmt := "SET LOCAL ROLE " + AppRole
	for k, v := range settings {
		stmt += "; SELECT set_config(" + quoteLiteral(k) + ", " + quoteLiteral(v) + ", true)"
	}
	if _, err = sqlTx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("store: set scope: %w", err)
	}
	if err = fn(&Tx{Tx: sqlTx, Scope: scope, db: d}); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// quoteLiteral quotes s as a PostgreSQL string literal (standard_conforming_strings on).
func quoteLiteral(s string) string {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		if s[i] == 0 {
			continue
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
