package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/keygate/keygate/keystore"
)

func init() {
	keystore.Register(keystore.Dialect{
		Usage:  "postgres://user:password@host:5432/database (or postgresql://)",
		Locate: locate,
		Open: func(ctx context.Context, raw string, _ keystore.Location) (keystore.Store, error) {
			s, err := Open(ctx, raw)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
	}, "postgres", "postgresql")
}

// locate tells which server and database raw names, never repeating raw,
// which holds a password.
func locate(raw string) (keystore.Location, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL
		}
		return keystore.Location{}, fmt.Errorf("invalid PostgreSQL database URL: %w", err)
	}
	return keystore.Location{Kind: "postgresql", Host: u.Host, Database: strings.TrimPrefix(u.Path, "/")}, nil
}
