package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"tenantry/internal/tenancy"
)

// Read replica (DATABASE_READ_URL): reads that tolerate a little lag — activity browsing and
// export, tenant lists, the Console's usage dashboard — may run on a PostgreSQL hot standby
// streaming from the primary. Everything else, and every read that follows a write in the same
// transaction, stays on the primary.
//
// Scoping is the same on the replica: a standby runs SET LOCAL ROLE and transaction-local
// set_config in its (read-only) transactions, and the row-level security policies are the
// primary's, replayed with the rest of the WAL, so a scope sees exactly what it would see on the
// primary at that point of the WAL.
//
// Lag is measured by WAL position, not by time stamps: now() - pg_last_xact_replay_timestamp()
// grows without bound on an idle primary, where there is nothing to replay. Every CheckEvery the
// checker reads the primary's pg_current_wal_lsn() (a sample: "everything committed before t is
// below this LSN") and then the replica's pg_last_wal_replay_lsn(). The replica holds everything
// the primary had committed at the time of the newest sample its replay position has reached, so
// its lag is at most now minus that sample's time: zero on an idle primary, growing while replay
// stalls behind writes. The replica is used while that lag is within MaxLag; it is not used when
// it cannot be reached, is not in recovery (a promoted or wrong server), is not a copy of the
// primary (a different system identifier), or lags past MaxLag. A routed read may therefore be
// up to MaxLag + CheckEvery behind the primary.
//
// A read sent to the replica that fails because the replica went away (or that the replica
// could not answer, e.g. a query cancelled by a recovery conflict) is run again on the primary
// in the same request, and a replica that went away is not used again until a check succeeds.
//
// Routing happens inside the store methods (Tx.lagTolerant), so every caller of ListActivity,
// EachActivity and ListTenants gets it: the caller's primary transaction stays open while the
// routed query runs in a scoped read-only transaction on the replica. That takes the query's work
// off the primary, not its connection; InReadScope, which opens no primary transaction at all,
// is for handlers whose whole transaction is lag-tolerant (the usage dashboard).

// ReplicaOptions configure UseReplica.
type ReplicaOptions struct {
	// MaxLag is how far behind the primary the replica may be and still serve reads (default 5s).
	MaxLag time.Duration
	// CheckEvery is how often the lag is measured (default 1s).
	CheckEvery time.Duration
	// MaxConns caps the connections to the replica (default 40).
	MaxConns int
}

// DefaultReplicaMaxLag is the lag bound used when none is configured.
const DefaultReplicaMaxLag = 5 * time.Second

// ReplicaStatus is what the checker last found.
type ReplicaStatus struct {
	Configured bool          // a replica is set up
	Usable     bool          // routed reads go to it now
	Lag        time.Duration // measured lag, at least this much when !Usable and Reason says so
	Reason     string        // why it is not usable ("" when it is)
	CheckedAt  time.Time
}

// replica is the optional second pool and its health.
type replica struct {
	db      *DB // the replica's pool, as a DB without a replica of its own
	primary *sqlx.DB
	opts    ReplicaOptions
	log     *slog.Logger

	usable atomic.Bool

	mu      sync.Mutex
	samples []lsnSample // primary WAL positions, oldest first
	status  ReplicaStatus

	cancel context.CancelFunc // stops the checker
	done   chan struct{}
	once   sync.Once
}

type lsnSample struct {
	at  time.Time
	lsn uint64
}

// UseReplica opens a pool to the hot standby at url and routes lag-tolerant reads to it while it
// is healthy; a background checker measures its lag every CheckEvery until Close. A replica
// that cannot be reached now is not an error (reads go to the primary until it can); a malformed
// url is. Call it once, before the DB serves requests.
func (d *DB) UseReplica(ctx context.Context, url string, opts ReplicaOptions) error {
	if d.read != nil {
		return errors.New("store: replica already configured")
	}
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultReplicaMaxLag
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 40
	}
	pool, err := sqlx.Open("postgres", withBinaryParameters(withConnectTimeout(url)))
	if err != nil {
		return fmt.Errorf("store: open replica: %w", err)
	}
	pool.SetMaxOpenConns(opts.MaxConns)
	pool.SetMaxIdleConns(opts.MaxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)

	rdb := &DB{db: pool, keys: d.keys, log: d.log, txOptions: &sql.TxOptions{ReadOnly: true}}
	r := &replica{db: rdb, primary: d.db, opts: opts, log: d.log,
		status: ReplicaStatus{Configured: true, Reason: "not checked yet"}, done: make(chan struct{})}
	r.check(ctx)
	checkCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	d.read = r
	go r.run(checkCtx)
	return nil
}

