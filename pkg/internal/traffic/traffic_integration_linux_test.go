//go:build linux && integration

package traffic_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// datagrams is how many datagrams each case sends from one source port.
const datagrams = 1000

// The lab's addresses. The client and the VIP share a subnet; each real
// server sits on its own link behind the director and routes back through
// it, as IPVS NAT needs.
var (
	clientAddr = netip.MustParsePrefix("10.0.0.2/24")
	dirFront   = netip.MustParsePrefix("10.0.0.1/24")
	vipAddr    = netip.MustParseAddr("10.0.0.100")
	servers    = []struct {
		name      string
		addr, gw  netip.Prefix
		dirIfname string
	}{
		{"rs1", netip.MustParsePrefix("10.1.1.11/24"), netip.MustParsePrefix("10.1.1.1/24"), "eth1"},
		{"rs2", netip.MustParsePrefix("10.1.2.12/24"), netip.MustParsePrefix("10.1.2.1/24"), "eth2"},
	}
)

const inventoryTemplate = `[cluster]
name = "traffic"
interface = "eth0"
vrrp_auth_pass = "traffic1"

[[director]]
name = "dir"
address = "10.0.0.1"

[[logstash]]
name = "rs1"
address = "10.1.1.11"

[[logstash]]
name = "rs2"
address = "10.1.2.12"

[[vip]]
name = "syslog"
address = "10.0.0.100/24"
router_id = 51

[[service]]
name = "syslog-udp"
vip = "syslog"
port = 5514
protocol = "udp"
input_id = "udp-5514"
scheduler = %q
one_packet = %t

[firewall]
log_sources = ["10.0.0.0/24"]
`

// lab is a client, a director and two real servers, each in its own
// namespace, joined by veth pairs.
type lab struct {
	bin      string
	dir      string // temp dir: inventory and ownership state
	client   *testutil.NetNS
	director *testutil.NetNS
	arrived  chan int       // index of the server that received a datagram
	counts   []atomic.Int64 // datagrams received per server
	sources  []atomic.Value // first source address seen per server
}

// veth connects a and b with a veth pair named aName in a and bName in b,
// both up, with the given addresses.
func veth(t *testing.T, a *testutil.NetNS, aName string, aAddr netip.Prefix, b *testutil.NetNS, bName string, bAddr netip.Prefix) {
	t.Helper()
	a.IP(t, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name)
	a.IP(t, "addr", "add", aAddr.String(), "dev", aName)
	b.IP(t, "addr", "add", bAddr.String(), "dev", bName)
	a.IP(t, "link", "set", aName, "up")
	b.IP(t, "link", "set", bName, "up")
}

// newLab builds the namespaces and links, starts a UDP listener on :5514
// in each real server, and prepares the director with hala itself:
// `hala sysctl apply` and `hala vip add`. Each case then runs
// `hala ipvs apply` with its own inventory.
func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{
		bin:      testutil.HalaBinary(t),
		dir:      t.TempDir(),
		client:   testutil.NewNetNS(t),
		director: testutil.NewNetNS(t),
		arrived:  make(chan int, datagrams),
		counts:   make([]atomic.Int64, len(servers)),
		sources:  make([]atomic.Value, len(servers)),
	}
	veth(t, l.director, "eth0", dirFront, l.client, "eth0", clientAddr)
	for i, s := range servers {
		rs := testutil.NewNetNS(t)
		veth(t, l.director, s.dirIfname, s.gw, rs, "eth0", s.addr)
		rs.IP(t, "route", "add", "default", "via", s.gw.Addr().String())
		conn := rs.ListenPacket(t, "udp4", ":5514")
		go l.serve(i, conn)
	}
	l.writeInventory(t, "rr", true)

	// The director's kernel settings come from the rendered sysctl file.
	out := l.hala(t, l.director, "sysctl", "apply", "-i", l.inventory(), "--node", "dir")
	if !strings.Contains(out, "net.ipv4.ip_forward: 0 → 1") {
		t.Fatalf("hala sysctl apply did not turn on forwarding in the director:\n%s", out)
	}
	out = l.hala(t, nil, "vip", "add", "-i", l.inventory(), "--node", "dir", "--netns", l.director.Path)
	if !strings.Contains(out, "syslog: added 10.0.0.100/24 dev eth0") {
		t.Fatalf("hala vip add:\n%s", out)
	}
	return l
}

func (l *lab) inventory() string { return filepath.Join(l.dir, "inventory.toml") }

