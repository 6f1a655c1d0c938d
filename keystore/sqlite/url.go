package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/keygate/keygate/keystore"
)

// kind is the store's name in logs and in its URLs.
const kind = "sqlite"

func init() {
	keystore.Register(keystore.Dialect{
		Usage:  "sqlite:PATH for an SQLite file (sqlite:keygate.db, sqlite:/abs/path or sqlite:///abs/path)",
		Locate: locate,
		Open: func(ctx context.Context, _ string, loc keystore.Location) (keystore.Store, error) {
			s, err := Open(ctx, loc.Path)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	}, kind)
}

// locate reads sqlite:PATH, and sqlite:///abs and sqlite://rel as
// golang-migrate writes them, into the file's absolute path.
func locate(raw string) (keystore.Location, error) {
	_, rest, _ := strings.Cut(raw, ":")
	path := strings.TrimPrefix(rest, "//")
	switch {
	case path == "":
		return keystore.Location{}, fmt.Errorf("the SQLite database URL has no file path: want sqlite:PATH, such as sqlite:keygate.db")
	case strings.ContainsAny(path, "?#"):
		return keystore.Location{}, fmt.Errorf("invalid SQLite database URL sqlite:%s: it takes a file path and no parameters", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return keystore.Location{}, fmt.Errorf("resolving the SQLite database path %s: %w", path, err)
	}
	return keystore.Location{Kind: kind, Path: abs}, nil
}
