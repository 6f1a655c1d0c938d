package postgres

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/keystore"
)

// An unknown key is an answer, not a lost connection: looking it up must
// not reset the pool (which closed every connection and reconnected on
// each unknown key, ~10ms apiece, under a flood of them).
func TestUnknownKeyKeepsPool(t *testing.T) {
	s := open(t, pgtest.URL(t))
	var h keystore.Hash
	if _, err := s.LookupCredential(t.Context(), h); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("lookup of an unknown hash: %v, want ErrNotFound", err)
	}
	conns := s.pool.Stat().NewConnsCount()
	for i := range 20 {
		h[0] = byte(i)
		if _, err := s.LookupCredential(t.Context(), h); !errors.Is(err, keystore.ErrNotFound) {
			t.Fatalf("lookup of an unknown hash: %v, want ErrNotFound", err)
		}
	}
	if n := s.pool.Stat().NewConnsCount() - conns; n != 0 {
		t.Fatalf("20 lookups of unknown keys opened %d new connections, want 0", n)
	}
	if unavailable(pgx.ErrNoRows) {
		t.Fatal("no rows counts as the server being unavailable")
	}
}
