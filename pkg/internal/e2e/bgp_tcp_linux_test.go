//go:build linux && integration

package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/internal/testutil/tcpstream"
)

// Rows C2–C4 of the BGP half: long-lived TCP streams from the client, as
// Beats and TCP syslog senders hold them, to the inventory's TCP service
// (scheduler mh, direct routing; the stand-ins hold the VIP on lo through
// their rendered setup.sh and listen on it, as the rendered
// hala-inputs.conf says), through the router's ECMP over the three
// directors, while a director dies, one joins, or a backend fails.
//
// The negative control is a second TCP service on the VIP that hala does
// not own, made with ipvsadm on every director: the same real servers and
// direct routing, scheduler rr. Its streams go through the same faults;
// rows C2 and C3 fail unless some of them are reset, so a fault that moves
// no connection between directors cannot pass for one that moves them
// without a reset.

const (
	// tcpStreams is how many mh streams C2–C4 hold, each sending a line
	// every lineInterval.
	tcpStreams   = 50
	lineInterval = 100 * time.Millisecond
	// controlStreams, at controlInterval: enough rr streams that the
	// control resets some in C3 too (where only the streams that survived
	// C2 on d2's share move, each reset with a chance of one half), sending
	// rarely, to leave the emulated VM's CPU to the rest.
	controlStreams  = 100
	controlInterval = time.Second
	// controlPort is the control service's port on the VIP.
	controlPort = 5141
	// controlInput is the stand-ins' input for it.
	controlInput = "tcp-5141"
)

// openStreams opens n streams of set from the client to the VIP's port,
// in one pass into the client's namespace (entering it costs a thread).
func (c *bgpCluster) openStreams(set *tcpstream.Set, n int, prefix string, port int) error {
	return c.client.Do(func() error { return set.Open(n, prefix, c.dialer(port)) })
}

// reopenStreams replaces set's reset streams, as their senders reconnect.
func (c *bgpCluster) reopenStreams(set *tcpstream.Set, prefix string, port int) (n int, err error) {
	err = c.client.Do(func() (err error) {
		n, err = set.Reopen(prefix, c.dialer(port))
		return err
	})
	return n, err
}

// dialer dials the VIP's port; the sockets belong to the namespace of the
// thread that calls it.
func (c *bgpCluster) dialer(port int) func() (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	addr := netip.AddrPortFrom(c.vip, uint16(port)).String()
	return func() (net.Conn, error) { return d.Dial("tcp4", addr) }
}

// addControl makes the control service in n's IPVS.
//
// Equivalent to: ipvsadm -A -t VIP:5141 -s rr; ipvsadm -a -t VIP:5141 -r STASH:5141 -g
func (c *bgpCluster) addControl(n *bgpNode) error {
	svc := net.JoinHostPort(c.vip.String(), strconv.Itoa(controlPort))
	cmds := [][]string{{"-A", "-t", svc, "-s", "rr"}}
	for _, s := range c.stashes {
		cmds = append(cmds, []string{"-a", "-t", svc, "-r", net.JoinHostPort(s.addr.String(), strconv.Itoa(controlPort)), "-g", "-w", "1"})
	}
	for _, args := range cmds {
		if b, err := n.ns.Cmd("ipvsadm", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: ipvsadm %s: %v: %s", n.name, strings.Join(args, " "), err, b)
		}
	}
	return nil
}

// tcpEntries counts n's established IPVS connection entries of the VIP's
// port.
//
// Equivalent to: ipvsadm -Lnc | grep ESTABLISHED | grep VIP:PORT
func (c *bgpCluster) tcpEntries(n *bgpNode, port int) (int, error) {
	b, err := n.ns.Cmd("ipvsadm", "-Lnc").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s: ipvsadm -Lnc: %v: %s", n.name, err, b)
	}
	vip := netip.AddrPortFrom(c.vip, uint16(port)).String()
	count := 0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 5 && f[2] == "ESTABLISHED" && f[4] == vip {
			count++
		}
	}
	return count, nil
}

