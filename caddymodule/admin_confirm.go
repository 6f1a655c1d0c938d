package caddymodule

import (
	"context"
	"errors"
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
// (201 for a rotation) with "gateways": {"live", "confirmed", "ms",
// "seq"} once they have, or 202 with the same and "missing" when ?wait
// (default 5s) ran out; ?no_wait=true answers as soon as the change is
// in the store (and this instance's cache).
//
//	GET /keygate/gateways     the fleet, as `keygate gateways list --json`

// handleGateways serves GET /keygate/gateways.
func (a *AdminAPI) handleGateways(w http.ResponseWriter, r *http.Request) error {
	return a.manage(w, r, func(ctx context.Context, m *manage.Manager) (int, any, error) {
		if r.Method != http.MethodGet {
			return 0, nil, methodNotAllowed(w, r, http.MethodGet)
		}
		f, err := m.Gateways(ctx)
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
	if err != nil {
		return 0, caddy.APIError{HTTPStatus: http.StatusBadRequest,
			Err: errors.New(`invalid wait: want a duration such as "5s" (or no_wait=true)`)}
	}
	return d, manage.CheckWait("wait", d)
}

// confirmed finishes a change that made keys unusable: it drops keyID
// (every key, when empty) from this instance's cache, waits as adminWait
// says, and answers result with "gateways" added: status when every live
// gateway applied the change, 202 when not.
func confirmed(ctx context.Context, r *http.Request, m *manage.Manager, keyID string, status int, result any) (int, any, error) {
	wait, err := adminWait(r)
	if err != nil {
		return 0, nil, err
	}
	if wait == 0 {
		if m.Drop != nil {
			m.Drop(keyID)
		}
		return status, result, nil
	}
	c, err := m.ConfirmChange(ctx, keyID, wait)
	switch {
	case errors.Is(err, keystore.ErrNoFleet):
		return status, result, nil
	case err != nil:
		return 0, nil, err
	case !c.Done():
		status = http.StatusAccepted
	}
	v := manage.ConfirmationView(c)
	return status, manage.WithGateways{Result: result, Gateways: &v}, nil
}
