package store_test

// The store behind a transaction-mode pooler (PgBouncer, pool_mode = transaction): many client
// connections share one or two server connections, which pass from one client to the next at
// every transaction's end. Tenantry's scope is transaction-local (SET LOCAL ROLE,
// set_config(…, true)), so nothing may survive that hand-over; these tests prove it with the
// real store, the real PgBouncer from Debian's package and the test PostgreSQL, and prove that
// every protocol path the store uses works through the pooler.
//
// Without PgBouncer installed the tests skip with a loud message, unless CI is set: then they
// fail (.ci/run installs it).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"tenantry/internal/pgembed"
	"tenantry/internal/secrets"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// pgbouncerPaths are where Debian's package puts the binary (it is not on a non-root PATH).
var pgbouncerPaths = []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"}

func findPgBouncer(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	for _, p := range pgbouncerPaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("PgBouncer is not installed (looked on PATH and at %s); install it with `apt-get install pgbouncer` (.ci/run does)",
		strings.Join(pgbouncerPaths, ", "))
	if os.Getenv("CI") == "" {
		t.Skipf("!!! SKIPPED, NO PGBOUNCER: %s (set CI=1 to make this a failure)", msg)
	}
	t.Fatal(msg)
	return ""
}

// pooler is a running PgBouncer in front of one test database.
type pooler struct {
	port int
	dir  string
	out  *lockedBuf
}

