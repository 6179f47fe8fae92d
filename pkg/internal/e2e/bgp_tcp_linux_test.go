//go:build linux && integration

package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/internal/testutil/tcpstream"
	"github.com/hala-lb/hala/pkg/render"
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
	files := c.outFiles()
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

// C1: the same flow reaches the same backend through every director.
// By this row the three directors' tables have different histories: d1
// and d3 started together at the suite's start; d2's hala director was
// killed twice and stopped once, each time restarted (B2–B4), then its
// host died again and came back with its table flushed, as after a
// reboot (C2, C3); both stand-ins failed and came back (B6, C4). The row adds one more to d1 and to d3. On d1,
// stash1 is deleted and added again by hand with ipvsadm, which puts it
// at the head of the kernel's list, out of hala's order, until hala
// director's drift repair puts it back. d3 alone reloads (SIGHUP) an
// inventory whose TCP service has only stash2, then the whole one again:
// stash1 comes back below stash2, which hala re-adds after it.
//
// A probe namespace on the directors' LAN then sends the same flows
// (source address and port) through each director in turn, its route to
// the VIP naming the director as a router's ECMP would: each flow one
// connection, one line naming it, and a clean close. The stand-in whose
// output holds a flow's line is the backend that director picked (direct
// routing: the stand-in sees the probe's address and port).
//
// The control is a fourth, director-like namespace dx (d1's rendered
// sysctls, the VIP on hala0) whose service ipvsadm made as hala would,
// plus a third backend the inventory no longer has, kept in its list at
// weight 0, as a director that missed the reload removing it would hold
// it (quiesced: the host is gone). Its table differs, so some flows must
// reach another stand-in through it, or the row could not tell a
// director that picks differently.

const (
	// c1Flows is how many flows C1 sends through each director, from
	// every address of c1ProbeAddrs in turn.
	c1Flows = 1000
	// c1Port is the flows' first source port.
	c1Port = 20000
	// c1Workers is how many flows are open at once: 8, not more, so
	// that the stand-ins, which also answer the directors' API checks
	// (200 ms timeout), are not starved in a contended emulated VM (with
	// 32 the checks timed out and the tables flapped during the passes).
	c1Workers = 8
)

var (
	// c1ProbeAddrs are the probe's addresses on the LAN, c1Control dx's,
	// and c1Gone the backend only dx still lists.
	c1ProbeAddrs = []netip.Addr{
		netip.MustParseAddr("192.168.1.231"), netip.MustParseAddr("192.168.1.232"),
		netip.MustParseAddr("192.168.1.233"), netip.MustParseAddr("192.168.1.234"),
	}
	c1Control = netip.MustParseAddr("192.168.1.219")
	c1Gone    = netip.MustParseAddr("192.168.1.223")
)

// c1FlowList is C1's flows: flow i comes from address i mod 4 of
// c1ProbeAddrs and port c1Port + 4 × (i div 4). mh hashes the sum of the
// source address and port (ip_vs_mh_hashkey): consecutive addresses and
// ports 4 apart give each flow its own sum, so the flows sample as many
// slots of the table. Attempt k (from 0) starts c1Flows ports further,
// so that no director holds a connection entry of an earlier attempt.
func c1FlowList(attempt int) []netip.AddrPort {
	n := len(c1ProbeAddrs)
	out := make([]netip.AddrPort, c1Flows)
	for i := range out {
		out[i] = netip.AddrPortFrom(c1ProbeAddrs[i%n], uint16(c1Port+attempt*c1Flows+n*(i/n)))
	}
	return out
}

