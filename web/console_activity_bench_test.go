package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/config"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/testdb"
)

// seedConsoleActivity loads n entries spread over the last 29 days into the workspace ws, across
// 10,000 tenants (created too, so rows show names), 20 integrations, 2 connections per tenant and
// 50 elements, with the skew of internal/store's BenchmarkActivity (most entries are successful
// action runs by tenant tokens); the SQL is that benchmark's. Each week's partition is filled as a
// plain table without indexes, two at once, then attached, which builds its indexes in one pass.
func seedConsoleActivity(b *testing.B, db *store.DB, ws uuid.UUID, n int) {
	ctx := context.Background()
	start := time.Now()
	sql := db.SQL()
	if _, err := sql.ExecContext(ctx, `INSERT INTO tenants (workspace_id, id, internal_id, name, created_at)
		SELECT $1, ('00000000-0000-4000-8000-' || lpad(t::text, 12, '0'))::uuid, 'cust-' || t, 'Customer ' || t, now() - interval '60 days'
		FROM generate_series(1, 10000) t`, ws); err != nil {
		b.Fatal(err)
	}
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
		b.Fatal(firstErr)
	}
	if _, _, _, err := db.MaintainActivity(ctx, false, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := sql.ExecContext(ctx, `ANALYZE activity_log; ANALYZE tenants`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d activity entries in %s", n, time.Since(start).Round(time.Second))
}

// consoleActivitySizes are the log sizes BenchmarkConsoleActivity runs at
// (TENANTRY_BENCH_ACTIVITY_SIZES, comma-separated; default 100,000).
func consoleActivitySizes() []int {
	var out []int
	for _, p := range strings.Split(os.Getenv("TENANTRY_BENCH_ACTIVITY_SIZES"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return []int{100_000}
	}
	return out
}

// BenchmarkConsoleActivity measures the Console's Activity page as a manager gets it — session
// lookup, filters resolved, the scoped page query, tenant names, templ rendering — in process
// through the real handler, for the first page, each common filter, a "Load more" deep in the log
// and an entry's panel, reporting median and p95 server time per request.
func BenchmarkConsoleActivity(b *testing.B) {
	for _, n := range consoleActivitySizes() {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) { benchConsoleActivity(b, n) })
	}
}

func benchConsoleActivity(b *testing.B, n int) {
	ctx := context.Background()
	db := testdb.New(b)
	demo, err := seed.Demo(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	seedConsoleActivity(b, db, demo.Workspace.ID, n)
	cfg, err := config.Load(func(k string) string {
		if k == "TENANTRY_DATA_DIR" {
			return b.TempDir()
		}
		return ""
	})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	m, _, err := db.LookupManagerByEmail(ctx, seed.AdminEmail)
	if err != nil {
		b.Fatal(err)
	}
	token := randomToken()
	if err := db.CreateSession(ctx, m.ID, demo.Workspace.ID, token); err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	cs, _ := s.cookies.New(httptest.NewRequest("GET", "/", nil), sessionCookie)
	cs.Values["t"] = token
	if err := cs.Save(httptest.NewRequest("GET", "/", nil), rec); err != nil {
		b.Fatal(err)
	}
	cookie := rec.Result().Cookies()[0]
	get := func(url string, headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", url, nil)
		req.AddCookie(cookie)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: status %d", url, w.Code)
		}
		return w
	}

	tenant := "00000000-0000-4000-8000-000000004217"
	// A "Load more" 250 entries in: follow the list's own links.
	deep := "/activity"
	moreRE := regexp.MustCompile(`id="activity-load-more"[^>]*hx-get="([^"]+)"`)
	for range 5 {
		m := moreRE.FindStringSubmatch(get(deep, "HX-Request", "true", "HX-Target", "activity-more").Body.String())
		if m == nil {
			break
		}
		deep = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	entry := regexp.MustCompile(`data-testid="activity-row" data-id="([^"]+)"`).FindStringSubmatch(get("/activity?status=error").Body.String())
	if entry == nil {
		b.Fatal("no entry to open")
	}
	results := []string{"HX-Request", "true", "HX-Target", "activity-results"}
	cases := []struct {
		name, url string
		headers   []string
	}{
		{"first page", "/activity", nil},
		{"first page (htmx)", "/activity", results},
		{"tenant", "/activity?tenant=" + tenant, nil},
		{"tenant (htmx)", "/activity?tenant=" + tenant, results},
		{"status error", "/activity?status=error", results},
		{"type flow.run", "/activity?type=flow.run", results},
		{"type rare", "/activity?type=limit.exceeded", results},
		{"types 3", "/activity?type=flow.run&type=connection.created&type=credentials.read", results},
		{"text common", "/activity?q=deals", results},
		{"text rare", "/activity?q=cust-4217+timeout", results},
		{"tenant+status error", "/activity?tenant=" + tenant + "&status=error", results},
		{"type+status+last day", "/activity?type=flow.run&status=error&range=day", results},
		{"integration+text (none match)", "/activity?integration=hubspot&q=timeout", results},
		{"tenant tab", "/tenants/" + tenant + "/activity", nil},
		{"load more (250 in)", deep, []string{"HX-Request", "true", "HX-Target", "activity-more"}},
		{"entry panel", "/activity/" + entry[1], []string{"HX-Request", "true", "HX-Target", "activity-detail"}},
		{"type-ahead", "/activity/tenants?tenantq=cust-42", []string{"HX-Request", "true"}},
	}
	for _, c := range cases {
		b.Run(strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			var times []time.Duration
			rows := 0
			for b.Loop() {
				start := time.Now()
				w := get(c.url, c.headers...)
				times = append(times, time.Since(start))
				rows = strings.Count(w.Body.String(), `data-testid="activity-row"`)
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
