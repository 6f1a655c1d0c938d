package sqlite

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/storetest"
)

// TestTwoStoresWriteAtOnce has two stores on one file — as the command
// line and a running gateway have, each with its own connections — write,
// revoke, read and prune at the same time. SQLite allows one writer at a
// time: none of them may see "database is locked" or any other error.
func TestTwoStoresWriteAtOnce(t *testing.T) {
	path := tempPath(t)
	cli, gateway := open(t, path), open(t, path)
	if err := cli.CreateIntegration(t.Context(), keystore.Integration{ID: "weather", BaseURL: "https://weather.example.com"}); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 6, 25
	var wg sync.WaitGroup
	errs := make(chan error, 4*workers*rounds)
	for w := range workers {
		for i, s := range []*Store{cli, gateway} {
			wg.Go(func() {
				for r := range rounds {
					k := storetest.NewKey(t, "weather", fmt.Sprintf("w%d-s%d-r%d", w, i, r), time.Time{})
					if err := s.CreateKey(t.Context(), k); err != nil {
						errs <- fmt.Errorf("creating a key: %w", err)
						continue
					}
					if _, err := s.LookupCredential(t.Context(), k.Hash); err != nil {
						errs <- fmt.Errorf("looking up a key just created: %w", err)
					}
					if r%2 == 0 {
						if _, err := s.RevokeKey(t.Context(), k.ID, time.Time{}); err != nil {
							errs <- fmt.Errorf("revoking: %w", err)
						}
					}
				}
			})
		}
		// The gateway prunes its feed meanwhile: a transaction that reads
		// before it writes.
		wg.Go(func() {
			for range rounds {
				if _, err := gateway.pruneFeed(t.Context(), time.Now()); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	keys, err := gateway.ListKeys(t.Context(), keystore.KeyFilter{})
	if err != nil || len(keys) != 2*workers*rounds {
		t.Fatalf("listed %d keys (%v), want %d", len(keys), err, 2*workers*rounds)
	}
}
