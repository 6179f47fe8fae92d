package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hala-lb/hala/pkg/agent/stream"
	"github.com/hala-lb/hala/pkg/inventory"
)

// ErrUnsupported is returned by Run where sock_diag does not exist.
var ErrUnsupported = errors.New("hala agent needs Linux (sock_diag)")

// DefaultInterval is how often the agent dumps the bound sockets: binds
// and counters are at most this old (destruction comes by event).
const DefaultInterval = stream.DefaultInterval

// Config is what an Agent runs with.
type Config struct {
	// Inventory must be validated; Node names this host's [[logstash]].
	Inventory *inventory.Inventory
	Node      string
	// Interval between dumps (default DefaultInterval).
	Interval time.Duration
	// Ping is the idle stream's ping interval (default DefaultPing).
	Ping time.Duration
	// Token, when set, is the bearer token every request must carry.
	Token  string
	Logger *slog.Logger
	// Now is the clock of the inputs' Since (default time.Now).
	Now func() time.Time
}

// Agent watches one host's inputs and serves their state.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	inputs  []Input
	metrics *agentMetrics

	mu   sync.Mutex
	tr   *Tracker
	subs map[*subscriber]struct{}
	// lastUp is each input's last logged state.
	lastUp map[string]bool
	// dumped is closed by the first successful dump: until then the
	// agent knows nothing and serves no stream (a director would take
	// every backend out on "not bound").
	dumped   chan struct{}
	dumpOnce sync.Once
	lastErr  string // the last dump error, for the refusal
}

// New prepares the agent for cfg.Node's inputs; it touches nothing.
func New(cfg Config) (*Agent, error) {
	inputs, err := Inputs(cfg.Inventory, cfg.Node)
	if err != nil {
		return nil, err
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Ping <= 0 {
		cfg.Ping = DefaultPing
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, inputs: inputs, tr: NewTracker(inputs, cfg.Now), subs: map[*subscriber]struct{}{}, lastUp: map[string]bool{}, dumped: make(chan struct{})}
	a.metrics = newAgentMetrics()
	return a, nil
}

// Inputs returns what the agent watches.
func (a *Agent) Inputs() []Input { return a.inputs }

// States returns every input's current state.
func (a *Agent) States() []State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tr.States()
}

// destroyed applies a destruction broadcast.
func (a *Agent) destroyed(socks []Socket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.publish(a.tr.Destroyed(socks))
}

// dumped applies a dump.
func (a *Agent) applyDump(socks []Socket, noPorts uint64, npOK bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.publish(a.tr.Dump(socks, noPorts, npOK))
	a.dumpOnce.Do(func() { close(a.dumped) })
}

// publish logs up/down changes and sends every change to the streams.
// Called with a.mu held.
func (a *Agent) publish(changed []State) {
	if len(changed) == 0 {
		return
	}
	for _, st := range changed {
		if up, ok := a.lastUp[st.Key()]; !ok || up != st.Up {
			a.lastUp[st.Key()] = st.Up
			attrs := []any{"input", st.Key(), "address", st.Address.String(), "services", st.Services, "reason", st.Reason}
			if st.Up {
				a.log.Info("input bound", attrs...)
			} else {
				a.log.Warn("input not receiving", attrs...)
			}
		}
	}
	ev := Event{Type: EventChange, Node: a.cfg.Node, Time: a.cfg.Now(), Inputs: changed}
	for s := range a.subs {
		select {
		case s.ch <- ev:
		default:
			// A director that does not read: drop its stream; it
			// reconnects and gets the whole state again.
			close(s.ch)
			delete(a.subs, s)
			a.log.Warn("stream closed: the director does not read fast enough", "remote", s.remote)
		}
	}
}

// noteDumpError logs a failed dump once per distinct error.
func (a *Agent) noteDumpError(err error, last *string) {
	a.metrics.dumpErrors.Add(1)
	a.mu.Lock()
	a.lastErr = err.Error()
	a.mu.Unlock()
	if msg := err.Error(); msg != *last {
		*last = msg
		a.log.Error("socket dump failed; states are as of the last dump", "error", err)
	}
}

func (a *Agent) String() string {
	return fmt.Sprintf("hala agent on %s (%d inputs)", a.cfg.Node, len(a.inputs))
}