func bgpTCPSameBackend(c *bgpCluster) Row {
	row := Row{Scenario: "C1 TCP: same flow, same backend on d1–d3",
		Bound: fmt.Sprintf("%d flows through each of d1, d2, d3: all delivered, 0 to another stand-in than through d1; control dx: some", c1Flows)}
	d1, d3 := c.directors[0], c.directors[2]
	want, err := readIPVSList(d1.ipvs, c.vip, c.tcpPort)
	if err != nil || len(want) < 2 {
		row.Failf("%s: the TCP service's real servers %v: %v", d1.name, want, err)
		return row
	}
	t0 := time.Now()
	c.reorderByHand(&row, d1, want)
	reloaded := c.reloadAlone(&row, d3, want)
	c.waitOrder(&row, d1, want, c.inv.Cluster.ReconcileInterval.Duration+5*time.Second)
	repaired := time.Since(t0) // from the change by hand

	// Each director's table as the kernel lists it (the order mh builds
	// its table from) and as ipvsadm shows it.
	svc := netip.AddrPortFrom(c.vip, uint16(c.tcpPort)).String()
	lists := map[string][]ipvsDest{}
	for _, d := range c.directors {
		list, err := readIPVSList(d.ipvs, c.vip, c.tcpPort)
		if err != nil || len(list) == 0 {
			row.Failf("%s: %s's real servers %v: %v", d.name, svc, list, err)
		}
		lists[d.name] = list
		out, _ := d.ns.Cmd("ipvsadm", "-Ln", "-t", svc).CombinedOutput()
		c.t.Logf("C1 %s lists %v; ipvsadm -Ln -t %s:\n%s", d.name, list, svc, out)
		row.Check(fmt.Sprint(list) == fmt.Sprint(lists[d1.name]), "%s lists %v, %s %v", d.name, list, d1.name, lists[d1.name])
	}
	probe := c.newProbe()
	dx := c.newControl(&row, lists[d1.name])
	if out, err := dx.Cmd("ipvsadm", "-Ln", "-t", svc).CombinedOutput(); err == nil {
		c.t.Logf("C1 control dx: ipvsadm -Ln -t %s:\n%s", svc, out)
	}

	vias := []*bgpNode{c.directors[0], c.directors[1], c.directors[2], {name: "dx", addr: c1Control}}
	t1 := time.Now()
	// A pass during which a director changed its TCP table (an API check
	// in a busy emulated VM timed out: weight 0, then 1 again) compares
	// tables that were not equal: then every pass is sent again with
	// other source ports (no director holds their connection entries),
	// three attempts at most, and the row says so.
	changedTCP := regexp.MustCompile(`msg="(IPVS changed|repaired drift)".*TCP ` + regexp.QuoteMeta(svc))
	var flows []netip.AddrPort
	var lines, redone []string
	prefix := func(via string) string { return fmt.Sprintf("c1-%d-%s", len(redone), via) }
	for {
		flows = c1FlowList(len(redone))
		lines = lines[:0]
		changed := ""
		for _, v := range vias {
			mark := 0
			if v.ns != nil {
				mark = len(v.directorLog())
			}
			errs, err := c.sendFlows(probe, v.addr, prefix(v.name), flows)
			if err != nil {
				row.Failf("%v", err)
			}
			if v.ns != nil && changed == "" {
				if l := changedTCP.FindString(v.directorLog()[mark:]); l != "" {
					changed = v.name + ": " + l
				}
			}
			var failed []string
			for i, e := range errs {
				if e != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", flows[i], e))
				} else {
					lines = append(lines, fmt.Sprintf("%s-%d", prefix(v.name), i))
				}
			}
			row.Check(len(failed) == 0, "through %s: %d of %d flows failed: %s", v.name, len(failed), len(flows), strings.Join(failed[:min(len(failed), 5)], "; "))
		}
		if changed == "" || len(redone) == 2 {
			break
		}
		c.t.Logf("C1: a director changed its TCP table during its pass; every pass again with other ports: %s", changed)
		redone = append(redone, strings.SplitN(changed, ":", 2)[0])
	}
	sent := time.Since(t1)
	got := c.flowLines(&row, lines)

	// The stand-in each flow reached through each director ("" when none
	// did, "stash1+stash2" when both).
	reached := func(via string, i int) string { return got[fmt.Sprintf("%s-%d", prefix(via), i)].Server() }
	ok := func(server string) bool { return server != "" && !strings.Contains(server, "+") }
	split := map[string]int{}
	var parts []string
	for _, v := range vias {
		delivered, differ := 0, 0
		var examples []string
		for i, f := range flows {
			s := reached(v.name, i)
			if !ok(s) {
				continue
			}
			delivered++
			if v == d1 {
				split[s]++
			} else if s0 := reached(d1.name, i); ok(s0) && s != s0 {
				differ++
				if len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("%s: %s via %s, %s via %s", f, s0, d1.name, s, v.name))
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d", v.name, differ))
		if v.name == "dx" {
			row.Check(delivered == len(flows), "control dx: %d of %d flows delivered", delivered, len(flows))
			row.Check(differ > 0, "control dx: all %d flows reach the stand-in they reach through %s: the row cannot tell a director that picks differently", delivered, d1.name)
			continue
		}
		row.Sent += len(flows)
		row.Received += delivered
		row.Check(delivered == len(flows), "through %s: %d of %d flows delivered", v.name, delivered, len(flows))
		row.Check(differ == 0, "%d of %d flows reach another stand-in through %s than through %s: %s", differ, delivered, v.name, d1.name, strings.Join(examples, "; "))
	}
	row.Lost = row.Sent - row.Received
	s1, s2 := c.stashes[0].name, c.stashes[1].name
	row.Check(split[s1] >= c1Flows/4 && split[s2] >= c1Flows/4, "through %s %s %d, %s %d: want both ≥ %d, or the row compares little", d1.name, s1, split[s1], s2, split[s2], c1Flows/4)
	row.Time = fmt.Sprintf("d1 order repaired %s, d3 reloaded %s; %s %d / %s %d; differ from d1: %s; %d flows in %s",
		Seconds(repaired), Seconds(reloaded), s1, split[s1], s2, split[s2], strings.Join(parts[1:], ", "), len(vias)*len(flows), Seconds(sent))
	if len(redone) > 0 {
		row.Time += "; sent again, a table changed during the pass through: " + strings.Join(redone, ", ")
	}
	return row
}

