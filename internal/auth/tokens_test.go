package auth

// In package auth (not auth_test) to reach the verifier's and provisioner's clocks. testdb does
// not import auth, so there is no cycle.

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
	"tenantry/internal/testdb"
)

// fakeClock is a settable clock for the verifier and the provisioner.
type fakeClock struct{ t atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.t.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }

// rotate rotates ws's secret with the given overlap and returns the new one.
func rotate(t *testing.T, db *store.DB, ws *tenancy.Workspace, overlap time.Duration) string {
	t.Helper()
	var secret string
	err := db.InScope(context.Background(), tenancy.SystemScope(ws.ID), func(tx *store.Tx) error {
		var err error
		secret, err = tx.RotateWorkspaceSecret(context.Background(), overlap)
		return err
	})
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	return secret
}

func tenantTokenFor(t *testing.T, secret, wsKey, tenantKey string) string {
	t.Helper()
	tok, err := Sign([]byte(secret), wsKey, tenantKey, "", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantVerified(t *testing.T, v *Verifier, what, tok, tenantKey string) {
	t.Helper()
	c, _, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("%s: refused: %v", what, err)
	}
	if c.Tenant() != tenantKey {
		t.Fatalf("%s: tenant %q, want %q", what, c.Tenant(), tenantKey)
	}
}

func wantRefused(t *testing.T, v *Verifier, what, tok, inMessage string) {
	t.Helper()
	_, _, err := v.Verify(context.Background(), tok)
	if err == nil {
		t.Fatalf("%s: accepted, want refused", what)
	}
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, tenancy.ErrUnauthenticated) {
		t.Fatalf("%s: error %v (%T) is not a TokenError matching ErrUnauthenticated", what, err, err)
	}
	if !strings.Contains(err.Error(), inMessage) {
		t.Fatalf("%s: message %q does not say %q", what, err, inMessage)
	}
}

func TestSecretRotation(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()

	t.Run("overlap keeps the old secret valid", func(t *testing.T) {
		ws, old, err := db.CreateWorkspace(ctx, "rot-overlap", "Rotation")
		if err != nil {
			t.Fatal(err)
		}
		oldTok := tenantTokenFor(t, old, ws.Key, "t-1")
		v := NewVerifier(db.LookupWorkspaceByKey)
		wantVerified(t, v, "before rotation", oldTok, "t-1")

		newSecret := rotate(t, db, ws, time.Hour)
		if newSecret == old {
			t.Fatal("rotation returned the same secret")
		}
		newTok := tenantTokenFor(t, newSecret, ws.Key, "t-1")

		fresh := NewVerifier(db.LookupWorkspaceByKey)
		wantVerified(t, fresh, "old secret, new verifier", oldTok, "t-1")
		wantVerified(t, fresh, "new secret, new verifier", newTok, "t-1")

		v.Forget(ws.Key)
		wantVerified(t, v, "old secret after Forget", oldTok, "t-1")
		wantVerified(t, v, "new secret after Forget", newTok, "t-1")

		// A second rotation ends the first secret at once: only the one before is kept.
		third := rotate(t, db, ws, time.Hour)
		fresh = NewVerifier(db.LookupWorkspaceByKey)
		wantRefused(t, fresh, "first secret after two rotations", oldTok, "signature")
		wantVerified(t, fresh, "second secret after two rotations", newTok, "t-1")
		wantVerified(t, fresh, "third secret", tenantTokenFor(t, third, ws.Key, "t-1"), "t-1")
	})

	t.Run("no overlap refuses the old secret", func(t *testing.T) {
		ws, old, err := db.CreateWorkspace(ctx, "rot-none", "Rotation")
		if err != nil {
			t.Fatal(err)
		}
		oldTok := tenantTokenFor(t, old, ws.Key, "t-1")
		newSecret := rotate(t, db, ws, 0)
		v := NewVerifier(db.LookupWorkspaceByKey)
		wantRefused(t, v, "old secret, overlap 0", oldTok, "signature")
		wantVerified(t, v, "new secret, overlap 0", tenantTokenFor(t, newSecret, ws.Key, "t-1"), "t-1")
	})

	t.Run("a cached verifier refetches on a bad signature", func(t *testing.T) {
		ws, old, err := db.CreateWorkspace(ctx, "rot-cached", "Rotation")
		if err != nil {
			t.Fatal(err)
		}
		var lookups atomic.Int32
		v := NewVerifier(func(ctx context.Context, key string) (*store.WorkspaceAuth, error) {
			lookups.Add(1)
			return db.LookupWorkspaceByKey(ctx, key)
		})
		clock := newFakeClock()
		v.now = clock.now
		wantVerified(t, v, "before rotation", tenantTokenFor(t, old, ws.Key, "t-1"), "t-1")
		wantVerified(t, v, "cached", tenantTokenFor(t, old, ws.Key, "t-2"), "t-2")
		if n := lookups.Load(); n != 1 {
			t.Fatalf("%d lookups for two tokens of one workspace, want 1 (cached)", n)
		}

		// Rotated elsewhere (no Forget); well inside the cache's TTL, so only the refetch on a
		// bad signature can find the new secret.
		newSecret := rotate(t, db, ws, 0)
		clock.advance(2 * time.Second)
		wantVerified(t, v, "new secret, cached verifier", tenantTokenFor(t, newSecret, ws.Key, "t-1"), "t-1")
		if n := lookups.Load(); n != 2 {
			t.Fatalf("%d lookups, want 2 (one refetch after the bad signature)", n)
		}
		// The refetched workspace replaced the cached one: the old secret is now refused.
		clock.advance(2 * time.Second)
		wantRefused(t, v, "old secret after the refetch", tenantTokenFor(t, old, ws.Key, "t-1"), "signature")
	})
}

// TestVerifyClaims checks the claims Verify returns for both forms, straight from the verifier.
func TestVerifyClaims(t *testing.T) {
	db := testdb.New(t)
	ws, secret, err := db.CreateWorkspace(context.Background(), "claims", "Claims")
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(db.LookupWorkspaceByKey)
	legacy, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{
		"iss": ws.Key, "id": "acme", "name": "Acme", "fields": map[string]any{"plan": "pro"},
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	c, wa, err := v.Verify(context.Background(), legacy)
	if err != nil {
		t.Fatalf("legacy token: %v", err)
	}
	if c.Workspace() != ws.Key || c.Tenant() != "acme" || c.Name == nil || *c.Name != "Acme" || c.Fields["plan"] != "pro" {
		t.Errorf("legacy claims = %+v", c)
	}
	if wa.Workspace.ID != ws.ID {
		t.Errorf("workspace %s, want %s", wa.Workspace.ID, ws.ID)
	}
	admin, err := Sign([]byte(secret), ws.Key, "", "", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err = v.Verify(context.Background(), admin); err != nil || !c.IsAdmin || c.Tenant() != "" {
		t.Errorf("workspace token: claims %+v, err %v", c, err)
	}
}
