package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// Concurrent scoped reads are coalesced into shared messages (readbatch.go). Each must still be
// judged by its own scope and answered with its own rows: many goroutines read as many tenants of
// two workspaces at once, and every answer is checked against the scope that asked.
func TestReadScopedCoalescesWithoutMixingScopes(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	type member struct {
		scope tenancy.Scope
		want  uuid.UUID
	}
	var members []member
	wideCount := map[uuid.UUID]int{}
	for w, n := range []int{5, 3} {
		ws := mustWorkspace(t, db, fmt.Sprintf("batch-%d", w))
		for i := range n {
			tn := mustTenant(t, db, ws.ID, fmt.Sprintf("t-%d", i), fmt.Sprintf("Tenant %d", i))
			members = append(members, member{tenancy.TenantScope(ws.ID, tn.ID), tn.ID})
		}
		members = append(members, member{tenancy.SystemScope(ws.ID), uuid.Nil})
		wideCount[ws.ID] = n
	}
	b0, r0 := db.ReadBatchStats()
	const goroutines, each = 32, 40
	var calls atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m := members[(g+i)%len(members)]
				var ids []uuid.UUID
				var count int
				err := db.ReadScoped(ctx, m.scope, `SELECT id, (SELECT count(*) FROM tenants) FROM tenants ORDER BY id`,
					func(rows *store.ScopedRows) error {
						calls.Add(1)
						ids = ids[:0]
						for rows.Next() {
							var id uuid.UUID
							if err := rows.Scan(&id, &count); err != nil {
								return err
							}
							ids = append(ids, id)
						}
						return nil
					})
				switch {
				case err != nil:
					errs <- err
					return
				case m.want != uuid.Nil && (len(ids) != 1 || ids[0] != m.want || count != 1):
					errs <- fmt.Errorf("tenant %s read %v (count %d): not its own row alone", m.want, ids, count)
					return
				case m.want == uuid.Nil && (len(ids) != wideCount[m.scope.WorkspaceID] || count != len(ids)):
					errs <- fmt.Errorf("workspace %s read %d tenants (count %d), want %d", m.scope.WorkspaceID, len(ids), count, wideCount[m.scope.WorkspaceID])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b1, r1 := db.ReadBatchStats()
	batches, reads := b1-b0, r1-r0
	if reads != goroutines*each {
		t.Errorf("the coalescer carried %d reads, want %d", reads, goroutines*each)
	}
	if got := calls.Load(); got != goroutines*each {
		t.Errorf("fn was called %d times for %d reads: a read was retried or skipped", got, goroutines*each)
	}
	if batches >= reads {
		t.Errorf("%d reads went in %d messages: nothing was coalesced", reads, batches)
	}
	t.Logf("%d reads in %d messages (%.1f per message)", reads, batches, float64(reads)/float64(batches))
}

// A read that fails in a shared message gets its own error; the reads beside it still get their
// own answers, and the connection is usable afterwards.
func TestReadScopedFailureStaysWithItsRead(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	ws := mustWorkspace(t, db, "batch-fail")
	tn := mustTenant(t, db, ws.ID, "t", "T")
	scope := tenancy.TenantScope(ws.ID, tn.ID)
	var wg sync.WaitGroup
	var bad, good, wrong atomic.Int64
	for g := range 24 {
		wg.Go(func() {
			for i := range 20 {
				q := `SELECT id FROM tenants`
				failing := (g+i)%5 == 0
				if failing {
					q = `SELECT (1/(SELECT count(*) - 1 FROM tenants))::text` // division by zero: 22012
				}
				var got string
				err := db.ReadScoped(ctx, scope, q, func(rows *store.ScopedRows) error {
					for rows.Next() {
						if err := rows.Scan(&got); err != nil {
							return err
						}
					}
					return nil
				})
				switch {
				case failing && err != nil:
					if _, ok := tenancy.AsValidation(err); !ok {
						t.Errorf("division by zero answered %v, want a validation error", err)
					}
					bad.Add(1)
				case !failing && err == nil && got == tn.ID.String():
					good.Add(1)
				default:
					wrong.Add(1)
					t.Errorf("failing=%v: err %v, got %q", failing, err, got)
				}
			}
		})
	}
	wg.Wait()
	if bad.Load() != 24*20/5 || good.Load() != 24*20-24*20/5 || wrong.Load() != 0 {
		t.Errorf("bad %d good %d wrong %d", bad.Load(), good.Load(), wrong.Load())
	}
}

// A caller that leaves before its read is sent is answered with its context's error at once.
func TestReadScopedCancelled(t *testing.T) {
	db := newDB(t)
	ws := mustWorkspace(t, db, "batch-cancel")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := db.ReadScoped(ctx, tenancy.SystemScope(ws.ID), `SELECT 1`, func(*store.ScopedRows) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("cancelled read: err %v, fn called %v", err, called)
	}
}

// TenantOfScope (coalesced, read through pgx) returns exactly what a scoped transaction (lib/pq)
// reads: every column, including the numeric limit, jsonb fields, credential keys, nullable
// timestamps — in UTC whatever the machine's zone.
func TestTenantOfScopeMatchesTransactionalRead(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	ws := mustWorkspace(t, db, "batch-same")
	tn := mustTenant(t, db, ws.ID, "same", "Same")
	limit, test, name := 12.5, true, "Renamed ✓"
	err := db.InScope(ctx, tenancy.SystemScope(ws.ID), func(tx *store.Tx) error {
		if _, err := tx.PatchTenant(ctx, tn.ID, store.TenantPatch{Name: &name, SetLimit: true, AICreditsRolling30DayLimit: &limit,
			IsTest: &test, Fields: map[string]any{"plan": "pro", "seats": 3.0, "tags": []any{"a"}}}); err != nil {
			return err
		}
		if _, err := tx.SetTenantCredentials(ctx, tn.ID, map[string]any{"apiKey": "k"}); err != nil {
			return err
		}
		_, err := tx.ArchiveTenant(ctx, tn.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	scope := tenancy.TenantScope(ws.ID, tn.ID)
	var want *tenancy.Tenant
	if err := db.InScope(ctx, scope, func(tx *store.Tx) error {
		var err error
		want, err = tx.Tenant(ctx, tn.ID.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := db.TenantOfScope(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if want.ArchivedAt == nil || want.AICreditsRolling30DayLimit == nil || len(want.Fields) != 3 {
		t.Fatalf("the transactional read lacks what was written: %+v", want)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TenantOfScope:\n got %+v\nwant %+v", got, want)
	}
	if got.CreatedAt.Location() != time.UTC || got.ArchivedAt.Location() != time.UTC {
		t.Errorf("times not in UTC: %v, %v", got.CreatedAt.Location(), got.ArchivedAt.Location())
	}
	// Another tenant's scope, or one naming no tenant row, reads nothing.
	if _, err := db.TenantOfScope(ctx, tenancy.TenantScope(ws.ID, uuid.New())); !errors.Is(err, tenancy.ErrNotFound) {
		t.Errorf("unknown tenant: %v, want not found", err)
	}
}

// After Close, a read is refused at once (it neither hangs nor opens connections again), whether
// or not the DB had read before.
func TestReadScopedAfterClose(t *testing.T) {
	url := testdb.URL(t)
	for _, readFirst := range []bool{false, true} {
		db, err := store.Open(context.Background(), url, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		scope := tenancy.SystemScope(uuid.New())
		read := func(ctx context.Context) error {
			return db.ReadScoped(ctx, scope, `SELECT 1`, func(rows *store.ScopedRows) error {
				for rows.Next() {
				}
				return nil
			})
		}
		if readFirst {
			if err := read(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		// A generous bound: the refusal is immediate; only a hang would reach it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := read(ctx); err == nil || ctx.Err() != nil {
			t.Errorf("read after Close (read before: %v): err %v, context %v", readFirst, err, ctx.Err())
		}
		cancel()
	}
}
