package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tenantry/internal/store"
	"tenantry/internal/tenancy"
)

// MaxTokenBytes is the largest token accepted; anything bigger is refused before parsing.
const MaxTokenBytes = 8 << 10

// validMethods pins the HMAC algorithms: never "none", never a key the token itself names.
var validMethods = []string{"HS256", "HS384", "HS512"}

// Claims is what a workspace puts in its tokens. Two forms are accepted: Tenantry's own
// (workspaceKey, tenantKey) and the one Membrane's SDK mints (iss = workspace key, id = tenant key).
type Claims struct {
	WorkspaceKey string         `json:"workspaceKey,omitempty"`
	TenantKey    string         `json:"tenantKey,omitempty"`
	LegacyID     string         `json:"id,omitempty"`
	Name         *string        `json:"name,omitempty"`
	Fields       map[string]any `json:"fields,omitempty"`
	IsAdmin      bool           `json:"isAdmin,omitempty"`
	jwt.RegisteredClaims
}

// Workspace returns the workspace key the claims name.
func (c *Claims) Workspace() string {
	if c.WorkspaceKey != "" {
		return c.WorkspaceKey
	}
	return c.Issuer
}

// Tenant returns the tenant key (the tenant's internalId), or "" for a workspace token.
func (c *Claims) Tenant() string {
	if c.TenantKey != "" {
		return c.TenantKey
	}
	return c.LegacyID
}

// TokenError says why a token was refused; its message is safe to return to the caller.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return e.Reason }

// Is makes every TokenError match tenancy.ErrUnauthenticated.
func (e *TokenError) Is(target error) bool { return target == tenancy.ErrUnauthenticated }

func refuse(format string, args ...any) error {
	return &TokenError{Reason: fmt.Sprintf(format, args...)}
}

// Verifier checks tokens against their workspace's secret. Workspace secrets are cached briefly,
// so a request costs no database round trip for them; a signature that fails against a cached
// secret is retried once against a fresh read, so a rotation elsewhere is seen at once.
type Verifier struct {
	lookup func(ctx context.Context, key string) (*store.WorkspaceAuth, error)
	ttl    time.Duration
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cachedWorkspace

	// verified remembers tokens that passed, until the earlier of their exp and ttl, so a client
	// repeating its token costs a map lookup instead of base64, JSON and HMAC. A rotation with no
	// overlap therefore takes up to ttl to refuse old tokens in other processes (at once in this
	// one: Forget drops them).
	vmu      sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	claims  *Claims
	wa      *store.WorkspaceAuth
	expires time.Time
}

// maxCachedToken keeps the verified-token cache's memory bounded (entries × size).
const (
	maxCachedToken   = 2048
	maxVerifiedCache = 10000
)

type cachedWorkspace struct {
	wa      *store.WorkspaceAuth
	err     error // tenancy.ErrNotFound is cached too, briefly, so unknown keys cannot hammer the DB
	fetched time.Time
}

// NewVerifier verifies against workspaces found by lookup (store.DB.LookupWorkspaceByKey).
func NewVerifier(lookup func(ctx context.Context, key string) (*store.WorkspaceAuth, error)) *Verifier {
	return &Verifier{lookup: lookup, ttl: 30 * time.Second, now: time.Now,
		cache: map[string]cachedWorkspace{}, verified: map[string]verifiedToken{}}
}

// Forget drops a workspace, and every token verified for it, from the caches (after a rotation
// in this process).
func (v *Verifier) Forget(key string) {
	v.mu.Lock()
	delete(v.cache, key)
	v.mu.Unlock()
	v.forgetVerified(key)
}

func (v *Verifier) forgetVerified(key string) {
	v.vmu.Lock()
	for tok, vt := range v.verified {
		if vt.wa.Workspace.Key == key {
			delete(v.verified, tok)
		}
	}
	v.vmu.Unlock()
}

func (v *Verifier) workspace(ctx context.Context, key string, fresh bool) (*store.WorkspaceAuth, time.Time, error) {
	v.mu.Lock()
	c, ok := v.cache[key]
	v.mu.Unlock()
	if ok && !fresh && v.now().Sub(c.fetched) < v.ttl {
		return c.wa, c.fetched, c.err
	}
	wa, err := v.lookup(ctx, key)
	if err != nil && !errors.Is(err, tenancy.ErrNotFound) {
		return nil, time.Time{}, err
	}
	now := v.now()
	v.mu.Lock()
	if len(v.cache) > 10000 { // bounded: unknown keys are cached too
		clear(v.cache)
	}
	v.cache[key] = cachedWorkspace{wa: wa, err: err, fetched: now}
	v.mu.Unlock()
	if ok && (wa == nil || c.wa == nil || !bytes.Equal(wa.Secret, c.wa.Secret) || !bytes.Equal(wa.PrevSecret, c.wa.PrevSecret)) {
		// The secrets changed (a rotation elsewhere): tokens verified with the old ones must be
		// checked again.
		v.forgetVerified(key)
	}
	return wa, now, err
}

