package keystore

import (
	"context"
	"errors"
	"time"
)

// Errors a Store returns, wrapped with what was being done; test with
// errors.Is.
var (
	ErrNotFound           = errors.New("not found")
	ErrIntegrationExists  = errors.New("integration already exists")
	ErrUnknownIntegration = errors.New("unknown integration")
	ErrAlreadyRevoked     = errors.New("key already revoked")
	ErrStoreUnavailable   = errors.New("key store unavailable")
)

// NewKey is what CreateKey stores: the record and the hash of the key that
// was shown once.
type NewKey struct {
	Key
	Hash Hash
}

// KeyFilter narrows ListKeys; zero values match everything.
type KeyFilter struct {
	IntegrationID string
}

// Store keeps integrations and key records. Implementations must be safe
// for concurrent use.
type Store interface {
	// LookupCredential returns the credential of the key with this hash,
	// revoked or expired ones included, or an error wrapping ErrNotFound.
	LookupCredential(ctx context.Context, hash Hash) (Credential, error)

	CreateIntegration(ctx context.Context, in Integration) error
	ListIntegrations(ctx context.Context) ([]Integration, error)

	// CreateKey fails with ErrUnknownIntegration when k.IntegrationID does
	// not exist.
	CreateKey(ctx context.Context, k NewKey) error
	ListKeys(ctx context.Context, f KeyFilter) ([]Key, error)
	// RevokeKey marks the key revoked at `at` and returns its record; it
	// fails with ErrNotFound or ErrAlreadyRevoked.
	RevokeKey(ctx context.Context, id string, at time.Time) (Key, error)

	Close()
}
