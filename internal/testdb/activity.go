package testdb

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
)

// SeedActivity loads n activity entries spread over the last 29 days into workspace ws, for the
// activity benchmarks (internal/store's BenchmarkActivity, web's BenchmarkConsoleActivity). The
// entries name tenants 00000000-0000-4000-8000-<n> (1 to 10,000; the caller creates them if it
// needs their rows), 20 integrations, 2 connections per tenant and 50 elements, with a realistic
// skew (most are successful action runs by tenant tokens). It is fixture data, so it takes the
// fast road: each week's partition is filled as a plain table without indexes, two at once, then
// attached, which builds its indexes in one pass. The partitions that hold the last 29 days are
// made here instead of by the migrations.
func SeedActivity(ctx context.Context, db *store.DB, ws uuid.UUID, n int) error {
	sql := db.SQL()
	now := time.Now().UTC()
	oldest := now.Add(-29 * 24 * time.Hour)
	var existing []string
	if err := sql.SelectContext(ctx, &existing, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'activity_log'::regclass AND to_date(substr(c.relname, 15), 'YYYYMMDD') <= current_date`); err != nil {
		return err
	}
	for _, p := range existing {
		if _, err := sql.ExecContext(ctx, `DROP TABLE `+p); err != nil {
			return err
		}
	}
	type week struct {
		start, from, to time.Time
		rows, base      int
	}
	var weeks []week
	monday := oldest.Truncate(24 * time.Hour)
	for monday.Weekday() != time.Monday {
		monday = monday.Add(-24 * time.Hour)
	}
	total, offset := now.Sub(oldest), 0
	for w := monday; w.Before(now); w = w.Add(7 * 24 * time.Hour) {
		from, to := w, w.Add(7*24*time.Hour)
		if from.Before(oldest) {
			from = oldest
		}
		if to.After(now) {
			to = now
		}
		rows := int(float64(n) * float64(to.Sub(from)) / float64(total))
		weeks = append(weeks, week{start: w, from: from, to: to, rows: rows, base: offset})
		offset += rows
	}
	weeks[len(weeks)-1].rows += n - offset
	weekCh := make(chan week)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for wk := range weekCh {
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
					      FROM generate_series(%d::bigint, %d::bigint) i) s`, name, ws,
						wk.from.Format(time.RFC3339Nano), wk.base+1, wk.rows, wk.to.Format(time.RFC3339Nano), wk.from.Format(time.RFC3339Nano),
						wk.base+1, wk.base+wk.rows),
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
	for _, w := range weeks {
		weekCh <- w
	}
	close(weekCh)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if _, _, _, err := db.MaintainActivity(ctx, false, 0); err != nil {
		return err
	}
	_, err := sql.ExecContext(ctx, `ANALYZE activity_log`)
	return err
}

// BenchSizes reads a comma-separated list of sizes from the environment variable name, else def.
func BenchSizes(name string, def ...int) []int {
	var out []int
	for _, p := range strings.Split(os.Getenv(name), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}
