package runner_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tenantry/internal/runner"
)

// BenchmarkRunOverhead compares a tenant's action run (resolve the effective action and the
// connection in scope, decrypt credentials, call the upstream, record the run) with calling the
// same upstream directly, at the same concurrency (16), in one run; it reports each one's
// throughput and their ratio.
func BenchmarkRunOverhead(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	const conc = 16
	const dur = 5 * time.Second
	measure := func(f func() error) float64 {
		var n atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(dur)
		for i := 0; i < conc; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					if err := f(); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / dur.Seconds()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	direct := func() error {
		req, _ := http.NewRequest("GET", e.up.URL+"/api/deals?limit=100&owner=x", nil)
		req.Header.Set("Authorization", "Bearer tok-a")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	run := func() error {
		_, err := e.svc.RunAction(ctx, e.scope(e.a), runner.ActionRun{Key: "list-deals-free", Input: map[string]any{"owner": "x"}})
		return err
	}
	for i := 0; i < b.N; i++ {
		d := measure(direct)
		r := measure(run)
		b.ReportMetric(d, "direct-calls/s")
		b.ReportMetric(r, "runs/s")
		b.ReportMetric(r/d, "ratio")
	}
}
