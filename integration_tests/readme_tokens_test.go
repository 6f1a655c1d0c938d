package integration_tests

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTokensAndRollingReadme runs README's "Short-lived tokens" and
// "Automatic rolling" sections as written, on both stores: the site with
// keygate_token, keygate_jwks and keygate_rotate (put last, as README
// says it is ordered ahead of keygate), the rotation commands, curl, the
// Go client (on one store: it is the same code), `credential token` and
// `credential rotate`; and the systemd timer and install lines agree with
// deploy/.
func TestTokensAndRollingReadme(t *testing.T) {
	t.Parallel()
	tokens := readmeSection(t, "## Short-lived tokens")
	rolling := readmeSection(t, "## Automatic rolling")
	site := onlyBlock(t, tokens, "caddyfile")
	end := strings.LastIndex(site, "}")
	site = site[:end] + "\t" + strings.TrimSpace(onlyBlock(t, rolling, "caddyfile")) + "\n" + site[end:]
	shBlocks := fencedBlocks(rolling, "sh")
	if len(shBlocks) != 3 {
		t.Fatalf("README's rolling section has %d sh blocks, want 3: the commands, credential rotate, the install", len(shBlocks))
	}
	checkTimerReadme(t, onlyBlock(t, rolling, "ini"), shBlocks[2])

	onBothStores(t, func(t *testing.T, name string, h *harness) {
		up := newUpstream(t)
		h.addIntegration("billing", up.URL+"/v1")
		g := startSnippet(t, h, site, "example.com")
		sh := func(line string, env ...string) string {
			t.Helper()
			line = strings.ReplaceAll(line, "https://example.com", g.URL)
			res := runCommand(t, "sh", []string{"-c", line}, func(cmd *exec.Cmd) {
				cmd.Env = append(processEnv(t), append([]string{
					"PATH=" + filepath.Dir(keygateBin) + ":" + os.Getenv("PATH"),
					"KEYGATE_DATABASE_URL=" + h.dbURL,
				}, append(h.env, env...)...)...)
			})
			if res.code != 0 || h.leaks(res.stderr) {
				t.Fatalf("README's %q: exit code %d, stderr:\n%s", firstWords(line), res.code, h.shown(res.stderr))
			}
			return res.stdout
		}

		cron := readmeRotationCommands(t, h, shBlocks[0], sh)
		keyFile := writeKeyFile(t, cron.Key)
		rotateLine := strings.ReplaceAll(strings.TrimSpace(shBlocks[1]), "/etc/keygate-credentials/billing.key", keyFile)
		if out := sh(rotateLine); !strings.HasPrefix(out, "not due: key "+cron.ID+" is due at ") {
			t.Errorf("credential rotate on the 30d key: %q, want not due", out)
		}
		if readKeyFile(t, keyFile) != cron.Key {
			t.Fatal("credential rotate changed the key file of a key not due")
		}

		// On PostgreSQL, where the test can age the key: the same
		// command on the key once it is due rolls it, with the
		// integration's grace of 1h, and the file holds the new key.
		if name == "postgres" {
			h.execSQL(`UPDATE keygate_keys SET created_at = now() - interval '31 days' WHERE id = $1`, cron.ID)
			out := sh(rotateLine)
			newID, ok := strings.CutPrefix(strings.TrimSpace(out), "rolled: "+keyFile+" now holds key ")
			if !ok {
				t.Fatalf("credential rotate on the due key: %q, want rolled", out)
			}
			old := cron
			cron = createdKey{ID: newID, Key: readKeyFile(t, keyFile)}
			h.remember(cron.Key)
			if e := g.get(t, "/v1/new-key", cron.Key).echoed(t); e.Header.Get("X-Keygate-Key-Id") != newID {
				t.Errorf("the new key reached the upstream as %q, want %s", e.Header.Get("X-Keygate-Key-Id"), newID)
			}
			g.get(t, "/v1/old-key-in-grace", old.Key).echoed(t)
			// README's jq filter finds the key rolled from a leaked one.
			filter := strings.ReplaceAll(readmeInline(t, rolling, "jq -c "), "kid_…", old.ID)
			if got := strings.TrimSpace(sh(filter + " " + g.LogPath)); got != `"`+newID+`"` {
				t.Errorf("README's jq filter for keys rolled from %s printed %q, want %q", old.ID, got, `"`+newID+`"`)
			}
			for _, k := range h.listKeys("--integration", "billing") {
				if k.ID == old.ID && (k.ExpiresAt == nil || time.Until(*k.ExpiresAt) < 50*time.Minute || time.Until(*k.ExpiresAt) > time.Hour) {
					t.Errorf("the rolled key expires at %v, want in the integration's grace of 1h", k.ExpiresAt)
				}
			}
		}

		// A token from `credential token`, cached beside the key file.
		tokenLine := readmeInline(t, tokens, "keygate credential token ")
		tokenLine = strings.ReplaceAll(tokenLine, "/etc/billing.key", keyFile)
		tok := strings.TrimSpace(sh(tokenLine))
		h.remember(tok)
		if e := g.get(t, "/v1/with-credential-token", tok).echoed(t); e.Header.Get("X-Keygate-Key-Id") != cron.ID {
			t.Errorf("the token of credential token reached the upstream as key %q, want %s", e.Header.Get("X-Keygate-Key-Id"), cron.ID)
		}
		if again := strings.TrimSpace(sh(tokenLine)); again != tok {
			t.Error("credential token run again got a new token, want the cached one")
		}
		if fi, err := os.Stat(keyFile + ".token"); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("the token cache: %v, %v; want mode 0600", fi, err)
		}

		// curl, with the key id and key README's way.
		curl := strings.ReplaceAll(onlyBlock(t, strings.SplitN(tokens, "With curl:", 2)[1], "sh"), "kid_…", cron.ID)
		var answer struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int    `json:"expires_in"`
		}
		if err := json.Unmarshal([]byte(sh(curl, "KEYGATE_KEY="+cron.Key)), &answer); err != nil || answer.TokenType != "Bearer" || answer.ExpiresIn != 900 {
			t.Fatalf("README's curl: %v, token_type %q, expires_in %d; want a Bearer token for 15m", err, answer.TokenType, answer.ExpiresIn)
		}
		h.remember(answer.AccessToken)
		g.get(t, "/v1/with-curl-token", answer.AccessToken).echoed(t)

		if r := g.get(t, "/.well-known/jwks.json", ""); r.status != http.StatusOK || !strings.Contains(string(r.body), `"kty":"OKP"`) {
			t.Errorf("README's JWKS route: status %d, want the key set", r.status)
		}
		if name == "postgres" {
			runReadmeGoClient(t, h, tokens, g, cron)
		}
	})
}

