package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tenantry/internal/auth"
	"tenantry/internal/pgembed"
	"tenantry/internal/secrets"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// TestServeWithReadReplica runs the server with DATABASE_URL on a primary and DATABASE_READ_URL
// on a hot standby of it: the API's activity list is served by the standby (an entry written
// while its replay is paused is missing), and with the standby stopped the same request answers
// 200 from the primary.
func TestServeWithReadReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary and a standby PostgreSQL cluster")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := traversableTempDir(t)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	primary, err := pgembed.Start(ctx, pgembed.Options{Dir: filepath.Join(dir, "primary"), Logger: log, Replication: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Stop() })
	if err := primary.EnsureDatabase(ctx, "tenantry"); err != nil {
		t.Fatal(err)
	}
	encSpec := secrets.GenerateKeySpec("k1")
	ring, err := secrets.ParseKeyRing(encSpec)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, primary.URL("tenantry"), ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ws, secret, err := db.CreateWorkspace(ctx, "replicated", "Replicated")
	if err != nil {
		t.Fatal(err)
	}
	standby, err := pgembed.Start(ctx, pgembed.Options{Dir: filepath.Join(dir, "standby"), Logger: log, StandbyOf: primary})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Stop() })

	stderr := &syncBuffer{}
	getenv := envOf(map[string]string{
		"DATABASE_URL": primary.URL("tenantry"), "DATABASE_READ_URL": standby.URL("tenantry"), "TENANTRY_READ_MAX_LAG": "10s",
		"TENANTRY_DATA_DIR": filepath.Join(dir, "data"), "TENANTRY_ENCRYPTION_KEYS": encSpec,
		"TENANTRY_SESSION_KEYS": base64.StdEncoding.EncodeToString(make([]byte, 64)), "TENANTRY_LOG_LEVEL": "info",
	})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, pw, stderr)
		pw.Close()
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", stderr.String())
		}
	})
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := consoleLineRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case base <- strings.TrimSuffix(m[1], "/"):
				default:
				}
			}
		}
	}()
	var url string
	select {
	case url = <-base:
	case err := <-done:
		t.Fatalf("serve ended: %v\n%s", err, stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("no address within 90s:\n%s", stderr.String())
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "read replica in use") {
		if time.Now().After(deadline) {
			t.Fatalf("the server never used the replica:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	token, err := auth.Sign([]byte(secret), ws.Key, "", "", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	messages := func() []string {
		t.Helper()
		req, _ := http.NewRequest("GET", url+"/api/activity-logs?limit=100", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/activity-logs: %d %s", res.StatusCode, body)
		}
		var out struct{ Items []struct{ Message string } }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		var ms []string
		for _, it := range out.Items {
			ms = append(ms, it.Message)
		}
		return ms
	}

	super, err := sql.Open("postgres", standby.URL("tenantry"))
	if err != nil {
		t.Fatal(err)
	}
	defer super.Close()
	if _, err := super.Exec(`SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	for state := ""; state != "paused"; time.Sleep(20 * time.Millisecond) {
		if err := super.QueryRow(`SELECT pg_get_wal_replay_pause_state()`).Scan(&state); err != nil {
			t.Fatal(err)
		}
	}
	const marker = "written while the standby is paused"
	if err := db.InScope(ctx, tenancy.SystemScope(ws.ID), func(tx *store.Tx) error {
		return tx.Record(ctx, store.Activity{Type: "settings.updated", Message: marker})
	}); err != nil {
		t.Fatal(err)
	}
	if ms := messages(); strings.Contains(strings.Join(ms, "\n"), marker) {
		t.Fatalf("the API's activity list was not served by the paused replica: %q", ms)
	}
	if err := standby.Stop(); err != nil {
		t.Fatal(err)
	}
	if ms := messages(); !strings.Contains(strings.Join(ms, "\n"), marker) {
		t.Fatalf("with the replica stopped, the list misses the primary's entry: %q", ms)
	}
}
