package keystore

import "crypto/sha256"

// IDHash is where a cache keeps the credential of the key with this id
// when it is looked up by id, as the parent key of an access token is: in
// the same cache as keys by their hash, so that the same invalidations
// (ApplyFeed invalidates both), DropAll and stale bound apply. Its
// preimage cannot be a key.
func IDHash(id string) Hash { return sha256.Sum256([]byte("keygate key id\x00" + id)) }