// readmeRotationCommands runs README's rotation commands (keys create
// --rotate-every 30d, integrations set-rotation, keys list) and returns
// the key created, read from the command's human output.
func readmeRotationCommands(t *testing.T, h *harness, block string, sh func(string, ...string) string) createdKey {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(block), "\n")
	if len(lines) != 4 {
		t.Fatalf("README's rotation commands: %d lines, want keys create, integrations set-rotation, keys list, integrations list", len(lines))
	}
	created := sh(lines[0])
	k := createdKey{ID: regexp.MustCompile(`\bkid_[0-9A-Za-z]+`).FindString(created), Key: regexp.MustCompile(`\bkg_[0-9A-Za-z]{49}\b`).FindString(created)}
	h.remember(k.Key)
	if k.ID == "" || k.Key == "" {
		t.Fatal("README's keys create printed no key id or no key")
	}
	if out := sh(lines[1]); !strings.Contains(out, "every 90d") || !strings.Contains(out, "keeps working 1h.") {
		t.Errorf("README's set-rotation said %q, want the 90d period and the 1h grace", out)
	}
	integrations := strings.Split(strings.TrimSpace(sh(lines[3])), "\n")
	if row := strings.Fields(integrations[len(integrations)-1]); len(integrations) != 2 || !strings.HasSuffix(strings.TrimSpace(integrations[0]), "ROTATE EVERY  ROTATE GRACE") ||
		strings.Join(row[len(row)-2:], " ") != "90d 1h" {
		t.Errorf("README's integrations list printed %q, want ROTATE EVERY 90d and ROTATE GRACE 1h", integrations)
	}
	list := strings.Split(strings.TrimSpace(sh(lines[2])), "\n")
	if len(list) != 2 || !strings.HasSuffix(strings.TrimSpace(list[0]), "ROTATE DUE") {
		t.Fatalf("README's keys list: %d lines, header %q; want a ROTATE DUE column and the key", len(list), list[0])
	}
	fields := strings.Fields(list[1])
	due, err := time.Parse(time.RFC3339, fields[len(fields)-1])
	if want := time.Now().Add(30 * 24 * time.Hour); err != nil || due.Before(want.Add(-time.Minute)) || due.After(want.Add(time.Minute)) {
		t.Errorf("keys list ROTATE DUE %q (%v), want 30 days from now", fields[len(fields)-1], err)
	}
	return k
}

