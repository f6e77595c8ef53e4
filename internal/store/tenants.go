package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"tenantry/internal/tenancy"
)

const tenantColumns = `id, workspace_id, internal_id, name, fields, credentials_meta, ai_credits_rolling_30_day_limit,
	is_test, created_at, updated_at, archived_at, last_active_at`

func scanTenant(row interface{ Scan(...any) error }) (*tenancy.Tenant, error) {
	var t tenancy.Tenant
	var fields, credMeta []byte
	var limit sql.NullFloat64
	var archived, lastActive sql.NullTime
	if err := row.Scan(&t.ID, &t.WorkspaceID, &t.InternalID, &t.Name, &fields, &credMeta, &limit,
		&t.IsTest, &t.CreatedAt, &t.UpdatedAt, &archived, &lastActive); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(fields, &t.Fields); err != nil {
		return nil, fmt.Errorf("tenant fields: %w", err)
	}
	if err := json.Unmarshal(credMeta, &t.CredentialsMeta); err != nil {
		return nil, fmt.Errorf("tenant credentials meta: %w", err)
	}
	if limit.Valid {
		t.AICreditsRolling30DayLimit = &limit.Float64
	}
	// In UTC whichever driver read them (lib/pq gives the session's zone, pgx the machine's).
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if archived.Valid {
		at := archived.Time.UTC()
		t.ArchivedAt = &at
	}
	if lastActive.Valid {
		at := lastActive.Time.UTC()
		t.LastActiveAt = &at
	}
	return &t, nil
}

// NewTenant is what creating a tenant takes.
type NewTenant struct {
	InternalID                 string
	Name                       string
	Fields                     map[string]any
	AICreditsRolling30DayLimit *float64
	IsTest                     bool
}

// CreateTenant adds a tenant to the scope's workspace and records it. A duplicate internalId is
// a ValidationError on internalId (it reads as a form error and as a 409 alike).
func (tx *Tx) CreateTenant(ctx context.Context, in NewTenant) (*tenancy.Tenant, error) {
	if !tx.Scope.WorkspaceWide() {
		return nil, tenancy.ErrForbidden
	}
	fields := in.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	fb, err := json.Marshal(fields)
	if err != nil {
		return nil, tenancy.Invalid("fields", "not representable as JSON")
	}
	t, err := scanTenant(tx.QueryRowxContext(ctx, `INSERT INTO tenants (workspace_id, id, internal_id, name, fields,
			ai_credits_rolling_30_day_limit, is_test)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+tenantColumns,
		tx.Scope.WorkspaceID, tenancy.NewID(), in.InternalID, in.Name, string(fb), in.AICreditsRolling30DayLimit, in.IsTest))
	if isUniqueViolation(err, "tenants_workspace_id_internal_id_key") {
		return nil, &tenancy.ValidationError{Fields: []tenancy.FieldError{{Path: "internalId",
			Message: fmt.Sprintf("a tenant with internalId %q already exists", in.InternalID)}}, Conflict: true}
	}
	if err != nil {
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	return t, tx.Record(ctx, Activity{Type: "tenant.created", TenantID: t.ID,
		Message: fmt.Sprintf("Tenant %s (%s) created", t.Name, t.InternalID)})
}

// Tenant finds a tenant by id or internalId. Outside the scope it does not exist.
func (tx *Tx) Tenant(ctx context.Context, selector string) (*tenancy.Tenant, error) {
	var row interface{ Scan(...any) error }
	if id, err := uuid.Parse(selector); err == nil {
		row = tx.QueryRowxContext(ctx, `SELECT `+tenantColumns+` FROM tenants
			WHERE workspace_id = $1 AND (id = $2 OR internal_id = $3)
			ORDER BY (id = $2) DESC LIMIT 1`, tx.Scope.WorkspaceID, id, selector)
	} else {
		row = tx.QueryRowxContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE workspace_id = $1 AND internal_id = $2`,
			tx.Scope.WorkspaceID, selector)
	}
	t, err := scanTenant(row)
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get tenant: %w", err)
	}
	return t, nil
}

