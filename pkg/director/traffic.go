package director

import (
	"bufio"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/hala-lb/hala/pkg/internal/promtext"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/prometheus/common/expfmt"
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
// carry. Destinations hala does not manage are not exported. labels are
// the series' label pairs, escaped once per inventory, not per scrape.
type trafficNames struct {
	name     string
	labels   string
	backends map[netip.AddrPort]backendName
}

type backendName struct {
	name, labels string
}

// traffic writes the kernel's counters per virtual and real server, named
// after node_exporter's ipvs collector (node_ipvs_backend_*), from one
// read of the table per scrape (ipvsadm -Ln --stats). Rates are the
// consumer's job. It writes the text format itself: through
// prometheus.Collector, 1,000 services × 10 backends cost a second of CPU
// per scrape on a fast machine, most of it sorting and checking labels
// that are fixed per inventory. It also keeps the last samples for the
// status page's traffic graphs.
type traffic struct {
	table TableReader
	hist  *history

	// mu guards names, which the loop replaces on a reload.
	mu    sync.Mutex
	names map[ipvs.ServiceKey]trafficNames
	// scrape serialises scrapes: bufs are the families' buffers, reused
	// by the next one.
	scrape sync.Mutex
	bufs   [len(trafficFamilies)][]byte
}

// The families, in the order they are written; the first five are per
// service, the others per backend.
var trafficFamilies = [...]promtext.Family{
	{Name: "hala_ipvs_service_connections_total", Type: "counter", Help: "Connections the virtual server scheduled (UDP: flows), as the kernel counts them."},
	{Name: "hala_ipvs_service_packets_in_total", Type: "counter", Help: "Packets the virtual server received."},
	{Name: "hala_ipvs_service_packets_out_total", Type: "counter", Help: "Packets the virtual server sent back (0 with direct routing)."},
	{Name: "hala_ipvs_service_bytes_in_total", Type: "counter", Help: "Bytes the virtual server received."},
	{Name: "hala_ipvs_service_bytes_out_total", Type: "counter", Help: "Bytes the virtual server sent back (0 with direct routing)."},
	{Name: "hala_ipvs_backend_connections_total", Type: "counter", Help: "Connections scheduled to the real server since it entered the table."},
	{Name: "hala_ipvs_backend_packets_in_total", Type: "counter", Help: "Packets forwarded to the real server since it entered the table."},
	{Name: "hala_ipvs_backend_packets_out_total", Type: "counter", Help: "Packets from the real server (0 with direct routing)."},
	{Name: "hala_ipvs_backend_bytes_in_total", Type: "counter", Help: "Bytes forwarded to the real server since it entered the table."},
	{Name: "hala_ipvs_backend_bytes_out_total", Type: "counter", Help: "Bytes from the real server (0 with direct routing)."},
	{Name: "hala_ipvs_backend_connections_active", Type: "gauge", Help: "The real server's established connections."},
	{Name: "hala_ipvs_backend_connections_inactive", Type: "gauge", Help: "The real server's other connection entries (UDP flows, closing TCP)."},
}

// scrapeFamilies describe the table read itself.
var scrapeFamilies = [...]promtext.Family{
	{Name: "hala_ipvs_scrape_success", Type: "gauge", Help: "1 when this scrape read the IPVS table, else 0."},
	{Name: "hala_ipvs_scrape_duration_seconds", Type: "gauge", Help: "Time this scrape took to read the IPVS table."},
}

func newTraffic(table TableReader, now func() time.Time) *traffic {
	return &traffic{table: table, names: map[ipvs.ServiceKey]trafficNames{}, hist: newHistory(now)}
}

// setSpec names the services and destinations of a (new) spec.
func (t *traffic) setSpec(sp *spec) {
	names := make(map[ipvs.ServiceKey]trafficNames, len(sp.services))
	for _, ss := range sp.services {
		proto := strings.ToLower(ss.Key.Protocol.String())
		svc := ss.Service
		n := trafficNames{name: ss.Name, backends: make(map[netip.AddrPort]backendName, len(ss.Members)),
			labels: promtext.Labels("service", ss.Name, "address", svc.Address.String(), "port", strconv.Itoa(int(svc.Port)), "protocol", proto)}
		for _, m := range ss.Members {
			dst := m.Destination
			n.backends[dst.Key()] = backendName{name: m.Backend,
				labels: promtext.Labels("service", ss.Name, "backend", m.Backend, "address", dst.Address.String(), "port", strconv.Itoa(int(dst.Port)), "protocol", proto)}
		}
		names[ss.Key] = n
	}
	t.mu.Lock()
	t.names = names
	t.mu.Unlock()
}

// currentNames returns the names of the running spec.
func (t *traffic) currentNames() map[ipvs.ServiceKey]trafficNames {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names
}

// write reads the table once and appends every family, in the Prometheus
// text format (0.0.4), to w. Two scrapes at once take turns.
func (t *traffic) write(ctx context.Context, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	t.scrape.Lock()
	defer t.scrape.Unlock()
	names := t.currentNames()
	start := time.Now()
	entries, err := t.table.Entries(ctx)
	took := time.Since(start).Seconds()
	ok := 1
	if err != nil {
		ok = 0
		entries = nil
	}
	for i := range t.bufs {
		f := trafficFamilies[i]
		t.bufs[i] = f.AppendHeader(t.bufs[i][:0])
	}
	sample := func(i int, labels string, v uint64) {
		t.bufs[i] = promtext.AppendUint(t.bufs[i], trafficFamilies[i].Name, labels, v)
	}
	for _, e := range entries {
		n, ok := names[e.Service.Key()]
		if !ok {
			continue
		}
		s := e.Service.Stats
		for i, v := range [...]uint64{s.Connections, s.PacketsIn, s.PacketsOut, s.BytesIn, s.BytesOut} {
			sample(i, n.labels, v)
		}
		for _, dst := range e.Destinations {
			b, ok := n.backends[dst.Key()]
			if !ok {
				continue
			}
			ds := dst.Stats
			for i, v := range [...]uint64{ds.Connections, ds.PacketsIn, ds.PacketsOut, ds.BytesIn, ds.BytesOut, uint64(dst.ActiveConns), uint64(dst.InactiveConns)} {
				sample(5+i, b.labels, v)
			}
		}
	}
	if err == nil {
		t.hist.add(names, entries)
	}
	for _, b := range t.bufs {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	var b []byte
	for i, v := range [...]float64{float64(ok), took} {
		b = promtext.AppendSample(scrapeFamilies[i].AppendHeader(b), scrapeFamilies[i].Name, "", v)
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return nil
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
			k := [2]string{n.name, b.name}
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

// watchTraffic registers the collectors of the kernel's counters and the
// director's state.
func (d *Director) watchTraffic() {
	d.traffic = newTraffic(d.cfg.Target, nil)
	d.traffic.setSpec(d.sp)
	d.state = newStateView(d)
	d.state.setSpec(d.sp, d.cfg.Node)
	d.metrics.reg.MustRegister(d.state)
}

// sample reads the table for the status page's graphs, without writing
// the families.
func (t *traffic) sample(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	if entries, err := t.table.Entries(ctx); err == nil {
		t.hist.add(t.currentNames(), entries)
	}
}

// serveMetrics answers /metrics in the Prometheus text format (0.0.4):
// the registry's families, then what the agents report and the traffic
// families, written directly.
// It compresses with gzip when the scraper accepts it (Prometheus does).
func (d *Director) serveMetrics(w http.ResponseWriter, r *http.Request) {
	mfs, err := d.metrics.reg.Gather()
	if err != nil {
		http.Error(w, "gather metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	w.Header().Set("Content-Type", string(format))
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // a valid level: no error
		defer gz.Close()
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	defer bw.Flush()
	enc := expfmt.NewEncoder(bw, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return // the client went away
		}
	}
	if _, err := bw.Write(agent.AppendReceivers(nil, d.Receivers())); err != nil {
		return
	}
	if d.cfg.Target != nil {
		_ = d.traffic.write(r.Context(), bw)
	}
}

func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