// tcpSpread is each director's established entries of port, as text.
func (c *bgpCluster) tcpSpread(row *Row, port int) (string, map[string]int) {
	by := map[string]int{}
	var parts []string
	for _, d := range c.directors {
		n, err := c.tcpEntries(d, port)
		if err != nil {
			row.Failf("%v", err)
		}
		by[d.name] = n
		parts = append(parts, fmt.Sprintf("%s %d", d.name, n))
	}
	return strings.Join(parts, ", "), by
}

// streams reads what the stand-ins received of every stream, once they
// have written what their connections delivered: it waits up to 5s until
// every stream of want that had not ended in an error when streams was
// called has the lines it had sent then.
func (c *bgpCluster) streams(row *Row, want ...*tcpstream.Set) map[string]StreamReceived {
	files := map[string]string{}
	for _, s := range c.stashes {
		files[s.name] = s.out
	}
	var sent []tcpstream.Stream
	for _, set := range want {
		sent = append(sent, set.Streams()...)
	}
	var got map[string]StreamReceived
	_, err := testutil.Poll(5*time.Second, 50*time.Millisecond, func() (err error) {
		if got, err = ReadStreams(files); err != nil {
			return err
		}
		for _, st := range sent {
			if r := got[st.ID]; !st.Reset() && r.Between(0, st.Sent) < st.Sent {
				return fmt.Errorf("stream %s: %d of %d lines at the stand-ins", st.ID, r.Between(0, st.Sent), st.Sent)
			}
		}
		return nil
	})
	if err != nil && got == nil {
		row.Failf("read the stand-ins' output: %v", err)
	}
	return got
}

// phase is what happened to a set's streams between two points: the
// lines numbered after from[id] up to to[id] (every stream's Sent at
// those points) and the resets seen from since to until.
type phase struct {
	streams, sent, received, reset int
	resetIDs                       []string
}

func countPhase(got map[string]StreamReceived, from, to []tcpstream.Stream, since, until time.Time) phase {
	var p phase
	start := map[string]int{}
	for _, s := range from {
		start[s.ID] = s.Sent
	}
	for _, s := range to {
		if s.Reset() && !s.ErrAt.Before(since) && (until.IsZero() || s.ErrAt.Before(until)) {
			p.reset++
			p.resetIDs = append(p.resetIDs, s.ID)
		}
		if s.Reset() && s.ErrAt.Before(since) {
			continue // it ended before the phase
		}
		p.streams++
		p.sent += s.Sent - start[s.ID]
		p.received += got[s.ID].Between(start[s.ID], s.Sent)
	}
	return p
}

func (p phase) String() string {
	return fmt.Sprintf("%d streams, %d lines, %d reset", p.streams, p.sent, p.reset)
}

