package agent

import (
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Input is one socket this host must have bound: a service's backend
// port and protocol at the address the rendered Logstash input binds.
type Input struct {
	Proto Proto
	Addr  netip.Addr
	Port  uint16
	// Services are the inventory's services this socket receives for.
	Services []string
}

// String is what logs and the director's reason use: "udp/5514".
func (in Input) String() string { return in.Proto.String() + "/" + strconv.Itoa(int(in.Port)) }

// matches reports whether s can receive in's traffic: same protocol and
// port, listening, bound to in's address or to the wildcard (a dual-stack
// [::] socket receives IPv4 too).
func (in Input) matches(s Socket) bool {
	if s.Proto != in.Proto || s.Port != in.Port || !s.Listening() {
		return false
	}
	a := s.Addr.Unmap()
	return a == in.Addr || a.IsUnspecified()
}

type inputState struct {
	in    Input
	socks map[uint64]uint32 // cookie → drops at the last dump
	st    State
	// downSeen: the input was down at some point since the last dump
	// (NoPorts growth is attributed to it).
	downSeen bool
}

// Tracker keeps every input's state from dumps and destruction events.
// It is not safe for concurrent use; the Agent serializes calls.
type Tracker struct {
	inputs []*inputState
	// destroyed holds cookies announced destroyed, with the dump count at
	// the time: a dump that began before the event may still list the
	// socket and must not bring it back. Cookies are never reused.
	destroyed map[uint64]int
	dumps     int
	noPorts   uint64
	haveNP    bool
	now       func() time.Time
}

// NewTracker starts every input down ("not bound"), until the first dump.
func NewTracker(inputs []Input, now func() time.Time) *Tracker {
	t := &Tracker{destroyed: map[uint64]int{}, now: now}
	for _, in := range inputs {
		t.inputs = append(t.inputs, &inputState{in: in, socks: map[uint64]uint32{}, downSeen: true, st: State{
			Proto: in.Proto.String(), Address: in.Addr, Port: in.Port, Services: slices.Clone(in.Services),
			Since: now(), Reason: ReasonUnbound,
		}})
	}
	return t
}

// Protos lists the protocols of the watched inputs.
func (t *Tracker) Protos() []Proto {
	var ps []Proto
	for _, is := range t.inputs {
		if !slices.Contains(ps, is.in.Proto) {
			ps = append(ps, is.in.Proto)
		}
	}
	slices.Sort(ps)
	return ps
}

// States returns every input's current state.
func (t *Tracker) States() []State {
	out := make([]State, len(t.inputs))
	for i, is := range t.inputs {
		out[i] = is.st
		out[i].Services = slices.Clone(is.st.Services)
	}
	return out
}

// Destroyed applies a destruction broadcast and returns the inputs that
// went down: those whose last socket it was.
func (t *Tracker) Destroyed(socks []Socket) []State {
	var changed []State
	for _, s := range socks {
		t.destroyed[s.Cookie] = t.dumps
		for _, is := range t.inputs {
			if _, ok := is.socks[s.Cookie]; !ok {
				continue
			}
			delete(is.socks, s.Cookie)
			is.st.Sockets = len(is.socks)
			if len(is.socks) == 0 && is.st.Up {
				is.st.Up, is.st.Since, is.st.Reason, is.st.QueueBytes = false, t.now(), ReasonClosed, 0
				is.downSeen = true
				changed = append(changed, is.st)
			}
		}
	}
	return changed
}

// Dump applies a dump of every listening socket, with the host's Udp
// NoPorts counter (npOK false: unreadable), and returns the inputs whose
// state or counters changed.
func (t *Tracker) Dump(socks []Socket, noPorts uint64, npOK bool) []State {
	t.dumps++
	for c, n := range t.destroyed {
		if t.dumps-n > 2 {
			delete(t.destroyed, c)
		}
	}
	var npDelta uint64
	if npOK && t.haveNP && noPorts >= t.noPorts {
		npDelta = noPorts - t.noPorts
	}
	if npOK {
		t.noPorts, t.haveNP = noPorts, true
	}
	var changed []State
	for _, is := range t.inputs {
		before := is.st
		seen := make(map[uint64]bool, len(is.socks))
		var queue uint64
		for _, s := range socks {
			if !is.in.matches(s) {
				continue
			}
			if _, gone := t.destroyed[s.Cookie]; gone {
				continue
			}
			seen[s.Cookie] = true
			queue += uint64(s.RQueue)
			if !s.HasMem {
				if _, ok := is.socks[s.Cookie]; !ok {
					is.socks[s.Cookie] = 0
				}
				continue
			}
			// A new socket's drops all happened since it was created; a
			// known one's since the last dump.
			last := is.socks[s.Cookie]
			if s.Drops >= last {
				is.st.Drops += uint64(s.Drops - last)
			}
			is.socks[s.Cookie] = s.Drops
		}
		for c := range is.socks {
			if !seen[c] {
				delete(is.socks, c)
			}
		}
		if is.in.Proto == UDP && (is.downSeen || len(is.socks) == 0) {
			is.st.NoPorts += npDelta
		}
		is.st.Sockets, is.st.QueueBytes = len(is.socks), queue
		up := len(is.socks) > 0
		is.downSeen = !up
		switch {
		case up != is.st.Up:
			is.st.Up, is.st.Since = up, t.now()
			is.st.Reason = ReasonBound
			if !up {
				is.st.Reason = ReasonUnbound
			}
		case is.st.Drops != before.Drops || is.st.QueueBytes != before.QueueBytes ||
			is.st.NoPorts != before.NoPorts || is.st.Sockets != before.Sockets:
		default:
			continue
		}
		changed = append(changed, is.st)
	}
	return changed
}
