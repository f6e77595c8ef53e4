package pgembed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// serverBinaries must all come from one directory: initdb and pg_ctl locate
// postgres next to their own (symlink-resolved) executable.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

type binaries struct {
	dir   string
	major int
}

func (b binaries) path(name string) string { return filepath.Join(b.dir, name) }

// findBinaries returns the first candidate directory holding all server
// binaries at version minMajor or newer. Candidates are dirs when given,
// else the real directories behind initdb/pg_ctl/postgres on PATH followed
// by pgLibGlob matches, highest version first.
func findBinaries(ctx context.Context, dirs []string) (binaries, error) {
	candidates := dirs
	if len(candidates) == 0 {
		candidates = append(pathCandidates(), globCandidates(pgLibGlob)...)
	}
	var firstErr error
	for _, dir := range candidates {
		if !hasServerBinaries(dir) {
			continue
		}
		major, err := serverMajor(ctx, filepath.Join(dir, "postgres"))
		if err == nil && major < minMajor {
			err = fmt.Errorf("pgembed: PostgreSQL %d in %s is too old: need %d or newer (install a newer PostgreSQL, e.g. apt-get install postgresql, or set DATABASE_URL)", major, dir, minMajor)
		}
		if err != nil {
			// Keep looking: PATH may hold an old version while a newer
			// one sits in /usr/lib/postgresql.
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		return binaries{dir: dir, major: major}, nil
	}
	if firstErr != nil {
		return binaries{}, firstErr
	}
	if len(dirs) > 0 {
		return binaries{}, fmt.Errorf("pgembed: searched %s: %w", strings.Join(dirs, ", "), ErrNoBinaries)
	}
	return binaries{}, fmt.Errorf("pgembed: %w", ErrNoBinaries)
}

// pathCandidates resolves symlinks because PATH often holds links (e.g.
// /usr/local/bin/postgres -> /usr/lib/postgresql/15/bin/postgres) and the
// binaries must be used from their real directory.
func pathCandidates() []string {
	var out []string
	for _, name := range serverBinaries {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		if real, err = filepath.Abs(real); err != nil {
			continue
		}
		if dir := filepath.Dir(real); !slices.Contains(out, dir) {
			out = append(out, dir)
		}
	}
	return out
}

// globCandidates returns the matches of pattern ordered by the version
// number in the parent directory name ("15", "9.6"), highest first.
func globCandidates(pattern string) []string {
	matches, _ := filepath.Glob(pattern)
	version := func(p string) []int {
		var v []int
		for _, part := range strings.Split(filepath.Base(filepath.Dir(p)), ".") {
			n, err := strconv.Atoi(part)
			if err != nil {
				return nil
			}
			v = append(v, n)
		}
		return v
	}
	slices.SortStableFunc(matches, func(a, b string) int {
		return slices.Compare(version(b), version(a))
	})
	return matches
}

func hasServerBinaries(dir string) bool {
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+)`)

// serverMajor parses `postgres --version`, e.g.
// "postgres (PostgreSQL) 15.13 (Debian 15.13-0+deb12u1)". --version is
// answered before postgres's refuse-to-run-as-root check, so no credential
// switch is needed.
func serverMajor(ctx context.Context, postgres string) (int, error) {
	out, err := exec.CommandContext(ctx, postgres, "--version").Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exitErr.Stderr)))
		}
		return 0, fmt.Errorf("pgembed: %s --version: %w", postgres, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgembed: %s --version: unrecognised output %q", postgres, strings.TrimSpace(string(out)))
	}
	major, err := strconv.Atoi(string(m[1]))
	if err != nil {
		return 0, fmt.Errorf("pgembed: %s --version: %w", postgres, err)
	}
	return major, nil
}
