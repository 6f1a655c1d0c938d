package secretscan

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// KeyFile is a public keys file that is read again when it changes, so
// that a partner's key rotation needs no config reload: whoever updates
// the file (a cron job fetching the partner's keys, say) replaces it, and
// the next report is verified with the new keys. A change is seen by the
// file's modification time and size, checked at most once per report.
type KeyFile struct {
	path string

	mu      sync.Mutex
	keys    PublicKeys
	modTime time.Time
	size    int64
}

// OpenKeyFile reads the public keys file at path, and fails unless it
// holds at least one valid key; skipped says which entries were left out.
func OpenKeyFile(path string) (kf *KeyFile, skipped []string, err error) {
	kf = &KeyFile{path: path}
	skipped, err = kf.load()
	if err != nil {
		return nil, skipped, err
	}
	return kf, skipped, nil
}

// Keys returns the file's keys, read again first if the file changed
// since. When the new content cannot be used (unreadable, or without a
// valid key), the keys read before stay in use and the error says why;
// changed reports whether the keys were read again.
func (kf *KeyFile) Keys() (keys PublicKeys, changed bool, skipped []string, err error) {
	kf.mu.Lock()
	defer kf.mu.Unlock()
	fi, statErr := os.Stat(kf.path)
	if statErr != nil {
		return kf.keys, false, nil, fmt.Errorf("public keys file: %w (the keys read before stay in use)", statErr)
	}
	if fi.ModTime().Equal(kf.modTime) && fi.Size() == kf.size {
		return kf.keys, false, nil, nil
	}
	skipped, err = kf.loadLocked()
	if err != nil {
		// Not again until it changes once more.
		kf.modTime, kf.size = fi.ModTime(), fi.Size()
		return kf.keys, false, skipped, fmt.Errorf("%w (the keys read before stay in use)", err)
	}
	return kf.keys, true, skipped, nil
}

// Path returns the file's path.
func (kf *KeyFile) Path() string { return kf.path }

func (kf *KeyFile) load() ([]string, error) {
	kf.mu.Lock()
	defer kf.mu.Unlock()
	return kf.loadLocked()
}

// loadLocked reads the file, and keeps its keys and stamp if it holds
// any. The stamp is taken before the read: a change during the read is
// seen next time.
func (kf *KeyFile) loadLocked() ([]string, error) {
	fi, err := os.Stat(kf.path)
	if err != nil {
		return nil, fmt.Errorf("public keys file: %w", err)
	}
	data, err := os.ReadFile(kf.path)
	if err != nil {
		return nil, fmt.Errorf("public keys file: %w", err)
	}
	keys, skipped, err := ParsePublicKeys(data)
	if err != nil {
		return skipped, fmt.Errorf("public keys file %s: %w", kf.path, err)
	}
	kf.keys, kf.modTime, kf.size = keys, fi.ModTime(), fi.Size()
	return skipped, nil
}
