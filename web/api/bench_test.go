package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
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

// BenchmarkGetSelfParallel is the same from 16 goroutines as 16 tenants, as the wrk run has 16
// connections: concurrent reads are coalesced (store/readbatch.go); reads/msg is the mean batch.
func BenchmarkGetSelfParallel(b *testing.B) {
	ctx := context.Background()
	db := testdb.New(b)
	ws, secret, err := db.CreateWorkspace(ctx, "bench", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	h := api.New(db, slog.New(slog.DiscardHandler))
	var toks []string
	for i := range 16 {
		tok, _ := auth.Sign([]byte(secret), ws.Key, fmt.Sprintf("tenant-%d", i), "Tenant", false, time.Hour)
		toks = append(toks, tok)
	}
	var next atomic.Int64
	b0, r0 := db.ReadBatchStats()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/api/self", nil)
		req.Header.Set("Authorization", "Bearer "+toks[next.Add(1)%16])
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.StopTimer()
	if b1, r1 := db.ReadBatchStats(); b1 > b0 {
		b.ReportMetric(float64(r1-r0)/float64(b1-b0), "reads/msg")
	}
}
