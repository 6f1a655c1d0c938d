package sqlite

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

// TestFollowFencesWhileTheFileIsGone: a gateway whose database file is
// removed, moved away or replaced refuses every key, cached ones too, until
// the same file is back; a copy put in its place is not the same file.
func TestFollowFencesWhileTheFileIsGone(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.gateway)
	follow(t, f.gateway, v)
	if _, err := v.Verify(t.Context(), f.key.Hash); err != nil {
		t.Fatal(err)
	}
	path := f.gateway.Path()
	fenced := func() bool {
		_, err := v.Verify(t.Context(), f.key.Hash)
		return errors.Is(err, ErrFileGone) && errors.Is(err, keystore.ErrStoreUnavailable)
	}
	serving := func() bool {
		_, err := v.Verify(t.Context(), f.key.Hash)
		return err == nil
	}

	// Moved away (as rm does, the file lives on in this process), then back.
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "the cached key refused once the file is moved away", fenced)
	if err := os.Rename(path+".moved", path); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "the key accepted once the file is back", serving)

	// Replaced by a copy: another file, however equal.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".orig"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "the key refused once the file is replaced", fenced)
	if err := f.gateway.CheckFile(); err == nil || !strings.Contains(err.Error(), "replaced by another file") || !strings.Contains(err.Error(), path) {
		t.Errorf("CheckFile after a replacement: %v, want one saying %s was replaced", err, path)
	}
	if err := os.Rename(path+".orig", path); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "the key accepted once the original file is back", serving)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "the key refused once the file is removed", fenced)
	if err := f.gateway.CheckFile(); err == nil || !strings.Contains(err.Error(), path+" was removed") {
		t.Errorf("CheckFile after removal: %v, want one saying %s was removed", err, path)
	}
}

// TestCreatedFilesArePrivate: the database, its -wal and -shm, and the
// migration lock file are readable by keygate's user only, whatever the
// umask lets through.
func TestCreatedFilesArePrivate(t *testing.T) {
	path := tempPath(t)
	s := open(t, path)
	if err := s.CreateIntegration(t.Context(), keystore.Integration{ID: "weather", BaseURL: "https://weather.example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + lockSuffix} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", p, mode)
		}
	}
}
