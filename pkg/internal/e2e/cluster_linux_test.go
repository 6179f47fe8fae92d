//go:build linux && integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/e2e/standin"
	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// The cluster: the seed's two hosts, each a director (keepalived, IPVS)
// and a real server (the Logstash stand-in), plus a client, on one LAN.
// Everything is built from what `hala render` wrote for
// examples/two-node.toml.

const (
	// envStandin makes the test binary run as a stand-in (see TestMain).
	envStandin = "HALA_E2E_STANDIN"
	// envDisableCheck replaces every MISC_CHECK program with /bin/true:
	// the control run showing that the suite fails without health checks.
	envDisableCheck = "HALA_E2E_DISABLE_CHECK"
	// sampleEvery is how often the monitor reads both namespaces' IPVS
	// tables and VIP holders.
	sampleEvery = 100 * time.Millisecond
	// clientAddr is the log source of the seed ([firewall] log_sources).
	clientAddr = "192.168.1.111/24"
)

// node is one stash host.
type node struct {
	name    string
	addr    netip.Addr
	ns      *testutil.NetNS
	dir     string // its rendered files
	inputID string

	standinArgs []string
	standin     *testutil.Process
	ctl         string // control socket
	out         string // JSON lines file
	pidfile     string // the stand-in's, named after the namespace

	kaArgs []string
	ka     *testutil.Process
	kaRuns []*testutil.Process // every keepalived run, for the logs
	kaPids [3]string           // parent, vrrp and checkers pid files

	ipvs   *os.File  // /proc/net/ip_vs of the namespace
	thread *nsThread // samples the namespace's addresses

	// hala director (director mode only): its command line, the running
	// process and every run, for the logs.
	hdArgs []string
	hd     *testutil.Process
	hdRuns []*testutil.Process
}

func (n *node) String() string { return n.name }

type cluster struct {
	t          *testing.T
	inv        *inventory.Inventory
	example    string // the inventory file rendered
	hala       string
	keepalived string
	ip         string
	tmp        string
	// restart is the command that restarts the stand-in of the namespace
	// it runs in (what --restart of scripts/rolling-restart runs).
	restart string

	nodes  []*node // stash1, stash2 (file order)
	client *testutil.NetNS
	sender *Sender

	vip      netip.Addr
	port     int
	realPort int

	delayLoop    time.Duration
	miscTimeout  time.Duration
	checkTimeout time.Duration
	advert       time.Duration
	priority     map[string]int

	// Director mode (cluster.ipvs = "director"): hala director programs
	// IPVS from invPath, checking every interval; keepalived does VRRP.
	director  bool
	invPath   string
	interval  time.Duration
	rise      int
	fall      int
	reconcile time.Duration

	mon *monitor
	// prom scrapes the directors (director half only).
	prom *prometheus
}

