package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// This file formats what the management commands print: JSON for scripts,
// aligned tables and short sentences for people. Every timestamp is shown
// in UTC.

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// writeCreatedKey shows a new key to a person, once, with its record.
func writeCreatedKey(w io.Writer, k manage.CreatedKey) error {
	return writeText(w, func(p *printer) {
		p.linef("Created key %s for integration %s.", k.ID, k.IntegrationID)
		p.linef("")
		p.linef("    %s", k.Secret)
		p.linef("")
		p.linef("Copy this key now: it will not be shown again, and it cannot be recovered.")
		if k.ExchangeOnly {
			p.linef("It is exchange-only: clients exchange it for access tokens at the keygate_token")
			p.linef("endpoint (client_id %s, client_secret the key); sent as a Bearer key it is refused.", k.ID)
		} else {
			p.linef("Clients send it as: Authorization: Bearer <key>")
		}
		p.linef("")
		tw := p.table()
		p.cellsf(tw, "id:\t%s", k.ID)
		p.cellsf(tw, "name:\t%s", printable(k.Name))
		p.cellsf(tw, "integration:\t%s", k.IntegrationID)
		p.cellsf(tw, "created:\t%s", formatTime(k.CreatedAt))
		p.cellsf(tw, "expires:\t%s", formatOptionalTime(k.ExpiresAt, "never"))
		if k.RotateEvery > 0 {
			p.cellsf(tw, "rotate every:\t%s", keystore.FormatLifetime(k.RotateEvery))
		}
		p.flush(tw)
	})
}

// writeRevokedKey confirms a revocation.
func writeRevokedKey(w io.Writer, k keystore.Key) error {
	return writeText(w, func(p *printer) {
		p.linef("Revoked key %s (name %s, integration %s) at %s.",
			k.ID, strconv.Quote(k.Name), k.IntegrationID, formatOptionalTime(k.RevokedAt, "now"))
	})
}

// writeIntegrationAdded confirms a new integration.
func writeIntegrationAdded(w io.Writer, in keystore.Integration) error {
	return writeText(w, func(p *printer) {
		p.linef("Added integration %s at %s.", in.ID, in.BaseURL)
	})
}

// writeIntegrationsTable prints integrations as an aligned table.
func writeIntegrationsTable(w io.Writer, ins []keystore.Integration) error {
	rows := make([][]string, len(ins))
	for i, in := range ins {
		every, grace := manage.RotationInEffect(in.Rotation)
		rows[i] = []string{in.ID, in.BaseURL, formatTime(in.CreatedAt), every, grace}
	}
	return writeTable(w, "No integrations.", []string{"ID", "BASE URL", "CREATED", "ROTATE EVERY", "ROTATE GRACE"}, rows)
}

// writeTable prints a header and rows in aligned columns, or the sentence
// empty when there are no rows.
func writeTable(w io.Writer, empty string, header []string, rows [][]string) error {
	return writeText(w, func(p *printer) {
		if len(rows) == 0 {
			p.linef("%s", empty)
			return
		}
		tw := p.table()
		p.cellsf(tw, "%s", strings.Join(header, "\t"))
		for _, row := range rows {
			p.cellsf(tw, "%s", strings.Join(row, "\t"))
		}
		p.flush(tw)
	})
}

// printer writes lines and tables and keeps the first error, so that the
// formatting code above reads as what it prints.
type printer struct {
	w   io.Writer
	err error
}

// writeText runs body with a printer on w and returns its first error.
func writeText(w io.Writer, body func(p *printer)) error {
	p := &printer{w: w}
	body(p)
	if p.err != nil {
		return fmt.Errorf("writing output: %w", p.err)
	}
	return nil
}

func (p *printer) linef(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

func (p *printer) table() *tabwriter.Writer { return tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0) }

func (p *printer) cellsf(tw *tabwriter.Writer, format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(tw, format+"\n", args...)
	}
}

func (p *printer) flush(tw *tabwriter.Writer) {
	if err := tw.Flush(); p.err == nil {
		p.err = err
	}
}

// formatTime shows t in UTC to the second.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// formatOptionalTime shows t, or none when t is nil.
func formatOptionalTime(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return formatTime(*t)
}

// printable returns s, quoted if it holds anything that would break a
// table row (names stored by other means than this CLI may).
func printable(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(s)
	}
	return s
}
