// Package auth owns who is who: manager passwords and sign-in throttling, and (tokens.go) the
// JWTs a workspace signs for its backend and its tenants.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLength is the shortest password a manager may choose.
const MinPasswordLength = 10

// HashPassword returns a bcrypt hash of password.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", fmt.Errorf("password must be at least %d characters", MinPasswordLength)
	}
	if len(password) > 72 {
		return "", errors.New("password must be at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}

// dummyHash is compared against when an email is unknown, so that a sign-in for a missing
// account takes as long as one for an existing account.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not-a-real-password"), bcrypt.DefaultCost)

// CheckPassword reports whether password matches hash; an empty hash (unknown account) costs the
// same time and fails.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// Throttle limits repeated sign-in failures per account and per client address over a sliding
// window. The failures are counted in the database (store: signin_throttle.go), so every server
// process enforces the same window and a restart forgets nothing.
type Throttle struct {
	counts     ThrottleCounts
	window     time.Duration
	perAccount int
	perAddr    int
}

// ThrottleCounts is where failures are counted (the store).
type ThrottleCounts interface {
	SigninWait(ctx context.Context, keys []string, limits []int, window time.Duration) (time.Duration, error)
	SigninFailed(ctx context.Context, keys []string) error
	SigninSucceeded(ctx context.Context, key string) error
}

// NewThrottle allows perAccount failures per email and perAddr per address within window.
func NewThrottle(counts ThrottleCounts, window time.Duration, perAccount, perAddr int) *Throttle {
	return &Throttle{counts: counts, window: window, perAccount: perAccount, perAddr: perAddr}
}

func accountKey(email string) string { return "e:" + email }
func addrKey(addr string) string     { return "a:" + addr }

// Allowed reports whether a sign-in for email from addr may be tried now, and if not, how long
// until it may.
func (t *Throttle) Allowed(ctx context.Context, email, addr string) (bool, time.Duration, error) {
	wait, err := t.counts.SigninWait(ctx, []string{accountKey(email), addrKey(addr)}, []int{t.perAccount, t.perAddr}, t.window)
	if err != nil {
		return false, 0, err
	}
	return wait <= 0, wait, nil
}

// Fail records a failed sign-in.
func (t *Throttle) Fail(ctx context.Context, email, addr string) error {
	return t.counts.SigninFailed(ctx, []string{accountKey(email), addrKey(addr)})
}

// Succeed forgets the account's failures (not the address's).
func (t *Throttle) Succeed(ctx context.Context, email string) error {
	return t.counts.SigninSucceeded(ctx, accountKey(email))
}