// TenantFilter selects tenants for a list. Zero values mean "no filter".
type TenantFilter struct {
	Search          string // substring of name or internalId, case-insensitive
	IncludeArchived bool   // archived as well as active
	OnlyArchived    bool
	IsTest          *bool
	HasConnections  *bool  // has at least one connection that is not archived
	OverCreditLimit *bool  // AI credit usage over the rolling 30 days above its limit
	Sort            string // created (default), name or lastActive
	Desc            bool
	Limit           int    // 1..1000, default 100
	Cursor          string // opaque, from a previous page; "" or "0" = first page
}

// TenantPage is one page of tenants; Cursor is "" on the last page.
type TenantPage struct {
	Items  []*tenancy.Tenant
	Cursor string
}

type tenantCursor struct {
	Key string    `json:"k"`
	ID  uuid.UUID `json:"i"`
}

// ParseCursor decodes an opaque list cursor into v; "" and "0" mean the first page.
func ParseCursor(s string, v any) (bool, error) {
	if s == "" || s == "0" {
		return false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, v) != nil {
		return false, tenancy.Invalid("cursor", "not a cursor this server returned")
	}
	return true, nil
}

// MakeCursor encodes v as an opaque cursor.
func MakeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tenantSorts maps a sort name to its SQL key (with an index on (workspace_id, key, id)) and how
// a cursor's text form is cast back. Sort columns come only from this whitelist.
var tenantSorts = map[string]struct {
	expr, cast string
	key        func(*tenancy.Tenant) string
}{
	"created": {"created_at", "timestamptz", func(t *tenancy.Tenant) string { return t.CreatedAt.Format(time.RFC3339Nano) }},
	"name":    {"name", "text", func(t *tenancy.Tenant) string { return t.Name }},
	"lastActive": {"coalesce(last_active_at, '-infinity')", "timestamptz", func(t *tenancy.Tenant) string {
		if t.LastActiveAt == nil {
			return "-infinity"
		}
		return t.LastActiveAt.Format(time.RFC3339Nano)
	}},
}

// tenantWhere builds the filter's conditions (without the cursor) and their arguments.
func (tx *Tx) tenantWhere(f TenantFilter) ([]string, []any, error) {
	where := []string{"workspace_id = $1"}
	args := []any{tx.Scope.WorkspaceID}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	switch {
	case f.OnlyArchived:
		where = append(where, "archived_at IS NOT NULL")
	case !f.IncludeArchived:
		where = append(where, "archived_at IS NULL")
	}
	if f.IsTest != nil {
		where = append(where, "is_test = "+arg(*f.IsTest))
	}
	if f.HasConnections != nil {
		cond := `EXISTS (SELECT 1 FROM connections c WHERE c.workspace_id = tenants.workspace_id
			AND c.tenant_id = tenants.id AND c.archived_at IS NULL)`
		if !*f.HasConnections {
			cond = "NOT " + cond
		}
		where = append(where, cond)
	}
	if f.OverCreditLimit != nil {
		cond := `coalesce(ai_credits_rolling_30_day_limit,
				(SELECT (w.settings->>'defaultTenantAiCreditsLimit')::numeric FROM workspaces w WHERE w.id = tenants.workspace_id))
			< (SELECT coalesce(sum(l.credits), 0) FROM ai_credit_ledger l WHERE l.workspace_id = tenants.workspace_id
				AND l.tenant_id = tenants.id AND l.created_at > now() - interval '30 days')`
		if !*f.OverCreditLimit {
			cond = "NOT coalesce(" + cond + ", false)"
		}
		where = append(where, cond)
	}
	if strings.ContainsRune(f.Search, 0) {
		return nil, nil, tenancy.Invalid("search", "must not contain NUL characters")
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		// Through the search function, so the trigram index serves it (see migration 00002).
		where = append(where, "id IN (SELECT app_private.tenant_ids_matching("+arg(s)+"))")
	}
	return where, args, nil
}

