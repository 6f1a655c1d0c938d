package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The golden Caddyfile tests, in Caddy's own format: each file of
// testdata/caddyfile_adapt is a Caddyfile, a line of dashes, and the JSON
// it adapts to; each file of testdata/caddyfile_adapt_errors is a
// Caddyfile, a line of dashes, and the one error adapting it must give.
//
//	go test ./caddymodule -run Golden -update
//
// rewrites the part after the dashes from what the adapter produces now:
// review the diff before committing it.

var update = flag.Bool("update", false, "rewrite the golden files of testdata/caddyfile_adapt* from the adapter's output")

// goldenSeparator is the line between a golden file's Caddyfile and what
// it must give, as in Caddy's caddyfile_adapt tests.
const goldenSeparator = "----------"

// golden is one golden file.
type golden struct {
	path      string
	caddyfile string
	want      string
}

// readGoldens reads every .caddyfiletest file of dir, failing t if there
// is none or one is malformed.
func readGoldens(t *testing.T, dir string) []golden {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.caddyfiletest"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no golden files in %s", dir)
	}
	var goldens []golden
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		caddyfile, want, ok := strings.Cut(string(data), "\n"+goldenSeparator+"\n")
		if !ok {
			t.Fatalf("%s: no %q line between the Caddyfile and what it must give", path, goldenSeparator)
		}
		goldens = append(goldens, golden{path: path, caddyfile: caddyfile + "\n", want: strings.TrimSpace(want)})
	}
	return goldens
}

// rewrite replaces the part of g's file after the dashes with got.
func (g golden) rewrite(t *testing.T, got string) {
	t.Helper()
	content := strings.TrimRight(g.caddyfile, "\n") + "\n" + goldenSeparator + "\n" + got + "\n"
	if err := os.WriteFile(g.path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenAdapt(t *testing.T) {
	for _, g := range readGoldens(t, filepath.Join("testdata", "caddyfile_adapt")) {
		t.Run(strings.TrimSuffix(filepath.Base(g.path), ".caddyfiletest"), func(t *testing.T) {
			out, err := adapt(t, g.caddyfile)
			if err != nil {
				t.Fatalf("adapting %s: %v", g.path, err)
			}
			got := indentJSON(t, out)
			if *update {
				g.rewrite(t, got)
				return
			}
			assertJSON(t, got, g.want)
			if t.Failed() {
				t.Logf("%s adapts to:\n%s\n(go test -run Golden -update rewrites the golden file)", g.path, got)
			}
		})
	}
}

func TestGoldenAdaptErrors(t *testing.T) {
	for _, g := range readGoldens(t, filepath.Join("testdata", "caddyfile_adapt_errors")) {
		t.Run(strings.TrimSuffix(filepath.Base(g.path), ".caddyfiletest"), func(t *testing.T) {
			_, err := adapt(t, g.caddyfile)
			if err == nil {
				t.Fatalf("%s adapts without error, want %q", g.path, g.want)
			}
			if *update {
				g.rewrite(t, err.Error())
				return
			}
			if err.Error() != g.want {
				t.Errorf("%s: error\n  %s\nwant (the golden file)\n  %s", g.path, err, g.want)
			}
		})
	}
}

// indentJSON returns raw JSON indented with tabs, as Caddy's goldens are.
func indentJSON(t *testing.T, raw string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(raw), "", "\t"); err != nil {
		t.Fatalf("the adapter's output is not JSON: %v\n%s", err, raw)
	}
	return buf.String()
}
