package api_test

// Upstream faults during action runs (issue 8, item 6, second half): real TCP servers on
// 127.0.0.1 that misbehave below HTTP — accept and never answer, send headers then stall the
// body, close or reset the connection mid-response, drip bytes forever. Each run goes through
// the real API and must end within the action's timeout (plus generous slack) with the run error
// shape (504 external_app_timeout or 502 external_app_unreachable, type action_run, never a
// 500), be recorded in the activity log as a failed run, and leave the server healthy: /api/self
// and a run against a healthy upstream answer, also while faulty runs are still pending, and the
// goroutine count returns to its baseline.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultMode is how a faulty upstream treats each connection once it has read the request head.
type faultMode string

const (
	faultSilent     faultMode = "accept and never answer"
	faultStallBody  faultMode = "headers, then the body stalls"
	faultCloseMid   faultMode = "close mid-response"
	faultReset      faultMode = "reset (RST) mid-response"
	faultDrip       faultMode = "drip one byte at a time forever"
	faultResetEarly faultMode = "reset before answering"
)

// faultUpstream is a raw TCP server playing one fault.
type faultUpstream struct {
	ln       net.Listener
	mode     faultMode
	accepted atomic.Int64
	requests atomic.Int64 // request heads read
	dropped  atomic.Int64 // connections the client (the runner) closed while held
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newFaultUpstream(t *testing.T, mode faultMode) *faultUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &faultUpstream{ln: ln, mode: mode, stop: make(chan struct{})}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepted.Add(1)
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(f.close)
	return f
}

func (f *faultUpstream) url() string { return "http://" + f.ln.Addr().String() }

// close stops the server and every connection it holds, and waits for its goroutines.
func (f *faultUpstream) close() {
	select {
	case <-f.stop:
		return
	default:
	}
	close(f.stop)
	_ = f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// serve reads the request head and plays the fault.
func (f *faultUpstream) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	f.requests.Add(1)
	// hold keeps the connection open until the server stops or the client closes it.
	hold := func() {
		gone := make(chan struct{})
		go func() {
			_, _ = br.ReadByte() // blocks until the client closes (or sends more, which it does not)
			close(gone)
		}()
		select {
		case <-f.stop:
		case <-gone:
			f.dropped.Add(1)
		case <-time.After(2 * time.Minute):
		}
	}
	reset := func() {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // Close sends RST
		}
	}
	switch f.mode {
	case faultSilent:
		hold()
	case faultStallBody:
		_, _ = fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"partial\":")
		hold()
	case faultCloseMid:
		_, _ = fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"partial\":")
	case faultReset:
		_, _ = fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"partial\":")
		time.Sleep(20 * time.Millisecond)
		reset()
	case faultResetEarly:
		reset()
	case faultDrip:
		_, _ = fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-tick.C:
				if _, err := fmt.Fprint(c, "1\r\n \r\n"); err != nil {
					return // the client gave up: the runner's timeout held
				}
			}
		}
	}
}

// faultRun is one faulty run's answer.
type faultRun struct {
	res     *resp
	elapsed time.Duration
}

