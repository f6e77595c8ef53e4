package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// seedActivity loads n entries (testdb.SeedActivity) into a new workspace of db.
func seedActivity(b *testing.B, db *store.DB, n int) (tenancy.Scope, uuid.UUID, uuid.UUID) {
	ctx := context.Background()
	start := time.Now()
	ws, _, err := db.CreateWorkspace(ctx, "actbench", "Activity bench")
	if err != nil {
		b.Fatal(err)
	}
	if err := testdb.SeedActivity(ctx, db, ws.ID, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d activity entries in %s", n, time.Since(start).Round(time.Second))
	tenant := uuid.MustParse("00000000-0000-4000-8000-000000004217")
	return tenancy.WorkspaceScope(ws.ID, tenancy.Actor{Type: tenancy.ActorManager, Role: tenancy.RoleAdmin}), ws.ID, tenant
}

// BenchmarkActivity measures the activity log's queries as the app role with RLS on, first page
// and a deep page (5,000 entries in) for each filter and common combinations, at each size. Each
// sub-benchmark reports median and p95 (ms). With TENANTRY_BENCH_PLANS=1 it prints each plan.
func BenchmarkActivity(b *testing.B) {
	for _, n := range testdb.BenchSizes("TENANTRY_BENCH_ACTIVITY_SIZES", 100_000, 10_000_000) {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) { benchActivity(b, n) })
	}
}

func benchActivity(b *testing.B, n int) {
	ctx := context.Background()
	db := testdb.New(b)
	scope, wsID, tenant := seedActivity(b, db, n)
	integ := uuid.MustParse("00000000-0000-4000-a000-000000000007")
	conn := uuid.MustParse("00000000-0000-4000-9000-000000008435")
	elem := uuid.MustParse("00000000-0000-4000-b000-000000000012")
	hourAgo, dayAgo := time.Now().Add(-time.Hour), time.Now().Add(-24*time.Hour)
	weekAgo, weekAgoEnd := time.Now().Add(-8*24*time.Hour), time.Now().Add(-7*24*time.Hour)
	cases := []struct {
		name  string
		scope tenancy.Scope
		f     store.ActivityFilter
	}{
		{"all", scope, store.ActivityFilter{}},
		{"tenant", scope, store.ActivityFilter{TenantID: tenant}},
		{"type common", scope, store.ActivityFilter{Types: []string{"action.run"}}},
		{"type rare", scope, store.ActivityFilter{Types: []string{"limit.exceeded"}}},
		{"types 3", scope, store.ActivityFilter{Types: []string{"flow.run", "connection.created", "credentials.read"}}},
		{"status error", scope, store.ActivityFilter{Statuses: []string{"error"}}},
		{"status warning+error", scope, store.ActivityFilter{Statuses: []string{"warning", "error"}}},
		{"integration", scope, store.ActivityFilter{IntegrationID: integ}},
		{"connection", scope, store.ActivityFilter{ConnectionID: conn}},
		{"element", scope, store.ActivityFilter{ElementID: elem}},
		{"actor manager", scope, store.ActivityFilter{ActorTypes: []string{"manager"}}},
		{"last hour", scope, store.ActivityFilter{From: &hourAgo}},
		{"custom day a week ago", scope, store.ActivityFilter{From: &weekAgo, To: &weekAgoEnd}},
		{"text common", scope, store.ActivityFilter{Text: "deals"}},
		{"text rare", scope, store.ActivityFilter{Text: "cust-4217 timeout"}},
		{"tenant+status error", scope, store.ActivityFilter{TenantID: tenant, Statuses: []string{"error"}}},
		{"type+status", scope, store.ActivityFilter{Types: []string{"flow.run"}, Statuses: []string{"error"}}},
		{"integration+error+last day", scope, store.ActivityFilter{IntegrationID: integ, Statuses: []string{"error"}, From: &dayAgo}},
		{"text+tenant", scope, store.ActivityFilter{Text: "timeout", TenantID: tenant}},
		{"tenant scope all", tenancy.TenantScope(wsID, tenant), store.ActivityFilter{}},
		{"tenant scope error", tenancy.TenantScope(wsID, tenant), store.ActivityFilter{Statuses: []string{"error"}}},
		{"tenant scope text", tenancy.TenantScope(wsID, tenant), store.ActivityFilter{Text: "failed"}},
	}
	for _, c := range cases {
		// The deep page: 5,000 entries in (or as deep as the filter goes).
		deep := ""
		_ = db.InScope(ctx, c.scope, func(tx *store.Tx) error {
			f := c.f
			f.Limit = 1000
			for i := 0; i < 5; i++ {
				p, err := tx.ListActivity(ctx, f)
				if err != nil || p.Cursor == "" {
					return err
				}
				deep, f.Cursor = p.Cursor, p.Cursor
			}
			return nil
		})
		for _, depth := range []string{"first", "deep"} {
			f := c.f
			f.Limit = 50
			if depth == "deep" {
				if deep == "" {
					continue
				}
				f.Cursor = deep
			}
			b.Run(strings.ReplaceAll(c.name, " ", "_")+"/"+depth, func(b *testing.B) {
				var times []time.Duration
				rows := 0
				for b.Loop() {
					t0 := time.Now()
					if err := db.InScope(ctx, c.scope, func(tx *store.Tx) error {
						p, err := tx.ListActivity(ctx, f)
						if err == nil {
							rows = len(p.Items)
						}
						return err
					}); err != nil {
						b.Fatal(err)
					}
					times = append(times, time.Since(t0))
				}
				slices.Sort(times)
				b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
				b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
				b.ReportMetric(float64(rows), "rows")
			})
		}
		if os.Getenv("TENANTRY_BENCH_PLANS") != "" {
			plan, err := db.ExplainActivity(ctx, c.scope, store.ActivityFilter{TenantID: c.f.TenantID, Types: c.f.Types, Statuses: c.f.Statuses,
				IntegrationID: c.f.IntegrationID, ConnectionID: c.f.ConnectionID, ElementID: c.f.ElementID, ActorTypes: c.f.ActorTypes,
				From: c.f.From, To: c.f.To, Text: c.f.Text, Limit: 50})
			if err != nil {
				b.Fatal(err)
			}
			fmt.Printf("\n### %s (%d entries)\n```\n%s```\n", c.name, n, plan)
		}
	}
}
