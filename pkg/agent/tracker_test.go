package agent

import (
	"net/netip"
	"testing"
	"time"
)

var (
	stash2  = netip.MustParseAddr("192.168.1.220")
	udpIn   = Input{Proto: UDP, Addr: stash2, Port: 5514, Services: []string{"syslog-udp"}}
	tcpIn   = Input{Proto: TCP, Addr: stash2, Port: 5514, Services: []string{"syslog-tcp"}}
	baseNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// clock is a manual clock for the tracker.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func udpSock(cookie uint64, addr string, drops, queue uint32) Socket {
	return Socket{Proto: UDP, State: 7, Addr: netip.MustParseAddr(addr), Port: 5514, Cookie: cookie, Drops: drops, RQueue: queue, HasMem: true}
}

func tcpListener(cookie uint64, addr string) Socket {
	return Socket{Proto: TCP, State: tcpListen, Addr: netip.MustParseAddr(addr), Port: 5514, Cookie: cookie, HasMem: true}
}

func only(t *testing.T, changed []State, key string, up bool) State {
	t.Helper()
	if len(changed) != 1 || changed[0].Key() != key || changed[0].Up != up {
		t.Fatalf("changed = %+v, want only %s up=%v", changed, key, up)
	}
	return changed[0]
}

func TestTrackerEventTakesInputDown(t *testing.T) {
	c := &clock{baseNow}
	tr := NewTracker([]Input{udpIn, tcpIn}, c.now)
	if st := tr.States(); st[0].Up || st[0].Reason != ReasonUnbound {
		t.Fatalf("before the first dump: %+v, want down, not bound", st[0])
	}
	// A wildcard UDP socket (dual stack) and a TCP listener on the address.
	changed := tr.Dump([]Socket{udpSock(1, "::", 0, 0), tcpListener(2, "192.168.1.220"),
		// Neither a connection from port 5514 nor another port counts.
		{Proto: TCP, State: 1, Addr: stash2, Port: 5514, Peer: netip.MustParseAddrPort("10.0.0.1:40000"), Cookie: 3},
		{Proto: UDP, State: 7, Addr: stash2, Port: 5515, Cookie: 4},
	}, 0, true)
	if len(changed) != 2 || !changed[0].Up || !changed[1].Up || changed[0].Reason != ReasonBound {
		t.Fatalf("first dump: %+v, want both up", changed)
	}
	c.t = c.t.Add(time.Second)
	// Another socket's destruction changes nothing.
	if ch := tr.Destroyed([]Socket{{Proto: TCP, Cookie: 3}}); len(ch) != 0 {
		t.Fatalf("a connection closed: %+v, want no change", ch)
	}
	st := only(t, tr.Destroyed([]Socket{{Proto: UDP, State: 7, Addr: netip.MustParseAddr("::"), Port: 5514, Cookie: 1}}), "udp/5514", false)
	if st.Reason != ReasonClosed || !st.Since.Equal(c.t) {
		t.Errorf("after the event: %+v, want closed since %v", st, c.t)
	}
	// A dump that began before the event still lists the socket: it must
	// not bring the input back.
	if ch := tr.Dump([]Socket{udpSock(1, "::", 0, 0), tcpListener(2, "192.168.1.220")}, 0, true); len(ch) != 0 {
		t.Fatalf("stale dump: %+v, want no change", ch)
	}
	// A new socket (the input restarted) is found by the next dump.
	st = only(t, tr.Dump([]Socket{udpSock(5, "192.168.1.220", 0, 0), tcpListener(2, "192.168.1.220")}, 0, true), "udp/5514", true)
	if st.Reason != ReasonBound || st.Sockets != 1 {
		t.Errorf("after restart: %+v", st)
	}
}

func TestTrackerReuseportNeedsLastSocket(t *testing.T) {
	tr := NewTracker([]Input{udpIn}, (&clock{baseNow}).now)
	tr.Dump([]Socket{udpSock(1, "0.0.0.0", 0, 0), udpSock(2, "0.0.0.0", 0, 0)}, 0, true)
	if ch := tr.Destroyed([]Socket{{Proto: UDP, Cookie: 1}}); len(ch) != 0 {
		t.Fatalf("one of two sockets closed: %+v, want still up", ch)
	}
	only(t, tr.Destroyed([]Socket{{Proto: UDP, Cookie: 2}}), "udp/5514", false)
}

