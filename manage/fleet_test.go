package manage

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

func TestWithGatewaysAddsTheConfirmation(t *testing.T) {
	v := ConfirmationJSON{Live: 3, Confirmed: 3, MS: 4, Seq: 9}
	for _, c := range []struct {
		result any
		g      *ConfirmationJSON
		want   string
	}{
		{RemovedIntegration{ID: "crm", KeysDeleted: 2}, &v, `{"id":"crm","keys_deleted":2,"gateways":{"live":3,"confirmed":3,"ms":4,"seq":9}}`},
		{RemovedIntegration{ID: "crm"}, nil, `{"id":"crm","keys_deleted":0}`},
		{struct{}{}, &v, `{"gateways":{"live":3,"confirmed":3,"ms":4,"seq":9}}`},
	} {
		b, err := json.Marshal(WithGateways{Result: c.result, Gateways: c.g})
		if err != nil || string(b) != c.want {
			t.Errorf("WithGateways{%+v, %v}: %s, %v; want %s", c.result, c.g, b, err, c.want)
		}
	}
	if _, err := json.Marshal(WithGateways{Result: []int{1}, Gateways: &v}); err == nil {
		t.Error("WithGateways over an array: no error")
	}
}

func TestRotatedKeyEndsNow(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	r := RotatedKey{Created: CreatedKey{NewKey: keystore.NewKey{Key: keystore.Key{CreatedAt: now}}}}
	for _, c := range []struct {
		expires *time.Time
		want    bool
	}{{&now, true}, {&later, false}, {nil, false}} {
		r.Old.ExpiresAt = c.expires
		if got := r.EndsNow(); got != c.want {
			t.Errorf("old key expiring at %v: EndsNow %v, want %v", c.expires, got, c.want)
		}
	}
}

func TestCheckWait(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second, MaxWait + 1} {
		err := CheckWait("wait", d)
		if e, ok := AsError(err); !ok || e.Field != "wait" || e.Kind != Invalid {
			t.Errorf("CheckWait(%s): %v, want an Invalid Error on wait", d, err)
		}
	}
	if err := CheckWait("wait", DefaultWait); err != nil {
		t.Errorf("CheckWait(default): %v", err)
	}
}

// A store without a fleet confirms nothing, and says so; the serving
// gateway's cache is dropped all the same.
func TestConfirmChangeWithoutAFleet(t *testing.T) {
	var dropped []string
	m := &Manager{Store: nil, Now: time.Now, Drop: func(id string) { dropped = append(dropped, id) }}
	if _, err := m.ConfirmChange(t.Context(), "kid_x", time.Second); !errors.Is(err, keystore.ErrNoFleet) {
		t.Errorf("ConfirmChange without a fleet: %v, want ErrNoFleet", err)
	}
	if len(dropped) != 1 || dropped[0] != "kid_x" {
		t.Errorf("dropped %v, want [kid_x]", dropped)
	}
}
