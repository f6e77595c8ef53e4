package store_test

import (
	"context"
	"testing"
	"time"

	"tenantry/internal/store"
	"tenantry/internal/testdb"
)

// Sign-in failures are counted in the database: per account and per address, within the window,
// the same for every process, hashed at rest, and out of the app role's direct reach.
func TestSigninThrottle(t *testing.T) {
	ctx := context.Background()
	url := testdb.URL(t)
	open := func() *store.DB {
		db, err := store.Open(ctx, url, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open() // two processes' pools on one database
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys := func(email, addr string) []string { return []string{"e:" + email, "a:" + addr} }
	limits := []int{3, 5}
	wait := func(db *store.DB, email, addr string) time.Duration {
		t.Helper()
		w, err := db.SigninWait(ctx, keys(email, addr), limits, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	fail := func(db *store.DB, email, addr string) {
		t.Helper()
		if err := db.SigninFailed(ctx, keys(email, addr)); err != nil {
			t.Fatal(err)
		}
	}
	// Three failures of one account, split across the two pools: the third closes it for both.
	for i, db := range []*store.DB{a, b, a} {
		if w := wait(db, "ann@x.example", "10.0.0.1"); w != 0 {
			t.Fatalf("try %d refused (wait %v)", i+1, w)
		}
		fail(db, "ann@x.example", "10.0.0.1")
	}
	for _, db := range []*store.DB{a, b} {
		if w := wait(db, "ann@x.example", "10.0.0.9"); w < 55*time.Second || w > time.Minute {
			t.Errorf("after 3 failures: wait %v, want about a minute (from any address, on any process)", w)
		}
	}
	// Another account from the same address may, until the address's own limit of 5.
	if w := wait(b, "bob@x.example", "10.0.0.1"); w != 0 {
		t.Fatalf("another account refused: %v", w)
	}
	fail(b, "bob@x.example", "10.0.0.1")
	fail(a, "bob@x.example", "10.0.0.1")
	if w := wait(a, "cat@x.example", "10.0.0.1"); w == 0 {
		t.Error("the address's 5th failure did not close it to a third account")
	}
	if w := wait(a, "cat@x.example", "10.0.0.2"); w != 0 {
		t.Errorf("a third account from another address refused: %v", w)
	}
	// Success forgets the account's failures, not the address's.
	if err := b.SigninSucceeded(ctx, "e:ann@x.example"); err != nil {
		t.Fatal(err)
	}
	if w := wait(a, "ann@x.example", "10.0.0.9"); w != 0 {
		t.Errorf("after success the account is still throttled: %v", w)
	}
	if w := wait(a, "ann@x.example", "10.0.0.1"); w == 0 {
		t.Error("success forgot the address's failures too")
	}
	// Outside the window, failures no longer count.
	if _, err := a.SQL().ExecContext(ctx, `UPDATE signin_failures SET failed_at = failed_at - interval '2 minutes'`); err != nil {
		t.Fatal(err)
	}
	if w := wait(a, "cat@x.example", "10.0.0.1"); w != 0 {
		t.Errorf("failures older than the window still count: %v", w)
	}
	// At rest: hashes only, never the email or address.
	var clear int
	if err := a.SQL().GetContext(ctx, &clear, `SELECT count(*) FROM signin_failures
		WHERE position('ann@x.example' in encode(key_hash, 'escape')) > 0 OR octet_length(key_hash) <> 32`); err != nil {
		t.Fatal(err)
	}
	if clear != 0 {
		t.Errorf("%d stored keys are not 32-byte hashes", clear)
	}
	// The app role reaches the table only through the functions.
	tx, err := a.SQL().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL ROLE "+store.AppRole); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM signin_failures`); pqCode(err) != "42501" {
		t.Errorf("the app role deleting failures directly: %v, want permission denied", err)
	}
	tx.Rollback()
	// The hourly maintenance forgets failures older than a day.
	if _, err := a.SQL().ExecContext(ctx, `UPDATE signin_failures SET failed_at = now() - interval '25 hours'`); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := a.MaintainActivity(ctx, true, 100); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := a.SQL().GetContext(ctx, &left, `SELECT count(*) FROM signin_failures`); err != nil || left != 0 {
		t.Errorf("after maintenance %d failures are left (%v)", left, err)
	}
}
