package credential

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Status is what keygate_rotate answers a GET with: the key's id and
// when it is due to be rolled (nil: never).
type Status struct {
	ID        string     `json:"id"`
	RotateDue *time.Time `json:"rotate_due"`
	Due       bool       `json:"due"`
}

// rotated is the part of keygate_rotate's POST answer (keys rotate --json)
// that Rotate uses.
type rotated struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// RotateResult says what Rotate did.
type RotateResult struct {
	Rotated bool
	// KeyID is the id of the key now in the file.
	KeyID string
	// Due is when that key is due to be rolled; zero: never.
	Due time.Time
}

// Rotate rolls the key in keyFile when the gateway says it is due, and
// replaces the file with the new key, atomically. It holds the file's lock
// throughout, so that runs that overlap roll once: the second finds the
// new key not due. Until due it changes nothing.
func (c Client) Rotate(ctx context.Context, keyFile string) (RotateResult, error) {
	unlock, err := Lock(keyFile)
	if err != nil {
		return RotateResult{}, err
	}
	defer unlock()
	key, err := ReadKey(keyFile)
	if err != nil {
		return RotateResult{}, err
	}
	var st Status
	if err := c.do(ctx, http.MethodGet, key, "", nil, &st); err != nil {
		return RotateResult{}, fmt.Errorf("asking whether the key is due: %w", err)
	}
	if st.ID == "" {
		return RotateResult{}, fmt.Errorf("asking whether the key is due: %s answered without a key id: is it a keygate_rotate route?", c.URL)
	}
	res := RotateResult{KeyID: st.ID}
	if st.RotateDue != nil {
		res.Due = *st.RotateDue
	}
	if !st.Due {
		return res, nil
	}
	var next rotated
	if err := c.do(ctx, http.MethodPost, key, "", nil, &next); err != nil {
		return RotateResult{}, fmt.Errorf("rolling the key: %w", err)
	}
	if next.Key == "" || next.ID == "" {
		return RotateResult{}, errors.New("rolling the key: the answer holds no new key")
	}
	if err := WriteFileAtomic(keyFile, []byte(next.Key+"\n")); err != nil {
		// The old key still works for the integration's grace: say so.
		return RotateResult{}, fmt.Errorf("the key was rolled to %s but could not be saved (the old one works for the grace period): %w", next.ID, err)
	}
	return RotateResult{Rotated: true, KeyID: next.ID}, nil
}
