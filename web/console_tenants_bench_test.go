package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"tenantry/internal/config"
	"tenantry/internal/seed"
	"tenantry/internal/testdb"
)

// BenchmarkTenantsPage measures the Console's tenant list as a manager sees it — session lookup,
// scoped queries (page and total count), templ rendering — in process over 100,000 tenants,
// reporting median and p95 server time per request.
func BenchmarkTenantsPage(b *testing.B) {
	ctx := context.Background()
	db := testdb.New(b)
	demo, err := seed.Demo(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO tenants (workspace_id, id, internal_id, name, created_at)
		SELECT $1, gen_random_uuid(), 'cust-' || lpad(i::text, 6, '0'),
			(ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark','Wayne','Wonka'])[1 + i % 8] || ' ' || i || ' ' || md5(i::text),
			now() - (i || ' seconds')::interval
		FROM generate_series(1, 100000) i`, demo.Workspace.ID); err != nil {
		b.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `ANALYZE tenants`); err != nil {
		b.Fatal(err)
	}
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

	for _, c := range []struct{ name, url string }{
		{"first page", "/tenants"},
		{"search internalId (htmx)", "/tenants?q=cust-04217"},
		{"search 3 chars (htmx)", "/tenants?q=421"},
		{"sort by name", "/tenants?sort=name&dir=asc"},
		{"broad search (htmx, 12,500 matches)", "/tenants?q=wonka"},
		{"first keystroke (htmx)", "/tenants?q=w"},
	} {
		b.Run(strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				req := httptest.NewRequest("GET", c.url, nil)
				req.AddCookie(cookie)
				if strings.Contains(c.name, "htmx") {
					req.Header.Set("HX-Request", "true")
					req.Header.Set("HX-Target", "tenant-results")
				}
				w := httptest.NewRecorder()
				start := time.Now()
				s.ServeHTTP(w, req)
				times = append(times, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("%s: status %d", c.url, w.Code)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
