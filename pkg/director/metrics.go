package director

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the director's Prometheus series, named in the manner of
// node_exporter's ipvs collector and HAProxy's exporter: hala_backend_*
// per backend, hala_reconcile_* per repair.
type metrics struct {
	reg               *prometheus.Registry
	up                *prometheus.GaugeVec
	weight            *prometheus.GaugeVec
	checkDuration     *prometheus.HistogramVec
	checkFailures     *prometheus.CounterVec
	transitions       *prometheus.CounterVec
	lastChange        *prometheus.GaugeVec
	reconcileTotal    *prometheus.CounterVec
	reconcileChanges  prometheus.Counter
	reconcileDuration prometheus.Histogram
	netlinkErrors     prometheus.Counter
	peerTransitions   *prometheus.CounterVec
	vipAnnounced      *prometheus.GaugeVec
}

// Version is reported by hala_build_info; the CLI sets it.
var Version = "dev"

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hala_backend_up",
			Help: "1 while the backend's input passes its checks (rise/fall applied), else 0.",
		}, []string{"service", "backend", "address", "port", "input_id"}),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hala_backend_weight",
			Help: "The destination's IPVS weight as hala set it; -1 when it is not in the table.",
		}, []string{"service", "backend", "address", "port"}),
		checkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hala_backend_check_duration_seconds",
			Help:    "Time of one check round of a backend (one API request, every input judged).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"backend", "address"}),
		checkFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hala_backend_check_failures_total",
			Help: "Checks of a backend's input that failed.",
		}, []string{"backend", "address", "input_id"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hala_backend_transitions_total",
			Help: "State changes of a backend in a service, by new state.",
		}, []string{"service", "backend", "state"}),
		lastChange: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hala_backend_last_change_timestamp_seconds",
			Help: "Unix time of the backend's last state change in the service.",
		}, []string{"service", "backend"}),
		reconcileTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hala_reconcile_total",
			Help: "Whole-table reconciles (start, repair, reload), by result.",
		}, []string{"result"}),
		reconcileChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hala_reconcile_changes_total",
			Help: "Kernel changes made by reconciles: drift repaired, reloads applied.",
		}),
		reconcileDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hala_reconcile_duration_seconds",
			Help:    "Time of one whole-table reconcile (read, plan, apply).",
			Buckets: prometheus.ExponentialBuckets(.001, 2.5, 12),
		}),
		netlinkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hala_netlink_errors_total",
			Help: "IPVS netlink requests of transitions that failed.",
		}),
	}
	m.peerTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hala_bgp_peer_transitions_total",
		Help: "BGP session changes with a peer, by new state (up, down).",
	}, []string{"peer", "state"})
	m.vipAnnounced = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hala_vip_announced",
		Help: "1 while this director announces the VIP over BGP, else 0.",
	}, []string{"vip"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hala_build_info",
		Help: "Always 1; labels carry the build.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(Version, runtime.Version()).Set(1)
	m.reg.MustRegister(m.up, m.weight, m.checkDuration, m.checkFailures, m.transitions, m.lastChange,
		m.reconcileTotal, m.reconcileChanges, m.reconcileDuration, m.netlinkErrors, build,
		m.peerTransitions, m.vipAnnounced,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"ok", "error"} {
		m.reconcileTotal.WithLabelValues(r)
	}
	return m
}

func (m *metrics) transition(service, backend, state string) {
	m.transitions.WithLabelValues(service, backend, state).Inc()
	m.lastChange.WithLabelValues(service, backend).SetToCurrentTime()
}

// Handler serves /metrics (Prometheus text format) and /healthz (200 "ok",
// or 503 with the reason, see Healthy).
func (d *Director) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := d.Healthy()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(why + "\n"))
	})
	mux.HandleFunc("/bgp", func(w http.ResponseWriter, _ *http.Request) {
		st, ok := d.BGP()
		if !ok {
			http.Error(w, "BGP is off (cluster.ha is not \"bgp\")", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	return mux
}

// ProbeHealth asks the director serving on addr (host:port) for /healthz
// and returns nil when it answers 200, else an error with its reason:
// keepalived's vrrp_script (hala director health) runs it every second.
// It is the director's own protocol, so it lives here.
func ProbeHealth(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return fmt.Errorf("hala director not answering on %s (not running?): %w", addr, ne.Err)
		}
		return fmt.Errorf("hala director on %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hala director on %s unhealthy: %s", addr, strings.TrimSpace(string(body)))
	}
	return nil
}

var (
	peerUpDesc = prometheus.NewDesc("hala_bgp_peer_up",
		"1 while the BGP session with the peer is established, else 0.", []string{"peer"}, nil)
	bfdUpDesc = prometheus.NewDesc("hala_bfd_peer_up",
		"1 while the BFD session with the peer is up, else 0 (absent with bgp.bfd = false).", []string{"peer"}, nil)
)

// peerCollector reads the sessions' state from the speaker at scrape time.
type peerCollector struct{ d *Director }

func (c peerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- peerUpDesc
	ch <- bfdUpDesc
}

func (c peerCollector) Collect(ch chan<- prometheus.Metric) {
	c.d.mu.Lock()
	sp := c.d.status.bgp
	c.d.mu.Unlock()
	if sp == nil {
		return
	}
	for _, p := range sp.Peers() {
		ch <- prometheus.MustNewConstMetric(peerUpDesc, prometheus.GaugeValue, b2f(p.Up), p.Address.String())
		if p.BFD != "" {
			ch <- prometheus.MustNewConstMetric(bfdUpDesc, prometheus.GaugeValue, b2f(p.BFD == "up"), p.Address.String())
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
