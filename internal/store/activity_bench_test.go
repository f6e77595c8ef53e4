package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// seedActivity loads n entries spread over the last 29 days into a new workspace of db, across
// 10,000 tenants, 20 integrations, 2 connections per tenant and 50 elements, with a realistic
// skew (most entries are successful action runs by tenant tokens). It is fixture data, so it
// takes the fast road: each week's partition is filled as a plain table without indexes, two at
// once, then attached, which builds its indexes in one pass.
func seedActivity(b *testing.B, db *store.DB, n int) (tenancy.Scope, uuid.UUID, uuid.UUID) {
	ctx := context.Background()
	start := time.Now()
	ws, _, err := db.CreateWorkspace(ctx, "actbench", "Activity bench")
	if err != nil {
		b.Fatal(err)
	}
	sql := db.SQL()
	// The partitions that hold the last 29 days are made here instead of by the migrations.
	now := time.Now().UTC()
	oldest := now.Add(-29 * 24 * time.Hour)
	var existing []string
	if err := sql.SelectContext(ctx, &existing, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'activity_log'::regclass AND to_date(substr(c.relname, 15), 'YYYYMMDD') <= current_date`); err != nil {
		b.Fatal(err)
	}
	for _, p := range existing {
		if _, err := sql.ExecContext(ctx, `DROP TABLE `+p); err != nil {
			b.Fatal(err)
		}
	}
	// Weeks (Monday to Monday, UTC) overlapping [oldest, now), each with its share of n.
	type week struct {
		start, from, to time.Time
		rows            int
	}
	var weeks []week
	monday := oldest.Truncate(24 * time.Hour)
	for monday.Weekday() != time.Monday {
		monday = monday.Add(-24 * time.Hour)
	}
	total := now.Sub(oldest)
	offset := 0
	for ws := monday; ws.Before(now); ws = ws.Add(7 * 24 * time.Hour) {
		from, to := ws, ws.Add(7*24*time.Hour)
		if from.Before(oldest) {
			from = oldest
		}
		if to.After(now) {
			to = now
		}
		rows := int(float64(n) * float64(to.Sub(from)) / float64(total))
		weeks = append(weeks, week{start: ws, from: from, to: to, rows: rows})
		offset += rows
	}
	weeks[len(weeks)-1].rows += n - offset
	weekCh := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	base := 0
	bases := make([]int, len(weeks))
	for i, w := range weeks {
		bases[i] = base
		base += w.rows
	}
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for wi := range weekCh {
				wk := weeks[wi]
				name := "activity_log_w" + wk.start.Format("20060102")
				stmts := []string{
					`CREATE TABLE ` + name + ` (LIKE activity_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED)`,
					fmt.Sprintf(`INSERT INTO %s (workspace_id, created_at, id, tenant_id, type, status, actor_type, actor_id,
						connection_id, integration_id, element_id, message, details, duration_ms)
					SELECT '%s', ts,
						(lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
						CASE WHEN i %% 50 = 0 THEN NULL ELSE ('00000000-0000-4000-8000-' || lpad((t)::text, 12, '0'))::uuid END,
						(ARRAY['action.run','action.run','action.run','action.run','flow.run','flow.run','connection.created',
						       'tenant.updated','credentials.read','customization.updated','settings.updated','limit.exceeded'])[1 + i %% 12],
						CASE WHEN i %% 31 = 0 THEN 'error' WHEN i %% 14 = 0 THEN 'warning' ELSE 'success' END,
						CASE WHEN i %% 50 = 0 THEN 'manager' WHEN i %% 7 = 0 THEN 'workspace-token' WHEN i %% 97 = 0 THEN 'system' ELSE 'tenant-token' END,
						'',
						CASE WHEN i %% 3 <> 0 THEN ('00000000-0000-4000-9000-' || lpad((t * 2 + i %% 2)::text, 12, '0'))::uuid END,
						CASE WHEN i %% 3 <> 0 THEN ('00000000-0000-4000-a000-' || lpad((t %% 20)::text, 12, '0'))::uuid END,
						CASE WHEN i %% 2 = 0 THEN ('00000000-0000-4000-b000-' || lpad((i %% 50)::text, 12, '0'))::uuid END,
						(ARRAY['Action list-deals ran', 'Flow sync-contacts finished', 'Connection to HubSpot created',
						       'Tenant fields updated', 'Credentials read', 'Action create-invoice failed: timeout after 30 s'])[1 + i %% 6]
							|| ' for cust-' || t || ' in ' || (i %% 900) || ' ms',
						'{"input":{"limit":100}}', i %% 900
					FROM (SELECT i, 1 + ((i * 7919) %% 10000) AS t, md5(i::text) AS h,
					             '%s'::timestamptz + ((i - %d)::float8 / %d) * ('%s'::timestamptz - '%s'::timestamptz) AS ts
					      FROM generate_series(%d::bigint, %d::bigint) i) s`, name, ws.ID,
						wk.from.Format(time.RFC3339Nano), bases[wi]+1, wk.rows, wk.to.Format(time.RFC3339Nano), wk.from.Format(time.RFC3339Nano),
						bases[wi]+1, bases[wi]+wk.rows),
					`ALTER TABLE ` + name + ` ENABLE ROW LEVEL SECURITY`,
					`ALTER TABLE ` + name + ` FORCE ROW LEVEL SECURITY`,
					fmt.Sprintf(`ALTER TABLE activity_log ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`, name,
						wk.start.Format(time.RFC3339), wk.start.Add(7*24*time.Hour).Format(time.RFC3339)),
				}
				for _, s := range stmts {
					if _, err := sql.ExecContext(ctx, s); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("%s: %w", name, err)
						}
						mu.Unlock()
						break
					}
				}
			}
		}()
	}
	for i := range weeks {
		weekCh <- i
	}
	close(weekCh)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	if _, _, _, err := db.MaintainActivity(ctx, false, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := sql.ExecContext(ctx, `ANALYZE activity_log`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d activity entries in %s", n, time.Since(start).Round(time.Second))
	tenant := uuid.MustParse("00000000-0000-4000-8000-000000004217")
	return tenancy.WorkspaceScope(ws.ID, tenancy.Actor{Type: tenancy.ActorManager, Role: tenancy.RoleAdmin}), ws.ID, tenant
}

// activityBenchSizes are the log sizes BenchmarkActivity runs at (TENANTRY_BENCH_ACTIVITY_SIZES,
// comma-separated; default 100,000 and 10,000,000).
func activityBenchSizes() []int {
	s := os.Getenv("TENANTRY_BENCH_ACTIVITY_SIZES")
	if s == "" {
		return []int{100_000, 10_000_000}
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// BenchmarkActivity measures the activity log's queries as the app role with RLS on, first page
// and a deep page (5,000 entries in) for each filter and common combinations, at each size. Each
// sub-benchmark reports median and p95 (ms). With TENANTRY_BENCH_PLANS=1 it prints each plan.
func BenchmarkActivity(b *testing.B) {
	for _, n := range activityBenchSizes() {
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
