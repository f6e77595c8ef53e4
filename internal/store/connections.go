package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"tenantry/internal/tenancy"
)

// Connections are tenant only: one tenant's authenticated link to one integration. Credentials
// are sealed with the key ring (bound to workspace, tenant and connection) and only which keys
// are set is kept in clear. Archiving a tenant deactivates its connections (tenants_write.go).

const connectionSelect = `SELECT c.id, c.tenant_id, t.internal_id, t.name, c.integration_id, i.key, i.name, c.name, coalesce(c.key, ''),
	c.state, c.disconnected, c.is_test, c.credentials_meta, c.meta, c.created_at, c.updated_at, c.last_active_at, c.archived_at, c.deactivated_at
	FROM connections c
	JOIN tenants t ON t.workspace_id = c.workspace_id AND t.id = c.tenant_id
	JOIN integrations i ON i.workspace_id = c.workspace_id AND i.id = c.integration_id`

func scanConnection(row interface{ Scan(...any) error }) (*tenancy.Connection, error) {
	var c tenancy.Connection
	var credMeta, meta []byte
	var lastActive, archived, deactivated sql.NullTime
	if err := row.Scan(&c.ID, &c.TenantID, &c.TenantInternal, &c.TenantName, &c.IntegrationID, &c.IntegrationKey, &c.IntegrationName,
		&c.Name, &c.Key, &c.State, &c.Disconnected, &c.IsTest, &credMeta, &meta, &c.CreatedAt, &c.UpdatedAt,
		&lastActive, &archived, &deactivated); err != nil {
		return nil, err
	}
	var cm map[string]any
	if err := json.Unmarshal(credMeta, &cm); err != nil {
		return nil, fmt.Errorf("connection credentials meta: %w", err)
	}
	c.CredentialKeys = make([]string, 0, len(cm))
	for k := range cm {
		c.CredentialKeys = append(c.CredentialKeys, k)
	}
	sort.Strings(c.CredentialKeys)
	if err := json.Unmarshal(meta, &c.Meta); err != nil {
		return nil, fmt.Errorf("connection meta: %w", err)
	}
	if lastActive.Valid {
		c.LastActiveAt = &lastActive.Time
	}
	if archived.Valid {
		c.ArchivedAt = &archived.Time
	}
	if deactivated.Valid {
		c.DeactivatedAt = &deactivated.Time
	}
	return &c, nil
}

func connectionAAD(workspaceID, tenantID, connectionID uuid.UUID) []byte {
	return []byte("connection:" + workspaceID.String() + ":" + tenantID.String() + ":" + connectionID.String() + ":credentials")
}

// NewConnection is what creating a connection takes.
type NewConnection struct {
	TenantID      uuid.UUID
	IntegrationID uuid.UUID
	Name          string
	Key           string
	Credentials   any // nil: none
	IsTest        bool
	Meta          map[string]any
}

