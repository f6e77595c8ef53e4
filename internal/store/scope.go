package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

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
	sqlTx, err := d.db.BeginTxx(ctx, d.txOptions) // nil, except read-only on a replica (replica.go)
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
		return inputError(err)
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

// ReadScoped runs one read-only query in scope in a single round trip, in an implicit transaction
// of its own, so the settings vanish with it. Concurrent calls share one pipelined batch of
// prepared statements (readbatch.go), so fn runs on a worker goroutine, may be called again after
// a failed attempt and must overwrite, not accumulate. query takes no parameters and must only
// read: it names the scope through app.workspace_id() and app.tenant_id(), never request input.
func (d *DB) ReadScoped(ctx context.Context, scope tenancy.Scope, query string, fn func(rows *ScopedRows) error) error {
	ws, tenant, err := scopeSettings(scope)
	if err != nil {
		return err
	}
	return d.reads.read(ctx, d, &scopedRead{workspaceID: ws, tenant: tenant, query: query, fn: fn})
}

// execScoped is ReadScoped for one statement that writes: its own message, never coalesced, never
// retried.
func (d *DB) execScoped(ctx context.Context, scope tenancy.Scope, query string, fn func(rows *ScopedRows) error) error {
	ws, tenant, err := scopeSettings(scope)
	if err != nil {
		return err
	}
	return d.readScopedOnce(ctx, scopeSelect(ws, tenant), query, fn)
}

// scopeSettings are the values of tenantry.workspace_id and tenantry.tenant_id for scope.
func scopeSettings(scope tenancy.Scope) (workspaceID, tenant string, err error) {
	if scope.WorkspaceID == uuid.Nil {
		return "", "", ErrNoScope
	}
	tenant = "*"
	if !scope.WorkspaceWide() {
		tenant = scope.TenantID.String()
	}
	return scope.WorkspaceID.String(), tenant, nil
}

// inputError turns PostgreSQL's refusals of a value (data exceptions such as a NUL byte in text
// or a number out of range, and CHECK violations) into validation errors: they are bad input,
// a 4xx, not a server fault.
func inputError(err error) error {
	var pe *pq.Error
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	if strings.HasPrefix(string(pe.Code), "22") || pe.Code == "23514" {
		field := ""
		if pe.Column != "" {
			field = pe.Column
		}
		return &tenancy.ValidationError{Fields: []tenancy.FieldError{{Path: field, Message: "value cannot be stored: " + pe.Message}}}
	}
	return err
}