// tenantListQuery builds ListTenants's query from the filter (sort from a whitelist, values as
// parameters).
func (tx *Tx) tenantListQuery(f TenantFilter) (string, []any, func(*tenancy.Tenant) string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		return "", nil, nil, tenancy.Invalid("limit", "must be between 1 and 1000")
	}
	if f.Sort == "" {
		f.Sort = "created"
	}
	sort, ok := tenantSorts[f.Sort]
	if !ok {
		return "", nil, nil, tenancy.Invalid("sort", "must be created, name or lastActive")
	}
	var cur tenantCursor
	hasCursor, err := ParseCursor(f.Cursor, &cur)
	if err != nil {
		return "", nil, nil, err
	}
	where, args, err := tx.tenantWhere(f)
	if err != nil {
		return "", nil, nil, err
	}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	if hasCursor {
		where = append(where, fmt.Sprintf("(%s, id) %s (%s::%s, %s)", sort.expr, cmp, arg(cur.Key), sort.cast, arg(cur.ID)))
	}
	q := `SELECT ` + tenantColumns + ` FROM tenants WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY %s %s, id %s LIMIT %s", sort.expr, dir, dir, arg(f.Limit+1))
	return q, args, sort.key, nil
}

// searchedPage reports whether the filter is a search the search functions serve whole (page and
// count inside the definer function, migration 00003); the connection and credit filters are
// not in them, so with those the search narrows by ids instead (00002).
func (f TenantFilter) searchedPage() bool {
	return strings.TrimSpace(f.Search) != "" && f.HasConnections == nil && f.OverCreditLimit == nil
}

func (f TenantFilter) status() string {
	switch {
	case f.OnlyArchived:
		return "archived"
	case f.IncludeArchived:
		return "all"
	}
	return "active"
}

// listSearched reads a searched page: the function picks the page's ids in order (it sees no RLS
// and filters by the scope itself), then the rows are read under RLS.
func (tx *Tx) listSearched(ctx context.Context, f TenantFilter) (*TenantPage, error) {
	if f.Sort == "" {
		f.Sort = "created"
	}
	sort, ok := tenantSorts[f.Sort]
	if !ok {
		return nil, tenancy.Invalid("sort", "must be created, name or lastActive")
	}
	var cur tenantCursor
	hasCursor, err := ParseCursor(f.Cursor, &cur)
	if err != nil {
		return nil, err
	}
	var afterKey, afterID any
	if hasCursor {
		afterKey, afterID = cur.Key, cur.ID
	}
	var ids []string
	err = tx.SelectContext(ctx, &ids, `SELECT id::text FROM app_private.search_tenant_page($1, $2, $3, $4, $5, $6, $7, $8)`,
		strings.TrimSpace(f.Search), f.status(), f.IsTest, f.Sort, f.Desc, afterKey, afterID, f.Limit+1)
	if err != nil {
		if c := pqCode(err); c == "22007" || c == "22008" || c == "22P02" {
			return nil, tenancy.Invalid("cursor", "not a cursor this server returned")
		}
		return nil, fmt.Errorf("search tenants: %w", err)
	}
	page := &TenantPage{Items: []*tenancy.Tenant{}}
	if len(ids) == 0 {
		return page, nil
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE workspace_id = $1 AND id = ANY($2::uuid[])`,
		tx.Scope.WorkspaceID, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("search tenants: %w", err)
	}
	defer rows.Close()
	byID := make(map[string]*tenancy.Tenant, len(ids))
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		byID[t.ID.String()] = t
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if t, ok := byID[id]; ok {
			page.Items = append(page.Items, t)
		}
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		last := page.Items[f.Limit-1]
		page.Cursor = MakeCursor(tenantCursor{Key: sort.key(last), ID: last.ID})
	}
	return page, nil
}

// ListTenants returns a page of tenants in the filter's order, keyset-paginated on (key, id). It
// is a lag-tolerant read: it may be served by the read replica (replica.go).
func (tx *Tx) ListTenants(ctx context.Context, f TenantFilter) (*TenantPage, error) {
	var page *TenantPage
	err := tx.lagTolerant(ctx, func(tx *Tx) (err error) {
		page, err = tx.listTenants(ctx, f)
		return err
	})
	return page, err
}

func (tx *Tx) listTenants(ctx context.Context, f TenantFilter) (*TenantPage, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		return nil, tenancy.Invalid("limit", "must be between 1 and 1000")
	}
	if strings.ContainsRune(f.Search, 0) {
		return nil, tenancy.Invalid("search", "must not contain NUL characters")
	}
	if f.searchedPage() {
		return tx.listSearched(ctx, f)
	}
	q, args, key, err := tx.tenantListQuery(f)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryxContext(ctx, q, args...)
	if err != nil {
		if pqCode(err) == "22007" || pqCode(err) == "22008" || pqCode(err) == "22P02" {
			return nil, tenancy.Invalid("cursor", "not a cursor this server returned")
		}
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	page := &TenantPage{Items: []*tenancy.Tenant{}}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		last := page.Items[f.Limit-1]
		page.Cursor = MakeCursor(tenantCursor{Key: key(last), ID: last.ID})
	}
	return page, nil
}

