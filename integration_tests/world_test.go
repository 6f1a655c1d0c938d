package integration_tests

import "testing"

// world is a test's gateway setting: a harness, and two upstreams
// registered as integrations through the command line:
//
//	echo     base URL <echo upstream>/v1, reached by the generic routes
//	pinned   base URL <pinned upstream>, reached by the /pinned/ route
type world struct {
	h      *harness
	echo   *upstream
	pinned *upstream
}

// newWorld sets up a world on a fresh PostgreSQL database; start its
// gateway with start.
func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOn(t, newHarness(t))
}

// newWorldOn sets up a world on h's store.
func newWorldOn(t *testing.T, h *harness) *world {
	t.Helper()
	w := &world{h: h, echo: newUpstream(t), pinned: newUpstream(t)}
	w.h.addIntegration("echo", w.echo.URL+"/v1")
	w.h.addIntegration("pinned", w.pinned.URL)
	return w
}

// start starts a gateway in front of the world's upstreams.
func (w *world) start(cfg gatewayConfig) *gateway {
	w.h.t.Helper()
	cfg.PinnedUpstream = w.pinned.hostPort(w.h.t)
	return w.h.startGateway(cfg)
}

// startedWorld sets up a world and starts its gateway with the default
// configuration.
func startedWorld(t *testing.T) (*world, *gateway) {
	t.Helper()
	w := newWorld(t)
	return w, w.start(gatewayConfig{})
}

// startedWorlds runs test against a started world on each store kind, as
// parallel subtests (see onBothStores).
func startedWorlds(t *testing.T, test func(t *testing.T, w *world, gw *gateway)) {
	t.Helper()
	onBothStores(t, func(t *testing.T, _ string, h *harness) {
		w := newWorldOn(t, h)
		test(t, w, w.start(gatewayConfig{}))
	})
}

// onBothStores runs test once on each store kind, as parallel subtests
// named for it, each with a fresh harness: "postgres", and "sqlite", the
// embedded store with the command line in another process.
func onBothStores(t *testing.T, test func(t *testing.T, store string, h *harness)) {
	t.Helper()
	stores := map[string]func(*testing.T) *harness{"postgres": newHarness, "sqlite": newSQLiteHarness}
	for name, newH := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, name, newH(t))
		})
	}
}
