//go:build linux && integration

package reconcile_test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// flow is a client's source address and port.
type flow = netip.AddrPort

// mhDirector is a director namespace on the LAN holding the VIP, with a
// route to the real servers (a dummy device: the forwarded packets go
// nowhere, the connection entry that names the chosen real server stays).
type mhDirector struct {
	*realKernel
	name string
	lan  netip.Addr
}

func newMHDirector(t *testing.T, lan *testutil.LAN, name string, addr string) *mhDirector {
	t.Helper()
	k := newRealKernel(t)
	d := &mhDirector{realKernel: k, name: name, lan: netip.MustParseAddr(addr)}
	lan.Attach(t, k.ns, "eth0", netip.PrefixFrom(d.lan, 16))
	k.ns.IP(t, "addr", "add", "10.0.0.100/32", "dev", "lo")
	k.ns.IP(t, "link", "add", "rs0", "type", "dummy")
	k.ns.IP(t, "addr", "add", "10.0.0.1/24", "dev", "rs0")
	k.ns.IP(t, "link", "set", "rs0", "up")
	return d
}

// apply converges the director on an mh inventory with the given backends
// through hala's plan/apply path, with the failed ones at weight 0 as the
// director's verdicts put them.
func (d *mhDirector) apply(t *testing.T, backends []string, failed ...string) {
	t.Helper()
	opts := d.opts
	opts.Adopt = true // the control director's service was made by ipvsadm
	opts.Adjust = func(tb reconcile.Table) reconcile.Table {
		for i := range tb[0].Destinations {
			dst := &tb[0].Destinations[i]
			for _, f := range failed {
				if dst.Address.String() == "10.0.0.1"+strings.TrimPrefix(f, "l") {
					dst.Weight = 0
				}
			}
		}
		return tb
	}
	if _, err := reconcile.Run(ctx, parseInv(t, mhInventory(backends...)), d, opts); err != nil {
		t.Fatalf("%s: apply %v (failed %v): %v", d.name, backends, failed, err)
	}
}

// list is the mh service's destinations in the kernel's order, as the
// netlink dump gives it (ipvsadm -Ln sorts them), with their weights.
func (d *mhDirector) list(t *testing.T) []string {
	t.Helper()
	entries, err := d.h.Entries(ctx)
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	var out []string
	for _, e := range entries {
		if e.Service.Key() == mhKey {
			for _, dst := range e.Destinations {
				out = append(out, dst.Key().String()+" w"+strconv.Itoa(dst.Weight))
			}
		}
	}
	return out
}

// differ counts the flows a and b send to different real servers.
func differ(flows []flow, a, b map[flow]string) int {
	n := 0
	for _, f := range flows {
		if a[f] != b[f] {
			n++
		}
	}
	return n
}

