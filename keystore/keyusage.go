package keystore

import "time"

// UsageBucket is the width of the time buckets in which the key store
// counts each key's requests.
const UsageBucket = 5 * time.Minute

// UsageRetention is how long the per-bucket request counts are kept: each
// TouchKeys removes the buckets older than that before its latest use.
const UsageRetention = 7 * 24 * time.Hour

// Use is what TouchKeys records of one key: its latest use, and how many
// requests it served since the last flush, counted in the bucket of Last.
type Use struct {
	Last     time.Time
	Requests int64
}

// UsageCount is the number of requests of one key in the bucket that
// starts at Start.
type UsageCount struct {
	Start    time.Time `json:"start"`
	Requests int64     `json:"requests"`
}

// BucketStart returns the start of the usage bucket t falls in, in UTC.
func BucketStart(t time.Time) time.Time { return t.UTC().Truncate(UsageBucket) }
