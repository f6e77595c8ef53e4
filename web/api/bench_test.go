package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tenantry/internal/auth"
	"tenantry/internal/testdb"
	"tenantry/web/api"
)

// BenchmarkGetSelf is GET /api/self in process: token, scope, one scoped read, JSON. Its
// difference from the wrk figure (scripts/bench-api.sh) is HTTP and the network.
func BenchmarkGetSelf(b *testing.B) {
	ctx := context.Background()
	db := testdb.New(b)
	ws, secret, err := db.CreateWorkspace(ctx, "bench", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := auth.Sign([]byte(secret), ws.Key, "tenant-1", "Tenant One", false, time.Hour)
	h := api.New(db, slog.New(slog.DiscardHandler))
	req := httptest.NewRequest("GET", "/api/self", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
