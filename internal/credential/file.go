// Package credential is the calling system's side of keygate's automatic
// rolling and short-lived tokens: it keeps a key in a file, rolls it
// through the gateway's keygate_rotate endpoint when it is due, and keeps
// a fresh access token from keygate_token beside it. It is what `keygate
// credential rotate` and `keygate credential token` run, and knows nothing
// of Caddy.
package credential

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// fileMode is the mode of every file this package writes: the key's owner
// alone reads it.
const fileMode = 0o600

// ReadKey returns the key in path: the file's one line, without
// surrounding white space.
func ReadKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading key file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	switch {
	case key == "":
		return "", fmt.Errorf("key file %s is empty: put the key in it, alone on one line", path)
	case strings.ContainsAny(key, " \t\r\n"):
		return "", fmt.Errorf("key file %s holds more than a key: put the key in it, alone on one line", path)
	}
	return key, nil
}

// WriteFileAtomic replaces path with data: written to a temporary file
// in the same directory with mode 0600, synced, renamed over path, and
// the directory synced, so that a reader (or a crash) sees the old file
// or the new one, never a part.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file beside %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// Lock takes an exclusive lock for the key file at path, waiting for
// another holder (a second run from cron or a timer) to finish, and
// returns the function that releases it. The lock is on path + ".lock",
// which is never replaced: the key file itself is, by rename.
func Lock(path string) (func(), error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, fileMode)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