// C2 and C3: d2's host dies as in B2 (its link goes down, then hala
// director gets SIGKILL) and comes back with an empty IPVS table, as after
// a reboot: the router moves d2's streams to d1 and d3, then back to d2,
// which has never seen them. With mh and sloppy_tcp no stream is reset and
// every line arrives; the rr control loses some streams in each.
func bgpTCPDirectorChanges(c *bgpCluster) []Row {
	victim := c.directors[1]
	bound := fmt.Sprintf("%d mh streams × 10 lines/s: 0 reset, 0 lines lost; rr control (%d streams): some reset", tcpStreams, controlStreams)
	c2 := Row{Scenario: "C2 TCP: director host dies (" + victim.name + ")", Bound: bound}
	c3 := Row{Scenario: "C3 TCP: " + victim.name + " joins with an empty table", Bound: bound}
	mh, rr := tcpstream.NewSet(lineInterval), tcpstream.NewSet(controlInterval)
	if err := c.openStreams(mh, tcpStreams, "c2mh", c.tcpPort); err != nil {
		c2.Failf("open: %v", err)
	}
	if err := c.openStreams(rr, controlStreams, "c2rr", controlPort); err != nil {
		c2.Failf("open the control: %v", err)
	}
	time.Sleep(2 * time.Second)
	spread, by := c.tcpSpread(&c2, c.tcpPort)
	c2.Check(by[victim.name] > 0, "%s holds none of the streams (%s): the row moves none", victim.name, spread)

	t0 := c.killHost(&c2, victim)
	gone, err := c.routes.waitFor(t0, 10*time.Second, c.others(victim))
	if err != nil {
		c2.Failf("the route still lists %s: %v", victim.name, err)
	}
	// TCP retransmits what the router sent to d2 meanwhile; it reaches d1
	// or d3 now.
	time.Sleep(3 * time.Second)
	spreadDown, _ := c.tcpSpread(&c2, c.tcpPort)
	// The host reboots: its kernel's table is gone. (hala director
	// programs its services again as it starts; the control's are made
	// again, as its boot would.)
	if out, err := victim.ns.Cmd("ipvsadm", "-C").CombinedOutput(); err != nil {
		c3.Failf("ipvsadm -C on %s: %v %s", victim.name, err, out)
	}
	if err := c.addControl(victim); err != nil {
		c3.Failf("%v", err)
	}
	t1 := time.Now()
	mhMid, rrMid := mh.Streams(), rr.Streams()
	c.linkUp(&c3, victim)
	back := c.restore(&c3, victim, time.Now())
	in0, _ := victim.inPkts()
	time.Sleep(3 * time.Second)
	in1, _ := victim.inPkts()
	spreadBack, byBack := c.tcpSpread(&c3, c.tcpPort)
	ctlBack, _ := c.tcpSpread(&c3, controlPort)
	// The row proves something only if the router gave d2 streams it
	// has never seen.
	if byBack[victim.name] == 0 {
		tab, _ := victim.ns.Cmd("ipvsadm", "-Ln").CombinedOutput()
		conns, _ := victim.ns.Cmd("ipvsadm", "-Lnc").CombinedOutput()
		c3.Failf("%s took none of the streams after it joined (entries %s; control %s; its IPVS InPkts +%d in 3s):\n%s%s%s",
			victim.name, spreadBack, ctlBack, in1-in0, tab, conns, c.routerState())
	}
	mh.Close(15 * time.Second)
	rr.Close(15 * time.Second)
	got := c.streams(&c3, mh)
	mhEnd, rrEnd := mh.Streams(), rr.Streams()

	for _, r := range []struct {
		row         *Row
		from, to    []tcpstream.Stream
		rFrom, rTo  []tcpstream.Stream
		since, till time.Time
	}{
		{&c2, nil, mhMid, nil, rrMid, time.Time{}, t1},
		{&c3, mhMid, mhEnd, rrMid, rrEnd, t1, time.Time{}},
	} {
		p := countPhase(got, r.from, r.to, r.since, r.till)
		ctl := countPhase(got, r.rFrom, r.rTo, r.since, r.till)
		r.row.Sent, r.row.Received, r.row.Lost = p.sent, p.received, p.sent-p.received
		r.row.Check(p.reset == 0, "mh: %d of %d streams reset: %v", p.reset, p.streams, p.resetIDs)
		r.row.Check(p.sent == p.received, "mh: %d of %d lines lost", p.sent-p.received, p.sent)
		r.row.Check(ctl.reset > 0, "rr control: none of %d streams reset: the row cannot tell a change that resets from one that does not", ctl.streams)
		r.row.Time = fmt.Sprintf("mh %s; rr control %d of %d reset", p, ctl.reset, ctl.streams)
	}
	c2.Time = fmt.Sprintf("route gone %.2fs; %s", gone.Seconds(), c2.Time)
	c3.Time = fmt.Sprintf("back %s, took %d streams; %s", Seconds(back), byBack[victim.name], c3.Time)
	c.t.Logf("C2/C3 mh entries: steady %s; %s down %s; back %s (control %s; %s's InPkts +%d in 3s); next hops since the fault: %s",
		spread, victim.name, spreadDown, spreadBack, ctlBack, victim.name, in1-in0, c.routes.since(t0))
	return []Row{c2, c3}
}

