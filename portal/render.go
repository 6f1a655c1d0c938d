package portal

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"time"

	"github.com/keygate/keygate/keystore"
)

//go:embed templates/*.html
var templateFiles embed.FS

// pages holds each page's template, parsed with the layout.
var pages = parsePages()

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{"when": when, "whenPtr": whenPtr, "lifetime": keystore.FormatLifetime}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" {
			continue
		}
		out[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFiles, name))
	}
	return out
}

// view is what every page template gets.
type view struct {
	Title string
	// Nav names the section the page belongs to, for the navigation.
	Nav   string
	User  string
	Mount string
	CSRF  string
	// Notice is a message about what was just done.
	Notice string
	// Confirmed is how far the change just done reached the gateways,
	// when it ended a key.
	Confirmed *Confirmation
	Data      any
}

// render writes page with status.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, page, title, nav string, data any) {
	v := view{Title: title, Nav: nav, User: user(r), Mount: mount(r), CSRF: p.csrf.token(user(r), p.now()),
		Notice: notice(r), Data: data}
	if v.Notice != "" {
		v.Confirmed = confirmationFrom(r.URL.Query())
	}
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		p.onError(r, fmt.Errorf("rendering %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows the error of an operation on a page of its own.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, err error) {
	pr := p.ops.Explain(err)
	if pr.Status >= 500 {
		p.onError(r, err)
	}
	p.render(w, r, pr.Status, "error.html", http.StatusText(pr.Status), "", pr)
}

// seeOther redirects to a page of the portal after a change.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, mount(r)+to, http.StatusSeeOther)
}

// when formats a time for a page.
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// whenPtr formats an optional time, with none for nil.
func whenPtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return when(*t)
}

// notices are the messages a redirect after a change may ask for, by
// code: a page never echoes text from its URL.
var notices = map[string]string{
	"integration-added":   "Integration added.",
	"base-url-changed":    "Base URL changed.",
	"integration-removed": "Integration removed.",
	"key-revoked":         "Key revoked.",
	"key-deleted":         "Key deleted.",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("notice")] }
