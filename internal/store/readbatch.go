package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lib/pq"
)

// Read coalescing for ReadScoped, the hot read of GET /self. Sent one per round trip through
// database/sql, each such read costs PostgreSQL a parse and plan of three statements, a wake-up
// and a protocol exchange — far more than the one-row read itself. So a few workers, each with a
// pgx connection of its own, take whatever reads are waiting and send them as ONE pipelined batch
// of prepared statements, ended by one Sync:
//
//	SELECT set_config('role', 'tenantry_app', true), set_config('tenantry.workspace_id', $1, true),
//	       set_config('tenantry.tenant_id', $2, true), $3   -- read 0's scope, index 0
//	<read 0>
//	<the same scope statement for read 1, index 1>
//	<read 1> …
//	Sync
//
// PostgreSQL runs everything up to the Sync as one implicit transaction (the settings vanish with
// it, exactly as with a single read), and each statement with the scope set by the statement just
// before it, so row-level security judges every read by its own requester. The answers come back
// in order; each scope row echoes its read's index and settings, checked before the next result set
// is handed to that requester, so an answer can never be given to the wrong one. With no queue
// (light load, or fewer concurrent reads than workers) a read goes alone at once: batching adds no
// wait. The statements are prepared once per connection, so PostgreSQL only binds and executes
// them (behind a transaction-mode pooler they are parsed per batch instead: SetTransactionPooler).
//
// If anything fails mid-batch, PostgreSQL skips the rest and rolls back; the reads not yet answered
// are retried one by one (they are reads, so a retry is harmless). That is why only reads may come
// here (writes use execScoped), and why fn must overwrite, not accumulate, what it produces.

const readMaxBatch = 64 // reads per message at most

// readWorkers is how many connections carry batched reads at once. Measured with
// scripts/bench-api.sh (16 clients): 2, 4 and 8 workers all gave 0.86–1.05× the pgbench floor;
// 4 keeps batches small at moderate load and leaves headroom under more.
const readWorkers = 4

// scopedRead is one caller's read waiting for, or in, a batch.
type scopedRead struct {
	workspaceID, tenant string // the scope's settings: server-produced UUIDs, or "*" for no tenant
	query               string
	fn                  func(rows *ScopedRows) error
	state               atomic.Int32 // readQueued → readTaken (a worker owns it) or readAbandoned (the caller left)
	done                chan error
}

const (
	readQueued int32 = iota
	readTaken
	readAbandoned
)

// readBatcher owns the queue and the workers; the zero value (DB.reads) starts them on first use.
type readBatcher struct {
	once  sync.Once
	queue chan *scopedRead
	stop  chan struct{}
	wg    sync.WaitGroup
	pool  *pgxpool.Pool // readWorkers connections; nil: the DB has no URL of its own (lib/pq then)
	// Batches and Reads count what the workers sent, for tests and benchmarks.
	batches, reads atomic.Int64
}

func (b *readBatcher) start(d *DB) {
	b.once.Do(func() {
		if d.dsn != "" {
			if cfg, err := pgxConfig(d.dsn, readWorkers, d.txPooler.Load()); err != nil {
				d.log.Warn("scoped reads: cannot configure pgx, using lib/pq", "error", err)
			} else if b.pool, err = pgxpool.NewWithConfig(context.Background(), cfg); err != nil {
				d.log.Warn("scoped reads: cannot start pgx pool, using lib/pq", "error", err)
				b.pool = nil
			}
		}
		b.queue = make(chan *scopedRead, 1024)
		b.stop = make(chan struct{})
		for range readWorkers {
			b.wg.Add(1)
			go b.work(d)
		}
	})
}

// close stops the workers (after DB.Close nothing is sent; waiting callers get an error).
func (b *readBatcher) close() {
	b.once.Do(func() { b.stop = make(chan struct{}) }) // a batcher never started stays stopped
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	b.wg.Wait()
	if b.pool != nil {
		b.pool.Close()
	}
}

var errReadsStopped = errors.New("store: database closed")

// read queues r and waits for its answer. A caller whose context ends while r is still queued
// leaves at once; once a worker has taken r, fn may be running, so the caller waits for it.
func (b *readBatcher) read(ctx context.Context, d *DB, r *scopedRead) error {
	b.start(d)
	r.done = make(chan error, 1)
	select {
	case b.queue <- r:
	case <-b.stop:
		return errReadsStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(readQueued, readAbandoned) {
			return ctx.Err()
		}
		return <-r.done
	case <-b.stop:
		// Closed while r waited (or select chose the buffered queue over a closed stop): a read
		// no worker took will never be taken.
		if r.state.CompareAndSwap(readQueued, readAbandoned) {
			return errReadsStopped
		}
		return <-r.done
	}
}

