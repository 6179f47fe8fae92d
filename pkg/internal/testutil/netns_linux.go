package testutil

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nsCounter makes namespace names unique within one test process; the pid
// makes them unique across test binaries running at the same time.
var nsCounter atomic.Int64

// NetNS is a named network namespace created for one test.
type NetNS struct {
	// Name is the namespace's name, as "ip netns list" shows it.
	Name string
	// Path is the namespace's bind mount, /run/netns/<Name>; pass it to
	// ipvs.New or netns.GetFromPath.
	Path string

	ip string // absolute path of the ip tool
}

// NewNetNS creates a fresh network namespace with lo up and registers its
// removal at test cleanup: processes still inside are killed first, then
// the namespace is deleted. It needs root and iproute2.
//
// Equivalent to: ip netns add NAME && ip -n NAME link set lo up
func NewNetNS(tb testing.TB) *NetNS {
	tb.Helper()
	return newNetNS(tb, strconv.FormatInt(nsCounter.Add(1), 10))
}

// NewNamedNetNS is NewNetNS with the namespace called NetNSPrefix() + name,
// so that commands can address it by a name of the test's choosing, such
// as a host name ("ip netns exec hala123-{}" in a script's remote prefix).
func NewNamedNetNS(tb testing.TB, name string) *NetNS {
	tb.Helper()
	return newNetNS(tb, name)
}

// NetNSPrefix is what every namespace name of this test process starts with.
func NetNSPrefix() string { return fmt.Sprintf("hala%d-", os.Getpid()) }

func newNetNS(tb testing.TB, suffix string) *NetNS {
	tb.Helper()
	ip := RequireTool(tb, "ip")
	if os.Geteuid() != 0 {
		skipOrFail(tb, envOn(EnvRequireKernel), "network namespaces need root (euid is %d)", os.Geteuid())
	}
	name := NetNSPrefix() + suffix
	ns := &NetNS{Name: name, Path: "/run/netns/" + name, ip: ip}
	if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
		tb.Fatalf("ip netns add %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	tb.Cleanup(func() {
		if err := ns.remove(); err != nil {
			tb.Errorf("remove netns %s: %v", name, err)
		}
	})
	ns.IP(tb, "link", "set", "lo", "up")
	return ns
}

// String returns the namespace's name.
func (ns *NetNS) String() string { return ns.Name }

// remove kills every process left in the namespace, then deletes it.
func (ns *NetNS) remove() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := ns.pids()
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still alive", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := exec.Command(ns.ip, "netns", "del", ns.Name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip netns del: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// pids lists the processes whose network namespace is this one.
//
// Equivalent to: ip netns pids NAME
func (ns *NetNS) pids() []int {
	out, err := exec.Command(ns.ip, "netns", "pids", ns.Name).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Cmd returns a command that runs name with args inside the namespace.
//
// Equivalent to: ip netns exec NAME name args...
func (ns *NetNS) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command(ns.ip, append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs name with args inside the namespace and returns its combined
// output. A non-zero exit fails the test, showing the output.
func (ns *NetNS) Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	return run(tb, ns.Cmd(name, args...))
}

// IP runs iproute2's ip against the namespace and returns its combined
// output; a non-zero exit fails the test. It is cheaper than Run("ip", ...).
//
// Equivalent to: ip -n NAME args...
func (ns *NetNS) IP(tb testing.TB, args ...string) string {
	tb.Helper()
	return run(tb, exec.Command(ns.ip, append([]string{"-n", ns.Name}, args...)...))
}

func run(tb testing.TB, cmd *exec.Cmd) string {
	tb.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// Do runs fn on an OS thread switched into the namespace and returns fn's
// error. Goroutines that fn starts run in the caller's namespace, but
// sockets fn opens stay in this one: listen inside Do, serve outside it.
// The thread is discarded afterwards rather than switched back.
func (ns *NetNS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine returns, the runtime ends the
		// thread instead of reusing it in the wrong namespace.
		runtime.LockOSThread()
		f, err := os.Open(ns.Path)
		if err != nil {
			errc <- fmt.Errorf("open netns: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", ns.Name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Listen opens a stream listener (network "tcp", "tcp4", ...) inside the
// namespace, closed at test cleanup. A test failure is reported on error.
func (ns *NetNS) Listen(tb testing.TB, network, address string) net.Listener {
	tb.Helper()
	var l net.Listener
	err := ns.Do(func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	if err != nil {
		tb.Fatalf("listen %s %s in netns %s: %v", network, address, ns.Name, err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// ListenPacket opens a packet socket (network "udp", "udp4", ...) inside the
// namespace, closed at test cleanup. A test failure is reported on error.
func (ns *NetNS) ListenPacket(tb testing.TB, network, address string) net.PacketConn {
	tb.Helper()
	var c net.PacketConn
	err := ns.Do(func() (err error) {
		c, err = net.ListenPacket(network, address)
		return err
	})
	if err != nil {
		tb.Fatalf("listen %s %s in netns %s: %v", network, address, ns.Name, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// LAN is a layer-2 segment: a Linux bridge inside its own namespace that
// test namespaces are plugged into with veth pairs. VRRP multicast, ARP and
// unicast traffic pass between every attached namespace.
type LAN struct {
	// NS holds the bridge and the bridge-side ends of the veth pairs.
	NS *NetNS
	// Bridge is the bridge device's name inside NS.
	Bridge string

	mu    sync.Mutex
	ports int
}

// NewLAN creates an empty LAN, removed at test cleanup.
//
// Equivalent to: ip -n LAN link add br0 type bridge mcast_snooping 0 && ip -n LAN link set br0 up
func NewLAN(tb testing.TB) *LAN {
	tb.Helper()
	l := &LAN{NS: NewNetNS(tb), Bridge: "br0"}
	l.NS.IP(tb, "link", "add", l.Bridge, "type", "bridge", "mcast_snooping", "0")
	l.NS.IP(tb, "link", "set", l.Bridge, "up")
	return l
}

// Attach plugs ns into the LAN: a veth pair whose end in ns is called
// ifname and carries addrs, both ends up.
//
// Equivalent to:
//
//	ip -n LAN link add pN type veth peer name IFNAME netns NS
//	ip -n LAN link set pN master br0 up
//	ip -n NS addr add ADDR dev IFNAME
//	ip -n NS link set IFNAME up
func (l *LAN) Attach(tb testing.TB, ns *NetNS, ifname string, addrs ...netip.Prefix) {
	tb.Helper()
	l.mu.Lock()
	l.ports++
	port := fmt.Sprintf("p%d", l.ports)
	l.mu.Unlock()
	l.NS.IP(tb, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns.Name)
	l.NS.IP(tb, "link", "set", port, "master", l.Bridge, "up")
	for _, a := range addrs {
		ns.IP(tb, "addr", "add", a.String(), "dev", ifname)
	}
	ns.IP(tb, "link", "set", ifname, "up")
}
