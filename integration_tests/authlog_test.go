package integration_tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// authLogger is the logger of keygate's auth log.
const authLogger = "http.handlers.keygate"

// logEntry is one JSON line of a gateway's log.
type logEntry map[string]any

// str returns a string field, or "" when it is missing or not a string.
func (e logEntry) str(field string) string {
	s, _ := e[field].(string)
	return s
}

// logEntries parses every line of the gateway's log, failing t on any
// line that is not a JSON object (without showing it: it may hold a key).
func (g *gateway) logEntries(t *testing.T) []logEntry {
	t.Helper()
	data, err := os.ReadFile(g.LogPath)
	if err != nil {
		t.Fatalf("reading the gateway log: %v", err)
	}
	var entries []logEntry
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e logEntry
		if err := json.Unmarshal(line, &e); err != nil {
			// The last line may be still being written.
			if i == bytes.Count(data, []byte("\n")) {
				continue
			}
			t.Fatalf("gateway log line %d is not a JSON object: %v", i+1, err)
		}
		entries = append(entries, e)
	}
	return entries
}

// authEntry waits for the auth log entry of the request to uri and
// returns it; there must be exactly one.
func (g *gateway) authEntry(t *testing.T, uri string) logEntry {
	t.Helper()
	var found []logEntry
	poll.Until(t, 10*time.Second, "auth log entry for "+uri, func() (bool, string) {
		found = found[:0]
		for _, e := range g.logEntries(t) {
			if e.str("logger") == authLogger && e.str("uri") == uri {
				found = append(found, e)
			}
		}
		return len(found) > 0, fmt.Sprintf("no %s entry with uri %q", authLogger, uri)
	})
	if len(found) != 1 {
		t.Errorf("%d auth log entries for %s, want 1", len(found), uri)
	}
	return found[0]
}
