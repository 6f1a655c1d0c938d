package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/storetest"
)

// open opens a store on the file at path, closed when t ends.
func open(t *testing.T, path string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// tempPath returns the path of a database file in a fresh directory.
func tempPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "keygate.db")
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store { return open(t, tempPath(t)) })
}

func TestFeedConformance(t *testing.T) {
	storetest.RunFeed(t, func(t *testing.T) keystore.Store { return open(t, tempPath(t)) })
}