// url returns a lib/pq URL for one of the pooler's databases ("pool2": two server connections,
// "pool1": one).
func (p *pooler) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// poolerAccount is who runs PgBouncer: it refuses to run as root, so a root test hands it to
// the account internal/pgembed runs PostgreSQL as.
func poolerAccount(t *testing.T) *syscall.Credential {
	t.Helper()
	cred, err := pgembed.ServerCredential()
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPooler starts PgBouncer in transaction mode in a temporary directory on a free loopback
// port, in front of the database that upstream (a lib/pq URL) names, and stops it when t ends.
func startPooler(t *testing.T, upstream string) *pooler {
	t.Helper()
	bin := findPgBouncer(t)
	u, err := url.Parse(upstream)
	if err != nil || u.Scheme == "" {
		t.Fatalf("upstream %q is not a URL: %v", upstream, err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	if host == "" || host == "localhost" {
		host = "127.0.0.1"
	}
	dbname := strings.TrimPrefix(u.Path, "/")
	server := fmt.Sprintf("host=%s port=%s dbname=%s user=%s", host, port, dbname, u.User.Username())
	if pw, ok := u.User.Password(); ok {
		server += " password=" + pw
	}

	dir, err := os.MkdirTemp("", "tenantry-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Readable by the unprivileged account when root hands PgBouncer to it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cred := poolerAccount(t)
	// The client-side user list: trust authentication still needs the name listed.
	if err := os.WriteFile(filepath.Join(dir, "userlist.txt"), []byte(`"`+u.User.Username()+`" ""`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	out := &lockedBuf{}
	for attempt := 0; ; attempt++ {
		p, portTaken := launchPooler(t, bin, dir, server, u.User.Username(), cred, out)
		if p != nil {
			return p
		}
		if !portTaken || attempt == 2 {
			t.Fatalf("pgbouncer exited at start:\n%s", out.String())
		}
		// The free port was taken between choosing and binding it: choose again.
	}
}

// launchPooler writes the configuration and starts PgBouncer on a free port. It returns nil and
// whether the port was taken when PgBouncer exits at start.
func launchPooler(t *testing.T, bin, dir, server, user string, cred *syscall.Credential, out *lockedBuf) (*pooler, bool) {
	t.Helper()
	p := &pooler{port: freePort(t), dir: dir, out: out}
	ini := fmt.Sprintf(`[databases]
pool2 = %[1]s pool_size=2
pool1 = %[1]s pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %[2]d
unix_socket_dir =
auth_type = trust
auth_file = %[3]s/userlist.txt
pool_mode = transaction
default_pool_size = 2
reserve_pool_size = 0
max_client_conn = 200
; lib/pq sends extra_float_digits at connect, which PgBouncer otherwise refuses
ignore_startup_parameters = extra_float_digits
; a client waiting for a server connection longer than this gets an error, never a hang
query_wait_timeout = 60
admin_users = %[4]s
`, server, p.port, dir, user)
	iniPath := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, iniPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	before := len(out.String())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			return nil, strings.Contains(out.String()[before:], "Address already in use")
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.port), time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("pgbouncer did not listen on port %d within 15s:\n%s", p.port, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("pgbouncer output:\n%s", out.String())
		}
	})
	return p, false
}

// probe is what an unscoped statement sees on the server connection it lands on.
type probe struct {
	PID         int    `db:"pid"`
	CurrentUser string `db:"current_user"`
	SessionUser string `db:"session_user"`
	Workspace   string `db:"ws"`
	Tenant      string `db:"tenant"`
	Lookup      string `db:"lookup"`
}

// probeSQL is parameterized on purpose: with binary_parameters lib/pq sends it as one
// Parse/Bind/Execute/Sync on the unnamed statement, the path every store query takes.
const probeSQL = `SELECT pg_backend_pid() AS pid, current_user::text AS current_user, session_user::text AS session_user,
	coalesce(current_setting('tenantry.workspace_id', true), '') AS ws,
	coalesce(current_setting('tenantry.tenant_id', true), '') AS tenant,
	coalesce(current_setting('tenantry.session_hash', true), '') AS lookup
	WHERE $1::int = 1`

func probeConn(ctx context.Context, q sqlx.QueryerContext) (probe, error) {
	var p probe
	err := sqlx.GetContext(ctx, q, &p, probeSQL, 1)
	return p, err
}

// clean reports what, if anything, a previous transaction left on the connection.
func (p probe) clean(wantUser string) error {
	if p.CurrentUser != wantUser || p.SessionUser != wantUser || p.Workspace != "" || p.Tenant != "" || p.Lookup != "" {
		return fmt.Errorf("server connection %d carries state after a transaction: %+v (want user %s and no tenantry.* settings)", p.PID, p, wantUser)
	}
	return nil
}

// poolerEnv is a migrated test database with two workspaces, reached directly and through the
// pooler.
type poolerEnv struct {
	direct   *store.DB
	pool     *pooler
	keys     *secrets.KeyRing
	user     string
	w1, w2   uuid.UUID
	a, b, c  uuid.UUID // A and B in W1, C in W2
	tenantOf map[uuid.UUID]uuid.UUID
}

func newPoolerEnv(t *testing.T) *poolerEnv {
	t.Helper()
	ctx := context.Background()
	findPgBouncer(t) // skip before creating a database when there is no pooler
	upstream := testdb.URL(t)
	keys, err := secrets.ParseKeyRing(secrets.GenerateKeySpec("test"))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := store.Open(ctx, upstream, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	direct.SQL().SetMaxOpenConns(1) // so that every other connection to the database is the pooler's
	if _, _, _, err := direct.MaintainActivity(ctx, false, 0); err != nil {
		t.Fatal(err)
	}
	e := &poolerEnv{direct: direct, keys: keys, pool: startPooler(t, upstream)}
	if err := direct.SQL().GetContext(ctx, &e.user, `SELECT current_user::text`); err != nil {
		t.Fatal(err)
	}
	e.w1 = mustWorkspace(t, direct, "pool-one").ID
	e.w2 = mustWorkspace(t, direct, "pool-two").ID
	e.a = mustTenant(t, direct, e.w1, "acme", "Tenant A").ID
	e.b = mustTenant(t, direct, e.w1, "beta", "Tenant B").ID
	e.c = mustTenant(t, direct, e.w2, "acme", "Tenant C").ID
	e.tenantOf = map[uuid.UUID]uuid.UUID{e.a: e.w1, e.b: e.w1, e.c: e.w2}
	return e
}

// open connects the real store through the pooler; clients is how many client connections
// the store may open (far more than the pooler's server connections).
func (e *poolerEnv) open(t *testing.T, db string, clients int) *store.DB {
	t.Helper()
	s, err := store.Open(context.Background(), e.pool.url(db), e.keys, nil)
	if err != nil {
		t.Fatalf("store.Open through pgbouncer: %v", err)
	}
	s.SetTransactionPooler(true)
	t.Cleanup(func() { s.Close() })
	s.SQL().SetMaxOpenConns(clients)
	s.SQL().SetMaxIdleConns(clients)
	return s
}

// serverConnections counts the connections PostgreSQL has to the test database besides the one
// the direct store (limited to one) is asking on: the pooler's server connections.
func (e *poolerEnv) serverConnections(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.direct.SQL().GetContext(context.Background(), &n, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPoolerKeepsScopesApart runs tenants A, B and C and both workspaces' wide scopes from many
// goroutines through two server connections, every store path interleaved, and checks each
// result against its own scope and each server connection between transactions.
func TestPoolerKeepsScopesApart(t *testing.T) {
	ctx := context.Background()
	e := newPoolerEnv(t)
	const clients, workers, rounds = 24, 24, 12
	s := e.open(t, "pool2", clients)

	type scopeCase struct {
		name    string
		scope   tenancy.Scope
		tenants []uuid.UUID // the tenants this scope sees, exactly
		tenant  uuid.UUID   // uuid.Nil for a workspace-wide scope
	}
	cases := []scopeCase{
		{"tenant A", tenancy.TenantScope(e.w1, e.a), []uuid.UUID{e.a}, e.a},
		{"tenant B", tenancy.TenantScope(e.w1, e.b), []uuid.UUID{e.b}, e.b},
		{"tenant C", tenancy.TenantScope(e.w2, e.c), []uuid.UUID{e.c}, e.c},
		{"workspace 1", tenancy.SystemScope(e.w1), []uuid.UUID{e.a, e.b}, uuid.Nil},
		{"workspace 2", tenancy.SystemScope(e.w2), []uuid.UUID{e.c}, uuid.Nil},
	}
	sameSet := func(got, want []uuid.UUID) bool {
		if len(got) != len(want) {
			return false
		}
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				return false
			}
		}
		return true
	}

	var written sync.Map // tenant -> *atomic.Int64: activity entries each tenant scope wrote
	for _, id := range []uuid.UUID{e.a, e.b, e.c} {
		written.Store(id, new(atomic.Int64))
	}
	var pidsMu sync.Mutex
	pids := map[int]bool{}
	var ops atomic.Int64
	errs := make(chan error, workers*rounds*6)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				sc := cases[(w+r)%len(cases)]
				fail := func(format string, args ...any) {
					errs <- fmt.Errorf("worker %d round %d, %s: %s", w, r, sc.name, fmt.Sprintf(format, args...))
				}
				wantWS := sc.scope.WorkspaceID.String()
				wantTenant := "*"
				if sc.tenant != uuid.Nil {
					wantTenant = sc.tenant.String()
				}

				// 1. InScope: a transaction of parameterized statements (unnamed, binary
				// parameters), a list under RLS and, for a tenant, an activity write.
				err := s.InScope(ctx, sc.scope, func(tx *store.Tx) error {
					var in probe
					if err := sqlx.GetContext(ctx, tx, &in, probeSQL, 1); err != nil {
						return err
					}
					if in.CurrentUser != store.AppRole || in.Workspace != wantWS || in.Tenant != wantTenant {
						fail("inside InScope the connection shows %+v", in)
					}
					page, err := tx.ListTenants(ctx, store.TenantFilter{Limit: 50})
					if err != nil {
						return err
					}
					var got []uuid.UUID
					for _, tn := range page.Items {
						got = append(got, tn.ID)
					}
					if !sameSet(got, sc.tenants) {
						fail("ListTenants = %v, want %v", got, sc.tenants)
					}
					if sc.tenant != uuid.Nil {
						if err := tx.Record(ctx, store.Activity{Type: "pooler.check", Message: "written by " + sc.tenant.String()}); err != nil {
							return err
						}
						v, _ := written.Load(sc.tenant)
						v.(*atomic.Int64).Add(1)
					}
					return nil
				})
				if err != nil {
					fail("InScope: %v", err)
				}
				ops.Add(1)

				// 2. ReadScoped: scope and query in one multi-statement simple-protocol message.
				var seen []uuid.UUID
				var scopeTenant string
				err = s.ReadScoped(ctx, sc.scope, `SELECT t.id, current_setting('tenantry.tenant_id') AS scope_tenant FROM tenants t`,
					func(rows *store.ScopedRows) error {
						seen = seen[:0] // ReadScoped may call fn again (readbatch.go): overwrite
						for rows.Next() {
							var id uuid.UUID
							if err := rows.Scan(&id, &scopeTenant); err != nil {
								return err
							}
							seen = append(seen, id)
						}
						return nil
					})
				if err != nil {
					fail("ReadScoped: %v", err)
				} else if !sameSet(seen, sc.tenants) || scopeTenant != wantTenant {
					fail("ReadScoped saw tenants %v under tenant setting %q, want %v under %q", seen, scopeTenant, sc.tenants, wantTenant)
				}
				ops.Add(1)

				// 3. The activity a scope reads is only its own (or its workspace's).
				err = s.ReadScoped(ctx, sc.scope, `SELECT workspace_id, tenant_id FROM activity_log WHERE type = 'pooler.check'`,
					func(rows *store.ScopedRows) error {
						for rows.Next() {
							var ws, tn uuid.UUID
							if err := rows.Scan(&ws, &tn); err != nil {
								return err
							}
							if ws != sc.scope.WorkspaceID || (sc.tenant != uuid.Nil && tn != sc.tenant) {
								fail("read another scope's activity entry (workspace %s, tenant %s)", ws, tn)
							}
						}
						return nil
					})
				if err != nil {
					fail("ReadScoped activity: %v", err)
				}

				// 4. An unscoped statement right after, on whichever server connection it gets,
				// finds the connecting user and no scope.
				p, err := probeConn(ctx, s.SQL())
				if err != nil {
					fail("probe: %v", err)
				} else {
					if err := p.clean(e.user); err != nil {
						fail("%v", err)
					}
					pidsMu.Lock()
					pids[p.PID] = true
					pidsMu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 20 {
			t.Error(err)
		}
	}
	if n > 20 {
		t.Errorf("… and %d more errors", n-20)
	}

	// The work really was multiplexed: many client connections, at most two server connections.
	if st := s.SQL().Stats(); st.MaxOpenConnections != clients || st.OpenConnections <= 2 {
		t.Errorf("client connections: %+v, want more than the pool's 2 open at the end", st)
	}
	if len(pids) == 0 || len(pids) > 2 {
		t.Errorf("statements ran on %d server connections %v, want 1 or 2 (pool_size=2)", len(pids), pids)
	}
	if got := e.serverConnections(t); got > 2 {
		t.Errorf("PostgreSQL has %d connections from the pooler, want at most 2", got)
	}

	// Every activity write landed, in its own tenant's name, and nothing else did.
	var entries []struct {
		WS      uuid.UUID `db:"workspace_id"`
		Tenant  uuid.UUID `db:"tenant_id"`
		Message string    `db:"message"`
	}
	if err := e.direct.SQL().SelectContext(ctx, &entries, `SELECT workspace_id, tenant_id, message FROM activity_log WHERE type = 'pooler.check'`); err != nil {
		t.Fatal(err)
	}
	perTenant := map[uuid.UUID]int64{}
	for _, en := range entries {
		perTenant[en.Tenant]++
		if en.Message != "written by "+en.Tenant.String() || e.tenantOf[en.Tenant] != en.WS {
			t.Errorf("activity entry in the wrong scope: workspace %s, tenant %s, message %q", en.WS, en.Tenant, en.Message)
		}
	}
	for _, id := range []uuid.UUID{e.a, e.b, e.c} {
		v, _ := written.Load(id)
		if want := v.(*atomic.Int64).Load(); want == 0 || perTenant[id] != want {
			t.Errorf("tenant %s: %d activity entries stored, %d written", id, perTenant[id], want)
		}
	}
	t.Logf("%d scoped transactions and reads from %d goroutines over %d client connections ran on %d server connection(s)",
		ops.Load(), workers, clients, len(pids))
}

// TestPoolerServerConnectionIsCleanAfterEachScope uses a pool of one server connection, so every
// statement provably lands on the same PostgreSQL backend, and looks at that backend after each
// kind of scoped work: committed, rolled back, a single-message read, a lookup before a scope.
func TestPoolerServerConnectionIsCleanAfterEachScope(t *testing.T) {
	ctx := context.Background()
	e := newPoolerEnv(t)
	s := e.open(t, "pool1", 8)

	first, err := probeConn(ctx, s.SQL())
	if err != nil {
		t.Fatal(err)
	}
	if err := first.clean(e.user); err != nil {
		t.Fatal(err)
	}
	pid := first.PID
	after := func(what string) {
		t.Helper()
		p, err := probeConn(ctx, s.SQL())
		if err != nil {
			t.Fatalf("after %s: %v", what, err)
		}
		if p.PID != pid {
			t.Fatalf("after %s: backend %d, want the pool's only one %d", what, p.PID, pid)
		}
		if err := p.clean(e.user); err != nil {
			t.Errorf("after %s: %v", what, err)
		}
	}

	// A committed InScope transaction with a write.
	err = s.InScope(ctx, tenancy.TenantScope(e.w1, e.a), func(tx *store.Tx) error {
		var in probe
		if err := sqlx.GetContext(ctx, tx, &in, probeSQL, 1); err != nil {
			return err
		}
		if in.PID != pid || in.CurrentUser != store.AppRole || in.Tenant != e.a.String() {
			t.Errorf("inside InScope: %+v", in)
		}
		return tx.Record(ctx, store.Activity{Type: "pooler.check", Message: "committed"})
	})
	if err != nil {
		t.Fatal(err)
	}
	after("a committed InScope transaction")

	// A rolled-back one.
	boom := errors.New("roll back")
	err = s.InScope(ctx, tenancy.TenantScope(e.w1, e.b), func(tx *store.Tx) error {
		if err := tx.Record(ctx, store.Activity{Type: "pooler.check", Message: "rolled back"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InScope error = %v, want the function's", err)
	}
	after("a rolled-back InScope transaction")

	// A failed statement inside the transaction (the server aborts it; the store rolls back).
	err = s.InScope(ctx, tenancy.TenantScope(e.w1, e.b), func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT 1/0`)
		return err
	})
	if err == nil {
		t.Fatal("division by zero succeeded")
	}
	after("a transaction that failed on the server")

	// ReadScoped's single message.
	var got struct {
		PID    int    `db:"pid"`
		User   string `db:"usr"`
		Tenant string `db:"tenant"`
	}
	err = s.ReadScoped(ctx, tenancy.TenantScope(e.w2, e.c), `SELECT pg_backend_pid() AS pid, current_user::text AS usr,
		current_setting('tenantry.tenant_id') AS tenant`, func(rows *store.ScopedRows) error {
		if !rows.Next() {
			return errors.New("no row")
		}
		return rows.Scan(&got.PID, &got.User, &got.Tenant)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != pid || got.User != store.AppRole || got.Tenant != e.c.String() {
		t.Errorf("inside ReadScoped: %+v", got)
	}
	after("a ReadScoped message")

	// A lookup before a scope exists (its setting travels as a parameter).
	if _, err := s.LookupSession(ctx, store.HashSessionToken("no-such-session")); !errors.Is(err, tenancy.ErrNotFound) {
		t.Fatalf("LookupSession = %v, want ErrNotFound", err)
	}
	after("a session lookup")

	// What the committed transaction wrote is there; the rolled-back one's is not.
	var msgs []string
	if err := e.direct.SQL().SelectContext(ctx, &msgs, `SELECT message FROM activity_log WHERE type = 'pooler.check' ORDER BY message`); err != nil {
		t.Fatal(err)
	}
	if strings.Join(msgs, ",") != "committed" {
		t.Errorf("activity entries = %q, want only the committed one", msgs)
	}

	// Many goroutines over the one server connection: each sees its own scope only.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tenant := []uuid.UUID{e.a, e.b, e.c}[i%3]
			for r := 0; r < 5; r++ {
				var ids []uuid.UUID
				var backend int
				err := s.ReadScoped(ctx, tenancy.TenantScope(e.tenantOf[tenant], tenant), `SELECT id, pg_backend_pid() FROM tenants`,
					func(rows *store.ScopedRows) error {
						ids = ids[:0] // ReadScoped may call fn again (readbatch.go): overwrite
						for rows.Next() {
							var id uuid.UUID
							if err := rows.Scan(&id, &backend); err != nil {
								return err
							}
							ids = append(ids, id)
						}
						return nil
					})
				if err != nil {
					errs <- err
					return
				}
				if len(ids) != 1 || ids[0] != tenant || backend != pid {
					errs <- fmt.Errorf("tenant %s saw %v on backend %d (want only itself on %d)", tenant, ids, backend, pid)
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	after("concurrent scoped reads")
}

// TestPoolerSessionStateLeaks is the control: what is NOT safe behind a transaction-mode pooler
// does leak, and the probe above sees it. Session-level settings (set_config(…, false), plain SET)
// and session-level advisory locks stay on the server connection and reach the next client.
// This is why the store sets its scope transaction-locally, and why a session-level advisory
// lock (store.Migrate's, see docs/SCALING.md) must not be taken through the pooler.
func TestPoolerSessionStateLeaks(t *testing.T) {
	ctx := context.Background()
	e := newPoolerEnv(t)
	s := e.open(t, "pool1", 4)
	c1, err := s.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := s.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()

	// A session-level setting made by one client...
	if _, err := c1.ExecContext(ctx, `SELECT set_config('tenantry.tenant_id', $1, false)`, e.a.String()); err != nil {
		t.Fatal(err)
	}
	// ... is seen by another client, and the probe reports it.
	var p probe
	if err := c2.QueryRowContext(ctx, probeSQL, 1).Scan(&p.PID, &p.CurrentUser, &p.SessionUser, &p.Workspace, &p.Tenant, &p.Lookup); err != nil {
		t.Fatal(err)
	}
	if p.Tenant != e.a.String() || p.clean(e.user) == nil {
		t.Fatalf("a session-level setting did not reach the next client through the pooler: %+v; the leak checks above could not fail", p)
	}
	if _, err := c2.ExecContext(ctx, `RESET tenantry.tenant_id`); err != nil {
		t.Fatal(err)
	}

	// A session-level advisory lock taken by one client is "held" by the next one too: both get
	// an exclusive lock, which a direct connection would refuse.
	var got1, got2 bool
	if err := c1.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, 7_301_884_999).Scan(&got1); err != nil {
		t.Fatal(err)
	}
	if err := c2.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, 7_301_884_999).Scan(&got2); err != nil {
		t.Fatal(err)
	}
	if !got1 || !got2 {
		t.Errorf("session advisory lock through the pooler: first client %v, second %v; want both true (one server session)", got1, got2)
	}
	var direct bool
	if err := e.direct.SQL().GetContext(ctx, &direct, `SELECT pg_try_advisory_lock($1)`, 7_301_884_999); err != nil {
		t.Fatal(err)
	}
	if direct {
		t.Error("a direct connection got the lock the pooler's server connection holds")
	}
	if _, err := c1.ExecContext(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
		t.Fatal(err)
	}
}

// A server start (store.Migrate) on a current schema goes through the pooler and leaves no
// advisory lock behind on the pooled server connections: only pending migrations take the
// session-level lock (docs/SCALING.md).
func TestPoolerMigrateOnCurrentSchema(t *testing.T) {
	ctx := context.Background()
	e := newPoolerEnv(t)
	s := e.open(t, "pool2", 4)
	for range 3 { // as three processes starting one after another would
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate through the pooler: %v", err)
		}
	}
	var held int
	if err := e.direct.SQL().GetContext(ctx, &held, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'`); err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("%d advisory locks still held after Migrate through the pooler", held)
	}
	var n int
	if err := e.direct.SQL().GetContext(ctx, &n, `SELECT count(*) FROM universe_elements`); err != nil || n == 0 {
		t.Errorf("universe catalog after Migrate: %d rows, %v", n, err)
	}
}
