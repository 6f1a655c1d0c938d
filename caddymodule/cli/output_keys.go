package cli

import (
	"io"
	"strconv"
	"time"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// This file formats keys for people: the records of `keys list`, `keys
// show`, `keys revoke`, `keys delete`, and what `keys rotate` prints. With
// --json they print manage's views, as the admin API answers.

// writeKeysTable prints keys as an aligned table, their status as of now,
// and with maxAge > 0 an AGE column of marks.
func writeKeysTable(w io.Writer, keys []keystore.Key, now time.Time, maxAge time.Duration) error {
	header := []string{"ID", "NAME", "INTEGRATION", "STATUS", "CREATED", "EXPIRES", "LAST USED", "ROTATE DUE"}
	if maxAge > 0 {
		header = append(header, "AGE")
	}
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k.ID, printable(k.Name), k.IntegrationID, k.Status(now),
			formatTime(k.CreatedAt), formatOptionalTime(k.ExpiresAt, "never"), formatOptionalTime(k.LastUsedAt, "never"),
			rotateDue(k, now)}
		if k.ExchangeOnly {
			rows[i][len(rows[i])-1] += " (exchange only)"
		}
		if maxAge > 0 {
			mark := manage.AgeMark(k.CreatedAt, now, maxAge)
			if mark == "" {
				mark = "ok"
			}
			rows[i] = append(rows[i], mark)
		}
	}
	return writeTable(w, "No keys.", header, rows)
}

// rotateDue says when k is due to be rolled: "never", a time, or "now"
// past it.
func rotateDue(k keystore.Key, now time.Time) string {
	switch {
	case k.DueForRotation(now):
		return "now"
	case k.RotateDueAt != nil:
		return formatTime(*k.RotateDueAt)
	}
	return "never"
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
		p.cellsf(tw, "rotate due:\t%s", rotateDue(k, now))
		if k.RotateEvery > 0 {
			p.cellsf(tw, "rotate every:\t%s", keystore.FormatLifetime(k.RotateEvery))
		}
		if k.ExchangeOnly {
			p.cellsf(tw, "exchange only:\tyes: refused at the edge, exchanged for access tokens")
		} else {
			p.cellsf(tw, "exchange only:\tno")
		}
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

// writeRotatedKey shows the new key once, and when the old one ends.
func writeRotatedKey(w io.Writer, r manage.RotatedKey) error {
	if err := writeCreatedKey(w, r.Created); err != nil {
		return err
	}
	return writeText(w, func(p *printer) {
		p.linef("")
		p.linef("It replaces key %s, which stops working at %s.", r.Old.ID, formatOptionalTime(r.Old.ExpiresAt, "never"))
		p.linef("Move every client to the new key before then; 'keys show %s' tells when the old key was last used.", r.Old.ID)
	})
}