// chosen reads the director's connection entries (ipvsadm -Lnc) and
// returns the real server of each flow in flows, waiting until every one
// has an entry.
func (d *mhDirector) chosen(t *testing.T, flows []flow) map[flow]string {
	t.Helper()
	want := make(map[flow]bool, len(flows))
	for _, f := range flows {
		want[f] = true
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[flow]string{}
		for _, l := range strings.Split(d.ns.Run(t, d.ipvsadm, "-Lnc"), "\n") {
			// pro expire state source virtual destination
			f := strings.Fields(l)
			if len(f) != 6 || f[0] != "TCP" || f[4] != "10.0.0.100:5140" {
				continue
			}
			src, err := netip.ParseAddrPort(f[3])
			if err == nil && want[src] {
				got[src] = f[5]
			}
		}
		if len(got) == len(flows) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d flows have a connection entry after 30s", d.name, len(got), len(flows))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// client is the senders' namespace on the LAN; its route to the VIP says
// which director gets the flows, as a router's ECMP would.
type client struct {
	ns    *testutil.NetNS
	addrs []netip.Addr
}

func newClient(t *testing.T, lan *testutil.LAN, n int) *client {
	t.Helper()
	c := &client{ns: testutil.NewNetNS(t)}
	lan.Attach(t, c.ns, "eth0", netip.MustParsePrefix("10.8.0.100/16"))
	var batch strings.Builder
	for i := 1; i <= n; i++ {
		a := netip.AddrFrom4([4]byte{10, 8, 1 + byte(i/250), byte(i%250 + 1)})
		c.addrs = append(c.addrs, a)
		fmt.Fprintf(&batch, "addr add %s/32 dev eth0\n", a)
	}
	cmd := exec.Command(testutil.RequireTool(t, "ip"), "-n", c.ns.Name, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	return c
}

// flows returns every client address with each of ports source ports
// from base, 256 apart. mh hashes the sum of the source address and port
// (ip_vs_mh_hashkey), so ports 1 apart would give 100 addresses × 10
// ports only 109 distinct sums, and sample as few of the table's slots;
// 256 apart, every flow's sum is distinct.
func (c *client) flows(base, ports int) []flow {
	var out []flow
	for _, a := range c.addrs {
		for k := 0; k < ports; k++ {
			out = append(out, netip.AddrPortFrom(a, uint16(base+256*k)))
		}
	}
	return out
}

// open starts a TCP connection to the VIP from every flow through d: one
// SYN each, from a socket bound to the flow's address and port and closed
// at once (the director keeps the entry it made for the SYN).
func (c *client) open(t *testing.T, d *mhDirector, flows []flow) {
	t.Helper()
	c.ns.IP(t, "route", "replace", "10.0.0.100/32", "via", d.lan.String())
	err := c.ns.Do(func() error {
		vip := &syscall.SockaddrInet4{Port: 5140, Addr: [4]byte{10, 0, 0, 100}}
		for _, f := range flows {
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
				syscall.Close(fd)
				return err
			}
			if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: int(f.Port()), Addr: f.Addr().As4()}); err != nil {
				syscall.Close(fd)
				return fmt.Errorf("bind %s: %w", f, err)
			}
			if err := syscall.Connect(fd, vip); err != nil && err != syscall.EINPROGRESS {
				syscall.Close(fd)
				return fmt.Errorf("connect from %s: %w", f, err)
			}
			syscall.Close(fd)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("open flows through %s: %v", d.name, err)
	}
}

// TestIntegrationMHSameBackendOnEveryDirector is row C1's proof on the
// real kernel: three directors that reached the same inventory through
// different histories (start order, reloads adding and removing backends,
// backends failing and returning, a destination re-added by hand) list the
// destinations in one order (read over netlink: ipvsadm -Ln sorts them)
// and send each of 1,000 flows (distinct source address and port) to the
// same real server, read from each director's connection entries with
// ipvsadm -Lnc. Two controls, made by ipvsadm, show that the test can
// fail: d4, its list in another order, sends some of 20,000 flows
// elsewhere (until hala's drift repair puts it in order); d5, a backend
// added at weight 0 (out of mh's table), sends some flows elsewhere once
// that backend is at weight 0 on every director, where hala added it at
// its weight first. With that backend failed, no flow reaches it.
func TestIntegrationMHSameBackendOnEveryDirector(t *testing.T) {
	testutil.RequireKernel(t)
	lan := testutil.NewLAN(t)
	all := []string{"l1", "l2", "l3", "l4"}
	d1 := newMHDirector(t, lan, "d1", "10.8.0.1")
	d2 := newMHDirector(t, lan, "d2", "10.8.0.2")
	d3 := newMHDirector(t, lan, "d3", "10.8.0.3")
	d4 := newMHDirector(t, lan, "d4", "10.8.0.4")
	hala := []*mhDirector{d1, d2, d3}

	// Histories, interleaved as directors starting at different times.
	d2.apply(t, []string{"l4", "l2"})
	d3.apply(t, all, "l2", "l3")
	d2.apply(t, []string{"l1", "l2", "l3"}) // a reload adding l1 and l3, removing l4
	d1.apply(t, all)
	d3.apply(t, all, "l3") // l2 returns
	d2.apply(t, all, "l1") // l4 back, l1 fails
	d3.apply(t, []string{"l1", "l2", "l3"})
	d3.ipvsadmDo(t, "-d -t 10.0.0.100:5140 -r 10.0.0.11:5140")
	d3.ipvsadmDo(t, "-a -t 10.0.0.100:5140 -r 10.0.0.11:5140 -g -w 1") // by hand: now at the head
	d2.apply(t, all)                                                   // l1 returns
	d3.apply(t, all)                                                   // l4 back, l3 returns, l1 put back in order
	// The controls, made by another tool (ipvsadm): d4 has the same
	// destinations added in another order; d5 has them in hala's order,
	// but l2 added at weight 0, which leaves it out of mh's table.
	d5 := newMHDirector(t, lan, "d5", "10.8.0.5")
	for _, d := range []*mhDirector{d4, d5} {
		d.ipvsadmDo(t, "-A -t 10.0.0.100:5140 -s mh -b mh-fallback,mh-port")
	}
	for _, rs := range []string{"13", "11", "14", "12"} {
		d4.ipvsadmDo(t, "-a -t 10.0.0.100:5140 -r 10.0.0."+rs+":5140 -g -w 1")
	}
	for _, rs := range []string{"11", "12", "13", "14"} {
		w := map[bool]string{true: "0", false: "1"}[rs == "12"]
		d5.ipvsadmDo(t, "-a -t 10.0.0.100:5140 -r 10.0.0."+rs+":5140 -g -w "+w)
	}

	want := []string{"10.0.0.14:5140 w1", "10.0.0.13:5140 w1", "10.0.0.12:5140 w1", "10.0.0.11:5140 w1"}
	for _, d := range hala {
		if got := d.list(t); !slices.Equal(got, want) {
			t.Errorf("%s lists %q in the kernel, want %q (added in ascending order)", d.name, got, want)
		}
	}
	t.Logf("d1..d3 list %q; the controls d4 %q, d5 %q", want, d4.list(t), d5.list(t))

	c := newClient(t, lan, 100)
	compare := func(phase string, flows []flow, dirs []*mhDirector) map[flow]string {
		t.Helper()
		start := time.Now()
		var first map[flow]string
		for _, d := range dirs {
			c.open(t, d, flows)
			got := d.chosen(t, flows)
			if first == nil {
				first = got
				continue
			}
			if n := differ(flows, first, got); n > 0 {
				t.Errorf("%s: %d of %d flows reach another real server through %s than through %s", phase, n, len(flows), d.name, dirs[0].name)
			}
		}
		count := map[string]int{}
		for _, rs := range first {
			count[rs]++
		}
		t.Logf("%s: %d flows through %d directors in %s; real servers %v", phase, len(flows), len(dirs), time.Since(start).Round(time.Millisecond), count)
		return first
	}

	compare("after the histories", c.flows(21000, 10), hala)

	// The order control. Maglev tables are robust to order: with 4
	// destinations two orders differ in a few of the 4093 slots (2 to 22
	// in a simulation of ip_vs_mh's fill over 300 random hash sets), so
	// it takes 20,000 flows to reach every slot with near certainty.
	many := c.flows(10000, 200)
	start := time.Now()
	c.open(t, d1, many)
	ref := d1.chosen(t, many)
	c.open(t, d4, many)
	n := differ(many, ref, d4.chosen(t, many))
	t.Logf("order control: %d of %d flows reach another real server through d4 (its list in another order) in %s", n, len(many), time.Since(start).Round(time.Millisecond))
	if n == 0 {
		t.Errorf("the control director d4, its list in another order, sent all %d flows to the same real servers: the test cannot tell orders apart", len(many))
	}

	// Drift repair puts d4 in order; l2 fails on every director.
	for _, d := range append(hala, d4) {
		d.apply(t, all, "l2")
	}
	flows := c.flows(22000, 10)
	got := compare("l2 failed, d4 repaired", flows, append(hala, d4))
	for f, rs := range got {
		if rs == "10.0.0.12:5140" {
			t.Errorf("flow %s reached failed l2", f)
		}
	}
	// The weight control: l2 at weight 0 everywhere, but on d5 it was
	// added so, and is not in d5's table.
	c.open(t, d5, flows)
	n = differ(flows, got, d5.chosen(t, flows))
	t.Logf("weight control: %d of %d flows reach another real server through d5 (l2 added at weight 0)", n, len(flows))
	if n == 0 {
		t.Errorf("the control director d5, l2 added at weight 0, sent all %d flows to the same real servers: the test cannot tell the tables apart", len(flows))
	}
}
