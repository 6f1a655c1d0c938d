package caddymodule

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/keystore"
)

// TestVerifyAcrossReload reloads to settings that need another store while
// requests of the old config are verifying keys: Caddy cleans the old
// config up without waiting for its servers' requests, and they must
// neither fail nor touch the closed store.
func TestVerifyAcrossReload(t *testing.T) {
	database := pgtest.URL(t)
	g := &liveGateway{store: openTestStore(t, database), keys: map[string]string{}}
	if err := g.store.CreateIntegration(context.Background(), keystore.Integration{ID: "demo", BaseURL: "http://127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	key := g.createKey(t, "demo", "reloaded")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	old, next := &App{Database: database}, &App{Database: database, NegativeTTL: caddy.Duration(time.Minute)}
	if err := old.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}

	// The old config's requests, going on through the reload.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := old.auth.Authenticate(context.Background(), key); err != nil {
					t.Errorf("a request of the old config during the reload: %v", err)
					return
				}
			}
		})
	}
	// Caddy's order: provision and start the new config, stop the old
	// one, clean it up.
	if err := next.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := next.Start(); err != nil {
		t.Fatal(err)
	}
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, ok := stores.References(old.poolKey); ok {
		t.Fatal("the old config's store is still pooled")
	}
	if _, err := old.auth.Authenticate(context.Background(), key); err != nil {
		t.Fatalf("a request of the old config after its store closed: %v", err)
	}
	close(stop)
	wg.Wait()
	if err := next.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := next.Cleanup(); err != nil {
		t.Fatal(err)
	}
}
