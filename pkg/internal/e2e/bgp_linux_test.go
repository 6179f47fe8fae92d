//go:build linux && integration

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// The BGP half of the suite (HALA_E2E_ONLY=bgp): testdata/bgp.toml, three
// active-active directors d1, d2, d3 on one LAN with the two Logstash
// stand-ins and a router running Debian's FRR (zebra, bgpd, bfdd) with
// the snippet hala renders for it; a client behind the router sends from
// many source ports, so the router's ECMP hash spreads it over the
// directors. One topology serves every row.

const (
	// bgpInventory is the BGP half's inventory (in testdata).
	bgpInventory = "testdata/bgp.toml"
	// routerLAN and clientNet: the router's two sides.
	routerAddr    = "192.168.1.1/24"
	routerClient  = "10.1.0.1/24"
	bgpClientAddr = "10.1.0.2/24"
	// clientPorts is how many source ports the client sends from: enough
	// flows for an even ECMP split over three directors.
	clientPorts = 256
	// steadyCount is B1's datagrams.
	steadyCount = 3000
)

// bgpNode is one host of the BGP topology: a director or a stand-in.
type bgpNode struct {
	name string
	addr netip.Addr
	ns   *testutil.NetNS
	dir  string // its rendered files

	// Directors: hala director's command line and runs.
	hdArgs []string
	hd     *testutil.Process
	hdRuns []*testutil.Process
	ipvs   *os.File

	// Stand-ins.
	standinArgs []string
	standin     *testutil.Process
	ctl, out    string
	inputID     string
}

func (n *bgpNode) String() string { return n.name }

type bgpCluster struct {
	t       *testing.T
	inv     *inventory.Inventory
	hala    string
	invPath string
	out     string
	tmp     string

	directors []*bgpNode
	stashes   []*bgpNode
	router    *testutil.NetNS
	client    *testutil.NetNS
	sender    *Sender
	// lan is the directors' LAN (row C1 plugs its probe and control in).
	lan *testutil.LAN

	// FRR: its directory (sockets, pid files, config), the rendered
	// snippet, and the running daemons.
	frrDir  string
	frrConf string
	frr     []*testutil.Process
	routes  *routeWatch

	vip      netip.Addr
	port     int
	realPort int
	interval time.Duration
	fall     int
	rise     int
	timeout  time.Duration
	bfd      time.Duration // interval × multiplier

	// The TCP service (rows C1–C4): its port, real servers' port and
	// input id.
	tcpPort, tcpRealPort int
	tcpInput             string
}

func runBGPSuite(t *testing.T) Table {
	began := time.Now()
	c := newBGPCluster(t)
	t.Logf("BGP cluster up in %s: 3 directors, BFD %s × %d, interval %s, fall %d, rise %d",
		Seconds(time.Since(began)), c.inv.BGP.BFDInterval.Duration, c.inv.BGP.BFDMultiplier, c.interval, c.fall, c.rise)
	var table Table
	for _, scenario := range []func(*bgpCluster) []Row{
		one(bgpSteady), one(bgpHostDies), one(bgpDirectorKilled), one(bgpPlanned), one(bgpAPIBlocked), one(bgpInputStopped),
		bgpTCPDirectorChanges, one(bgpTCPBackendFails), one(bgpTCPSameBackend), one(bgpRouterRestart),
	} {
		// Each row starts from a steady state: the three next hops,
		// unchanged for settleHold. In the emulated VM a BFD session can
		// still expire a few seconds after its BGP session came up (a CI
		// run's B1 then found two next hops); the flap is logged, not
		// hidden.
		wait := time.Now()
		if took, err := c.routes.settled(c.allDirectors(), settleHold, time.Minute); err != nil {
			t.Logf("routes not settled before the next row: %v", err)
		} else if changes := c.routes.since(wait); changes != "" {
			t.Logf("routes settled after %s; changes meanwhile: %s", Seconds(took), changes)
		}
		start := time.Now()
		rows := scenario(c)
		table = append(table, rows...)
		for _, row := range rows {
			t.Logf("%s: %s in %s", row.Scenario, map[bool]string{true: "PASS", false: "FAIL"}[row.Pass()], Seconds(time.Since(start)))
		}
	}
	if !table.Pass() {
		for _, d := range c.directors {
			t.Logf("hala director log of %s:\n%s", d.name, d.directorLog())
		}
		for _, p := range c.frr {
			t.Logf("FRR %s:\n%s", p, p.Output())
		}
	}
	return table
}

// one makes a one-row scenario a scenario.
func one(f func(*bgpCluster) Row) func(*bgpCluster) []Row {
	return func(c *bgpCluster) []Row { return []Row{f(c)} }
}