// newCluster renders the example (a file of examples/), builds the LAN and
// starts everything: keepalived with MISC_CHECKs, or, when the example says
// ipvs = "director", hala director and keepalived for VRRP only.
func newCluster(t *testing.T, rate int, exampleName string) *cluster {
	t.Helper()
	c := &cluster{t: t, tmp: t.TempDir(), priority: map[string]int{}}
	c.hala = testutil.HalaBinary(t)
	c.keepalived = testutil.RequireTool(t, "keepalived")
	c.ip = testutil.RequireTool(t, "ip")
	testutil.RequireTool(t, "useradd")
	testutil.RequireTool(t, "sysctl")

	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	example := filepath.Join(root, "examples", exampleName)
	c.example = example
	c.inv, err = inventory.Load(example)
	if err != nil {
		t.Fatalf("load %s: %v", example, err)
	}
	if len(c.inv.Directors) != 2 || len(c.inv.Services) != 1 || len(c.inv.VIPs) != 1 {
		t.Fatalf("%s: the suite expects 2 directors, 1 VIP, 1 service", example)
	}
	svc := c.inv.Services[0]
	vip, _ := c.inv.VIP(svc.VIP)
	c.vip, c.port, c.realPort = vip.Address.Addr(), svc.Port, svc.BackendPort
	c.delayLoop = svc.DelayLoop.Duration
	c.checkTimeout = c.inv.Cluster.CheckTimeout.Duration
	c.advert = c.inv.Cluster.AdvertInterval.Duration
	for _, d := range c.inv.Directors {
		c.priority[d.Name] = c.inv.Priority(vip, d)
	}
	if vip.Master != c.inv.Directors[0].Name {
		t.Fatalf("the suite expects %s to be the VIP's master, not %s", c.inv.Directors[0].Name, vip.Master)
	}
	if c.director = c.inv.UsesDirector(); c.director {
		c.interval, c.rise, c.fall = svc.Interval.Duration, svc.Rise, svc.Fall
		c.checkTimeout = c.inv.DirectorCheckTimeout(c.interval)
		c.reconcile = c.inv.Cluster.ReconcileInterval.Duration
		// Where the rendered unit and setup.sh expect the inventory.
		c.invPath = render.DirectorInventory
		if err := installFile(example, c.invPath); err != nil {
			t.Fatal(err)
		}
	}

	// The real `hala render`, into a directory like an operator's ./out.
	out := filepath.Join(c.tmp, "out")
	cmd := exec.Command(c.hala, "render", "-i", example, "-d", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hala render: %v\n%s", err, b)
	}

	// hala where the rendered MISC_CHECK expects it (HalaPath). The suite
	// runs in the test VM, whose root is a throwaway overlay.
	if err := installFile(c.hala, c.inv.Cluster.HalaPath); err != nil {
		t.Fatal(err)
	}
	// hala director executes hala-director from hala's directory.
	if err := installFile(filepath.Join(filepath.Dir(c.hala), "hala-director"), filepath.Join(filepath.Dir(c.inv.Cluster.HalaPath), "hala-director")); err != nil {
		t.Fatal(err)
	}

	// Namespaces named after the hosts (with the process's prefix), so that
	// scripts/rolling-restart reaches them by their inventory names.
	lan := testutil.NewLAN(t)
	for _, d := range c.inv.Directors {
		n := &node{name: d.Name, addr: d.Address, ns: testutil.NewNamedNetNS(t, d.Name), dir: filepath.Join(out, d.Name)}
		pfx := netip.PrefixFrom(d.Address, vip.Address.Bits())
		lan.Attach(t, n.ns, d.Interface, pfx)
		c.nodes = append(c.nodes, n)
	}
	c.client = testutil.NewNetNS(t)
	lan.Attach(t, c.client, "eth0", netip.MustParsePrefix(clientAddr))

	for _, n := range c.nodes {
		c.setupNode(n)
	}
	if err := c.writeRestartScript(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		if err := c.startStandin(n, 0); err != nil {
			t.Fatal(err)
		}
	}
	if c.director {
		// Before keepalived, which tracks the process (systemd orders the
		// units the same way).
		for _, n := range c.nodes {
			c.startDirector(n)
		}
		for _, n := range c.nodes {
			if err := c.waitDirector(n); err != nil {
				t.Fatal(err)
			}
		}
		c.startPrometheus()
	}
	for _, n := range c.nodes {
		c.startKeepalived(n)
	}

	var conn net.PacketConn
	err = c.client.Do(func() (err error) {
		conn, err = net.ListenPacket("udp4", netip.MustParsePrefix(clientAddr).Addr().String()+":0")
		return err
	})
	if err != nil {
		t.Fatalf("client socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c.sender = NewSender(conn, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.vip, uint16(c.port))), rate)

	c.mon = startMonitor(c)
	t.Cleanup(c.mon.stop)
	return c
}

// installFile copies src to dst, mode 0755, owned by root.
func installFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".e2e-tmp"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// setupNode runs the rendered setup.sh in the node's namespace (script
// user, IPVS module, sysctls), and reads the rendered Logstash settings.
func (c *cluster) setupNode(n *node) {
	t := c.t
	conf := filepath.Join(n.dir, "keepalived.conf")
	if os.Getenv(envDisableCheck) == "1" {
		data, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`misc_path "[^"]*"`)
		data = re.ReplaceAll(data, []byte(`misc_path "/bin/true"`))
		if err := os.WriteFile(conf, data, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s=1: every MISC_CHECK is /bin/true", n.name, envDisableCheck)
	}
	if b, err := n.ns.Cmd("sh", filepath.Join(n.dir, "setup.sh")).CombinedOutput(); err != nil {
		t.Fatalf("%s: setup.sh: %v\n%s", n.name, err, b)
	}
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if c.director {
		if bytes.Contains(data, []byte("virtual_server")) || !bytes.Contains(data, []byte("track_script")) {
			t.Fatalf("%s: director mode, but keepalived.conf has virtual servers or no track_script:\n%s", n.name, data)
		}
		c.setupDirector(n)
	} else if m := regexp.MustCompile(`misc_timeout (\d+)`).FindSubmatch(data); m != nil {
		s, _ := strconv.Atoi(string(m[1]))
		c.miscTimeout = time.Duration(s) * time.Second
	} else {
		t.Fatalf("%s: no misc_timeout in %s", n.name, conf)
	}

	// The stand-in listens where the rendered Logstash config says.
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
		t.Fatalf("%s: logstash.yml.snippet: %v", n.name, err)
	}
	ins, err := logstashInputs(string(inputs))
	if err != nil || len(ins) == 0 {
		t.Fatalf("%s: hala-inputs.conf: %v (%d inputs)", n.name, err, len(ins))
	}
	n.inputID = ins[0].ID
	n.ctl = filepath.Join(c.tmp, n.name+".sock")
	n.out = filepath.Join(c.tmp, n.name+".json")
	n.pidfile = filepath.Join(c.tmp, n.ns.Name+".pid")
	n.standinArgs = []string{"-name", n.name, "-api", api, "-out", n.out, "-control", n.ctl,
		"-pidfile", n.pidfile, "-restart-delay", restartDelay.String()}
	for _, in := range ins {
		n.standinArgs = append(n.standinArgs, "-input", in.String())
	}

	pidDir := filepath.Join(c.tmp, n.name+"-keepalived")
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	n.kaPids = [3]string{filepath.Join(pidDir, "keepalived.pid"), filepath.Join(pidDir, "vrrp.pid"), filepath.Join(pidDir, "checkers.pid")}
	n.kaArgs = []string{"--dont-fork", "--log-console", "--log-detail", "--no-syslog",
		"--use-file", conf, "--pid", n.kaPids[0], "--vrrp_pid", n.kaPids[1], "--checkers_pid", n.kaPids[2]}

	f, err := openIPVS(n.ns)
	if err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	n.ipvs = f
	t.Cleanup(func() { f.Close() })
	if n.thread, err = newNSThread(n.ns); err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
	t.Cleanup(n.thread.close)
}

// nsThread is one OS thread that stays in a namespace and runs functions
// there: sampling every 100 ms creates no threads.
type nsThread struct {
	req chan func()
}

func newNSThread(ns *testutil.NetNS) (*nsThread, error) {
	w := &nsThread{req: make(chan func())}
	ready := make(chan error, 1)
	go func() {
		err := ns.Do(func() error {
			ready <- nil
			for f := range w.req {
				f()
			}
			return nil
		})
		if err != nil {
			ready <- err
		}
	}()
	return w, <-ready
}

func (w *nsThread) do(f func()) {
	done := make(chan struct{})
	w.req <- func() { f(); close(done) }
	<-done
}

func (w *nsThread) close() { close(w.req) }

// startStandin starts the node's stand-in (the test binary itself, see
// TestMain) in its namespace and waits until it listens.
func (c *cluster) startStandin(n *node, delay time.Duration) error {
	p, err := startStandinIn(c.t, n.ns, n.name, n.standinArgs, delay)
	n.standin = p
	return err
}

// startStandinIn starts a stand-in with args in ns and waits until it
// listens.
func startStandinIn(t *testing.T, ns *testutil.NetNS, name string, args []string, delay time.Duration) (*testutil.Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := ns.Cmd(self, append([]string{"-start-delay", delay.String()}, args...)...)
	cmd.Env = append(os.Environ(), envStandin+"=1")
	p := testutil.Start(t, cmd)
	return p, waitStandinProcess(p, name, delay+30*time.Second)
}

func waitStandinProcess(p *testutil.Process, name string, timeout time.Duration) error {
	_, err := testutil.Poll(timeout, 20*time.Millisecond, func() error {
		if done, err := p.Exited(); done {
			return fmt.Errorf("stand-in %s exited: %v\n%s", name, err, p.Output())
		}
		if !strings.Contains(p.Output(), "ready\n") {
			return fmt.Errorf("stand-in %s not ready", name)
		}
		return nil
	})
	return err
}

// control sends a control command to the node's stand-in.
func (n *node) control(cmd string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := standin.Control(ctx, n.ctl, cmd)
	return err
}

// apiRequests returns how many API requests the node's stand-in served.
func (n *node) apiRequests() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := standin.Control(ctx, n.ctl, "status")
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`requests=(\d+)`).FindStringSubmatch(st)
	if m == nil {
		return 0, fmt.Errorf("status %q has no requests=", st)
	}
	return strconv.Atoi(m[1])
}