// reorderByHand deletes the last real server of want (n's TCP service
// as hala listed it: stash1, which hala added first) and adds it again
// with ipvsadm, as an operator or another tool might: the kernel puts it
// at the head of the list, out of hala's order, and hala director's
// drift repair must put it back (waitOrder).
//
// Equivalent to: ipvsadm -d -t VIP:5140 -r STASH1:5140; ipvsadm -a -t VIP:5140 -r STASH1:5140 -g -w W
func (c *bgpCluster) reorderByHand(row *Row, n *bgpNode, want []ipvsDest) {
	last := want[len(want)-1]
	svc := netip.AddrPortFrom(c.vip, uint16(c.tcpPort)).String()
	for _, args := range [][]string{
		{"-d", "-t", svc, "-r", last.Addr.String()},
		{"-a", "-t", svc, "-r", last.Addr.String(), "-g", "-w", strconv.Itoa(last.Weight)},
	} {
		if b, err := n.ns.Cmd("ipvsadm", args...).CombinedOutput(); err != nil {
			row.Failf("%s: ipvsadm %s: %v: %s", n.name, strings.Join(args, " "), err, b)
			return
		}
	}
}

// reloadAlone reloads n's hala director alone (SIGHUP) with the TCP
// service narrowed to its first real server in want (stash2), then with
// the whole inventory again, each time until n lists what it should, and
// returns how long the two took. The others never read the narrowed
// file: they get no SIGHUP.
func (c *bgpCluster) reloadAlone(row *Row, n *bgpNode, want []ipvsDest) time.Duration {
	full, err := os.ReadFile(c.invPath)
	if err != nil {
		row.Failf("%v", err)
		return 0
	}
	key := fmt.Sprintf("input_id = %q", c.tcpInput)
	i := slices.IndexFunc(c.stashes, func(s *bgpNode) bool { return s.addr == want[0].Addr.Addr() })
	if i < 0 {
		row.Failf("%s: %s is no stand-in", n.name, want[0].Addr)
		return 0
	}
	keep := c.stashes[i]
	narrowed := strings.Replace(string(full), key, key+fmt.Sprintf("\nbackends = [%q]", keep.name), 1)
	if narrowed == string(full) {
		row.Failf("%s: no %s to narrow", c.invPath, key)
		return 0
	}
	defer func() {
		if err := writeInventory(c.invPath, full); err != nil {
			row.Failf("restore %s: %v", c.invPath, err)
		}
	}()
	t0 := time.Now()
	for _, step := range []struct {
		data []byte
		want []ipvsDest
	}{{[]byte(narrowed), want[:1]}, {full, want}} {
		if err := writeInventory(c.invPath, step.data); err != nil {
			row.Failf("%v", err)
			return 0
		}
		if err := syscall.Kill(n.hd.Pid(), syscall.SIGHUP); err != nil {
			row.Failf("SIGHUP %s: %v", n.name, err)
			return 0
		}
		c.waitOrder(row, n, step.want, 10*time.Second)
	}
	return time.Since(t0)
}

// waitOrder waits up to timeout until n's TCP service lists want, in
// order and at its weights, and returns how long it waited.
func (c *bgpCluster) waitOrder(row *Row, n *bgpNode, want []ipvsDest, timeout time.Duration) time.Duration {
	took, err := testutil.Poll(timeout, 50*time.Millisecond, func() error {
		got, err := readIPVSList(n.ipvs, c.vip, c.tcpPort)
		if err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
			err = fmt.Errorf("%s lists %v, want %v", n.name, got, want)
		}
		return err
	})
	if err != nil {
		row.Failf("%v", err)
	}
	return took
}

// newProbe plugs C1's probe into the directors' LAN. Each flow's address
// and port is used again through the next director, which a connection
// in TIME_WAIT would refuse for a minute: with tcp_max_tw_buckets = 0 the
// probe's kernel forgets a closed connection at once.
func (c *bgpCluster) newProbe() *testutil.NetNS {
	p := testutil.NewNamedNetNS(c.t, "probe")
	var addrs []netip.Prefix
	for _, a := range c1ProbeAddrs {
		addrs = append(addrs, netip.PrefixFrom(a, 24))
	}
	c.lan.Attach(c.t, p, "eth0", addrs...)
	p.Run(c.t, "sysctl", "-q", "-w", "net.ipv4.tcp_max_tw_buckets=0")
	return p
}