func TestTrackerDumpFindsUnbind(t *testing.T) {
	tr := NewTracker([]Input{tcpIn}, (&clock{baseNow}).now)
	tr.Dump([]Socket{tcpListener(1, "0.0.0.0")}, 0, true)
	// No event came (lost, or the agent started late): the dump decides.
	st := only(t, tr.Dump(nil, 0, true), "tcp/5514", false)
	if st.Reason != ReasonUnbound {
		t.Errorf("reason %q, want %q", st.Reason, ReasonUnbound)
	}
}

func TestTrackerDropsAndQueue(t *testing.T) {
	tr := NewTracker([]Input{udpIn}, (&clock{baseNow}).now)
	tr.Dump([]Socket{udpSock(1, "0.0.0.0", 3, 0)}, 0, true)
	st := only(t, tr.Dump([]Socket{udpSock(1, "0.0.0.0", 10, 2048)}, 0, true), "udp/5514", true)
	if st.Drops != 10 || st.QueueBytes != 2048 {
		t.Errorf("drops %d queue %d, want 10 and 2048", st.Drops, st.QueueBytes)
	}
	if ch := tr.Dump([]Socket{udpSock(1, "0.0.0.0", 10, 2048)}, 0, true); len(ch) != 0 {
		t.Errorf("nothing changed: %+v", ch)
	}
	// The socket is replaced: the counter keeps growing from where it
	// was, with all of the new socket's drops.
	tr.Destroyed([]Socket{{Proto: UDP, Cookie: 1}})
	st = only(t, tr.Dump([]Socket{udpSock(2, "0.0.0.0", 4, 0)}, 0, true), "udp/5514", true)
	if st.Drops != 14 || st.QueueBytes != 0 {
		t.Errorf("after restart: drops %d queue %d, want 14 and 0", st.Drops, st.QueueBytes)
	}
}

func TestTrackerNoPortsWhileDown(t *testing.T) {
	tr := NewTracker([]Input{udpIn, tcpIn}, (&clock{baseNow}).now)
	tr.Dump([]Socket{udpSock(1, "0.0.0.0", 0, 0), tcpListener(2, "0.0.0.0")}, 100, true)
	// Up: NoPorts growth is someone else's.
	tr.Dump([]Socket{udpSock(1, "0.0.0.0", 0, 0), tcpListener(2, "0.0.0.0")}, 105, true)
	tr.Destroyed([]Socket{{Proto: UDP, Cookie: 1}})
	// Down from the event to this dump, and still down.
	st := only(t, tr.Dump([]Socket{tcpListener(2, "0.0.0.0")}, 112, true), "udp/5514", false)
	if st.NoPorts != 7 {
		t.Errorf("noports %d, want 7", st.NoPorts)
	}
	// Back between two dumps: the growth up to this dump is counted, the
	// next is not.
	st = only(t, tr.Dump([]Socket{udpSock(3, "0.0.0.0", 0, 0), tcpListener(2, "0.0.0.0")}, 115, true), "udp/5514", true)
	if st.NoPorts != 10 {
		t.Errorf("noports %d, want 10", st.NoPorts)
	}
	tr.Dump([]Socket{udpSock(3, "0.0.0.0", 0, 0), tcpListener(2, "0.0.0.0")}, 120, true)
	if got := tr.States()[0].NoPorts; got != 10 {
		t.Errorf("noports %d after coming back, want 10", got)
	}
	if got := tr.States()[1].NoPorts; got != 0 {
		t.Errorf("a TCP input counts no UDP NoPorts: %d", got)
	}
}

func TestTrackerOtherAddress(t *testing.T) {
	tr := NewTracker([]Input{udpIn}, (&clock{baseNow}).now)
	// Bound to another address: does not receive the input's traffic.
	if ch := tr.Dump([]Socket{udpSock(1, "127.0.0.1", 0, 0)}, 0, true); len(ch) != 0 {
		t.Errorf("a socket on 127.0.0.1: %+v, want still down", ch)
	}
	// IPv4-mapped wildcard and address both count.
	only(t, tr.Dump([]Socket{udpSock(2, "::ffff:192.168.1.220", 0, 0)}, 0, true), "udp/5514", true)
}

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }
