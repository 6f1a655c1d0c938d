package portal

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

func TestGatewaysPageListsTheFleet(t *testing.T) {
	h := newHarness(t)
	seen := testNow.Add(-1500 * time.Millisecond)
	h.ops.fleet = keystore.Fleet{Now: testNow, Head: 42, Gateways: []keystore.Gateway{
		{Instance: keystore.Instance{ID: "gw-a1", Hostname: "edge-1", Version: "v1.2.3"}, AppliedSeq: 42, LastSeen: seen, Live: true},
		{Instance: keystore.Instance{ID: "gw-b2", Hostname: "edge-2", Version: "v1.2.2"}, AppliedSeq: 39, LastSeen: testNow.Add(-time.Hour)},
	}}
	resp, body := h.get("/gateways")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gateways page: %d", resp.StatusCode)
	}
	rows := regexp.MustCompile(`(?s)<tr>\s*<td><code>([^<]+)</code></td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td><span class="status [^"]+">(live|stale)</span></td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>\s*<td>([^<]+)</td>`).FindAllStringSubmatch(body, -1)
	want := [][]string{
		{"gw-a1", "edge-1", "v1.2.3", "live", "42", "0", when(seen) + " (1.5s ago)"},
		{"gw-b2", "edge-2", "v1.2.2", "stale", "39", "3", when(testNow.Add(-time.Hour)) + " (1h0m0s ago)"},
	}
	if len(rows) != len(want) {
		t.Fatalf("gateways page lists %d gateways, want %d:\n%s", len(rows), len(want), body)
	}
	for i, w := range want {
		if got := rows[i][1:]; strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("row %d = %q, want %q", i, got, w)
		}
	}
	if !strings.Contains(body, "1 live of 2; the change feed is at sequence 42.") ||
		!strings.Contains(body, `href="/portal/gateways" aria-current="page"`) {
		t.Errorf("gateways page lacks its summary or its current nav link")
	}
	h.ops.fleet = keystore.Fleet{}
	if _, body := h.get("/gateways"); !strings.Contains(body, "No gateway has recorded itself") {
		t.Errorf("an empty fleet is not said so")
	}
}

func TestUnconfirmedRevocationNamesTheGatewaysBehind(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	h.post("/integrations/weather/connect", url.Values{"name": {"ci"}})
	k := h.ops.keys[0]
	h.ops.confirmation = &Confirmation{Live: 3, Confirmed: 1, Took: 5 * time.Second, Missing: []string{"gw-b2 (edge-2)", "gw-c3 (edge-3)"}}
	resp, _ := h.post("/keys/"+k.ID+"/revoke", url.Values{})
	_, body := h.get(strings.TrimPrefix(resp.Header.Get("Location"), "/portal"))
	if !strings.Contains(body, "Refused by 1/3 gateways after 5000 ms; not yet applied by:") ||
		!strings.Contains(body, "<li>gw-b2 (edge-2)</li><li>gw-c3 (edge-3)</li>") || !strings.Contains(body, `role="alert"`) {
		t.Errorf("the key page does not name the gateways that have not confirmed:\n%s", body)
	}
}

func TestDeleteAndRotateNowShowTheConfirmation(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	h.post("/integrations/weather/connect", url.Values{"name": {"ci"}})
	resp, body := h.post("/keys/"+h.ops.keys[0].ID+"/rotate", url.Values{"grace": {"0"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Refused by 2/2 gateways in 3 ms") {
		t.Errorf("rotating with grace 0 does not show the confirmation: %d", resp.StatusCode)
	}
	resp, _ = h.post("/keys/"+h.ops.keys[1].ID+"/rotate", url.Values{"grace": {"1h"}})
	if _, body := h.get("/keys/" + h.ops.keys[1].ID); resp.StatusCode != http.StatusOK || strings.Contains(body, "revocation-result") {
		t.Errorf("a rotation with a grace shows a confirmation")
	}
	resp, _ = h.post("/keys/"+h.ops.keys[0].ID+"/delete", url.Values{})
	_, body = h.get(strings.TrimPrefix(resp.Header.Get("Location"), "/portal"))
	if !strings.Contains(body, "Key deleted.") || !strings.Contains(body, "Refused by 2/2 gateways in 3 ms") {
		t.Errorf("the page after a delete does not show the confirmation")
	}
	// Without a notice, counts in a URL are not shown as a confirmation.
	if _, body := h.get("/keys/" + h.ops.keys[0].ID + "?live=1&confirmed=1&ms=1"); strings.Contains(body, "revocation-result") {
		t.Errorf("a URL alone shows a confirmation")
	}
}
