package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"tenantry/internal/auth"
	"tenantry/internal/secrets"
	"tenantry/internal/store"
	"tenantry/internal/testdb"
)

// workspace create prints the secret once, token signs with it, and rotate-secret replaces it
// while the old one keeps verifying for the configured overlap (and the rotation is logged).
func TestWorkspaceAndTokenCommands(t *testing.T) {
	ctx := context.Background()
	dbURL := testdb.URL(t)
	encSpec := secrets.GenerateKeySpec("k1")
	sk := make([]byte, 64)
	if _, err := rand.Read(sk); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"DATABASE_URL":             dbURL,
		"TENANTRY_DATA_DIR":        t.TempDir(),
		"TENANTRY_ENCRYPTION_KEYS": encSpec,
		"TENANTRY_SESSION_KEYS":    base64.StdEncoding.EncodeToString(sk),
	}
	runOK := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(ctx, args, envOf(vars), &stdout, &stderr); err != nil {
			t.Fatalf("run %v: %v\nstderr:\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}
	var created struct{ Key, Secret string }
	if err := json.Unmarshal([]byte(runOK("workspace", "create", "--key", "acme-co", "--name", "Acme Co", "--json")), &created); err != nil {
		t.Fatal(err)
	}
	if created.Key != "acme-co" || len(created.Secret) < 32 {
		t.Fatalf("workspace create printed %+v", created)
	}
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"workspace", "create", "--key", "acme-co", "--name", "Again"}, envOf(vars), &stdout, &stderr); err == nil ||
		!strings.Contains(err.Error(), "taken") {
		t.Fatalf("duplicate key: err %v, want one saying the key is taken", err)
	}

	keys, err := secrets.ParseKeyRing(encSpec)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, dbURL, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	verify := func(tok string) (*auth.Claims, error) {
		c, _, err := auth.NewVerifier(db.LookupWorkspaceByKey).Verify(ctx, tok)
		return c, err
	}

	tok := strings.TrimSpace(runOK("token", "--workspace", "acme-co", "--tenant", "t-1", "--name", "Tenant One", "--ttl", "10m"))
	c, err := verify(tok)
	if err != nil {
		t.Fatalf("token from the CLI does not verify: %v", err)
	}
	if c.Tenant() != "t-1" || c.Name == nil || *c.Name != "Tenant One" || c.IsAdmin {
		t.Fatalf("tenant token claims %+v", c)
	}
	admin := strings.TrimSpace(runOK("token", "--workspace", "acme-co", "--admin"))
	if c, err := verify(admin); err != nil || !c.IsAdmin || c.Tenant() != "" {
		t.Fatalf("workspace token: claims %+v, err %v", c, err)
	}
	if err := run(ctx, []string{"token", "--workspace", "acme-co"}, envOf(vars), &stdout, &stderr); err == nil {
		t.Fatal("token without --tenant or --admin accepted")
	}

	// Rotation with an overlap: the old secret's token still verifies, a new one too.
	vars["TENANTRY_SECRET_ROTATION_OVERLAP"] = "1h"
	var rotated struct{ Key, Secret string }
	if err := json.Unmarshal([]byte(runOK("workspace", "rotate-secret", "--key", "acme-co", "--json")), &rotated); err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == "" || rotated.Secret == created.Secret {
		t.Fatalf("rotate-secret printed %+v", rotated)
	}
	if _, err := verify(tok); err != nil {
		t.Fatalf("old token refused during the overlap: %v", err)
	}
	if _, err := verify(strings.TrimSpace(runOK("token", "--workspace", "acme-co", "--tenant", "t-1"))); err != nil {
		t.Fatalf("token signed after rotation refused: %v", err)
	}
	// Without an overlap the old secret stops at once.
	vars["TENANTRY_SECRET_ROTATION_OVERLAP"] = "0s"
	runOK("workspace", "rotate-secret", "--key", "acme-co")
	if _, err := verify(tok); err == nil {
		t.Fatal("token of a secret rotated out without overlap still verifies")
	}
	var logged int
	if err := db.SQL().GetContext(ctx, &logged, `SELECT count(*) FROM activity_log WHERE type = 'settings.secret_rotated' AND actor_type = 'system'`); err != nil {
		t.Fatal(err)
	}
	if logged != 2 {
		t.Fatalf("%d secret rotations logged, want 2", logged)
	}
}
