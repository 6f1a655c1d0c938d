package token

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/keygate/keygate/keystore"
)

// kidBytes is the random part of a signing key id.
const kidBytes = 12

// NewSigningKey returns generation gen of the signing keys, created at now
// from random: signed with from now until now+ttl, verified until
// maxTokenTTL after that, its private key sealed under secret (stored
// plain when secret is empty).
func NewSigningKey(random io.Reader, secret []byte, gen int64, now time.Time, ttl, maxTokenTTL time.Duration) (keystore.SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return keystore.SigningKey{}, fmt.Errorf("generating signing key: %w", err)
	}
	var id [kidBytes]byte
	if _, err := io.ReadFull(random, id[:]); err != nil {
		return keystore.SigningKey{}, fmt.Errorf("generating signing key id: %w", err)
	}
	kid := encoding.EncodeToString(id[:])
	sealed, err := SealPrivateKey(random, secret, kid, priv.Seed())
	if err != nil {
		return keystore.SigningKey{}, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	return keystore.SigningKey{
		KID:         kid,
		Generation:  gen,
		PublicKey:   pub,
		PrivateKey:  sealed,
		CreatedAt:   now,
		SignUntil:   now.Add(ttl),
		VerifyUntil: now.Add(ttl + maxTokenTTL),
	}, nil
}
