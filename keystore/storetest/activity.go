package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

// testUsageCounts checks that TouchKeys adds request counts to the
// bucket of each use, for known keys only, and that KeyUsage reads them.
func testUsageCounts(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	a, b := NewKey(t, "weather", "a", baseTime), NewKey(t, "weather", "b", baseTime)
	mustCreateKey(t, s, a)
	mustCreateKey(t, s, b)
	start := keystore.BucketStart(baseTime)
	next := start.Add(keystore.UsageBucket)
	flushes := []map[string]keystore.Use{
		{a.ID: {Last: start.Add(time.Second), Requests: 3}, b.ID: {Last: start, Requests: 1}},
		{a.ID: {Last: start.Add(2 * time.Second), Requests: 4}},
		{a.ID: {Last: next.Add(time.Second), Requests: 5}, "kid_unknown": {Last: next, Requests: 9}},
		{b.ID: {Last: next, Requests: 0}}, // a use already counted: no count
	}
	for _, f := range flushes {
		if err := s.TouchKeys(ctx(t), f); err != nil {
			t.Fatalf("TouchKeys: %v", err)
		}
	}
	got, err := s.KeyUsage(ctx(t), a.ID, start)
	want := []keystore.UsageCount{{Start: start, Requests: 7}, {Start: next, Requests: 5}}
	if err != nil || !sameCounts(got, want) {
		t.Fatalf("KeyUsage(a) = %v, %v; want %v", got, err, want)
	}
	if got, _ := s.KeyUsage(ctx(t), a.ID, next); !sameCounts(got, want[1:]) {
		t.Errorf("KeyUsage(a, since the second bucket) = %v, want %v", got, want[1:])
	}
	if got, _ := s.KeyUsage(ctx(t), b.ID, start); !sameCounts(got, []keystore.UsageCount{{Start: start, Requests: 1}}) {
		t.Errorf("KeyUsage(b) = %v, want 1 request in the first bucket", got)
	}
	if got, err := s.KeyUsage(ctx(t), "kid_unknown", start); err != nil || len(got) != 0 {
		t.Errorf("an unknown key has usage %v, %v", got, err)
	}
}

