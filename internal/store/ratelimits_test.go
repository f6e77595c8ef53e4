package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tenantry/internal/secrets"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// Thirty requests at once from two "processes" (two pools on one database) against a limit of
// ten per minute per tenant and twelve per workspace: exactly ten of A's pass, and the workspace
// count is shared with B.
func TestRateLimitsHoldAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	u := testdb.URL(t)
	keys, _ := secrets.ParseKeyRing(secrets.GenerateKeySpec("test"))
	var dbs []*store.DB
	for i := 0; i < 2; i++ {
		db, err := store.Open(ctx, u, keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	ws, _, err := dbs[0].CreateWorkspace(ctx, "rl", "RL")
	if err != nil {
		t.Fatal(err)
	}
	a := mustTenant(t, dbs[0], ws.ID, "a", "A")
	b := mustTenant(t, dbs[0], ws.ID, "b", "B")
	ten, twelve := 10, 12
	settings := tenancy.Settings{APIRequestsPerMinutePerTenant: &ten, APIRequestsPerMinutePerWorkspace: &twelve}
	if time.Now().Second() > 55 {
		time.Sleep(6 * time.Second) // stay inside one minute window
	}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := dbs[i%2].CountRequest(ctx, tenancy.TenantScope(ws.ID, a.ID), settings)
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				allowed.Add(1)
			} else if d.Remaining != 0 || d.Limit == 0 || !d.Reset.After(time.Now()) {
				t.Errorf("refusal %+v", d)
			}
		}(i)
	}
	wg.Wait()
	if allowed.Load() != 10 {
		t.Fatalf("%d of 30 requests passed a limit of 10", allowed.Load())
	}
	// B has its own tenant allowance, but the workspace's 12 are shared: 2 left for B.
	var bAllowed int
	for i := 0; i < 5; i++ {
		d, err := dbs[1].CountRequest(ctx, tenancy.TenantScope(ws.ID, b.ID), settings)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			bAllowed++
		} else if d.Scope != "workspace" {
			t.Errorf("B refused by %s, want the workspace limit", d.Scope)
		}
	}
	if bAllowed != 2 {
		t.Errorf("B got %d requests through, want 2", bAllowed)
	}
	// No limits set: allowed, and nothing written.
	d, err := dbs[0].CountRequest(ctx, tenancy.TenantScope(ws.ID, a.ID), tenancy.Settings{})
	if err != nil || !d.Allowed {
		t.Errorf("unlimited: %+v %v", d, err)
	}
}
