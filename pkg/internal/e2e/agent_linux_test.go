//go:build linux && integration

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// The hala agent rows (A): the director half again, with hala agent on
// both hosts, run after the D rows so that those measure the API checks
// alone. Each agent runs as the rendered unit runs it: an unprivileged
// user with no capability, on Debian's stock kernel.

// The targets for A1 and A2: a closed input out of the table
// within agentTarget of the fault, measured to the director's netlink
// write (its log line), losing at most agentTargetLost at 100 msg/s and
// agentTargetLostFast at 1,000 msg/s. A SIGKILLed process closes its
// sockets only when its exit releases its files, after its memory: with
// the small Go stand-in that takes 9-25 ms in an idle TCG VM (docs/e2e.md;
// make bench-agent-crash measures it natively by the receiver's size).
const (
	agentTarget         = 50 * time.Millisecond
	agentTargetLost     = 2
	agentTargetLostFast = 20
)

// agentTargets says whether the A rows assert the targets: when
// they run alone (HALA_E2E_ONLY=agent, make e2e-agent). In make test's
// director half they assert the agent's mechanism instead: the removal
// is the agent's (its reason in the log) and comes within one check
// interval, before any API check could have acted (that takes fall ×
// interval), losing at most rate × interval; the row reports whether the
// targets were met. The targets depend on the emulator's share of the
// host: with the host contended the same rows measured 66 and 96 ms
// (docs/e2e.md), and a red make test keeps everything from landing.
func agentTargets() bool { return os.Getenv(envOnly) == "agent" }

// agentProcs are the running agents by node name.
var agentProcs = map[string]*testutil.Process{}

// startAgent starts hala agent in n's namespace as nobody, reading a
// world-readable copy of the inventory (systemd hands the unit one as a
// credential).
func (c *cluster) startAgent(n *node) error {
	data, err := os.ReadFile(c.invPath)
	if err != nil {
		return err
	}
	// A directory user nobody can enter (the test's own are root's, 0700).
	dir, err := os.MkdirTemp("", "hala-agent-")
	if err != nil {
		return err
	}
	c.t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	inv := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(inv, data, 0o644); err != nil {
		return err
	}
	agentProcs[n.name] = testutil.Start(c.t, n.ns.Cmd("setpriv",
		"--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all",
		"--", c.inv.Cluster.HalaPath, "agent", "-i", inv, "--node", n.name))
	return nil
}

// streamsUp waits until every director has an open stream from every
// agent.
func (c *cluster) streamsUp(within time.Duration) error {
	_, err := testutil.Poll(within, 100*time.Millisecond, func() error {
		for _, d := range c.nodes {
			for _, n := range c.nodes {
				if p := agentProcs[n.name]; p != nil {
					if done, err := p.Exited(); done {
						return fmt.Errorf("hala agent on %s exited: %v\n%s", n.name, err, p.Output())
					}
				}
				v, err := d.metric(fmt.Sprintf(`hala_agent_stream_up{backend="%s"}`, n.name))
				if err != nil || v != 1 {
					return fmt.Errorf("%s: no stream from %s's agent (%v, %v)", d.name, n.name, v, err)
				}
			}
		}
		return nil
	})
	return err
}

// withAgents starts the agents once, before the first A row.
func (c *cluster) withAgents(row *Row) bool {
	for _, n := range c.nodes {
		if agentProcs[n.name] == nil {
			if err := c.startAgent(n); err != nil {
				row.Failf("start hala agent on %s: %v", n.name, err)
				return false
			}
		}
	}
	// The directors retry a refused stream every 5 s at most.
	if err := c.streamsUp(15 * time.Second); err != nil {
		row.Failf("%v", err)
		return false
	}
	return true
}

var logTime = regexp.MustCompile(`^time=(\S+) `)