func newBGPCluster(t *testing.T) *bgpCluster {
	t.Helper()
	c := &bgpCluster{t: t, tmp: t.TempDir()}
	c.hala = testutil.HalaBinary(t)
	testutil.RequireTool(t, "ip")
	testutil.RequireTool(t, "setpriv")
	testutil.RequireTool(t, "ipvsadm")
	vtysh := testutil.RequireTool(t, "vtysh")
	for _, d := range []string{"zebra", "bgpd", "bfdd"} {
		if _, err := os.Stat("/usr/lib/frr/" + d); err != nil {
			testutil.RequireTool(t, "/usr/lib/frr/"+d) // skips or fails with the reason
		}
	}
	var err error
	c.inv, err = inventory.Load(bgpInventory)
	if err != nil {
		t.Fatal(err)
	}
	svc := c.inv.Services[0]
	vip, _ := c.inv.VIP(svc.VIP)
	c.vip, c.port, c.realPort = vip.Address.Addr(), svc.Port, svc.BackendPort
	c.interval, c.fall, c.rise = svc.Interval.Duration, svc.Fall, svc.Rise
	c.timeout = c.inv.DirectorCheckTimeout(c.interval)
	c.bfd = c.inv.BGP.BFDInterval.Duration * time.Duration(c.inv.BGP.BFDMultiplier)
	for _, s := range c.inv.Services {
		if s.Protocol == "tcp" {
			c.tcpPort, c.tcpRealPort, c.tcpInput = s.Port, s.BackendPort, s.InputID
		}
	}
	if c.tcpPort == 0 {
		t.Fatalf("%s has no TCP service", bgpInventory)
	}

	c.invPath = render.DirectorInventory
	if err := installFile(bgpInventory, c.invPath); err != nil {
		t.Fatal(err)
	}
	if err := installFile(c.hala, c.inv.Cluster.HalaPath); err != nil {
		t.Fatal(err)
	}
	// hala director executes hala-director from hala's directory.
	if err := installFile(filepath.Join(filepath.Dir(c.hala), "hala-director"), filepath.Join(filepath.Dir(c.inv.Cluster.HalaPath), "hala-director")); err != nil {
		t.Fatal(err)
	}
	c.out = filepath.Join(c.tmp, "out")
	if b, err := exec.Command(c.hala, "render", "-i", bgpInventory, "-o", c.out).CombinedOutput(); err != nil {
		t.Fatalf("hala render: %v\n%s", err, b)
	}
	for _, d := range c.inv.Directors {
		if _, err := os.Stat(filepath.Join(c.out, d.Name, "keepalived.conf")); err == nil {
			t.Fatalf("%s: keepalived.conf rendered with ha = \"bgp\"", d.Name)
		}
	}

	// The directors' LAN with the router and the stand-ins; the client's
	// link to the router.
	lan := testutil.NewLAN(t)
	c.lan = lan
	c.router = testutil.NewNamedNetNS(t, "router")
	lan.Attach(t, c.router, "eth1", netip.MustParsePrefix(routerAddr))
	for _, d := range c.inv.Directors {
		n := &bgpNode{name: d.Name, addr: d.Address, ns: testutil.NewNamedNetNS(t, d.Name), dir: filepath.Join(c.out, d.Name)}
		lan.Attach(t, n.ns, "eth0", netip.PrefixFrom(d.Address, 24))
		c.directors = append(c.directors, n)
	}
	for _, l := range c.inv.Logstash {
		n := &bgpNode{name: l.Name, addr: l.Address, ns: testutil.NewNamedNetNS(t, l.Name), dir: filepath.Join(c.out, l.Name)}
		lan.Attach(t, n.ns, "eth0", netip.PrefixFrom(l.Address, 24))
		c.stashes = append(c.stashes, n)
	}
	edge := testutil.NewLAN(t)
	edge.Attach(t, c.router, "eth0", netip.MustParsePrefix(routerClient))
	c.client = testutil.NewNetNS(t)
	edge.Attach(t, c.client, "eth0", netip.MustParsePrefix(bgpClientAddr))
	gw := netip.MustParsePrefix(routerClient).Addr().String()
	c.client.IP(t, "route", "add", "default", "via", gw)
	// A real router hashes a packet's addresses and ports; Linux's hashes
	// the hash a local TCP socket gave it, which the socket draws anew at
	// each retransmission timeout (net.core.txrehash). Off, a connection
	// keeps its path until the routes change, as it would behind a real
	// router (and a black hole is not escaped by luck).
	c.client.Run(t, "sysctl", "-q", "-w", "net.core.txrehash=0")
	// The hosts on the LAN reach the client through the router (reverse
	// path filtering drops what has no route back).
	for _, n := range append(slices.Clone(c.directors), c.stashes...) {
		n.ns.IP(t, "route", "add", netip.MustParsePrefix(bgpClientAddr).Masked().String(), "via", netip.MustParsePrefix(routerAddr).Addr().String())
	}
	c.router.Run(t, "sysctl", "-q", "-p", filepath.Join(c.out, render.RouterDir, render.RouterSysctlPath))

	for _, n := range c.stashes {
		// The VIP on lo and the ARP sysctls of a DR real server.
		if b, err := n.ns.Cmd("sh", filepath.Join(n.dir, "setup.sh")).CombinedOutput(); err != nil {
			t.Fatalf("%s: setup.sh: %v\n%s", n.name, err, b)
		}
		c.setupStandin(n)
	}
	for _, n := range c.directors {
		if b, err := n.ns.Cmd("sh", filepath.Join(n.dir, "setup.sh")).CombinedOutput(); err != nil {
			t.Fatalf("%s: setup.sh: %v\n%s", n.name, err, b)
		}
		c.setupBGPDirector(n)
	}

	c.routes = startRouteWatch(t, c.router, c.vip)
	c.startFRR(vtysh)
	for _, n := range c.directors {
		c.startDirector(n)
	}
	for _, n := range c.directors {
		if err := c.waitHealthy(n); err != nil {
			t.Fatal(err)
		}
		if err := c.addControl(n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.routes.waitFor(time.Time{}, 90*time.Second, c.allDirectors()); err != nil {
		t.Fatalf("the router never had the VIP over all three directors: %v\n%s", err, c.routerState())
	}

	conn, err := newMultiConn(c.client, netip.MustParsePrefix(bgpClientAddr).Addr(), clientPorts)
	if err != nil {
		t.Fatalf("client sockets: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c.sender = NewSender(conn, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.vip, uint16(c.port))), rate)
	return c
}

// setupStandin prepares a Logstash stand-in where the rendered Logstash
// files say, and starts it.
func (c *bgpCluster) setupStandin(n *bgpNode) {
	t := c.t
	inputs, err := os.ReadFile(filepath.Join(n.dir, "logstash", "conf.d", "hala-inputs.conf"))
	if err != nil {
		t.Fatal(err)
	}
	yml, err := os.ReadFile(filepath.Join(n.dir, "logstash", "logstash.yml.snippet"))
	if err != nil {
		t.Fatal(err)
	}
	api, err := apiAddr(string(yml))
	if err != nil {
		t.Fatal(err)
	}
	ins, err := logstashInputs(string(inputs))
	if err != nil || len(ins) == 0 {
		t.Fatalf("%s: hala-inputs.conf: %v", n.name, err)
	}
	n.inputID = ins[0].ID
	n.ctl = filepath.Join(c.tmp, n.name+".sock")
	n.out = filepath.Join(c.tmp, n.name+".json")
	n.standinArgs = []string{"-name", n.name, "-api", api, "-out", n.out, "-control", n.ctl,
		"-pidfile", filepath.Join(c.tmp, n.ns.Name+".pid")}
	for _, in := range ins {
		n.standinArgs = append(n.standinArgs, "-input", in.String())
	}
	// The control service's input (rows C2 and C3), on the VIP like the
	// TCP service's.
	n.standinArgs = append(n.standinArgs, "-input", fmt.Sprintf("%s=tcp://%s", controlInput, netip.AddrPortFrom(c.vip, controlPort)))
	if n.standin, err = startStandinIn(t, n.ns, n.name, n.standinArgs, 0); err != nil {
		t.Fatal(err)
	}
}

// control sends a command to the stand-in.
func (n *bgpNode) control(cmd string) error { return (&node{ctl: n.ctl}).control(cmd) }

// setupBGPDirector prepares hala director as the rendered unit runs it:
// user hala, CAP_NET_ADMIN and CAP_NET_BIND_SERVICE only.
func (c *bgpCluster) setupBGPDirector(n *bgpNode) {
	t := c.t
	unit, err := os.ReadFile(filepath.Join(n.dir, render.DirectorUnitPath))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE") {
		t.Fatalf("%s: the rendered unit lacks CAP_NET_BIND_SERVICE:\n%s", n.name, unit)
	}
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
	caps := "-all,+net_admin,+net_bind_service"
	n.hdArgs = []string{
		"--reuid=hala", "--regid=hala", "--init-groups",
		"--inh-caps=" + caps, "--ambient-caps=" + caps, "--bounding-set=" + caps,
		"--", c.inv.Cluster.HalaPath, "director", "-i", c.invPath, "--node", n.name,
		"--state", filepath.Join(state, "ipvs-owned.json"), "--state-dir", state,
	}
	if n.ipvs, err = openIPVS(n.ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.ipvs.Close() })
}

func (c *bgpCluster) startDirector(n *bgpNode) {
	n.hd = testutil.Start(c.t, n.ns.Cmd("setpriv", n.hdArgs...))
	n.hdRuns = append(n.hdRuns, n.hd)
}

func (n *bgpNode) directorLog() string {
	var b strings.Builder
	for _, p := range n.hdRuns {
		b.WriteString(p.Output())
	}
	return b.String()
}

// waitHealthy waits until the director answers /healthz with 200.
func (c *bgpCluster) waitHealthy(n *bgpNode) error {
	_, err := testutil.Poll(60*time.Second, 50*time.Millisecond, func() error {
		if done, err := n.hd.Exited(); done {
			return fmt.Errorf("hala director on %s exited: %v\n%s", n.name, err, n.hd.Output())
		}
		code, body, err := nsGet(n.ns, "/healthz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%s /healthz: %d %q %v", n.name, code, body, err)
		}
		return nil
	})
	return err
}

// startFRR starts zebra, bfdd and bgpd in the router namespace, as user
// frr with their sockets in a directory of their own, and loads the
// rendered snippet through vtysh. zebra installs routes with their next
// hops inline (no nexthop objects), so every change of the VIP's next hops
// is one route event.
func (c *bgpCluster) startFRR(vtysh string) {
	t := c.t
	if c.frrDir == "" {
		// Not under t.TempDir, whose parents only root may enter: FRR
		// runs as user frr.
		var err error
		if c.frrDir, err = os.MkdirTemp("", "hala-e2e-frr-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(c.frrDir) })
		if err := os.Chmod(c.frrDir, 0o755); err != nil {
			t.Fatal(err)
		}
		snippet, err := os.ReadFile(filepath.Join(c.out, render.RouterDir, c.inv.BGP.Peers[0].Address.String(), render.RouterFRRPath))
		if err != nil {
			t.Fatal(err)
		}
		c.frrConf = filepath.Join(c.frrDir, "frr.conf")
		conf := "no zebra nexthop kernel enable\n" + string(snippet)
		if err := os.WriteFile(c.frrConf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.frrDir, "empty.conf"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		u, err := user.Lookup("frr")
		if err != nil {
			t.Fatalf("no user frr (is FRR installed?): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, f := range []string{c.frrDir, c.frrConf, filepath.Join(c.frrDir, "empty.conf")} {
			if err := os.Chown(f, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.frr = nil
	for _, d := range []string{"zebra", "bfdd", "bgpd"} {
		// Sockets left by the last run would look like a ready daemon, or
		// be in the way.
		stale := map[string][]string{"zebra": {"zserv.api"}, "bfdd": {"bfdd.sock"}}[d]
		for _, f := range append(stale, d+".vty") {
			os.Remove(filepath.Join(c.frrDir, f))
		}
		args := []string{"-f", filepath.Join(c.frrDir, "empty.conf"), "-i", filepath.Join(c.frrDir, d+".pid"),
			"-z", filepath.Join(c.frrDir, "zserv.api"), "--vty_socket", c.frrDir, "--log", "stdout", "-P", "0"}
		if d == "bfdd" {
			args = append(args, "--bfdctl", filepath.Join(c.frrDir, "bfdd.sock"))
		}
		p := testutil.Start(t, c.router.Cmd("/usr/lib/frr/"+d, args...))
		c.frr = append(c.frr, p)
		// zebra first: the others connect to its socket.
		if _, err := testutil.Poll(30*time.Second, 20*time.Millisecond, func() error {
			if done, err := p.Exited(); done {
				return fmt.Errorf("%s exited: %v\n%s", d, err, p.Output())
			}
			if _, err := os.Stat(filepath.Join(c.frrDir, d+".vty")); err != nil {
				return err
			}
			return nil
		}); err != nil {
			t.Fatalf("FRR %s: %v", d, err)
		}
	}
	if b, err := c.router.Cmd(vtysh, "--vty_socket", c.frrDir, "-f", c.frrConf).CombinedOutput(); err != nil {
		t.Fatalf("vtysh -f %s: %v\n%s", c.frrConf, err, b)
	}
}

// stopFRR stops every FRR daemon (zebra removes its routes as it exits).
func (c *bgpCluster) stopFRR() {
	for i := len(c.frr) - 1; i >= 0; i-- {
		c.frr[i].Stop()
	}
}

// routerState is the router's view, for failure messages.
func (c *bgpCluster) routerState() string {
	b, _ := c.router.Cmd("vtysh", "--vty_socket", c.frrDir, "-c", "show bgp summary", "-c", "show bfd peers brief").CombinedOutput()
	r, _ := c.router.Cmd("ip", "route").CombinedOutput()
	return string(b) + string(r)
}

func (c *bgpCluster) allDirectors() []netip.Addr {
	var out []netip.Addr
	for _, d := range c.directors {
		out = append(out, d.addr)
	}
	return out
}

func (c *bgpCluster) others(n *bgpNode) []netip.Addr {
	return slices.DeleteFunc(c.allDirectors(), func(a netip.Addr) bool { return a == n.addr })
}

// inPkts is the director's IPVS incoming packet counter (all services),
// summed over the per-CPU counters. /proc/net/ip_vs_stats and the netlink
// stats show totals the kernel's estimator refreshes only every 2 seconds,
// so two reads 2 seconds apart can show no change although packets went
// through; the per-CPU counters are live.
func (n *bgpNode) inPkts() (uint64, error) {
	var data []byte
	err := n.ns.Do(func() (err error) {
		data, err = os.ReadFile("/proc/thread-self/net/ip_vs_stats_percpu")
		return err
	})
	if err != nil {
		return 0, err
	}
	return sumPerCPUInPkts(string(data))
}

// sumPerCPUInPkts adds the Incoming Packets column (hex) of
// ip_vs_stats_percpu's CPU rows: after the two header lines, up to the
// total row ("~").
func sumPerCPUInPkts(data string) (uint64, error) {
	lines := strings.Split(data, "\n")
	if len(lines) < 3 {
		return 0, fmt.Errorf("ip_vs_stats_percpu: %q", data)
	}
	var sum uint64
	rows := 0
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] == "~" {
			break
		}
		if len(f) < 3 {
			return 0, fmt.Errorf("ip_vs_stats_percpu line %q", l)
		}
		v, err := strconv.ParseUint(f[2], 16, 64)
		if err != nil {
			return 0, fmt.Errorf("ip_vs_stats_percpu line %q: %w", l, err)
		}
		sum += v
		rows++
	}
	if rows == 0 {
		return 0, fmt.Errorf("ip_vs_stats_percpu: no CPU rows in %q", data)
	}
	return sum, nil
}

func (c *bgpCluster) inPkts(row *Row) map[string]uint64 {
	out := map[string]uint64{}
	for _, d := range c.directors {
		n, err := d.inPkts()
		if err != nil {
			row.Failf("%s: read IPVS stats: %v", d.name, err)
		}
		out[d.name] = n
	}
	return out
}

func (c *bgpCluster) received() (Received, error) { return ReadReceived(c.outFiles()) }

// outFiles is the stand-ins' output files by name.
func (c *bgpCluster) outFiles() map[string]string {
	files := map[string]string{}
	for _, s := range c.stashes {
		files[s.name] = s.out
	}
	return files
}

func (c *bgpCluster) count(row *Row, span Span, windows ...Window) Tally {
	time.Sleep(500 * time.Millisecond) // in-flight messages
	got, err := c.received()
	if err != nil {
		row.Failf("read received messages: %v", err)
		return Tally{}
	}
	tl := Count(c.sender, span, got, windows...)
	row.Add(tl)
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	return tl
}

// restore brings a director back after a row: its process running and
// healthy, and the router sending to all three again.
func (c *bgpCluster) restore(row *Row, n *bgpNode, since time.Time) time.Duration {
	if done, _ := n.hd.Exited(); done {
		c.startDirector(n)
	}
	if err := c.waitHealthy(n); err != nil {
		row.Failf("%v", err)
		return 0
	}
	back, err := c.routes.waitFor(since, 60*time.Second, c.allDirectors())
	if err != nil {
		row.Failf("%s not back in the router's next hops: %v", n.name, err)
	}
	return back
}

// B1: the router holds three next hops; each director forwards a third
// (its IPVS InPkts), none is lost, and the backends share evenly.
func bgpSteady(c *bgpCluster) Row {
	row := Row{Scenario: "B1 steady state", Bound: fmt.Sprintf("3 next hops in the FIB; each director 33%% ± 10%% of %d; lost 0; even split", steadyCount)}
	if hops := c.routes.current(); len(hops) != 3 {
		row.Failf("FIB next hops %v, want the three directors", hops)
	}
	before := c.inPkts(&row)
	span := c.sender.Burst(steadyCount)
	tl := c.count(&row, span)
	after := c.inPkts(&row)
	var shares []string
	for _, d := range c.directors {
		n := after[d.name] - before[d.name]
		share := float64(n) / float64(steadyCount) * 100
		shares = append(shares, fmt.Sprintf("%s %.0f%%", d.name, share))
		row.Check(share >= 100.0/3-10 && share <= 100.0/3+10, "%s forwarded %d of %d (%.1f%%), want 33%% ± 10%%", d.name, n, steadyCount, share)
	}
	row.Time = strings.Join(shares, ", ")
	row.Check(tl.Lost == 0, "%d lost", tl.Lost)
	s1, s2 := tl.PerServer[c.stashes[0].name], tl.PerServer[c.stashes[1].name]
	row.Check(s1-s2 <= 3 && s2-s1 <= 3, "split %s, want even (each director alternates)", tl.Split(c.stashes[0].name, c.stashes[1].name))
	return row
}

// B2: d2's host dies (its link goes down, then its processes stop, as in
// a power cut): BFD takes it out of the router's FIB.
func bgpHostDies(c *bgpCluster) Row {
	victim := c.directors[1]
	window := 3*c.inv.BGP.BFDInterval.Duration + 200*time.Millisecond
	maxLost := int(float64(rate)*window.Seconds()/3) + 2
	row := Row{Scenario: "B2 director host dies (" + victim.name + ")",
		Bound: fmt.Sprintf("route gone ≤ 3 × BFD interval + 200ms = %s; lost ≤ rate × that ÷ 3 + 2 = %d", Seconds(window), maxLost)}
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := c.killHost(&row, victim)
	gone, err := c.routes.waitFor(t0, 10*time.Second, c.others(victim))
	if err != nil {
		row.Failf("the route still lists %s: %v", victim.name, err)
	}
	time.Sleep(time.Second)
	span := st.Stop()
	tl := c.count(&row, span)
	row.Check(gone <= window, "route gone after %s, bound %s", Seconds(gone), Seconds(window))
	row.Check(tl.Lost <= maxLost, "%d lost, bound %d", tl.Lost, maxLost)

	c.linkUp(&row, victim)
	t1 := time.Now()
	back := c.restore(&row, victim, t1)
	row.Time = fmt.Sprintf("route gone %.2fs, back %s", gone.Seconds(), Seconds(back))
	return row
}

// killHost makes n's host die as in a power cut: its link goes down, then
// its hala director gets SIGKILL. It returns the time of the fault: when
// the link command has returned (starting ip in the emulated VM takes
// longer than the link change it makes).
func (c *bgpCluster) killHost(row *Row, n *bgpNode) time.Time {
	if out, err := n.ns.Cmd("ip", "link", "set", "eth0", "down").CombinedOutput(); err != nil {
		row.Failf("link down: %v %s", err, out)
	}
	t0 := time.Now()
	syscall.Kill(n.hd.Pid(), syscall.SIGKILL)
	n.hd.Stop()
	return t0
}

// linkUp brings n's link back after killHost, with the route to the
// client that went with it.
func (c *bgpCluster) linkUp(row *Row, n *bgpNode) {
	if out, err := n.ns.Cmd("ip", "link", "set", "eth0", "up").CombinedOutput(); err != nil {
		row.Failf("link up: %v %s", err, out)
	}
	if out, err := n.ns.Cmd("ip", "route", "replace", netip.MustParsePrefix(bgpClientAddr).Masked().String(),
		"via", netip.MustParsePrefix(routerAddr).Addr().String()).CombinedOutput(); err != nil {
		row.Failf("route to the client: %v %s", err, out)
	}
}

// B3: hala director on d2 is SIGKILLed: its session closes at once (the
// kernel closes the socket), and d2's kernel keeps forwarding what the
// router still sends it.
func bgpDirectorKilled(c *bgpCluster) Row {
	victim := c.directors[1]
	bound := 500 * time.Millisecond
	row := Row{Scenario: "B3 hala director SIGKILL on " + victim.name, Bound: "route gone ≤ 0.5s; IPVS keeps forwarding: lost 0"}
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	syscall.Kill(victim.hd.Pid(), syscall.SIGKILL)
	victim.hd.Stop()
	gone, err := c.routes.waitFor(t0, 10*time.Second, c.others(victim))
	if err != nil {
		row.Failf("the route still lists %s: %v", victim.name, err)
	}
	time.Sleep(time.Second)
	span := st.Stop()
	tl := c.count(&row, span)
	row.Check(gone <= bound, "route gone after %s, bound %s", Seconds(gone), Seconds(bound))
	row.Check(tl.Lost == 0, "%d lost", tl.Lost)
	back := c.restore(&row, victim, time.Now())
	row.Time = fmt.Sprintf("route gone %.2fs, back %s", gone.Seconds(), Seconds(back))
	return row
}

// hala runs the hala binary in n's namespace.
func (c *bgpCluster) halaIn(n *bgpNode, args ...string) (string, error) {
	b, err := n.ns.Cmd(c.inv.Cluster.HalaPath, args...).CombinedOutput()
	return string(b), err
}

// B4: planned work on d2: drain --wait, stop, start, undrain: nothing is
// lost and d2 takes traffic again.
func bgpPlanned(c *bgpCluster) Row {
	victim := c.directors[1]
	row := Row{Scenario: "B4 drain, restart, undrain " + victim.name, Bound: "lost 0; withdrawn before the stop; takes traffic again"}
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	if out, err := c.halaIn(victim, "drain", "-i", c.invPath, "--director", victim.name, "--wait", "--timeout", "30s"); err != nil {
		row.Failf("hala drain --director --wait: %v\n%s", err, out)
	}
	drained := time.Since(t0)
	tDrained := time.Now()
	if hops := c.routes.current(); slices.Contains(hops, victim.addr) {
		row.Failf("drain --wait returned with %s still a next hop: %v", victim.name, hops)
	}
	victim.hd.Stop() // SIGTERM: withdraw (already), withdraw_delay, exit
	c.startDirector(victim)
	if err := c.waitHealthy(victim); err != nil {
		row.Failf("%v", err)
	}
	// Not even for a moment while it started (it once announced until
	// its first drain poll): every route change since the drain counts.
	if seen := c.routes.listed(tDrained, victim.addr); seen != "" {
		row.Failf("%s a next hop while drained (route changes after drain --wait returned: %s)", victim.name, seen)
	}
	t1 := time.Now()
	if out, err := c.halaIn(victim, "undrain", "-i", c.invPath, "--director", victim.name); err != nil {
		row.Failf("hala undrain --director: %v\n%s", err, out)
	}
	back, err := c.routes.waitFor(t1, 30*time.Second, c.allDirectors())
	if err != nil {
		row.Failf("%s not announced after undrain: %v", victim.name, err)
	}
	before, err := victim.inPkts()
	if err != nil {
		row.Failf("%s: read IPVS stats: %v", victim.name, err)
	}
	after := before
	for end := time.Now().Add(3 * time.Second); after == before && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		after, _ = victim.inPkts()
	}
	row.Check(after > before, "%s forwarded nothing in 3s after undrain (InPkts %d → %d)", victim.name, before, after)
	span := st.Stop()
	tl := c.count(&row, span)
	row.Check(tl.Lost == 0, "%d lost", tl.Lost)
	row.Time = fmt.Sprintf("drain --wait %s, back %s after undrain", Seconds(drained), Seconds(back))
	return row
}

// B5: d2 cannot reach the backends' APIs (its namespace only): it
// withdraws, the others keep announcing, and d2 forwards what still
// arrives (all_down = "keep").
func bgpAPIBlocked(c *bgpCluster) Row {
	victim := c.directors[1]
	// The withdraw then crosses BGP and the router's RIB and FIB.
	bound := time.Duration(c.fall)*c.interval + c.timeout + 2*time.Second
	row := Row{Scenario: "B5 " + victim.name + " cannot reach the APIs", Bound: fmt.Sprintf("withdrawn ≤ fall × interval + check timeout + 2s = %s; others announce; lost 0", Seconds(bound))}
	rule := []string{"rule", "add", "ipproto", "tcp", "dport", strconv.Itoa(c.inv.Logstash[0].APIPort), "prohibit"}
	st := c.sender.Start()
	time.Sleep(time.Second)
	if out, err := victim.ns.Cmd("ip", rule...).CombinedOutput(); err != nil {
		row.Failf("ip %s: %v %s", strings.Join(rule, " "), err, out)
	}
	t0 := time.Now()
	gone, err := c.routes.waitFor(t0, 10*time.Second, c.others(victim))
	if err != nil {
		row.Failf("%s still announced: %v", victim.name, err)
	}
	time.Sleep(time.Second)
	if hops := c.routes.current(); !slices.Equal(hops, c.others(victim)) {
		row.Failf("next hops %v while %s is blind, want %v", hops, victim.name, c.others(victim))
	}
	rule[1] = "del"
	if out, err := victim.ns.Cmd("ip", rule...).CombinedOutput(); err != nil {
		row.Failf("ip %s: %v %s", strings.Join(rule, " "), err, out)
	}
	back, err := c.routes.waitFor(time.Now(), 30*time.Second, c.allDirectors())
	if err != nil {
		row.Failf("%s not back: %v", victim.name, err)
	}
	time.Sleep(time.Second)
	span := st.Stop()
	tl := c.count(&row, span)
	row.Check(gone <= bound, "withdrawn after %s, bound %s", Seconds(gone), Seconds(bound))
	row.Check(tl.Lost == 0, "%d lost", tl.Lost)
	if !strings.Contains(victim.directorLog(), "min_healthy") {
		row.Failf("%s logged no withdraw reason", victim.name)
	}
	row.Time = fmt.Sprintf("withdrawn %s, back %s", Seconds(gone), Seconds(back))
	return row
}

// B6: stash2's input stops: every director removes it within the
// director half's bound; nothing is lost outside the fault window, and
// the VIP stays announced (stash1 keeps min_healthy).
func bgpInputStopped(c *bgpCluster) Row {
	victim := c.stashes[1]
	bound := time.Duration(c.fall)*c.interval + c.timeout + 100*time.Millisecond
	row := Row{Scenario: "B6 input stopped on " + victim.name, Bound: fmt.Sprintf("out of every director ≤ fall × interval + check timeout + 100ms = %s; lost 0 outside the window; VIP stays", Seconds(bound))}
	rs := netip.AddrPortFrom(victim.addr, uint16(c.realPort))
	inTable := func(d *bgpNode) bool {
		m, err := readIPVS(d.ipvs, c.vip, c.port)
		return err == nil && m[rs] > 0
	}
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	if err := victim.control("input stop " + victim.inputID); err != nil {
		row.Failf("stop input: %v", err)
	}
	var out time.Duration
	for _, d := range c.directors {
		_, err := testutil.Poll(10*time.Second, 20*time.Millisecond, func() error {
			if inTable(d) {
				return fmt.Errorf("%s still in %s's table", victim.name, d.name)
			}
			return nil
		})
		if err != nil {
			row.Failf("%v", err)
		}
		out = max(out, time.Since(t0)) // from the fault, not from this poll's start
	}
	t1 := t0.Add(out)
	time.Sleep(time.Second)
	if err := victim.control("input start " + victim.inputID); err != nil {
		row.Failf("start input: %v", err)
	}
	for _, d := range c.directors {
		if _, err := testutil.Poll(20*time.Second, 50*time.Millisecond, func() error {
			if !inTable(d) {
				return fmt.Errorf("%s not back in %s's table", victim.name, d.name)
			}
			return nil
		}); err != nil {
			row.Failf("%v", err)
		}
	}
	time.Sleep(time.Second)
	span := st.Stop()
	time.Sleep(500 * time.Millisecond)
	got, err := c.received()
	if err != nil {
		row.Failf("%v", err)
		return row
	}
	w := faultWindow(c.sender, span, got, victim.name, t0, t1)
	tl := c.count(&row, span, w)
	row.Check(out <= bound, "out after %s, bound %s", Seconds(out), Seconds(bound))
	if n := len(tl.LostOutside); n > 0 {
		first, _ := c.sender.SentAt(tl.LostOutside[0])
		last, _ := c.sender.SentAt(tl.LostOutside[n-1])
		row.Failf("%d lost outside the fault window %s: sent %+.2fs to %+.2fs", n, windowsText([]Window{w}, t0), first.Sub(t0).Seconds(), last.Sub(t0).Seconds())
	}
	if hops := c.routes.current(); len(hops) != 3 {
		row.Failf("next hops %v after the fault, want all three", hops)
	}
	row.Time = fmt.Sprintf("out of all %s", Seconds(out))
	return row
}

// B7: the router's FRR restarts: sessions and routes come back; what is
// lost meanwhile is counted and reported.
func bgpRouterRestart(c *bgpCluster) Row {
	row := Row{Scenario: "B7 router's FRR restarts", Bound: "sessions and the 3 next hops back ≤ 60s; loss reported"}
	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	c.stopFRR()
	c.startFRR("vtysh")
	back, err := c.routes.waitFor(t0, 60*time.Second, c.allDirectors())
	if err != nil {
		row.Failf("routes not back: %v\n%s", err, c.routerState())
	}
	time.Sleep(time.Second)
	span := st.Stop()
	c.count(&row, span)
	row.Time = "back " + Seconds(back)
	return row
}

// routeWatch follows the router's route to the VIP with ip monitor: every
// change of its next hops, with the time it was seen.
type routeWatch struct {
	mu     sync.Mutex
	events []routeEvent
	vip    string
}

type routeEvent struct {
	at   time.Time
	hops []netip.Addr
}

func startRouteWatch(t *testing.T, ns *testutil.NetNS, vip netip.Addr) *routeWatch {
	w := &routeWatch{vip: vip.String()}
	cmd := ns.Cmd("ip", "-o", "monitor", "route")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			at := time.Now()
			if hops, ok := w.parse(sc.Text()); ok {
				w.mu.Lock()
				w.events = append(w.events, routeEvent{at, hops})
				w.mu.Unlock()
			}
		}
	}()
	// The state before the first event.
	b, err := ns.Cmd("ip", "-o", "route", "show", vip.String()).Output()
	if err == nil {
		hops, _ := w.parse(strings.TrimSpace(string(b)))
		w.mu.Lock()
		if len(w.events) == 0 {
			w.events = append(w.events, routeEvent{time.Now(), hops})
		}
		w.mu.Unlock()
	}
	return w
}

// parse reads one line of ip -o monitor route about the VIP: its next
// hops, none when deleted.
func (w *routeWatch) parse(line string) ([]netip.Addr, bool) {
	f := strings.Fields(line)
	deleted := len(f) > 0 && f[0] == "Deleted"
	if deleted {
		f = f[1:]
	}
	if len(f) == 0 || f[0] != w.vip && f[0] != w.vip+"/32" {
		return nil, line == ""
	}
	if deleted {
		return []netip.Addr{}, true
	}
	var hops []netip.Addr
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "via" {
			if a, err := netip.ParseAddr(f[i+1]); err == nil {
				hops = append(hops, a)
			}
		}
	}
	slices.SortFunc(hops, netip.Addr.Compare)
	return hops, true
}

// since lists the changes of the next hops after t.
func (w *routeWatch) since(t time.Time) string { return w.changes(t, nil) }

// listed lists the changes after t that had hop among the next hops.
func (w *routeWatch) listed(t time.Time, hop netip.Addr) string {
	return w.changes(t, func(hops []netip.Addr) bool { return slices.Contains(hops, hop) })
}

// changes lists the changes after t whose next hops keep accepts (all
// with a nil keep), each as its offset from t and its next hops.
func (w *routeWatch) changes(t time.Time, keep func([]netip.Addr) bool) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for _, e := range w.events {
		if e.at.After(t) && (keep == nil || keep(e.hops)) {
			parts = append(parts, fmt.Sprintf("%+.2fs %v", e.at.Sub(t).Seconds(), e.hops))
		}
	}
	return strings.Join(parts, ", ")
}

