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
	// ErrIntegrationInUse: the integration still has active keys.
	ErrIntegrationInUse = errors.New("integration has active keys")
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
	// Limit, when > 0, bounds the keys returned, after skipping Offset
	// keys: one page of a listing, done by the store.
	Limit, Offset int
}

// Store keeps integrations and key records. This is the contract of every
// implementation, documented here only; storetest.Run checks it (and
// storetest.RunFeed the change feed of a Follower). Implementations must
// be safe for concurrent use; a store that cannot answer fails with an
// error wrapping ErrStoreUnavailable.
type Store interface {
	// LookupCredential returns the credential of the key with this hash,
	// revoked or expired ones included, or an error wrapping ErrNotFound.
	// A deleted key's credential is revoked at its deletion time.
	LookupCredential(ctx context.Context, hash Hash) (Credential, error)
	// LookupCredentialByID is LookupCredential by the key's id, for the
	// parent key of an access token.
	LookupCredentialByID(ctx context.Context, id string) (Credential, error)

	// CreateIntegration stores in as Integration.Normalize returns it; a
	// zero CreatedAt means now. It fails with ErrIntegrationExists when
	// the id is taken.
	CreateIntegration(ctx context.Context, in Integration) error
	// ListIntegrations returns every integration, ordered by id.
	ListIntegrations(ctx context.Context) ([]Integration, error)

	// CreateKey stores k after NewKey.Validate; a zero CreatedAt means
	// now. It fails with ErrUnknownIntegration when k.IntegrationID does
	// not exist, and when the id or the hash is taken.
	CreateKey(ctx context.Context, k NewKey) error
	// ListKeys returns the keys that match f, never deleted ones, ordered
	// by creation time, then id.
	ListKeys(ctx context.Context, f KeyFilter) ([]Key, error)
	// RevokeKey marks the key revoked at `at` (now when zero) and returns
	// its record; it fails with ErrNotFound or ErrAlreadyRevoked, and a
	// key revoked already keeps its first revocation time.
	RevokeKey(ctx context.Context, id string, at time.Time) (Key, error)

	// GetKey returns the record of the key with this id; a deleted or
	// unknown key fails with ErrNotFound.
	GetKey(ctx context.Context, id string) (Key, error)
	// RotateKey, in one transaction, stores next (which must have the
	// name and integration of the key with id old) and sets the old key's
	// expires_at to oldExpires, or keeps its own if that is earlier. It
	// returns the old key's updated record, and fails with ErrNotFound
	// (unknown or deleted) or ErrAlreadyRevoked, storing nothing.
	RotateKey(ctx context.Context, old string, next NewKey, oldExpires time.Time) (Key, error)
	// DeleteKey soft-deletes the key at `at` (now when zero): it is gone from listings and
	// GetKey, and LookupCredential reports it revoked. It returns the
	// record as it was, and fails with ErrNotFound for an unknown or
	// deleted key.
	DeleteKey(ctx context.Context, id string, at time.Time) (Key, error)
	// TouchKeys records uses: each key's last_used_at becomes its Use's
	// Last unless it is later already, and its Requests are added to the
	// count of the UsageBucket that Last falls in; counts older than
	// UsageRetention before the latest Last are removed. It never touches
	// the change feed and runs in one statement (or one transaction) per
	// call, never one per key. Unknown ids are ignored.
	TouchKeys(ctx context.Context, uses map[string]Use) error
	// KeyUsage returns the request counts of key id in the buckets that
	// start at or after since, oldest first; buckets without requests are
	// left out.
	KeyUsage(ctx context.Context, id string, since time.Time) ([]UsageCount, error)

	// AppendAudit stores an audit entry (its ID is assigned by the store
	// and returned).
	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	// ListAudit returns the entries that match f, newest first, at most
	// f.EffectiveLimit() of them.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	// SetIntegrationURL changes an integration's base URL (normalized as
	// by Integration.Normalize) and returns it; ErrNotFound when unknown.
	SetIntegrationURL(ctx context.Context, id, baseURL string) (Integration, error)
	// RemoveIntegration removes the integration and, for good, every key of
	// it, in one transaction, and returns how many keys were removed. It
	// fails with ErrNotFound, or with ErrIntegrationInUse when it has keys
	// active at now (neither revoked, expired nor deleted) unless force.
	RemoveIntegration(ctx context.Context, id string, force bool, now time.Time) (int, error)
	// GetIntegration returns the integration with this id, or fails with
	// ErrNotFound.
	GetIntegration(ctx context.Context, id string) (Integration, error)
	// SetIntegrationRotation changes an integration's Rotation and returns
	// it; ErrNotFound when unknown.
	SetIntegrationRotation(ctx context.Context, id string, r Rotation) (Integration, error)

	SigningKeyStore

	Close()
}
