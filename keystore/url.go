package keystore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"
)

// A store is named by a URL whose scheme picks its dialect; each dialect
// package registers its schemes when imported:
//
//	postgres://user:password@host:5432/database    keystore/postgres (also postgresql://)
//	sqlite:PATH                                    keystore/sqlite: sqlite:keygate.db,
//	                                               sqlite:/var/lib/keygate/keygate.db,
//	                                               sqlite:///var/lib/keygate/keygate.db

// Dialect opens the stores of the URL schemes it registers.
type Dialect struct {
	// Usage shows the dialect's URLs, for errors, such as
	// "sqlite:PATH for an SQLite file".
	Usage string
	// Locate tells where a URL of the dialect points. Its errors never
	// repeat the URL, which may hold a password.
	Locate func(rawURL string) (Location, error)
	// Open opens the store the URL names, migrating its schema if
	// needed.
	Open func(ctx context.Context, rawURL string, loc Location) (Store, error)
}

var (
	dialectsMu sync.RWMutex
	dialects   = map[string]Dialect{} // by lowercase scheme
	usages     []string               // in registration order, once each
)

// Register makes the dialect open the URLs of these schemes (without the
// colon, in any case). Dialect packages call it from init.
func Register(d Dialect, schemes ...string) {
	dialectsMu.Lock()
	defer dialectsMu.Unlock()
	for _, s := range schemes {
		dialects[strings.ToLower(s)] = d
	}
	if !slices.Contains(usages, d.Usage) {
		usages = append(usages, d.Usage)
	}
}

// AcceptedURLs lists the URLs of the registered dialects, for errors.
func AcceptedURLs() string {
	dialectsMu.RLock()
	defer dialectsMu.RUnlock()
	if len(usages) == 0 {
		return "none: this build has no key store dialect"
	}
	return strings.Join(usages, ", or ")
}

// Location is where a store URL points, without its credentials: what a
// gateway logs at start and errors may show.
type Location struct {
	// Kind names the dialect: "postgresql" or "sqlite".
	Kind string
	// Path is an SQLite file, absolute.
	Path string
	// Host (host:port, empty for the default) and Database name a
	// PostgreSQL server's database.
	Host, Database string
}

// String names the store for messages: the file, or the server and
// database, never a password.
func (l Location) String() string {
	if l.Path != "" {
		return l.Kind + ":" + l.Path
	}
	return l.Kind + "://" + l.Host + "/" + l.Database
}

// LogFields describe the store in a log entry.
func (l Location) LogFields() []zap.Field {
	if l.Path != "" {
		return []zap.Field{zap.String("store", l.Kind), zap.String("path", l.Path)}
	}
	return []zap.Field{zap.String("store", l.Kind), zap.String("host", l.Host), zap.String("database", l.Database)}
}

// dialectOf returns the dialect of raw's scheme. Its errors never repeat
// raw, which may hold a password.
func dialectOf(raw string) (Dialect, error) {
	scheme, _, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/= ") {
		return Dialect{}, fmt.Errorf("the database URL has no scheme: want %s", AcceptedURLs())
	}
	dialectsMu.RLock()
	d, ok := dialects[strings.ToLower(scheme)]
	dialectsMu.RUnlock()
	if !ok {
		return Dialect{}, fmt.Errorf("unsupported database URL scheme %q: want %s", scheme+":", AcceptedURLs())
	}
	return d, nil
}

// ParseURL tells which store raw names. Its errors never repeat raw,
// which may hold a password.
func ParseURL(raw string) (Location, error) {
	raw = strings.TrimSpace(raw)
	d, err := dialectOf(raw)
	if err != nil {
		return Location{}, err
	}
	return d.Locate(raw)
}

// Open opens the store raw names, migrating its schema if needed, and
// tells where it is.
func Open(ctx context.Context, raw string) (Store, Location, error) {
	raw = strings.TrimSpace(raw)
	d, err := dialectOf(raw)
	if err != nil {
		return nil, Location{}, err
	}
	loc, err := d.Locate(raw)
	if err != nil {
		return nil, Location{}, err
	}
	s, err := d.Open(ctx, raw, loc)
	if err != nil {
		return nil, Location{}, err
	}
	return s, loc, nil
}
