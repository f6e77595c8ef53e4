// Package pgembed owns the private PostgreSQL cluster that tenantry falls
// back to when DATABASE_URL is not set: finding the installed server
// binaries, initialising the data directory once, starting the postmaster on
// a loopback port, sharing one running server between processes (the server
// and parallel test binaries), and stopping it only if this process started
// it.
//
// Everything lives under Options.Dir: the cluster in Dir/data, the server log
// in Dir/postgres.log and the inter-process lock in Dir/.lock. No Unix socket
// is created; clients connect over TCP on 127.0.0.1 with trust
// authentication as the superuser "tenantry".
package pgembed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// Superuser is the role initdb creates; URL connects as it.
const Superuser = "tenantry"

// minMajor is the oldest server major version accepted.
const minMajor = 15

// readyTimeout bounds how long Start waits for a started (or reused) server
// to answer SELECT 1.
const readyTimeout = 30 * time.Second

// pgLibGlob is where Debian/Ubuntu packages install versioned server
// binaries, which are deliberately not on PATH there.
var pgLibGlob = "/usr/lib/postgresql/*/bin"

// ErrNoBinaries is returned (wrapped) by Start when no usable PostgreSQL
// server binaries are found.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (looked in PATH and /usr/lib/postgresql/*/bin): install PostgreSQL 15 or newer (e.g. apt-get install postgresql) or set DATABASE_URL")

// Options configure Start.
type Options struct {
	// Dir is the root of the private cluster, e.g. ".data/postgres".
	// PGDATA is Dir/data; the log is Dir/postgres.log. Required.
	Dir string

	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger

	// BinDirs, when non-empty, replaces the default binary search (PATH,
	// then the highest-version /usr/lib/postgresql/*/bin): the first listed
	// directory containing initdb, pg_ctl and postgres of version 15 or
	// newer is used. Meant for pinning a specific installation and for tests.
	BinDirs []string

	// Replication prepares the cluster to be a streaming-replication primary (see replication.go):
	// wal_level=replica, WAL senders, WAL kept for a standby that falls behind, and a pg_hba line
	// letting the superuser replicate over 127.0.0.1.
	Replication bool

	// StandbyOf, when set, makes the cluster a hot standby of that running primary: on first use
	// Dir/data is cloned from it with pg_basebackup -R instead of created by initdb, so the server
	// streams and replays the primary's WAL and answers read-only queries.
	StandbyOf *Cluster

	// Port, when non-zero, is the port to listen on instead of a free one picked at start (so a
	// restarted server keeps its address).
	Port int
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	dir     string // resolved Options.Dir
	dataDir string
	logPath string
	bin     binaries
	acct    account
	logger  *slog.Logger
	opts    Options

	port  int
	owned bool
	pid   int // postmaster pid when owned, so Stop never stops a server someone else restarted

	mu      sync.Mutex
	stopped bool
}

// Start finds the binaries, initialises Dir on first use, and starts
// PostgreSQL on a free 127.0.0.1 port, waiting until it accepts connections.
// If a postmaster is already running for Dir (started by another process or
// an earlier run), it is reused and the returned Cluster is not owned: its
// Stop does nothing.
//
// Concurrent Starts on the same Dir, in this or other processes, are
// serialised with a file lock, so exactly one of them initialises and starts
// the server and the others reuse it.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgembed: Options.Dir is required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	bin, err := findBinaries(ctx, opts.BinDirs)
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	dir, err := prepareDir(opts.Dir, acct)
	if err != nil {
		return nil, err
	}

	c := &Cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "postgres.log"),
		bin:     bin,
		acct:    acct,
		logger:  logger,
		opts:    opts,
	}

	unlock, err := lockDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	pid, port, alive, err := c.readPostmaster()
	if err != nil {
		return nil, err
	}
	if alive {
		c.port = port
		if err := c.waitReady(ctx); err != nil {
			return nil, fmt.Errorf("pgembed: reusing running postmaster (pid %d, port %d): %w", pid, port, err)
		}
		logger.Info("reusing running PostgreSQL", "dir", dir, "port", port, "pid", pid)
		return c, nil
	}

	if acct.cred != nil {
		// Files may have been created by root (the lock, a previous log);
		// the server user must own everything it writes to.
		if err := chownTree(dir, acct); err != nil {
			return nil, err
		}
	}
	if opts.StandbyOf != nil {
		err = c.basebackupOnce(ctx, opts.StandbyOf)
	} else {
		err = c.initdbOnce(ctx)
	}
	if err != nil {
		return nil, err
	}
	if opts.Replication {
		if err := c.allowReplication(); err != nil {
			return nil, err
		}
	}
	if err := c.startServer(ctx); err != nil {
		return nil, err
	}
	c.owned = true
	if err := c.waitReady(ctx); err != nil {
		_ = c.stopLocked()
		return nil, fmt.Errorf("pgembed: server started but not accepting connections: %w (see %s)", err, c.logPath)
	}
	logger.Info("started PostgreSQL", "dir", dir, "port", c.port, "pid", c.pid,
		"version", bin.major, "user", acct.name, "log", c.logPath)
	return c, nil
}

