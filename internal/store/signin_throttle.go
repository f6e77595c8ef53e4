package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/lib/pq"

	"tenantry/internal/tenancy"
)

// Sign-in failures, shared by every server process (migration 00010). They are counted before
// any scope exists, as the app role, only through SECURITY DEFINER functions: the app role cannot
// read or change the table itself. Keys are hashed here, so neither an email nor an address is
// stored in clear.

// throttleKey is the stored form of a throttle key ("e:<email>" or "a:<address>").
func throttleKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

func throttleKeys(keys []string) pq.ByteaArray {
	hashes := make(pq.ByteaArray, len(keys))
	for i, k := range keys {
		hashes[i] = throttleKey(k)
	}
	return hashes
}

// SigninWait is how long until a sign-in counted under keys may be tried: zero while every key
// has had fewer than its limit of failures within window.
func (d *DB) SigninWait(ctx context.Context, keys []string, limits []int, window time.Duration) (time.Duration, error) {
	lims := make(pq.Int64Array, len(limits))
	for i, l := range limits {
		lims[i] = int64(max(l, 1))
	}
	var secs float64
	err := d.withSettings(ctx, tenancy.Scope{}, nil, func(tx *Tx) error {
		return tx.GetContext(ctx, &secs, `SELECT extract(epoch FROM app_private.signin_wait($1, $2::integer[], make_interval(secs => $3)))`,
			throttleKeys(keys), lims, window.Seconds())
	})
	if err != nil {
		return 0, fmt.Errorf("sign-in throttle: %w", err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// SigninFailed counts one failed sign-in under each key.
func (d *DB) SigninFailed(ctx context.Context, keys []string) error {
	err := d.withSettings(ctx, tenancy.Scope{}, nil, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT app_private.signin_failed($1)`, throttleKeys(keys))
		return err
	})
	if err != nil {
		return fmt.Errorf("sign-in throttle: %w", err)
	}
	return nil
}

// SigninSucceeded forgets the failures counted under key.
func (d *DB) SigninSucceeded(ctx context.Context, key string) error {
	err := d.withSettings(ctx, tenancy.Scope{}, nil, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT app_private.signin_succeeded($1)`, throttleKey(key))
		return err
	})
	if err != nil {
		return fmt.Errorf("sign-in throttle: %w", err)
	}
	return nil
}
