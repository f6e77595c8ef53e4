// Package config reads Tenantry's configuration from the environment, in one place, and checks
// it before anything starts. Nothing else in the program calls os.Getenv.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tenantry/internal/secrets"
)

// Config is everything the server needs to start.
type Config struct {
	Env         string // development, test or production
	DatabaseURL string // empty: start the embedded PostgreSQL under DataDir
	Addr        string // host:port to listen on
	BaseURL     string // public URL of the Console, no trailing slash
	DataDir     string // local state for development: the embedded database, generated keys

	// SessionKeys sign and encrypt the Console session cookie: pairs of (hash key, block key),
	// newest first, so keys can rotate without signing everybody out.
	SessionKeys [][]byte
	// EncryptionKeys is the key ring for secrets at rest (internal/secrets).
	EncryptionKeys *secrets.KeyRing
	// SecretRotationOverlap is how long a rotated workspace secret still verifies tokens.
	SecretRotationOverlap time.Duration

	// DebugAddr, when set, serves Go's profiler (/debug/pprof) on a separate listener.
	DebugAddr string

	// DBMaxConns caps this process's connections to PostgreSQL (TENANTRY_DB_MAX_CONNS, default
	// 40): several processes on one database must stay under its max_connections together.
	DBMaxConns int

	// DBPooler is "transaction" when DATABASE_URL leads to a transaction-mode pooler such as
	// PgBouncer's pool_mode=transaction (TENANTRY_DB_POOLER, default "none"): statements are then
	// not prepared across transactions.
	DBPooler string

	// DatabaseReadURL, when set, is a hot standby of DatabaseURL that serves the reads which
	// tolerate a little lag (activity, tenant lists, the usage dashboard) while it is within
	// ReadMaxLag of the primary (DATABASE_READ_URL, TENANTRY_READ_MAX_LAG).
	DatabaseReadURL string
	ReadMaxLag      time.Duration

	// MetricsToken, when set, is the bearer token GET /metrics requires (TENANTRY_METRICS_TOKEN);
	// unset, the metrics are served to anyone who can reach the listener.
	MetricsToken string

	LogLevel  slog.Level
	LogFormat string // text or json

	// Warnings are things the operator should know but that do not stop a development start.
	Warnings []string
}

