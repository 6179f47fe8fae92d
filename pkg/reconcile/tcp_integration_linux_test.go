//go:build linux && integration

package reconcile_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/internal/testutil/tcpstream"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// tcpInventory is two TCP services on VIP 10.0.0.100 with direct routing
// to three backends on the directors' LAN: syslog-tcp (port 5140) with mh,
// as under ha = "bgp", and the control rr-tcp (port 5141) with rr.
const tcpInventory = `
[cluster]
name = "t"
interface = "eth0"
vrrp_auth_pass = "secret42"

[[director]]
name = "d1"
address = "10.8.0.1"

[[logstash]]
name = "b1"
address = "10.8.0.11"
[[logstash]]
name = "b2"
address = "10.8.0.12"
[[logstash]]
name = "b3"
address = "10.8.0.13"

[[vip]]
name = "logs"
address = "10.0.0.100/32"
router_id = 1

[[service]]
name = "syslog-tcp"
vip = "logs"
port = 5140
protocol = "tcp"
input_id = "tcp-5140"
scheduler = "mh"
forwarding = "dr"

[[service]]
name = "rr-tcp"
vip = "logs"
port = 5141
protocol = "tcp"
input_id = "tcp-5141"
scheduler = "rr"
forwarding = "dr"
`

// lineServer counts, per stream id, the lines (tcpstream.Line) the
// backends of one port received, which backend holds each connection, and the
// connections that ended in an error (a reset).
type lineServer struct {
	mu      sync.Mutex
	lines   map[string]int
	errs    map[string]error
	backend map[string]string
	conns   map[string][]*net.TCPConn // by backend
	wg      sync.WaitGroup
}

func newLineServer() *lineServer {
	return &lineServer{lines: map[string]int{}, errs: map[string]error{}, backend: map[string]string{}, conns: map[string][]*net.TCPConn{}}
}

func (s *lineServer) serve(name string, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[name] = append(s.conns[name], c.(*net.TCPConn))
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			r := bufio.NewReader(c)
			id := ""
			for {
				line, err := r.ReadString('\n')
				if sid, _, ok := tcpstream.ParseLine(line); err == nil && ok {
					id = sid
					s.mu.Lock()
					s.lines[id]++
					s.backend[id] = name
					s.mu.Unlock()
				}
				if err != nil {
					if !errors.Is(err, io.EOF) && id != "" {
						s.mu.Lock()
						s.errs[id] = err
						s.mu.Unlock()
					}
					return
				}
			}
		}()
	}
}

// ecmpRig is a client behind a router whose static ECMP route to the VIP
// stands for what BGP gives it, three directors programmed by hala, and
// three backends holding the VIP on lo with a line server per port.
type ecmpRig struct {
	t         *testing.T
	router    *testutil.NetNS
	client    *testutil.NetNS
	dirs      []*mhDirector
	listeners map[string][]net.Listener // by backend
	servers   map[int]*lineServer
	streams   map[int]*tcpstream.Set // by port
}

