package token

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keygate/keygate/keystore"
)

// memKeys is a keystore.SigningKeyStore in memory, with the unique
// generation the real stores have.
type memKeys struct {
	mu   sync.Mutex
	keys map[int64]keystore.SigningKey
	adds int // successful AddSigningKey calls
	fail error
}

func newMemKeys() *memKeys { return &memKeys{keys: map[int64]keystore.SigningKey{}} }

func (m *memKeys) SigningKeys(_ context.Context, now time.Time) ([]keystore.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []keystore.SigningKey
	for _, k := range m.keys {
		if now.Before(k.VerifyUntil) {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Generation < out[j].Generation })
	return out, nil
}

func (m *memKeys) AddSigningKey(_ context.Context, k keystore.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.keys[k.Generation]; ok {
		return keystore.ErrSigningKeyTaken
	}
	m.keys[k.Generation] = k
	m.adds++
	return nil
}

func (m *memKeys) PruneSigningKeys(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for g, k := range m.keys {
		if !now.Before(k.VerifyUntil) {
			delete(m.keys, g)
			n++
		}
	}
	return n, nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// seeded is a deterministic randomness source for a test.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

// newTestRing returns a refreshed ring over a fresh store on a test clock.
func newTestRing(t testing.TB, store *memKeys, clk *clock, seed uint64) *Ring {
	t.Helper()
	r, err := NewRing(store, RingConfig{SigningKeyTTL: time.Hour, Refresh: time.Minute, Now: clk.Now, Random: seeded(seed)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// forge writes a compact JWS with arbitrary header and claims, signed by
// sign over the signing input.
func forge(t testing.TB, header map[string]any, claims any, sign func(input []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := encoding.EncodeToString(h) + "." + encoding.EncodeToString(c)
	return Prefix + input + "." + encoding.EncodeToString(sign([]byte(input)))
}

func ed25519Signer(priv ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(priv, in) }
}

func hs256Signer(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

// signer returns the private key the ring signs with now.
func signer(t testing.TB, r *Ring) (string, ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	s := r.Keys().signer
	if s == nil {
		t.Fatal("ring has no signer")
	}
	return s.kid, s.priv, s.priv.Public().(ed25519.PublicKey)
}

// ed25519Key opens the stored private key of kid.
func ed25519Key(t testing.TB, store *memKeys, kid string) (string, ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	store.mu.Lock()
	defer store.mu.Unlock()
	for _, k := range store.keys {
		if k.KID == kid {
			priv, err := OpenPrivateKey(nil, kid, k.PrivateKey)
			if err != nil {
				t.Fatal(err)
			}
			return kid, priv, priv.Public().(ed25519.PublicKey)
		}
	}
	t.Fatalf("no key %s", kid)
	return "", nil, nil
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool { return errors.As(err, target) }
