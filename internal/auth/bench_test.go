package auth_test

import (
	"context"
	"testing"
	"time"

	"tenantry/internal/auth"
	"tenantry/internal/testdb"
)

// BenchmarkVerifyAndScope measures what every API request pays before its handler: verifying the
// token's signature and claims, and resolving its scope (workspace and tenant from the caches;
// the first iteration creates the tenant).
func BenchmarkVerifyAndScope(b *testing.B) {
	ctx := context.Background()
	db := testdb.New(b)
	ws, secret, err := db.CreateWorkspace(ctx, "bench", "Bench")
	if err != nil {
		b.Fatal(err)
	}
	tok, err := auth.Sign([]byte(secret), ws.Key, "tenant-1", "Tenant One", false, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	v := auth.NewVerifier(db.LookupWorkspaceByKey)
	p := auth.NewProvisioner(db)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, wa, err := v.Verify(ctx, tok)
		if err != nil {
			b.Fatal(err)
		}
		s, err := p.Scope(ctx, c, wa)
		if err != nil || s.TenantID.String() == "" {
			b.Fatal(err)
		}
	}
}
