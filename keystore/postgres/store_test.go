package postgres

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/internal/schema"
	"github.com/keygate/keygate/keystore/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on url, closed when t ends.
func open(t *testing.T, url string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store { return open(t, pgtest.URL(t)) })
}

func TestFeedConformance(t *testing.T) {
	storetest.RunFeed(t, func(t *testing.T) keystore.Store { return open(t, pgtest.URL(t)) })
}

// schemaVersion reads the migrations table.
func schemaVersion(t *testing.T, s *Store) (version int64, dirty bool, rows int) {
	t.Helper()
	err := s.Pool().QueryRow(t.Context(),
		`SELECT max(version), bool_or(dirty), count(*)::int FROM `+migrationsTable).Scan(&version, &dirty, &rows)
	if err != nil {
		t.Fatalf("reading %s: %v", migrationsTable, err)
	}
	return version, dirty, rows
}

// latestMigration returns the version of the newest embedded migration.
func latestMigration(t *testing.T) int64 {
	t.Helper()
	v, err := schema.Latest(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

func TestMigrationsIdempotent(t *testing.T) {
	url := pgtest.URL(t)
	first := open(t, url)
	if err := first.CreateIntegration(t.Context(), keystore.Integration{ID: "weather", BaseURL: "https://weather.example.com"}); err != nil {
		t.Fatal(err)
	}
	second := open(t, url)
	list, err := second.ListIntegrations(t.Context())
	if err != nil || len(list) != 1 {
		t.Fatalf("after a second Open, integrations are %+v (%v): migrations ran again?", list, err)
	}
	if v, dirty, rows := schemaVersion(t, second); v != latestMigration(t) || dirty || rows != 1 {
		t.Fatalf("%s: version %d, dirty %v, %d rows; want version %d, clean, 1 row", migrationsTable, v, dirty, rows, latestMigration(t))
	}
	var defaultTable bool
	if err := second.Pool().QueryRow(t.Context(), `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&defaultTable); err != nil || defaultTable {
		t.Fatalf("golang-migrate's default table schema_migrations exists (%v): ours must be %s", err, migrationsTable)
	}
}

// TestConcurrentOpen starts several stores on a fresh database at once:
// without the advisory lock, their CREATE TABLEs would collide.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.URL(t)
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), url)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of %d racing on a fresh database: %v", i+1, n, err)
			continue
		}
		t.Cleanup(stores[i].Close)
	}
	if t.Failed() {
		return
	}
	if v, dirty, rows := schemaVersion(t, stores[0]); v != latestMigration(t) || dirty || rows != 1 {
		t.Fatalf("%s: version %d, dirty %v, %d rows; want version %d, clean, 1 row", migrationsTable, v, dirty, rows, latestMigration(t))
	}
}

func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	const password = "s3cret-Pa55word"
	began := time.Now()
	s, err := Open(t.Context(), "postgres://keygate:"+password+"@"+addr+"/keygate?sslmode=disable")
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a closed port")
	}
	if elapsed := time.Since(began); elapsed > 5*time.Second {
		t.Errorf("Open took %v to fail on a closed port", elapsed)
	}
	if !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Errorf("error %q does not wrap ErrStoreUnavailable", err)
	}
	if msg := err.Error(); strings.Contains(msg, password) || !strings.Contains(msg, addr) {
		t.Errorf("error %q should name %s and not contain the password", msg, addr)
	}
}

func TestOpenBadURLHidesPassword(t *testing.T) {
	const password = "s3c@ret-pw"
	for _, url := range []string{
		"postgres://keygate:" + password + "@127.0.0.1:notaport/keygate",
		"postgres://keygate:" + password + "@127.0.0.1:5432/keygate?sslmode=bogus",
		"host=127.0.0.1 password=" + password + " port=notaport",
	} {
		s, err := Open(t.Context(), url)
		if err == nil {
			s.Close()
			t.Errorf("Open accepted a malformed URL")
			continue
		}
		if strings.Contains(err.Error(), "ret-pw") || !strings.Contains(err.Error(), "parsing database URL") {
			t.Errorf("error %q should say the URL is malformed without any part of its password", err)
		}
	}
}

func TestOpenMissingDatabase(t *testing.T) {
	missing := strings.Replace(pgtest.URL(t), "/keygate_test_", "/missing_", 1)
	s, err := Open(t.Context(), missing)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a database that does not exist")
	}
	if errors.Is(err, keystore.ErrStoreUnavailable) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("error %q should report the missing database, not an unavailable store", err)
	}
}

// TestDeadlineIsUnavailable: a store that does not answer in time is
// unavailable, which the verifier turns into a 503.
func TestDeadlineIsUnavailable(t *testing.T) {
	s := open(t, pgtest.URL(t))
	hash := newCredential(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := s.LookupCredential(ctx, hash); !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("lookup past its deadline: got %v, want ErrStoreUnavailable", err)
	}
	if _, err := s.LookupCredential(t.Context(), hash); err != nil {
		t.Fatalf("lookup after a timed-out one: %v", err)
	}
}

// newCredential stores an integration and a key, and returns the key's
// hash.
func newCredential(t *testing.T, s *Store) keystore.Hash {
	t.Helper()
	if err := s.CreateIntegration(t.Context(), keystore.Integration{ID: "weather", BaseURL: "https://weather.example.com"}); err != nil {
		t.Fatal(err)
	}
	k := storetest.NewKey(t, "weather", "ci", time.Time{})
	if err := s.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	return k.Hash
}

// TestSurvivesServerRestart stops the cluster under an open store: lookups
// fail as unavailable while it is down, and the first lookup after it is
// back succeeds, although every pooled connection died.
func TestSurvivesServerRestart(t *testing.T) {
	cluster := pgtest.Server(t)
	if cluster.External() {
		t.Skip("needs the throwaway cluster: an external server is not ours to stop")
	}
	s := open(t, pgtest.URL(t))
	hash := newCredential(t, s)
	// Fill the pool with several connections, all of which will break.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := s.LookupCredential(t.Context(), hash); err != nil {
				t.Errorf("lookup before the outage: %v", err)
			}
		})
	}
	wg.Wait()

	cluster.Stop(t)
	if _, err := s.LookupCredential(t.Context(), hash); !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("lookup while the server is down: got %v, want ErrStoreUnavailable", err)
	}
	if _, err := s.ListIntegrations(t.Context()); !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("listing while the server is down: got %v, want ErrStoreUnavailable", err)
	}
	cluster.Start(t)
	if _, err := s.LookupCredential(t.Context(), hash); err != nil {
		t.Fatalf("first lookup after the server is back: %v", err)
	}
	if _, err := s.ListKeys(t.Context(), keystore.KeyFilter{}); err != nil {
		t.Fatalf("listing after the server is back: %v", err)
	}
}

// TestRestartedServerFirstLookup checks the retry on its own: connections
// made before a restart are all dead, and the first lookup after it must
// not fail on one of them.
func TestRestartedServerFirstLookup(t *testing.T) {
	cluster := pgtest.Server(t)
	if cluster.External() {
		t.Skip("needs the throwaway cluster: an external server is not ours to stop")
	}
	s := open(t, pgtest.URL(t))
	hash := newCredential(t, s)
	cluster.Stop(t)
	cluster.Start(t)
	if _, err := s.LookupCredential(t.Context(), hash); err != nil {
		t.Fatalf("first lookup after a restart: %v", err)
	}
}

// TestSQLRevocation revokes with plain SQL, as DESIGN.md lets operators
// do, and with infinities, which an operator may also write.
func TestSQLRevocation(t *testing.T) {
	s := open(t, pgtest.URL(t))
	hash := newCredential(t, s)
	exec := func(sql string) {
		t.Helper()
		if _, err := s.Pool().Exec(t.Context(), sql); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func() keystore.Credential {
		t.Helper()
		c, err := s.LookupCredential(t.Context(), hash)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	exec(`UPDATE keygate_keys SET expires_at = 'infinity'`)
	if c := lookup(); !c.ExpiresAt.IsZero() {
		t.Errorf("expires_at = 'infinity' reads as %v, want zero (never)", c.ExpiresAt)
	}
	exec(`UPDATE keygate_keys SET revoked_at = now()`)
	if c := lookup(); c.RevokedAt.IsZero() || time.Since(c.RevokedAt) > time.Minute {
		t.Errorf("after SQL revocation, revoked at %v, want about now", c.RevokedAt)
	}
	exec(`UPDATE keygate_keys SET revoked_at = '-infinity'`)
	if c := lookup(); c.RevokedAt.IsZero() || !c.RevokedAt.Before(time.Now()) {
		t.Errorf("revoked_at = '-infinity' reads as %v, want a past time", c.RevokedAt)
	}
	keys, err := s.ListKeys(t.Context(), keystore.KeyFilter{})
	if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil || keys[0].ExpiresAt != nil {
		t.Fatalf("listed %+v (%v), want one revoked key without expiry", keys, err)
	}
}
