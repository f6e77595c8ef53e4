package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// account is the OS user the server processes run as.
type account struct {
	name     string
	uid, gid uint32
	cred     *syscall.Credential // nil: run as the current user
}

// serverAccount picks who runs initdb/pg_ctl/postgres. They all refuse to
// run as root, so a root process hands them to the "postgres" system user
// (which owns a packaged installation) or, failing that, "nobody".
func serverAccount() (account, error) {
	if os.Geteuid() != 0 {
		name := strconv.Itoa(os.Geteuid())
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		return account{name: name, uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		// Credential with no Groups also drops root's supplementary groups,
		// which is why permission checks below consider only the primary gid.
		return account{
			name: name,
			uid:  uint32(uid),
			gid:  uint32(gid),
			cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		}, nil
	}
	return account{}, errors.New(`pgembed: running as root, but neither a "postgres" nor a "nobody" user exists to run PostgreSQL as (it refuses to run as root); create one (e.g. useradd --system postgres) or run as an unprivileged user`)
}

// ServerCredential is the credential server binaries run under (nil: the current user), for
// other daemons that refuse root too (the PgBouncer tests).
func ServerCredential() (*syscall.Credential, error) {
	acct, err := serverAccount()
	return acct.cred, err
}

// command builds a server-binary invocation as the server account. The
// working directory is Dir because initdb fails when it cannot getcwd(),
// which happens when the caller's cwd is private to root.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin.path(name), args...)
	cmd.Dir = c.dir
	if c.acct.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.acct.cred}
	}
	return cmd
}

// prepareDir creates Dir and returns its absolute, symlink-free path, so
// that the traversal check below covers exactly the directories the server
// will walk through.
func prepareDir(dir string, acct account) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	// Parents get 0755 so a server user other than us can reach Dir; Dir
	// itself stays private.
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	if err := os.Mkdir(abs, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	if acct.cred != nil {
		if err := checkTraversable(real, acct); err != nil {
			return "", err
		}
	}
	return real, nil
}

// checkTraversable verifies that acct can search every ancestor of dir,
// top-down, so the error names the outermost blocker. Without this the
// failure surfaces later as an opaque initdb/pg_ctl permission error.
func checkTraversable(dir string, acct account) error {
	var ancestors []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		ancestors = append(ancestors, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i := len(ancestors) - 1; i >= 0; i-- {
		p := ancestors[i]
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		var bit fs.FileMode = 0o001
		switch {
		case st.Uid == acct.uid:
			bit = 0o100
		case st.Gid == acct.gid:
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("pgembed: directory %s is not traversable by user %q (uid %d), which runs PostgreSQL because this process is root: run `chmod o+x %s` or choose a Dir elsewhere", p, acct.name, acct.uid, p)
		}
	}
	return nil
}

// chownTree gives dir and everything below it to acct, touching only entries
// that differ so a reused cluster costs a walk, not thousands of writes.
func chownTree(dir string, acct account) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == acct.uid && st.Gid == acct.gid {
			return nil
		}
		return os.Lchown(p, int(acct.uid), int(acct.gid))
	})
	if err != nil {
		return fmt.Errorf("pgembed: giving %s to user %q: %w", dir, acct.name, err)
	}
	return nil
}