// goroutinesSettle waits (generously) for the goroutine count to fall to at most limit and
// returns the last count.
func goroutinesSettle(limit int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(20 * time.Second); n > limit && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

// TestActionRunUpstreamFaults: every fault ends within the timeout with the run error shape, is
// logged as a failed run, and the server stays healthy; no goroutine is left behind.
func TestActionRunUpstreamFaults(t *testing.T) {
	re := newRunEnv(t)
	re.action("crm", "ping", map[string]any{"method": "GET", "path": "/ping"})
	healthy := func(what string) {
		t.Helper()
		if res := re.do(req{Method: "GET", Path: "/api/self", Token: re.acmeTok}); res.Status != http.StatusOK {
			t.Errorf("%s: GET /api/self: %d %s", what, res.Status, res.Body)
		}
		if res := re.do(req{Method: "POST", Path: "/api/connections/" + re.acmeConn.ID + "/actions/ping/run", Token: re.acmeTok}); res.Status != http.StatusOK {
			t.Errorf("%s: a run against the healthy upstream: %d %s", what, res.Status, res.Body)
		}
	}
	// Warm up (pools, keep-alive connections, workers) before the goroutine baseline.
	healthy("before the faults")
	healthy("before the faults, again")
	baseline := runtime.NumGoroutine()

	const timeoutSeconds = 1
	for i, tc := range []struct {
		mode   faultMode
		status int
		key    string
	}{
		{faultSilent, http.StatusGatewayTimeout, "external_app_timeout"},
		{faultStallBody, http.StatusGatewayTimeout, "external_app_timeout"},
		{faultDrip, http.StatusGatewayTimeout, "external_app_timeout"},
		{faultCloseMid, http.StatusBadGateway, "external_app_unreachable"},
		{faultReset, http.StatusBadGateway, "external_app_unreachable"},
		{faultResetEarly, http.StatusBadGateway, "external_app_unreachable"},
	} {
		t.Run(strings.ReplaceAll(string(tc.mode), " ", "_"), func(t *testing.T) {
			up := newFaultUpstream(t, tc.mode)
			key := fmt.Sprintf("fault%d", i)
			decode[integration](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: re.admin,
				Body: map[string]any{"key": key, "name": key, "baseUri": up.url() + "/api", "authType": "bearer"}})
			re.action(key, key+"-get", map[string]any{"method": "GET", "path": "/things", "timeoutSeconds": timeoutSeconds})
			conn := re.connect("acme", key, key, map[string]any{"accessToken": "SENTINEL-fault-" + key})
			path := "/api/connections/" + conn.ID + "/actions/" + key + "-get/run"
			errorsBefore := re.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = 'action.run' AND status = 'error' AND connection_id = $2`, re.ws.ID, conn.ID)

			// Four runs at once; while they are pending, the server answers.
			const n = 4
			runs := make([]faultRun, n)
			var wg sync.WaitGroup
			for j := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					runs[j] = faultRun{res: doReq(t, re.ts.URL, req{Method: "POST", Path: path, Token: re.acmeTok, Body: map[string]any{"input": map[string]any{"j": j}}}), elapsed: time.Since(start)}
				}()
			}
			if tc.status == http.StatusGatewayTimeout {
				for deadline := time.Now().Add(10 * time.Second); up.requests.Load() < n && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
				}
				if got := up.requests.Load(); got < n {
					t.Errorf("the faulty upstream received %d of %d requests", got, n)
				}
				healthy("while runs hang on " + string(tc.mode))
			}
			wg.Wait()

			for j, r := range runs {
				what := fmt.Sprintf("%s: run %d", tc.mode, j)
				if r.res.Status != tc.status {
					t.Errorf("%s: status %d, want %d: %s", what, r.res.Status, tc.status, r.res.Body)
					continue
				}
				e := r.res.Err(t)
				if e.Type != "action_run" || e.Key != tc.key || e.Message == "" {
					t.Errorf("%s: error %+v, want type action_run, key %s and a message", what, e, tc.key)
				}
				if strings.Contains(string(r.res.Body), "SENTINEL-") {
					t.Errorf("%s: the answer carries the connection's credential: %s", what, r.res.Body)
				}
				// The runner's timeout, plus generous slack for a loaded machine.
				if limit := timeoutSeconds*time.Second + 9*time.Second; r.elapsed > limit {
					t.Errorf("%s: took %s, over the %ds timeout plus slack (%s)", what, r.elapsed.Round(time.Millisecond), timeoutSeconds, limit)
				}
			}
			if tc.mode == faultSilent || tc.mode == faultStallBody {
				// The runner hung up on the stalled connections itself (nothing holds them open).
				for deadline := time.Now().Add(10 * time.Second); up.dropped.Load() < n && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
				}
				if got := up.dropped.Load(); got != n {
					t.Errorf("%s: the runner closed %d of %d stalled connections", tc.mode, got, n)
				}
			}
			if got := re.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = 'action.run' AND status = 'error' AND connection_id = $2`, re.ws.ID, conn.ID) - errorsBefore; got != n {
				t.Errorf("%s: %d failed runs in the activity log, want %d", tc.mode, got, n)
			}
			if got := re.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND connection_id = $2 AND (details::text LIKE '%SENTINEL-%' OR message LIKE '%SENTINEL-%')`, re.ws.ID, conn.ID); got != 0 {
				t.Errorf("%s: %d activity entries carry the connection's credential", tc.mode, got)
			}
			up.close()
			healthy("after " + string(tc.mode))
		})
	}

	// Nothing is left behind: the runner's connections to the faulty upstreams are gone and no
	// request goroutine waits on them.
	if n := goroutinesSettle(baseline + 5); n > baseline+5 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("goroutines: %d after the faults, %d before: a leak?\n%s", n, baseline, buf)
	}
	healthy("at the end")
}

// TestActionRunTimeoutHoldsWhenTheCallerLeaves: a caller that disconnects while its run hangs
// (on a 30 s timeout) does not leave the run, its upstream connection or its goroutines behind.
func TestActionRunTimeoutHoldsWhenTheCallerLeaves(t *testing.T) {
	re := newRunEnv(t)
	up := newFaultUpstream(t, faultSilent)
	decode[integration](re.env, http.StatusCreated, req{Method: "POST", Path: "/api/integrations", Token: re.admin,
		Body: map[string]any{"key": "silent", "name": "silent", "baseUri": up.url(), "authType": "none"}})
	re.action("silent", "wait", map[string]any{"method": "GET", "path": "/wait", "timeoutSeconds": 30})
	conn := re.connect("acme", "silent", "silent", map[string]any{})
	re.do(req{Method: "GET", Path: "/api/self", Token: re.acmeTok})
	baseline := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, re.ts.URL+"/api/connections/"+conn.ID+"/actions/wait/run", nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+re.acmeTok)
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(hr)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); up.requests.Load() < 1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if up.requests.Load() != 1 {
		t.Fatalf("the upstream received %d requests, want 1", up.requests.Load())
	}
	cancel()
	<-done
	// The run ends with its caller, well before its own 30 s timeout: the runner hangs up.
	for deadline := time.Now().Add(15 * time.Second); up.dropped.Load() < 1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if up.dropped.Load() != 1 {
		t.Errorf("the runner kept the abandoned run's upstream connection open")
	}
	// The abandoned run is still recorded: the call reached the upstream, so the log says so
	// (recorded under a context of its own, not the cancelled request's).
	var n int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n = re.count(`SELECT count(*) FROM activity_log WHERE workspace_id = $1 AND type = 'action.run' AND connection_id = $2`, re.ws.ID, conn.ID); n > 0 {
			break
		}
	}
	if n != 1 {
		t.Errorf("the abandoned run has %d activity entries, want 1", n)
	}
	if n := goroutinesSettle(baseline + 3); n > baseline+3 {
		t.Errorf("goroutines: %d after the caller left, %d before", n, baseline)
	}
	if res := re.do(req{Method: "GET", Path: "/api/self", Token: re.acmeTok}); res.Status != http.StatusOK {
		t.Errorf("GET /api/self after: %d", res.Status)
	}
}
