package director

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds the table read of one scrape.
const scrapeTimeout = 5 * time.Second

// TableReader reads the kernel's IPVS table with its counters; *ipvs.Handle
// and every reconcile.Target satisfy it.
type TableReader interface {
	Entries(ctx context.Context) ([]ipvs.Entry, error)
}

// trafficNames are the inventory's names of a service and its
// destinations, so that kernel counters get the labels the other series
// carry. Destinations hala does not manage are not exported.
type trafficNames struct {
	name     string
	protocol string
	backends map[netip.AddrPort]string
}

// traffic is a prometheus.Collector exporting the kernel's counters per
// virtual and real server, named after node_exporter's ipvs collector
// (node_ipvs_backend_*), from one read of the table per scrape
// (ipvsadm -Ln --stats). Rates are the consumer's job. It also keeps the
// last samples for the status page's traffic graphs.
type traffic struct {
	table TableReader

	mu    sync.Mutex
	names map[ipvs.ServiceKey]trafficNames
	hist  *history

	svcConns, svcPktsIn, svcPktsOut, svcBytesIn, svcBytesOut *prometheus.Desc
	conns, pktsIn, pktsOut, bytesIn, bytesOut                *prometheus.Desc
	active, inactive                                         *prometheus.Desc
	success, duration                                        *prometheus.Desc
}

func newTraffic(table TableReader, now func() time.Time) *traffic {
	svc := []string{"service", "address", "port", "protocol"}
	be := []string{"service", "backend", "address", "port", "protocol"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &traffic{
		table:       table,
		names:       map[ipvs.ServiceKey]trafficNames{},
		hist:        newHistory(now),
		svcConns:    d("hala_ipvs_service_connections_total", "Connections the virtual server scheduled (UDP: flows), as the kernel counts them.", svc),
		svcPktsIn:   d("hala_ipvs_service_packets_in_total", "Packets the virtual server received.", svc),
		svcPktsOut:  d("hala_ipvs_service_packets_out_total", "Packets the virtual server sent back (0 with direct routing).", svc),
		svcBytesIn:  d("hala_ipvs_service_bytes_in_total", "Bytes the virtual server received.", svc),
		svcBytesOut: d("hala_ipvs_service_bytes_out_total", "Bytes the virtual server sent back (0 with direct routing).", svc),
		conns:       d("hala_ipvs_backend_connections_total", "Connections scheduled to the real server since it entered the table.", be),
		pktsIn:      d("hala_ipvs_backend_packets_in_total", "Packets forwarded to the real server since it entered the table.", be),
		pktsOut:     d("hala_ipvs_backend_packets_out_total", "Packets from the real server (0 with direct routing).", be),
		bytesIn:     d("hala_ipvs_backend_bytes_in_total", "Bytes forwarded to the real server since it entered the table.", be),
		bytesOut:    d("hala_ipvs_backend_bytes_out_total", "Bytes from the real server (0 with direct routing).", be),
		active:      d("hala_ipvs_backend_connections_active", "The real server's established connections.", be),
		inactive:    d("hala_ipvs_backend_connections_inactive", "The real server's other connection entries (UDP flows, closing TCP).", be),
		success:     d("hala_ipvs_scrape_success", "1 when this scrape read the IPVS table, else 0.", nil),
		duration:    d("hala_ipvs_scrape_duration_seconds", "Time this scrape took to read the IPVS table.", nil),
	}
}

// setSpec names the services and destinations of a (new) spec.
func (t *traffic) setSpec(sp *spec) {
	names := make(map[ipvs.ServiceKey]trafficNames, len(sp.services))
	for _, ss := range sp.services {
		n := trafficNames{name: ss.Name, protocol: strings.ToLower(ss.Key.Protocol.String()), backends: make(map[netip.AddrPort]string, len(ss.Members))}
		for _, m := range ss.Members {
			n.backends[m.Destination.Key()] = m.Backend
		}
		names[ss.Key] = n
	}
	t.mu.Lock()
	t.names = names
	t.mu.Unlock()
}

// Describe sends the descriptors of every series.
func (t *traffic) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{t.svcConns, t.svcPktsIn, t.svcPktsOut, t.svcBytesIn, t.svcBytesOut,
		t.conns, t.pktsIn, t.pktsOut, t.bytesIn, t.bytesOut, t.active, t.inactive, t.success, t.duration} {
		ch <- d
	}
}

