package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// encoding is base64url without padding, as JOSE writes binary values.
var encoding = base64.RawURLEncoding

// Forms of a stored private key, its first byte.
const (
	formPlain  = 0 // the 32-byte seed follows
	formSealed = 1 // a 12-byte nonce and AES-256-GCM(seed) follow, the kid as additional data
)

// ErrSealed: the private key is sealed and this gateway has no secret, or
// another one. It can still verify the key's tokens, not sign with it.
var ErrSealed = errors.New("signing key is sealed under another secret")

// SealPrivateKey returns seed as the key store keeps it: sealed with
// AES-256-GCM under a key derived from secret, bound to kid, or plain when
// secret is empty. A plain key lets anyone who can read the key store mint
// tokens; a sealed one needs the secret too.
func SealPrivateKey(random io.Reader, secret []byte, kid string, seed []byte) ([]byte, error) {
	if len(secret) == 0 {
		return append([]byte{formPlain}, seed...), nil
	}
	aead, err := newAEAD(secret)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(seed)+aead.Overhead())
	out[0] = formSealed
	if _, err := io.ReadFull(random, out[1:]); err != nil {
		return nil, fmt.Errorf("generating nonce: %w", err)
	}
	return aead.Seal(out, out[1:], seed, []byte(kid)), nil
}

// OpenPrivateKey returns the private key that SealPrivateKey stored, or
// ErrSealed when secret cannot open it.
func OpenPrivateKey(secret []byte, kid string, stored []byte) (ed25519.PrivateKey, error) {
	if len(stored) == 0 {
		return nil, errors.New("empty private key")
	}
	var seed []byte
	switch stored[0] {
	case formPlain:
		seed = stored[1:]
	case formSealed:
		if len(secret) == 0 {
			return nil, ErrSealed
		}
		aead, err := newAEAD(secret)
		if err != nil {
			return nil, err
		}
		if len(stored) < 1+aead.NonceSize() {
			return nil, errors.New("sealed private key too short")
		}
		nonce := stored[1 : 1+aead.NonceSize()]
		if seed, err = aead.Open(nil, nonce, stored[1+aead.NonceSize():], []byte(kid)); err != nil {
			return nil, ErrSealed
		}
	default:
		return nil, fmt.Errorf("unknown private key form %d", stored[0])
	}
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("private key has the wrong size")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// newAEAD derives the sealing key from secret.
func newAEAD(secret []byte) (cipher.AEAD, error) {
	k := sha256.Sum256(append([]byte("keygate signing key seal v1\x00"), secret...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	return cipher.NewGCM(block)
}