// testUsageRetention checks that a flush prunes the buckets older than
// UsageRetention before its latest use.
func testUsageRetention(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "a", baseTime)
	mustCreateKey(t, s, k)
	old := keystore.BucketStart(baseTime)
	kept := old.Add(keystore.UsageBucket)
	for _, at := range []time.Time{old, kept} {
		if err := s.TouchKeys(ctx(t), map[string]keystore.Use{k.ID: {Last: at, Requests: 2}}); err != nil {
			t.Fatal(err)
		}
	}
	later := kept.Add(keystore.UsageRetention)
	if err := s.TouchKeys(ctx(t), map[string]keystore.Use{k.ID: {Last: later, Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.KeyUsage(ctx(t), k.ID, time.Time{})
	want := []keystore.UsageCount{{Start: kept, Requests: 2}, {Start: later, Requests: 1}}
	if err != nil || !sameCounts(got, want) {
		t.Fatalf("after a flush %v later, usage = %v, %v; want %v", keystore.UsageRetention, got, err, want)
	}
}

// testUsageRemovedWithKeys checks that removing an integration for good
// removes its keys' counts.
func testUsageRemovedWithKeys(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "a", baseTime)
	mustCreateKey(t, s, k)
	if err := s.TouchKeys(ctx(t), map[string]keystore.Use{k.ID: {Last: baseTime, Requests: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveIntegration(ctx(t), "weather", true, baseTime); err != nil {
		t.Fatal(err)
	}
	if got, err := s.KeyUsage(ctx(t), k.ID, time.Time{}); err != nil || len(got) != 0 {
		t.Fatalf("a removed key's usage: %v, %v", got, err)
	}
}

func sameCounts(got, want []keystore.UsageCount) bool {
	return slices.EqualFunc(got, want, func(a, b keystore.UsageCount) bool {
		return a.Requests == b.Requests && a.Start.Equal(b.Start)
	})
}

// testAudit checks that entries come back newest first, filtered and
// paged, with their details.
func testAudit(t *testing.T, s keystore.Store) {
	entries := []keystore.AuditEntry{
		{At: baseTime, Actor: "alice", Action: "integration added", IntegrationID: "weather",
			Details: json.RawMessage(`{"base_url": "https://weather.example.com"}`)},
		{At: baseTime.Add(time.Second), Actor: "alice", Action: "key created", KeyID: "kid_a", IntegrationID: "weather"},
		{At: baseTime.Add(2 * time.Second), Actor: "bob", Action: "key revoked", KeyID: "kid_a", IntegrationID: "weather"},
		{At: baseTime.Add(3 * time.Second), Actor: "bob", Action: "key created", KeyID: "kid_b", IntegrationID: "billing"},
	}
	var ids []int64
	for _, e := range entries {
		id, err := s.AppendAudit(ctx(t), e)
		if err != nil {
			t.Fatalf("AppendAudit(%s): %v", e.Action, err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Fatalf("audit ids %v then %d: not increasing", ids, id)
		}
		ids = append(ids, id)
	}
	list := func(f keystore.AuditFilter) []string {
		t.Helper()
		got, err := s.ListAudit(ctx(t), f)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", f, err)
		}
		out := make([]string, len(got))
		for i, e := range got {
			out[i] = fmt.Sprintf("%s %s %s", e.Actor, e.Action, e.KeyID)
		}
		return out
	}
	for _, tc := range []struct {
		filter keystore.AuditFilter
		want   []string
	}{
		{keystore.AuditFilter{}, []string{"bob key created kid_b", "bob key revoked kid_a", "alice key created kid_a", "alice integration added "}},
		{keystore.AuditFilter{KeyID: "kid_a"}, []string{"bob key revoked kid_a", "alice key created kid_a"}},
		{keystore.AuditFilter{IntegrationID: "weather", Actor: "bob"}, []string{"bob key revoked kid_a"}},
		{keystore.AuditFilter{Actor: "carol"}, []string{}},
		{keystore.AuditFilter{Limit: 2}, []string{"bob key created kid_b", "bob key revoked kid_a"}},
		{keystore.AuditFilter{Limit: 2, Before: ids[2]}, []string{"alice key created kid_a", "alice integration added "}},
	} {
		if got := list(tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("ListAudit(%+v) = %q, want %q", tc.filter, got, tc.want)
		}
	}
	got, err := s.ListAudit(ctx(t), keystore.AuditFilter{IntegrationID: "weather", Limit: 1, Before: ids[1]})
	if err != nil || len(got) != 1 {
		t.Fatalf("the first entry: %+v, %v", got, err)
	}
	e := got[0]
	var details map[string]string
	if err := json.Unmarshal(e.Details, &details); err != nil || details["base_url"] != "https://weather.example.com" {
		t.Errorf("details = %s (%v)", e.Details, err)
	}
	if e.ID != ids[0] || !sameTime(e.At, baseTime) || e.KeyID != "" || e.IntegrationID != "weather" {
		t.Errorf("entry = %+v", e)
	}
	if _, err := s.AppendAudit(ctx(t), keystore.AuditEntry{Actor: "x", Action: "y", Details: json.RawMessage(`{`)}); err == nil {
		t.Errorf("an entry with invalid JSON details was stored")
	}
}

// testListKeysPage checks that Limit and Offset page a listing in its
// order.
func testListKeysPage(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	mustCreateIntegration(t, s, "billing", "https://billing.example.com")
	var all []string
	for i := range 7 {
		k := NewKey(t, "weather", fmt.Sprintf("k%d", i), baseTime.Add(time.Duration(i)*time.Second))
		mustCreateKey(t, s, k)
		all = append(all, k.ID)
		mustCreateKey(t, s, NewKey(t, "billing", "other", baseTime))
	}
	for _, tc := range []struct{ limit, offset, from, to int }{
		{3, 0, 0, 3}, {3, 3, 3, 6}, {3, 6, 6, 7}, {3, 9, 7, 7}, {0, 2, 0, 7},
	} {
		got := keyIDs(mustListKeys(t, s, keystore.KeyFilter{IntegrationID: "weather", Limit: tc.limit, Offset: tc.offset}))
		if !slices.Equal(got, all[tc.from:tc.to]) {
			t.Errorf("limit %d offset %d: %v, want %v", tc.limit, tc.offset, got, all[tc.from:tc.to])
		}
	}
	if _, err := s.GetKey(ctx(t), "kid_nope"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("GetKey of an unknown id: %v", err)
	}
}
