package keystore

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"unsafe"
)

// DefaultPrefix is the prefix of keys when none is configured.
const DefaultPrefix = "kg"

const (
	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// secretLen base62 characters carry 256 bits: 62^43 > 2^256.
	secretLen = 43
	// checksumLen base62 characters hold a CRC32: 62^6 > 2^32.
	checksumLen  = 6
	maxPrefixLen = 16
)

// ErrMalformed is returned by Parse for anything that is not a well-formed
// key. It never says which part is wrong: callers log the reason, not the
// key.
var ErrMalformed = errors.New("malformed key")

// Hash is the SHA-256 of a whole key, the only form in which keys are
// stored.
type Hash [sha256.Size]byte

// isBase62 reports for each byte whether it belongs to the key alphabet.
var isBase62 = func() (t [256]bool) {
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = true
	}
	return t
}()

// ValidPrefix reports whether p can prefix keys: 1 to 16 lowercase ASCII
// letters or digits.
func ValidPrefix(p string) bool {
	if len(p) == 0 || len(p) > maxPrefixLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// GenerateKey returns a new key `<prefix>_<secret><checksum>` whose secret
// holds 256 bits read from random (crypto/rand.Reader when nil), and the
// key's hash.
func GenerateKey(random io.Reader, prefix string) (string, Hash, error) {
	if !ValidPrefix(prefix) {
		return "", Hash{}, fmt.Errorf("invalid key prefix %q: want 1-16 lowercase letters or digits", prefix)
	}
	if random == nil {
		random = rand.Reader
	}
	var b [32]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", Hash{}, fmt.Errorf("reading random bytes: %w", err)
	}
	body := prefix + "_" + base62(new(big.Int).SetBytes(b[:]), secretLen)
	sum := checksum(body)
	key := body + string(sum[:])
	return key, HashKey(key), nil
}

// base62 encodes n in exactly width characters, left-padded with '0'.
func base62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(int64(len(alphabet)))
	rem := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.QuoRem(n, base, rem)
		out[i] = alphabet[rem.Int64()]
	}
	return string(out)
}

// ParseKey checks that s is a well-formed key with the given prefix —
// length, separator, alphabet and checksum — and returns its hash. It does
// no I/O and does not allocate, so a malformed key costs no more than this.
func ParseKey(prefix, s string) (Hash, error) {
	body := len(prefix) + 1 + secretLen
	if len(s) != body+checksumLen || s[:len(prefix)] != prefix || s[len(prefix)] != '_' {
		return Hash{}, ErrMalformed
	}
	for i := len(prefix) + 1; i < len(s); i++ {
		if !isBase62[s[i]] {
			return Hash{}, ErrMalformed
		}
	}
	if sum := checksum(s[:body]); string(sum[:]) != s[body:] {
		return Hash{}, ErrMalformed
	}
	return HashKey(s), nil
}

// checksum returns the base62 CRC32 of s without allocating: crc32's
// word-at-a-time code reads the string's bytes in place (it never writes
// or keeps them), about four times faster than a byte loop.
func checksum(s string) [checksumLen]byte {
	return checksumOf(crc32.ChecksumIEEE(unsafe.Slice(unsafe.StringData(s), len(s))))
}

// HashKey returns the SHA-256 of key.
func HashKey(key string) Hash {
	var buf [maxPrefixLen + 1 + secretLen + checksumLen]byte
	if len(key) > len(buf) {
		return sha256.Sum256([]byte(key))
	}
	n := copy(buf[:], key)
	return sha256.Sum256(buf[:n])
}
