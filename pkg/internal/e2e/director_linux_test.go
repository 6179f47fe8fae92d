//go:build linux && integration

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
)

// The director half of the suite: the same two hosts and scenarios, with
// hala director programming IPVS (examples/two-node-director.toml) and
// keepalived doing VRRP only, plus what only a resident director does:
// repair of hand-made changes, live reload, and surviving its own death.

// directorScenarios run on the director cluster, in order: the D rows
// measure the API checks alone, the A rows then start hala agent on both
// hosts, the B8 rows stop the agents again (hostDies); the 100 ms B8 row
// leaves VRRP at 100 ms, so it stays last.
var directorScenarios = append(append([]func(*cluster) Row{
	steadyState, inputStopped, standinKilled, apiBlackholed,
	rulesDeleted, reloadAddsBackend, reloadInvalid, directorKilled, directorRestarted,
	rollingRestartDrained, rollingRestart, loadWeights,
}, agentScenarios...), vipHolderDies, vipHolderDiesFast)

// agentScenarios are the hala agent rows (A): the director cluster with
// hala agent on both hosts, in the director half and alone
// (HALA_E2E_ONLY=agent, make e2e-agent).
var agentScenarios = []func(*cluster) Row{
	agentInputStopped, agentStandinKilled, agentStandinKilledFast, agentKilled, agentLinkDown, agentOverload,
}

// metricsAddress is where each director serves /metrics and /healthz: the
// default cluster.metrics_address, on its namespace's loopback, where the
// rendered vrrp_script asks.
var metricsAddress = inventory.DefaultMetricsAddress

// label prefixes the director rows with "D" ("D2 input stopped ...").
func (c *cluster) label(name string) string {
	if c.director {
		return "D" + name
	}
	return name
}

// outBound is how soon a failed real server must leave the table, and
// what the bound is made of.
func (c *cluster) outBound() (time.Duration, string) {
	if c.director {
		return time.Duration(c.fall)*c.interval + c.checkTimeout + 100*time.Millisecond, "fall × interval + check timeout + 100ms"
	}
	return c.delayLoop + c.miscTimeout, "delay_loop + misc_timeout"
}

// backBound is how soon a repaired real server must be back: for
// keepalived the next check starts within delay_loop and ends within its
// timeout; for the director the first pass comes within one interval and
// rise passes in a row take rise intervals, the last ending within the
// check timeout.
func (c *cluster) backBound() (time.Duration, string) {
	if c.director {
		return time.Duration(c.rise)*c.interval + c.checkTimeout, "rise × interval + check timeout"
	}
	return c.delayLoop + c.checkTimeout, "delay_loop + check timeout"
}

func (c *cluster) settleTimeout() time.Duration {
	if c.director {
		return c.reconcile + 10*time.Second
	}
	return 3 * (c.delayLoop + c.miscTimeout)
}

