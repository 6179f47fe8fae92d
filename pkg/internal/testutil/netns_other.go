//go:build !linux

package testutil

import (
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"testing"
)

// errNoNetNS is returned by the stubs: network namespaces are Linux-only.
var errNoNetNS = errors.New("network namespaces need linux, not " + runtime.GOOS)

// NetNS is a named network namespace created for one test (Linux only).
type NetNS struct {
	// Name is the namespace's name, as "ip netns list" shows it.
	Name string
	// Path is the namespace's bind mount, /run/netns/<Name>.
	Path string
}

// NewNetNS skips the test (or fails it under HALA_REQUIRE_KERNEL=1): there
// are no network namespaces on this platform.
func NewNetNS(tb testing.TB) *NetNS {
	tb.Helper()
	skipOrFail(tb, envOn(EnvRequireKernel), "%v", errNoNetNS)
	return nil
}

// NewNamedNetNS skips the test like NewNetNS.
func NewNamedNetNS(tb testing.TB, name string) *NetNS {
	tb.Helper()
	return NewNetNS(tb)
}

// NetNSPrefix is what every namespace name of this test process starts with.
func NetNSPrefix() string { return "" }

// String returns the namespace's name.
func (ns *NetNS) String() string { return ns.Name }

// Cmd returns a command that fails: there are no namespaces here.
func (ns *NetNS) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("false")
}

// Run fails the test: there are no namespaces here.
func (ns *NetNS) Run(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	tb.Fatal(errNoNetNS)
	return ""
}

// IP fails the test: there are no namespaces here.
func (ns *NetNS) IP(tb testing.TB, args ...string) string {
	tb.Helper()
	tb.Fatal(errNoNetNS)
	return ""
}

// Do returns an error: there are no namespaces here.
func (ns *NetNS) Do(f func() error) error { return errNoNetNS }

// Listen fails the test: there are no namespaces here.
func (ns *NetNS) Listen(tb testing.TB, network, address string) net.Listener {
	tb.Helper()
	tb.Fatal(errNoNetNS)
	return nil
}

// ListenPacket fails the test: there are no namespaces here.
func (ns *NetNS) ListenPacket(tb testing.TB, network, address string) net.PacketConn {
	tb.Helper()
	tb.Fatal(errNoNetNS)
	return nil
}

// LAN is a layer-2 segment of test namespaces (Linux only).
type LAN struct {
	// NS holds the bridge.
	NS *NetNS
	// Bridge is the bridge device's name inside NS.
	Bridge string
}

// NewLAN skips the test (or fails it under HALA_REQUIRE_KERNEL=1).
func NewLAN(tb testing.TB) *LAN {
	tb.Helper()
	skipOrFail(tb, envOn(EnvRequireKernel), "%v", errNoNetNS)
	return nil
}

// Attach fails the test: there are no namespaces here.
func (l *LAN) Attach(tb testing.TB, ns *NetNS, ifname string, addrs ...netip.Prefix) {
	tb.Helper()
	tb.Fatal(errNoNetNS)
}
