package manage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/keystore"
)

// Confirmed revocation: a change to a key (revoke, delete, rotate with no
// grace, an integration removed) is confirmed once every live gateway of
// the store's fleet has applied its feed sequence. See keystore's
// fleet.go for the liveness rule that makes this sound.

// DefaultWait is how long a front end waits for a confirmation unless
// told otherwise (--wait).
const DefaultWait = 5 * time.Second

// MaxWait bounds the wait for a confirmation.
const MaxWait = 10 * time.Minute

// CheckWait checks the wait for a confirmation given as field. It needs
// no store.
func CheckWait(field string, d time.Duration) error {
	if d <= 0 || d > MaxWait {
		return &Error{Kind: Invalid, Field: field, Hint: "pass --no-wait not to wait at all",
			Problem: fmt.Sprintf("%q: want a duration above 0 and at most %s, such as 5s", d.String(), MaxWait)}
	}
	return nil
}

// ConfirmChange makes the gateways refuse what a change just ended: it
// drops keyID (every key when empty) from the serving gateway's cache
// (Manager.Drop), then waits until every live gateway has applied every
// change committed so far, the caller's included, or until wait has
// passed. Waiting for the feed's head rather than the change's own
// sequence may wait for a later change too, never for less. The result
// is not Done when wait ran out: its Missing name the gateways behind.
// A store that keeps no fleet gives keystore.ErrNoFleet.
func (m *Manager) ConfirmChange(ctx context.Context, keyID string, wait time.Duration) (keystore.Confirmation, error) {
	if m.Drop != nil {
		m.Drop(keyID)
	}
	fs, ok := m.Store.(keystore.FleetStore)
	if !ok {
		return keystore.Confirmation{}, keystore.ErrNoFleet
	}
	start := m.Now()
	seq, err := fs.FeedHead(ctx)
	if err != nil {
		return keystore.Confirmation{}, fmt.Errorf("confirming the change with the gateways: %w", err)
	}
	c, err := m.ConfirmSeq(ctx, seq, wait-m.Now().Sub(start))
	c.Elapsed = m.Now().Sub(start)
	return c, err
}

// ConfirmSeq waits until every live gateway has applied feed sequence
// seq, or wait has passed; see keystore.Confirm. This is what a front end
// calls after a change made outside this package, such as a revocation
// by plain SQL.
func (m *Manager) ConfirmSeq(ctx context.Context, seq int64, wait time.Duration) (keystore.Confirmation, error) {
	c, err := keystore.Confirm(ctx, m.Store, seq, wait, m.Now)
	if err != nil && !errors.Is(err, keystore.ErrNoFleet) {
		return c, fmt.Errorf("confirming the change with the gateways: %w", err)
	}
	return c, err
}

// Gateways reads the fleet.
func (m *Manager) Gateways(ctx context.Context) (keystore.Fleet, error) {
	fs, ok := m.Store.(keystore.FleetStore)
	if !ok {
		return keystore.Fleet{}, keystore.ErrNoFleet
	}
	f, err := fs.Fleet(ctx)
	if err != nil {
		return keystore.Fleet{}, fmt.Errorf("listing gateways: %w", err)
	}
	return f, nil
}

// ErrNotConfirmed says some live gateways had not applied a change when
// the wait ran out; the change itself is in the store.
var ErrNotConfirmed = errors.New("not confirmed by every live gateway")

// NotConfirmed returns the error of a confirmation that is not Done:
// which gateways are behind, and how to wait again.
func (m *Manager) NotConfirmed(c keystore.Confirmation, wait time.Duration) error {
	missing := make([]string, len(c.Missing))
	for i, g := range c.Missing {
		missing[i] = fmt.Sprintf("%s (%s, applied seq %d, last seen %s ago)",
			g.ID, g.Hostname, g.AppliedSeq, c.Now.Sub(g.LastSeen).Round(time.Millisecond))
	}
	return fmt.Errorf("%w: refused by %d/%d gateways after %s; not yet applied by %s. "+
		"The change is in the key store, and a gateway cut off from it refuses cached keys once its stale_ttl has passed; "+
		"'%s gateways wait %d' waits again, '%s gateways list' shows the fleet",
		ErrNotConfirmed, c.Confirmed, c.Live, wait, strings.Join(missing, ", "), m.Bin, c.Seq, m.Bin)
}

