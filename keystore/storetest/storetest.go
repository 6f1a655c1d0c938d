// Package storetest is the conformance suite every keystore.Store
// implementation must pass, and RunFeed the one of every store that keeps
// a change feed (keystore.Follower).
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) keystore.Store { return openEmptyStore(t) })
//	}
//
//	func TestFeedConformance(t *testing.T) {
//		storetest.RunFeed(t, func(t *testing.T) keystore.Store { return openEmptyStore(t) })
//	}
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

// Run runs the suite, one subtest per behaviour, in parallel. open must
// return a new, empty store for each subtest, may be called concurrently,
// and should close the store when t ends.
func Run(t *testing.T, open func(t *testing.T) keystore.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s keystore.Store)
	}{
		{"Integrations/CreateAndList", testCreateAndListIntegrations},
		{"Integrations/Duplicate", testDuplicateIntegration},
		{"Integrations/InvalidID", testInvalidIntegrationID},
		{"Integrations/InvalidBaseURL", testInvalidBaseURL},
		{"Keys/UnknownIntegration", testKeyForUnknownIntegration},
		{"Keys/DuplicateHash", testDuplicateHash},
		{"Keys/DuplicateID", testDuplicateKeyID},
		{"Keys/Invalid", testInvalidKey},
		{"Keys/ListFilter", testListKeysFilter},
		{"Keys/TimestampsRoundTrip", testTimestampsRoundTrip},
		{"Keys/Concurrent", testConcurrentCreate},
		{"Lookup/Joined", testLookupJoined},
		{"Lookup/Expiry", testLookupExpiry},
		{"Lookup/Unknown", testLookupUnknown},
		{"Revoke/ThenLookup", testRevokeThenLookup},
		{"Revoke/Twice", testRevokeTwice},
		{"Revoke/Unknown", testRevokeUnknown},
		{"Get/KnownUnknownDeleted", testGetKey},
		{"Rotate/Grace", testRotateGrace},
		{"Rotate/KeepsEarlierExpiry", testRotateKeepsEarlierExpiry},
		{"Rotate/RevokedUnknownDeleted", testRotateRefused},
		{"Delete/HidesAndRefuses", testDeleteKey},
		{"Touch/OnlyForward", testTouchKeys},
		{"Touch/Many", testTouchMany},
		{"Integrations/SetURL", testSetIntegrationURL},
		{"Integrations/Remove", testRemoveIntegration},
		{"Fleet/RecordAndList", testFleetRecordAndList},
		{"Fleet/Stale", testFleetStale},
		{"Fleet/Confirm", testFleetConfirm},
		{"Fleet/FollowAs", testFleetFollowAs},
		{"Keys/ExchangeOnlyAndRotation", testExchangeOnlyAndRotation},
		{"Lookup/ByID", testLookupByID},
		{"Integrations/Rotation", testIntegrationRotation},
		{"SigningKeys/RoundTrip", testSigningKeysRoundTrip},
		{"SigningKeys/OneWinner", testSigningKeysOneWinner},
		{"SigningKeys/Prune", testSigningKeysPrune},
		{"Usage/Counts", testUsageCounts},
		{"Usage/Retention", testUsageRetention},
		{"Usage/RemovedWithKeys", testUsageRemovedWithKeys},
		{"Audit/FilterAndPage", testAudit},
		{"Keys/ListPage", testListKeysPage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// ctx bounds one store call of a test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// baseTime is a creation time with nanoseconds, which stores may
// truncate to microseconds, in a zone other than UTC.
var baseTime = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+2", 2*3600))

// sameTime reports whether a and b are the same instant to the
// microsecond.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

func mustCreateIntegration(t *testing.T, s keystore.Store, id, baseURL string) {
	t.Helper()
	if err := s.CreateIntegration(ctx(t), keystore.Integration{ID: id, BaseURL: baseURL, CreatedAt: baseTime}); err != nil {
		t.Fatalf("creating integration %s: %v", id, err)
	}
}

// NewKey returns a record for a fresh key of integration: a new id, the
// hash of a newly generated key, name, and created as its creation time
// (zero: the store's now).
func NewKey(t testing.TB, integration, name string, created time.Time) keystore.NewKey {
	t.Helper()
	id, err := keystore.NewKeyID(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, hash, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return keystore.NewKey{
		Key:  keystore.Key{ID: id, Name: name, IntegrationID: integration, CreatedAt: created},
		Hash: hash,
	}
}

func mustCreateKey(t *testing.T, s keystore.Store, k keystore.NewKey) {
	t.Helper()
	if err := s.CreateKey(ctx(t), k); err != nil {
		t.Fatalf("creating key %s: %v", k.ID, err)
	}
}

func mustListKeys(t *testing.T, s keystore.Store, f keystore.KeyFilter) []keystore.Key {
	t.Helper()
	keys, err := s.ListKeys(ctx(t), f)
	if err != nil {
		t.Fatalf("listing keys: %v", err)
	}
	return keys
}

func keyIDs(keys []keystore.Key) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}
