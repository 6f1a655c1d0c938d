package keystore

import (
	"context"
	"errors"
	"time"
)

// ErrSigningKeyTaken: another gateway stored the signing key of this
// generation first. The caller reloads the signing keys and uses that one.
var ErrSigningKeyTaken = errors.New("signing key generation already taken")

// SigningKey is a token signing key as the key store keeps it, shared by
// every gateway of the store.
type SigningKey struct {
	// KID is the JWS key id, public.
	KID string
	// Generation numbers the keys 1, 2, …: it is unique, so that of
	// gateways racing to roll the key exactly one stores the next.
	Generation int64
	// PublicKey is the Ed25519 public key, 32 bytes.
	PublicKey []byte
	// PrivateKey is the Ed25519 seed as token.SealPrivateKey wrote it,
	// sealed under the gateways' signing secret when they have one.
	PrivateKey []byte
	CreatedAt  time.Time
	// SignUntil: no token is signed with the key from then on.
	SignUntil time.Time
	// VerifyUntil: every token the key signed has expired by then, and
	// the key may be pruned.
	VerifyUntil time.Time
}

// SigningKeyStore keeps the token signing keys. Both stores implement it.
type SigningKeyStore interface {
	// SigningKeys returns the signing keys whose VerifyUntil is after now,
	// by generation.
	SigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error)
	// AddSigningKey stores k; it fails with ErrSigningKeyTaken when a key
	// of its generation exists.
	AddSigningKey(ctx context.Context, k SigningKey) error
	// PruneSigningKeys deletes the keys whose VerifyUntil is at or before
	// now and returns how many.
	PruneSigningKeys(ctx context.Context, now time.Time) (int, error)
}
