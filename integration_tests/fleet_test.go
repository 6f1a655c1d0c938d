package integration_tests

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// fleetRow is a row of `gateways list --json`.
type fleetRow struct {
	InstanceID string `json:"instance_id"`
	Status     string `json:"status"`
	AppliedSeq int64  `json:"applied_seq"`
	Lag        int64  `json:"lag"`
}

// gatewaysJSON is the "gateways" field of a confirmed command's --json.
type gatewaysJSON struct {
	Live      int   `json:"live"`
	Confirmed int   `json:"confirmed"`
	MS        int64 `json:"ms"`
	Seq       int64 `json:"seq"`
	Missing   []struct {
		InstanceID string `json:"instance_id"`
	} `json:"missing"`
}

func (h *harness) fleet() []fleetRow {
	h.t.Helper()
	var rows []fleetRow
	decodeJSON(h.t, h.mustCLI("gateways", "list", "--json"), &rows)
	return rows
}

func statuses(rows []fleetRow) map[string]string {
	m := map[string]string{}
	for _, r := range rows {
		m[r.InstanceID] = r.Status
	}
	return m
}

// README's first screen as a script, without pauses, 20 times: the key is
// refused by every gateway as soon as `keys revoke` returns, on the
// embedded store with one gateway and on PostgreSQL with three.
func TestReadmeLoopTwentyTimesWithoutPauses(t *testing.T) {
	for name, setup := range map[string]struct {
		harness  func(*testing.T) *harness
		gateways int
	}{
		"sqlite":   {newSQLiteHarness, 1},
		"postgres": {newHarness, 3},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorldOn(t, setup.harness(t))
			var gws []*gateway
			for range setup.gateways {
				gws = append(gws, w.start(gatewayConfig{CacheTTL: "10m"}))
			}
			poll.Until(t, 10*time.Second, "every gateway live in the fleet", func() (bool, string) {
				rows := w.h.fleet()
				return len(rows) == setup.gateways, fmt.Sprint(statuses(rows))
			})
			want := fmt.Sprintf("refused by %d/%d gateways in ", setup.gateways, setup.gateways)
			for trial := range 20 {
				k := w.h.createKey("echo", fmt.Sprintf("trial-%d", trial))
				for i, g := range gws {
					if r := g.get(t, "/hello", k.Key); r.status != http.StatusOK {
						t.Fatalf("trial %d, gateway %d: %d before revoke, want 200", trial, i, r.status)
					}
				}
				out := w.h.mustCLI("keys", "revoke", k.ID)
				if !strings.Contains(out, want) {
					t.Fatalf("trial %d: keys revoke printed %q, want %q", trial, out, want)
				}
				for i, g := range gws {
					if r := g.get(t, "/hello", k.Key); r.status != http.StatusUnauthorized {
						t.Fatalf("trial %d, gateway %d: %d right after keys revoke returned, want 401", trial, i, r.status)
					}
				}
			}
		})
	}
}

// reopenProxy starts forwarding again on the port of a cut proxy.
func reopenProxy(t *testing.T, p *tcpProxy) *tcpProxy {
	t.Helper()
	var l net.Listener
	poll.Until(t, 5*time.Second, "listening again on "+p.Addr(), func() (bool, string) {
		var err error
		l, err = net.Listen("tcp", p.Addr())
		return err == nil, fmt.Sprint(err)
	})
	q := &tcpProxy{listener: l, target: p.target}
	q.wg.Add(1)
	go q.accept()
	t.Cleanup(q.Cut)
	return q
}