// URL returns a lib/pq URL for database dbname as the superuser.
func (c *Cluster) URL(dbname string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.port, url.PathEscape(dbname))
}

// Port is the TCP port the server listens on (127.0.0.1 only).
func (c *Cluster) Port() int { return c.port }

// Owned reports whether this process started the server, i.e. whether Stop
// will shut it down.
func (c *Cluster) Owned() bool { return c.owned }

// LogPath is the server log file.
func (c *Cluster) LogPath() string { return c.logPath }

// EnsureDatabase creates database name if it doesn't exist. It is safe to
// call concurrently from several processes.
func (c *Cluster) EnsureDatabase(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("pgembed: EnsureDatabase: empty database name")
	}
	if err := c.ensureDatabase(ctx, name); err != nil {
		return fmt.Errorf("pgembed: EnsureDatabase %q: %w", name, err)
	}
	return nil
}

// ensureDatabaseLockKey is an arbitrary advisory-lock key; concurrent
// CREATE DATABASE of one name does not wait on each other but fails with a
// unique violation, so callers serialise on this lock instead.
const ensureDatabaseLockKey = 0x7465_6e61_6e74 // "tenant"

func (c *Cluster) ensureDatabase(ctx context.Context, name string) error {
	db, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	// Session-level advisory locks belong to one connection, so pin one.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", ensureDatabaseLockKey); err != nil {
		return err
	}
	// conn.Close only returns the session to the pool, so release the lock
	// explicitly rather than relying on db.Close ending the session.
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", ensureDatabaseLockKey)

	exists := func() (bool, error) {
		var ok bool
		err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
		return ok, err
	}
	if ok, err := exists(); err != nil || ok {
		return err
	}
	_, err = conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && (pqErr.Code == pqerror.DuplicateDatabase || pqErr.Code == pqerror.UniqueViolation) {
		// Someone not using EnsureDatabase created it meanwhile.
		if ok, _ := exists(); ok {
			return nil
		}
	}
	return err
}

// Stop shuts the server down with `pg_ctl stop -m fast` if this process
// started it; otherwise it does nothing. Calling it more than once is fine.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.owned || c.stopped {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Holding the lock keeps a concurrent Start from deciding to reuse a
	// server that is in the middle of shutting down.
	unlock, err := lockDir(ctx, c.dir)
	if err != nil {
		return err
	}
	defer unlock()
	return c.stopLocked()
}