// Collect reads the table once and sends the counters of every service
// and destination the inventory names.
func (t *traffic) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	start := time.Now()
	entries, err := t.table.Entries(ctx)
	ch <- prometheus.MustNewConstMetric(t.duration, prometheus.GaugeValue, time.Since(start).Seconds())
	if err != nil {
		ch <- prometheus.MustNewConstMetric(t.success, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(t.success, prometheus.GaugeValue, 1)
	t.mu.Lock()
	names := t.names
	t.mu.Unlock()
	t.hist.add(names, entries)
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, e := range entries {
		key := e.Service.Key()
		n, ok := names[key]
		if !ok {
			continue
		}
		vip, port := e.Service.Address.String(), strconv.Itoa(int(e.Service.Port))
		s := e.Service.Stats
		counter(t.svcConns, s.Connections, n.name, vip, port, n.protocol)
		counter(t.svcPktsIn, s.PacketsIn, n.name, vip, port, n.protocol)
		counter(t.svcPktsOut, s.PacketsOut, n.name, vip, port, n.protocol)
		counter(t.svcBytesIn, s.BytesIn, n.name, vip, port, n.protocol)
		counter(t.svcBytesOut, s.BytesOut, n.name, vip, port, n.protocol)
		for _, dst := range e.Destinations {
			backend, ok := n.backends[dst.Key()]
			if !ok {
				continue
			}
			l := []string{n.name, backend, dst.Address.String(), strconv.Itoa(int(dst.Port)), n.protocol}
			ds := dst.Stats
			counter(t.conns, ds.Connections, l...)
			counter(t.pktsIn, ds.PacketsIn, l...)
			counter(t.pktsOut, ds.PacketsOut, l...)
			counter(t.bytesIn, ds.BytesIn, l...)
			counter(t.bytesOut, ds.BytesOut, l...)
			ch <- prometheus.MustNewConstMetric(t.active, prometheus.GaugeValue, float64(dst.ActiveConns), l...)
			ch <- prometheus.MustNewConstMetric(t.inactive, prometheus.GaugeValue, float64(dst.InactiveConns), l...)
		}
	}
}

// historyKeep is how far back the status page's graphs reach, and
// historyGap the least time between two samples: scrapes and page views
// both sample, so a fast scraper does not flood the history.
const (
	historyKeep = 10 * time.Minute
	historyGap  = 5 * time.Second
)

// sample is one reading of a backend's packets-in counter.
type sample struct {
	at      time.Time
	packets uint64
}

// history keeps the last samples of every backend's packets-in counter,
// keyed by service and backend name.
type history struct {
	now     func() time.Time
	mu      sync.Mutex
	last    time.Time
	samples map[[2]string][]sample
}

func newHistory(now func() time.Time) *history {
	if now == nil {
		now = time.Now
	}
	return &history{now: now, samples: map[[2]string][]sample{}}
}

// add records one table read, unless the last one is younger than
// historyGap; samples older than historyKeep and backends gone from the
// table are dropped.
func (h *history) add(names map[ipvs.ServiceKey]trafficNames, entries []ipvs.Entry) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.last.IsZero() && now.Sub(h.last) < historyGap {
		return
	}
	h.last = now
	seen := map[[2]string]bool{}
	for _, e := range entries {
		n, ok := names[e.Service.Key()]
		if !ok {
			continue
		}
		for _, dst := range e.Destinations {
			b, ok := n.backends[dst.Key()]
			if !ok {
				continue
			}
			k := [2]string{n.name, b}
			seen[k] = true
			s := h.samples[k]
			i := 0
			for i < len(s) && now.Sub(s[i].at) > historyKeep {
				i++
			}
			h.samples[k] = append(s[i:], sample{at: now, packets: dst.Stats.PacketsIn})
		}
	}
	for k := range h.samples {
		if !seen[k] {
			delete(h.samples, k)
		}
	}
}

// rates returns a backend's packets per second between consecutive
// samples, oldest first (after a counter reset, the destination re-added,
// it counts from 0).
func (h *history) rates(service, backend string) []float64 {
	h.mu.Lock()
	s := h.samples[[2]string{service, backend}]
	h.mu.Unlock()
	var out []float64
	for i := 1; i < len(s); i++ {
		d := s[i].packets
		if d >= s[i-1].packets {
			d -= s[i-1].packets
		}
		out = append(out, float64(d)/s[i].at.Sub(s[i-1].at).Seconds())
	}
	return out
}

// watchTraffic registers the traffic collector for the director's table.
func (d *Director) watchTraffic() {
	d.traffic = newTraffic(d.cfg.Target, nil)
	d.traffic.setSpec(d.sp)
	if d.cfg.Target != nil {
		d.metrics.reg.MustRegister(d.traffic)
	}
}
