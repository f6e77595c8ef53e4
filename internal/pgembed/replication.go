package pgembed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Streaming replication for the private cluster: a primary started with Options.Replication and
// a hot standby started with Options.StandbyOf. Both run as the same server account as any other
// cluster (postgres or nobody when this process is root), over 127.0.0.1 only.

// replicationSettings are the extra server options for a primary or a standby.
func (c *Cluster) replicationSettings() string {
	var s string
	if c.opts.Replication {
		// wal_level=replica and 10 senders are PostgreSQL's defaults; they are named so that a
		// changed default cannot silently break the standby. wal_keep_size keeps enough WAL for a
		// standby that was stopped a while to catch up by streaming rather than need a new clone.
		s += " -c wal_level=replica -c max_wal_senders=10 -c wal_keep_size=128MB"
	}
	if c.opts.StandbyOf != nil {
		// Answer read-only queries while replaying; report replay progress to the primary often.
		s += " -c hot_standby=on -c wal_receiver_status_interval=1s"
	}
	return s
}

// allowReplication makes sure pg_hba.conf lets the superuser open a replication connection over
// 127.0.0.1 with trust (initdb writes such a line; a hand-edited file may have lost it).
func (c *Cluster) allowReplication() error {
	path := filepath.Join(c.dataDir, "pg_hba.conf")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	sc := bufio.NewScanner(f)
	found := false
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 && fields[0] == "host" && fields[1] == "replication" &&
			(fields[2] == "all" || fields[2] == Superuser) && fields[3] == "127.0.0.1/32" && fields[4] == "trust" {
			found = true
			break
		}
	}
	f.Close()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("pgembed: reading %s: %w", path, err)
	}
	if found {
		return nil
	}
	af, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	_, err = fmt.Fprintf(af, "\n# added by tenantry: streaming replication to a local hot standby\nhost replication %s 127.0.0.1/32 trust\n", Superuser)
	if cerr := af.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgembed: writing %s: %w", path, err)
	}
	return nil
}

// basebackupOnce clones the primary into Dir/data with pg_basebackup -R (which writes
// standby.signal and primary_conninfo), unless Dir/data already holds a cluster. WAL is streamed
// during the copy (-X stream), so the clone is consistent by itself; -c fast starts at once with
// an immediate checkpoint on the primary. A failed clone is removed so the next start retries.
func (c *Cluster) basebackupOnce(ctx context.Context, primary *Cluster) error {
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pgembed: %w", err)
	}
	if primary.Port() == 0 {
		return errors.New("pgembed: StandbyOf names a cluster that is not running")
	}
	if err := os.RemoveAll(c.dataDir); err != nil {
		return fmt.Errorf("pgembed: removing a partial clone: %w", err)
	}
	c.logger.Info("cloning the primary for a hot standby", "dir", c.dataDir, "primary_port", primary.Port())
	out, err := c.command(ctx, "pg_basebackup",
		"-D", c.dataDir,
		"-h", "127.0.0.1",
		"-p", strconv.Itoa(primary.Port()),
		"-U", Superuser,
		"-R",
		"-X", "stream",
		"-c", "fast",
		"-w",
	).CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(c.dataDir)
		return fmt.Errorf("pgembed: pg_basebackup from port %d: %w:\n%s", primary.Port(), err, strings.TrimSpace(string(out)))
	}
	return nil
}
