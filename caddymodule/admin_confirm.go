package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// Confirmed revocation on the admin API: a route that makes a key
// unusable (revoke, delete, rotate with grace 0, removing an integration)
// drops the key from this instance's own cache, then waits for every live
// gateway to apply the change, as the command line does. It answers 200
// with "gateways": {"live", "confirmed", "ms", "seq"} once they have, or
// 202 with the same and "missing" when ?wait (default 5s) ran out;
// ?no_wait=true answers as soon as the change is in the store.
//
//	GET /keygate/gateways     the fleet, as `keygate gateways list --json`

// handleGateways serves GET /keygate/gateways.
func (a *AdminAPI) handleGateways(w http.ResponseWriter, r *http.Request) error {
	return a.manage(w, r, func(ctx context.Context, m *manager) (int, any, error) {
		if r.Method != http.MethodGet {
			return 0, nil, methodNotAllowed(w, r, http.MethodGet)
		}
		f, err := manage.Gateways(ctx, m.store)
		return http.StatusOK, manage.GatewaysView(f), err
	})
}

// adminWait reads ?wait and ?no_wait; 0 means no wait.
func adminWait(r *http.Request) (time.Duration, error) {
	noWait, err := boolParam(r, "no_wait")
	if err != nil || noWait {
		return 0, err
	}
	q := r.URL.Query()
	if !q.Has("wait") {
		return manage.DefaultWait, nil
	}
	d, err := time.ParseDuration(q.Get("wait"))
	if err != nil || d <= 0 || d > maxWait {
		return 0, caddy.APIError{HTTPStatus: http.StatusBadRequest,
			Err: fmt.Errorf("invalid wait=%q: want a duration above 0 and at most %s, such as 5s (or no_wait=true)", q.Get("wait"), maxWait)}
	}
	return d, nil
}

// confirmed finishes a change that made keys unusable: it drops keyID
// (every key, when empty) from this instance's cache, waits as adminWait
// says, and returns the answer: result with "gateways" added, 200 when
// every live gateway applied the change, 202 when not.
func (a *AdminAPI) confirmed(ctx context.Context, r *http.Request, s keystore.Store, keyID string, status int, result any) (int, any, error) {
	if app, err := runningKeygate(); err == nil && app.shared.verifier != nil {
		_, _ = app.shared.drop(keyID) // a closed store has nothing cached
	}
	wait, err := adminWait(r)
	if err != nil || wait == 0 {
		return status, result, err
	}
	c, err := manage.ConfirmChange(ctx, s, wait, nil)
	if err != nil {
		return 0, nil, err
	}
	if !c.Done() {
		status = http.StatusAccepted
	}
	v := manage.ConfirmationView(c)
	return status, withGateways[any]{result, &v}, nil
}
