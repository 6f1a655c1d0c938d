package manage

import (
	"time"

	"github.com/keygate/keygate/keystore"
)

// The JSON views of the operations' results, the same for every front end
// (`--json` on the command line, the admin API's answers). Every time is
// in UTC.

// CreatedKeyJSON is a key just created: the only view that ever holds a
// key.
type CreatedKeyJSON struct {
	ID          string     `json:"id"`
	Key         string     `json:"key"`
	Name        string     `json:"name"`
	Integration string     `json:"integration"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
	// ExchangeOnly and RotateEvery are as KeyView shows them: left out
	// unless set.
	ExchangeOnly bool   `json:"exchange_only,omitempty"`
	RotateEvery  string `json:"rotate_every,omitempty"`
}

// JSON returns k's view.
func (k CreatedKey) JSON() CreatedKeyJSON {
	return CreatedKeyJSON{
		ID:           k.ID,
		Key:          k.Secret,
		Name:         k.Name,
		Integration:  k.IntegrationID,
		CreatedAt:    k.CreatedAt.UTC(),
		ExpiresAt:    utcPtr(k.ExpiresAt),
		ExchangeOnly: k.ExchangeOnly,
		RotateEvery:  optionalLifetime(k.RotateEvery),
	}
}

// optionalLifetime is d as FormatLifetime writes it, or "" (left out of
// JSON) when it is unset.
func optionalLifetime(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return keystore.FormatLifetime(d)
}

// RotatedKeyJSON is a rotation: the new key as CreatedKeyJSON shows it,
// the id of the key it replaces, and when that one stops working.
type RotatedKeyJSON struct {
	CreatedKeyJSON
	RotatedFrom  string     `json:"rotated_from"`
	OldExpiresAt *time.Time `json:"old_expires_at"`
}

// JSON returns r's view.
func (r RotatedKey) JSON() RotatedKeyJSON {
	return RotatedKeyJSON{CreatedKeyJSON: r.Created.JSON(), RotatedFrom: r.Old.ID, OldExpiresAt: utcPtr(r.Old.ExpiresAt)}
}

// RemovedIntegration is the view of a removed integration.
type RemovedIntegration struct {
	ID          string `json:"id"`
	KeysDeleted int    `json:"keys_deleted"`
}

// IntegrationView is an integration's record as JSON: the record, in
// UTC, with its rotation settings as keys' own `rotate_every` reads,
// each left out when unset (keys are not rolled by default; a key its
// holder rolls keeps working DefaultSelfRotateGrace).
type IntegrationView struct {
	keystore.Integration
	// RotateEvery is the default rotation period of its keys, such as
	// "90d".
	RotateEvery string `json:"rotate_every,omitempty"`
	// RotateGrace is how long a key its calling system rolls keeps
	// working, such as "1h".
	RotateGrace string `json:"rotate_grace,omitempty"`
}

// IntegrationsJSON returns integrations as JSON shows them: never null.
func IntegrationsJSON(ins []keystore.Integration) []IntegrationView {
	out := make([]IntegrationView, len(ins))
	for i, in := range ins {
		out[i] = IntegrationJSON(in)
	}
	return out
}

// IntegrationJSON returns in as JSON shows it.
func IntegrationJSON(in keystore.Integration) IntegrationView {
	in.CreatedAt = in.CreatedAt.UTC()
	return IntegrationView{Integration: in, RotateEvery: optionalLifetime(in.Rotation.Every), RotateGrace: optionalLifetime(in.Rotation.Grace)}
}

// Age marks of a key against a maximum key age.
const (
	AgeRotateSoon = "rotate soon" // past rotateSoonShare of the maximum
	AgeTooOld     = "too old"     // past the maximum: refused as expired
)

// rotateSoonShare is the share of the maximum key age past which a key is
// marked "rotate soon".
const rotateSoonShare = 0.8

// KeyView is a key's record as JSON: the record, in UTC, with its status
// as of now and, given a maximum key age, when to rotate it by and its
// age mark.
type KeyView struct {
	keystore.Key
	Status   string     `json:"status"`
	RotateBy *time.Time `json:"rotate_by,omitempty"`
	// RotateEvery is the key's own rotation period, such as "30d".
	RotateEvery string `json:"rotate_every,omitempty"`
	Age         string `json:"age,omitempty"`
}

// NewKeyView returns k as JSON shows it; maxAge 0 means no maximum.
func NewKeyView(k keystore.Key, now time.Time, maxAge time.Duration) KeyView {
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.RevokedAt), utcPtr(k.LastUsedAt)
	k.RotateDueAt = utcPtr(k.RotateDueAt)
	v := KeyView{Key: k, Status: k.Status(now), RotateEvery: optionalLifetime(k.RotateEvery)}
	if maxAge > 0 {
		by := k.CreatedAt.Add(maxAge)
		v.RotateBy, v.Age = &by, AgeMark(k.CreatedAt, now, maxAge)
	}
	return v
}

// AgeMark says whether a key created at created is near or past maxAge.
func AgeMark(created, now time.Time, maxAge time.Duration) string {
	switch age := now.Sub(created); {
	case age > maxAge:
		return AgeTooOld
	case float64(age) > rotateSoonShare*float64(maxAge):
		return AgeRotateSoon
	}
	return ""
}

// KeyViews returns keys as JSON shows them: never null.
func KeyViews(keys []keystore.Key, now time.Time, maxAge time.Duration) []KeyView {
	out := make([]KeyView, len(keys))
	for i, k := range keys {
		out[i] = NewKeyView(k, now, maxAge)
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