// Vars lists every environment variable Tenantry reads, with its meaning, for --help and README.
var Vars = []struct{ Name, Default, Meaning string }{
	{"TENANTRY_ENV", "development", "development, test or production; production refuses to start without keys and never seeds demo data"},
	{"DATABASE_URL", "(embedded)", "PostgreSQL URL; unset: a private cluster under $TENANTRY_DATA_DIR/postgres"},
	{"DATABASE_READ_URL", "(none)", "a streaming replica (hot standby) of DATABASE_URL for lag-tolerant reads: activity, tenant lists, usage"},
	{"TENANTRY_READ_MAX_LAG", "5s", "how far the replica may be behind the primary and still serve reads (2s to 10s)"},
	{"TENANTRY_ADDR", "127.0.0.1:8080", "address to listen on (also --addr)"},
	{"TENANTRY_BASE_URL", "http://$TENANTRY_ADDR", "public URL of the Console (https:// turns on Secure cookies)"},
	{"TENANTRY_DATA_DIR", ".data", "local state in development: the embedded database and generated keys"},
	{"TENANTRY_SESSION_KEYS", "(generated in development)", "comma-separated base64 keys of 32 or 64 bytes signing the session cookie, newest first"},
	{"TENANTRY_ENCRYPTION_KEYS", "(generated in development)", "comma-separated id:base64 AES-256 keys for secrets at rest, primary first"},
	{"TENANTRY_SECRET_ROTATION_OVERLAP", "24h", "how long a rotated workspace secret still verifies tokens"},
	{"TENANTRY_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"TENANTRY_LOG_FORMAT", "text", "text or json"},
	{"TENANTRY_DEBUG_ADDR", "(off)", "host:port for Go's profiler (/debug/pprof); keep it on loopback"},
	{"TENANTRY_DB_MAX_CONNS", "40", "the most connections this process opens to PostgreSQL (plus 4 for coalesced scoped reads)"},
	{"TENANTRY_DB_POOLER", "none", "transaction when DATABASE_URL is a transaction-mode pooler (PgBouncer): no prepared statements across transactions"},
	{"TENANTRY_METRICS_TOKEN", "(open)", "bearer token required by GET /metrics (Prometheus); unset: /metrics is open to anyone who reaches the listener"},
}

// devKeys are the keys generated for development, kept under DataDir so they survive restarts.
type devKeys struct {
	SessionKeys    string `json:"sessionKeys"`
	EncryptionKeys string `json:"encryptionKeys"`
}

// Load reads and checks the configuration. Outside production it generates missing keys once and
// keeps them in DataDir/dev-keys.json, with a warning; in production a missing key is an error
// that names the variable to set.
func Load(getenv func(string) string) (*Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Env:         get("TENANTRY_ENV", "development"),
		DatabaseURL: get("DATABASE_URL", ""),
		Addr:        get("TENANTRY_ADDR", "127.0.0.1:8080"),
		DataDir:     get("TENANTRY_DATA_DIR", ".data"),
		LogFormat:   get("TENANTRY_LOG_FORMAT", "text"),
		DebugAddr:   get("TENANTRY_DEBUG_ADDR", ""),

		MetricsToken: get("TENANTRY_METRICS_TOKEN", ""),
	}
	var problems []string
	switch c.Env {
	case "development", "test", "production":
	default:
		problems = append(problems, fmt.Sprintf("TENANTRY_ENV=%q: set it to development, test or production", c.Env))
	}
	c.DBMaxConns = 40
	if v := get("TENANTRY_DB_MAX_CONNS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 || n > 1000 {
			problems = append(problems, fmt.Sprintf("TENANTRY_DB_MAX_CONNS=%q: want a whole number from 2 to 1000", v))
		}
		c.DBMaxConns = n
	}
	switch c.DBPooler = get("TENANTRY_DB_POOLER", "none"); c.DBPooler {
	case "none", "transaction":
	default:
		problems = append(problems, fmt.Sprintf("TENANTRY_DB_POOLER=%q: want none or transaction", c.DBPooler))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("TENANTRY_ADDR=%q: want host:port, e.g. 127.0.0.1:8080", c.Addr))
	}
	c.BaseURL = strings.TrimRight(get("TENANTRY_BASE_URL", "http://"+c.Addr), "/")
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("TENANTRY_BASE_URL=%q: want an absolute http(s) URL", c.BaseURL))
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			problems = append(problems, "DATABASE_URL: want postgres://user@host:port/dbname")
		}
	}
	c.DatabaseReadURL = get("DATABASE_READ_URL", "")
	if c.DatabaseReadURL != "" {
		if u, err := url.Parse(c.DatabaseReadURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			problems = append(problems, "DATABASE_READ_URL: want postgres://user@host:port/dbname")
		}
	}
	// The live activity view accepts entries up to 15 s after their time, so a replica may lag
	// no more than 10 s; below 2 s a busy primary would flap, its lag being measured once a second.
	maxLag, err := time.ParseDuration(get("TENANTRY_READ_MAX_LAG", "5s"))
	if err != nil || maxLag < 2*time.Second || maxLag > 10*time.Second {
		problems = append(problems, "TENANTRY_READ_MAX_LAG: want a duration from 2s to 10s, such as 5s")
	}
	c.ReadMaxLag = maxLag
	if err := c.LogLevel.UnmarshalText([]byte(get("TENANTRY_LOG_LEVEL", "info"))); err != nil {
		problems = append(problems, "TENANTRY_LOG_LEVEL: want debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		problems = append(problems, "TENANTRY_LOG_FORMAT: want text or json")
	}
	overlap, err := time.ParseDuration(get("TENANTRY_SECRET_ROTATION_OVERLAP", "24h"))
	if err != nil || overlap < 0 {
		problems = append(problems, "TENANTRY_SECRET_ROTATION_OVERLAP: want a duration such as 24h or 30m")
	}
	c.SecretRotationOverlap = overlap

	sessionSpec, encSpec := getenv("TENANTRY_SESSION_KEYS"), getenv("TENANTRY_ENCRYPTION_KEYS")
	if sessionSpec == "" || encSpec == "" {
		if c.Env == "production" {
			if sessionSpec == "" {
				problems = append(problems, "TENANTRY_SESSION_KEYS is required in production: set one or more base64 keys of 64 bytes (e.g. `openssl rand -base64 64 | tr -d '\\n'`)")
			}
			if encSpec == "" {
				problems = append(problems, "TENANTRY_ENCRYPTION_KEYS is required in production: set id:base64key with a 32-byte key (e.g. `echo k1:$(openssl rand -base64 32)`)")
			}
		} else if len(problems) == 0 {
			dk, path, err := loadOrCreateDevKeys(c.DataDir)
			if err != nil {
				return nil, fmt.Errorf("config: generating development keys: %w", err)
			}
			if sessionSpec == "" {
				sessionSpec = dk.SessionKeys
				c.Warnings = append(c.Warnings, "TENANTRY_SESSION_KEYS not set: using development keys from "+path)
			}
			if encSpec == "" {
				encSpec = dk.EncryptionKeys
				c.Warnings = append(c.Warnings, "TENANTRY_ENCRYPTION_KEYS not set: using development keys from "+path)
			}
		}
	}
	if sessionSpec != "" {
		keys, err := parseSessionKeys(sessionSpec)
		if err != nil {
			problems = append(problems, "TENANTRY_SESSION_KEYS: "+err.Error())
		}
		c.SessionKeys = keys
	}
	if encSpec != "" {
		ring, err := secrets.ParseKeyRing(encSpec)
		if err != nil {
			problems = append(problems, "TENANTRY_ENCRYPTION_KEYS: "+err.Error())
		}
		c.EncryptionKeys = ring
	}
	if len(problems) > 0 {
		return nil, errors.New("configuration:\n  - " + strings.Join(problems, "\n  - "))
	}
	return c, nil
}

