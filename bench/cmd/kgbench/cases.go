package main

import (
	"fmt"
	"net/http"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// caseKind says how a case is driven and judged.
type caseKind int

const (
	kindLegit caseKind = iota // valid key, proxied
	kindFlood                 // refused requests only
	kindMixed                 // legit traffic measured beside a flood
)

// benchCase is one row of the table.
type benchCase struct {
	name  string
	kind  caseKind
	gw    *gateway
	tr    vegeta.Targeter
	flood vegeta.Targeter // kindMixed: the flood beside tr
	note  string

	rounds   []measurement
	baseline []float64 // plain reverse_proxy: req/s at the end of each round
}

// measurement is one throughput phase of a case.
type measurement struct {
	res     loadResult
	latency loadResult // at the constant latency rate
	flood   loadResult // kindMixed
	cpu     float64    // the gateway's CPU seconds per request; 0 unknown
	loadgen float64    // the load generator's CPU, in cores
	ratio   float64    // req/s over plain reverse_proxy's in the same round
	lookups float64    // store lookups during the phase; -1 unknown
}

// floodPool is how many distinct requests each flood cycles through:
// more than one phase sends, so that the negative cache does not answer
// for a key seen in the same phase.
const floodPool = 40000

// cases returns the table's rows, in the order they run.
func (e *benchEnv) cases() ([]*benchCase, error) {
	legit := http.Header{"Authorization": {"Bearer " + e.legit.Key}}
	unknown, err := unknownKeys(2 * floodPool)
	if err != nil {
		return nil, err
	}
	bad := malformed(e.legit.Key)
	malformedFlood := floodHeaders(floodPool, floodPool, func(int) string { return bad })
	oneIP := floodHeaders(floodPool, 1, func(i int) string { return unknown[i] })
	manyIPs := floodHeaders(floodPool, floodPool, func(i int) string { return unknown[floodPool+i] })
	hit := staticTargeter(e.staticURL, legit)
	many := fmt.Sprintf("%dk client IPs", floodPool/1000)
	forged, err := forgedTokens(e.token, floodPool)
	if err != nil {
		return nil, err
	}
	forgedFlood := floodHeaders(floodPool, floodPool, func(i int) string { return forged[i] })
	return []*benchCase{
		{name: "plain reverse_proxy", gw: e.plain, tr: staticTargeter(e.plainURL, legit), note: "stock Caddy"},
		{name: "static header matcher", gw: e.plain, tr: staticTargeter(e.headerURL, legit), note: "stock Caddy"},
		{name: "forward_auth peer", gw: e.plain, tr: staticTargeter(e.forwardURL, legit), note: "stock Caddy, no cache"},
		{name: "keygate hit, static", gw: e.keygate, tr: hit},
		{name: "keygate hit, dynamic", gw: e.keygate, tr: staticTargeter(e.dynamicURL, legit)},
		{name: "keygate token hit, static", gw: e.keygate, tr: staticTargeter(e.staticURL, http.Header{"Authorization": {"Bearer " + e.token}}), note: "kgt_ access token"},
		{name: "keygate hit, static, padded", gw: e.keygate, tr: staticTargeter(e.staticURL, http.Header{"Authorization": {"Bearer " + e.legit.Key}, "X-Pad": {strings.Repeat("p", len(e.token)-len(e.legit.Key))}}), note: "key + a header the token's extra length"},
		{name: "malformed-key flood", kind: kindFlood, gw: e.keygate, tr: rotatingTargeter(e.staticURL, malformedFlood), note: many},
		{name: "unknown-key flood, 1 IP", kind: kindFlood, gw: e.keygate, tr: rotatingTargeter(e.staticURL, oneIP)},
		{name: "unknown-key flood, many IPs", kind: kindFlood, gw: e.keygate, tr: rotatingTargeter(e.staticURL, manyIPs), note: many},
		{name: "forged-token flood, many IPs", kind: kindFlood, gw: e.keygate, tr: rotatingTargeter(e.staticURL, forgedFlood), note: many + ", a signature check each"},
		{name: "mixed: hit + flood, 1 IP", kind: kindMixed, gw: e.keygate, tr: hit, flood: rotatingTargeter(e.staticURL, oneIP)},
		{name: "mixed: hit + flood, many IPs", kind: kindMixed, gw: e.keygate, tr: hit, flood: rotatingTargeter(e.staticURL, manyIPs)},
	}, nil
}