// killStandin ends the node's stand-in with SIGKILL: API and input vanish
// at once, as when the Logstash process dies.
func (n *node) killStandin() {
	syscall.Kill(n.standin.Pid(), syscall.SIGKILL)
	n.standin.Stop()
}

// startKeepalived starts the real keepalived in the node's namespace with
// the rendered configuration.
func (c *cluster) startKeepalived(n *node) {
	n.ka = testutil.Start(c.t, n.ns.Cmd(c.keepalived, n.kaArgs...))
	n.kaRuns = append(n.kaRuns, n.ka)
}

// killKeepalived SIGKILLs keepalived and its VRRP and checker children
// all at once (stopped first, so none can clean up or respawn another):
// the VIP and the IPVS table stay behind, as after a crash.
func (n *node) killKeepalived() error {
	var pids []int
	for _, f := range n.kaPids {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) && f != n.kaPids[0] {
			continue // VRRP only (director mode): no checkers process
		}
		if err != nil {
			return err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		pids = append(pids, pid)
	}
	if !slices.Contains(pids, n.ka.Pid()) {
		return fmt.Errorf("pid file says %v, keepalived is %d", pids, n.ka.Pid())
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGSTOP)
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	n.ka.Stop()
	for _, f := range n.kaPids {
		os.Remove(f)
	}
	return nil
}