// stopLocked stops the server; the caller holds the directory lock.
func (c *Cluster) stopLocked() error {
	pid, _, alive, err := c.readPostmaster()
	if err != nil {
		return err
	}
	if !alive || pid != c.pid {
		c.stopped = true
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := c.command(ctx, "pg_ctl", "stop", "-m", "fast", "-w", "-t", "60", "-D", c.dataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgembed: pg_ctl stop: %w: %s", err, strings.TrimSpace(string(out)))
	}
	c.stopped = true
	c.logger.Info("stopped PostgreSQL", "dir", c.dir)
	return nil
}

func (c *Cluster) initdbOnce(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		return nil
	}
	c.logger.Info("initialising PostgreSQL cluster", "dir", c.dataDir, "user", c.acct.name)
	out, err := c.command(ctx, "initdb",
		"-D", c.dataDir,
		"-U", Superuser,
		"--auth=trust",
		"-E", "UTF8",
		"--locale=C",
		"--no-instructions",
	).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgembed: initdb %s: %w:\n%s", c.dataDir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// startServer runs pg_ctl start, retrying with a new port when the one
// picked was taken between probing and binding.
func (c *Cluster) startServer(ctx context.Context) error {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := c.opts.Port
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return err
			}
		}
		// No Unix socket: its path length is limited to ~100 bytes, which
		// deep Dirs exceed, and TCP is all the callers use.
		opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "+
			"-c max_connections=200 -c shared_buffers=128MB -c fsync=on", port) + c.replicationSettings()
		logOffset := fileSize(c.logPath)
		// -l matters beyond logging: without it the postmaster inherits our
		// stdout/stderr pipes and CombinedOutput would never return.
		out, err := c.command(ctx, "pg_ctl", "start", "-w", "-t", "60",
			"-D", c.dataDir, "-l", c.logPath, "-o", opts).CombinedOutput()
		if err == nil {
			pid, _, alive, rerr := c.readPostmaster()
			if rerr != nil {
				return rerr
			}
			if !alive {
				return fmt.Errorf("pgembed: pg_ctl start succeeded but no live postmaster found (see %s)", c.logPath)
			}
			c.port, c.pid = port, pid
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("pgembed: pg_ctl start: %w", ctx.Err())
		}
		logTail := readFrom(c.logPath, logOffset)
		lastErr = fmt.Errorf("pgembed: pg_ctl start: %w: %s\n%s:\n%s", err, strings.TrimSpace(string(out)), c.logPath, logTail)
		if c.opts.Port != 0 || (!strings.Contains(logTail, "could not bind") && !strings.Contains(logTail, "Address already in use")) {
			break
		}
		c.logger.Warn("port taken, retrying PostgreSQL start", "port", port)
	}
	return lastErr
}

// waitReady polls SELECT 1 until the server answers, ctx ends or
// readyTimeout passes.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	db, err := sql.Open("postgres", c.URL("postgres")+"&connect_timeout=5")
	if err != nil {
		return err
	}
	defer db.Close()
	var lastErr error
	for {
		var one int
		err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		if err == nil {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for PostgreSQL on port %d: %w (last error: %v)", c.port, ctx.Err(), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readPostmaster inspects Dir/data/postmaster.pid. A file whose process is
// gone is removed so the next start is not refused; postgres would handle a
// dead pid itself, but not one recycled by an unrelated process (common in
// containers after a restart).
func (c *Cluster) readPostmaster() (pid, port int, alive bool, err error) {
	path := filepath.Join(c.dataDir, "postmaster.pid")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("pgembed: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	pid, perr := strconv.Atoi(strings.TrimSpace(lines[0]))
	if perr != nil || !postmasterAlive(pid) {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, 0, false, fmt.Errorf("pgembed: removing stale %s: %w", path, err)
		}
		c.logger.Warn("removed stale postmaster.pid", "path", path, "pid", pid)
		return 0, 0, false, nil
	}
	// Line 4 is the port (see PostgreSQL's LOCK_FILE_LINE_PORT); it is
	// written together with the pid, so a live file always has it.
	if len(lines) < 4 {
		return 0, 0, false, fmt.Errorf("pgembed: %s of live pid %d has no port line", path, pid)
	}
	port, perr = strconv.Atoi(strings.TrimSpace(lines[3]))
	if perr != nil {
		return 0, 0, false, fmt.Errorf("pgembed: %s: bad port line %q", path, lines[3])
	}
	return pid, port, true, nil
}

// postmasterAlive reports whether pid is a live postgres process. Where
// /proc is unavailable it trusts kill(pid, 0) alone.
func postmasterAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	// Format: "pid (comm) state ..."; comm may itself contain parentheses.
	s := string(stat)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open || closing+2 >= len(s) {
		return true
	}
	comm, state := s[open+1:closing], s[closing+2]
	if state == 'Z' || state == 'X' {
		return false
	}
	return comm == "postgres" || comm == "postmaster"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgembed: finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pgembed: finding a free port: %w", err)
	}
	return port, nil
}

// lockDir takes an exclusive flock on Dir/.lock. It polls rather than
// blocking so ctx can cancel the wait. The descriptor is close-on-exec (Go's
// default), which matters: a postmaster inheriting it would hold the lock
// forever.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	path := filepath.Join(dir, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	fd := int(f.Fd())
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(fd, syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("pgembed: locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("pgembed: waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns what was appended to path since offset, capped to the
// last 4 KiB so a huge log cannot flood an error message.
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if size := fileSize(path); size-offset > 4096 {
		offset = size - 4096
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}
