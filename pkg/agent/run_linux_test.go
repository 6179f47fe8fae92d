//go:build linux && integration

package agent

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/inventory"
)

// freePort returns a UDP and TCP port free on 127.0.0.1 now.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// kernelDrops reads the drops column of /proc/net/udp for the socket with
// this inode: what the kernel itself says.
func kernelDrops(t *testing.T, inode uint64) uint64 {
	t.Helper()
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 13 && f[9] == strconv.FormatUint(inode, 10) {
			n, _ := strconv.ParseUint(f[12], 10, 64)
			return n
		}
	}
	t.Fatalf("no socket with inode %d in /proc/net/udp", inode)
	return 0
}

// The running kernel: a socket's bind is seen by a dump, its close by the
// destruction broadcast, and the drops the kernel counts at the socket
// are the agent's. It needs no privilege; inside the test VM it runs on
// Debian's stock kernel.
func TestIntegrationAgentKernel(t *testing.T) {
	udpPort, tcpPort := freePort(t), freePort(t)
	inv, err := inventory.Parse("x.toml", fmt.Appendf(nil, `
[cluster]
name = "t"
interface = "eth0"
vrrp_auth_pass = "secret42"
ipvs = "director"
[[director]]
name = "d1"
address = "192.0.2.2"
[[logstash]]
name = "stash2"
address = "192.0.2.20"
[[vip]]
name = "logs"
address = "192.0.2.10/24"
router_id = 1
[[service]]
name = "syslog-udp"
vip = "logs"
port = %d
protocol = "udp"
input_id = "u"
[[service]]
name = "syslog-tcp"
vip = "logs"
port = %d
protocol = "tcp"
input_id = "t"
[agent]
port = 9611
`, udpPort, tcpPort))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Inventory: inv, Node: "stash2", Interval: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	s, err := Dial(ctx, srv.Client(), srv.URL, "", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// waitFor reads events until key's latest state is one ok accepts.
	latest := map[string]State{}
	waitFor := func(key string, ok func(State) bool) State {
		t.Helper()
		for {
			if st, seen := latest[key]; seen && ok(st) {
				return st
			}
			ev, err := s.Next()
			if err != nil {
				t.Fatalf("waiting for %s: %v", key, err)
			}
			for _, st := range ev.Inputs {
				latest[st.Key()] = st
			}
		}
	}
	udpKey, tcpKey := "udp/"+strconv.Itoa(udpPort), "tcp/"+strconv.Itoa(tcpPort)

	uc, err := net.ListenUDP("udp4", &net.UDPAddr{Port: udpPort}) // the wildcard receives the host's address
	if err != nil {
		t.Fatal(err)
	}
	if err := uc.SetReadBuffer(2048); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "[::]:"+strconv.Itoa(tcpPort)) // dual stack
	if err != nil {
		t.Fatal(err)
	}
	waitFor(udpKey, func(st State) bool { return st.Up && st.Reason == ReasonBound })
	waitFor(tcpKey, func(st State) bool { return st.Up && st.Reason == ReasonBound })

	// Nobody reads: the kernel drops what does not fit the 2 KiB buffer.
	snd, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udpPort})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	for range 50 {
		if _, err := snd.Write(make([]byte, 200)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := uc.File()
	if err != nil {
		t.Fatal(err)
	}
	var fst syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &fst); err != nil {
		t.Fatal(err)
	}
	inode := fst.Ino
	f.Close()
	want := kernelDrops(t, inode)
	if want == 0 {
		t.Fatal("the kernel dropped nothing: the test did not overload the socket")
	}
	got := waitFor(udpKey, func(st State) bool { return st.Drops >= want })
	if got.Drops != want || got.QueueBytes == 0 {
		t.Errorf("agent: drops %d queue %d; kernel: drops %d, queue not empty", got.Drops, got.QueueBytes, want)
	}

	// Close: the broadcast, not a dump, says so.
	uc.Close()
	if st := waitFor(udpKey, func(st State) bool { return !st.Up }); st.Reason != ReasonClosed {
		t.Errorf("UDP close: reason %q, want %q (the destruction broadcast)", st.Reason, ReasonClosed)
	}
	ln.Close()
	if st := waitFor(tcpKey, func(st State) bool { return !st.Up }); st.Reason != ReasonClosed {
		t.Errorf("TCP close: reason %q, want %q", st.Reason, ReasonClosed)
	}
	// Datagrams to the closed port count as NoPorts (sent unconnected:
	// a connected socket stops at the first ICMP port unreachable).
	un, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer un.Close()
	for range 5 {
		if _, err := un.WriteToUDP([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udpPort}); err != nil {
			t.Fatal(err)
		}
	}
	if st := waitFor(udpKey, func(st State) bool { return st.NoPorts >= 5 }); st.Up {
		t.Errorf("NoPorts while down: %+v", st)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
}