// CountMatchingTenants counts the tenants a filter selects (its cursor and limit ignored), up to
// upTo: a count that reaches it stops there (0 = count them all). Counting a hundred thousand
// rows under RLS takes tens of milliseconds; "10,000+" tells a person as much.
func (tx *Tx) CountMatchingTenants(ctx context.Context, f TenantFilter, upTo int) (int, error) {
	if f.searchedPage() && !strings.ContainsRune(f.Search, 0) {
		capAt := upTo
		if capAt <= 0 {
			capAt = math.MaxInt32
		}
		var n int
		err := tx.GetContext(ctx, &n, `SELECT app_private.count_tenants_matching($1, $2, $3, $4)`,
			strings.TrimSpace(f.Search), f.status(), f.IsTest, capAt)
		if err != nil {
			return 0, fmt.Errorf("count tenants: %w", err)
		}
		return n, nil
	}
	where, args, err := tx.tenantWhere(f)
	if err != nil {
		return 0, err
	}
	q := `SELECT count(*) FROM tenants WHERE ` + strings.Join(where, " AND ")
	if upTo > 0 {
		q = `SELECT count(*) FROM (SELECT 1 FROM tenants WHERE ` + strings.Join(where, " AND ") +
			fmt.Sprintf(` LIMIT %d) capped`, upTo)
	}
	var n int
	if err := tx.GetContext(ctx, &n, q, args...); err != nil {
		return 0, fmt.Errorf("count tenants: %w", err)
	}
	return n, nil
}

// CountTenants counts the workspace's active tenants.
func (tx *Tx) CountTenants(ctx context.Context) (int, error) {
	var n int
	err := tx.GetContext(ctx, &n, `SELECT count(*) FROM tenants WHERE workspace_id = $1 AND archived_at IS NULL`, tx.Scope.WorkspaceID)
	return n, err
}

// TenantOfScope reads the scope's own tenant in one round trip (the hot path of GET /self).
func (d *DB) TenantOfScope(ctx context.Context, scope tenancy.Scope) (*tenancy.Tenant, error) {
	if scope.WorkspaceWide() {
		return nil, tenancy.ErrNotFound
	}
	var t *tenancy.Tenant
	err := d.ReadScoped(ctx, scope, `SELECT `+tenantColumns+` FROM tenants
		WHERE workspace_id = app.workspace_id() AND id = app.tenant_id()`, func(rows *ScopedRows) error {
		if !rows.Next() {
			return tenancy.ErrNotFound
		}
		var err error
		t, err = scanTenant(rows)
		return err
	})
	return t, err
}

// ExplainTenantList returns the plan (EXPLAIN ANALYZE) of ListTenants's query as the app role,
// under RLS, for benchmarks and docs/BENCHMARKS.md.
func (d *DB) ExplainTenantList(ctx context.Context, scope tenancy.Scope, f TenantFilter) (string, error) {
	var plan strings.Builder
	err := d.InScope(ctx, scope, func(tx *Tx) error {
		q, args, _, err := tx.tenantListQuery(f)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "EXPLAIN (ANALYZE, COSTS OFF, BUFFERS OFF) "+q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan.WriteString(line + "\n")
		}
		return rows.Err()
	})
	return plan.String(), err
}

// TenantIdentity is a tenant's id, internalId and name, for labelling rows that name tenants.
type TenantIdentity struct {
	ID         uuid.UUID `db:"id"`
	InternalID string    `db:"internal_id"`
	Name       string    `db:"name"`
}

// TenantIdentities reads the identities of the given tenants in one query (those in scope).
func (tx *Tx) TenantIdentities(ctx context.Context, ids []uuid.UUID) ([]TenantIdentity, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = id.String()
	}
	var out []TenantIdentity
	if err := tx.SelectContext(ctx, &out, `SELECT id, internal_id, name FROM tenants
		WHERE workspace_id = $1 AND id = ANY($2::uuid[])`, tx.Scope.WorkspaceID, pq.Array(strs)); err != nil {
		return nil, fmt.Errorf("tenant identities: %w", err)
	}
	return out, nil
}
