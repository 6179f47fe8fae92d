package director

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/prometheus/client_golang/prometheus"
)

// AgentStream is one open stream from a Logstash host's hala agent.
type AgentStream interface {
	// Next blocks until the next state or change, or fails when the
	// stream broke (or stayed silent too long).
	Next() (agent.Event, error)
	Close() error
}

// AgentDialer opens the stream of the agent on one backend.
type AgentDialer interface {
	Dial(ctx context.Context, backend string, addr netip.Addr) (AgentStream, error)
}

// Reconnect backoff of a broken or refused stream.
const (
	agentRetryMin = 200 * time.Millisecond
	agentRetryMax = 5 * time.Second
)

// agentMsg is what a backend's stream reader tells the loop: an event,
// or that the stream broke (err).
type agentMsg struct {
	backend string
	gen     uint64
	ev      agent.Event
	err     error
}

// agentState is what the loop knows from one backend's agent.
type agentState struct {
	up bool
	// lastErr is the last dial or stream error, logged once per change.
	lastErr string
	// closed holds the inputs ("udp/5514") the agent says are not
	// receiving: their checks count as failing until it says otherwise.
	closed map[string]bool
	states []agent.State
}

// httpAgents is the default AgentDialer: the agent on every backend's
// address at agent.port, with the token of agent.token_file.
type httpAgents struct {
	port   int
	token  string
	client *http.Client
}

// agentDialer returns the inventory's AgentDialer, or nil without agents.
func agentDialer(inv *inventory.Inventory) (AgentDialer, error) {
	if !inv.AgentEnabled() {
		return nil, nil
	}
	a := &httpAgents{port: inv.Agent.Port, client: agent.NewClient()}
	if f := inv.Agent.TokenFile; f != "" {
		tok, err := agent.ReadToken(f)
		if err != nil {
			return nil, fmt.Errorf("%s: agent.token_file: %w", inv.File, err)
		}
		a.token = tok
	}
	return a, nil
}

func (a *httpAgents) Dial(ctx context.Context, _ string, addr netip.Addr) (AgentStream, error) {
	base := "http://" + net.JoinHostPort(addr.String(), strconv.Itoa(a.port))
	return agent.Dial(ctx, a.client, base, a.token, 3*agent.DefaultPing)
}

// startAgents opens one stream per backend; each reconnects with backoff
// until ctx ends.
func (d *Director) startAgents(ctx context.Context) {
	if d.agents == nil {
		return
	}
	for _, name := range d.sp.backendNames() {
		go d.followAgent(ctx, name, d.sp.backends[name].Address, d.gen)
	}
}

// followAgent reads one backend's stream into the loop, reconnecting
// after a break (from agentRetryMin, doubling up to agentRetryMax).
func (d *Director) followAgent(ctx context.Context, backend string, addr netip.Addr, gen uint64) {
	send := func(m agentMsg) bool {
		select {
		case d.agentMsgs <- m:
			return true
		case <-ctx.Done():
			return false
		}
	}
	wait := agentRetryMin
	for {
		s, err := d.agents.Dial(ctx, backend, addr)
		if err == nil {
			for {
				var ev agent.Event
				if ev, err = s.Next(); err != nil {
					break
				}
				wait = agentRetryMin
				if !send(agentMsg{backend: backend, gen: gen, ev: ev}) {
					s.Close()
					return
				}
			}
			s.Close()
		}
		if ctx.Err() != nil || !send(agentMsg{backend: backend, gen: gen, err: err}) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-d.after(wait):
		}
		wait = min(2*wait, agentRetryMax)
	}
}

// handleAgent applies one message of a backend's agent. A closed input
// takes the backend out of every service using it at once, in one batch;
// a bound one lifts the veto and lets the API checks readmit it after
// rise passes. A broken stream only lifts the vetoes: the API checks
// decide, as without an agent.
func (d *Director) handleAgent(ctx context.Context, m agentMsg) {
	b := d.sp.backends[m.backend]
	if b == nil {
		return
	}
	as := d.agentStates[m.backend]
	if as == nil {
		as = &agentState{closed: map[string]bool{}}
		d.agentStates[m.backend] = as
	}
	if m.err != nil {
		if as.up {
			d.agentMetrics.breaks.WithLabelValues(m.backend).Inc()
			d.log.Warn("agent stream broken; API checks decide alone", "backend", m.backend, "error", m.err)
		} else if msg := m.err.Error(); msg != as.lastErr {
			d.log.Info("no agent stream; API checks decide alone", "backend", m.backend, "error", m.err)
		}
		as.lastErr = m.err.Error()
		as.up = false
		clear(as.closed)
		as.states = nil
		d.agentMetrics.up.WithLabelValues(m.backend).Set(0)
		return
	}
	if !as.up {
		as.up, as.lastErr = true, ""
		d.agentMetrics.up.WithLabelValues(m.backend).Set(1)
		d.log.Info("agent stream up", "backend", m.backend, "inputs", len(m.ev.Inputs))
	}
	if m.ev.Type == agent.EventState {
		as.states = nil
		clear(as.closed)
	}
	var gone []agent.State
	for _, st := range m.ev.Inputs {
		as.note(st)
		key := st.Key()
		switch {
		case !st.Up && !as.closed[key]:
			as.closed[key] = true
			gone = append(gone, st)
		case st.Up && as.closed[key]:
			delete(as.closed, key)
			d.log.Info("agent: input bound again; rise API checks decide", "backend", m.backend, "input", key)
		}
	}
	if len(gone) > 0 {
		d.takeOut(ctx, m.backend, gone)
	}
}