// A gateway cut off from the database makes revocations wait, then fail
// naming it, until it is back; the admin API answers 202 meanwhile and
// 200 once confirmed; a killed gateway turns stale after its stale_ttl
// and no longer has to confirm.
func TestFleetCutOffAndKilledGateways(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.start(gatewayConfig{StaleTTL: "6s"})
	var aID string
	poll.Until(t, 10*time.Second, "gateway a in the fleet", func() (bool, string) {
		rows := w.h.fleet()
		if len(rows) == 1 && rows[0].Status == "live" {
			aID = rows[0].InstanceID
		}
		return aID != "", fmt.Sprint(statuses(rows))
	})
	proxy := newTCPProxy(t, databaseHost(t, w.h.dbURL))
	b := w.start(gatewayConfig{StaleTTL: "6s", DatabaseURL: viaProxy(t, w.h.dbURL, proxy)})
	var bID string
	poll.Until(t, 10*time.Second, "gateway b in the fleet", func() (bool, string) {
		for id, st := range statuses(w.h.fleet()) {
			if id != aID && st == "live" {
				bID = id
			}
		}
		return bID != "", ""
	})

	k := w.h.createKey("echo", "cut")
	if r := b.get(t, "/hello", k.Key); r.status != http.StatusOK {
		t.Fatalf("gateway b before the cut: %d, want 200", r.status)
	}
	proxy.Cut()
	res := w.h.cli("keys", "revoke", k.ID, "--wait", "1s", "--json")
	var out struct {
		Status   string       `json:"status"`
		Gateways gatewaysJSON `json:"gateways"`
	}
	decodeJSON(t, res.stdout, &out)
	if res.code == 0 || !strings.Contains(res.stderr, bID) || strings.Contains(res.stderr, aID) ||
		!strings.Contains(res.stderr, "refused by 1/2 gateways after 1s") {
		t.Fatalf("revoke with gateway b cut off: exit %d, stderr %q; want a failure naming b (%s) only", res.code, res.stderr, bID)
	}
	if out.Status != "revoked" || out.Gateways.Live != 2 || out.Gateways.Confirmed != 1 ||
		len(out.Gateways.Missing) != 1 || out.Gateways.Missing[0].InstanceID != bID || out.Gateways.Seq < 1 {
		t.Fatalf("revoke --json with b cut off: %+v", out)
	}
	// The admin API of gateway a: 202, b missing.
	k2 := w.h.createKey("echo", "cut-admin")
	var answer struct {
		Gateways gatewaysJSON `json:"gateways"`
	}
	if code := a.adminJSON(t, http.MethodPost, "/keygate/keys/"+k2.ID+"/revoke?wait=500ms", "", &answer); code != http.StatusAccepted ||
		answer.Gateways.Confirmed != 1 || len(answer.Gateways.Missing) != 1 || answer.Gateways.Missing[0].InstanceID != bID {
		t.Fatalf("admin revoke with b cut off: %d %+v; want 202 naming b", code, answer)
	}
	if r := a.get(t, "/hello", k2.Key); r.status != http.StatusUnauthorized {
		t.Fatalf("gateway a after its own admin API revoked the key: %d, want 401", r.status)
	}

	reopenProxy(t, proxy)
	wait := w.h.cli("gateways", "wait", fmt.Sprint(out.Gateways.Seq), "--wait", "20s")
	if wait.code != 0 || !strings.Contains(wait.stdout, "refused by 2/2 gateways in ") {
		t.Fatalf("gateways wait %d once b is back: exit %d, %q %q", out.Gateways.Seq, wait.code, wait.stdout, wait.stderr)
	}
	if r := b.get(t, "/hello", k.Key); r.status != http.StatusUnauthorized {
		t.Fatalf("gateway b once back: %d, want 401", r.status)
	}
	k3 := w.h.createKey("echo", "back")
	if code := a.adminJSON(t, http.MethodPost, "/keygate/keys/"+k3.ID+"/revoke", "", &answer); code != http.StatusOK ||
		answer.Gateways.Live != 2 || answer.Gateways.Confirmed != 2 {
		t.Fatalf("admin revoke with both gateways up: %d %+v; want 200, 2/2", code, answer)
	}
	var listed []fleetRow
	if code := a.adminJSON(t, http.MethodGet, "/keygate/gateways", "", &listed); code != http.StatusOK || len(listed) != 2 {
		t.Fatalf("GET /keygate/gateways: %d %+v", code, listed)
	}

	// SIGKILL: no clean stop, the row stays, and turns stale.
	b.stopOnce.Do(b.kill) // the end of the test does not stop it again
	poll.Until(t, 20*time.Second, "the killed gateway stale", func() (bool, string) {
		st := statuses(w.h.fleet())
		return st[bID] == "stale" && st[aID] == "live", fmt.Sprint(st)
	})
	k4 := w.h.createKey("echo", "after-kill")
	res = w.h.cli("keys", "revoke", k4.ID, "--json")
	decodeJSON(t, res.stdout, &out)
	if res.code != 0 || out.Gateways.Live != 1 || out.Gateways.Confirmed != 1 {
		t.Fatalf("revoke with b killed and stale: exit %d, %+v, %q; want 1/1", res.code, out.Gateways, res.stderr)
	}
	if raw, _ := json.Marshal(out.Gateways); strings.Contains(res.stdout, `"missing"`) {
		t.Errorf("a confirmed revoke lists missing gateways: %s", raw)
	}
}