func (l *lab) writeInventory(t *testing.T, scheduler string, onePacket bool) {
	t.Helper()
	data := fmt.Sprintf(inventoryTemplate, scheduler, onePacket)
	if err := os.WriteFile(l.inventory(), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// apply runs `hala ipvs apply` for the director and checks the result with
// ipvsadm, the independent oracle.
func (l *lab) apply(t *testing.T) {
	t.Helper()
	l.hala(t, nil, "ipvs", "apply", "-i", l.inventory(), "--node", "dir",
		"--netns", l.director.Path, "--state", filepath.Join(l.dir, "owned.json"))
	table := l.director.Run(t, "ipvsadm", "-Ln")
	for _, s := range servers {
		want := s.addr.Addr().String() + ":5514"
		if !strings.Contains(table, want) {
			t.Fatalf("after hala ipvs apply, ipvsadm -Ln lacks real server %s:\n%s", want, table)
		}
	}
	t.Logf("director's IPVS table:\n%s", table)
}

// hala runs the hala binary, inside ns when it is not nil, and returns its
// combined output; a failure fails the test.
func (l *lab) hala(t *testing.T, ns *testutil.NetNS, args ...string) string {
	t.Helper()
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Cmd(l.bin, args...)
	} else {
		cmd = exec.Command(l.bin, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hala %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// serve counts the datagrams server i receives.
func (l *lab) serve(i int, conn net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		_, from, err := conn.ReadFrom(buf)
		if err != nil {
			return // closed at cleanup
		}
		l.sources[i].CompareAndSwap(nil, from.String())
		l.counts[i].Add(1)
		l.arrived <- i
	}
}

// send sends datagrams from one client socket (one source port, as a
// syslog sender does) to VIP:5514, waiting for each to arrive before
// sending the next so no queue can drop one, and returns the count per
// real server.
func (l *lab) send(t *testing.T) []int64 {
	t.Helper()
	var conn *net.UDPConn
	err := l.client.Do(func() (err error) {
		conn, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(vipAddr, 5514)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range l.counts {
		l.counts[i].Store(0)
	}
	for n := 0; n < datagrams; n++ {
		if _, err := fmt.Fprintf(conn, "<134>hala traffic test %d", n); err != nil {
			t.Fatalf("send datagram %d: %v", n, err)
		}
		select {
		case <-l.arrived:
		case <-time.After(5 * time.Second):
			t.Fatalf("datagram %d of %d never reached a real server (so far %v); director's table:\n%s",
				n+1, datagrams, l.snapshot(), l.director.Run(t, "ipvsadm", "-Ln", "--stats"))
		}
	}
	got := l.snapshot()
	for i, s := range servers {
		if src, _ := l.sources[i].Load().(string); src != "" && !strings.HasPrefix(src, clientAddr.Addr().String()+":") {
			t.Errorf("%s saw datagrams from %s, want the client's own address %s (NAT keeps the source)", s.name, src, clientAddr.Addr())
		}
	}
	t.Logf("%d datagrams from %s: rs1 got %d, rs2 got %d", datagrams, conn.LocalAddr(), got[0], got[1])
	return got
}

func (l *lab) snapshot() []int64 {
	out := make([]int64, len(l.counts))
	for i := range l.counts {
		out[i] = l.counts[i].Load()
	}
	return out
}

// TestIntegrationUDPTraffic sends 1,000 syslog datagrams from one source
// port through the director for each way of scheduling them, re-applying
// the inventory with `hala ipvs apply` between cases. The cases run in this
// order on one lab; the case without one_packet comes last because the
// connection entry it leaves would count against its server under lc/wlc.
func TestIntegrationUDPTraffic(t *testing.T) {
	testutil.RequireKernel(t)
	l := newLab(t)
	cases := []struct {
		name      string
		scheduler string
		onePacket bool
		check     func(t *testing.T, got []int64)
	}{{
		// With one_packet (ipvsadm -o) every datagram is scheduled on its
		// own, so rr alternates exactly.
		name: "one_packet_rr_splits_evenly", scheduler: "rr", onePacket: true,
		check: func(t *testing.T, got []int64) {
			if got[0] != datagrams/2 || got[1] != datagrams/2 {
				t.Fatalf("rr with one_packet: rs1 got %d, rs2 got %d; want %d each", got[0], got[1], datagrams/2)
			}
		},
	}, {
		name: "one_packet_wrr_splits_evenly", scheduler: "wrr", onePacket: true,
		check: func(t *testing.T, got []int64) {
			if got[0] != datagrams/2 || got[1] != datagrams/2 {
				t.Fatalf("wrr with one_packet: rs1 got %d, rs2 got %d; want %d each", got[0], got[1], datagrams/2)
			}
		},
	}, {
		// A one-packet "connection" is freed as soon as its datagram is
		// sent, so every real server always counts zero connections and
		// the schedulers that compare connection counts (lc, wlc, sed, nq)
		// pick the same one (the head of the kernel's list) for every
		// datagram: no balancing at all. The inventory warns about
		// these combinations; these cases are the evidence, and they fail
		// if a kernel ever balances such traffic.
		name: "one_packet_lc_uses_one_server", scheduler: "lc", onePacket: true,
		check: allOnOneServer,
	}, {
		name: "one_packet_wlc_uses_one_server", scheduler: "wlc", onePacket: true,
		check: allOnOneServer,
	}, {
		name: "one_packet_sed_uses_one_server", scheduler: "sed", onePacket: true,
		check: allOnOneServer,
	}, {
		name: "one_packet_nq_uses_one_server", scheduler: "nq", onePacket: true,
		check: allOnOneServer,
	}, {
		// Without one_packet IPVS keeps one UDP connection entry per client
		// address and port, so one syslog sender's datagrams all go to one
		// real server: the reason services for syslog set one_packet.
		name: "without_one_packet_one_sender_sticks", scheduler: "rr", onePacket: false,
		check: func(t *testing.T, got []int64) {
			allOnOneServer(t, got)
			conns := l.director.Run(t, "ipvsadm", "-Lnc")
			if !strings.Contains(conns, clientAddr.Addr().String()+":") {
				t.Errorf("ipvsadm -Lnc shows no connection entry for the client:\n%s", conns)
			}
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l.writeInventory(t, tc.scheduler, tc.onePacket)
			l.apply(t)
			tc.check(t, l.send(t))
		})
	}
}

func allOnOneServer(t *testing.T, got []int64) {
	t.Helper()
	if got[0]+got[1] != datagrams || (got[0] != datagrams && got[1] != datagrams) {
		t.Fatalf("rs1 got %d, rs2 got %d; want all %d on one server", got[0], got[1], datagrams)
	}
}