// keepalivedLog returns every keepalived run's output so far.
func (n *node) keepalivedLog() string {
	var b strings.Builder
	for _, p := range n.kaRuns {
		b.WriteString(p.Output())
	}
	return b.String()
}

// received reads both nodes' JSON lines files.
func (c *cluster) received() (Received, error) {
	files := map[string]string{}
	for _, n := range c.nodes {
		files[n.name] = n.out
	}
	return ReadReceived(files)
}

// hold waits for in-flight messages to be written before counting.
func (c *cluster) hold() { time.Sleep(500 * time.Millisecond) }

// openIPVS opens the namespace's /proc/net/ip_vs; the open file keeps
// reading that namespace's table from any thread.
func openIPVS(ns *testutil.NetNS) (*os.File, error) {
	var f *os.File
	err := ns.Do(func() (err error) {
		f, err = os.Open("/proc/thread-self/net/ip_vs")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open ip_vs in %s: %w", ns.Name, err)
	}
	return f, nil
}

// readIPVS returns the real servers (address:port → weight) of the
// virtual server vip:port in an open /proc/net/ip_vs.
//
// Equivalent to: ipvsadm -Ln (the file shows addresses in hex).
func readIPVS(f *os.File, vip netip.Addr, port int) (map[netip.AddrPort]int, error) {
	text, err := readAll(f)
	if err != nil {
		return nil, err
	}
	return parseIPVS(text, vip, port)
}

// readIPVSList is readIPVS in the kernel's list order (parseIPVSList).
func readIPVSList(f *os.File, vip netip.Addr, port int) ([]ipvsDest, error) {
	text, err := readAll(f)
	if err != nil {
		return nil, err
	}
	return parseIPVSList(text, vip, port)
}

// readAll reads an open /proc file from its start.
func readAll(f *os.File) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	data, err := io.ReadAll(f)
	return string(data), err
}

