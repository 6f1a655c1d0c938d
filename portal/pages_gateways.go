package portal

import (
	"net/http"
	"time"

	"github.com/keygate/keygate/keystore"
)

// gatewayRow is one gateway of the fleet as the gateways page lists it.
type gatewayRow struct {
	keystore.Gateway
	// Lag is how many changes of the feed it has not applied yet.
	Lag int64
	// Ago is how long before the read it last recorded itself.
	Ago time.Duration
}

type gatewaysData struct {
	Head     int64
	Live     int
	Gateways []gatewayRow
}

func (p *Portal) gateways(w http.ResponseWriter, r *http.Request) {
	f, err := p.ops.Gateways(r.Context())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := gatewaysData{Head: f.Head}
	for _, g := range f.Gateways {
		if g.Live {
			d.Live++
		}
		d.Gateways = append(d.Gateways, gatewayRow{Gateway: g, Lag: f.Lag(g), Ago: f.Now.Sub(g.LastSeen).Round(time.Millisecond)})
	}
	p.render(w, r, http.StatusOK, "gateways.html", "Gateways", "gateways", d)
}
