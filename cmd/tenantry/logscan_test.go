package main

// Secrets absent from the output of real server processes (issue 8, item 4). Tests that start
// `tenantry serve` (startServe) keep everything each process writes, stdout and stderr, and
// register every secret they mint or use: workspace secrets, tokens, the encryption and session
// keys, planted SENTINEL- credentials. checkServerOutput, called at the end of each such test
// and again once each process has exited (so shutdown lines are read too), fails the test for
// every output line that holds a registered secret or a SENTINEL- value, and for every log
// (stderr) line that holds anything shaped like a signed token. stdout is exempt from that last
// rule only: in development `serve` prints a sample tenant token there on purpose (the banner),
// a token the test never used.

import (
	"fmt"
	"strings"
	"sync"
	"tenantry/internal/logscan"
	"testing"
)

// watchedOutput is one stream a server process writes.
type watchedOutput struct {
	name string
	buf  *syncBuffer
	log  bool // a log stream: a token-shaped value is a leak even when not registered
}

// outputScan is one test's secrets and the server output that may not hold them.
type outputScan struct {
	mu       sync.Mutex
	secrets  *logscan.Secrets
	outputs  []watchedOutput
	reported map[string]bool // "output:line" already reported
}

func newOutputScan() *outputScan {
	return &outputScan{secrets: logscan.NewSecrets(), reported: map[string]bool{}}
}

var (
	outputScansMu sync.Mutex
	outputScans   = map[*testing.T]*outputScan{}
)

// outputScanOf is t's scan, made on first use.
func outputScanOf(t *testing.T) *outputScan {
	outputScansMu.Lock()
	defer outputScansMu.Unlock()
	s, ok := outputScans[t]
	if !ok {
		s = newOutputScan()
		outputScans[t] = s
	}
	return s
}

// registerSecret adds a secret no server output line of t's processes may hold.
func registerSecret(t *testing.T, what, secret string) {
	t.Helper()
	outputScanOf(t).register(what, secret)
}

// watchOutput adds a stream of one of t's server processes to the scan.
func watchOutput(t *testing.T, name string, buf *syncBuffer, log bool) {
	outputScanOf(t).watch(name, buf, log)
}

// checkServerOutput fails t for every output line of its server processes that holds a secret
// (each line is reported once however often this runs).
func checkServerOutput(t *testing.T) {
	t.Helper()
	s := outputScanOf(t)
	found, lines := s.findings()
	for i, f := range found {
		if i == 20 {
			t.Errorf("… and %d more lines holding secrets", len(found)-20)
			break
		}
		t.Errorf("server output leaks a secret: %s", f)
	}
	s.mu.Lock()
	outputs, secrets := len(s.outputs), s.secrets.Len()
	s.mu.Unlock()
	if outputs == 0 || lines == 0 {
		t.Errorf("the output scan read %d lines of %d streams: nothing was watched", lines, outputs)
	}
	t.Logf("output scan: %d lines of %d streams, %d secret forms registered, %d leaks", lines, outputs, secrets, len(found))
}

func (s *outputScan) register(what, secret string) { s.secrets.Register(what, secret) }

func (s *outputScan) watch(name string, buf *syncBuffer, log bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outputs = append(s.outputs, watchedOutput{name, buf, log})
}

// findings returns one message per line not reported before that holds a secret, and how many
// lines the outputs hold.
func (s *outputScan) findings() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	total := 0
	for _, o := range s.outputs {
		text := strings.TrimRight(o.buf.String(), "\n")
		if text == "" {
			continue
		}
		check := s.secrets.Checker(o.log)
		for n, line := range strings.Split(text, "\n") {
			total++
			why := check(line)
			key := fmt.Sprintf("%s:%d", o.name, n)
			if len(why) == 0 || s.reported[key] {
				continue
			}
			s.reported[key] = true
			out = append(out, fmt.Sprintf("%s line %d holds %s: %s", o.name, n+1, strings.Join(why, ", "), logscan.Shorten(line, 1000)))
		}
	}
	return out, total
}

// TestServerOutputScanFails proves the scan fails when it should, on fake process output.
func TestServerOutputScanFails(t *testing.T) {
	s := newOutputScan()
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJ3b3Jrc3BhY2VLZXkiOiJkZW1vIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	banner := "eyJhbGciOiJIUzI1NiJ9.eyJpZCI6ImFjbWUiLCJpc3MiOiJkZW1vIn0.YmFubmVyLXNpZ25hdHVyZS14eHg"
	s.register("the workspace secret", "ws-secret-0123456789")
	s.register("a credential with a quote", `cred"with quote`)
	s.register("too short", "abc")
	stderr, stdout := &syncBuffer{}, &syncBuffer{}
	s.watch("serve stderr", stderr, true)
	s.watch("serve stdout", stdout, false)
	for _, l := range []string{
		`time=… level=INFO msg=request method=GET path=/api/self status=200`,       // 1: clean
		`time=… level=ERROR msg="api error" err="secret ws-secret-0123456789 bad"`, // 2: the secret
		`time=… level=WARN msg=upstream detail="cred\"with quote"`,                 // 3: the secret, quoted
		`time=… level=INFO msg=x token=` + tok,                                     // 4: a token
		`time=… level=INFO msg=run input=SENTINEL-abc`,                             // 5: a sentinel
		`time=… level=INFO msg=short v="abc abc"`,                                  // 6: clean (too short to register)
	} {
		_, _ = stderr.Write([]byte(l + "\n"))
	}
	_, _ = stdout.Write([]byte("Tenantry is running.\n  Tenant token for acme (2 h):\n    " + banner + "\n  secret ws-secret-0123456789\n"))

	got, lines := s.findings()
	want := []string{
		"serve stderr line 2 holds the workspace secret",
		"serve stderr line 3 holds a credential with a quote",
		"serve stderr line 4 holds a signed token",
		"serve stderr line 5 holds a planted SENTINEL- value",
		"serve stdout line 4 holds the workspace secret",
	}
	if lines != 10 {
		t.Errorf("read %d lines, want 10", lines)
	}
	if len(got) != len(want) {
		t.Fatalf("findings:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("finding %d = %q, want it to start %q", i, got[i], w)
		}
	}
	// Each line is reported once; a new leaking line is reported on the next check.
	_, _ = stderr.Write([]byte("late line SENTINEL-late\n"))
	if again, _ := s.findings(); len(again) != 1 || !strings.HasPrefix(again[0], "serve stderr line 7 holds a planted") {
		t.Errorf("second check: %q, want only the new line", again)
	}
}
