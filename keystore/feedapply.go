package keystore

import "go.uber.org/zap"

// FeedChange is one row of a store's change feed: the change of one key,
// whose hash KeyHash holds, or one that may affect every cached key, such
// as an integration's (KeyHash empty).
type FeedChange struct {
	Seq           int64
	KeyID         string
	KeyHash       []byte
	IntegrationID string
	Op            string
}

// ApplyFeed applies one read of a store's change feed to v, as every
// Follower does, and returns the sequence it applied through. last is the
// sequence the follower had applied through; pruned the one through which
// the store pruned its feed. If the feed was pruned past last, the
// follower missed changes: the whole cache is dropped. Then each change,
// in order: a key's invalidates that key's hash, any other drops the whole
// cache.
func ApplyFeed(v Cache, log *zap.Logger, last, pruned int64, changes []FeedChange) int64 {
	if pruned > last {
		log.Warn("change feed pruned past this instance's position; dropping the key cache",
			zap.Int64("seq", last), zap.Int64("pruned_through", pruned))
		v.DropAll()
		last = pruned
	}
	for _, c := range changes {
		if len(c.KeyHash) == len(Hash{}) {
			v.Invalidate(Hash(c.KeyHash))
			if c.KeyID != "" {
				v.Invalidate(IDHash(c.KeyID)) // the key's access tokens
			}
			if ce := log.Check(zap.DebugLevel, "key changed"); ce != nil {
				ce.Write(zap.Int64("seq", c.Seq), zap.String("op", c.Op), zap.String("key_id", c.KeyID))
			}
		} else {
			v.DropAll()
			log.Info("integration changed; dropping the key cache",
				zap.Int64("seq", c.Seq), zap.String("op", c.Op), zap.String("integration", c.IntegrationID))
		}
		last = c.Seq
	}
	return last
}
