package director

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fakeAgents is an AgentDialer whose streams to backend l2 the test
// drives; a dial to another backend waits until the director stops.
type fakeAgents struct {
	opened chan *fakeStream
	refuse chan error // a value here refuses the next dial
}

type fakeStream struct {
	backend string
	ctx     context.Context
	events  chan agent.Event
	breaks  chan error
}

func newFakeAgents() *fakeAgents {
	return &fakeAgents{opened: make(chan *fakeStream, 16), refuse: make(chan error, 4)}
}

func (f *fakeAgents) Dial(ctx context.Context, backend string, _ netip.Addr) (AgentStream, error) {
	if backend != "l2" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	select {
	case err := <-f.refuse:
		return nil, err
	default:
	}
	s := &fakeStream{backend: backend, ctx: ctx, events: make(chan agent.Event, 4), breaks: make(chan error, 1)}
	f.opened <- s
	return s, nil
}

func (s *fakeStream) Next() (agent.Event, error) {
	select {
	case ev := <-s.events:
		return ev, nil
	case err := <-s.breaks:
		return agent.Event{}, err
	case <-s.ctx.Done():
		return agent.Event{}, s.ctx.Err()
	}
}

func (s *fakeStream) Close() error { return nil }

// stream waits for the next stream opened to backend.
func (f *fakeAgents) stream(t *testing.T, backend string) *fakeStream {
	t.Helper()
	for {
		if s := <-f.opened; s.backend == backend {
			return s
		}
	}
}

// fakeAfter is the reconnect clock: each wait is handed to the test,
// which fires it.
type fakeAfter struct{ waits chan chan time.Time }

func (c *fakeAfter) after(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- ch
	return ch
}

// input is one input's state as l2's agent sends it, with the services
// the inventory puts on its port.
func input(proto string, port uint16, up bool, reason string) agent.State {
	services := map[uint16][]string{5514: {"syslog-udp"}, 5515: {"syslog-tcp"}, 5044: {"beats"}}[port]
	return agent.State{Proto: proto, Port: port, Up: up, Reason: reason, Services: services}
}

// allUp is l2's agent's first line: its three inputs bound.
var allUp = agent.Event{Type: agent.EventState, Node: "l2", Inputs: []agent.State{
	input("udp", 5514, true, agent.ReasonBound), input("tcp", 5515, true, agent.ReasonBound), input("tcp", 5044, true, agent.ReasonBound),
}}

func agentRig(t *testing.T) (*rig, *fakeAgents, *fakeAfter) {
	r := newRig(t, cluster(t, "", ""), nil)
	fa, clk := newFakeAgents(), &fakeAfter{waits: make(chan chan time.Time, 16)}
	r.d.agents, r.d.after = fa, clk.after
	return r, fa, clk
}

// A closed input takes its backend out at once, however well the API
// answers, and only from the services on that socket; the API's passes
// do not bring it back while the agent says it is closed; when the agent
// says it is bound again, rise passes are still needed.
func TestAgentClosedInputIsOutAtOnce(t *testing.T) {
	r, fa, _ := agentRig(t)
	r.stepped() // rounds of checks run only when the test says: passes are counted exactly
	r.start()
	s := fa.stream(t, "l2")
	s.events <- allUp
	r.waitFor("stream up", func() bool { return scrape(r.d, `hala_agent_stream_up{backend="l2"}`) == 1 })
	r.table.takeWrites()

	s.events <- agent.Event{Type: agent.EventChange, Inputs: []agent.State{input("udp", 5514, false, agent.ReasonClosed)}}
	r.waitFor("l2 out of syslog-udp", func() bool { return len(r.table.dests(5514)) == 1 })
	if w := r.table.takeWrites(); !slices.Equal(w, []string{"delete destination 10.0.0.12:5514 on UDP 10.0.0.100:5514"}) {
		t.Errorf("writes = %q, want the one delete", w)
	}
	if !strings.Contains(r.logs.String(), `reason="agent: udp/5514 closed on l2"`) {
		t.Errorf("the transition does not name the agent's reason:\n%s", r.logs.String())
	}
	if got := r.table.dests(5515); len(got) != 2 {
		t.Errorf("tcp/5515 is bound, yet syslog-tcp lost a destination: %v", got)
	}
	// What the agent said is on the director's /metrics, which still
	// parses as one exposition with the registry's families.
	if v := scrape(r.d, `hala_receiver_socket_up{backend="l2",service="syslog-udp"}`); v != 0 {
		t.Errorf("hala_receiver_socket_up of l2's syslog-udp = %v, want 0", v)
	}
	if v := scrape(r.d, `hala_receiver_socket_up{backend="l2",service="syslog-tcp"}`); v != 1 {
		t.Errorf("hala_receiver_socket_up of l2's syslog-tcp = %v, want 1", v)
	}
	rec := httptest.NewRecorder()
	r.d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := p.TextToMetricFamilies(rec.Body); err != nil {
		t.Errorf("/metrics does not parse: %v", err)
	}

	// The API keeps passing (rise is 2): still out after 4 more rounds.
	// Wait until the loop has handled all four results (each observes the
	// check's duration), not only until the API saw the requests: a pass
	// handled after the "bound" below would count towards rise.
	handled := `hala_backend_check_duration_seconds_count{address="10.0.0.12",backend="l2"}`
	n := scrape(r.d, handled)
	for range 4 {
		r.round()
	}
	r.waitFor("4 more checks handled", func() bool { return scrape(r.d, handled) >= n+4 })
	if got := r.table.dests(5514); len(got) != 1 {
		t.Fatalf("the API readmitted l2 while its agent says udp/5514 is closed: %v", got)
	}

	s.events <- agent.Event{Type: agent.EventChange, Inputs: []agent.State{input("udp", 5514, true, agent.ReasonBound)}}
	r.waitFor("l2 in the log as bound", func() bool { return strings.Contains(r.logs.String(), "input bound again") })
	// One pass since the agent said bound: not enough (rise is 2).
	r.round()
	if got := r.table.dests(5514); len(got) != 1 {
		t.Fatalf("l2 readmitted after one pass since the agent said bound, want rise (2): %v", got)
	}
	r.round()
	r.waitFor("l2 back after rise passes", func() bool { return len(r.table.dests(5514)) == 2 })
}

