// Package auth owns who is who: manager passwords and sign-in throttling, and (tokens.go) the
// JWTs a workspace signs for its backend and its tenants.
package auth

import (
	"errors"
	"fmt"
	"sync"
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
// window. It lives in the process: with several servers each enforces its own window, which
// bounds an attacker at (servers × limit) tries per window.
type Throttle struct {
	mu         sync.Mutex
	window     time.Duration
	perAccount int
	perAddr    int
	failures   map[string][]time.Time
	now        func() time.Time
}

// NewThrottle allows perAccount failures per email and perAddr per address within window.
func NewThrottle(window time.Duration, perAccount, perAddr int) *Throttle {
	return &Throttle{window: window, perAccount: perAccount, perAddr: perAddr,
		failures: map[string][]time.Time{}, now: time.Now}
}

// Allowed reports whether a sign-in for email from addr may be tried now, and if not, how long
// until it may.
func (t *Throttle) Allowed(email, addr string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	wait := time.Duration(0)
	for key, limit := range map[string]int{"e:" + email: t.perAccount, "a:" + addr: t.perAddr} {
		f := t.prune(key, now)
		if len(f) >= limit {
			if w := f[len(f)-limit].Add(t.window).Sub(now); w > wait {
				wait = w
			}
		}
	}
	return wait == 0, wait
}

// Fail records a failed sign-in.
func (t *Throttle) Fail(email, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, key := range []string{"e:" + email, "a:" + addr} {
		t.failures[key] = append(t.prune(key, now), now)
	}
}

// Succeed forgets the account's failures (not the address's).
func (t *Throttle) Succeed(email string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, "e:"+email)
}

func (t *Throttle) prune(key string, now time.Time) []time.Time {
	f := t.failures[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= t.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(t.failures, key)
		return nil
	}
	t.failures[key] = f
	return f
}