// Production reports whether the server runs in production mode.
func (c *Config) Production() bool { return c.Env == "production" }

// SecureCookies reports whether cookies must be marked Secure (the Console is served over https).
func (c *Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// parseSessionKeys turns each base64 key of 32 or 64 bytes into a (hash key, block key) pair:
// a 64-byte key is split in two; a 32-byte key signs only.
func parseSessionKeys(spec string) ([][]byte, error) {
	var pairs [][]byte
	for i, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("key %d is not base64", i+1)
		}
		switch len(k) {
		case 64:
			pairs = append(pairs, k[:32], k[32:])
		case 32:
			pairs = append(pairs, k, nil)
		default:
			return nil, fmt.Errorf("key %d has %d bytes, want 32 or 64", i+1, len(k))
		}
	}
	if len(pairs) == 0 {
		return nil, errors.New("no key given")
	}
	return pairs, nil
}

func loadOrCreateDevKeys(dir string) (*devKeys, string, error) {
	path := filepath.Join(dir, "dev-keys.json")
	var dk devKeys
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &dk); err != nil {
			return nil, path, fmt.Errorf("%s is damaged (delete it to generate new keys): %w", path, err)
		}
		if dk.SessionKeys != "" && dk.EncryptionKeys != "" {
			return &dk, path, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, path, err
	}
	sk := make([]byte, 64)
	if _, err := rand.Read(sk); err != nil {
		return nil, path, err
	}
	dk = devKeys{SessionKeys: base64.StdEncoding.EncodeToString(sk), EncryptionKeys: secrets.GenerateKeySpec("dev1")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, path, err
	}
	b, _ := json.MarshalIndent(dk, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, path, err
	}
	return &dk, path, nil
}
