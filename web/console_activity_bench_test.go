package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/config"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/testdb"
)

// seedConsoleActivity creates the 10,000 tenants testdb.SeedActivity's entries name (so rows show
// names) and loads n entries into the workspace ws.
func seedConsoleActivity(b *testing.B, db *store.DB, ws uuid.UUID, n int) {
	ctx := context.Background()
	start := time.Now()
	sql := db.SQL()
	if _, err := sql.ExecContext(ctx, `INSERT INTO tenants (workspace_id, id, internal_id, name, created_at)
		SELECT $1, ('00000000-0000-4000-8000-' || lpad(t::text, 12, '0'))::uuid, 'cust-' || t, 'Customer ' || t, now() - interval '60 days'
		FROM generate_series(1, 10000) t`, ws); err != nil {
		b.Fatal(err)
	}
	if err := testdb.SeedActivity(ctx, db, ws, n); err != nil {
		b.Fatal(err)
	}
	if _, err := sql.ExecContext(ctx, `ANALYZE tenants`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d activity entries in %s", n, time.Since(start).Round(time.Second))
}

// BenchmarkConsoleActivity measures the Console's Activity page as a manager gets it — session
// lookup, filters resolved, the scoped page query, tenant names, templ rendering — in process
// through the real handler, for the first page, each common filter, a "Load more" deep in the log
// and an entry's panel, reporting median and p95 server time per request.
func BenchmarkConsoleActivity(b *testing.B) {
	for _, n := range testdb.BenchSizes("TENANTRY_BENCH_ACTIVITY_SIZES", 100_000) {
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
