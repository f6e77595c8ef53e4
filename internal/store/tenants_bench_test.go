package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// seedTenants inserts n tenants into a new workspace with one set-based INSERT (as the
// superuser: this is fixture data, not a code path) and returns the workspace's scope.
func seedTenants(b *testing.B, db *store.DB, n int) tenancy.Scope {
	ctx := context.Background()
	ws, _, err := db.CreateWorkspace(ctx, "bench", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	_, err = db.SQL().ExecContext(ctx, `INSERT INTO tenants (workspace_id, id, internal_id, name, fields, created_at, last_active_at, archived_at)
		SELECT $1, gen_random_uuid(), 'cust-' || lpad(i::text, 6, '0'),
			(ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark','Wayne','Wonka'])[1 + i % 8] || ' ' || i || ' ' || md5(i::text),
			jsonb_build_object('plan', (ARRAY['starter','pro','enterprise'])[1 + i % 3], 'seats', i % 500),
			now() - (i || ' seconds')::interval,
			CASE WHEN i % 3 = 0 THEN NULL ELSE now() - (i % 1000 || ' minutes')::interval END,
			CASE WHEN i % 50 = 0 THEN now() END
		FROM generate_series(1, $2) i`, ws.ID, n)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `ANALYZE tenants`); err != nil {
		b.Fatal(err)
	}
	return tenancy.WorkspaceScope(ws.ID, tenancy.Actor{Type: tenancy.ActorManager})
}

// BenchmarkTenantList measures the Console's tenant list queries over 100,000 tenants as the
// app role, RLS on: each sub-benchmark reports its median and p95 (ms) besides ns/op, and with
// TENANTRY_BENCH_PLANS=1 prints the plan of each query as the app role.
func BenchmarkTenantList(b *testing.B) {
	ctx := context.Background()
	db := testdb.New(b)
	n := 100_000
	scope := seedTenants(b, db, n)
	// A cursor deep into the list, for the deep-page case.
	var deep string
	_ = db.InScope(ctx, scope, func(tx *store.Tx) error {
		for i := 0; i < 5; i++ {
			p, err := tx.ListTenants(ctx, store.TenantFilter{Limit: 1000, Cursor: deep})
			if err != nil {
				return err
			}
			deep = p.Cursor
		}
		return nil
	})
	yes := true
	cases := []struct {
		name string
		f    store.TenantFilter
	}{
		{"first page", store.TenantFilter{Limit: 50}},
		{"deep page (5,000 in)", store.TenantFilter{Limit: 50, Cursor: deep}},
		{"search internalId", store.TenantFilter{Limit: 50, Search: "cust-04217"}},
		{"search name word", store.TenantFilter{Limit: 50, Search: "umbrella 4217"}},
		{"search 3 chars", store.TenantFilter{Limit: 50, Search: "421"}},
		{"sort name", store.TenantFilter{Limit: 50, Sort: "name"}},
		{"sort last active desc", store.TenantFilter{Limit: 50, Sort: "lastActive", Desc: true}},
		{"archived only", store.TenantFilter{Limit: 50, OnlyArchived: true}},
		{"has connections", store.TenantFilter{Limit: 50, HasConnections: &yes}},
		{"count all", store.TenantFilter{}},
		{"count all up to 10,000", store.TenantFilter{Limit: 10_000}},
		{"count search", store.TenantFilter{Search: "wonka"}},
	}
	for _, c := range cases {
		b.Run(strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			count := strings.HasPrefix(c.name, "count")
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				err := db.InScope(ctx, scope, func(tx *store.Tx) error {
					var err error
					if count {
						_, err = tx.CountMatchingTenants(ctx, c.f, c.f.Limit)
					} else {
						_, err = tx.ListTenants(ctx, c.f)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
	if os.Getenv("TENANTRY_BENCH_PLANS") != "" {
		for _, c := range cases[:6] {
			plan, err := db.ExplainTenantList(ctx, scope, c.f)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Printf("\n### %s\n```\n%s```\n", c.name, plan)
		}
	}
}
