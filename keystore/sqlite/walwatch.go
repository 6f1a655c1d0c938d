package sqlite

import (
	"bytes"
	"os"
)

// walWatch tells, without a query, whether the database may have changed
// since it last looked: it reads the WAL-index header at the start of the
// file's -shm, which SQLite rewrites on every commit (its iChange counter,
// mxFrame and checksums). A read of 96 bytes costs a system call; a query
// costs the follower a hundred times more, so the feed can be polled every
// few milliseconds while idle for almost nothing. It may report a change
// that is none (a torn read, a checkpoint); never none for a commit made
// before the read, as the header is written before the commit returns.
type walWatch struct {
	path string // the -shm file
	f    *os.File
	last [96]byte // both copies of the WalIndexHdr
	ok   bool     // last holds a header
}

func newWALWatch(dbPath string) *walWatch { return &walWatch{path: dbPath + "-shm"} }

// changed reports whether the header differs from the last one seen, or
// cannot be read (no -shm yet, say): then the caller reads the database.
func (w *walWatch) changed() bool {
	if w.f == nil {
		f, err := os.Open(w.path)
		if err != nil {
			return true
		}
		w.f = f
	}
	var hdr [96]byte
	if _, err := w.f.ReadAt(hdr[:], 0); err != nil {
		w.close()
		return true
	}
	same := w.ok && bytes.Equal(hdr[:], w.last[:])
	w.last, w.ok = hdr, true
	return !same
}

func (w *walWatch) close() {
	if w.f != nil {
		_ = w.f.Close()
		w.f, w.ok = nil, false
	}
}
