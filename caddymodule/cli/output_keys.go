package caddymodule

import (
	"io"
	"strconv"
	"time"

	"github.com/keygate/keygate/keystore"
)

// This file formats keys for people and scripts: the records of `keys
// list`, `keys show`, `keys revoke`, `keys delete`, and what `keys rotate`
// prints. The admin API answers with the same JSON.

// Age marks of a key against a maximum key age.
const (
	ageRotateSoon = "rotate soon" // past rotateSoonShare of the maximum
	ageTooOld     = "too old"     // past the maximum: refused as expired
)

// rotateSoonShare is the share of the maximum key age past which a key is
// marked "rotate soon".
const rotateSoonShare = 0.8

// keyView is a key's record as JSON: the record, in UTC, with its status
// as of now and, given a maximum key age, when to rotate it by and its
// age mark.
type keyView struct {
	keystore.Key
	Status   string     `json:"status"`
	RotateBy *time.Time `json:"rotate_by,omitempty"`
	Age      string     `json:"age,omitempty"`
}

// newKeyView returns k as JSON shows it; maxAge 0 means no maximum.
func newKeyView(k keystore.Key, now time.Time, maxAge time.Duration) keyView {
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = utcPtr(k.ExpiresAt), utcPtr(k.RevokedAt), utcPtr(k.LastUsedAt)
	v := keyView{Key: k, Status: k.Status(now)}
	if maxAge > 0 {
		by := k.CreatedAt.Add(maxAge)
		v.RotateBy, v.Age = &by, ageMark(k.CreatedAt, now, maxAge)
	}
	return v
}

// ageMark says whether a key created at created is near or past maxAge.
func ageMark(created, now time.Time, maxAge time.Duration) string {
	switch age := now.Sub(created); {
	case age > maxAge:
		return ageTooOld
	case float64(age) > rotateSoonShare*float64(maxAge):
		return ageRotateSoon
	}
	return ""
}

// keyViews returns keys as JSON shows them: never null.
func keyViews(keys []keystore.Key, now time.Time, maxAge time.Duration) []keyView {
	out := make([]keyView, len(keys))
	for i, k := range keys {
		out[i] = newKeyView(k, now, maxAge)
	}
	return out
}

// writeKeysTable prints keys as an aligned table, their status as of now,
// and with maxAge > 0 an AGE column of marks.
func writeKeysTable(w io.Writer, keys []keystore.Key, now time.Time, maxAge time.Duration) error {
	header := []string{"ID", "NAME", "INTEGRATION", "STATUS", "CREATED", "EXPIRES", "LAST USED"}
	if maxAge > 0 {
		header = append(header, "AGE")
	}
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k.ID, printable(k.Name), k.IntegrationID, k.Status(now),
			formatTime(k.CreatedAt), formatOptionalTime(k.ExpiresAt, "never"), formatOptionalTime(k.LastUsedAt, "never")}
		if maxAge > 0 {
			mark := ageMark(k.CreatedAt, now, maxAge)
			if mark == "" {
				mark = "ok"
			}
			rows[i] = append(rows[i], mark)
		}
	}
	return writeTable(w, "No keys.", header, rows)
}

// writeKeyDetails prints one key's record.
func writeKeyDetails(w io.Writer, k keystore.Key, now time.Time) error {
	return writeText(w, func(p *printer) {
		tw := p.table()
		p.cellsf(tw, "id:\t%s", k.ID)
		p.cellsf(tw, "name:\t%s", printable(k.Name))
		p.cellsf(tw, "integration:\t%s", k.IntegrationID)
		p.cellsf(tw, "status:\t%s", k.Status(now))
		p.cellsf(tw, "created:\t%s", formatTime(k.CreatedAt))
		p.cellsf(tw, "expires:\t%s", formatOptionalTime(k.ExpiresAt, "never"))
		p.cellsf(tw, "revoked:\t%s", formatOptionalTime(k.RevokedAt, "no"))
		p.cellsf(tw, "last used:\t%s", formatOptionalTime(k.LastUsedAt, "never"))
		p.flush(tw)
	})
}

// writeDeletedKey confirms a deletion.
func writeDeletedKey(w io.Writer, k keystore.Key) error {
	return writeText(w, func(p *printer) {
		p.linef("Deleted key %s (name %s, integration %s): the gateway refuses it, and it is no longer listed.",
			k.ID, strconv.Quote(k.Name), k.IntegrationID)
	})
}

// rotatedKeyJSON is `keys rotate --json`: the new key as `keys create
// --json` prints it, the id of the key it replaces, and when that one
// stops working.
type rotatedKeyJSON struct {
	createdKeyJSON
	RotatedFrom  string     `json:"rotated_from"`
	OldExpiresAt *time.Time `json:"old_expires_at"`
}

func (r rotatedKey) json() rotatedKeyJSON {
	return rotatedKeyJSON{createdKeyJSON: r.created.json(), RotatedFrom: r.old.ID, OldExpiresAt: utcPtr(r.old.ExpiresAt)}
}

// writeRotatedKey shows the new key once, and when the old one ends.
func writeRotatedKey(w io.Writer, r rotatedKey) error {
	if err := writeCreatedKey(w, r.created); err != nil {
		return err
	}
	return writeText(w, func(p *printer) {
		p.linef("")
		p.linef("It replaces key %s, which stops working at %s.", r.old.ID, formatOptionalTime(r.old.ExpiresAt, "never"))
		p.linef("Move every client to the new key before then; 'keys show %s' tells when the old key was last used.", r.old.ID)
	})
}