// deleteLogged returns when d's director logged the delete of rs's
// destination, after the log offset mark.
func (c *cluster) deleteLogged(d, victim *node, mark int) func(time.Time) (time.Time, bool) {
	return func(time.Time) (time.Time, bool) {
		// The line may reach the pipe a little after the table changed.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, l := range grepLines(d.directorLog()[mark:], `msg="IPVS changed".*delete destination `+regexp.QuoteMeta(c.rs(victim).String())) {
				if m := logTime.FindStringSubmatch(l); m != nil {
					if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
						return at, true
					}
				}
			}
		}
		return time.Time{}, false
	}
}

// agentRemoval runs a data-path fault with the agents up: out by the
// agent's event (the log names it), within target and targetLost (target
// 0: no time target) under agentTargets, else within one check interval.
func (c *cluster) agentRemoval(name string, victim, d *node, target time.Duration, targetLost int, inject, repair func() error) Row {
	var row Row
	if !c.withAgents(&row) {
		row.Scenario = name
		return row
	}
	bound, lost, boundText := c.interval, int(float64(c.sender.Rate())*c.interval.Seconds()), "one check interval: before any API check could act"
	if agentTargets() {
		lost, boundText = targetLost, "the issue's target"
		if target > 0 {
			bound = target
		}
	}
	mark := len(d.directorLog())
	agentMark := 0
	if p := agentProcs[victim.name]; p != nil {
		agentMark = len(p.Output())
	}
	var out time.Duration
	var fault0 time.Time
	at := c.deleteLogged(d, victim, mark)
	row = c.removal(fault{
		name: name, victim: victim, director: d, inject: inject, repair: repair, dataPath: true,
		bound: bound, boundText: boundText, lost: lost,
		outAt: func(t0 time.Time) (time.Time, bool) {
			fault0 = t0
			t1, ok := at(t0)
			out = t1.Sub(t0)
			return t1, ok
		},
	})
	row.Scenario = name
	row.Check(out > 0, "no %q line for the delete of %s in %s's director log", "IPVS changed", c.rs(victim), d.name)
	// The broadcast goes through a kernel work queue; on a loaded VM the
	// next dump may find the socket gone first ("not bound").
	re := regexp.MustCompile(fmt.Sprintf(`reason="agent: udp/%d (closed|not bound) on %s"`, c.realPort, victim.name))
	row.Check(re.MatchString(d.directorLog()[mark:]), "%s's director did not log the agent's reason (%s)", d.name, re)
	met, want := "met", fmt.Sprintf("≤ %d lost", targetLost)
	if target > 0 {
		want = fmt.Sprintf("≤ %s, %s", Bound(target), want)
	}
	if target > 0 && out > target || row.Lost > targetLost {
		met = "missed"
	}
	row.Time = fmt.Sprintf("out %dms (%swrite logged; target %s: %s), %s", out.Milliseconds(), c.agentSaw(victim, agentMark, fault0), want, met, row.Time)
	return row
}

// agentSaw says when the victim's agent logged its input down, after the
// fault at t0: where the time to "out" went (fault to event, then event
// to the director's write). Empty when the line is not there.
func (c *cluster) agentSaw(victim *node, mark int, t0 time.Time) string {
	p := agentProcs[victim.name]
	if p == nil || t0.IsZero() || mark > len(p.Output()) {
		return ""
	}
	for _, l := range grepLines(p.Output()[mark:], `msg="input not receiving"`) {
		if m := logTime.FindStringSubmatch(l); m != nil {
			if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
				return fmt.Sprintf("agent's event %dms, ", at.Sub(t0).Milliseconds())
			}
		}
	}
	return ""
}

// agentInputStopped is A1: D2 with the agents: the stand-in closes its
// UDP socket on stash2 while its API stays up.
func agentInputStopped(c *cluster) Row {
	victim := c.nodes[1]
	return c.agentRemoval("A1 input stopped on "+victim.name+" (agent)", victim, c.nodes[0], agentTarget, agentTargetLost,
		func() error { return victim.control("input stop " + victim.inputID) },
		func() error { return victim.control("input start " + victim.inputID) })
}

