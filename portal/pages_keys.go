package portal

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/keystore"
)

// shownData is the one page that shows a key: the result of Connect or of
// a rotation.
type shownData struct {
	Key         keystore.Key
	Secret      string
	Integration keystore.Integration
	GatewayURL  string
	// Curl is a command line that tries the key; empty for an
	// exchange-only key.
	Curl string
	// Old is the rotated key, for a rotation.
	Old *keystore.Key
	// Confirmed is the confirmation of a rotation that ended the old key
	// at once.
	Confirmed *Confirmation
}

func (p *Portal) connect(w http.ResponseWriter, r *http.Request) {
	req := KeyRequest{
		Integration:  r.PathValue("id"),
		Name:         strings.TrimSpace(r.PostFormValue("name")),
		ExpiresIn:    strings.TrimSpace(r.PostFormValue("expires_in")),
		RotateEvery:  strings.TrimSpace(r.PostFormValue("rotate_every")),
		ExchangeOnly: r.PostFormValue("exchange_only") != "",
	}
	created, err := p.ops.CreateKey(r.Context(), user(r), req)
	if err != nil {
		exchange := ""
		if req.ExchangeOnly {
			exchange = "on"
		}
		p.formFailed(w, r, err, func(status int, f form) { p.showIntegration(w, r, status, form{}, f) },
			map[string]string{"name": req.Name, "expires_in": req.ExpiresIn, "rotate_every": req.RotateEvery, "exchange_only": exchange})
		return
	}
	p.showKeyOnce(w, r, created, nil)
}

// showKeyOnce renders the page with the key itself. The key is in no URL
// and no later page: leaving this page loses it.
func (p *Portal) showKeyOnce(w http.ResponseWriter, r *http.Request, created NewKey, old *Change) {
	in, _, err := p.findIntegration(r, created.Key.IntegrationID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	gw := p.gatewayFor(r, in.ID)
	d := shownData{Key: created.Key, Secret: created.Secret, Integration: in, GatewayURL: gw}
	if !created.Key.ExchangeOnly { // the edge refuses an exchange-only key: nothing to try with curl
		d.Curl = `curl -H "Authorization: Bearer ` + created.Secret + `" ` + strings.TrimSuffix(gw, "/") + "/"
	}
	if old != nil {
		d.Old, d.Confirmed = &old.Key, old.Confirmed
	}
	p.render(w, r, http.StatusOK, "shown.html", "Key "+created.Key.Name, "integrations", d)
}

type keyData struct {
	Key   keystore.Key
	State string
	// RotateDueNow: the key is past its rotation due time.
	RotateDueNow bool
	Chart        usageChart
}

func (p *Portal) key(w http.ResponseWriter, r *http.Request) {
	k, err := p.ops.Key(r.Context(), r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	now := p.now()
	counts, err := p.ops.Usage(r.Context(), k.ID, chartSince(now))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := keyData{Key: k, State: k.Status(now), RotateDueNow: k.DueForRotation(now), Chart: newUsageChart(counts, now)}
	p.render(w, r, http.StatusOK, "key.html", "Key "+k.Name, "integrations", d)
}

// keyActions are the confirmation pages of the key changes.
var keyActions = map[string]confirmData{
	"revoke": {Question: "Revoke key %s?", Button: "Revoke key", Danger: true,
		Detail: "Every gateway refuses it from now on. This cannot be undone."},
	"rotate": {Question: "Rotate key %s?", Button: "Rotate key", Grace: true,
		Detail: "A new key with the same name is made and shown once; the old one keeps working for the grace period, then expires."},
	"delete": {Question: "Delete key %s?", Button: "Delete key", Danger: true,
		Detail: "It is refused like a revoked key and gone from the listings. This cannot be undone."},
}

func (p *Portal) confirmKeyAction(w http.ResponseWriter, r *http.Request) {
	p.showConfirmKey(w, r, http.StatusOK, r.PathValue("action"), form{Values: map[string]string{"grace": "1h"}})
}

func (p *Portal) showConfirmKey(w http.ResponseWriter, r *http.Request, status int, action string, f form) {
	c, ok := keyActions[action]
	if !ok {
		p.notFound(w, r, "There is no such page in the portal.")
		return
	}
	k, err := p.ops.Key(r.Context(), r.PathValue("id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	label := strconv.Quote(k.Name) + " (" + k.ID + ")"
	c.Question = strings.Replace(c.Question, "%s", label, 1)
	c.Action, c.Cancel, c.Form = "/keys/"+k.ID+"/"+action, "/keys/"+k.ID, f
	p.render(w, r, status, "confirm.html", c.Button, "integrations", c)
}

func (p *Portal) revoke(w http.ResponseWriter, r *http.Request) {
	ch, err := p.ops.RevokeKey(r.Context(), user(r), r.PathValue("id"))
	if err != nil {
		p.formFailed(w, r, err, func(status int, f form) { p.showConfirmKey(w, r, status, "revoke", f) }, nil)
		return
	}
	seeOther(w, r, "/keys/"+ch.Key.ID+"?notice=key-revoked"+confirmationQuery(ch.Confirmed))
}

func (p *Portal) rotate(w http.ResponseWriter, r *http.Request) {
	grace := strings.TrimSpace(r.PostFormValue("grace"))
	next, old, err := p.ops.RotateKey(r.Context(), user(r), r.PathValue("id"), grace)
	if err != nil {
		p.formFailed(w, r, err, func(status int, f form) { p.showConfirmKey(w, r, status, "rotate", f) },
			map[string]string{"grace": grace})
		return
	}
	p.showKeyOnce(w, r, next, &old)
}

func (p *Portal) deleteKey(w http.ResponseWriter, r *http.Request) {
	ch, err := p.ops.DeleteKey(r.Context(), user(r), r.PathValue("id"))
	if err != nil {
		p.formFailed(w, r, err, func(status int, f form) { p.showConfirmKey(w, r, status, "delete", f) }, nil)
		return
	}
	seeOther(w, r, "/integrations/"+ch.Key.IntegrationID+"?notice=key-deleted"+confirmationQuery(ch.Confirmed))
}

// maxMissing bounds the gateways a confirmation names over a redirect.
const maxMissing = 20

// confirmationQuery carries a change's confirmation over the redirect to
// the next page: counts and gateway names only, nothing secret.
func confirmationQuery(c *Confirmation) string {
	if c == nil {
		return ""
	}
	q := url.Values{"live": {strconv.Itoa(c.Live)}, "confirmed": {strconv.Itoa(c.Confirmed)},
		"ms": {strconv.FormatInt(c.Took.Milliseconds(), 10)}}
	q["missing"] = c.Missing[:min(len(c.Missing), maxMissing)]
	return "&" + q.Encode()
}

// confirmationFrom reads what confirmationQuery wrote; nil when absent.
func confirmationFrom(q url.Values) *Confirmation {
	live, err1 := strconv.Atoi(q.Get("live"))
	confirmed, err2 := strconv.Atoi(q.Get("confirmed"))
	ms, err3 := strconv.ParseInt(q.Get("ms"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || live < 0 || confirmed < 0 || ms < 0 {
		return nil
	}
	missing := q["missing"]
	return &Confirmation{Live: live, Confirmed: confirmed, Took: time.Duration(ms) * time.Millisecond,
		Missing: missing[:min(len(missing), maxMissing)]}
}
