package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var databaseSeq atomic.Uint64

// createDatabase creates an empty database, dropped when t ends, and
// returns its URL.
func (c *Cluster) createDatabase(t testing.TB) string {
	t.Helper()
	var suffix [4]byte
	rand.Read(suffix[:])
	// Unique across test binaries sharing an external server.
	name := fmt.Sprintf("keygate_test_%d_%s", databaseSeq.Add(1), hex.EncodeToString(suffix[:]))
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return c.databaseURL(name)
}

// databaseURL returns the admin URL with its database replaced by name.
func (c *Cluster) databaseURL(name string) string {
	u, err := url.Parse(c.adminURL)
	if err != nil {
		panic("pgtest: admin URL no longer parses: " + err.Error()) // checked when the cluster was set up
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}