// agentStandinKilled is A2: D3 with the agents: the Logstash stand-in on
// the VIP holder gets SIGKILL; its own agent tells its own director.
func agentStandinKilled(c *cluster) Row {
	victim := c.nodes[0]
	return c.agentRemoval("A2 logstash killed on "+victim.name+" (agent)", victim, victim, agentTarget, agentTargetLost,
		func() error { victim.killStandin(); return nil },
		func() error { return c.startStandin(victim, 0) })
}

// agentStandinKilledFast is A2 again at 1,000 msg/s: lost ≤ 20, the
// issue's target for this repeat (the API checks alone lose about
// 500 msg/s to the victim × 0.3-0.5 s), which sets no time: the 1,000
// msg/s sender shares the emulated CPU with everything else (84% busy),
// and SIGKILL → netlink write took 11, 14, 30 and 58 ms in four runs,
// losing 2, 6, 13 and 8 (docs/e2e.md). Both
// stand-ins get a 4 MiB receive buffer first, as a Logstash input sized
// for 1,000 msg/s has (receive_buffer_bytes): with the default 208 KiB
// the survivor, taking every message alone in the emulated VM, dropped
// at its own socket what the director did not lose.
func agentStandinKilledFast(c *cluster) Row {
	victim := c.nodes[0]
	name := "A2 logstash killed on " + victim.name + " (agent, 1,000 msg/s)"
	for _, n := range c.nodes {
		if err := n.control("input buffer " + n.inputID + " 4194304"); err != nil {
			row := Row{Scenario: name, Bound: "receive buffers set"}
			row.Failf("%s: %v", n.name, err)
			return row
		}
	}
	old := c.sender.interval
	c.sender.interval = time.Second / 1000
	defer func() { c.sender.interval = old }()
	return c.agentRemoval(name, victim, victim, 0, agentTargetLostFast,
		func() error { victim.killStandin(); return nil },
		func() error { return c.startStandin(victim, 0) })
}

// stopAgents stops every agent: the rows after the A rows measure the
// cluster as without them.
func (c *cluster) stopAgents() {
	for name, p := range agentProcs {
		p.Stop()
		delete(agentProcs, name)
	}
}

// agentKilled is A3: stash2's agent gets SIGKILL: nothing moves, nothing
// is lost, the VIP holder's director logs the broken stream and goes on
// with its API checks; the agent restarted, the stream is back.
func agentKilled(c *cluster) Row {
	d, victim := c.nodes[0], c.nodes[1]
	row := Row{Scenario: "A3 hala agent SIGKILL on " + victim.name}
	row.Bound = "table unchanged, lost 0, break logged and counted, stream back after restart"
	if !c.withAgents(&row) {
		return row
	}
	c.settle(&row, d)
	mark := len(d.directorLog())
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	p := agentProcs[victim.name]
	syscall.Kill(p.Pid(), syscall.SIGKILL)
	p.Stop()
	delete(agentProcs, victim.name)
	time.Sleep(3 * time.Second)
	for _, s := range c.mon.between(t0, time.Now()) {
		if !c.healthy(s, d) {
			row.Failf("at +%s: %s", Seconds(s.at.Sub(t0)), c.describe(s))
			break
		}
	}
	logs := d.directorLog()[mark:]
	row.Check(strings.Contains(logs, `msg="agent stream broken; API checks decide alone" backend=`+victim.name),
		"%s's director did not log the broken stream:\n%s", d.name, logs)
	row.Check(len(grepLines(logs, `msg="IPVS changed"|msg="backend down"`)) == 0, "the broken stream moved something:\n%s", logs)
	n, err := d.metric(fmt.Sprintf(`hala_agent_stream_breaks_total{backend="%s"}`, victim.name))
	row.Check(err == nil && n >= 1, "hala_agent_stream_breaks_total{backend=%q} = %v (%v), want ≥ 1", victim.name, n, err)
	t1 := time.Now()
	if err := c.startAgent(victim); err != nil {
		row.Failf("%v", err)
	}
	if err := c.streamsUp(15 * time.Second); err != nil {
		row.Failf("after the restart: %v", err)
	}
	back := time.Since(t1)
	span := st.Stop()
	c.hold()
	tl := c.count(&row, span)
	row.Add(tl)
	row.Check(tl.Lost == 0, "%d lost", tl.Lost)
	row.Time = "stream back " + Seconds(back)
	return row
}