func newECMPRig(t *testing.T) *ecmpRig {
	t.Helper()
	testutil.RequireKernel(t)
	r := &ecmpRig{t: t, servers: map[int]*lineServer{5140: newLineServer(), 5141: newLineServer()},
		listeners: map[string][]net.Listener{},
		streams:   map[int]*tcpstream.Set{5140: tcpstream.NewSet(100 * time.Millisecond), 5141: tcpstream.NewSet(100 * time.Millisecond)}}
	inv := parseInv(t, tcpInventory)
	lan := testutil.NewLAN(t)
	for i, name := range []string{"d1", "d2", "d3"} {
		d := newMHDirector(t, lan, name, fmt.Sprintf("10.8.0.%d", i+1))
		d.ns.IP(t, "route", "add", "10.9.0.0/24", "via", "10.8.0.254")
		// What the rendered sysctl file sets on such a director.
		d.ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.vs.sloppy_tcp=1")
		if _, err := reconcile.Run(ctx, inv, d, d.opts); err != nil {
			t.Fatalf("%s: apply: %v", name, err)
		}
		r.dirs = append(r.dirs, d)
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("b%d", i)
		ns := testutil.NewNetNS(t)
		lan.Attach(t, ns, "eth0", netip.MustParsePrefix(fmt.Sprintf("10.8.0.1%d/16", i)))
		ns.IP(t, "addr", "add", "10.0.0.100/32", "dev", "lo")
		ns.IP(t, "route", "add", "default", "via", "10.8.0.254")
		ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
		for port, s := range r.servers {
			l := ns.Listen(t, "tcp4", fmt.Sprintf("10.0.0.100:%d", port))
			r.listeners[name] = append(r.listeners[name], l)
			go s.serve(name, l)
		}
	}
	r.router = testutil.NewNetNS(t)
	lan.Attach(t, r.router, "eth1", netip.MustParsePrefix("10.8.0.254/16"))
	edge := testutil.NewLAN(t)
	edge.Attach(t, r.router, "eth0", netip.MustParsePrefix("10.9.0.1/24"))
	r.router.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1")
	r.route("10.8.0.1", "10.8.0.2", "10.8.0.3")
	r.client = testutil.NewNetNS(t)
	edge.Attach(t, r.client, "eth0", netip.MustParsePrefix("10.9.0.2/24"))
	r.client.IP(t, "route", "add", "default", "via", "10.9.0.1")
	// Keep each connection's path until the route changes, as behind a
	// real router: the router hashes the hash a local socket gave the
	// packet, which the socket would draw anew at each retransmission
	// timeout.
	r.client.Run(t, "sysctl", "-q", "-w", "net.core.txrehash=0")
	return r
}

// route sets the router's next hops for the VIP, as BGP with ECMP does.
func (r *ecmpRig) route(via ...string) {
	r.t.Helper()
	args := []string{"route", "replace", "10.0.0.100/32"}
	for _, v := range via {
		args = append(args, "nexthop", "via", v)
	}
	r.router.IP(r.t, args...)
}

// open connects n streams to each port and starts them sending a line
// every 100ms.
func (r *ecmpRig) open(n int, ports ...int) {
	r.t.Helper()
	for _, port := range ports {
		// One pass into the client's namespace: the sockets stay there.
		err := r.client.Do(func() error {
			d := net.Dialer{Timeout: 10 * time.Second}
			return r.streams[port].Open(n, strconv.Itoa(port), func() (net.Conn, error) {
				return d.DialContext(context.Background(), "tcp4", fmt.Sprintf("10.0.0.100:%d", port))
			})
		})
		if err != nil {
			r.t.Fatalf("port %d: %v", port, err)
		}
	}
}

// spread counts each director's established connection entries.
func (r *ecmpRig) spread() string {
	var parts []string
	for _, d := range r.dirs {
		parts = append(parts, d.name+" "+strconv.Itoa(strings.Count(d.ns.Run(r.t, d.ipvsadm, "-Lnc"), "ESTABLISHED")))
	}
	return strings.Join(parts, ", ")
}

// finish stops the senders and closes their streams: each ends cleanly
// once its backend has read it to its end (a reset stream never does: its
// sender is gone).
func (r *ecmpRig) finish() {
	for _, set := range r.streams {
		set.Close(15 * time.Second)
	}
}

// outcome is, for the streams to port, what was sent, which were reset
// and how many lines are missing at the backends.
type outcome struct {
	streams, sent, lost int
	reset               []string // stream ids
}

func (r *ecmpRig) outcome(port int) outcome {
	srv := r.servers[port]
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var o outcome
	for _, s := range r.streams[port].Streams() {
		o.streams++
		o.sent += s.Sent
		if s.Reset() || srv.errs[s.ID] != nil {
			o.reset = append(o.reset, s.ID)
		}
		if got := srv.lines[s.ID]; got < s.Sent {
			o.lost += s.Sent - got
		}
	}
	return o
}

