package agent

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hala-lb/hala/pkg/internal/promtext"
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
	mux.HandleFunc("/metrics", a.serveMetrics)
	return a.authorize(mux)
}

func (a *Agent) authorize(next http.Handler) http.Handler {
	if a.cfg.Token == "" {
		return next
	}
	want := []byte("Bearer " + a.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			a.metrics.refused.Add(1)
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
	a.metrics.streams.Add(1)
	defer a.metrics.streams.Add(-1)
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

// agentMetrics are the agent's own series; the receiver series are
// written from the tracker at each scrape.
type agentMetrics struct {
	streams     atomic.Int64
	refused     atomic.Uint64
	dumpErrors  atomic.Uint64
	overruns    atomic.Uint64
	dumpSeconds *promtext.Histogram
}

var (
	famStreams     = promtext.Family{Name: "hala_agent_streams", Type: "gauge", Help: "Directors connected to this agent's stream."}
	famRefused     = promtext.Family{Name: "hala_agent_unauthorized_total", Type: "counter", Help: "Requests refused for a missing or wrong bearer token."}
	famDumpErrors  = promtext.Family{Name: "hala_agent_dump_errors_total", Type: "counter", Help: "Socket dumps (sock_diag) that failed."}
	famOverruns    = promtext.Family{Name: "hala_agent_event_overruns_total", Type: "counter", Help: "Times socket destruction broadcasts were lost (a dump followed at once)."}
	famDumpSeconds = promtext.Family{Name: "hala_agent_dump_duration_seconds", Type: "histogram", Help: "Time of one dump of the bound sockets."}
)

func newAgentMetrics() *agentMetrics {
	return &agentMetrics{dumpSeconds: promtext.NewHistogram(promtext.ExponentialBuckets(.00005, 2.5, 10))}
}

// serveMetrics answers /metrics in the Prometheus text format (0.0.4).
func (a *Agent) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	m := a.metrics
	b := AppendReceivers(nil, []Receiver{{Backend: a.cfg.Node, States: a.States()}})
	b = promtext.AppendSample(famStreams.AppendHeader(b), famStreams.Name, "", float64(m.streams.Load()))
	for _, c := range []struct {
		f promtext.Family
		v uint64
	}{{famRefused, m.refused.Load()}, {famDumpErrors, m.dumpErrors.Load()}, {famOverruns, m.overruns.Load()}} {
		b = promtext.AppendUint(c.f.AppendHeader(b), c.f.Name, "", c.v)
	}
	b = m.dumpSeconds.Append(famDumpSeconds.AppendHeader(b), famDumpSeconds)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(b)
}