// setupDirector prepares the node's hala director: it runs as the
// rendered unit runs it, as user hala (which setup.sh created) with only
// CAP_NET_ADMIN, its ownership state and check state in a directory of
// its own (both nodes share the VM's file system).
func (c *cluster) setupDirector(n *node) {
	t := c.t
	u, err := user.Lookup("hala")
	if err != nil {
		t.Fatalf("%s: setup.sh did not create user hala: %v", n.name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	state := filepath.Join("/var/lib/hala-e2e", n.name)
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(state, 0o700); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	if err := os.Chown(state, uid, gid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	n.hdArgs = []string{
		"--reuid=hala", "--regid=hala", "--init-groups",
		"--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin", "--bounding-set=-all,+net_admin",
		"--", c.inv.Cluster.HalaPath, "director", "-i", c.invPath, "--node", n.name,
		"--state", filepath.Join(state, "ipvs-owned.json"), "--state-dir", state,
	}
}

func (c *cluster) startDirector(n *node) {
	n.hd = testutil.Start(c.t, n.ns.Cmd("setpriv", n.hdArgs...))
	n.hdRuns = append(n.hdRuns, n.hd)
}

// waitDirector waits until the node's director answers /healthz with 200.
func (c *cluster) waitDirector(n *node) error {
	_, err := testutil.Poll(60*time.Second, 50*time.Millisecond, func() error {
		if done, err := n.hd.Exited(); done {
			return fmt.Errorf("hala director on %s exited: %v\n%s", n.name, err, n.hd.Output())
		}
		code, body, err := n.get("/healthz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("hala director on %s: /healthz %d %q %v", n.name, code, body, err)
		}
		return nil
	})
	return err
}

// directorLog returns every director run's output so far.
func (n *node) directorLog() string {
	var b strings.Builder
	for _, p := range n.hdRuns {
		b.WriteString(p.Output())
	}
	return b.String()
}

// get asks the node's director for path, connecting from inside its
// namespace.
func (n *node) get(path string) (int, string, error) { return nsGet(n.ns, path) }

// nsGet asks the hala director serving on metricsAddress in ns for path.
func nsGet(ns *testutil.NetNS, path string) (int, string, error) {
	var conn net.Conn
	err := ns.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", metricsAddress, 2*time.Second)
		return err
	})
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: director\r\nConnection: close\r\n\r\n", path); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String(), err
}

// metric returns the value of the series named by the full line prefix
// (name{labels}) in the node's /metrics.
func (n *node) metric(series string) (float64, error) {
	_, body, err := n.get("/metrics")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", series)
}

// checkDownMetrics asserts what d's /metrics says right after victim's
// real server left its table: the backend is down, out of the table
// (weight -1), and its transition to down was counted.
func (c *cluster) checkDownMetrics(row *Row, d, victim *node) {
	svc := c.inv.Services[0]
	labels := fmt.Sprintf(`address="%s",backend="%s"`, victim.addr, victim.name)
	up, err := d.metric(fmt.Sprintf(`hala_backend_up{%s,input_id="%s",port="%d",service="%s"}`, labels, svc.InputID, c.realPort, svc.Name))
	row.Check(err == nil && up == 0, "%s /metrics: hala_backend_up of %s = %v (%v), want 0", d.name, victim.name, up, err)
	w, err := d.metric(fmt.Sprintf(`hala_backend_weight{%s,port="%d",service="%s"}`, labels, c.realPort, svc.Name))
	row.Check(err == nil && w == -1, "%s /metrics: hala_backend_weight of %s = %v (%v), want -1 (not in the table)", d.name, victim.name, w, err)
	n, err := d.metric(fmt.Sprintf(`hala_backend_transitions_total{backend="%s",service="%s",state="down"}`, victim.name, svc.Name))
	row.Check(err == nil && n >= 1, "%s /metrics: transitions to down of %s = %v (%v), want ≥ 1", d.name, victim.name, n, err)
}

// ipvsadm runs ipvsadm in the node's namespace (the independent oracle
// and, for the drift scenario, the operator's hand).
func (n *node) ipvsadm(args ...string) (string, error) {
	b, err := n.ns.Cmd("ipvsadm", args...).CombinedOutput()
	return string(b), err
}

// inPkts returns each real server's InPkts on the service, from
// ipvsadm --stats: a destination deleted and added again starts at 0.
func (c *cluster) inPkts(n *node) (map[string]uint64, error) {
	out, err := n.ipvsadm("-Ln", "--stats", "--exact", "-u", net.JoinHostPort(c.vip.String(), strconv.Itoa(c.port)))
	if err != nil {
		return nil, fmt.Errorf("ipvsadm: %v: %s", err, out)
	}
	m := map[string]uint64{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == "->" && strings.Contains(f[1], ":") {
			v, _ := strconv.ParseUint(f[3], 10, 64)
			m[f[1]] = v
		}
	}
	return m, nil
}

// inPktsGrown reads n's InPkts until every one of keys is above before,
// for at most 3 seconds: the kernel's estimator refreshes the counters
// ipvsadm shows only every 2 seconds, so packets forwarded just now may
// not show yet.
func (c *cluster) inPktsGrown(n *node, before map[string]uint64, keys ...string) (map[string]uint64, error) {
	end := time.Now().Add(3 * time.Second)
	for {
		after, err := c.inPkts(n)
		grown := err == nil
		for _, k := range keys {
			grown = grown && after[k] > before[k]
		}
		if grown || time.Now().After(end) {
			return after, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeInventory replaces the directors' inventory file (atomically, as
// config management would), readable by user hala.
func (c *cluster) writeInventory(data []byte) error { return writeInventory(c.invPath, data) }

// writeInventory replaces the directors' inventory at path in one rename,
// root:hala 0640 as setup.sh leaves it.
func writeInventory(path string, data []byte) error {
	tmp := path + ".e2e-tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return err
	}
	if g, err := user.LookupGroup("hala"); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		os.Chown(tmp, 0, gid)
	}
	return os.Rename(tmp, path)
}

func (c *cluster) hupDirectors() {
	for _, n := range c.nodes {
		syscall.Kill(n.hd.Pid(), syscall.SIGHUP)
	}
}

// rulesDeleted is D5: an operator deletes stash2's real server from the
// VIP holder's table with ipvsadm; the director's repair puts it back
// within one reconcile interval and logs it. Meanwhile stash1 takes
// everything: nothing is lost.
func rulesDeleted(c *cluster) Row {
	d, victim := c.nodes[0], c.nodes[1]
	row := Row{Scenario: c.label("5 real server deleted by hand on " + d.name)}
	bound := c.reconcile
	row.Bound = fmt.Sprintf("back ≤ reconcile_interval = %s, logged as drift, lost 0", Seconds(bound))
	c.settle(&row, d)
	mark := len(d.directorLog())
	st := c.sender.Start()
	time.Sleep(time.Second)
	svc := net.JoinHostPort(c.vip.String(), strconv.Itoa(c.port))
	if out, err := d.ipvsadm("-d", "-u", svc, "-r", c.rs(victim).String()); err != nil {
		row.Failf("ipvsadm -d: %v: %s", err, out)
	}
	t1 := time.Now()
	s2, ok := c.mon.waitFor(t1, bound+5*time.Second, func(s sample) bool { return c.healthy(s, d) })
	t2 := s2.seen[d.name]
	if !ok {
		t2 = time.Now()
		row.Failf("real servers not back %s after the deletion: %s", Seconds(t2.Sub(t1)), c.describe(s2))
	}
	back := t2.Sub(t1)
	row.Check(!ok || back <= bound+sampleEvery, "back after %s; bound reconcile_interval = %s", Seconds(back), Seconds(bound))
	time.Sleep(500 * time.Millisecond)
	span := st.Stop()
	split := c.sender.Burst(evenCount)
	c.hold()
	logs := d.directorLog()[mark:]
	repairs := grepLines(logs, `msg="repaired drift"`)
	row.Check(len(repairs) == 1 && strings.Contains(repairs[0], "add destination") && strings.Contains(repairs[0], c.rs(victim).String()),
		"the director logged %q, want one repair adding %s", repairs, c.rs(victim))
	tl := c.count(&row, span)
	sp := c.count(&row, split)
	row.Add(tl)
	row.Add(sp)
	row.Time = "back " + Seconds(back)
	row.Check(tl.Lost == 0, "%d lost while %s's real server was missing", tl.Lost, victim.name)
	c.checkSplit(&row, "after the repair", sp)
	return row
}

// reloadAddsBackend is D6: the inventory loses stash2 and both directors
// get SIGHUP; then stash2 comes back in the inventory with another
// SIGHUP. Traffic reaches it within interval + rise × interval, and
// stash1's real server is never touched (its InPkts keep counting up).
func reloadAddsBackend(c *cluster) Row {
	d, victim := c.nodes[0], c.nodes[1]
	row := Row{Scenario: c.label("6 SIGHUP removes, then adds " + victim.name)}
	bound := c.interval + time.Duration(c.rise)*c.interval + c.checkTimeout
	row.Bound = fmt.Sprintf("added ≤ interval + rise × interval + check timeout = %s, %s untouched, lost 0", Seconds(bound), d.name)
	c.settle(&row, d)
	full, err := os.ReadFile(c.invPath)
	if err != nil {
		row.Failf("%v", err)
		return row
	}
	without := strings.Replace(string(full), `input_id = "udp-5514"`, `input_id = "udp-5514"`+"\nbackends = [\""+d.name+"\"]", 1)
	before, err := c.inPkts(d)
	if err != nil {
		row.Failf("%v", err)
	}
	st := c.sender.Start()
	time.Sleep(time.Second)
	if err := c.writeInventory([]byte(without)); err != nil {
		row.Failf("%v", err)
	}
	c.hupDirectors()
	if _, ok := c.mon.waitFor(time.Now(), 10*time.Second, func(s sample) bool { return !s.in(d.name, c.rs(victim)) }); !ok {
		row.Failf("%s still in %s's table after the reload without it", victim.name, d.name)
	}
	time.Sleep(time.Second)
	if err := c.writeInventory(full); err != nil {
		row.Failf("%v", err)
	}
	t0 := time.Now()
	c.hupDirectors()
	s1, ok := c.mon.waitFor(t0, 10*bound, func(s sample) bool { return c.healthy(s, d) })
	t1 := s1.seen[d.name]
	if !ok {
		t1 = time.Now()
		row.Failf("%s not back %s after the reload: %s", victim.name, Seconds(t1.Sub(t0)), c.describe(s1))
	}
	added := t1.Sub(t0)
	row.Check(!ok || added <= bound+sampleEvery, "%s added after %s; bound %s", victim.name, Seconds(added), Seconds(bound))
	time.Sleep(500 * time.Millisecond)
	span := st.Stop()
	split := c.sender.Burst(evenCount)
	c.hold()
	k := c.rs(d).String()
	after, err := c.inPktsGrown(d, before, k)
	if err != nil {
		row.Failf("%v", err)
	}
	row.Check(after[k] > before[k], "%s's InPkts went from %d to %d: its real server was re-added", d.name, before[k], after[k])
	for _, s := range c.mon.between(t0.Add(-3*time.Second), t1) {
		if !s.in(d.name, c.rs(d)) {
			row.Failf("at %s %s was missing from its own table", s.at.Format("15:04:05.000"), d.name)
			break
		}
	}
	tl := c.count(&row, span)
	sp := c.count(&row, split)
	row.Add(tl)
	row.Add(sp)
	row.Time = "added " + Seconds(added)
	row.Check(tl.Lost == 0, "%d lost", tl.Lost)
	c.checkSplit(&row, "after the reload", sp)
	return row
}

// reloadInvalid is D7: SIGHUP with an invalid inventory is refused, its
// problem logged with file:line, and the running one kept: the table
// stays and a failure is still acted on.
func reloadInvalid(c *cluster) Row {
	d, victim := c.nodes[0], c.nodes[1]
	row := Row{Scenario: c.label("7 SIGHUP with an invalid inventory")}
	bound, _ := c.outBound()
	row.Bound = fmt.Sprintf("refused and logged with file:line, table kept, a failure after it still out ≤ %s", Seconds(bound))
	c.settle(&row, d)
	full, err := os.ReadFile(c.invPath)
	if err != nil {
		row.Failf("%v", err)
		return row
	}
	marks := map[string]int{}
	for _, n := range c.nodes {
		marks[n.name] = len(n.directorLog())
	}
	bad := strings.Replace(string(full), `router_id = 1`, `router_id = 300`, 1)
	if err := c.writeInventory([]byte(bad)); err != nil {
		row.Failf("%v", err)
	}
	c.hupDirectors()
	time.Sleep(2 * time.Second)
	for _, n := range c.nodes {
		logs := n.directorLog()[marks[n.name]:]
		re := regexp.MustCompile(`reload refused.*` + regexp.QuoteMeta(c.invPath) + `:\d+:\d+: vip\[0\].*router_id`)
		row.Check(re.MatchString(logs), "%s: no refusal naming the file, line and key in the log:\n%s", n.name, logs)
		if done, _ := n.hd.Exited(); done {
			row.Failf("hala director on %s exited", n.name)
		}
	}
	row.Check(c.healthy(c.mon.last(), d), "table changed by a refused reload: %s", c.describe(c.mon.last()))
	t0 := time.Now()
	if err := victim.control("input stop " + victim.inputID); err != nil {
		row.Failf("%v", err)
	}
	s1, ok := c.mon.waitFor(t0, 3*bound, func(s sample) bool { return !s.in(d.name, c.rs(victim)) })
	out := s1.seen[d.name].Sub(t0)
	row.Check(ok && out <= bound+sampleEvery, "after the refused reload, %s left the table after %s (ok=%v); bound %s", victim.name, Seconds(out), ok, Seconds(bound))
	if err := victim.control("input start " + victim.inputID); err != nil {
		row.Failf("%v", err)
	}
	if err := c.writeInventory(full); err != nil {
		row.Failf("%v", err)
	}
	back, _ := c.backBound()
	if _, ok := c.mon.waitFor(time.Now(), 3*back+time.Second, func(s sample) bool { return c.healthy(s, d) }); !ok {
		row.Failf("%s not back: %s", victim.name, c.describe(c.mon.last()))
	}
	row.Time = "out " + Seconds(out)
	return row
}

// directorKilled is D8: hala director on the VIP holder gets SIGKILL.
// The stale table keeps forwarding; keepalived's vrrp_script (hala
// director health, every 2 seconds, fall 3) fails and the instance gives up
// the VIP, which stash2 (whose director runs) takes. Then the director is
// started again and the VIP returns.
func directorKilled(c *cluster) Row {
	p, s := c.nodes[0], c.nodes[1]
	row := Row{Scenario: c.label("8 hala director SIGKILL on " + p.name)}
	skew := time.Duration(float64(c.advert) * float64(256-c.priority[s.name]) / 256)
	// The script runs every 2 s: the first run after the kill fails at
	// once (connection refused), the third puts the instance in FAULT,
	// which sends priority 0: the backup takes over after its skew.
	// Allowed: (fall + 1) script intervals and a master-down interval.
	const scriptInterval, scriptFall = 2 * time.Second, 3
	bound := (scriptFall+1)*scriptInterval + 3*c.advert + skew
	row.Bound = fmt.Sprintf("VIP moves ≤ (fall + 1) × script interval + 3 × advert_int + skew = %s, lost 0 outside the moves", Seconds(bound))
	c.settle(&row, p)
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	syscall.Kill(p.hd.Pid(), syscall.SIGKILL)
	p.hd.Stop()
	s1, ok := c.mon.waitFor(t0, 3*bound, func(x sample) bool { return slices.Equal(x.holders(), []string{s.name}) })
	t1 := s1.seen[s.name]
	if !ok {
		t1 = time.Now()
		row.Failf("VIP not on %s alone %s after the kill: %s", s.name, Seconds(t1.Sub(t0)), c.describe(s1))
	}
	moved := t1.Sub(t0)
	row.Check(!ok || moved <= bound+sampleEvery+vrrpLatency, "VIP on %s after %s; bound %s", s.name, Seconds(moved), Seconds(bound))
	row.Check(c.healthy(s1, s), "%s's table not full when it took the VIP: %s", s.name, c.describe(s1))
	time.Sleep(2 * time.Second)
	t2 := time.Now()
	c.startDirector(p)
	if err := c.waitDirector(p); err != nil {
		row.Failf("%v", err)
	}
	s3, ok := c.mon.waitFor(t2, 30*time.Second, func(x sample) bool { return c.healthy(x, p) })
	t3 := s3.at
	if !ok {
		t3 = time.Now()
		row.Failf("VIP not back on %s: %s", p.name, c.describe(s3))
	}
	time.Sleep(500 * time.Millisecond)
	span := st.Stop()
	split := c.sender.Burst(evenCount)
	c.hold()
	tl := c.count(&row, span, Window{From: t0, To: t1}, Window{From: t2, To: t3})
	sp := c.count(&row, split)
	row.Add(tl)
	row.Add(sp)
	row.Time = fmt.Sprintf("VIP moved %s, back %s", Seconds(moved), Seconds(t3.Sub(t2)))
	if len(tl.LostOutside) > 0 {
		row.Failf("%d lost outside the VIP moves: %s", len(tl.LostOutside), c.lostText(tl.LostOutside, t0))
	}
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	c.checkSplit(&row, "after the VIP came back", sp)
	return row
}

// directorRestarted is D9: hala director on the VIP holder is stopped
// (SIGTERM, which leaves the table) and started again at once: no
// destination is removed or re-added (the start apply writes nothing, and
// InPkts keep counting), nothing is lost, the VIP stays.
func directorRestarted(c *cluster) Row {
	d := c.nodes[0]
	row := Row{Scenario: c.label("9 hala director restarted on " + d.name)}
	row.Bound = "no write at start, InPkts kept, VIP stays, lost 0"
	c.settle(&row, d)
	before, err := c.inPkts(d)
	if err != nil {
		row.Failf("%v", err)
	}
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	if err := d.hd.Stop(); err != nil {
		row.Failf("hala director exited with %v on SIGTERM, want 0", err)
	}
	mark := 0
	c.startDirector(d)
	if err := c.waitDirector(d); err != nil {
		row.Failf("%v", err)
	}
	took := time.Since(t0)
	time.Sleep(2 * time.Second)
	span := st.Stop()
	c.hold()
	logs := d.hd.Output()[mark:]
	row.Check(len(grepLines(logs, `msg="applied"|msg="IPVS changed"`)) == 0, "the restarted director changed the table:\n%s", logs)
	for _, s := range c.mon.between(t0, time.Now()) {
		if !c.healthy(s, d) {
			row.Failf("at +%s: %s", Seconds(s.at.Sub(t0)), c.describe(s))
			break
		}
	}
	var keys []string
	for _, n := range c.nodes {
		keys = append(keys, c.rs(n).String())
	}
	after, err := c.inPktsGrown(d, before, keys...)
	if err != nil {
		row.Failf("%v", err)
	}
	for _, n := range c.nodes {
		k := c.rs(n).String()
		row.Check(after[k] > before[k], "%s InPkts %d -> %d: re-added", k, before[k], after[k])
	}
	tl := c.count(&row, span)
	row.Add(tl)
	row.Check(tl.Lost == 0, "%d lost across the restart", tl.Lost)
	row.Time = "restart " + Seconds(took)
	return row
}