// Verify checks a token and returns its claims and workspace. Every refusal is a *TokenError
// (errors.Is tenancy.ErrUnauthenticated) with a message that says what was wrong; other errors
// are the database's. The claims returned are shared: callers must not change them.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, *store.WorkspaceAuth, error) {
	now := v.now()
	v.vmu.Lock()
	vt, ok := v.verified[raw]
	v.vmu.Unlock()
	if ok && now.Before(vt.expires) {
		return vt.claims, vt.wa, nil
	}
	claims, wa, err := v.verify(ctx, raw)
	if err == nil && len(raw) <= maxCachedToken {
		expires := now.Add(v.ttl)
		if claims.ExpiresAt != nil && claims.ExpiresAt.Before(expires) {
			expires = claims.ExpiresAt.Time
		}
		v.vmu.Lock()
		if len(v.verified) >= maxVerifiedCache {
			clear(v.verified)
		}
		v.verified[raw] = verifiedToken{claims: claims, wa: wa, expires: expires}
		v.vmu.Unlock()
	}
	return claims, wa, err
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Claims, *store.WorkspaceAuth, error) {
	if raw == "" {
		return nil, nil, refuse("no token: send Authorization: Bearer <token>")
	}
	if len(raw) > MaxTokenBytes {
		return nil, nil, refuse("token is larger than %d bytes", MaxTokenBytes)
	}
	var unverified Claims
	tok, _, err := jwt.NewParser().ParseUnverified(raw, &unverified)
	if err != nil {
		return nil, nil, refuse("malformed token: %s", trimJWTError(err))
	}
	if alg, _ := tok.Header["alg"].(string); !isValidMethod(alg) {
		return nil, nil, refuse("token algorithm %q is not accepted (use HS256, HS384 or HS512)", alg)
	}
	key := unverified.Workspace()
	if key == "" {
		return nil, nil, refuse("token names no workspace (claim workspaceKey or iss)")
	}
	wa, fetched, err := v.workspace(ctx, key, false)
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil, nil, refuse("unknown workspace %q", key)
	}
	if err != nil {
		return nil, nil, err
	}
	claims, err := v.check(raw, wa)
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) && v.now().Sub(fetched) > time.Second {
		// The secret may have been rotated by another process since we cached it.
		if wa, _, err = v.workspace(ctx, key, true); err != nil {
			if errors.Is(err, tenancy.ErrNotFound) {
				return nil, nil, refuse("unknown workspace %q", key)
			}
			return nil, nil, err
		}
		claims, err = v.check(raw, wa)
	}
	if err != nil {
		return nil, nil, refuse("invalid token: %s", trimJWTError(err))
	}
	if claims.Tenant() == "" && !claims.IsAdmin {
		return nil, nil, refuse("token names no tenant (claim tenantKey or id) and is not a workspace token (isAdmin)")
	}
	return claims, wa, nil
}

// check verifies the signature with the current secret, then with the previous one while its
// rotation overlap lasts.
func (v *Verifier) check(raw string, wa *store.WorkspaceAuth) (*Claims, error) {
	var err error
	for _, secret := range [][]byte{wa.Secret, wa.PrevSecret} {
		if secret == nil {
			continue
		}
		var c Claims
		_, err = jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return secret, nil },
			jwt.WithValidMethods(validMethods), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second),
			jwt.WithTimeFunc(v.now))
		if err == nil {
			return &c, nil
		}
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			return nil, err
		}
	}
	return nil, err
}

func isValidMethod(alg string) bool {
	for _, m := range validMethods {
		if alg == m {
			return true
		}
	}
	return false
}

// trimJWTError turns the library's chained message into something short for the caller.
func trimJWTError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token is issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token has no exp claim"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature does not match the workspace secret"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "not a JWT"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		msg = msg[i+2:]
	}
	return msg
}

// Sign makes a token for a workspace with its secret: a workspace token when tenantKey is "",
// else a tenant token. For the CLI, the start-up banner and tests.
func Sign(secret []byte, workspaceKey, tenantKey, name string, admin bool, ttl time.Duration) (string, error) {
	now := time.Now()
	c := Claims{WorkspaceKey: workspaceKey, TenantKey: tenantKey, IsAdmin: admin,
		RegisteredClaims: jwt.RegisteredClaims{IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))}}
	if name != "" {
		c.Name = &name
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}
