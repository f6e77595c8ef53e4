package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only on TENANTRY_DEBUG_ADDR, never on the public listener
	"path/filepath"
	"time"

	"tenantry/internal/auth"
	"tenantry/internal/config"
	"tenantry/internal/pgembed"
	"tenantry/internal/seed"
	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/web"
)

func configVars() []struct{ Name, Default, Meaning string } { return config.Vars }

// env is what every command starts from: configuration, logger, and a migrated database (the
// embedded one when DATABASE_URL is unset). close stops what open started.
type env struct {
	cfg     *config.Config
	log     *slog.Logger
	db      *store.DB
	cluster *pgembed.Cluster
}

func (e *env) close() {
	if e.db != nil {
		e.db.Close()
	}
	if e.cluster != nil && e.cluster.Owned() {
		e.log.Info("stopping the embedded PostgreSQL")
		if err := e.cluster.Stop(); err != nil {
			e.log.Error("stopping the embedded PostgreSQL", "err", err)
		}
	}
}

func openEnv(ctx context.Context, getenv func(string) string, stderr io.Writer, addr string) (*env, error) {
	if addr != "" {
		prev := getenv
		getenv = func(k string) string {
			if k == "TENANTRY_ADDR" {
				return addr
			}
			return prev(k)
		}
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, log: newLogger(stderr, cfg.LogFormat, cfg.LogLevel)}
	for _, w := range cfg.Warnings {
		e.log.Warn(w)
	}
	url := cfg.DatabaseURL
	if url == "" {
		dir := filepath.Join(cfg.DataDir, "postgres")
		e.log.Info("DATABASE_URL not set: starting the embedded PostgreSQL", "dir", dir)
		e.cluster, err = pgembed.Start(ctx, pgembed.Options{Dir: dir, Logger: e.log})
		if err != nil {
			return nil, err
		}
		if err := e.cluster.EnsureDatabase(ctx, "tenantry"); err != nil {
			e.close()
			return nil, err
		}
		url = e.cluster.URL("tenantry")
	}
	e.db, err = store.Open(ctx, url, cfg.EncryptionKeys, e.log)
	if err != nil {
		e.close()
		return nil, err
	}
	e.db.SQL().SetMaxOpenConns(cfg.DBMaxConns)
	e.db.SQL().SetMaxIdleConns(cfg.DBMaxConns)
	e.db.SetTransactionPooler(cfg.DBPooler == "transaction")
	if err := e.db.Migrate(ctx); err != nil {
		e.close()
		return nil, err
	}
	if cfg.DatabaseReadURL != "" {
		// Lag-tolerant reads (activity, tenant lists, the usage dashboard) go to the replica while
		// it is within the bound; an unreachable replica only logs a warning (reads use the primary).
		err := e.db.UseReplica(ctx, cfg.DatabaseReadURL, store.ReplicaOptions{MaxLag: cfg.ReadMaxLag, MaxConns: cfg.DBMaxConns})
		if err != nil {
			e.close()
			return nil, err
		}
	}
	return e, nil
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve [--addr HOST:PORT]", stdout)
	addr := fs.String("addr", "", "address to listen on (overrides TENANTRY_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := openEnv(ctx, getenv, stderr, *addr)
	if err != nil {
		return err
	}
	defer e.close()
	var demo *seed.Result
	if !e.cfg.Production() {
		if demo, err = seed.Demo(ctx, e.db); err != nil {
			return err
		}
	}
	srv, err := web.New(e.cfg, e.db, e.log)
	if err != nil {
		return err
	}
	// Activity partitions ahead, expired entries out: hourly, in every process (one at a time).
	go e.db.MaintainActivityEvery(ctx, time.Hour)
	if e.cfg.DebugAddr != "" {
		go func() {
			e.log.Info("profiler listening", "addr", e.cfg.DebugAddr)
			if err := web.Serve(ctx, e.cfg.DebugAddr, http.DefaultServeMux, e.log, nil); err != nil {
				e.log.Error("profiler", "err", err)
			}
		}()
	}
	return srv.Run(ctx, func(bound string) {
		e.log.Info("listening", "addr", bound)
		fmt.Fprintf(stdout, "\nTenantry is running.\n  Console:    http://%s/\n", bound)
		if demo != nil {
			fmt.Fprintf(stdout, "  Sign in:    %s / %s (admin), %s / %s (support)\n  Workspace:  %s\n",
				seed.AdminEmail, seed.DemoPassword, seed.SupportEmail, seed.DemoPassword, demo.Workspace.Key)
			if tok, err := signToken(ctx, e.db, demo.Workspace.Key, "acme", "", false, 2*time.Hour); err == nil {
				fmt.Fprintf(stdout, "  API:        http://%s/api  (OpenAPI at /api/openapi.json)\n  Tenant token for acme (2 h):\n    %s\n  Try:        curl -H 'Authorization: Bearer <token>' http://%s/api/self\n", bound, tok, bound)
			}
		}
		fmt.Fprintf(stdout, "  Stop with Ctrl-C.\n\n")
	})
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "migrate", stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := openEnv(ctx, getenv, stderr, "")
	if err != nil {
		return err
	}
	defer e.close()
	cur, _, err := e.db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database migrated to version %d\n", cur)
	return nil
}

func cmdSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("seed", "seed", stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := openEnv(ctx, getenv, stderr, "")
	if err != nil {
		return err
	}
	defer e.close()
	if e.cfg.Production() {
		return errors.New("seed: refusing to create demo data in production")
	}
	res, err := seed.Demo(ctx, e.db)
	if err != nil {
		return err
	}
	verb := "already existed"
	if res.Created {
		verb = "created"
	}
	fmt.Fprintf(stdout, "demo workspace %q %s; sign in as %s / %s\n", res.Workspace.Key, verb, seed.AdminEmail, seed.DemoPassword)
	return nil
}

func cmdManager(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: tenantry manager add --email E --workspace KEY [--role admin|support] [--password P]")
	}
	fs := newFlags("manager add", "manager add --email E --workspace KEY [--role admin|support] [--password P]", stdout)
	email := fs.String("email", "", "the manager's email (required)")
	wsKey := fs.String("workspace", "", "workspace key (required)")
	role := fs.String("role", "admin", "admin or support")
	password := fs.String("password", "", "password (at least 10 characters); generated and printed when empty")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" || *wsKey == "" {
		fs.Usage()
		return errors.New("manager add: --email and --workspace are required")
	}
	if !tenancy.Role(*role).Valid() {
		return fmt.Errorf("manager add: --role %q: want admin or support", *role)
	}
	generated := *password == ""
	if generated {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		*password = base64.RawURLEncoding.EncodeToString(b)
	}
	if _, err := auth.HashPassword(*password); err != nil {
		return fmt.Errorf("manager add: %w", err)
	}
	e, err := openEnv(ctx, getenv, stderr, "")
	if err != nil {
		return err
	}
	defer e.close()
	wa, err := e.db.LookupWorkspaceByKey(ctx, *wsKey)
	if errors.Is(err, tenancy.ErrNotFound) {
		return fmt.Errorf("manager add: no workspace with key %q", *wsKey)
	}
	if err != nil {
		return err
	}
	if err := seed.EnsureManager(ctx, e.db, wa.Workspace.ID, *email, *password, tenancy.Role(*role)); err != nil {
		return fmt.Errorf("manager add: %w", err)
	}
	fmt.Fprintf(stdout, "%s is %s of workspace %s\n", *email, *role, *wsKey)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", *password)
	}
	return nil
}

func cmdToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("token", "token --workspace KEY [--tenant KEY] [--name N] [--admin] [--ttl 2h]", stdout)
	wsKey := fs.String("workspace", "", "workspace key (required)")
	tenant := fs.String("tenant", "", "tenant key (internalId); omit with --admin for a workspace token")
	name := fs.String("name", "", "tenant name claim")
	admin := fs.Bool("admin", false, "a workspace token (isAdmin), for the company's backend")
	ttl := fs.Duration("ttl", 2*time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *wsKey == "" || (*tenant == "" && !*admin) {
		fs.Usage()
		return errors.New("token: --workspace and either --tenant or --admin are required")
	}
	if *ttl <= 0 || *ttl > 365*24*time.Hour {
		return errors.New("token: --ttl must be between 1s and 8760h")
	}
	e, err := openEnv(ctx, getenv, stderr, "")
	if err != nil {
		return err
	}
	defer e.close()
	tok, err := signToken(ctx, e.db, *wsKey, *tenant, *name, *admin, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func signToken(ctx context.Context, db *store.DB, wsKey, tenant, name string, admin bool, ttl time.Duration) (string, error) {
	wa, err := db.LookupWorkspaceByKey(ctx, wsKey)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", fmt.Errorf("no workspace with key %q", wsKey)
	}
	if err != nil {
		return "", err
	}
	return auth.Sign(wa.Secret, wsKey, tenant, name, admin, ttl)
}

func cmdWorkspace(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "rotate-secret") {
		return errors.New("usage: tenantry workspace create --key KEY --name NAME | tenantry workspace rotate-secret --key KEY")
	}
	sub := args[0]
	fs := newFlags("workspace "+sub, "workspace "+sub+" --key KEY [--name NAME] [--json]", stdout)
	key := fs.String("key", "", "workspace key: 2-63 lowercase letters, digits, - or _ (required)")
	name := fs.String("name", "", "workspace name (create)")
	asJSON := fs.Bool("json", false, "print {key, secret} as JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *key == "" || (sub == "create" && *name == "") {
		fs.Usage()
		return errors.New("workspace: --key (and --name for create) are required")
	}
	e, err := openEnv(ctx, getenv, stderr, "")
	if err != nil {
		return err
	}
	defer e.close()
	var secret string
	if sub == "create" {
		_, secret, err = e.db.CreateWorkspace(ctx, *key, *name)
		if errors.Is(err, tenancy.ErrConflict) {
			return fmt.Errorf("workspace create: key %q is taken", *key)
		}
	} else {
		wa, lerr := e.db.LookupWorkspaceByKey(ctx, *key)
		if lerr != nil {
			return fmt.Errorf("workspace rotate-secret: %w", lerr)
		}
		err = e.db.InScope(ctx, tenancy.SystemScope(wa.Workspace.ID), func(tx *store.Tx) error {
			rot, err := tx.RotateSecret(ctx, e.cfg.SecretRotationOverlap)
			if err == nil {
				secret = rot.Secret
			}
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("workspace %s: %w", sub, err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"key": *key, "secret": secret})
	}
	fmt.Fprintf(stdout, "workspace %s\nsecret:   %s\n(the secret is shown only now; keep it in your backend's configuration)\n", *key, secret)
	return nil
}
