package keystore

import (
	"crypto/rand"
	"fmt"
	"io"
	"regexp"
)

// KeyIDPrefix starts every public key id, so that an id is never mistaken
// for a key: ids are safe to log, print and pass around.
const KeyIDPrefix = "kid_"

const keyIDLen = 20 // base62 characters: about 119 bits

// NewKeyID returns a fresh public key id drawn from random
// (crypto/rand.Reader when nil).
func NewKeyID(random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	out := make([]byte, 0, len(KeyIDPrefix)+keyIDLen)
	out = append(out, KeyIDPrefix...)
	var buf [32]byte
	for len(out) < cap(out) {
		if _, err := io.ReadFull(random, buf[:]); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting the rest keeps every character uniform.
			if b < 248 && len(out) < cap(out) {
				out = append(out, alphabet[b%62])
			}
		}
	}
	return string(out), nil
}

var (
	integrationIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	keyIDPattern         = regexp.MustCompile(`^kid_[0-9A-Za-z]{20}$`)
)

// ValidIntegrationID reports whether id can name an integration: 1 to 63
// lowercase letters, digits, '-' or '_', starting with a letter or digit.
func ValidIntegrationID(id string) bool { return integrationIDPattern.MatchString(id) }

// ValidKeyID reports whether id has the shape of a public key id.
func ValidKeyID(id string) bool { return keyIDPattern.MatchString(id) }