// TestIntegrationTCPSurvivesDirectorChanges stands for rows C2 and C3 with
// a static ECMP route in a router namespace in place of BGP (the bgp half
// of the e2e proves how fast the route changes): 50 long-lived TCP
// connections, each sending 10 lines a second through three directors
// programmed by hala, to backends holding the VIP on lo (direct routing).
// d2 dies (its next hop leaves the router's route, its link goes down),
// then comes back. With mh and sloppy_tcp, no connection is reset and no
// line is lost; the same run with rr (the control) resets some.
func TestIntegrationTCPSurvivesDirectorChanges(t *testing.T) {
	r := newECMPRig(t)
	r.open(50, 5140, 5141)
	time.Sleep(2 * time.Second)
	t.Logf("steady: connection entries %s", r.spread())
	// C2: d2's host dies: the router drops its next hop (as BFD makes it),
	// and nothing reaches d2 any more.
	r.route("10.8.0.1", "10.8.0.3")
	r.dirs[1].ns.IP(t, "link", "set", "eth0", "down")
	time.Sleep(3 * time.Second)
	t.Logf("d2 gone: connection entries %s", r.spread())
	// C3: d2 comes back and the router sends it flows again.
	r.dirs[1].ns.IP(t, "link", "set", "eth0", "up")
	r.route("10.8.0.1", "10.8.0.2", "10.8.0.3")
	time.Sleep(3 * time.Second)
	t.Logf("d2 back: connection entries %s", r.spread())
	r.finish()

	mh, rr := r.outcome(5140), r.outcome(5141)
	t.Logf("mh: %d connections, %d lines sent, %d reset, %d lines lost", mh.streams, mh.sent, len(mh.reset), mh.lost)
	t.Logf("rr (control): %d connections, %d lines sent, %d reset", rr.streams, rr.sent, len(rr.reset))
	if len(mh.reset) != 0 || mh.lost != 0 {
		t.Errorf("mh: connections reset %v, %d lines lost; want none", mh.reset, mh.lost)
	}
	if len(rr.reset) == 0 {
		t.Errorf("rr (the control): no connection reset; the test cannot tell a director change that resets from one that does not")
	}
}

// TestIntegrationTCPBackendFailureMovesOnlyItsConnections stands for row
// C4: backend b2 fails (its process dies, resetting its connections, and
// hala sets it to weight 0 on every director): exactly the connections b2
// held are reset, every other one keeps sending without a lost line, and
// new connections avoid b2 (mh-fallback).
func TestIntegrationTCPBackendFailureMovesOnlyItsConnections(t *testing.T) {
	r := newECMPRig(t)
	r.open(50, 5140)
	time.Sleep(2 * time.Second)
	srv := r.servers[5140]
	srv.mu.Lock()
	held := map[string]bool{}
	for id, b := range srv.backend {
		if b == "b2" {
			held[id] = true
		}
	}
	srv.mu.Unlock()
	// b2 dies: its listeners close and its connections end with a reset.
	for _, l := range r.listeners["b2"] {
		l.Close()
	}
	srv.mu.Lock()
	for _, c := range srv.conns["b2"] {
		_ = c.SetLinger(0)
		c.Close()
	}
	srv.mu.Unlock()
	// Every director's check fails it: weight 0, as hala director sets it.
	for _, d := range r.dirs {
		opts := d.opts
		opts.Adjust = func(tb reconcile.Table) reconcile.Table {
			for i := range tb {
				for j := range tb[i].Destinations {
					if tb[i].Destinations[j].Address == addr("10.8.0.12") {
						tb[i].Destinations[j].Weight = 0
					}
				}
			}
			return tb
		}
		if _, err := reconcile.Run(ctx, parseInv(t, tcpInventory), d, opts); err != nil {
			t.Fatalf("%s: b2 to weight 0: %v", d.name, err)
		}
	}
	r.open(20, 5140) // new connections
	time.Sleep(3 * time.Second)
	r.finish()

	o := r.outcome(5140)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var wrong []string
	for _, id := range o.reset {
		if !held[id] {
			wrong = append(wrong, id+" on "+srv.backend[id])
		}
	}
	t.Logf("b2 held %d of the first 50 connections; %d reset; %d lines sent, %d lost in all", len(held), len(o.reset), o.sent, o.lost)
	if len(held) == 0 {
		t.Fatal("b2 held no connection: the test proves nothing")
	}
	if len(wrong) > 0 {
		t.Errorf("connections of other backends reset: %v", wrong)
	}
	for _, s := range r.streams[5140].Streams() {
		if !held[s.ID] && srv.lines[s.ID] < s.Sent {
			t.Errorf("stream %s (on %s): %d of %d lines arrived", s.ID, srv.backend[s.ID], srv.lines[s.ID], s.Sent)
		}
		if !held[s.ID] && srv.backend[s.ID] == "b2" {
			t.Errorf("stream %s, opened after b2 failed, reached b2", s.ID)
		}
	}
}
