package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/internal/secrets"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// CreditUsageByDay buckets by UTC day even when the session's time zone is far from UTC
// (Pacific/Kiritimati is UTC+14: a UTC noon there is 02:00 the next day).
func TestCreditUsageByDayIsInUTCDays(t *testing.T) {
	ctx := context.Background()
	u := testdb.URL(t)
	keys, _ := secrets.ParseKeyRing(secrets.GenerateKeySpec("test"))
	setup, err := store.Open(ctx, u, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.SQL().ExecContext(ctx, `DO $$ BEGIN
		EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'Pacific/Kiritimati'); END $$`); err != nil {
		t.Fatal(err)
	}
	setup.Close()
	db, err := store.Open(ctx, u, keys, nil) // new connections: the database's time zone
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var tz string
	if err := db.SQL().GetContext(ctx, &tz, `SHOW timezone`); err != nil || tz != "Pacific/Kiritimati" {
		t.Fatalf("session time zone %q (%v): the test needs Pacific/Kiritimati", tz, err)
	}
	ws, _, err := db.CreateWorkspace(ctx, "days", "Days")
	if err != nil {
		t.Fatal(err)
	}
	a := mustTenant(t, db, ws.ID, "a", "A")
	b := mustTenant(t, db, ws.ID, "b", "B")
	// Noon UTC, daysAgo UTC days ago (1..29: inside the window, never in the future).
	spend := func(tenantID uuid.UUID, daysAgo int, credits float64) {
		t.Helper()
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO ai_credit_ledger (workspace_id, id, tenant_id, credits, created_at)
			VALUES ($1, $2, $3, $4, ((now() AT TIME ZONE 'UTC')::date - $5::int + time '12:00') AT TIME ZONE 'UTC')`,
			ws.ID, uuid.New(), tenantID, credits, daysAgo); err != nil {
			t.Fatal(err)
		}
	}
	spend(a.ID, 5, 10)
	spend(a.ID, 1, 12)
	spend(b.ID, 1, 7)
	spend(a.ID, 40, 1000) // outside the window
	var today time.Time
	if err := db.SQL().GetContext(ctx, &today, `SELECT (now() AT TIME ZONE 'UTC')::date::text::timestamp`); err != nil {
		t.Fatal(err)
	}
	day := func(daysAgo int) string { return today.AddDate(0, 0, -daysAgo).Format(time.DateOnly) }

	usage := func(tenantID uuid.UUID) map[string]float64 {
		t.Helper()
		var days []store.CreditDay
		if err := db.InScope(ctx, tenancy.SystemScope(ws.ID), func(tx *store.Tx) (err error) {
			days, err = tx.CreditUsageByDay(ctx, tenantID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(days) != 30 || days[0].Day.Format(time.DateOnly) != day(29) || days[29].Day.Format(time.DateOnly) != day(0) {
			t.Fatalf("%d days from %v to %v, want 30 UTC days from %s to %s", len(days), days[0].Day, days[len(days)-1].Day, day(29), day(0))
		}
		out := map[string]float64{}
		for _, d := range days {
			if d.Credits != 0 {
				out[d.Day.Format(time.DateOnly)] = d.Credits
			}
		}
		return out
	}
	check := func(name string, got, want map[string]float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: days with usage %v, want %v", name, got, want)
			return
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: days with usage %v, want %v", name, got, want)
				return
			}
		}
	}
	check("tenant a", usage(a.ID), map[string]float64{day(5): 10, day(1): 12})
	check("workspace", usage(uuid.Nil), map[string]float64{day(5): 10, day(1): 19})
}