// hasAddr reports whether the node's namespace has addr on an interface.
// It reads the namespace's IPv4 addresses over rtnetlink, as ip does.
//
// Equivalent to: ip -n NS -4 addr show | grep ADDR
func (n *node) hasAddr(addr netip.Addr) (bool, error) {
	var found bool
	var err error
	n.thread.do(func() { found, err = hasAddr4(addr) })
	return found, err
}

func hasAddr4(addr netip.Addr) (bool, error) {
	tab, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, syscall.AF_INET)
	if err != nil {
		return false, err
	}
	msgs, err := syscall.ParseNetlinkMessage(tab)
	if err != nil {
		return false, err
	}
	for i := range msgs {
		if msgs[i].Header.Type != syscall.RTM_NEWADDR {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&msgs[i])
		if err != nil {
			return false, err
		}
		for _, a := range attrs {
			if a.Attr.Type != syscall.IFA_LOCAL && a.Attr.Type != syscall.IFA_ADDRESS {
				continue
			}
			if ip, ok := netip.AddrFromSlice(a.Value); ok && ip == addr {
				return true, nil
			}
		}
	}
	return false, nil
}

// sample is one look at both directors.
type sample struct {
	at    time.Time                         // taken after reading both
	seen  map[string]time.Time              // director → when its state was read
	vip   map[string]bool                   // director → holds the VIP
	table map[string]map[netip.AddrPort]int // director → real server → weight
	err   error
}

// holders returns the directors holding the VIP.
func (s sample) holders() []string {
	var out []string
	for name, on := range s.vip {
		if on {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// in reports whether real server rs is in director d's table with a
// weight above zero.
func (s sample) in(d string, rs netip.AddrPort) bool { return s.table[d][rs] > 0 }

// monitor samples both directors every sampleEvery.
type monitor struct {
	c    *cluster
	mu   sync.Mutex
	all  []sample
	quit chan struct{}
	done chan struct{}
}

func startMonitor(c *cluster) *monitor {
	m := &monitor{c: c, quit: make(chan struct{}), done: make(chan struct{})}
	go m.run()
	return m
}

func (m *monitor) stop() {
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
	<-m.done
}

func (m *monitor) run() {
	defer close(m.done)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		s := m.take()
		m.mu.Lock()
		m.all = append(m.all, s)
		m.mu.Unlock()
		select {
		case <-m.quit:
			return
		case <-tick.C:
		}
	}
}

func (m *monitor) take() sample {
	s := sample{seen: map[string]time.Time{}, vip: map[string]bool{}, table: map[string]map[netip.AddrPort]int{}}
	var errs []error
	for _, n := range m.c.nodes {
		tab, err := readIPVS(n.ipvs, m.c.vip, m.c.port)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s ip_vs: %w", n.name, err))
		}
		s.table[n.name] = tab
		on, err := n.hasAddr(m.c.vip)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s addresses: %w", n.name, err))
		}
		s.vip[n.name] = on
		s.seen[n.name] = time.Now()
	}
	s.at = time.Now()
	s.err = errors.Join(errs...)
	return s
}