// ConfirmationSummary is the line a front end prints for a confirmation
// that is Done, such as "refused by 3/3 gateways in 4 ms".
func ConfirmationSummary(c keystore.Confirmation) string {
	if c.Live == 0 {
		return "no gateway is running on this key store (0 live): nothing can accept the key"
	}
	return fmt.Sprintf("refused by %d/%d gateways in %d ms", c.Confirmed, c.Live, c.Elapsed.Milliseconds())
}

// ConfirmationJSON is a confirmation in --json output and admin API
// answers, under "gateways".
type ConfirmationJSON struct {
	Live      int   `json:"live"`
	Confirmed int   `json:"confirmed"`
	MS        int64 `json:"ms"`
	// Seq is the feed sequence confirmed, for `keygate gateways wait`.
	Seq int64 `json:"seq"`
	// Missing are the live gateways that had not applied it, if any.
	Missing []GatewayJSON `json:"missing,omitempty"`
}

// ConfirmationView returns c as JSON; the lag of a missing gateway is
// counted up to c.Seq.
func ConfirmationView(c keystore.Confirmation) ConfirmationJSON {
	v := ConfirmationJSON{Live: c.Live, Confirmed: c.Confirmed, MS: c.Elapsed.Milliseconds(), Seq: c.Seq}
	for _, g := range c.Missing {
		v.Missing = append(v.Missing, gatewayView(g, c.Now, c.Seq))
	}
	return v
}

// WithGateways is the JSON view of a change's result (an object) with
// its confirmation added under "gateways", unless Gateways is nil.
type WithGateways struct {
	Result   any
	Gateways *ConfirmationJSON
}

// MarshalJSON writes Result's fields, then "gateways" when set.
func (r WithGateways) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(r.Result)
	if err != nil || r.Gateways == nil {
		return b, err
	}
	g, err := json.Marshal(r.Gateways)
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(b, []byte("}")) {
		return nil, fmt.Errorf("adding gateways to %s: not a JSON object", b)
	}
	b = bytes.TrimSuffix(b, []byte("}"))
	if len(b) > 1 {
		b = append(b, ',')
	}
	return append(append(append(b, `"gateways":`...), g...), '}'), nil
}

// GatewayJSON is a gateway in `gateways list --json` and
// GET /keygate/gateways.
type GatewayJSON struct {
	InstanceID string    `json:"instance_id"`
	Hostname   string    `json:"hostname"`
	Version    string    `json:"version"`
	Status     string    `json:"status"` // live or stale
	StartedAt  time.Time `json:"started_at"`
	AppliedSeq int64     `json:"applied_seq"`
	// Lag is how many changes of the feed it has not applied.
	Lag        int64     `json:"lag"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// LastSeenMSAgo is how long before the read it last recorded itself.
	LastSeenMSAgo int64 `json:"last_seen_ms_ago"`
	StaleTTLMS    int64 `json:"stale_ttl_ms"`
}

// GatewaysView returns the fleet as JSON, every gateway with its lag
// behind the feed's head.
func GatewaysView(f keystore.Fleet) []GatewayJSON {
	out := make([]GatewayJSON, 0, len(f.Gateways))
	for _, g := range f.Gateways {
		out = append(out, gatewayView(g, f.Now, f.Head))
	}
	return out
}

func gatewayView(g keystore.Gateway, now time.Time, head int64) GatewayJSON {
	status := "stale"
	if g.Live {
		status = "live"
	}
	return GatewayJSON{
		InstanceID: g.ID, Hostname: g.Hostname, Version: g.Version, Status: status,
		StartedAt: g.StartedAt.UTC(), AppliedSeq: g.AppliedSeq, Lag: max(0, head-g.AppliedSeq),
		LastSeenAt: g.LastSeen.UTC(), LastSeenMSAgo: max(0, now.Sub(g.LastSeen).Milliseconds()),
		StaleTTLMS: g.StaleTTL.Milliseconds(),
	}
}