// kernelDrops sums the drops column of /proc/net/udp in n's namespace
// for the sockets on the real servers' port: what the kernel itself says.
func (c *cluster) kernelDrops(n *node) (uint64, error) {
	out, err := n.ns.Cmd("cat", "/proc/net/udp").Output()
	if err != nil {
		return 0, err
	}
	port := fmt.Sprintf(":%04X", c.realPort)
	var sum uint64
	found := false
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 13 && strings.HasSuffix(f[1], port) && strings.HasSuffix(f[2], ":0000") {
			v, err := strconv.ParseUint(f[12], 10, 64)
			if err != nil {
				return 0, err
			}
			sum, found = sum+v, true
		}
	}
	if !found {
		return 0, fmt.Errorf("%s: no UDP socket on port %d in /proc/net/udp", n.name, c.realPort)
	}
	return sum, nil
}

// agentOverload is A5: stash2's stand-in stops reading its UDP input for
// 2 s with a 4 KiB receive buffer while the stream goes on: the kernel
// drops what does not fit, the table does not change (the socket is
// bound, the API answers), and the agent's drop counter, as the VIP
// holder's director relays it, equals the kernel's count and the
// messages the count found missing, ±1.
func agentOverload(c *cluster) Row {
	d, victim := c.nodes[0], c.nodes[1]
	row := Row{Scenario: "A5 receiver overload on " + victim.name}
	row.Bound = "agent's drops = kernel's drops = lost, ±1; table unchanged"
	if !c.withAgents(&row) {
		return row
	}
	c.settle(&row, d)
	series := fmt.Sprintf(`hala_receiver_drops_total{backend="%s",service="%s"}`, victim.name, c.inv.Services[0].Name)
	a0, err := d.metric(series)
	if err != nil {
		row.Failf("%v", err)
	}
	k0, err := c.kernelDrops(victim)
	if err != nil {
		row.Failf("%v", err)
	}
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	if err := victim.control("input pause " + victim.inputID + " 2s 4096"); err != nil {
		row.Failf("pause: %v", err)
	}
	time.Sleep(3 * time.Second)
	span := st.Stop()
	c.hold()
	for _, s := range c.mon.between(t0, time.Now()) {
		if !c.healthy(s, d) {
			row.Failf("at +%s: %s", Seconds(s.at.Sub(t0)), c.describe(s))
			break
		}
	}
	k1, err := c.kernelDrops(victim)
	if err != nil {
		row.Failf("%v", err)
	}
	var a1 float64
	// The agent dumps every 100 ms; its stream and the director follow.
	if _, err := testutil.Poll(2*time.Second, 100*time.Millisecond, func() error {
		a1, err = d.metric(series)
		if err == nil && uint64(a1-a0) < k1-k0 {
			err = fmt.Errorf("%s: %v → %v, kernel %d", series, a0, a1, k1-k0)
		}
		return err
	}); err != nil {
		row.Failf("%v", err)
	}
	tl := c.count(&row, span)
	row.Add(tl)
	agentN, kernelN := int64(a1-a0), int64(k1-k0)
	row.Check(kernelN > 0, "the kernel dropped nothing: the row did not overload the socket")
	row.Check(abs(agentN-kernelN) <= 1, "agent counted %d drops, the kernel %d", agentN, kernelN)
	row.Check(abs(int64(tl.Lost)-kernelN) <= 1, "%d messages lost, the kernel dropped %d", tl.Lost, kernelN)
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	row.Time = fmt.Sprintf("drops: agent %d, kernel %d", agentN, kernelN)
	return row
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// link sets n's LAN interface up or down.
func (c *cluster) link(n *node, state string) error {
	iface := c.inv.Directors[0].Interface
	if out, err := n.ns.Cmd("ip", "link", "set", "dev", iface, state).CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set dev %s %s in %s: %v: %s", iface, state, n.name, err, out)
	}
	return nil
}

