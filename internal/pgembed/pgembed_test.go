package pgembed

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

// clusterDir returns a fresh directory the server account can reach. As
// root the server runs as another user, and t.TempDir creates 0700
// directories, so the test's own parents must be opened up.
func clusterDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		for _, p := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(dir, "pg")
}

// startOwned starts a cluster and makes sure it is stopped even if the test
// fails; Stop is a no-op for clusters this test did not start.
func startOwned(t *testing.T, ctx context.Context, dir string) *Cluster {
	t.Helper()
	c, err := Start(ctx, Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func ping(ctx context.Context, url string) error {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&n)
}

func TestClusterLifecycle(t *testing.T) {
	ctx := t.Context()
	dir := clusterDir(t)

	// Two concurrent Starts on a fresh dir: the flock must let exactly one
	// initdb and start, the other reuse.
	var (
		wg       sync.WaitGroup
		clusters [2]*Cluster
		errs     [2]error
	)
	for i := range clusters {
		wg.Go(func() { clusters[i], errs[i] = Start(ctx, Options{Dir: dir, Logger: testLogger(t)}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Start %d: %v", i, err)
		}
		t.Cleanup(func() { _ = clusters[i].Stop() })
	}
	owner, guest := clusters[0], clusters[1]
	if !owner.Owned() {
		owner, guest = guest, owner
	}
	if !owner.Owned() || guest.Owned() {
		t.Fatalf("want exactly one owned cluster, got owned=%v,%v", clusters[0].Owned(), clusters[1].Owned())
	}
	if owner.Port() != guest.Port() {
		t.Fatalf("guest port %d != owner port %d", guest.Port(), owner.Port())
	}
	if !strings.HasPrefix(owner.URL("x"), "postgres://tenantry@127.0.0.1:"+strconv.Itoa(owner.Port())+"/x?") {
		t.Fatalf("unexpected URL %q", owner.URL("x"))
	}

	// EnsureDatabase is idempotent, also via the guest.
	if err := owner.EnsureDatabase(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := guest.EnsureDatabase(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// Concurrent CREATE DATABASE of one name fails with a unique violation
	// unless EnsureDatabase serialises it.
	var raceErrs [4]error
	for i := range raceErrs {
		c := []*Cluster{owner, guest}[i%2]
		wg.Go(func() { raceErrs[i] = c.EnsureDatabase(ctx, "race") })
	}
	wg.Wait()
	if err := errors.Join(raceErrs[:]...); err != nil {
		t.Fatalf("concurrent EnsureDatabase: %v", err)
	}

	db, err := sql.Open("postgres", owner.URL("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives restart')"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// The guest's Stop must leave the server running.
	if err := guest.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := ping(ctx, owner.URL("x")); err != nil {
		t.Fatalf("server gone after non-owner Stop: %v", err)
	}

	versionFile := filepath.Join(dir, "data", "PG_VERSION")
	before, err := os.Stat(versionFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := owner.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := ping(ctx, owner.URL("postgres")); err == nil {
		t.Fatal("server still answering after owner Stop")
	}

	// A postmaster.pid left by a crash names a dead process; Start must
	// discard it rather than refuse or try to reuse.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := strconv.Itoa(dead.Process.Pid) + "\n" + filepath.Join(dir, "data") + "\n0\n5432\n\n"
	if err := os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}

	again := startOwned(t, ctx, dir)
	if !again.Owned() {
		t.Fatal("restart after Stop should own the server")
	}
	after, err := os.Stat(versionFile)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("PG_VERSION rewritten: initdb ran again on an existing cluster")
	}
	db, err = sql.Open("postgres", again.URL("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "survives restart" {
		t.Fatalf("data after restart: %q, %v", v, err)
	}
	if b, err := os.ReadFile(again.LogPath()); err != nil || len(b) == 0 {
		t.Fatalf("server log %s empty or unreadable: %v", again.LogPath(), err)
	}
	if err := again.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStalePostmasterPid(t *testing.T) {
	dataDir := t.TempDir()
	c := &Cluster{dataDir: dataDir, logger: testLogger(t)}
	pidFile := filepath.Join(dataDir, "postmaster.pid")

	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	for name, pid := range map[string]int{
		"dead process":          exited.Process.Pid,
		"recycled non-postgres": os.Getpid(),
		"garbage":               -1,
	} {
		content := strconv.Itoa(pid) + "\n" + dataDir + "\n0\n5432\n"
		if pid < 0 {
			content = "not a pid\n"
		}
		if err := os.WriteFile(pidFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, alive, err := c.readPostmaster()
		if err != nil || alive {
			t.Errorf("%s: alive=%v err=%v, want stale", name, alive, err)
		}
		if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: stale postmaster.pid not removed", name)
		}
	}
}

func TestNoBinaries(t *testing.T) {
	_, err := Start(t.Context(), Options{Dir: t.TempDir(), BinDirs: []string{t.TempDir()}})
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("want ErrNoBinaries, got %v", err)
	}
	if !strings.Contains(err.Error(), "install PostgreSQL 15 or newer") {
		t.Fatalf("error lacks install hint: %v", err)
	}
}

func TestTooOldBinaries(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'postgres (PostgreSQL) 14.9'\n"
	for _, name := range serverBinaries {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Start(t.Context(), Options{Dir: t.TempDir(), BinDirs: []string{bin}})
	if err == nil || errors.Is(err, ErrNoBinaries) || !strings.Contains(err.Error(), "too old") {
		t.Fatalf("want a too-old error, got %v", err)
	}
}

func TestUntraversableParentAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another user")
	}
	if _, err := findBinaries(t.Context(), nil); err != nil {
		t.Skip(err)
	}
	private := t.TempDir() // 0700, owned by root
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := Start(ctx, Options{Dir: filepath.Join(private, "pg")})
	if err == nil || !strings.Contains(err.Error(), "not traversable") {
		t.Fatalf("want a not-traversable error, got %v", err)
	}
}

func TestGlobCandidatesOrder(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "16", "10"} {
		if err := os.MkdirAll(filepath.Join(root, v, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got := globCandidates(filepath.Join(root, "*", "bin"))
	var versions []string
	for _, p := range got {
		versions = append(versions, filepath.Base(filepath.Dir(p)))
	}
	if strings.Join(versions, ",") != "16,15,10,9.6" {
		t.Fatalf("order %v", versions)
	}
}