// withConnectTimeout bounds how long connecting to the replica may take (lib/pq waits for the
// operating system otherwise), so a replica that vanished from the network fails fast.
func withConnectTimeout(url string) string { return withURLOption(url, "connect_timeout", "3") }

// Replica returns the read replica as a DB of its own (read-only transactions, no routing, no
// fallback), or nil when none is configured: for tests and tools that must read there.
func (d *DB) Replica() *DB {
	if d.read == nil {
		return nil
	}
	return d.read.db
}

// ReplicaStatus reports the replica's health as last checked.
func (d *DB) ReplicaStatus() ReplicaStatus {
	if d.read == nil {
		return ReplicaStatus{}
	}
	d.read.mu.Lock()
	defer d.read.mu.Unlock()
	return d.read.status
}

// close stops the checker and closes the replica's pool. Safe on nil and more than once.
func (r *replica) close() {
	if r == nil {
		return
	}
	r.once.Do(func() {
		r.cancel()
		<-r.done
		_ = r.db.db.Close()
	})
}

func (r *replica) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.opts.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.check(ctx)
		}
	}
}

// check measures the lag once and sets whether the replica is usable. It runs outside any scope
// as the connecting user: it reads WAL positions and the system identifier, no workspace data.
func (r *replica) check(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, max(3*time.Second, r.opts.CheckEvery))
	defer cancel()
	report := func(usable bool, lag time.Duration, reason string) {
		if parent.Err() == nil { // closing: a check cut short says nothing about the replica
			r.set(usable, lag, reason)
		}
	}
	at := time.Now()
	var primaryLSN, primaryID string
	err := r.primary.QueryRowContext(ctx,
		`SELECT pg_current_wal_lsn()::text, (SELECT system_identifier::text FROM pg_control_system())`).Scan(&primaryLSN, &primaryID)
	if err != nil {
		report(false, 0, "cannot read the primary's WAL position: "+err.Error())
		return
	}
	var inRecovery bool
	var replayLSN, replicaID string
	err = r.db.db.QueryRowContext(ctx, `SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, ''),
		(SELECT system_identifier::text FROM pg_control_system())`).Scan(&inRecovery, &replayLSN, &replicaID)
	switch {
	case err != nil:
		report(false, 0, "unreachable: "+err.Error())
		return
	case replicaID != primaryID:
		report(false, 0, "not a copy of the primary (system identifier "+replicaID+", primary "+primaryID+")")
		return
	case !inRecovery:
		report(false, 0, "not a standby (pg_is_in_recovery() is false)")
		return
	}
	plsn, err1 := parseLSN(primaryLSN)
	rlsn, err2 := parseLSN(replayLSN)
	if err1 != nil || err2 != nil {
		report(false, 0, fmt.Sprintf("unreadable WAL positions %q, %q", primaryLSN, replayLSN))
		return
	}
	now := time.Now()
	r.mu.Lock()
	r.samples = append(r.samples, lsnSample{at: at, lsn: plsn})
	keep := now.Add(-(r.opts.MaxLag + 2*r.opts.CheckEvery))
	i := 0
	for i < len(r.samples)-1 && r.samples[i].at.Before(keep) {
		i++
	}
	r.samples = r.samples[i:]
	lag, reached := replicaLag(r.samples, rlsn, now)
	r.mu.Unlock()
	switch {
	case !reached && lag <= r.opts.MaxLag: // just started: no sample old enough to judge yet
		report(false, lag, fmt.Sprintf("catching up: behind every WAL position of the last %s", lag.Round(time.Millisecond)))
	case !reached:
		report(false, lag, fmt.Sprintf("lagging: behind every WAL position of the last %s", lag.Round(time.Millisecond)))
	case lag > r.opts.MaxLag:
		report(false, lag, fmt.Sprintf("lagging %s, more than %s", lag.Round(time.Millisecond), r.opts.MaxLag))
	default:
		report(true, lag, "")
	}
}

// replicaLag returns now minus the time of the newest sample the replay position has reached,
// and whether any was reached (if none, the lag is at least now minus the oldest sample).
func replicaLag(samples []lsnSample, replay uint64, now time.Time) (time.Duration, bool) {
	for i := len(samples) - 1; i >= 0; i-- {
		if samples[i].lsn <= replay {
			return max(0, now.Sub(samples[i].at)), true
		}
	}
	if len(samples) == 0 {
		return 0, false
	}
	return now.Sub(samples[0].at), false
}

