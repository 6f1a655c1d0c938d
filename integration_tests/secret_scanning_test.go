package integration_tests

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/keystore/secretscan/secretscantest"
)

// TestSecretScanningReadmeSnippet runs README's secret-scanning Caddyfile
// with the real binary, on both stores, as a partner would call it: with
// reports signed by real P-256 keys. A good GitHub report revokes the
// leaked key, which the very next request through the gateway finds
// refused (this instance dropped it from its cache before answering); an
// unsigned one changes nothing; a replay changes nothing more; GitLab's
// headers work too; an oversized body gets 413. README's pattern for the
// partner matches real keys.
func TestSecretScanningReadmeSnippet(t *testing.T) {
	t.Parallel()
	section := readmeSection(t, "## Secret scanning: leaked keys revoke themselves")
	bare := fencedBlocks(section, "")
	snippets := fencedBlocks(section, "caddyfile")
	if len(bare) == 0 || len(snippets) == 0 {
		t.Fatal("README's secret-scanning section lacks the pattern or the Caddyfile")
	}
	pattern := regexp.MustCompile(strings.TrimSpace(bare[0]))

	onBothStores(t, func(t *testing.T, _ string, h *harness) {
		up := newUpstream(t)
		h.addIntegration("echo", up.URL+"/v1")
		leaked, other := h.createKey("echo", "ci runner"), h.createKey("echo", "deploy")
		if found := pattern.FindString("TOKEN=" + leaked.Key + "\n"); found != leaked.Key {
			t.Errorf("README's pattern %s does not match a real key", pattern)
		}

		github := secretscantest.NewPartner(t, "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c", elliptic.P256())
		gitlab := secretscantest.NewPartner(t, "6917d7584f0fa65c8c33df5ab20f54dfb9a6e6ae", elliptic.P256())
		keysPath := filepath.Join(t.TempDir(), "partner-keys.json")
		secretscantest.WriteKeysFile(t, keysPath, github, gitlab)
		g := startSnippet(t, h, snippets[0], "api.example.com", "/etc/keygate/partner-keys.json", keysPath)
		const hook = "/.well-known/keygate/secret-scanning"
		post := func(body []byte, sign func(*http.Request)) response {
			return g.request(t, http.MethodPost, hook, "", func(r *http.Request) {
				withBody(string(body))(r)
				r.Header.Set("Content-Type", "application/json")
				sign(r)
			})
		}

		if r := g.get(t, "/hello", leaked.Key); r.status != http.StatusOK {
			t.Fatalf("the key before the report: status %d, want 200", r.status)
		}
		report := secretscantest.Report(t,
			map[string]string{"token": leaked.Key, "type": "keygate_api_key", "url": "https://github.com/octocat/Hello-World/blob/1234/.env", "source": "content"},
			map[string]string{"token": "kg_notakey", "type": "keygate_api_key", "url": "", "source": "commit"},
		)

		stranger := secretscantest.NewPartner(t, github.ID, elliptic.P256())
		if r := post(report, func(r *http.Request) { stranger.SignRequest(t, r, "Github", report) }); r.status != http.StatusUnauthorized || r.errorBody(t) == "" {
			t.Errorf("a report signed by another key: status %d, want 401 with an error", r.status)
		}
		if r := post(report, func(*http.Request) {}); r.status != http.StatusUnauthorized {
			t.Errorf("an unsigned report: status %d, want 401", r.status)
		}
		if r := g.get(t, "/hello", leaked.Key); r.status != http.StatusOK {
			t.Fatalf("the key after refused reports: status %d, want 200", r.status)
		}

		first := post(report, func(r *http.Request) { github.SignRequest(t, r, "Github", report) })
		var fb []map[string]string
		if first.status != http.StatusOK || json.Unmarshal(first.body, &fb) != nil || len(fb) != 2 ||
			fb[0]["label"] != "true_positive" || fb[1]["label"] != "false_positive" {
			t.Fatalf("GitHub's report: status %d, feedback %v; want 200, true_positive then false_positive", first.status, fb)
		}
		// No poll: the revocation committed and this instance dropped
		// the key before it answered.
		if r := g.get(t, "/hello", leaked.Key); r.status != http.StatusUnauthorized {
			t.Errorf("the leaked key right after the report: status %d, want 401", r.status)
		}
		replay := post(report, func(r *http.Request) { github.SignRequest(t, r, "Github", report) })
		if replay.status != http.StatusOK || !bytes.Equal(replay.body, first.body) {
			t.Errorf("the replayed report: status %d, want 200 and the same feedback", replay.status)
		}

		glReport := []byte(fmt.Sprintf(`[{"type": "keygate_api_key", "token": %q, "url": "https://gitlab.example.com/g/p/-/raw/abc/app.env"}]`, other.Key))
		if r := post(glReport, func(r *http.Request) { gitlab.SignRequest(t, r, "Gitlab", glReport) }); r.status != http.StatusOK {
			t.Errorf("GitLab's report: status %d, want 200", r.status)
		}
		if r := g.get(t, "/hello", other.Key); r.status != http.StatusUnauthorized {
			t.Errorf("the key GitLab reported: status %d, want 401", r.status)
		}

		huge := bytes.Repeat([]byte(" "), 1<<20+1)
		if r := post(huge, func(r *http.Request) { github.SignRequest(t, r, "Github", huge) }); r.status != http.StatusRequestEntityTooLarge {
			t.Errorf("a body over 1 MiB: status %d, want 413", r.status)
		}

		actors := map[string]int{}
		for _, e := range g.logEntries(t) {
			if e.str("logger") == "keygate.audit" && e.str("action") == "key revoked" {
				actors[e.str("actor")+" "+e.str("key_id")]++
			}
		}
		want := map[string]int{"secret-scanning:github " + leaked.ID: 1, "secret-scanning:gitlab " + other.ID: 1}
		if fmt.Sprint(actors) != fmt.Sprint(want) {
			t.Errorf("audited revocations %v, want %v: one per leaked key, none for the replay", actors, want)
		}
	})
}
