package portal

import "net/http"

// routes registers the pages. A GET never changes anything; each change
// is a POST, and each destructive one has a GET confirmation page at the
// same path for browsers without JavaScript.
func (p *Portal) routes() {
	m := p.mux
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { seeOther(w, r, "/integrations") })
	m.HandleFunc("GET /assets/{file}", serveAsset)
	m.HandleFunc("GET /integrations", p.integrations)
	m.HandleFunc("POST /integrations", p.addIntegration)
	m.HandleFunc("GET /integrations/{id}", p.integration)
	m.HandleFunc("POST /integrations/{id}/base-url", p.setBaseURL)
	m.HandleFunc("GET /integrations/{id}/remove", p.confirmRemoveIntegration)
	m.HandleFunc("POST /integrations/{id}/remove", p.removeIntegration)
	m.HandleFunc("POST /integrations/{id}/connect", p.connect)
	m.HandleFunc("GET /keys/{id}", p.key)
	m.HandleFunc("GET /keys/{id}/{action}", p.confirmKeyAction)
	m.HandleFunc("POST /keys/{id}/revoke", p.revoke)
	m.HandleFunc("POST /keys/{id}/rotate", p.rotate)
	m.HandleFunc("POST /keys/{id}/delete", p.deleteKey)
	m.HandleFunc("GET /gateways", p.gateways)
	m.HandleFunc("GET /audit", p.audit)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusNotFound, "error.html", "Not found", "",
			Problem{Status: http.StatusNotFound, Message: "There is no such page in the portal."})
	})
}
