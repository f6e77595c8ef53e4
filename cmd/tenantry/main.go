// Command tenantry runs the Tenantry server and its maintenance tasks. main does wiring only;
// run is what tests call.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tenantry:", err)
		}
		os.Exit(2)
	}
}

const usage = `Tenantry: a multi-tenant integration workspace.

Usage:
  tenantry [serve] [--addr HOST:PORT]   start the Console and the API (default)
  tenantry migrate                      apply pending database migrations
  tenantry seed                         create the demo workspace (idempotent; not in production)
  tenantry manager add --email E --workspace KEY [--role admin|support] [--password P]
                                        add a Console manager to a workspace
  tenantry token --workspace KEY [--tenant KEY] [--name N] [--admin] [--ttl 2h]
                                        print a token signed with the workspace's current secret
  tenantry workspace create --key KEY --name NAME [--json]
                                        create a workspace and print its secret (shown once)
  tenantry workspace rotate-secret --key KEY [--json]
                                        new secret; the old one verifies for TENANTRY_SECRET_ROTATION_OVERLAP
  tenantry help                         this text

Without DATABASE_URL, a private PostgreSQL cluster is started under $TENANTRY_DATA_DIR/postgres
from the installed server binaries (PostgreSQL 15 or newer).

Environment:
`

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	for _, v := range configVars() {
		fmt.Fprintf(w, "  %-34s %s (default %s)\n", v.Name, v.Meaning, v.Default)
	}
}

// run parses the subcommand and runs it until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		cmd, args = "help", args[1:]
	} else if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, args, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, args, getenv, stdout, stderr)
	case "seed":
		return cmdSeed(ctx, args, getenv, stdout, stderr)
	case "manager":
		return cmdManager(ctx, args, getenv, stdout, stderr)
	case "token":
		return cmdToken(ctx, args, getenv, stdout, stderr)
	case "workspace":
		return cmdWorkspace(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		printUsage(stdout)
		return nil
	default:
		printUsage(stderr)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// newFlags returns a FlagSet whose --help prints the command's usage to stdout.
func newFlags(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: tenantry %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
