//go:build linux && integration

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/e2e/standin"
	"github.com/hala-lb/hala/pkg/internal/testutil"
)

const (
	// rate is the client's messages per second: high enough to count a
	// loss window in tens of messages, low enough to leave the emulated
	// (TCG) VM the CPU that keepalived and hala check need on time (200/s
	// kept its two vCPUs 60-90 % busy).
	rate = 100
	// splitCount is the steady-state burst that shows the even
	// round-robin split.
	splitCount = 1000
	// evenCount is the burst that shows the split is even again after a
	// scenario.
	evenCount = 400
	// restartDelay is how long a restarted stand-in takes to listen again
	// in the rolling restart, standing in for Logstash's JVM start.
	restartDelay = 3 * time.Second
	// vrrpLatency is what the failover bound allows beyond 3 × advert_int +
	// skew: keepalived's timer firing and adding the address, in the VM.
	vrrpLatency = 100 * time.Millisecond
)

// TestMain lets the test binary double as the Logstash stand-in, so the
// VM needs no second program: the suite starts itself with
// HALA_E2E_STANDIN=1 in each stash namespace.
func TestMain(m *testing.M) {
	if os.Getenv(envStandin) == "1" {
		os.Exit(standin.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestIntegrationE2E runs the six scenarios of the end-to-end suite and
// prints the results table. It changes the machine (a system user, hala
// in /usr/local/bin, keepalived), so it runs only when HALA_E2E=1, which
// scripts/e2e sets inside the throwaway test VM.
func TestIntegrationE2E(t *testing.T) {
	testutil.RequireKernel(t)
	if os.Getenv("HALA_E2E") != "1" {
		t.Skip("the end-to-end suite changes the machine; scripts/e2e runs it inside the test VM (make e2e, make test-vm)")
	}
	began := time.Now()
	suites := []struct {
		name, example string
		scenarios     []func(*cluster) Row
	}{
		{"keepalived", "two-node.toml", []func(*cluster) Row{
			steadyState, inputStopped, standinKilled, apiBlackholed, keepalivedKilled, rollingRestart, rollingRestartDrained,
		}},
		{"director", "two-node-director.toml", directorScenarios},
		{"agent", "two-node-director.toml", agentScenarios},
	}
	only := os.Getenv(envOnly)
	var table Table
	for _, s := range suites {
		if only != s.name && (only != "" || s.name == "agent") {
			continue // the agent rows run in the director half; alone only by name
		}
		t.Run(s.name, func(t *testing.T) { table = append(table, runSuite(t, s.example, s.scenarios)...) })
	}
	if only == "" || only == "bgp" {
		t.Run("bgp", func(t *testing.T) { table = append(table, runBGPSuite(t)...) })
	}
	compareB2B8(table)
	text := table.String()
	fmt.Printf("\n=== end-to-end results (rate %d msg/s, suite %s)\n%s=== end\n", rate, Seconds(time.Since(began)), text)
	if !table.Pass() {
		t.Errorf("end-to-end suite failed:\n%s", text)
	}
}

// envOnly, when set to "keepalived", "director" or "bgp", runs only that
// part of the suite (for working on it; make e2e runs all three); "agent"
// runs the director half's hala agent rows alone (make e2e-agent).
const envOnly = "HALA_E2E_ONLY"

// runSuite builds the cluster of one example and runs its scenarios.
func runSuite(t *testing.T, example string, scenarios []func(*cluster) Row) Table {
	began := time.Now()
	c := newCluster(t, rate, example)
	c.converge()
	idle := cpuBusy()
	time.Sleep(2 * time.Second)
	t.Logf("CPU busy with no traffic: %s", idle.since())
	if c.director {
		t.Logf("cluster up in %s: hala director, interval %s, fall %d, rise %d, check timeout %s, reconcile %s, advert_int %s, priorities %v",
			Seconds(time.Since(began)), c.interval, c.fall, c.rise, c.checkTimeout, c.reconcile, c.advert, c.priority)
	} else {
		t.Logf("cluster up in %s: delay_loop %s, misc_timeout %s, check timeout %s, advert_int %s, priorities %v",
			Seconds(time.Since(began)), c.delayLoop, c.miscTimeout, c.checkTimeout, c.advert, c.priority)
	}

	// Checks that keepalived had to kill before the cluster settled (cold
	// start under emulation) are reported, not failed; from here on every
	// scenario fails if keepalived kills a check (misc_timeout fires).
	for _, n := range c.nodes {
		if lines := grepLines(n.keepalivedLog(), `(?i)timed out`); len(lines) > 0 {
			t.Logf("during start-up, keepalived on %s killed %d slow checks: %q", n.name, len(lines), lines)
		}
	}
	var table Table
	for _, scenario := range scenarios {
		start, busy0 := time.Now(), cpuBusy()
		marks := map[string]int{}
		for _, n := range c.nodes {
			marks[n.name] = len(n.keepalivedLog())
		}
		row := scenario(c)
		for _, n := range c.nodes {
			if lines := grepLines(n.keepalivedLog()[marks[n.name]:], `(?i)timed out`); len(lines) > 0 {
				row.Failf("keepalived on %s killed a check that outlived misc_timeout: %q", n.name, lines)
			}
		}
		table = append(table, row)
		t.Logf("%s: %s in %s (CPU busy %s)%s", row.Scenario, map[bool]string{true: "PASS", false: "FAIL"}[row.Pass()], Seconds(time.Since(start)), busy0.since(),
			strings.Join(append([]string{""}, row.Failures...), "\n\t- "))
	}
	if !table.Pass() {
		for _, n := range c.nodes {
			t.Logf("keepalived log of %s:\n%s", n.name, n.keepalivedLog())
			if c.director {
				t.Logf("hala director log of %s:\n%s", n.name, n.directorLog())
			}
		}
	}
	return table
}

func grepLines(text, pattern string) []string {
	re := regexp.MustCompile(pattern)
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// converge waits until the VIP's master holds it alone, both directors
// list both real servers, and every stand-in has answered checks; it
// fails the test otherwise.
func (c *cluster) converge() {
	t := c.t
	master := c.nodes[0]
	_, err := testutil.Poll(60*time.Second, sampleEvery, func() error {
		for _, n := range c.nodes {
			if done, err := n.ka.Exited(); done {
				return fmt.Errorf("keepalived on %s exited: %v", n.name, err)
			}
			// The checks talk to every stand-in (unless the control run
			// disabled them).
			if r, err := n.apiRequests(); os.Getenv(envDisableCheck) != "1" && (err != nil || r < len(c.nodes)) {
				return fmt.Errorf("stand-in %s answered %d API requests (%v)", n.name, r, err)
			}
		}
		s := c.mon.last()
		if !c.healthy(s, master) {
			return fmt.Errorf("not converged: %s", c.describe(s))
		}
		for _, n := range c.nodes {
			for _, b := range c.nodes {
				if !s.in(n.name, c.rs(b)) {
					return fmt.Errorf("%s's table lacks %s: %s", n.name, b.name, c.describe(s))
				}
			}
		}
		return nil
	})
	if err != nil {
		for _, n := range c.nodes {
			t.Logf("keepalived log of %s:\n%s", n.name, n.keepalivedLog())
		}
		t.Fatalf("cluster did not converge: %v", err)
	}
	for _, n := range c.nodes {
		if lines := grepLines(n.keepalivedLog(), `(?i)insecure|Disabling misc script|not found/accessible|does not exist`); len(lines) > 0 {
			t.Fatalf("keepalived on %s refused the check: %q", n.name, lines)
		}
	}
	if c.director {
		return
	}
	for _, n := range c.nodes {
		code, took, out := c.halaCheck(master, n)
		t.Logf("hala check %s from %s: exit %d in %s %s", n.name, master.name, code, took.Round(time.Millisecond), out)
	}
}

// settle waits until director d holds the VIP alone with both real
// servers, as every scenario starts; false when it does not happen.
func (c *cluster) settle(row *Row, d *node) bool {
	s, ok := c.mon.waitFor(time.Now(), c.settleTimeout(), func(s sample) bool { return c.healthy(s, d) })
	if !ok {
		row.Failf("not healthy before the fault: %s", c.describe(s))
	}
	return ok
}

// count reads the output files and tallies span; a read error fails row.
func (c *cluster) count(row *Row, span Span, windows ...Window) Tally {
	got, err := c.received()
	if err != nil {
		row.Failf("read received messages: %v", err)
		return Tally{PerServer: map[string]int{}}
	}
	return Count(c.sender, span, got, windows...)
}

// checkSplit asserts an even, loss-free round-robin split of tl.
func (c *cluster) checkSplit(row *Row, what string, tl Tally) {
	names := make([]string, len(c.nodes))
	even := true
	for i, n := range c.nodes {
		names[i] = n.name
		if tl.PerServer[n.name] != tl.Sent/len(c.nodes) {
			even = false
		}
	}
	row.Check(tl.Lost == 0 && even && tl.Duplicates == 0,
		"%s: %d sent, %s, %d lost, %d duplicates; want an even split, none lost", what, tl.Sent, tl.Split(names...), tl.Lost, tl.Duplicates)
}

// steadyState is scenario 1: stash1 holds the VIP alone; 1,000 messages
// split 500/500 by rr with one-packet scheduling; none lost.
func steadyState(c *cluster) Row {
	master := c.nodes[0]
	row := Row{Scenario: c.label("1 steady state"), Bound: fmt.Sprintf("VIP on %s only, %d/%d, lost 0", master.name, splitCount/2, splitCount/2)}
	c.settle(&row, master)
	var packets map[string]float64
	if c.prom != nil {
		var err error
		if packets, err = c.packetsIn(); err != nil {
			row.Failf("Prometheus: %v", err)
		}
	}
	from := time.Now()
	span := c.sender.Burst(splitCount)
	c.hold()
	samples := c.mon.between(from, time.Now())
	row.Check(len(samples) > 0, "no sample of the VIP taken")
	for _, s := range samples {
		if !slices.Equal(s.holders(), []string{master.name}) {
			row.Failf("at +%s: %s", Seconds(s.at.Sub(from)), c.describe(s))
			break
		}
	}
	tl := c.count(&row, span)
	row.Add(tl)
	c.checkSplit(&row, "steady state", tl)
	if packets != nil {
		c.checkPackets(&row, packets, tl.PerServer)
	}
	return row
}

// fault is a real-server failure that keepalived's check must detect.
type fault struct {
	name     string
	victim   *node // whose real server must leave the table
	director *node // the VIP holder, whose table carries the traffic
	inject   func() error
	repair   func() error
	// dataPath is true when the fault stops the victim receiving, so
	// messages sent to it before its removal may be lost.
	dataPath bool
	// during runs right after inject, while the removal is awaited.
	during func(row *Row)
	// bound and lost, when set, replace the out bound (with its text) and
	// the loss bound; outAt, when set, says when the victim left the
	// table more precisely than the monitor's samples (hala agent rows).
	bound     time.Duration
	boundText string
	lost      int
	outAt     func(since time.Time) (time.Time, bool)
	// whileOut runs once the victim is out (at out), before the repair;
	// afterBack once it is back (at back).
	whileOut  func(row *Row, out time.Time)
	afterBack func(row *Row, back time.Time)
}

// removal runs one fault: inject it into a steady stream, measure when
// the victim leaves the director's IPVS table, check that nothing is lost
// afterwards, repair it, measure when the victim is back, and check the
// split is even again.
func (c *cluster) removal(f fault) Row {
	row := Row{Scenario: c.label(f.name)}
	bound, boundText := c.outBound()
	if f.bound > 0 {
		bound, boundText = f.bound, f.boundText
	}
	lostBound := 0
	if f.dataPath {
		lostBound = int(float64(c.sender.Rate()) * bound.Seconds())
	}
	if f.lost > 0 {
		lostBound = f.lost
	}
	backBound, backText := c.backBound()
	row.Bound = fmt.Sprintf("out ≤ %s, back ≤ %s, lost ≤ %d, even split after", Bound(bound), Seconds(backBound), lostBound)
	rs := c.rs(f.victim)
	c.settle(&row, f.director)

	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	if err := f.inject(); err != nil {
		row.Failf("inject: %v", err)
	}
	if f.during != nil {
		f.during(&row)
	}
	s1, ok := c.mon.waitFor(t0, 3*bound, func(s sample) bool { return !s.in(f.director.name, rs) })
	t1 := s1.seen[f.director.name]
	if !ok {
		t1 = time.Now()
		row.Failf("%s still in %s's table %s after the fault: %s", f.victim.name, f.director.name, Seconds(t1.Sub(t0)), c.describe(s1))
	}
	out, slack := t1.Sub(t0), sampleEvery
	if f.outAt != nil && ok {
		if at, found := f.outAt(t0); found {
			out, slack = at.Sub(t0), 0
		}
	}
	row.Check(!ok || out <= bound+slack, "%s left the table after %s; bound %s = %s", f.victim.name, Bound(out.Round(time.Millisecond)), boundText, Bound(bound))
	if c.director && ok {
		c.checkDownMetrics(&row, f.director, f.victim)
	}

	held := time.Now()
	if f.whileOut != nil && ok {
		f.whileOut(&row, t1)
	}
	time.Sleep(2*time.Second - time.Since(held))
	if err := f.repair(); err != nil {
		row.Failf("repair: %v", err)
	}
	t2 := time.Now()
	s3, ok := c.mon.waitFor(t2, 3*backBound, func(s sample) bool { return c.healthy(s, f.director) })
	t3 := s3.seen[f.director.name]
	if !ok {
		t3 = time.Now()
		row.Failf("%s not back %s after the repair: %s", f.victim.name, Seconds(t3.Sub(t2)), c.describe(s3))
	}
	back := t3.Sub(t2)
	row.Check(!ok || back <= backBound+sampleEvery, "%s back after %s; bound %s = %s", f.victim.name, Seconds(back), backText, Seconds(backBound))
	if f.afterBack != nil && ok {
		f.afterBack(&row, t3)
	}
	time.Sleep(500 * time.Millisecond)
	span := st.Stop()
	split := c.sender.Burst(evenCount)
	c.hold()

	got, err := c.received()
	if err != nil {
		row.Failf("read received messages: %v", err)
		return row
	}
	var windows []Window
	if f.dataPath {
		windows = append(windows, faultWindow(c.sender, span, got, f.victim.name, t0, t1))
	}
	tl := Count(c.sender, span, got, windows...)
	after := Count(c.sender, c.sender.Within(span, t1, t2), got)
	sp := Count(c.sender, split, got)
	row.Add(tl)
	row.Add(sp)
	tm := fmt.Sprintf("out %s, back %s", Seconds(out), Seconds(back))
	if row.Time != "" {
		tm = row.Time + ", " + tm
	}
	row.Time = tm
	row.Check(tl.LostInWindow <= lostBound, "%d lost while %s was failing; bound rate × (%s) = %d", tl.LostInWindow, f.victim.name, boundText, lostBound)
	if len(tl.LostOutside) > 0 {
		row.Failf("%d lost outside the fault window [%s]: %s", len(tl.LostOutside), windowsText(windows, t0), c.lostText(tl.LostOutside, t0))
	}
	others := []string{}
	for _, n := range c.nodes {
		if n != f.victim {
			others = append(others, n.name)
		}
	}
	row.Check(after.Lost == 0 && after.PerServer[f.victim.name] == 0 && after.Sent > 0,
		"between removal and repair: %d sent, %d to %s, %d lost; want all to %v", after.Sent, after.PerServer[f.victim.name], f.victim.name, after.Lost, others)
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	c.checkSplit(&row, "after the repair", sp)
	return row
}

// inputStopped is scenario 2: stash2's input stops while its API stays up.
func inputStopped(c *cluster) Row {
	victim := c.nodes[1]
	return c.removal(fault{
		name:     "2 input stopped on " + victim.name,
		victim:   victim,
		director: c.nodes[0],
		inject:   func() error { return victim.control("input stop " + victim.inputID) },
		repair:   func() error { return victim.control("input start " + victim.inputID) },
		dataPath: true,
	})
}

// standinKilled is scenario 3: the Logstash process on stash1, the VIP
// holder itself, dies (API and input gone at once).
// With hala director, Prometheus must raise HalaBackendDown while it is
// out and clear it once it is back.
func standinKilled(c *cluster) Row {
	victim := c.nodes[0]
	f := fault{
		name:     "3 logstash killed on " + victim.name,
		victim:   victim,
		director: c.nodes[0],
		inject:   func() error { victim.killStandin(); return nil },
		repair:   func() error { return c.startStandin(victim, 0) },
		dataPath: true,
	}
	if c.prom != nil {
		f.whileOut = func(row *Row, out time.Time) { c.checkAlertFires(row, f.director, victim, out) }
		f.afterBack = func(row *Row, back time.Time) { c.checkAlertResolves(row, f.director, victim, back) }
	}
	return c.removal(f)
}

// apiBlackholed is scenario 4: stash2's API accepts but never answers
// while its input keeps receiving. The check gives up at its own timeout,
// before keepalived's misc_timeout, so keepalived never kills a hung check;
// and as the input never stopped, nothing at all may be lost.
func apiBlackholed(c *cluster) Row {
	victim, director := c.nodes[1], c.nodes[0]
	if c.director {
		// No process to watch: the director's check is a request in its
		// own loop, bounded by the check timeout (the out bound includes it).
		return c.removal(fault{
			name:   "4 API black-holed on " + victim.name,
			victim: victim, director: director,
			inject: func() error { return victim.control("api blackhole") },
			repair: func() error { return victim.control("api answer") },
		})
	}
	var uids []string
	row := c.removal(fault{
		name:     "4 API black-holed on " + victim.name,
		victim:   victim,
		director: director,
		inject:   func() error { return victim.control("api blackhole") },
		repair:   func() error { return victim.control("api answer") },
		during: func(row *Row) {
			// Which user keepalived runs the hung check as: watch until the
			// next check has had time to start and hang.
			done := make(chan struct{})
			go func() { defer close(done); uids = checkUIDs(director, victim, c.delayLoop+c.miscTimeout) }()
			defer func() { <-done }()
			code, took, out := c.halaCheck(director, victim)
			row.Check(code == 1, "hala check against the black hole: exit %d, want 1 (%s)", code, out)
			row.Check(took >= c.checkTimeout*9/10 && took < c.miscTimeout,
				"hala check against the black hole took %s; want its timeout %s, under misc_timeout %s", Seconds(took), c.checkTimeout, c.miscTimeout)
			row.Time = "check " + Seconds(took)
		},
	})
	u, err := user.Lookup(c.inv.Cluster.ScriptUser)
	if err != nil {
		row.Failf("script user: %v", err)
	} else {
		row.Check(len(uids) > 0 && !slices.ContainsFunc(uids, func(s string) bool { return s != u.Uid }),
			"keepalived ran hala check as uids %v; want only %s (%s)", uids, u.Uid, u.Username)
	}
	row.Bound += ", check ends at its timeout < misc_timeout"
	return row
}

// checkUIDs watches director's namespace for hala check processes aimed
// at target for up to d and returns the real uids they ran as.
func checkUIDs(director, target *node, d time.Duration) []string {
	seen := map[string]bool{}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
			if len(args) < 2 || filepath.Base(args[0]) != "hala" || args[1] != "check" || !slices.Contains(args, target.addr.String()) {
				continue
			}
			// Only keepalived's checks: its checker child is the parent.
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				continue
			}
			var uid, ppid string
			for _, l := range strings.Split(string(status), "\n") {
				if f := strings.Fields(l); len(f) >= 2 && f[0] == "Uid:" {
					uid = f[1]
				} else if len(f) >= 2 && f[0] == "PPid:" {
					ppid = f[1]
				}
			}
			if pp, err := os.ReadFile(fmt.Sprintf("/proc/%s/comm", ppid)); err == nil && strings.TrimSpace(string(pp)) == "keepalived" {
				seen[uid] = true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	var out []string
	for u := range seen {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// keepalivedKilled is scenario 5: keepalived on stash1 dies by SIGKILL
// (all its processes: no cleanup). stash2 must take the VIP within
// 3 × advert_int + skew; when stash1's keepalived is back, the VIP must
// be on exactly one node at every sample after convergence.
func keepalivedKilled(c *cluster) Row {
	p, s := c.nodes[0], c.nodes[1]
	row := Row{Scenario: "5 keepalived SIGKILL on " + p.name}
	skew := time.Duration(float64(c.advert) * float64(256-c.priority[s.name]) / 256)
	bound := 3*c.advert + skew
	const hold = 5 * time.Second
	row.Bound = fmt.Sprintf("failover ≤ %s, then one VIP holder at every sample for %s, lost 0 outside moves", Seconds(bound), Seconds(hold))
	c.settle(&row, p)

	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	if err := p.killKeepalived(); err != nil {
		row.Failf("kill keepalived: %v", err)
	}
	s1, ok := c.mon.waitFor(t0, 10*bound, func(x sample) bool { return x.vip[s.name] })
	t1 := s1.seen[s.name]
	if !ok {
		t1 = time.Now()
		row.Failf("VIP not on %s %s after the kill: %s", s.name, Seconds(t1.Sub(t0)), c.describe(s1))
	}
	failover := t1.Sub(t0)
	row.Check(!ok || failover <= bound+sampleEvery+vrrpLatency, "VIP on %s after %s; bound 3 × advert_int + skew = %s (+%s sampling, +%s timer latency)",
		s.name, Seconds(failover), Seconds(bound), sampleEvery, vrrpLatency)
	stale := s1.vip[p.name]

	time.Sleep(2 * time.Second)
	t2 := time.Now()
	c.startKeepalived(p)
	s3, ok := c.mon.waitFor(t2, 30*time.Second, func(x sample) bool { return slices.Equal(x.holders(), []string{p.name}) })
	t3 := s3.at
	if !ok {
		t3 = time.Now()
		row.Failf("VIP not back on %s alone %s after restart: %s", p.name, Seconds(t3.Sub(t2)), c.describe(s3))
	}
	time.Sleep(hold)
	samples := c.mon.between(t3, t3.Add(hold))
	row.Check(len(samples) >= int(hold/sampleEvery)/2, "only %d samples in %s", len(samples), hold)
	for _, x := range samples {
		if len(x.holders()) != 1 {
			row.Failf("at +%s after convergence: %s", Seconds(x.at.Sub(t3)), c.describe(x))
			break
		}
	}
	if _, ok := c.mon.waitFor(t3, 3*(c.delayLoop+c.miscTimeout), func(x sample) bool { return c.healthy(x, p) }); !ok {
		row.Failf("%s's table not full again: %s", p.name, c.describe(c.mon.last()))
	}
	span := st.Stop()
	split := c.sender.Burst(evenCount)
	c.hold()

	tl := c.count(&row, span, Window{From: t0, To: t1}, Window{From: t2, To: t3})
	sp := c.count(&row, split)
	row.Add(tl)
	row.Add(sp)
	row.Time = fmt.Sprintf("failover %s, back %s", Seconds(failover), Seconds(t3.Sub(t2)))
	if stale {
		row.Time += " (stale VIP)"
	}
	if len(tl.LostOutside) > 0 {
		row.Failf("%d lost outside the VIP moves [%s]: %s", len(tl.LostOutside), windowsText([]Window{{t0, t1}, {t2, t3}}, t0), c.lostText(tl.LostOutside, t0))
	}
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	c.checkSplit(&row, "after the VIP came back", sp)
	return row
}

// rollingRestart is scenario 6 (D11): both stand-ins restarted one after
// the other without hala drain, as an operator would: restart one, wait
// until `hala check` passes (keepalived) and the VIP holder's IPVS table
// lists it again, then the next. Losses are measured and reported, not
// bounded.
func rollingRestart(c *cluster) Row {
	holder := c.nodes[0]
	row := Row{Scenario: c.label(map[bool]string{false: "6", true: "11"}[c.director] + " rolling restart without drain"),
		Bound: fmt.Sprintf("reported (start delay %s); 0 lost outside restarts", Seconds(restartDelay))}
	c.settle(&row, holder)
	st := c.sender.Start()
	time.Sleep(time.Second)
	type stop struct {
		node   string
		t0, t1 time.Time
	}
	var stops []stop
	var times []string
	for _, n := range c.nodes {
		t0 := time.Now()
		n.standin.Stop()
		if err := c.startStandin(n, restartDelay); err != nil {
			row.Failf("restart %s: %v", n.name, err)
		}
		if !c.director {
			if _, err := testutil.Poll(30*time.Second, 500*time.Millisecond, func() error {
				if code, _, out := c.halaCheck(holder, n); code != 0 {
					return fmt.Errorf("hala check %s: exit %d: %s", n.name, code, out)
				}
				return nil
			}); err != nil {
				row.Failf("%v", err)
			}
		}
		back, _ := c.backBound()
		s1, ok := c.mon.waitFor(time.Now(), 3*back+restartDelay+10*time.Second, func(s sample) bool { return c.healthy(s, holder) })
		t1 := s1.at
		if !ok {
			t1 = time.Now()
			row.Failf("%s not back in %s's table: %s", n.name, holder.name, c.describe(s1))
		}
		stops = append(stops, stop{n.name, t0, t1})
		times = append(times, fmt.Sprintf("%s %s", n.name, Seconds(t1.Sub(t0))))
		time.Sleep(time.Second)
	}
	span := st.Stop()
	split := c.sender.Burst(evenCount)
	c.hold()
	got, err := c.received()
	if err != nil {
		row.Failf("read received messages: %v", err)
		return row
	}
	var windows []Window
	for _, x := range stops {
		windows = append(windows, faultWindow(c.sender, span, got, x.node, x.t0, x.t1))
	}
	tl := Count(c.sender, span, got, windows...)
	sp := Count(c.sender, split, got)
	row.Add(tl)
	row.Add(sp)
	row.Time = "restart " + strings.Join(times, ", ")
	if len(tl.LostOutside) > 0 {
		row.Failf("%d lost outside the restarts [%s]: %s", len(tl.LostOutside), windowsText(windows, windows[0].From), c.lostText(tl.LostOutside, windows[0].From))
	}
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	c.checkSplit(&row, "after the restarts", sp)
	return row
}

// faultWindow returns the window in which a fault that stopped server's
// input at t0, detected at t1, may lose messages. It opens at t0, or
// earlier at the last message server wrote before t0: datagrams still in
// flight or queued unread on its socket when the input stopped are lost
// by the fault even though they were sent just before it. A message sent
// before that last written one and lost is never the fault's.
func faultWindow(s *Sender, span Span, got Received, server string, t0, t1 time.Time) Window {
	w := Window{From: t0, To: t1}
	for seq := span.End - 1; seq >= span.First; seq-- {
		at, _ := s.SentAt(seq)
		if at.Before(t0) && slices.Contains(got[seq], server) {
			w.From = at
			break
		}
	}
	return w
}

// windowsText shows windows relative to t0, e.g. "+0.0s..+3.2s".
func windowsText(ws []Window, t0 time.Time) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%+.1fs..%+.1fs", w.From.Sub(t0).Seconds(), w.To.Sub(t0).Seconds())
	}
	return strings.Join(parts, ", ")
}

// lostText describes lost messages: how many, and when the first and last
// were sent relative to t0.
func (c *cluster) lostText(seqs []int, t0 time.Time) string {
	first, _ := c.sender.SentAt(seqs[0])
	last, _ := c.sender.SentAt(seqs[len(seqs)-1])
	return fmt.Sprintf("#%d sent at %+.2fs to #%d at %+.2fs", seqs[0], first.Sub(t0).Seconds(), seqs[len(seqs)-1], last.Sub(t0).Seconds())
}

// cpuSample is the machine's busy and total CPU time from /proc/stat.
type cpuSample struct{ busy, total uint64 }

func cpuBusy() cpuSample {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var s cpuSample
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	return s
}

// since returns the share of CPU time that was busy since s, e.g. "63%".
func (s cpuSample) since() string {
	now := cpuBusy()
	if now.total <= s.total {
		return "?"
	}
	return fmt.Sprintf("%d%%", 100*(now.busy-s.busy)/(now.total-s.total))
}
