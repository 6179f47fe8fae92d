package agent

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type subscriber struct {
	ch     chan Event
	remote string
}

// writeTimeout bounds one write to a director: a peer that stopped
// reading loses its stream instead of holding a goroutine.
const writeTimeout = 5 * time.Second

// Handler serves the stream at StreamPath and /metrics, both behind the
// bearer token when one is configured.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(StreamPath, a.serveStream)
	mux.Handle("/metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	return a.authorize(mux)
}

func (a *Agent) authorize(next http.Handler) http.Handler {
	if a.cfg.Token == "" {
		return next
	}
	want := []byte("Bearer " + a.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			a.metrics.refused.Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="hala agent"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *Agent) serveStream(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	select {
	case <-a.dumped:
	default:
		a.mu.Lock()
		why := a.lastErr
		a.mu.Unlock()
		if why == "" {
			why = "starting"
		}
		http.Error(w, "no socket dump yet: "+why, http.StatusServiceUnavailable)
		return
	}
	sub := &subscriber{ch: make(chan Event, 256), remote: r.RemoteAddr}
	a.mu.Lock()
	first := Event{Type: EventState, Node: a.cfg.Node, Time: a.cfg.Now(), Inputs: a.tr.States()}
	a.subs[sub] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.subs, sub)
		a.mu.Unlock()
	}()
	a.metrics.streams.Inc()
	defer a.metrics.streams.Dec()
	a.log.Info("director connected", "remote", r.RemoteAddr)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	send := func(ev Event) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := enc.Encode(ev); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(first) {
		return
	}
	ping := time.NewTicker(a.cfg.Ping)
	defer ping.Stop()
	for {
		var ev Event
		select {
		case <-r.Context().Done():
			a.log.Info("director disconnected", "remote", r.RemoteAddr)
			return
		case e, ok := <-sub.ch:
			if !ok {
				return
			}
			ev = e
		case <-ping.C:
			ev = Event{Type: EventPing, Node: a.cfg.Node, Time: a.cfg.Now()}
		}
		if !send(ev) {
			a.log.Info("stream to director broken", "remote", r.RemoteAddr)
			return
		}
	}
}

// agentMetrics are the agent's own series; the receiver series come from
// a ReceiverCollector over the tracker.
type agentMetrics struct {
	reg         *prometheus.Registry
	streams     prometheus.Gauge
	refused     prometheus.Counter
	dumpErrors  prometheus.Counter
	overruns    prometheus.Counter
	dumpSeconds prometheus.Histogram
}

func newAgentMetrics(a *Agent) *agentMetrics {
	m := &agentMetrics{
		reg: prometheus.NewRegistry(),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hala_agent_streams", Help: "Directors connected to this agent's stream.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hala_agent_unauthorized_total", Help: "Requests refused for a missing or wrong bearer token.",
		}),
		dumpErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hala_agent_dump_errors_total", Help: "Socket dumps (sock_diag) that failed.",
		}),
		overruns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hala_agent_event_overruns_total", Help: "Times socket destruction broadcasts were lost (a dump followed at once).",
		}),
		dumpSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hala_agent_dump_duration_seconds", Help: "Time of one dump of the bound sockets.",
			Buckets: prometheus.ExponentialBuckets(.00005, 2.5, 10),
		}),
	}
	m.reg.MustRegister(m.streams, m.refused, m.dumpErrors, m.overruns, m.dumpSeconds,
		NewReceiverCollector(func() []Receiver { return []Receiver{{Backend: a.cfg.Node, States: a.States()}} }))
	return m
}
