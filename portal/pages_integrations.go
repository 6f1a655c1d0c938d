package portal

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keygate/keygate/keystore"
)

// keysPerPage is how many keys an integration's page lists.
const keysPerPage = 50

// form is a form's values and the problem with it, if any, shown next to
// its field.
type form struct {
	Values  map[string]string
	Problem Problem
}

// fieldError returns the message for field, if the problem is about it.
func (f form) FieldError(field string) string {
	if f.Problem.Message != "" && f.Problem.Field == field {
		return f.Problem.Message
	}
	return ""
}

// FormError is the message of a problem about the form as a whole.
func (f form) FormError() string {
	if f.Problem.Message != "" && f.Problem.Field == "" {
		return f.Problem.Message
	}
	return ""
}

func (f form) Value(name string) string { return f.Values[name] }

type integrationsData struct {
	Integrations []keystore.Integration
	Add          form
}

func (p *Portal) integrations(w http.ResponseWriter, r *http.Request) {
	p.showIntegrations(w, r, http.StatusOK, form{})
}

func (p *Portal) showIntegrations(w http.ResponseWriter, r *http.Request, status int, add form) {
	ins, err := p.ops.Integrations(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, status, "integrations.html", "Integrations", "integrations", integrationsData{Integrations: ins, Add: add})
}

func (p *Portal) addIntegration(w http.ResponseWriter, r *http.Request) {
	id, baseURL := strings.TrimSpace(r.PostFormValue("id")), strings.TrimSpace(r.PostFormValue("base_url"))
	in, err := p.ops.AddIntegration(r.Context(), user(r), id, baseURL)
	if err != nil {
		p.formFailed(w, r, err, func(status int, f form) { p.showIntegrations(w, r, status, f) },
			map[string]string{"id": id, "base_url": baseURL})
		return
	}
	seeOther(w, r, "/integrations/"+in.ID+"?notice=integration-added")
}

type integrationData struct {
	Integration keystore.Integration
	GatewayURL  string
	Keys        []keyRow
	Page        int
	PrevPage    int // 0: none
	NextPage    int // 0: none
	BaseURL     form
	Connect     form
}

// keyRow is a key as a listing shows it.
type keyRow struct {
	keystore.Key
	State string
}

// findIntegration returns the integration with this id.
func (p *Portal) findIntegration(r *http.Request, id string) (keystore.Integration, bool, error) {
	ins, err := p.ops.Integrations(r.Context())
	if err != nil {
		return keystore.Integration{}, false, err
	}
	i := slices.IndexFunc(ins, func(in keystore.Integration) bool { return in.ID == id })
	if i < 0 {
		return keystore.Integration{}, false, nil
	}
	return ins[i], true, nil
}

func (p *Portal) integration(w http.ResponseWriter, r *http.Request) {
	p.showIntegration(w, r, http.StatusOK, form{}, form{})
}

func (p *Portal) showIntegration(w http.ResponseWriter, r *http.Request, status int, baseURL, connect form) {
	in, ok, err := p.findIntegration(r, r.PathValue("id"))
	switch {
	case err != nil:
		p.fail(w, r, err)
		return
	case !ok:
		p.notFound(w, r, "There is no integration "+strconv.Quote(r.PathValue("id"))+".")
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	keys, err := p.ops.Keys(r.Context(), in.ID, keysPerPage+1, (page-1)*keysPerPage)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := integrationData{Integration: in, GatewayURL: p.gatewayFor(r, in.ID), Page: page, BaseURL: baseURL, Connect: connect}
	if len(keys) > keysPerPage {
		keys, d.NextPage = keys[:keysPerPage], page+1
	}
	if page > 1 {
		d.PrevPage = page - 1
	}
	now := p.now()
	for _, k := range keys {
		d.Keys = append(d.Keys, keyRow{Key: k, State: k.Status(now)})
	}
	p.render(w, r, status, "integration.html", "Integration "+in.ID, "integrations", d)
}

// gatewayFor is the URL clients call integration id at.
func (p *Portal) gatewayFor(r *http.Request, id string) string {
	if p.gatewayURL != "" {
		return strings.ReplaceAll(p.gatewayURL, "{integration}", id)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (p *Portal) setBaseURL(w http.ResponseWriter, r *http.Request) {
	id, baseURL := r.PathValue("id"), strings.TrimSpace(r.PostFormValue("base_url"))
	if _, err := p.ops.SetIntegrationURL(r.Context(), user(r), id, baseURL); err != nil {
		p.formFailed(w, r, err, func(status int, f form) { p.showIntegration(w, r, status, f, form{}) },
			map[string]string{"base_url": baseURL})
		return
	}
	seeOther(w, r, "/integrations/"+id+"?notice=base-url-changed")
}

// formFailed shows err next to the form it came from, or on a page of its
// own when it is not about the form (5xx, or an unknown integration).
func (p *Portal) formFailed(w http.ResponseWriter, r *http.Request, err error, show func(int, form), values map[string]string) {
	pr := p.ops.Explain(err)
	if pr.Status >= 500 || pr.Status == http.StatusNotFound {
		p.fail(w, r, err)
		return
	}
	if _, ok := values[pr.Field]; !ok {
		pr.Field = "" // not a field of this form: about the form as a whole
	}
	show(pr.Status, form{Values: values, Problem: pr})
}

type confirmData struct {
	Question, Detail, Action, Button, Cancel string
	// Danger marks an action that cannot be undone.
	Danger bool
	// Fields are extra inputs of the form (the grace of a rotation).
	Grace bool
	Form  form
}

func (p *Portal) confirmRemoveIntegration(w http.ResponseWriter, r *http.Request) {
	p.showConfirmRemove(w, r, http.StatusOK, form{})
}

func (p *Portal) showConfirmRemove(w http.ResponseWriter, r *http.Request, status int, f form) {
	id := r.PathValue("id")
	p.render(w, r, status, "confirm.html", "Remove integration "+id, "integrations", confirmData{
		Question: "Remove integration " + id + "?",
		Detail:   "Its keys are deleted for good with it. An integration with active keys cannot be removed: revoke or delete them first.",
		Action:   "/integrations/" + id + "/remove", Button: "Remove integration", Cancel: "/integrations/" + id,
		Danger: true, Form: f,
	})
}

func (p *Portal) removeIntegration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := p.ops.RemoveIntegration(r.Context(), user(r), id); err != nil {
		p.formFailed(w, r, err, func(status int, f form) { p.showConfirmRemove(w, r, status, f) }, nil)
		return
	}
	seeOther(w, r, "/integrations?notice=integration-removed")
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	p.render(w, r, http.StatusNotFound, "error.html", "Not found", "", Problem{Status: http.StatusNotFound, Message: msg})
}
