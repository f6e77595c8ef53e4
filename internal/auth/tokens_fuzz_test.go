package auth

// Fuzz targets for token verification. No database: the verifier reads workspaces from an
// in-memory table, and its clock is fixed so the committed corpus (testdata/fuzz/) keeps
// meaning the same thing on any day. Run one with
//
//	go test -run '^$' -fuzz '^FuzzVerifyToken$' -fuzztime 30s ./internal/auth/

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// fuzzNow is the verifier's clock in the fuzz targets: tokens in the corpus expire after it.
var fuzzNow = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

var (
	fuzzAcmeSecret   = []byte("fuzz-acme-secret-0123456789abcdef")
	fuzzAcmePrev     = []byte("fuzz-acme-previous-secret-987654")
	fuzzGlobexSecret = []byte("fuzz-globex-secret-abcdefghijklmn")
	fuzzWrongSecret  = []byte("fuzz-not-any-workspace-secret-000")
)

// fuzzWorkspaces is the in-memory workspace table: acme is in a rotation overlap (two secrets).
var fuzzWorkspaces = map[string]*store.WorkspaceAuth{
	"acme":   {Workspace: tenancy.Workspace{Key: "acme", Name: "Acme"}, Secret: fuzzAcmeSecret, PrevSecret: fuzzAcmePrev},
	"globex": {Workspace: tenancy.Workspace{Key: "globex", Name: "Globex"}, Secret: fuzzGlobexSecret},
}

func fuzzVerifier() *Verifier {
	v := NewVerifier(func(_ context.Context, key string) (*store.WorkspaceAuth, error) {
		if wa, ok := fuzzWorkspaces[key]; ok {
			return wa, nil
		}
		return nil, tenancy.ErrNotFound
	})
	v.now = func() time.Time { return fuzzNow }
	return v
}

// fuzzSign signs claims with alg (HS256/384/512) and secret, at the fuzz clock.
func fuzzSign(tb testing.TB, alg string, claims jwt.MapClaims, secret []byte) string {
	tb.Helper()
	tok, err := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims).SignedString(secret)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func fuzzTenantClaims(ws, tenant string) jwt.MapClaims {
	return jwt.MapClaims{"workspaceKey": ws, "tenantKey": tenant, "iat": fuzzNow.Add(-time.Minute).Unix(),
		"exp": fuzzNow.Add(time.Hour).Unix()}
}