// A stream that breaks moves nothing: the vetoes lift, the API checks
// decide alone, the break is logged and counted, and the director
// reconnects after its backoff.
func TestAgentStreamBreakIsNoFailure(t *testing.T) {
	r, fa, clk := agentRig(t)
	r.start()
	s := fa.stream(t, "l2")
	s.events <- agent.Event{Type: agent.EventState, Inputs: []agent.State{input("udp", 5514, false, agent.ReasonUnbound)}}
	r.waitFor("l2 out", func() bool { return len(r.table.dests(5514)) == 1 })
	if !strings.Contains(r.logs.String(), `reason="agent: udp/5514 not bound on l2"`) {
		t.Errorf("reason of a state line:\n%s", r.logs.String())
	}
	r.table.takeWrites()

	s.breaks <- errors.New("connection reset by peer")
	wait := <-clk.waits // the reconnect scheduled
	r.waitFor("break logged", func() bool { return strings.Contains(r.logs.String(), "agent stream broken") })
	if got := scrape(r.d, `hala_agent_stream_breaks_total{backend="l2"}`); got != 1 {
		t.Errorf("hala_agent_stream_breaks_total = %v, want 1", got)
	}
	if got := scrape(r.d, `hala_agent_stream_up{backend="l2"}`); got != 0 {
		t.Errorf("hala_agent_stream_up = %v, want 0", got)
	}
	// Without the agent's word the API checks readmit l2 (rise passes).
	r.waitFor("l2 back by its API checks", func() bool { return len(r.table.dests(5514)) == 2 })
	for _, w := range r.table.takeWrites() {
		if strings.HasPrefix(w, "delete") {
			t.Errorf("a broken stream removed something: %s", w)
		}
	}
	select {
	case s := <-fa.opened:
		t.Fatalf("reconnected to %s before the backoff ended", s.backend)
	default:
	}
	wait <- time.Time{}
	s = fa.stream(t, "l2")
	s.events <- allUp
	r.waitFor("stream back", func() bool { return scrape(r.d, `hala_agent_stream_up{backend="l2"}`) == 1 })
}

// No agent (refused): everything works as without one, and the refusal
// is logged once.
func TestAgentRefusedIsLoggedOnce(t *testing.T) {
	r, fa, clk := agentRig(t)
	for range 3 {
		fa.refuse <- errors.New("connection refused")
	}
	r.start()
	for range 3 {
		w := <-clk.waits // a retry scheduled
		w <- time.Time{}
	}
	// The fourth dial connects: once its event is handled, the loop has
	// handled the three refusals before it (one channel, in order).
	s := fa.stream(t, "l2")
	s.events <- allUp
	r.waitFor("stream up", func() bool { return scrape(r.d, `hala_agent_stream_up{backend="l2"}`) == 1 })
	if got := strings.Count(r.logs.String(), "no agent stream"); got != 1 {
		t.Errorf("%d log lines for one repeated refusal, want 1:\n%s", got, r.logs.String())
	}
	if got := r.table.dests(5514); len(got) != 2 {
		t.Errorf("table %v, want both backends", got)
	}
}

// scrape returns the value of one series on the director's /metrics (-1
// when absent).
func scrape(d *Director, series string) float64 {
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}