// waitFor returns the first sample taken after since that satisfies cond,
// waiting at most timeout from now; ok is false on timeout.
func (m *monitor) waitFor(since time.Time, timeout time.Duration, cond func(sample) bool) (sample, bool) {
	deadline := time.Now().Add(timeout)
	next := 0
	for {
		m.mu.Lock()
		all := m.all
		m.mu.Unlock()
		for ; next < len(all); next++ {
			s := all[next]
			if s.at.After(since) && s.err == nil && cond(s) {
				return s, true
			}
		}
		if time.Now().After(deadline) {
			var last sample
			if len(all) > 0 {
				last = all[len(all)-1]
			}
			return last, false
		}
		time.Sleep(sampleEvery / 4)
	}
}

// between returns the samples taken in [from, to].
func (m *monitor) between(from, to time.Time) []sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []sample
	for _, s := range m.all {
		if !s.at.Before(from) && !s.at.After(to) {
			out = append(out, s)
		}
	}
	return out
}

// last returns the latest sample.
func (m *monitor) last() sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.all) == 0 {
		return sample{}
	}
	return m.all[len(m.all)-1]
}

// rs returns node n's real server address as IPVS lists it.
func (c *cluster) rs(n *node) netip.AddrPort { return netip.AddrPortFrom(n.addr, uint16(c.realPort)) }

// healthy reports whether director d has the VIP alone and both real
// servers in its table.
func (c *cluster) healthy(s sample, d *node) bool {
	if !slices.Equal(s.holders(), []string{d.name}) {
		return false
	}
	for _, n := range c.nodes {
		if !s.in(d.name, c.rs(n)) {
			return false
		}
	}
	return true
}

// describe summarises a sample for failure messages.
func (c *cluster) describe(s sample) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("VIP on %v", s.holders()))
	for _, n := range c.nodes {
		var rs []string
		for a, w := range s.table[n.name] {
			rs = append(rs, fmt.Sprintf("%s w%d", a, w))
		}
		slices.Sort(rs)
		parts = append(parts, fmt.Sprintf("%s table [%s]", n.name, strings.Join(rs, ", ")))
	}
	if s.err != nil {
		parts = append(parts, "error: "+s.err.Error())
	}
	return strings.Join(parts, "; ")
}

// halaCheck runs, from inside director d's namespace, the MISC_CHECK
// command line rendered for target, and returns its exit code, how long
// it took and its output.
func (c *cluster) halaCheck(d, target *node) (int, time.Duration, string) {
	data, err := os.ReadFile(filepath.Join(d.dir, "keepalived.conf"))
	if err != nil {
		return -1, 0, err.Error()
	}
	var args []string
	for _, m := range regexp.MustCompile(`misc_path "([^"]*)"`).FindAllStringSubmatch(string(data), -1) {
		f := strings.Fields(m[1])
		if slices.Contains(f, target.addr.String()) {
			args = f
		}
	}
	if len(args) == 0 {
		return -1, 0, "no misc_path for " + target.addr.String()
	}
	// Started from a thread inside the namespace, like keepalived starts
	// it: no "ip netns exec" in the measured time.
	var out []byte
	var took time.Duration
	err = d.ns.Do(func() error {
		cmd := exec.Command(args[0], args[1:]...)
		start := time.Now()
		var err error
		out, err = cmd.CombinedOutput()
		took = time.Since(start)
		return err
	})
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			code = -1
		}
	}
	return code, took, strings.TrimSpace(string(out))
}

// flushed waits until both stand-ins have written everything they
// received: their output files stop growing for a second (a slow worker
// may still be working through its queue). A read error fails row.
func (c *cluster) flushed(row *Row) {
	size := func() (int64, error) {
		var sum int64
		for _, n := range c.nodes {
			fi, err := os.Stat(n.out)
			if err != nil {
				return 0, err
			}
			sum += fi.Size()
		}
		return sum, nil
	}
	c.hold()
	last, err := size()
	stable := time.Now()
	for deadline := time.Now().Add(20 * time.Second); err == nil && time.Since(stable) < time.Second && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		var now int64
		if now, err = size(); now != last {
			last, stable = now, time.Now()
		}
	}
	if err != nil {
		row.Failf("output files: %v", err)
	}
}
