package pgembed

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestStandbyStreamsFromPrimary: a primary started with Replication and a standby cloned from it
// with pg_basebackup -R; the standby is in recovery, replays what the primary writes, refuses
// writes, and keeps its port when restarted with Options.Port.
func TestStandbyStreamsFromPrimary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL clusters")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root := filepath.Dir(clusterDir(t))
	primary, err := Start(ctx, Options{Dir: filepath.Join(root, "primary"), Logger: testLogger(t), Replication: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Stop() })
	pdb := openDB(t, primary.URL("postgres"))
	if _, err := pdb.Exec(`CREATE TABLE before_clone (n int); INSERT INTO before_clone VALUES (1)`); err != nil {
		t.Fatal(err)
	}

	standbyDir := filepath.Join(root, "standby")
	standby, err := Start(ctx, Options{Dir: standbyDir, Logger: testLogger(t), StandbyOf: primary})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Stop() })
	if !standby.Owned() || standby.Port() == primary.Port() {
		t.Fatalf("standby owned %v on port %d (primary %d)", standby.Owned(), standby.Port(), primary.Port())
	}
	sdb := openDB(t, standby.URL("postgres"))
	var inRecovery bool
	if err := sdb.QueryRow(`SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("standby in recovery: %v, %v", inRecovery, err)
	}
	if _, err := pdb.Exec(`INSERT INTO before_clone VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	waitSum := func(db *sql.DB, want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var sum int
			err := db.QueryRow(`SELECT coalesce(sum(n), 0) FROM before_clone`).Scan(&sum)
			if err == nil && sum == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("standby sum %d (err %v), want %d", sum, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitSum(sdb, 3)
	if _, err := sdb.Exec(`INSERT INTO before_clone VALUES (4)`); err == nil {
		t.Fatal("the standby accepted a write")
	}

	// Restart on the same port: the data directory is reused (no new clone) and streaming resumes.
	port := standby.Port()
	if err := standby.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := pdb.Exec(`INSERT INTO before_clone VALUES (10)`); err != nil {
		t.Fatal(err)
	}
	standby, err = Start(ctx, Options{Dir: standbyDir, Logger: testLogger(t), StandbyOf: primary, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.Stop() })
	if standby.Port() != port {
		t.Fatalf("restarted on port %d, want %d", standby.Port(), port)
	}
	waitSum(sdb, 13)
}

func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