// agentLinkDown is A4: stash2's link goes down. No socket closes and its
// agent can tell no one: the VIP holder's API checks take stash2 out
// within D3's bound, as without agents, and the broken stream is no
// failure of its own. While the link is down stash2 also loses VRRP and
// takes the VIP for itself; what is lost while VRRP settles after the
// link comes back is reported, not bounded.
func agentLinkDown(c *cluster) Row {
	d, victim := c.nodes[0], c.nodes[1]
	row := Row{Scenario: "A4 link down on " + victim.name + " (agent)"}
	bound, boundText := c.outBound()
	lostBound := int(float64(c.sender.Rate()) * bound.Seconds())
	row.Bound = fmt.Sprintf("out ≤ %s (%s: API checks, no event), lost ≤ %d, even split after", Seconds(bound), boundText, lostBound)
	if !c.withAgents(&row) {
		return row
	}
	c.settle(&row, d)
	mark := len(d.directorLog())
	st := c.sender.Start()
	time.Sleep(time.Second)
	// The fault time is when the command has returned, as in B2: starting
	// ip in the emulated VM takes longer (0.2-0.5 s) than the link change.
	if err := c.link(victim, "down"); err != nil {
		row.Failf("%v", err)
	}
	t0 := time.Now()
	s1, ok := c.mon.waitFor(t0, 3*bound, func(s sample) bool { return !s.in(d.name, c.rs(victim)) })
	t1 := s1.seen[d.name]
	if !ok {
		t1 = time.Now()
		row.Failf("%s still in %s's table %s after its link went down: %s", victim.name, d.name, Seconds(t1.Sub(t0)), c.describe(s1))
	}
	out := t1.Sub(t0)
	row.Check(!ok || out <= bound+sampleEvery, "%s left the table after %s; bound %s", victim.name, Seconds(out), Seconds(bound))
	time.Sleep(time.Second)
	if err := c.link(victim, "up"); err != nil {
		row.Failf("%v", err)
	}
	t2 := time.Now()
	s3, ok := c.mon.waitFor(t2, 30*time.Second, func(s sample) bool { return c.healthy(s, d) })
	t3 := s3.seen[d.name]
	if !ok {
		t3 = time.Now()
		row.Failf("not healthy %s after the link came back: %s", Seconds(t3.Sub(t2)), c.describe(s3))
	}
	time.Sleep(500 * time.Millisecond)
	span := st.Stop()
	split := c.sender.Burst(evenCount)
	c.hold()
	logs := d.directorLog()[mark:]
	row.Check(!strings.Contains(logs, `reason="agent:`), "%s's director acted on an agent event during a link down:\n%s", d.name, logs)
	got, err := c.received()
	if err != nil {
		row.Failf("read received messages: %v", err)
		return row
	}
	fault := faultWindow(c.sender, span, got, victim.name, t0, t1)
	tl := Count(c.sender, span, got, fault, Window{From: t2, To: t3})
	inFault := Count(c.sender, c.sender.Within(span, fault.From, fault.To), got)
	sp := Count(c.sender, split, got)
	row.Add(tl)
	row.Add(sp)
	row.Check(inFault.Lost <= lostBound, "%d lost while %s was failing; bound %d", inFault.Lost, victim.name, lostBound)
	if len(tl.LostOutside) > 0 {
		row.Failf("%d lost outside the fault and recovery windows: %s", len(tl.LostOutside), c.lostText(tl.LostOutside, t0))
	}
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	c.checkSplit(&row, "after the link came back", sp)
	row.Time = fmt.Sprintf("out %s, healthy %s after link up (lost %d while VRRP settled)", Seconds(out), Seconds(t3.Sub(t2)), tl.LostInWindow-inFault.Lost)
	return row
}
