package caddymodule

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/manage"
)

// TestAdminKeyRollingFields: a key created over the admin API with
// exchange_only and rotate_every shows both in the answer, the record and
// the listing, and is due a rotation period after its creation.
func TestAdminKeyRollingFields(t *testing.T) {
	srv, _ := adminServer(t)
	call(t, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9"}`, nil)
	var created manage.CreatedKeyJSON
	if s := call(t, srv, "POST", "/keygate/keys", `{"integration":"billing","name":"cron","exchange_only":true,"rotate_every":"30d"}`, &created); s != 201 {
		t.Fatalf("creating a key: %d %+v", s, created)
	}
	if !created.ExchangeOnly || created.RotateEvery != "30d" || created.Key == "" {
		t.Errorf("created key = exchange_only %v, rotate_every %q, want true, 30d", created.ExchangeOnly, created.RotateEvery)
	}
	due := created.CreatedAt.Add(30 * 24 * time.Hour)
	var shown manage.KeyView
	call(t, srv, "GET", "/keygate/keys/"+created.ID, "", &shown)
	var list []manage.KeyView
	call(t, srv, "GET", "/keygate/keys", "", &list)
	if len(list) != 1 {
		t.Fatalf("listing: %+v", list)
	}
	for what, k := range map[string]manage.KeyView{"GET /keygate/keys/{id}": shown, "GET /keygate/keys": list[0]} {
		if k.ID != created.ID || !k.ExchangeOnly || k.RotateEvery != "30d" || k.RotateDueAt == nil || !k.RotateDueAt.Equal(due) {
			t.Errorf("%s = %+v, want exchange_only, rotate_every 30d, rotate_due %s", what, k, due)
		}
	}

	// A key without either leaves both out.
	var plain map[string]any
	call(t, srv, "POST", "/keygate/keys", `{"integration":"billing","name":"plain"}`, &plain)
	for _, field := range []string{"exchange_only", "rotate_every"} {
		if _, ok := plain[field]; ok {
			t.Errorf("a key created without %s answers it: %v", field, plain[field])
		}
	}
}

// TestAdminKeyRollingRefusals: bad rotate_every and exchange_only values
// are refused with 400 naming the JSON field, and create nothing.
func TestAdminKeyRollingRefusals(t *testing.T) {
	srv, logs := adminServer(t)
	call(t, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9"}`, nil)
	for _, tc := range []struct{ body, want string }{
		{`"rotate_every":"0s"`, `invalid rotate_every "0s"`},
		{`"rotate_every":"-1h"`, `invalid rotate_every "-1h"`},
		{`"rotate_every":"abc"`, `invalid rotate_every "abc"`},
		{`"rotate_every":"30s"`, "invalid rotate_every: rotation period 30s is under a minute"},
		{`"rotate_every":30`, "rotate_every"},
		{`"rotate_every":true`, "rotate_every"},
		{`"exchange_only":"yes"`, "exchange_only"},
		{`"exchange_only":1`, "exchange_only"},
	} {
		var body map[string]string
		s := call(t, srv, "POST", "/keygate/keys", `{"integration":"billing","name":"cron",`+tc.body+`}`, &body)
		if s != 400 || !strings.Contains(body["error"], tc.want) || strings.Contains(body["error"], "--") {
			t.Errorf("%s: %d %q, want 400 with %q and no flag", tc.body, s, body["error"], tc.want)
		}
	}
	var list []manage.KeyView
	if call(t, srv, "GET", "/keygate/keys", "", &list); len(list) != 0 {
		t.Errorf("refused requests created %d keys", len(list))
	}
	if n := len(logs.All()); n != 1 { // integration added
		t.Errorf("%d audit entries, want 1", n)
	}
}

// TestAdminIntegrationRotation: PUT /keygate/integrations/{id}/rotation
// sets what `integrations set-rotation` sets, the integration's views
// show it as rotate_every and rotate_grace, and its keys are due by it.
func TestAdminIntegrationRotation(t *testing.T) {
	srv, logs := adminServer(t)
	var in map[string]any
	call(t, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9"}`, &in)
	for _, field := range []string{"rotate_every", "rotate_grace"} {
		if _, ok := in[field]; ok {
			t.Errorf("a new integration answers %s: %v", field, in)
		}
	}
	if s := call(t, srv, "PUT", "/keygate/integrations/billing/rotation", `{"rotate_every":"90d","rotate_grace":"2h"}`, &in); s != 200 ||
		in["id"] != "billing" || in["rotate_every"] != "90d" || in["rotate_grace"] != "2h" {
		t.Fatalf("setting the rotation: %d %v", s, in)
	}
	var ins []map[string]any
	if call(t, srv, "GET", "/keygate/integrations", "", &ins); len(ins) != 1 || ins[0]["rotate_every"] != "90d" || ins[0]["rotate_grace"] != "2h" {
		t.Errorf("listing integrations: %v", ins)
	}
	var patched map[string]any
	if call(t, srv, "PATCH", "/keygate/integrations/billing", `{"base_url":"http://127.0.0.1:10"}`, &patched); patched["rotate_every"] != "90d" {
		t.Errorf("changing the base URL answers %v", patched)
	}
	var created manage.CreatedKeyJSON
	call(t, srv, "POST", "/keygate/keys", `{"integration":"billing","name":"cron"}`, &created)
	var shown manage.KeyView
	call(t, srv, "GET", "/keygate/keys/"+created.ID, "", &shown)
	if due := created.CreatedAt.Add(90 * 24 * time.Hour); shown.RotateDueAt == nil || !shown.RotateDueAt.Equal(due) || shown.RotateEvery != "" {
		t.Errorf("a key of the integration: rotate_due %v, rotate_every %q, want %s from the integration", shown.RotateDueAt, shown.RotateEvery, due)
	}

	// "0" turns the period off; an omitted grace is the default again.
	var off map[string]any
	if call(t, srv, "PUT", "/keygate/integrations/billing/rotation", `{"rotate_every":"0"}`, &off); off["id"] != "billing" {
		t.Fatalf("turning the rotation off: %v", off)
	}
	for _, field := range []string{"rotate_every", "rotate_grace"} {
		if _, ok := off[field]; ok {
			t.Errorf("rotation off still answers %s: %v", field, off)
		}
	}
	var after manage.KeyView
	if call(t, srv, "GET", "/keygate/keys/"+created.ID, "", &after); after.ID != created.ID || after.RotateDueAt != nil {
		t.Errorf("rotation off: the key %s is still due at %v", after.ID, after.RotateDueAt)
	}
	want := []string{"integration added", "integration rotation set", "integration base url changed", "key created", "integration rotation set"}
	entries := logs.All()
	if len(entries) != len(want) {
		t.Fatalf("%d audit entries, want %d", len(entries), len(want))
	}
	for i, e := range entries {
		if f := e.ContextMap(); f["action"] != want[i] {
			t.Errorf("audit entry %d = %v, want %q", i, f["action"], want[i])
		}
	}
	// The rotation entries say what was set.
	if f := entries[1].ContextMap(); f["rotate_every"] != "90d" || f["rotate_grace"] != "2h" {
		t.Errorf("the first rotation's audit entry: %v, want rotate_every 90d, rotate_grace 2h", f)
	}
	if f := entries[4].ContextMap(); f["rotate_every"] != "never" || f["rotate_grace"] != "1h" {
		t.Errorf("turning rotation off: audit entry %v, want rotate_every never, rotate_grace 1h (the default)", f)
	}
}

// TestAdminIntegrationRotationRefusals: the route checks as set-rotation
// does and names the JSON fields, never the command line's flags.
func TestAdminIntegrationRotationRefusals(t *testing.T) {
	srv, logs := adminServer(t)
	call(t, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9"}`, nil)
	const path = "/keygate/integrations/billing/rotation"
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"PUT", path, `{}`, 400, "missing rotate_every: how often"},
		{"PUT", path, `{"rotate_every":"","rotate_grace":"1h"}`, 400, "missing rotate_every"},
		{"PUT", path, `{"rotate_every":"abc"}`, 400, `invalid rotate_every "abc"`},
		{"PUT", path, `{"rotate_every":"0s"}`, 400, `invalid rotate_every "0s"`},
		{"PUT", path, `{"rotate_every":"-1h"}`, 400, `invalid rotate_every "-1h"`},
		{"PUT", path, `{"rotate_every":"30s"}`, 400, "invalid rotate_every: rotation period 30s is under a minute"},
		{"PUT", path, `{"rotate_every":"30d","rotate_grace":"-1h"}`, 400, `invalid rotate_grace "-1h"`},
		{"PUT", path, `{"rotate_every":"30d","rotate_grace":"1.5s"}`, 400, "invalid rotate_grace"},
		{"PUT", path, `{"rotate_every":30}`, 400, "rotate_every"},
		{"PUT", path, `{"rotate_every":"30d","grace":"1h"}`, 400, `unknown field "grace"`},
		{"PUT", path, `{"rotate_every":"30d","rotate_every":"0"}`, 400, `field "rotate_every" appears more than once`},
		{"PUT", path, ``, 400, "missing JSON body"},
		{"PUT", "/keygate/integrations/nope/rotation", `{"rotate_every":"30d"}`, 404, `unknown integration "nope"`},
		{"PUT", "/keygate/integrations/Bad!/rotation", `{"rotate_every":"30d"}`, 400, "invalid integration id"},
		{"POST", path, `{"rotate_every":"30d"}`, 405, "use PUT"},
		{"GET", path, "", 405, "use PUT"},
		{"PUT", "/keygate/integrations/billing/rotation/x", `{"rotate_every":"30d"}`, 404, "no such route"},
		{"PUT", "/keygate/integrations/billing/other", `{"rotate_every":"30d"}`, 404, "no such route"},
	} {
		var body map[string]string
		if s := call(t, srv, tc.method, tc.path, tc.body, &body); s != tc.status || !strings.Contains(body["error"], tc.want) {
			t.Errorf("%s %s %s: %d %q, want %d with %q", tc.method, tc.path, tc.body, s, body["error"], tc.status, tc.want)
		}
		if strings.Contains(body["error"], "--") {
			t.Errorf("%s %s %s: %q names a command line flag", tc.method, tc.path, tc.body, body["error"])
		}
	}
	var ins []map[string]any
	if call(t, srv, "GET", "/keygate/integrations", "", &ins); len(ins) != 1 || ins[0]["rotate_every"] != nil || ins[0]["rotate_grace"] != nil {
		t.Errorf("refused requests changed the integration: %v", ins)
	}
	if n := len(logs.All()); n != 1 { // integration added
		t.Errorf("%d audit entries after refusals, want 1", n)
	}
}

// TestAdminAddIntegrationWithRotation: POST /keygate/integrations takes
// rotate_every and rotate_grace as `integrations add` does, in one write;
// a bad one is a 400 naming its field, and no integration is created.
func TestAdminAddIntegrationWithRotation(t *testing.T) {
	srv, logs := adminServer(t)
	for _, tc := range []struct{ body, want string }{
		{`"rotate_every":"30s"`, "rotate_every"},
		{`"rotate_every":"soon"`, "rotate_every"},
		{`"rotate_grace":"-1h"`, "rotate_grace"},
		{`"rotate_every":90`, "rotate_every"},
	} {
		var body map[string]string
		if s := call(t, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9",`+tc.body+`}`, &body); s != 400 ||
			!strings.Contains(body["error"], tc.want) || strings.Contains(body["error"], "--") {
			t.Errorf("%s: %d %q, want 400 naming %s and no flag", tc.body, s, body["error"], tc.want)
		}
	}
	var ins []map[string]any
	if call(t, srv, "GET", "/keygate/integrations", "", &ins); len(ins) != 0 || len(logs.All()) != 0 {
		t.Fatalf("refused requests left %d integrations and %d audit entries", len(ins), len(logs.All()))
	}
	var in map[string]any
	if s := call(t, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9","rotate_every":"90d","rotate_grace":"2h"}`, &in); s != 201 ||
		in["rotate_every"] != "90d" || in["rotate_grace"] != "2h" {
		t.Fatalf("adding with rotation: %d %v", s, in)
	}
	if call(t, srv, "GET", "/keygate/integrations", "", &ins); len(ins) != 1 || ins[0]["rotate_every"] != "90d" || ins[0]["rotate_grace"] != "2h" {
		t.Errorf("the listing shows %v, want the rotation as added", ins)
	}
	if entries := logs.All(); len(entries) != 1 || entries[0].ContextMap()["rotate_every"] != "90d" || entries[0].ContextMap()["rotate_grace"] != "2h" {
		t.Errorf("audit entries %v, want one 'integration added' with the rotation", entries)
	}
}