func (b *readBatcher) work(d *DB) {
	defer b.wg.Done()
	batch := make([]*scopedRead, 0, readMaxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-b.queue:
			batch = b.take(batch, r)
		case <-b.stop:
			b.drainStopped()
			return
		}
	fill:
		for len(batch) < readMaxBatch {
			select {
			case r := <-b.queue:
				batch = b.take(batch, r)
			default:
				break fill
			}
		}
		if len(batch) > 0 {
			b.batches.Add(1)
			b.reads.Add(int64(len(batch)))
			d.runBatch(b, batch)
		}
	}
}

// take claims r for a batch unless its caller has already left.
func (b *readBatcher) take(batch []*scopedRead, r *scopedRead) []*scopedRead {
	if r.state.CompareAndSwap(readQueued, readTaken) {
		return append(batch, r)
	}
	return batch
}

// drainStopped answers whatever is still queued when the database closes.
func (b *readBatcher) drainStopped() {
	for {
		select {
		case r := <-b.queue:
			if r.state.CompareAndSwap(readQueued, readTaken) {
				r.done <- errReadsStopped
			}
		default:
			return
		}
	}
}

// readBatchTimeout bounds one message; no single caller's context governs a shared message.
const readBatchTimeout = 10 * time.Second

// scopeStatementSQL sets a read's scope inside the batch's implicit transaction (which lasts until
// the batch's Sync) and echoes the read's index, checked before its result set is handed over.
// It and each read's query are prepared once per connection (pgx's statement cache), so
// PostgreSQL only binds and executes them.
const scopeStatementSQL = `SELECT set_config('role', '` + AppRole + `', true), set_config('tenantry.workspace_id', $1, true),
	set_config('tenantry.tenant_id', $2, true), $3::int`

// runBatch sends the reads as one pipelined batch and hands each its result set; see the comment at
// the top of this file. Every read in batch gets exactly one answer on its done channel.
func (d *DB) runBatch(b *readBatcher, batch []*scopedRead) {
	ctx, cancel := context.WithTimeout(context.Background(), readBatchTimeout)
	defer cancel()
	if b.pool == nil { // no pgx pool (a DB without a URL of its own): one lib/pq message per read
		for _, r := range batch {
			r.done <- d.readScopedOnce(ctx, scopeSelect(r.workspaceID, r.tenant), r.query, func(rows *ScopedRows) error { return callFn(r.fn, rows) })
		}
		return
	}
	answered, _ := b.sendBatch(ctx, batch)
	// What failed mid-batch was rolled back and skipped; retry the rest one by one, each alone in
	// its own batch, so each gets its own answer (a read that fails again gets its own error).
	for _, r := range batch[answered:] {
		if n, err := b.sendBatch(ctx, []*scopedRead{r}); n == 0 {
			r.done <- err
		}
	}
}

// sendBatch runs batch in one round trip and answers the reads it completed, in order; it returns
// how many it answered and, when it stopped short, why (for a batch of one, that read's answer).
func (b *readBatcher) sendBatch(ctx context.Context, batch []*scopedRead) (answered int, err error) {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return 0, readConnError(err)
	}
	defer conn.Release()
	var pb pgx.Batch
	for i, r := range batch {
		pb.Queue(scopeStatementSQL, r.workspaceID, r.tenant, i)
		pb.Queue(r.query)
	}
	br := conn.SendBatch(ctx, &pb)
	defer br.Close()
	for i, r := range batch {
		var role, ws, tenant string
		idx := -1
		if err := br.QueryRow().Scan(&role, &ws, &tenant, &idx); err != nil {
			return i, readConnError(err)
		}
		if idx != i || ws != r.workspaceID || tenant != r.tenant {
			return i, fmt.Errorf("store: scoped read: batch answer %d for read %d", idx, i)
		}
		rows, err := br.Query()
		if err != nil {
			return i, readConnError(err)
		}
		sr := &ScopedRows{rows: rows}
		ferr := inputError(callFn(r.fn, sr))
		for sr.Next() { // fn may stop early; the rest of its result set is skipped
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return i, readConnError(err)
		}
		r.done <- ferr
	}
	// Every read was answered from a complete result set; how the batch ends does not change them.
	return len(batch), nil
}