// note keeps st as the latest state of its input.
func (as *agentState) note(st agent.State) {
	for i := range as.states {
		if as.states[i].Key() == st.Key() {
			as.states[i] = st
			return
		}
	}
	as.states = append(as.states, st)
}

// uses reports whether ss receives on the input st describes.
func uses(ss *serviceSpec, m member, st agent.State) bool {
	return ss.Protocol == st.Proto && m.Destination.Port == st.Port
}

// takeOut marks down every check of backend whose services use a closed
// input, and moves all those services in one batch.
func (d *Director) takeOut(ctx context.Context, backend string, gone []agent.State) {
	var touched []*serviceSpec
	for _, ss := range d.sp.services {
		hit := false
		for _, m := range ss.Members {
			if m.Backend != backend {
				continue
			}
			for _, st := range gone {
				if !uses(ss, m, st) {
					continue
				}
				hit = true
				h := d.healthOf(backend, m.Check)
				if h.up {
					h.up, h.run = false, 0
					d.log.Warn("backend down", "backend", backend, "address", d.sp.backends[backend].Address.String(), "check", m.Check.String(), "state", "down",
						"reason", fmt.Sprintf("agent: %s %s on %s", st.Key(), st.Reason, backend))
					for _, u := range d.sp.users[backend][m.Check] {
						d.metrics.transition(u.Name, backend, "down")
					}
				}
			}
		}
		if hit {
			touched = append(touched, ss)
		}
	}
	if len(touched) > 0 {
		d.convergeAll(ctx, touched)
	}
}

// agentVetoed reports whether the backend's agent says an input of check
// c is not receiving: its API verdicts then count as failures.
func (d *Director) agentVetoed(backend string, c checkKey) bool {
	as := d.agentStates[backend]
	if as == nil || len(as.closed) == 0 {
		return false
	}
	for _, ss := range d.sp.users[backend][c] {
		for _, m := range ss.Members {
			if m.Backend != backend {
				continue
			}
			for key := range as.closed {
				if key == ss.Protocol+"/"+strconv.Itoa(int(m.Destination.Port)) {
					return true
				}
			}
		}
	}
	return false
}

// Receivers returns what every agent last said, for /metrics and
// hala status; safe from any goroutine.
func (d *Director) Receivers() []agent.Receiver {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status.receivers
}

// publishReceivers copies the agents' states for other goroutines.
func (d *Director) publishReceivers() {
	var out []agent.Receiver
	for _, name := range d.sp.backendNames() {
		if as := d.agentStates[name]; as != nil && as.up {
			out = append(out, agent.Receiver{Backend: name, States: append([]agent.State(nil), as.states...)})
		}
	}
	d.mu.Lock()
	d.status.receivers = out
	d.mu.Unlock()
}

// agentMetrics are the director's series about the agents' streams.
type agentMetrics struct {
	up     *prometheus.GaugeVec
	breaks *prometheus.CounterVec
}

// registerAgentMetrics adds the stream series to the director's
// registry; hala_receiver_* (what the agents report) are written after
// the registry's families (serveMetrics).
func (d *Director) registerAgentMetrics() {
	d.agentMetrics = agentMetrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hala_agent_stream_up",
			Help: "1 while the stream from the backend's hala agent is open, else 0.",
		}, []string{"backend"}),
		breaks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hala_agent_stream_breaks_total",
			Help: "Streams from the backend's hala agent that broke after being open (never a backend failure).",
		}, []string{"backend"}),
	}
	d.metrics.reg.MustRegister(d.agentMetrics.up, d.agentMetrics.breaks)
}
