package director

import (
	"sync"
	"time"

	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/vip"
	"github.com/prometheus/client_golang/prometheus"
)

// VIPReader reads whether addresses are on their interfaces; *vip.Handle
// satisfies it.
type VIPReader interface {
	Show(addrs []vip.Address) ([]vip.State, error)
}

// WatchVIPs makes the director report, on /metrics and its status page,
// whether this host holds each VIP (on the director's interface). Call it
// before serving the handler; node must be set in Config.
func (d *Director) WatchVIPs(r VIPReader) {
	d.state.mu.Lock()
	d.state.vips = r
	d.state.mu.Unlock()
}

// backendInfo is what the alert rules and the status page need of a
// backend, copied from the spec so the HTTP side never reads the loop's.
type backendInfo struct {
	name, address string
	interval      time.Duration
}

// stateView is a collector of the director's own state: health, check
// intervals, drain records and the VIPs this host holds, read at scrape
// time (a drain record is a file; a VIP an interface address).
type stateView struct {
	d *Director

	now func() time.Time

	mu       sync.Mutex
	cluster  string
	node     string
	backends []backendInfo
	addrs    []vip.Address
	vips     VIPReader
	// services and rows are the status page's: the spec's services, and
	// their backends' state as the loop last published it.
	services []serviceInfo
	rows     map[[2]string]*backendView

	healthy, interval, drained, held *prometheus.Desc
}

func newStateView(d *Director) *stateView {
	return &stateView{d: d, now: time.Now, rows: map[[2]string]*backendView{},
		healthy:  prometheus.NewDesc("hala_director_healthy", "1 when the director is doing its job (as /healthz answers 200), else 0.", nil, nil),
		interval: prometheus.NewDesc("hala_backend_check_interval_seconds", "The backend's check interval (the shortest of its services').", []string{"backend", "address"}, nil),
		drained:  prometheus.NewDesc("hala_backend_drained_since_timestamp_seconds", "Unix time the backend's drain record was written (hala drain); absent when not drained.", []string{"backend", "address"}, nil),
		held:     prometheus.NewDesc("hala_vip_held", "1 when the VIP is on this director's interface (VRRP master), else 0.", []string{"vip", "address", "interface"}, nil),
	}
}

// setSpec copies what the collector reads from a (new) spec.
func (s *stateView) setSpec(sp *spec, node string) {
	var bs []backendInfo
	for _, name := range sp.backendNames() {
		b := sp.backends[name]
		bs = append(bs, backendInfo{name: name, address: b.Address.String(), interval: b.Interval})
	}
	var addrs []vip.Address
	if d, ok := sp.inv.Director(node); ok && node != "" {
		for _, v := range sp.inv.VIPs {
			addrs = append(addrs, vip.Address{Name: v.Name, Prefix: v.Address, Interface: d.Interface})
		}
	}
	var svcs []serviceInfo
	keep := map[[2]string]bool{}
	for _, ss := range sp.services {
		si := serviceInfo{name: ss.Name, key: ss.Key.String(), scheduler: ss.Service.Scheduler}
		for _, m := range ss.Members {
			si.members = append(si.members, memberInfo{backend: m.Backend, dest: m.Destination.Key()})
			keep[[2]string{ss.Name, m.Backend}] = true
		}
		svcs = append(svcs, si)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cluster, s.node = sp.inv.Cluster.Name, node
	s.backends, s.addrs, s.services = bs, addrs, svcs
	for k := range s.rows {
		if !keep[k] {
			delete(s.rows, k)
		}
	}
}

func (s *stateView) snapshot() ([]backendInfo, []vip.Address, VIPReader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backends, s.addrs, s.vips
}

// vipStates reads the VIPs this director would hold; nil without a
// reader or a node.
func (s *stateView) vipStates() ([]vip.State, error) {
	_, addrs, r := s.snapshot()
	if r == nil || len(addrs) == 0 {
		return nil, nil
	}
	return r.Show(addrs)
}

// drains lists the drain records, by address.
func (s *stateView) drains() map[string]drain.Record {
	recs, _ := drain.List(s.d.cfg.DrainDir) // unreadable ones are logged by the loop
	out := make(map[string]drain.Record, len(recs))
	for _, r := range recs {
		out[r.Address.String()] = r
	}
	return out
}

// Describe sends the descriptors of every series.
func (s *stateView) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.healthy
	ch <- s.interval
	ch <- s.drained
	ch <- s.held
}

// Collect sends the state as it is now.
func (s *stateView) Collect(ch chan<- prometheus.Metric) {
	ok, _ := s.d.Healthy()
	ch <- prometheus.MustNewConstMetric(s.healthy, prometheus.GaugeValue, b2f(ok))
	backends, _, _ := s.snapshot()
	drains := s.drains()
	for _, b := range backends {
		ch <- prometheus.MustNewConstMetric(s.interval, prometheus.GaugeValue, b.interval.Seconds(), b.name, b.address)
		if r, ok := drains[b.address]; ok {
			ch <- prometheus.MustNewConstMetric(s.drained, prometheus.GaugeValue, float64(r.Since.Unix()), b.name, b.address)
		}
	}
	states, err := s.vipStates()
	if err != nil {
		return // not exported: "absent" alerts say the reader failed
	}
	for _, st := range states {
		a := st.Address
		ch <- prometheus.MustNewConstMetric(s.held, prometheus.GaugeValue, b2f(st.Present), a.Name, a.Prefix.Addr().String(), a.Interface)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
