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

// lineServer counts, per connection id, the lines "ID SEQ" a backend
// received, and the connections that ended in an error (a reset).
type lineServer struct {
	mu    sync.Mutex
	lines map[string]int
	errs  map[string]error
	wg    sync.WaitGroup
}

func newLineServer() *lineServer {
	return &lineServer{lines: map[string]int{}, errs: map[string]error{}}
}

func (s *lineServer) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			r := bufio.NewReader(c)
			id := ""
			for {
				line, err := r.ReadString('\n')
				if f := strings.Fields(line); err == nil && len(f) == 2 {
					id = f[0]
					s.mu.Lock()
					s.lines[id]++
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

// stream is one long-lived client connection sending a numbered line
// every 100ms.
type stream struct {
	id   string
	conn *net.TCPConn
	sent int
	err  error
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
	testutil.RequireKernel(t)
	inv := parseInv(t, tcpInventory)
	lan := testutil.NewLAN(t)

	var dirs []*mhDirector
	for i, name := range []string{"d1", "d2", "d3"} {
		d := newMHDirector(t, lan, name, fmt.Sprintf("10.8.0.%d", i+1))
		d.ns.IP(t, "route", "add", "10.9.0.0/24", "via", "10.8.0.254")
		d.ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.vs.sloppy_tcp=1")
		if _, err := reconcile.Run(ctx, inv, d, d.opts); err != nil {
			t.Fatalf("%s: apply: %v", name, err)
		}
		dirs = append(dirs, d)
	}

	servers := map[int]*lineServer{5140: newLineServer(), 5141: newLineServer()}
	for i := 1; i <= 3; i++ {
		ns := testutil.NewNetNS(t)
		lan.Attach(t, ns, "eth0", netip.MustParsePrefix(fmt.Sprintf("10.8.0.1%d/16", i)))
		ns.IP(t, "addr", "add", "10.0.0.100/32", "dev", "lo")
		ns.IP(t, "route", "add", "default", "via", "10.8.0.254")
		ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
		for port, s := range servers {
			go s.serve(ns.Listen(t, "tcp4", fmt.Sprintf("10.0.0.100:%d", port)))
		}
	}

	router := testutil.NewNetNS(t)
	lan.Attach(t, router, "eth1", netip.MustParsePrefix("10.8.0.254/16"))
	edge := testutil.NewLAN(t)
	edge.Attach(t, router, "eth0", netip.MustParsePrefix("10.9.0.1/24"))
	router.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1")
	route := func(via ...string) {
		args := []string{"route", "replace", "10.0.0.100/32"}
		for _, v := range via {
			args = append(args, "nexthop", "via", v)
		}
		router.IP(t, args...)
	}
	route("10.8.0.1", "10.8.0.2", "10.8.0.3")
	client := testutil.NewNetNS(t)
	edge.Attach(t, client, "eth0", netip.MustParsePrefix("10.9.0.2/24"))
	client.IP(t, "route", "add", "default", "via", "10.9.0.1")

	var streams []*stream
	err := client.Do(func() error {
		d := net.Dialer{Timeout: 10 * time.Second}
		for _, port := range []int{5140, 5141} {
			for i := 0; i < 50; i++ {
				c, err := d.DialContext(context.Background(), "tcp4", fmt.Sprintf("10.0.0.100:%d", port))
				if err != nil {
					return fmt.Errorf("connection %d to port %d: %w", i, port, err)
				}
				streams = append(streams, &stream{id: fmt.Sprintf("%d-%d", port, i), conn: c.(*net.TCPConn)})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := fmt.Fprintf(s.conn, "%s %d\n", s.id, s.sent+1); err != nil {
					s.err = err
					return
				}
				s.sent++
			}
		}()
	}
	spread := func() string {
		var parts []string
		for _, d := range dirs {
			parts = append(parts, d.name+" "+strconv.Itoa(strings.Count(d.ns.Run(t, d.ipvsadm, "-Lnc"), "ESTABLISHED")))
		}
		return strings.Join(parts, ", ")
	}

	time.Sleep(2 * time.Second)
	t.Logf("steady: connection entries %s", spread())
	// C2: d2's host dies: the router drops its next hop (as BFD makes it),
	// and nothing reaches d2 any more.
	route("10.8.0.1", "10.8.0.3")
	dirs[1].ns.IP(t, "link", "set", "eth0", "down")
	time.Sleep(3 * time.Second)
	t.Logf("d2 gone: connection entries %s", spread())
	// C3: d2 comes back and the router sends it flows again.
	dirs[1].ns.IP(t, "link", "set", "eth0", "up")
	route("10.8.0.1", "10.8.0.2", "10.8.0.3")
	time.Sleep(3 * time.Second)
	t.Logf("d2 back: connection entries %s", spread())
	close(stop)
	wg.Wait()
	for _, s := range streams {
		s.conn.CloseWrite()
	}
	// The backends read the mh streams to their end. (A reset rr stream
	// never ends at its first backend: its sender is gone.)
	done := make(chan struct{})
	go func() {
		servers[5140].wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Error("backends still reading mh streams 15s after the senders closed")
	}
	for _, s := range streams {
		s.conn.Close()
	}

	for _, port := range []int{5140, 5141} {
		srv := servers[port]
		srv.mu.Lock()
		reset, lost, sent := 0, 0, 0
		for _, s := range streams {
			if !strings.HasPrefix(s.id, strconv.Itoa(port)+"-") {
				continue
			}
			sent += s.sent
			if s.err != nil || srv.errs[s.id] != nil {
				reset++
			}
			if got := srv.lines[s.id]; got < s.sent {
				lost += s.sent - got
			}
		}
		srv.mu.Unlock()
		t.Logf("port %d: 50 connections, %d lines sent, %d connections reset, %d lines lost", port, sent, reset, lost)
		switch port {
		case 5140:
			if reset != 0 || lost != 0 {
				t.Errorf("mh: %d connections reset, %d lines lost; want 0 and 0", reset, lost)
			}
		case 5141:
			if reset == 0 {
				t.Errorf("rr (the control): no connection reset; the test cannot tell a director change that resets from one that does not")
			}
		}
	}
}