// set records a check's outcome, logging changes only (of usability, or of the kind of reason).
func (r *replica) set(usable bool, lag time.Duration, reason string) {
	r.mu.Lock()
	was := r.status
	r.status = ReplicaStatus{Configured: true, Usable: usable, Lag: lag, Reason: reason, CheckedAt: time.Now()}
	r.usable.Store(usable)
	r.mu.Unlock()
	first := was.CheckedAt.IsZero()
	switch {
	case usable && (first || !was.Usable):
		r.log.Info("read replica in use", "lag", lag)
	case !usable && reasonKind(reason) == "catching":
		r.log.Info("read replica not used yet: reads go to the primary", "reason", reason)
	case !usable && (first || was.Usable || reasonKind(was.Reason) != reasonKind(reason)):
		r.log.Warn("read replica not used: reads go to the primary", "reason", reason)
	}
}

func reasonKind(reason string) string {
	kind, _, _ := strings.Cut(reason, ":")
	kind, _, _ = strings.Cut(kind, " ")
	return kind
}

// wentAway marks the replica unusable after a routed read found it unreachable; the next
// successful check brings it back.
func (r *replica) wentAway(err error) {
	r.mu.Lock()
	was := r.usable.Swap(false)
	r.status.Usable = false
	r.status.Reason = "unreachable: " + err.Error()
	r.mu.Unlock()
	if was {
		r.log.Warn("read replica unreachable: reads go to the primary", "err", err)
	}
}

// parseLSN reads PostgreSQL's "X/Y" WAL position.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("bad LSN %q", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, err
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, err
	}
	return h<<32 | l, nil
}

// askPrimary reports whether a read that failed on the replica should be asked of the primary:
// when the replica went away, or refused the query for a reason of its own (a recovery conflict,
// too many connections, a schema it has not replayed yet). An answer it gave — bad input, or any
// error of the caller's own — stands, and nothing is retried once the request is cancelled.
func askPrimary(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if Unavailable(err) {
		return true
	}
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	class := pe.Code.Class()
	return class != "22" && class != "23"
}

// InReadScope runs fn like InScope, on the read replica when one is configured and healthy, else
// on the primary. fn must only read, and must tolerate data up to the replica's lag bound old;
// if the replica fails under it, fn runs again on the primary (so it must reset what it
// collects). Lag-tolerant store methods called on its Tx run where it runs, except after such a
// fallback, where they route as usual.
func (d *DB) InReadScope(ctx context.Context, scope tenancy.Scope, fn func(tx *Tx) error) error {
	r := d.read
	if r == nil {
		return d.InScope(ctx, scope, fn)
	}
	if r.usable.Load() {
		if answered, err := r.inScope(ctx, scope, fn); answered {
			return err
		}
	}
	return d.InScope(ctx, scope, fn)
}

// lagTolerant runs fn — a read that may be up to the lag bound old — in tx's scope on the
// replica when one is usable and tx has written nothing yet (so nothing of its own could be
// missing there), else on tx itself. A replica that fails under it makes fn run on tx: the
// request still gets its answer from the primary. Whether tx wrote is asked of PostgreSQL
// (pg_current_xact_id_if_assigned: an xid is assigned at the first write or row lock), one short
// round trip on the primary, spent only while a replica is usable.
func (tx *Tx) lagTolerant(ctx context.Context, fn func(tx *Tx) error) error {
	r := tx.db.read
	if r == nil || tx.Scope.WorkspaceID == uuid.Nil || !r.usable.Load() {
		return fn(tx)
	}
	var wrote bool
	if err := tx.QueryRowContext(ctx, `SELECT pg_current_xact_id_if_assigned() IS NOT NULL`).Scan(&wrote); err != nil {
		return fmt.Errorf("store: transaction state: %w", err)
	}
	if wrote {
		return fn(tx)
	}
	if answered, err := r.inScope(ctx, tx.Scope, fn); answered {
		return err
	}
	return fn(tx)
}

// inScope runs fn in scope on the replica. answered is false when the primary should be asked
// instead (askPrimary); the replica is then set aside if it went away.
func (r *replica) inScope(ctx context.Context, scope tenancy.Scope, fn func(tx *Tx) error) (answered bool, err error) {
	err = r.db.InScope(ctx, scope, fn)
	if err == nil || !askPrimary(ctx, err) {
		return true, err
	}
	if Unavailable(err) {
		r.wentAway(err)
	} else {
		r.log.Warn("read replica could not answer: asking the primary", "err", err)
	}
	return false, nil
}