// signedWith reports whether raw's signature is the HMAC of its first two segments under secret,
// with the hash its header names: computed here, independently of the jwt library.
func signedWith(raw string, secret []byte) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil {
		return false
	}
	var fn func() hash.Hash
	switch h.Alg {
	case "HS256":
		fn = sha256.New
	case "HS384":
		fn = sha512.New384
	case "HS512":
		fn = sha512.New
	default:
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	m := hmac.New(fn, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	return hmac.Equal(sig, m.Sum(nil))
}

// checkVerify verifies raw and checks what any answer must satisfy. It returns whether raw was
// accepted.
func checkVerify(t *testing.T, v *Verifier, raw string) bool {
	t.Helper()
	c, wa, err := v.Verify(context.Background(), raw)
	if err != nil {
		var te *TokenError
		if !errors.As(err, &te) || !errors.Is(err, tenancy.ErrUnauthenticated) {
			t.Fatalf("refusal %v (%T) is not a TokenError matching ErrUnauthenticated", err, err)
		}
		if c != nil || wa != nil {
			t.Fatalf("refused (%v) but claims %+v / workspace %+v returned", err, c, wa)
		}
		for _, s := range [][]byte{fuzzAcmeSecret, fuzzAcmePrev, fuzzGlobexSecret} {
			if strings.Contains(err.Error(), string(s)) {
				t.Fatalf("refusal message %q contains a secret", err)
			}
		}
		return false
	}
	if c == nil || wa == nil {
		t.Fatalf("accepted with claims %v, workspace %v", c, wa)
	}
	if wa.Workspace.Key != c.Workspace() {
		t.Fatalf("accepted for workspace %q but the claims name %q", wa.Workspace.Key, c.Workspace())
	}
	known := fuzzWorkspaces[c.Workspace()]
	if known == nil {
		t.Fatalf("accepted for unknown workspace %q", c.Workspace())
	}
	if !signedWith(raw, known.Secret) && !(known.PrevSecret != nil && signedWith(raw, known.PrevSecret)) {
		t.Fatalf("accepted a token not signed with workspace %q's secret: %q", c.Workspace(), raw)
	}
	if c.Tenant() == "" && !c.IsAdmin {
		t.Fatalf("accepted a token with neither tenant nor isAdmin: %+v", c)
	}
	if c.ExpiresAt == nil || !fuzzNow.Before(c.ExpiresAt.Add(5*time.Second)) {
		t.Fatalf("accepted a token without exp or expired: %v", c.ExpiresAt)
	}
	if c.NotBefore != nil && fuzzNow.Add(5*time.Second).Before(c.NotBefore.Time) {
		t.Fatalf("accepted a token before its nbf %v", c.NotBefore)
	}
	if len(raw) > MaxTokenBytes {
		t.Fatalf("accepted a token of %d bytes", len(raw))
	}
	return true
}

// FuzzVerifyToken feeds random token strings, and a valid token with one byte changed, to the
// verifier: it never panics, every refusal is a TokenError (ErrUnauthenticated), nothing whose
// signature is not the named workspace's HMAC is accepted, and the valid token always is.
func FuzzVerifyToken(f *testing.F) {
	valid := fuzzSign(f, "HS256", fuzzTenantClaims("acme", "tenant-1"), fuzzAcmeSecret)
	for _, s := range []string{
		"", "0", ".", "..", "a.b.c", "Bearer " + valid, valid, valid + ".", valid + "x", " " + valid,
		strings.Replace(valid, ".", "..", 1),
		fuzzSign(f, "HS512", fuzzTenantClaims("globex", "t"), fuzzGlobexSecret),
		fuzzSign(f, "HS384", fuzzTenantClaims("acme", "t"), fuzzAcmePrev),
		fuzzSign(f, "HS256", fuzzTenantClaims("acme", "t"), fuzzGlobexSecret),  // another workspace's secret
		fuzzSign(f, "HS256", fuzzTenantClaims("globex", "t"), fuzzAcmeSecret),  // names globex, signed by acme
		fuzzSign(f, "HS256", fuzzTenantClaims("nobody", "t"), fuzzWrongSecret), // unknown workspace
		fuzzSign(f, "HS256", jwt.MapClaims{"iss": "acme", "id": "legacy", "exp": fuzzNow.Add(time.Hour).Unix()}, fuzzAcmeSecret),
		fuzzSign(f, "HS256", jwt.MapClaims{"workspaceKey": "acme", "isAdmin": true, "exp": fuzzNow.Add(time.Hour).Unix()}, fuzzAcmeSecret),
		fuzzSign(f, "HS256", jwt.MapClaims{"workspaceKey": "acme", "tenantKey": "t"}, fuzzAcmeSecret),                     // no exp
		fuzzSign(f, "HS256", jwt.MapClaims{"workspaceKey": "acme", "exp": fuzzNow.Add(time.Hour).Unix()}, fuzzAcmeSecret), // no tenant
		fuzzSign(f, "HS256", jwt.MapClaims{"workspaceKey": "acme", "tenantKey": "t", "exp": fuzzNow.Add(-time.Hour).Unix()}, fuzzAcmeSecret),
		fuzzSign(f, "HS256", jwt.MapClaims{"workspaceKey": "acme", "tenantKey": "t", "exp": fuzzNow.Add(time.Hour).Unix(),
			"nbf": fuzzNow.Add(time.Minute).Unix()}, fuzzAcmeSecret),
		fuzzSign(f, "HS256", jwt.MapClaims{"workspaceKey": "acme", "tenantKey": "t", "exp": "tomorrow"}, fuzzAcmeSecret),
		// alg none, and an RS256 header over a valid HS256 body.
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(valid, ".")[1] + ".",
		"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + strings.Split(valid, ".")[1] + "." + strings.Split(valid, ".")[2],
		strings.Repeat("A", MaxTokenBytes+1),
	} {
		f.Add(s, uint16(0), byte(0))
	}
	for _, pos := range []uint16{0, 5, 20, 40, 80, uint16(len(valid) - 1), uint16(len(valid) - 2)} {
		f.Add("", pos, byte(1))
		f.Add("", pos, byte(0x20))
	}

	f.Fuzz(func(t *testing.T, raw string, pos uint16, xor byte) {
		v := fuzzVerifier()
		checkVerify(t, v, raw)

		// The valid token is accepted, whatever came before through the same verifier.
		valid := fuzzSign(t, "HS256", fuzzTenantClaims("acme", "tenant-1"), fuzzAcmeSecret)
		if !checkVerify(t, v, valid) {
			t.Fatal("a valid token was refused")
		}
		// One byte of it changed: refused unless the signed bytes are the same (base64's unused
		// trailing bits), which checkVerify proves through its own HMAC.
		if xor != 0 {
			b := []byte(valid)
			b[int(pos)%len(b)] ^= xor
			checkVerify(t, fuzzVerifier(), string(b))
			checkVerify(t, v, string(b)) // a verifier that has cached the original
		}
	})
}

// FuzzVerifySignedClaims signs random header and claims JSON: with the workspace's secret the
// token is accepted only when its claims say who it is for and when (checked by checkVerify), and
// with any other secret it is always refused.
func FuzzVerifySignedClaims(f *testing.F) {
	exp := fuzzNow.Add(time.Hour).Unix()
	for _, c := range []struct{ header, claims string }{
		{`{"alg":"HS256","typ":"JWT"}`, `{"workspaceKey":"acme","tenantKey":"t-1","exp":` + itoa(exp) + `}`},
		{`{"alg":"HS512"}`, `{"iss":"acme","id":"legacy","exp":` + itoa(exp) + `}`},
		{`{"alg":"HS384"}`, `{"iss":"globex","isAdmin":true,"exp":` + itoa(exp) + `}`},
		{`{"alg":"none"}`, `{"workspaceKey":"acme","tenantKey":"t-1","exp":` + itoa(exp) + `}`},
		{`{"alg":"RS256"}`, `{"workspaceKey":"acme","tenantKey":"t-1","exp":` + itoa(exp) + `}`},
		{`{"alg":"HS256","kid":"../../etc/passwd"}`, `{"workspaceKey":"acme","tenantKey":"t-1","exp":` + itoa(exp) + `}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","iss":"globex","tenantKey":"t","exp":` + itoa(exp) + `}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"","iss":"acme","tenantKey":"","id":"t","exp":` + itoa(exp) + `}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":"t","exp":1e300}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":"t","exp":-1}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":"t","exp":"` + itoa(exp) + `"}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":"t","exp":` + itoa(exp) + `,"nbf":1e18}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":"t","exp":` + itoa(exp) + `,"iat":1e18}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":{"x":1},"exp":` + itoa(exp) + `}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":"t","isAdmin":"yes","exp":` + itoa(exp) + `}`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":"t","workspaceKey":"globex","exp":` + itoa(exp) + `}`},
		{`{"alg":"HS256"}`, `[1,2,3]`},
		{`{"alg":"HS256"}`, `null`},
		{`{"alg":"HS256"}`, `{"workspaceKey":"acme","tenantKey":"t","exp":` + itoa(exp) + `,"fields":{"plan":"pro"},"name":"N"}`},
	} {
		f.Add(c.header, c.claims, uint8(0))
		f.Add(c.header, c.claims, uint8(1))
		f.Add(c.header, c.claims, uint8(2))
	}
	f.Fuzz(func(t *testing.T, header, claims string, which uint8) {
		seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		input := seg(header) + "." + seg(claims)
		sign := func(secret []byte) string {
			var h struct {
				Alg string `json:"alg"`
			}
			_ = json.Unmarshal([]byte(header), &h)
			fn := sha256.New
			switch h.Alg {
			case "HS384":
				fn = sha512.New384
			case "HS512":
				fn = sha512.New
			}
			m := hmac.New(fn, secret)
			m.Write([]byte(input))
			return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}
		secrets := [][]byte{fuzzAcmeSecret, fuzzAcmePrev, fuzzGlobexSecret}
		raw := sign(secrets[int(which)%len(secrets)])
		checkVerify(t, fuzzVerifier(), raw)

		// Signed with a secret no workspace has: always refused.
		forged := sign(fuzzWrongSecret)
		if _, _, err := fuzzVerifier().Verify(context.Background(), forged); err == nil {
			t.Fatalf("accepted a token signed with a foreign secret: header %q claims %q", header, claims)
		} else if !errors.Is(err, tenancy.ErrUnauthenticated) {
			t.Fatalf("refusal %v is not ErrUnauthenticated", err)
		}
		// Unsigned: always refused.
		if _, _, err := fuzzVerifier().Verify(context.Background(), input+"."); err == nil {
			t.Fatalf("accepted an unsigned token: header %q claims %q", header, claims)
		}
	})
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