// newControl makes C1's control director dx: on the LAN, with d1's
// rendered sysctls and the VIP on hala0, and the TCP service made with
// ipvsadm as hala makes it (mh, its flags, the real servers added in
// ascending order at the weights list gives them) plus c1Gone, added at
// the same weight and then set to 0.
//
// Equivalent to: ipvsadm -A -t VIP:5140 -s mh -b mh-fallback,mh-port;
// ipvsadm -a -t VIP:5140 -r RS:5140 -g -w W (each, ascending);
// ipvsadm -e -t VIP:5140 -r GONE:5140 -g -w 0
func (c *bgpCluster) newControl(row *Row, list []ipvsDest) *testutil.NetNS {
	t := c.t
	dx := testutil.NewNamedNetNS(t, "dx")
	c.lan.Attach(t, dx, "eth0", netip.PrefixFrom(c1Control, 24))
	dx.Run(t, "sysctl", "-q", "-p", filepath.Join(c.out, c.directors[0].name, render.SysctlPath))
	dx.IP(t, "link", "add", "hala0", "type", "dummy")
	dx.IP(t, "link", "set", "hala0", "up")
	dx.IP(t, "addr", "add", netip.PrefixFrom(c.vip, 32).String(), "dev", "hala0")
	if len(list) == 0 {
		return dx
	}
	dests := append(slices.Clone(list), ipvsDest{netip.AddrPortFrom(c1Gone, uint16(c.tcpRealPort)), list[0].Weight})
	slices.SortFunc(dests, func(a, b ipvsDest) int { return a.Addr.Compare(b.Addr) })
	svc := netip.AddrPortFrom(c.vip, uint16(c.tcpPort)).String()
	cmds := [][]string{{"-A", "-t", svc, "-s", "mh", "-b", "mh-fallback,mh-port"}}
	for _, d := range dests {
		cmds = append(cmds, []string{"-a", "-t", svc, "-r", d.Addr.String(), "-g", "-w", strconv.Itoa(d.Weight)})
	}
	cmds = append(cmds, []string{"-e", "-t", svc, "-r", netip.AddrPortFrom(c1Gone, uint16(c.tcpRealPort)).String(), "-g", "-w", "0"})
	for _, args := range cmds {
		if b, err := dx.Cmd("ipvsadm", args...).CombinedOutput(); err != nil {
			row.Failf("dx: ipvsadm %s: %v: %s", strings.Join(args, " "), err, b)
		}
	}
	return dx
}

// sendFlows sends one line (Line(prefix-i, 1)) from each flow i to the
// VIP's TCP port through via (the probe's route to the VIP), c1Workers
// at a time, and returns each flow's error.
//
// Equivalent to: ip -n PROBE route replace VIP/32 via VIA; then per flow
// echo LINE | nc -s ADDR -p PORT -N VIP 5140
func (c *bgpCluster) sendFlows(probe *testutil.NetNS, via netip.Addr, prefix string, flows []netip.AddrPort) ([]error, error) {
	if b, err := probe.Cmd("ip", "route", "replace", netip.PrefixFrom(c.vip, 32).String(), "via", via.String()).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("probe: route to the VIP via %s: %v: %s", via, err, b)
	}
	dst := netip.AddrPortFrom(c.vip, uint16(c.tcpPort))
	errs := make([]error, len(flows))
	var next atomic.Int64
	var wg sync.WaitGroup
	nsErrs := make([]error, c1Workers)
	for w := range c1Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker on a thread of its own in the probe's namespace,
			// where its sockets are made.
			nsErrs[w] = probe.Do(func() error {
				for i := int(next.Add(1)) - 1; i < len(flows); i = int(next.Add(1)) - 1 {
					errs[i] = sendFlow(flows[i], dst, tcpstream.Line(fmt.Sprintf("%s-%d", prefix, i), 1))
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return errs, errors.Join(nsErrs...)
}

// sendFlow is one connection from src to dst: line, a half-close, and a
// read until the stand-in closes its side, which it does once it has
// read everything.
func sendFlow(src, dst netip.AddrPort, line string) error {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(src), Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp4", dst.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, line); err != nil {
		return err
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, conn)
	return err
}

// flowLines reads what the stand-ins received of each stream, waiting up
// to 10s until line 1 of every id in want is there.
func (c *bgpCluster) flowLines(row *Row, want []string) map[string]StreamReceived {
	var got map[string]StreamReceived
	_, err := testutil.Poll(10*time.Second, 100*time.Millisecond, func() (err error) {
		if got, err = ReadStreams(c.outFiles()); err != nil {
			return err
		}
		missing := 0
		for _, id := range want {
			if !got[id].Seqs[1] {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d flows' lines not at the stand-ins", missing, len(want))
		}
		return nil
	})
	if err != nil && got == nil {
		row.Failf("read the stand-ins' output: %v", err)
	}
	return got
}
