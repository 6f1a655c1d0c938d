package caddymodule

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/keystore/postgres"
)

// feedConnections returns how many change feed connections the database
// has.
func feedConnections(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, postgres.FeedApplicationName).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAppSharesOneFollower: configs sharing a store share its change feed
// listener, and the last one to go stops it.
func TestAppSharesOneFollower(t *testing.T) {
	url := pgtest.URL(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	waitFeeds := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := feedConnections(t, conn)
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d change feed connections, want %d", n, want)
			}
			time.Sleep(10 * time.Millisecond) // polling pg_stat_activity
		}
	}

	first, second := &App{Database: url}, &App{Database: url}
	for _, a := range []*App{first, second} {
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFeeds(1)
	other := &App{Database: url, StaleTTL: caddy.Duration(time.Minute)}
	if err := other.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if other.runtime == first.runtime {
		t.Fatal("a config with another stale_ttl shares a verifier built with the old one")
	}
	waitFeeds(2)
	for _, a := range []*App{first, other} {
		if err := a.Cleanup(); err != nil {
			t.Fatal(err)
		}
	}
	waitFeeds(1)
	if err := second.Cleanup(); err != nil {
		t.Fatal(err)
	}
	// Destruct waited for the follower, which closed its connection; the
	// server drops the backend from pg_stat_activity a moment after the
	// client's Terminate, so poll for it.
	waitFeeds(0)
}