// settleHold is how long the next hops must stay unchanged before a row.
const settleHold = 3 * time.Second

// settled waits until the next hops have been exactly want, unchanged,
// for hold, and returns how long that took.
func (w *routeWatch) settled(want []netip.Addr, hold, timeout time.Duration) (time.Duration, error) {
	want = slices.Clone(want)
	slices.SortFunc(want, netip.Addr.Compare)
	start := time.Now()
	for {
		w.mu.Lock()
		var last routeEvent
		if n := len(w.events); n > 0 {
			last = w.events[n-1]
		}
		w.mu.Unlock()
		if slices.Equal(last.hops, want) && time.Since(last.at) >= hold {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("next hops %v (last change %s ago) after %s, want %v unchanged for %s",
				last.hops, Seconds(time.Since(last.at)), Seconds(timeout), want, Seconds(hold))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// current is the VIP's next hops now.
func (w *routeWatch) current() []netip.Addr {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) == 0 {
		return nil
	}
	return w.events[len(w.events)-1].hops
}

// waitFor waits until the next hops are exactly want and returns how long
// after since that change was seen (0 when they already were at since).
func (w *routeWatch) waitFor(since time.Time, timeout time.Duration, want []netip.Addr) (time.Duration, error) {
	want = slices.Clone(want)
	slices.SortFunc(want, netip.Addr.Compare)
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		var at time.Time
		ok := false
		if n := len(w.events); n > 0 && slices.Equal(w.events[n-1].hops, want) {
			ok, at = true, w.events[n-1].at
		}
		last := []netip.Addr(nil)
		if n := len(w.events); n > 0 {
			last = w.events[n-1].hops
		}
		w.mu.Unlock()
		if ok {
			if at.Before(since) {
				return 0, nil
			}
			return at.Sub(since), nil
		}
		if time.Now().After(deadline) {
			return timeout, fmt.Errorf("next hops %v after %s, want %v", last, timeout, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// multiConn sends each datagram from the next of many sockets, so that
// the client's stream is many flows (source ports) the router's ECMP
// hash can spread.
type multiConn struct {
	net.PacketConn
	conns []net.PacketConn
	mu    sync.Mutex
	next  int
}

func newMultiConn(ns *testutil.NetNS, addr netip.Addr, n int) (*multiConn, error) {
	m := &multiConn{}
	err := ns.Do(func() error {
		for range n {
			c, err := net.ListenPacket("udp4", addr.String()+":0")
			if err != nil {
				return err
			}
			m.conns = append(m.conns, c)
		}
		return nil
	})
	if err != nil {
		m.Close()
		return nil, err
	}
	m.PacketConn = m.conns[0]
	return m, nil
}

func (m *multiConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	m.mu.Lock()
	c := m.conns[m.next%len(m.conns)]
	m.next++
	m.mu.Unlock()
	return c.WriteTo(b, addr)
}

func (m *multiConn) Close() error {
	for _, c := range m.conns {
		c.Close()
	}
	return nil
}
