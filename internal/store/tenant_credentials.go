package store

// What the Console's tenant page needs beyond tenants.go and tenants_write.go: credentials
// changed one key at a time, the tenant's AI credit usage, and how many connections archiving
// would deactivate.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
)

// Limits of one credential key and value as the Console sets them.
const (
	MaxCredentialKey   = 100
	MaxCredentialValue = 64 << 10
)

// credentialsValueKey is the key CredentialsMeta shows for credentials that are one value rather
// than an object of keys (SetTenantCredentials with a non-object).
const credentialsValueKey = "value"

// SetTenantCredential sets one key of the tenant's credentials (an object) to value, keeping the
// other keys and the times they were set. It records one credentials.updated entry naming only
// that key; the value is never recorded.
func (tx *Tx) SetTenantCredential(ctx context.Context, id uuid.UUID, key, value string) (*tenancy.Tenant, error) {
	verr := &tenancy.ValidationError{}
	validateCredentialKey(verr, key)
	switch {
	case value == "":
		verr.Add("value", "is required (to remove a key, clear it)")
	case len(value) > MaxCredentialValue:
		verr.Add("value", "must be at most %d bytes", MaxCredentialValue)
	case strings.ContainsRune(value, 0):
		verr.Add("value", "must not contain NUL characters")
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	return tx.changeCredential(ctx, id, key, &value)
}

// ClearTenantCredential removes one key of the tenant's credentials, keeping the others. A key
// that is not set changes nothing. For credentials that are one value rather than an object, the
// key "value" clears them.
func (tx *Tx) ClearTenantCredential(ctx context.Context, id uuid.UUID, key string) (*tenancy.Tenant, error) {
	return tx.changeCredential(ctx, id, key, nil)
}

func validateCredentialKey(verr *tenancy.ValidationError, key string) {
	switch {
	case key == "":
		verr.Add("key", "is required")
	case utf8.RuneCountInString(key) > MaxCredentialKey:
		verr.Add("key", "must be at most %d characters", MaxCredentialKey)
	case !utf8.ValidString(key) || strings.IndexFunc(key, unicode.IsControl) >= 0:
		verr.Add("key", "must be one line of text")
	case strings.TrimSpace(key) != key:
		verr.Add("key", "must not start or end with spaces")
	}
}

// changeCredential is the read-modify-write behind SetTenantCredential (value set) and
// ClearTenantCredential (value nil). It seals the whole object again, as SetTenantCredentials
// does, but keeps the set-at time of every key it does not touch: the Console shows when each
// key was set, and replacing one key does not set the others.
func (tx *Tx) changeCredential(ctx context.Context, id uuid.UUID, key string, value *string) (*tenancy.Tenant, error) {
	if !tx.Scope.Actor.CanWrite() {
		return nil, tenancy.ErrForbidden
	}
	t, err := tx.lockTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	cur, err := tx.openTenantCredentials(ctx, id)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	switch c := cur.(type) {
	case nil:
	case map[string]any:
		obj = c
	default:
		if value != nil || key != credentialsValueKey {
			return nil, tenancy.Invalid("key", "this tenant's credentials are one value, not named keys: replace them through the API, or clear %q", credentialsValueKey)
		}
		obj = nil // clearing "value" clears the single value
	}
	change := "cleared"
	switch _, had := obj[key]; {
	case value == nil && obj != nil && !had:
		return t, nil
	case value == nil:
		delete(obj, key)
	case had:
		obj[key], change = *value, "replaced"
	default:
		obj[key], change = *value, "added"
	}

	now := time.Now().UTC().Truncate(time.Second)
	meta := map[string]time.Time{}
	for k := range obj {
		if at, ok := t.CredentialsMeta[k]; ok && k != key {
			meta[k] = at
		} else {
			meta[k] = now
		}
	}
	var enc []byte
	if len(obj) > 0 {
		plain, err := json.Marshal(obj)
		if err != nil {
			return nil, tenancy.Invalid("value", "not representable as JSON")
		}
		enc = tx.db.keys.Seal(plain, credentialsAAD(tx.Scope.WorkspaceID, id))
	}
	mb, _ := json.Marshal(meta)
	out, err := scanTenant(tx.QueryRowxContext(ctx, `UPDATE tenants SET credentials_enc = $3, credentials_meta = $4, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+tenantColumns, tx.Scope.WorkspaceID, id, enc, string(mb)))
	if err != nil {
		return nil, fmt.Errorf("set credential: %w", err)
	}
	return out, tx.Record(ctx, Activity{Type: "credentials.updated", TenantID: id,
		Message: fmt.Sprintf("Credential %q of tenant %s %s", key, t.InternalID, change),
		Details: map[string]any{"keys": []string{key}, "change": change}})
}

// openTenantCredentials decrypts the tenant's credentials without recording a read: it serves
// read-modify-write changes that never show the value, which record the change instead.
func (tx *Tx) openTenantCredentials(ctx context.Context, id uuid.UUID) (any, error) {
	var enc []byte
	err := tx.QueryRowxContext(ctx, `SELECT credentials_enc FROM tenants WHERE workspace_id = $1 AND id = $2`,
		tx.Scope.WorkspaceID, id).Scan(&enc)
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	if enc == nil {
		return nil, nil
	}
	plain, err := tx.db.keys.Open(enc, credentialsAAD(tx.Scope.WorkspaceID, id))
	if err != nil {
		return nil, fmt.Errorf("tenant %s credentials: %w", id, err)
	}
	var v any
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, fmt.Errorf("tenant %s credentials: %w", id, err)
	}
	return v, nil
}

// TenantCreditUsage sums the AI credits the tenant used over the rolling 30-day window, the same
// window the "over its credit limit" filter of ListTenants compares against its limit.
func (tx *Tx) TenantCreditUsage(ctx context.Context, tenantID uuid.UUID) (float64, error) {
	var used float64
	err := tx.GetContext(ctx, &used, `SELECT coalesce(sum(credits), 0) FROM ai_credit_ledger
		WHERE workspace_id = $1 AND tenant_id = $2 AND created_at > now() - interval '30 days'`,
		tx.Scope.WorkspaceID, tenantID)
	if err != nil {
		return 0, fmt.Errorf("tenant credit usage: %w", err)
	}
	return used, nil
}

// CountActiveConnections counts the tenant's connections that archiving it would deactivate:
// neither archived nor already deactivated (the rows ArchiveTenant updates).
func (tx *Tx) CountActiveConnections(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	err := tx.GetContext(ctx, &n, `SELECT count(*) FROM connections
		WHERE workspace_id = $1 AND tenant_id = $2 AND deactivated_at IS NULL AND archived_at IS NULL`,
		tx.Scope.WorkspaceID, tenantID)
	if err != nil {
		return 0, fmt.Errorf("count connections: %w", err)
	}
	return n, nil
}