// callFn runs a caller's fn on a worker goroutine, where a panic would take the process down: it
// becomes that read's error instead.
func callFn(fn func(*ScopedRows) error, rows *ScopedRows) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: scoped read: panic in result handler: %v", p)
		}
	}()
	return fn(rows)
}

// readConnError maps pgx's errors onto the store's: a PostgreSQL error becomes the *pq.Error the
// rest of the store understands (inputError, Unavailable); anything else is the connection failing.
func readConnError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return inputError(fmt.Errorf("store: scoped read: %w", &pq.Error{
			Severity: pe.Severity, Code: pq.ErrorCode(pe.Code), Message: pe.Message, Detail: pe.Detail,
			Hint: pe.Hint, Column: pe.ColumnName, Constraint: pe.ConstraintName, Table: pe.TableName,
		}))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("store: scoped read: %w", err)
	}
	return fmt.Errorf("store: scoped read: %w: %w", errConnection, err)
}

// errConnection marks a failure to reach PostgreSQL at all (Unavailable reports it).
var errConnection = errors.New("connection to PostgreSQL failed")

// pgxConfig turns the store's connection URL into a pgx pool of n connections. lib/pq's own
// options (binary_parameters) are not PostgreSQL settings and are dropped. Statements are prepared
// once per connection — unless a transaction-mode pooler sits in between, which may run the next
// batch on a server connection that never saw them: then each statement is parsed in its batch
// (an unnamed statement, still one round trip).
func pgxConfig(dsn string, n int, txPooler bool) (*pgxpool.Config, error) {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Del("binary_parameters")
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		dsn = strings.ReplaceAll(dsn, "binary_parameters=yes", "")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if txPooler {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	cfg.MaxConns = int32(n)
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = 5 * time.Minute
	return cfg, nil
}

// scopeSelect is the statement that sets scope's settings: server-produced UUIDs or "*", quoted.
func scopeSelect(workspaceID, tenant string) string {
	return "SELECT set_config('tenantry.workspace_id', " + quoteLiteral(workspaceID) +
		", true), set_config('tenantry.tenant_id', " + quoteLiteral(tenant) + ", true)"
}

// readScopedOnce runs one scoped statement in its own message: role, scope and query together, one
// round trip, one implicit transaction.
func (d *DB) readScopedOnce(ctx context.Context, scopeSQL, query string, fn func(rows *ScopedRows) error) error {
	rows, err := d.db.QueryxContext(ctx, "SET LOCAL ROLE "+AppRole+"; "+scopeSQL+"; "+query)
	if err != nil {
		return fmt.Errorf("store: scoped read: %w", err)
	}
	defer rows.Close()
	// The first result is set_config's row; the query's is the next.
	for rows.Next() {
	}
	if !rows.NextResultSet() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: scoped read: %w", err)
		}
		return errors.New("store: scoped read returned no result")
	}
	sr := &ScopedRows{rows: rows}
	if err := fn(sr); err != nil {
		return inputError(err)
	}
	for sr.Next() {
	}
	if err := rows.Err(); err != nil {
		return inputError(fmt.Errorf("store: scoped read: %w", err))
	}
	return inputError(rows.Close())
}

// ScopedRows is one result set of a scoped read. Several reads' result sets follow each other on
// one connection, and database/sql would step into the next one if Next were called again after it
// reported the end: ScopedRows stays at the end once it is reached.
type ScopedRows struct {
	rows interface {
		Next() bool
		Scan(dest ...any) error
	}
	ended bool
}

// Next advances to the next row of this result set, false at its end (and ever after).
func (r *ScopedRows) Next() bool {
	if r.ended {
		return false
	}
	if !r.rows.Next() {
		r.ended = true
		return false
	}
	return true
}

// Scan copies the current row's columns into dest.
func (r *ScopedRows) Scan(dest ...any) error {
	if r.ended {
		return errors.New("store: scan past the end of a scoped read")
	}
	return r.rows.Scan(dest...)
}

// SetTransactionPooler tells the store that its URL leads to a transaction-mode pooler (PgBouncer's
// pool_mode=transaction, TENANTRY_DB_POOLER=transaction): statements are then not prepared across
// batches. Call it before the first read.
func (d *DB) SetTransactionPooler(on bool) { d.txPooler.Store(on) }

// ReadBatchStats reports how many messages the read coalescer sent and how many reads they
// carried (reads/batches is the mean batch size), for tests and benchmarks.
func (d *DB) ReadBatchStats() (batches, reads int64) {
	return d.reads.batches.Load(), d.reads.reads.Load()
}