// C4: stash2's TCP input stops (its connections close, as when that
// Logstash fails): every director sets stash2 to weight 0 (on_failure
// quiesce, the default with mh); exactly the streams stash2 held are
// reset; their senders reconnect and land on stash1 (mh-fallback); the
// other streams lose no line.
func bgpTCPBackendFails(c *bgpCluster) Row {
	victim := c.stashes[1]
	row := Row{Scenario: "C4 TCP: backend " + victim.name + " fails",
		Bound: fmt.Sprintf("%d mh streams: only %s's reset; reconnected ones avoid it; others lose 0 lines", tcpStreams, victim.name)}
	rs := netip.AddrPortFrom(victim.addr, uint16(c.tcpRealPort))
	weightZeroEverywhere := func() error {
		for _, d := range c.directors {
			m, err := readIPVS(d.ipvs, c.vip, c.tcpPort)
			if err != nil {
				return err
			}
			w, ok := m[rs]
			if !ok {
				return fmt.Errorf("%s removed from %s's table, want it kept at weight 0", victim.name, d.name)
			}
			if w != 0 {
				return fmt.Errorf("%s at weight %d on %s", victim.name, w, d.name)
			}
		}
		return nil
	}
	set := tcpstream.NewSet(lineInterval)
	if err := c.openStreams(set, tcpStreams, "c4", c.tcpPort); err != nil {
		row.Failf("open: %v", err)
	}
	time.Sleep(2 * time.Second)
	held := map[string]bool{}
	for id, r := range c.streams(&row, set) {
		if strings.HasPrefix(id, "c4-") && r.Server() == victim.name {
			held[id] = true
		}
	}
	row.Check(len(held) > 0, "%s holds none of the streams: the row proves nothing", victim.name)

	t0 := time.Now()
	if err := victim.control("input stop " + c.tcpInput); err != nil {
		row.Failf("stop input: %v", err)
	}
	if _, err := testutil.Poll(10*time.Second, 20*time.Millisecond, weightZeroEverywhere); err != nil {
		row.Failf("%v", err)
	}
	out := time.Since(t0)
	// Each sender sees its reset on its next line.
	if _, err := testutil.Poll(5*time.Second, 20*time.Millisecond, func() error {
		for _, s := range set.Streams() {
			if held[s.ID] && !s.Reset() {
				return fmt.Errorf("stream %s on %s not reset", s.ID, victim.name)
			}
		}
		return nil
	}); err != nil {
		row.Failf("%v", err)
	}
	reopened, err := c.reopenStreams(set, "c4re", c.tcpPort)
	if err != nil {
		row.Failf("%v", err)
	}
	time.Sleep(2 * time.Second)
	set.Close(15 * time.Second)
	got := c.streams(&row, set)

	if err := victim.control("input start " + c.tcpInput); err != nil {
		row.Failf("start input: %v", err)
	}
	for _, d := range c.directors {
		if _, err := testutil.Poll(20*time.Second, 50*time.Millisecond, func() error {
			m, err := readIPVS(d.ipvs, c.vip, c.tcpPort)
			if err != nil || m[rs] == 0 {
				return fmt.Errorf("%s not back in %s's table: %v %v", victim.name, d.name, m, err)
			}
			return nil
		}); err != nil {
			row.Failf("%v", err)
		}
	}

	var reset, wrong []string
	for _, s := range set.Streams() {
		r := got[s.ID]
		if s.Reset() {
			reset = append(reset, s.ID)
			if !held[s.ID] {
				wrong = append(wrong, s.ID+" on "+r.Server())
			}
		}
		if held[s.ID] {
			continue // its lines went down with the backend
		}
		row.Sent += s.Sent
		row.Received += r.Between(0, s.Sent)
		if strings.HasPrefix(s.ID, "c4re-") && r.Server() != c.stashes[0].name {
			row.Failf("stream %s, reconnected after %s failed, reached %q", s.ID, victim.name, r.Server())
		}
	}
	row.Lost = row.Sent - row.Received
	row.Check(len(wrong) == 0, "streams of other backends reset: %v", wrong)
	row.Check(row.Lost == 0, "%d lines lost on streams %s did not hold", row.Lost, victim.name)
	row.Time = fmt.Sprintf("weight 0 on all %s; %s held %d of %d, %d reset, %d reconnected", Seconds(out), victim.name, len(held), tcpStreams, len(reset), reopened)
	return row
}
