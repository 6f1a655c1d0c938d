package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

// signingKeys returns s as a SigningKeyStore, which every store must be.
func signingKeys(t *testing.T, s keystore.Store) keystore.SigningKeyStore {
	t.Helper()
	sk, ok := s.(keystore.SigningKeyStore)
	if !ok {
		t.Fatalf("%T does not keep signing keys", s)
	}
	return sk
}

// testSigningKey returns generation gen, created at created.
func testSigningKey(gen int64, created time.Time) keystore.SigningKey {
	pub := bytes.Repeat([]byte{byte(gen)}, 32)
	return keystore.SigningKey{
		KID: fmt.Sprintf("kid-%d-%d", gen, created.UnixNano()), Generation: gen,
		PublicKey: pub, PrivateKey: append([]byte{1}, bytes.Repeat([]byte{0xAB}, 60)...),
		CreatedAt: created, SignUntil: created.Add(time.Hour), VerifyUntil: created.Add(2 * time.Hour),
	}
}

func testSigningKeysRoundTrip(t *testing.T, s keystore.Store) {
	sk := signingKeys(t, s)
	k2, k1 := testSigningKey(2, baseTime.Add(time.Hour)), testSigningKey(1, baseTime)
	for _, k := range []keystore.SigningKey{k2, k1} {
		if err := sk.AddSigningKey(ctx(t), k); err != nil {
			t.Fatalf("adding generation %d: %v", k.Generation, err)
		}
	}
	got, err := sk.SigningKeys(ctx(t), baseTime)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Generation != 1 || got[1].Generation != 2 {
		t.Fatalf("SigningKeys = %d keys %+v, want generations 1, 2", len(got), got)
	}
	for i, want := range []keystore.SigningKey{k1, k2} {
		g := got[i]
		if g.KID != want.KID || !bytes.Equal(g.PublicKey, want.PublicKey) || !bytes.Equal(g.PrivateKey, want.PrivateKey) ||
			!sameTime(g.CreatedAt, want.CreatedAt) || !sameTime(g.SignUntil, want.SignUntil) || !sameTime(g.VerifyUntil, want.VerifyUntil) {
			t.Fatalf("generation %d read back as %+v, stored %+v", want.Generation, g, want)
		}
	}
}

// testSigningKeysOneWinner: of gateways storing the same next generation
// at once, exactly one succeeds and the others learn it was taken.
func testSigningKeysOneWinner(t *testing.T, s keystore.Store) {
	sk := signingKeys(t, s)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, taken := 0, 0
	for i := range 8 {
		wg.Go(func() {
			err := sk.AddSigningKey(ctx(t), testSigningKey(1, baseTime.Add(time.Duration(i)*time.Microsecond)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, keystore.ErrSigningKeyTaken):
				taken++
			default:
				t.Errorf("racing AddSigningKey: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || taken != 7 {
		t.Fatalf("%d stored and %d refused as taken, want 1 and 7", won, taken)
	}
	if got, err := sk.SigningKeys(ctx(t), baseTime); err != nil || len(got) != 1 {
		t.Fatalf("SigningKeys = %d keys, %v; want the winner alone", len(got), err)
	}
}

func testSigningKeysPrune(t *testing.T, s keystore.Store) {
	sk := signingKeys(t, s)
	old, cur := testSigningKey(1, baseTime), testSigningKey(2, baseTime.Add(time.Hour))
	for _, k := range []keystore.SigningKey{old, cur} {
		if err := sk.AddSigningKey(ctx(t), k); err != nil {
			t.Fatal(err)
		}
	}
	// Past the old key's verify_until, it is no longer listed...
	at := old.VerifyUntil
	got, err := sk.SigningKeys(ctx(t), at)
	if err != nil || len(got) != 1 || got[0].Generation != 2 {
		t.Fatalf("SigningKeys at the old key's verify_until = %+v, %v; want generation 2 alone", got, err)
	}
	// ...and pruning deletes it alone.
	n, err := sk.PruneSigningKeys(ctx(t), at)
	if err != nil || n != 1 {
		t.Fatalf("PruneSigningKeys = %d, %v; want 1", n, err)
	}
	if got, err := sk.SigningKeys(ctx(t), baseTime); err != nil || len(got) != 1 || got[0].Generation != 2 {
		t.Fatalf("after pruning: %+v, %v", got, err)
	}
}