func validateConnection(verr *tenancy.ValidationError, name, key string) {
	if name == "" || len(name) > 200 || strings.ContainsRune(name, 0) {
		verr.Add("name", "must be 1–200 characters, without NUL")
	}
	if key != "" && !tenancy.ValidKey(key) {
		verr.Add("key", "must be 1–100 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
}

// CreateConnection adds a connection for a tenant. A tenant may have several connections to one
// integration.
func (tx *Tx) CreateConnection(ctx context.Context, in NewConnection) (*tenancy.Connection, error) {
	if !tx.Scope.WorkspaceWide() && tx.Scope.TenantID != in.TenantID {
		return nil, tenancy.ErrNotFound
	}
	integ, err := tx.Integration(ctx, in.IntegrationID.String())
	if err == tenancy.ErrNotFound || (err == nil && integ.ArchivedAt != nil) {
		return nil, tenancy.Invalid("integrationKey", "no active integration with this id or key")
	}
	if err != nil {
		return nil, err
	}
	if in.Name == "" {
		in.Name = integ.Name
	}
	verr := &tenancy.ValidationError{}
	validateConnection(verr, in.Name, in.Key)
	if err := verr.Err(); err != nil {
		return nil, err
	}
	id := tenancy.NewID()
	enc, meta, err := tx.sealConnectionCredentials(in.TenantID, id, in.Credentials)
	if err != nil {
		return nil, err
	}
	var key any
	if in.Key != "" {
		key = in.Key
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO connections (workspace_id, id, tenant_id, integration_id, name, key, credentials_enc,
			credentials_meta, is_test, meta)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, tx.Scope.WorkspaceID, id, in.TenantID, in.IntegrationID, in.Name, key,
		enc, meta, in.IsTest, marshalConfig(in.Meta))
	if isUniqueViolation(err, "") {
		return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key", Message: fmt.Sprintf("the tenant has a connection with key %q", in.Key)}}}
	}
	if err != nil {
		return nil, writeError("create connection", err)
	}
	c, err := tx.Connection(ctx, id.String())
	if err != nil {
		return nil, err
	}
	return c, tx.Record(ctx, Activity{Type: "connection.created", TenantID: in.TenantID, ConnectionID: id, IntegrationID: in.IntegrationID,
		Message: fmt.Sprintf("Connection %q to %s created", c.Name, c.IntegrationKey), Details: map[string]any{"credentialKeys": c.CredentialKeys}})
}

func (tx *Tx) sealConnectionCredentials(tenantID, id uuid.UUID, value any) ([]byte, string, error) {
	if value == nil {
		return nil, "{}", nil
	}
	plain, err := json.Marshal(value)
	if err != nil {
		return nil, "", tenancy.Invalid("credentials", "not representable as JSON")
	}
	if len(plain) > 64<<10 {
		return nil, "", tenancy.Invalid("credentials", "must be at most 64 KiB as JSON")
	}
	now := time.Now().UTC().Truncate(time.Second)
	meta := map[string]time.Time{}
	if obj, ok := value.(map[string]any); ok {
		for k := range obj {
			meta[k] = now
		}
	} else {
		meta[credentialsValueKey] = now
	}
	mb, _ := json.Marshal(meta)
	return tx.db.keys.Seal(plain, connectionAAD(tx.Scope.WorkspaceID, tenantID, id)), string(mb), nil
}

// ConnectionPatch changes a connection; nil fields stay as they are.
type ConnectionPatch struct {
	Name           *string
	Key            *string // "" removes the key
	SetCredentials bool
	Credentials    any // with SetCredentials: the new credentials (nil clears); setting them reconnects
	Disconnected   *bool
	Meta           map[string]any // replaces when non-nil
	IsTest         *bool
}

// UpdateConnection applies p. Disconnecting keeps the credentials; new credentials reconnect.
func (tx *Tx) UpdateConnection(ctx context.Context, id uuid.UUID, p ConnectionPatch) (*tenancy.Connection, error) {
	cur, err := tx.lockConnection(ctx, id)
	if err != nil {
		return nil, err
	}
	name, key := cur.Name, cur.Key
	if p.Name != nil {
		name = strings.TrimSpace(*p.Name)
	}
	if p.Key != nil {
		key = *p.Key
	}
	verr := &tenancy.ValidationError{}
	validateConnection(verr, name, key)
	if err := verr.Err(); err != nil {
		return nil, err
	}
	disconnected, isTest, meta := cur.Disconnected, cur.IsTest, cur.Meta
	if p.Disconnected != nil {
		disconnected = *p.Disconnected
	}
	if p.SetCredentials && p.Credentials != nil && p.Disconnected == nil {
		disconnected = false
	}
	if p.IsTest != nil {
		isTest = *p.IsTest
	}
	if p.Meta != nil {
		meta = p.Meta
	}
	state := tenancy.StateReady
	if disconnected {
		state = tenancy.StateDisconnected
	}
	var keyArg any
	if key != "" {
		keyArg = key
	}
	set := `name = $3, key = $4, disconnected = $5, state = $6, is_test = $7, meta = $8, updated_at = now()`
	args := []any{tx.Scope.WorkspaceID, id, name, keyArg, disconnected, state, isTest, marshalConfig(meta)}
	if p.SetCredentials {
		enc, cm, err := tx.sealConnectionCredentials(cur.TenantID, id, p.Credentials)
		if err != nil {
			return nil, err
		}
		set += `, credentials_enc = $9, credentials_meta = $10`
		args = append(args, enc, cm)
	}
	_, err = tx.ExecContext(ctx, `UPDATE connections SET `+set+` WHERE workspace_id = $1 AND id = $2`, args...)
	if isUniqueViolation(err, "") {
		return nil, &tenancy.ValidationError{Conflict: true, Fields: []tenancy.FieldError{{Path: "key", Message: fmt.Sprintf("the tenant has a connection with key %q", key)}}}
	}
	if err != nil {
		return nil, writeError("update connection", err)
	}
	c, err := tx.Connection(ctx, id.String())
	if err != nil {
		return nil, err
	}
	typ, msg := "connection.updated", fmt.Sprintf("Connection %q updated", c.Name)
	switch {
	case disconnected && !cur.Disconnected:
		typ, msg = "connection.disconnected", fmt.Sprintf("Connection %q disconnected", c.Name)
	case !disconnected && cur.Disconnected:
		typ, msg = "connection.reconnected", fmt.Sprintf("Connection %q reconnected", c.Name)
	}
	details := map[string]any{}
	if p.SetCredentials {
		details["credentialKeys"] = c.CredentialKeys
	}
	return c, tx.Record(ctx, Activity{Type: typ, TenantID: c.TenantID, ConnectionID: id, IntegrationID: c.IntegrationID,
		Message: msg, Details: details})
}

// ArchiveConnection archives a connection: it leaves lists and cannot be used.
func (tx *Tx) ArchiveConnection(ctx context.Context, id uuid.UUID) (*tenancy.Connection, error) {
	cur, err := tx.lockConnection(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.ArchivedAt != nil {
		return cur, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE connections SET archived_at = now(), updated_at = now() WHERE workspace_id = $1 AND id = $2`,
		tx.Scope.WorkspaceID, id); err != nil {
		return nil, writeError("archive connection", err)
	}
	c, err := tx.Connection(ctx, id.String())
	if err != nil {
		return nil, err
	}
	return c, tx.Record(ctx, Activity{Type: "connection.archived", TenantID: c.TenantID, ConnectionID: id, IntegrationID: c.IntegrationID,
		Message: fmt.Sprintf("Connection %q archived", c.Name)})
}

func (tx *Tx) lockConnection(ctx context.Context, id uuid.UUID) (*tenancy.Connection, error) {
	c, err := scanConnection(tx.QueryRowxContext(ctx, connectionSelect+` WHERE c.workspace_id = $1 AND c.id = $2 FOR UPDATE OF c`, tx.Scope.WorkspaceID, id))
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	return c, err
}

// Connection finds a connection by id, or by key among the scope tenant's connections.
func (tx *Tx) Connection(ctx context.Context, selector string) (*tenancy.Connection, error) {
	row, err := tx.connectionRow(ctx, connectionSelect, selector)
	if err != nil {
		return nil, err
	}
	c, err := scanConnection(row)
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	return c, err
}

// connectionRow queries cols (connectionSelect, or it with more columns in front) for the
// connection selector names: an id, or a key among the scope tenant's connections (a key names
// none for a workspace-wide scope).
func (tx *Tx) connectionRow(ctx context.Context, cols, selector string) (*sqlx.Row, error) {
	if id, err := uuid.Parse(selector); err == nil {
		return tx.QueryRowxContext(ctx, cols+` WHERE c.workspace_id = $1 AND c.id = $2`, tx.Scope.WorkspaceID, id), nil
	}
	if tx.Scope.WorkspaceWide() {
		return nil, tenancy.ErrNotFound
	}
	return tx.QueryRowxContext(ctx, cols+` WHERE c.workspace_id = $1 AND c.tenant_id = $2 AND c.key = $3`,
		tx.Scope.WorkspaceID, tx.Scope.TenantID, selector), nil
}

// ConnectionCredentials decrypts a connection's credentials and records that they were read.
func (tx *Tx) ConnectionCredentials(ctx context.Context, id uuid.UUID) (any, error) {
	v, c, err := tx.OpenConnectionCredentials(ctx, id)
	if err != nil || v == nil {
		return v, err
	}
	return v, tx.Record(ctx, Activity{Type: "credentials.read", TenantID: c.TenantID, ConnectionID: id, IntegrationID: c.IntegrationID,
		Message: fmt.Sprintf("Credentials of connection %q read", c.Name)})
}

// OpenConnectionCredentials decrypts a connection's credentials in memory; it does not record a
// read (ConnectionCredentials does).
func (tx *Tx) OpenConnectionCredentials(ctx context.Context, id uuid.UUID) (any, *tenancy.Connection, error) {
	rc, err := tx.ConnectionForRun(ctx, id.String())
	if err != nil {
		return nil, nil, err
	}
	return rc.Credentials, rc.Connection, nil
}

// ConnectionFilter selects connections.
type ConnectionFilter struct {
	TenantID        uuid.UUID
	IntegrationID   uuid.UUID
	IntegrationKey  string
	Connected       *bool  // true: usable (not disconnected, deactivated or archived)
	State           string // READY, DISCONNECTED, DEACTIVATED (deactivated by the tenant's archiving)
	IsTest          *bool
	IncludeArchived bool
	Search          string // substring of the connection's name or key
	Limit           int
	Cursor          string
}

// ConnectionPage is one page of connections, oldest first.
type ConnectionPage struct {
	Items  []*tenancy.Connection
	Cursor string
}

// ListConnections lists connections in scope.
func (tx *Tx) ListConnections(ctx context.Context, f ConnectionFilter) (*ConnectionPage, error) {
	q := newListQuery(tx.Scope.WorkspaceID, f.Limit)
	q.conds[0] = "c." + q.conds[0]
	if f.TenantID != uuid.Nil {
		q.where("c.tenant_id = " + q.arg(f.TenantID))
	}
	if f.IntegrationID != uuid.Nil {
		q.where("c.integration_id = " + q.arg(f.IntegrationID))
	}
	if f.IntegrationKey != "" {
		q.where("i.key = " + q.arg(f.IntegrationKey))
	}
	if !f.IncludeArchived {
		q.where("c.archived_at IS NULL")
	}
	if f.Connected != nil {
		if *f.Connected {
			q.where("NOT c.disconnected AND c.deactivated_at IS NULL AND c.archived_at IS NULL")
		} else {
			q.where("(c.disconnected OR c.deactivated_at IS NOT NULL OR c.archived_at IS NOT NULL)")
		}
	}
	switch f.State {
	case "":
	case "DEACTIVATED":
		q.where("c.deactivated_at IS NOT NULL")
	case tenancy.StateReady, tenancy.StateDisconnected:
		q.where("c.state = " + q.arg(f.State) + " AND c.deactivated_at IS NULL")
	default:
		return nil, tenancy.Invalid("state", "must be READY, DISCONNECTED or DEACTIVATED")
	}
	if f.IsTest != nil {
		q.where("c.is_test = " + q.arg(*f.IsTest))
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		p := q.arg("%" + escapeLike(strings.ToLower(s)) + "%")
		q.where("(lower(c.name) LIKE " + p + " OR lower(coalesce(c.key, '')) LIKE " + p + ")")
	}
	if err := q.after(f.Cursor, "c."); err != nil {
		return nil, err
	}
	rows, err := tx.QueryxContext(ctx, connectionSelect+" WHERE "+q.sql("c."), q.args...)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer rows.Close()
	page := &ConnectionPage{}
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	page.Items, page.Cursor = pageOf(page.Items, q.limit, func(c *tenancy.Connection) (time.Time, uuid.UUID) { return c.CreatedAt, c.ID })
	return page, nil
}

// TouchConnection advances a connection's lastActiveAt, at most once a minute.
func (tx *Tx) TouchConnection(ctx context.Context, id uuid.UUID) error {
	_, err := tx.ExecContext(ctx, `UPDATE connections SET last_active_at = now() WHERE workspace_id = $1 AND id = $2
		AND (last_active_at IS NULL OR last_active_at < now() - interval '1 minute')`, tx.Scope.WorkspaceID, id)
	return err
}

// RunConnection is what a run needs of its connection, read in one query: the connection, its
// integration's base URL and auth type, its tenant's fields, and its credentials (decrypted in
// memory; no read is recorded — the run records itself).
type RunConnection struct {
	*tenancy.Connection
	BaseURL      string
	AuthType     string
	TenantFields map[string]any
	Credentials  any
}

// runConnectionSelect is connectionSelect with what a run needs besides in front.
var runConnectionSelect = strings.Replace(connectionSelect, "SELECT ", "SELECT i.base_url, i.auth_type, t.fields, c.credentials_enc, ", 1)

// ConnectionForRun reads a connection by id, or by key among the scope tenant's, for a run.
func (tx *Tx) ConnectionForRun(ctx context.Context, selector string) (*RunConnection, error) {
	row, err := tx.connectionRow(ctx, runConnectionSelect, selector)
	if err != nil {
		return nil, err
	}
	rc := &RunConnection{}
	var fields, enc []byte
	c, err := scanConnection(prefixScanner{row: row, prefix: []any{&rc.BaseURL, &rc.AuthType, &fields, &enc}})
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	rc.Connection = c
	if err := json.Unmarshal(fields, &rc.TenantFields); err != nil {
		return nil, fmt.Errorf("tenant fields: %w", err)
	}
	if enc != nil {
		plain, err := tx.db.keys.Open(enc, connectionAAD(tx.Scope.WorkspaceID, c.TenantID, c.ID))
		if err != nil {
			return nil, fmt.Errorf("connection %s credentials: %w", c.ID, err)
		}
		if err := json.Unmarshal(plain, &rc.Credentials); err != nil {
			return nil, fmt.Errorf("connection %s credentials: %w", c.ID, err)
		}
	}
	return rc, nil
}

// prefixScanner scans the leading columns into prefix and hands the rest to the caller's Scan.
type prefixScanner struct {
	row    *sqlx.Row
	prefix []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.row.Scan(append(p.prefix, dest...)...) }
