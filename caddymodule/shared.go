package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate/keystore"
)

// Requests and the admin API use a shared store through verify and drop,
// which Destruct waits for: a reload never closes the cache or the pool
// under them.

// errStoreClosed says a verification found its config's store closed.
var errStoreClosed = errors.New("the key store of this config was closed by a reload")

// Verify returns the credential of the key with this hash, or why it is
// refused; see keystore.Verifier.Verify. A key older than max_key_age is
// refused with keystore.ErrExpired. An accepted key's use is recorded for
// last_used_at.
//
// On a reload, Caddy stops the old config's servers without waiting for
// their requests, then cleans the config up, which closes its store when
// the new config uses another one. A request the old servers are still
// serving then verifies with the running config's store instead.
func (a *App) Verify(ctx context.Context, hash keystore.Hash) (keystore.Credential, error) {
	return a.verify(ctx, hash, false)
}

// VerifyCached is Verify from the cache alone (see
// keystore.Verifier.VerifyCached): a key that is not cached is refused
// with keystore.ErrNotCached, and costs no lookup.
func (a *App) VerifyCached(ctx context.Context, hash keystore.Hash) (keystore.Credential, error) {
	return a.verify(ctx, hash, true)
}

func (a *App) verify(ctx context.Context, hash keystore.Hash, cachedOnly bool) (keystore.Credential, error) {
	shared := a.shared
	cred, err := shared.verify(ctx, hash, cachedOnly)
	if errors.Is(err, errStoreClosed) {
		if running := current.Load(); running != nil {
			shared = running.shared
			cred, err = shared.verify(ctx, hash, cachedOnly)
		}
	}
	if err != nil {
		return cred, err
	}
	shared.warnIfStale(a.logger)
	now := shared.clock()
	if cred.OlderThan(time.Duration(a.MaxKeyAge), now) {
		return cred, keystore.ErrExpired
	}
	shared.recordUse(cred.KeyID, now)
	return cred, nil
}

// verify asks the verifier, unless the store is closed: Destruct waits for
// the verifications under way, and those that come after it get
// errStoreClosed, never a closed cache or pool.
func (s *sharedStore) verify(ctx context.Context, hash keystore.Hash, cachedOnly bool) (keystore.Credential, error) {
	s.closing.RLock()
	defer s.closing.RUnlock()
	if s.closed {
		return keystore.Credential{}, fmt.Errorf("%w: %w", keystore.ErrStoreUnavailable, errStoreClosed)
	}
	if cachedOnly {
		return s.verifier.VerifyCached(hash)
	}
	return s.verifier.Verify(ctx, hash)
}

// drop drops the cached entries of the key with this public id, or every
// entry when keyID is empty, and returns how many there were.
func (s *sharedStore) drop(keyID string) (int, error) {
	s.closing.RLock()
	defer s.closing.RUnlock()
	if s.closed {
		return 0, errStoreClosed
	}
	if keyID != "" {
		return s.verifier.InvalidateKeyID(keyID), nil
	}
	n := s.verifier.Len()
	s.verifier.DropAll()
	return n, nil
}