// runReadmeGoClient builds and runs README's Go client in a main of its
// own, with the key id, key and gateway address of the test.
func runReadmeGoClient(t *testing.T, h *harness, section string, g *gateway, k createdKey) {
	t.Helper()
	snippet := strings.NewReplacer(`"kid_…"`, `"`+k.ID+`"`, "https://example.com", g.URL).Replace(onlyBlock(t, section, "go"))
	src := "package main\n\nimport (\n\t\"context\"\n\t\"fmt\"\n\t\"io\"\n\t\"os\"\n\n\t\"golang.org/x/oauth2/clientcredentials\"\n)\n\n" +
		"func main() {\n\tctx := context.Background()\n" + snippet + "\n" +
		"\tif err != nil {\n\t\tfmt.Fprintln(os.Stderr, err)\n\t\tos.Exit(1)\n\t}\n\tdefer resp.Body.Close()\n\tio.Copy(os.Stdout, resp.Body)\n}\n"
	main := filepath.Join(t.TempDir(), "main.go")
	writeFile(t, main, src)
	res := runCommand(t, "go", []string{"run", main}, func(cmd *exec.Cmd) {
		cmd.Dir = repoPath(t, ".")
		cmd.Env = append(os.Environ(), "KEYGATE_KEY="+k.Key)
	})
	if res.code != 0 {
		t.Fatalf("README's Go client: exit code %d:\n%s", res.code, h.shown(res.stderr))
	}
	var e echoedRequest
	if err := json.Unmarshal([]byte(res.stdout), &e); err != nil || e.Path != "/v1/v1/things" || e.Header.Get("X-Keygate-Key-Id") != k.ID {
		t.Errorf("README's Go client reached %q as key %q (%v), want /v1/v1/things as %s", e.Path, e.Header.Get("X-Keygate-Key-Id"), err, k.ID)
	}
	issued := 0
	for _, entry := range g.logEntries(t) {
		if entry.str("msg") == "access token issued" && entry.str("key_id") == k.ID {
			issued++
		}
	}
	if issued < 3 { // credential token, curl, the Go client
		t.Errorf("%d tokens issued to %s, want the Go client's among them", issued, k.ID)
	}
}

// checkTimerReadme checks README's timer against deploy/'s, and its
// install lines against deploy/'s files and the service's environment.
func checkTimerReadme(t *testing.T, ini, install string) {
	t.Helper()
	readmeTimer := filepath.Join(t.TempDir(), "readme.timer")
	writeFile(t, readmeTimer, ini)
	shipped := readUnit(t, repoPath(t, "deploy/keygate-credential-rotate@.timer"))
	for section, keys := range readUnit(t, readmeTimer) {
		for key := range keys {
			if got, want := readUnitValue(t, readmeTimer, section, key), shipped.value(section, key); got != want {
				t.Errorf("README's timer [%s] %s=%s, deploy/ says %q", section, key, got, want)
			}
		}
	}
	for _, f := range regexp.MustCompile(`deploy/\S+`).FindAllString(install, -1) {
		if _, err := os.Stat(repoPath(t, f)); err != nil {
			t.Errorf("README installs %s: %v", f, err)
		}
	}
	svc := readUnit(t, repoPath(t, "deploy/keygate-credential-rotate@.service"))
	env := regexp.MustCompile(`echo '(\w+)=\S+' > /etc/keygate-credentials/billing\.env`).FindStringSubmatch(install)
	if env == nil || !strings.Contains(svc.value("Service", "ExecStart"), "${"+env[1]+"}") || svc.value("Service", "EnvironmentFile") != "/etc/keygate-credentials/%i.env" {
		t.Errorf("README's environment file %v does not feed the service (ExecStart %q, EnvironmentFile %q)", env, svc.value("Service", "ExecStart"), svc.value("Service", "EnvironmentFile"))
	}
}

// readUnitValue is readUnit(path).value(section, key).
func readUnitValue(t *testing.T, path, section, key string) string {
	t.Helper()
	return readUnit(t, path).value(section, key)
}

// onlyBlock returns the one code block of a README section whose fence
// names lang, failing t unless there is exactly one.
func onlyBlock(t *testing.T, section, lang string) string {
	t.Helper()
	blocks := fencedBlocks(section, lang)
	if len(blocks) != 1 {
		t.Fatalf("README section has %d %q blocks, want 1", len(blocks), lang)
	}
	return blocks[0]
}

// readmeInline returns the inline code of a README section that starts
// with prefix, its line breaks made spaces.
func readmeInline(t *testing.T, section, prefix string) string {
	t.Helper()
	m := regexp.MustCompile("`(" + regexp.QuoteMeta(prefix) + "[^`]*)`").FindStringSubmatch(section)
	if m == nil {
		t.Fatalf("README section has no inline `%s…`", prefix)
	}
	return strings.Join(strings.Fields(m[1]), " ")
}

// writeKeyFile writes key alone on a line in a file of mode 0600 and
// returns its path.
func writeKeyFile(t *testing.T, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "billing.key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readKeyFile returns the key in a key file.
func readKeyFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// firstWords returns the first three words of a command line, for
// messages that must not quote a key.
func firstWords(line string) string {
	f := strings.Fields(line)
	return strings.Join(f[:min(3, len(f))], " ")
}
