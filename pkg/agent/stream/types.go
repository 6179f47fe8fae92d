package stream

import (
	"net/netip"
	"strconv"
	"time"
)

// DefaultInterval is how often the agent dumps the bound sockets.
const DefaultInterval = 100 * time.Millisecond

// DefaultPing is how often an idle stream carries a ping, so that a
// director notices a dead agent or path within a few of them.
const DefaultPing = time.Second

// State is one input's state as the agent streams it.
type State struct {
	Proto    string     `json:"proto"`
	Address  netip.Addr `json:"address"`
	Port     uint16     `json:"port"`
	Services []string   `json:"services"`
	// Up: at least one socket is bound to receive the input's traffic.
	Up bool `json:"up"`
	// Sockets counts them (SO_REUSEPORT allows several).
	Sockets int `json:"sockets"`
	// QueueBytes is what waits in their receive queues (TCP: the
	// connections waiting for accept).
	QueueBytes uint64 `json:"queue_bytes"`
	// Drops counts the packets the kernel dropped at the input's sockets
	// since the agent started (SK_MEMINFO_DROPS, summed over sockets,
	// kept across socket restarts).
	Drops uint64 `json:"drops"`
	// NoPorts counts UDP datagrams that found no socket while this input
	// was down (Udp NoPorts of the host; see docs/agent.md for how far
	// that is this input's).
	NoPorts uint64 `json:"noports"`
	// Since is when Up last changed; Reason says how it was learned.
	Since  time.Time `json:"since"`
	Reason string    `json:"reason,omitempty"`
}

// Key is the input as "udp/5514".
func (s State) Key() string { return s.Proto + "/" + strconv.Itoa(int(s.Port)) }

// Reasons a State changed.
const (
	ReasonClosed  = "closed"    // the kernel announced the last socket's destruction
	ReasonUnbound = "not bound" // a dump found no socket
	ReasonBound   = "bound"     // a dump found a socket
)

// StreamPath is where the agent serves its stream.
const StreamPath = "/v1/stream"

// Event types.
const (
	EventState  = "state"  // every input: the first line of a stream
	EventChange = "change" // the inputs that changed
	EventPing   = "ping"   // nothing changed; the stream is alive
)

// Event is one line of the stream (JSON lines over one long-lived HTTP
// response).
type Event struct {
	Type   string    `json:"type"`
	Node   string    `json:"node"`
	Time   time.Time `json:"time"`
	Inputs []State   `json:"inputs,omitempty"`
}
