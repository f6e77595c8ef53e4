package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// Provisioner turns verified tokens into scopes, creating and updating tenants from their claims.
// It remembers, per tenant, the claims it last applied: a token whose claims are unchanged within
// a minute costs no database access at all; after that, one read (and lastActiveAt's write).
type Provisioner struct {
	db    *store.DB
	fresh time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[provKey]provEntry
}

type provKey struct {
	workspace uuid.UUID
	tenantKey string
}

type provEntry struct {
	tenantID uuid.UUID
	claims   [32]byte
	archived bool
	applied  time.Time
}

// NewProvisioner provisions tenants in db.
func NewProvisioner(db *store.DB) *Provisioner {
	return &Provisioner{db: db, fresh: time.Minute, now: time.Now, cache: map[provKey]provEntry{}}
}

// Forget drops a tenant from the cache, after a change in this process (archive, restore) that
// the next token must see.
func (p *Provisioner) Forget(workspaceID uuid.UUID, tenantKey string) {
	p.mu.Lock()
	delete(p.cache, provKey{workspaceID, tenantKey})
	p.mu.Unlock()
}

// Scope returns the scope a verified token acts in. A tenant token for an archived tenant fails
// with tenancy.ErrTenantArchived.
func (p *Provisioner) Scope(ctx context.Context, c *Claims, wa *store.WorkspaceAuth) (tenancy.Scope, error) {
	wsID := wa.Workspace.ID
	tenantKey := c.Tenant()
	if tenantKey == "" {
		return tenancy.WorkspaceScope(wsID, tenancy.Actor{Type: tenancy.ActorWorkspaceToken}), nil
	}
	digest := claimsDigest(c)
	key := provKey{wsID, tenantKey}
	p.mu.Lock()
	e, ok := p.cache[key]
	p.mu.Unlock()
	if !ok || e.claims != digest || p.now().Sub(e.applied) >= p.fresh {
		var res *store.Provisioned
		scope := tenancy.Scope{WorkspaceID: wsID, Actor: tenancy.Actor{Type: tenancy.ActorTenantToken, ID: tenantKey}}
		err := p.db.InScope(ctx, scope, func(tx *store.Tx) error {
			var err error
			res, err = tx.ProvisionTenant(ctx, tenantKey, c.Name, c.Fields)
			return err
		})
		if err != nil {
			return tenancy.Scope{}, err
		}
		e = provEntry{tenantID: res.ID, claims: digest, archived: res.Archived, applied: p.now()}
		p.mu.Lock()
		if len(p.cache) > 100_000 {
			clear(p.cache)
		}
		p.cache[key] = e
		p.mu.Unlock()
	}
	if e.archived {
		return tenancy.Scope{}, tenancy.ErrTenantArchived
	}
	s := tenancy.TenantScope(wsID, e.tenantID)
	return s, nil
}

// claimsDigest identifies the claims that provisioning applies (name and fields).
func claimsDigest(c *Claims) [32]byte {
	b, _ := json.Marshal(struct {
		Name   *string        `json:"n"`
		Fields map[string]any `json:"f"`
	}{c.Name, c.Fields})
	return sha256.Sum256(b)
}
