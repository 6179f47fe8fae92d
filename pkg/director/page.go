package director

import (
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PageRefresh is how often the status page reloads itself.
const PageRefresh = 10 * time.Second

//go:embed page.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"age": func(d time.Duration) string { return age(d) },
}).Parse(pageSource))

// backendView is one backend of one service as the loop last published
// it: whether it passes its checks, its place in the table, and the last
// transition.
type backendView struct {
	up, inTable, drained bool
	weight               int
	reason               string
	since                time.Time // zero: no transition since start
}

// serviceInfo is a service as the page lists it, copied from the spec.
type serviceInfo struct {
	name, key, scheduler string
	members              []memberInfo
}

type memberInfo struct {
	backend string
	dest    netip.AddrPort
}

// publishView copies a service's backends' state for the page; it runs
// on the loop goroutine, wherever the gauges are set.
func (d *Director) publishView(ss *serviceSpec) {
	have := d.present[ss.Key]
	s := d.state
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ss.Members {
		k := [2]string{ss.Name, m.Backend}
		v := s.rows[k]
		if v == nil {
			v = &backendView{}
			s.rows[k] = v
		}
		dst, in := have[m.Destination.Key()]
		v.up, v.inTable, v.weight = d.healthOf(m.Backend, m.Check).up, in, dst.Weight
		v.drained = d.drained[m.Backend] != nil
	}
}

// noteTransition keeps the reason and time of a backend's state change in
// a service.
func (d *Director) noteTransition(service, backend, reason string) {
	s := d.state
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{service, backend}
	if s.rows[k] == nil {
		s.rows[k] = &backendView{}
	}
	s.rows[k].reason, s.rows[k].since = reason, s.now()
}

// Page is what the status page shows; PageData returns it.
type Page struct {
	Cluster, Node string
	Healthy       bool
	Health        string
	Generated     time.Time
	Refresh       int
	VIPs          []PageVIP
	VIPNote       string
	Services      []PageService
	Drains        []PageDrain
}

// PageVIP is a VIP and whether this director holds it.
type PageVIP struct {
	Name, Address, Interface, State string
	Held                            bool
}

// PageService is one service and its backends.
type PageService struct {
	Name, Key, Scheduler string
	Backends             []PageBackend
}

// PageBackend is one backend's row: State is "up", "down" or "drained";
// Weight is "-" when the destination is not in the table.
type PageBackend struct {
	Name, Address, State, Weight, Reason, Age string
	// PPS is the packets per second of the last sample, Spark the
	// points of the traffic graph (empty without two samples).
	PPS   string
	Spark string
}

// PageDrain is one drain record.
type PageDrain struct {
	Backend, Address, Since, Age string
}

// PageData collects what the status page shows, now.
func (d *Director) PageData() Page {
	s := d.state
	now := s.now()
	ok, why := d.Healthy()
	p := Page{Cluster: s.cluster, Node: s.node, Healthy: ok, Health: why, Generated: now.UTC(), Refresh: int(PageRefresh / time.Second)}
	states, err := s.vipStates()
	switch {
	case err != nil:
		p.VIPNote = "VIPs not read: " + err.Error()
	case states == nil:
		p.VIPNote = "VIPs not read: no --node, or no interface reader"
	}
	for _, st := range states {
		v := PageVIP{Name: st.Address.Name, Address: st.Address.Prefix.String(), Interface: st.Address.Interface, Held: st.Present, State: "not held here"}
		if st.Present {
			v.State = "held by this director"
		}
		if st.Missing {
			v.State = "no interface " + st.Address.Interface
		}
		p.VIPs = append(p.VIPs, v)
	}
	names := map[string]string{}
	drains := s.drains()
	s.mu.Lock()
	for _, svc := range s.services {
		ps := PageService{Name: svc.name, Key: svc.key, Scheduler: svc.scheduler}
		for _, m := range svc.members {
			names[m.dest.Addr().String()] = m.backend
			b := PageBackend{Name: m.backend, Address: m.dest.String(), State: "down", Weight: "-", Reason: "no transition since the director started", Age: "-"}
			if v := s.rows[[2]string{svc.name, m.backend}]; v != nil {
				switch {
				case v.drained:
					b.State = "drained"
				case v.up:
					b.State = "up"
				}
				if v.inTable {
					b.Weight = strconv.Itoa(v.weight)
				}
				if !v.since.IsZero() {
					b.Reason, b.Age = v.reason, age(now.Sub(v.since))
				}
				if rec, ok := drains[m.dest.Addr().String()]; ok && v.drained {
					b.Reason, b.Age = rec.Reason(), age(now.Sub(rec.Since))
				}
			}
			ps.Backends = append(ps.Backends, b)
		}
		p.Services = append(p.Services, ps)
	}
	s.mu.Unlock()
	for i := range p.Services {
		for j := range p.Services[i].Backends {
			b := &p.Services[i].Backends[j]
			rates := d.traffic.hist.rates(p.Services[i].Name, b.Name)
			if len(rates) > 0 {
				b.PPS = strconv.FormatFloat(rates[len(rates)-1], 'f', 1, 64)
				b.Spark = sparkline(rates, 160, 24)
			}
		}
	}
	addrs := make([]string, 0, len(drains))
	for a := range drains {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		r := drains[a]
		name := r.Name
		if name == "" {
			name = names[a]
		}
		p.Drains = append(p.Drains, PageDrain{Backend: name, Address: a, Since: r.Since.UTC().Format(time.RFC3339), Age: age(now.Sub(r.Since))})
	}
	return p
}

// sparkline is an SVG polyline's points for values, scaled to w × h
// (the largest value at the top; all zero along the bottom).
func sparkline(values []float64, w, h int) string {
	top := slices.Max(values)
	var b strings.Builder
	for i, v := range values {
		x := 0.0
		if len(values) > 1 {
			x = float64(i) * float64(w) / float64(len(values)-1)
		}
		y := float64(h)
		if top > 0 {
			y = float64(h) - v/top*float64(h-2) - 1
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", x, y)
	}
	return b.String()
}

// age writes a duration as "45s", "12m", "3h20m" or "2d4h".
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// servePage answers GET / with the status page: one HTML document, no
// scripts or external assets, reloading itself every PageRefresh. It
// reads the table once (for the traffic graphs), so a viewer samples too.
func (d *Director) servePage(w http.ResponseWriter, r *http.Request) {
	if d.cfg.Target != nil {
		d.traffic.sample(r.Context()) // for the graphs
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Header().Set("Cache-Control", "no-store")
	if err := pageTemplate.Execute(w, d.PageData()); err != nil {
		d.log.Warn("status page", "error", err)
	}
}
