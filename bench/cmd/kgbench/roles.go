package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The harness runs its helpers as child processes of its own binary, so
// that their CPU and garbage collection are their own, not the load
// generator's.
const (
	roleUpstream = "upstream"
	roleAuthPeer = "authpeer"
)

// runRole serves one helper role on addr until SIGTERM.
func runRole(role, addr, database string) error {
	var h http.Handler
	switch role {
	case roleUpstream:
		h = http.HandlerFunc(upstream)
	case roleAuthPeer:
		peer, err := newAuthPeer(database)
		if err != nil {
			return err
		}
		defer peer.pool.Close()
		h = peer
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// upstreamBody is what the trivial upstream answers.
var upstreamBody = []byte(`{"ok":true}` + "\n")

// upstream is the integration behind every case: a fixed small answer.
func upstream(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(upstreamBody)
}

// authPeer is what people build today in front of Caddy's forward_auth: a
// small service that checks the bearer key's SHA-256 against keygate's
// table in PostgreSQL on every request, with no cache.
type authPeer struct {
	pool *pgxpool.Pool
}

const authPeerSQL = `SELECT true FROM keygate_keys
WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`

func newAuthPeer(database string) (*authPeer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, database)
	if err != nil {
		return nil, fmt.Errorf("auth peer: connecting: %w", err)
	}
	return &authPeer{pool: pool}, nil
}

func (p *authPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	sum := sha256.Sum256([]byte(key))
	var valid bool
	err := p.pool.QueryRow(r.Context(), authPeerSQL, sum[:]).Scan(&valid)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	case err != nil:
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusOK)
	}
}
