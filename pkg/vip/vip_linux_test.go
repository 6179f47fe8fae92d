//go:build linux && integration

package vip_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/vip"
)

// newNS returns a throwaway namespace with an interface "eth0" (one end of
// a veth pair) that already carries 10.0.0.1/24, and a Handle bound to it.
func newNS(t *testing.T) (*testutil.NetNS, *vip.Handle) {
	t.Helper()
	ns := testutil.NewNetNS(t)
	ns.IP(t, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	ns.IP(t, "addr", "add", "10.0.0.1/24", "dev", "eth0")
	ns.IP(t, "link", "set", "eth0", "up")
	h, err := vip.New(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return ns, h
}

// addrs lists "ip -br addr" of one interface, e.g. "10.0.0.1/24 10.0.0.100/24".
func addrs(t *testing.T, ns *testutil.NetNS, ifname string) string {
	t.Helper()
	f := strings.Fields(ns.IP(t, "-br", "addr", "show", "dev", ifname))
	if len(f) < 2 {
		t.Fatalf("ip -br addr show dev %s: %q", ifname, f)
	}
	var out []string
	for _, a := range f[2:] {
		if !strings.HasPrefix(a, "fe80:") {
			out = append(out, a)
		}
	}
	return strings.Join(out, " ")
}

func TestIntegrationAddIsIdempotentAndKeepsOtherAddresses(t *testing.T) {
	testutil.RequireKernel(t)
	ns, h := newNS(t)
	a := vip.Address{Name: "vip1", Prefix: netip.MustParsePrefix("10.0.0.100/24"), Interface: "eth0"}

	c, err := h.Add(a)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != vip.Added {
		t.Fatalf("first add: %v, want added", c)
	}
	if got, want := c.String(), "vip1: added 10.0.0.100/24 dev eth0 (ip addr add 10.0.0.100/24 dev eth0)"; got != want {
		t.Errorf("change = %q, want %q", got, want)
	}
	if got, want := addrs(t, ns, "eth0"), "10.0.0.1/24 10.0.0.100/24"; got != want {
		t.Fatalf("eth0 holds %q, want %q", got, want)
	}

	c, err = h.Add(a)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != vip.Unchanged {
		t.Fatalf("second add: %v, want unchanged", c)
	}
	if got, want := addrs(t, ns, "eth0"), "10.0.0.1/24 10.0.0.100/24"; got != want {
		t.Fatalf("after second add eth0 holds %q, want %q", got, want)
	}
}

func TestIntegrationAddReplacesOtherPrefixLength(t *testing.T) {
	testutil.RequireKernel(t)
	ns, h := newNS(t)
	ns.IP(t, "addr", "add", "10.0.0.100/32", "dev", "eth0")
	c, err := h.Add(vip.Address{Name: "vip1", Prefix: netip.MustParsePrefix("10.0.0.100/24"), Interface: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != vip.Replaced || c.Old != netip.MustParsePrefix("10.0.0.100/32") {
		t.Fatalf("add over /32: %+v, want replaced /32", c)
	}
	if got, want := addrs(t, ns, "eth0"), "10.0.0.1/24 10.0.0.100/24"; got != want {
		t.Fatalf("eth0 holds %q, want %q", got, want)
	}
}

func TestIntegrationDeleteIsIdempotentAndKeepsOtherAddresses(t *testing.T) {
	testutil.RequireKernel(t)
	ns, h := newNS(t)
	a := vip.Address{Name: "vip1", Prefix: netip.MustParsePrefix("10.0.0.100/24"), Interface: "eth0"}
	ns.IP(t, "addr", "add", "10.0.0.100/24", "dev", "eth0")
	ns.IP(t, "addr", "add", "10.0.0.101/24", "dev", "eth0")

	c, err := h.Delete(a)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != vip.Deleted {
		t.Fatalf("first delete: %v, want deleted", c)
	}
	if got, want := addrs(t, ns, "eth0"), "10.0.0.1/24 10.0.0.101/24"; got != want {
		t.Fatalf("eth0 holds %q, want %q", got, want)
	}
	c, err = h.Delete(a)
	if err != nil {
		t.Fatal(err)
	}
	if c.Action != vip.Unchanged {
		t.Fatalf("second delete: %v, want unchanged", c)
	}
}

func TestIntegrationAddIPv6(t *testing.T) {
	testutil.RequireKernel(t)
	ns, h := newNS(t)
	a := vip.Address{Name: "vip6", Prefix: netip.MustParsePrefix("fd00::100/64"), Interface: "eth0"}
	if c, err := h.Add(a); err != nil || c.Action != vip.Added {
		t.Fatalf("add: %v, %v", c, err)
	}
	out := ns.IP(t, "-6", "addr", "show", "dev", "eth0")
	if !strings.Contains(out, "fd00::100/64") || strings.Contains(out, "tentative") {
		t.Fatalf("want fd00::100/64 usable at once (no DAD), got:\n%s", out)
	}
	if c, err := h.Add(a); err != nil || c.Action != vip.Unchanged {
		t.Fatalf("second add: %v, %v", c, err)
	}
}

// A missing interface is an error for Delete as for Add: a wrong name in
// the inventory must not pass as "nothing to delete" while the VIP stays
// held on the right interface.
func TestIntegrationMissingInterface(t *testing.T) {
	testutil.RequireKernel(t)
	_, h := newNS(t)
	a := vip.Address{Name: "vip1", Prefix: netip.MustParsePrefix("10.0.0.100/24"), Interface: "bond0"}
	for verb, do := range map[string]func(vip.Address) (vip.Change, error){"add": h.Add, "delete": h.Delete} {
		_, err := do(a)
		if !errors.Is(err, vip.ErrNoInterface) {
			t.Fatalf("%s: err = %v, want ErrNoInterface", verb, err)
		}
		if !strings.Contains(err.Error(), "bond0") {
			t.Errorf("%s: error %q does not name the interface", verb, err)
		}
	}
}

func TestIntegrationShow(t *testing.T) {
	testutil.RequireKernel(t)
	ns, h := newNS(t)
	ns.IP(t, "link", "set", "eth1", "up")
	ns.IP(t, "addr", "add", "10.0.0.100/24", "dev", "eth0")
	ns.IP(t, "addr", "add", "10.0.0.101/32", "dev", "eth0")
	ns.IP(t, "addr", "add", "10.0.0.101/24", "dev", "eth1")
	got, err := h.Show([]vip.Address{
		{Name: "a", Prefix: netip.MustParsePrefix("10.0.0.100/24"), Interface: "eth0"},
		{Name: "b", Prefix: netip.MustParsePrefix("10.0.0.101/24"), Interface: "eth0"},
		{Name: "c", Prefix: netip.MustParsePrefix("10.0.0.102/24"), Interface: "eth0"},
		{Name: "d", Prefix: netip.MustParsePrefix("10.0.0.103/24"), Interface: "bond0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a  10.0.0.100/24 dev eth0  present",
		"b  10.0.0.101/24 dev eth0  absent, also on eth0 (/32), eth1",
		"c  10.0.0.102/24 dev eth0  absent",
		"d  10.0.0.103/24 dev bond0  absent (no interface bond0)",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d states, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("state %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestIntegrationHandleStaysInItsNamespace(t *testing.T) {
	testutil.RequireKernel(t)
	ns1, h1 := newNS(t)
	ns2, _ := newNS(t)
	if _, err := h1.Add(vip.Address{Name: "vip1", Prefix: netip.MustParsePrefix("10.0.0.100/24"), Interface: "eth0"}); err != nil {
		t.Fatal(err)
	}
	if got := addrs(t, ns1, "eth0"); got != "10.0.0.1/24 10.0.0.100/24" {
		t.Fatalf("ns1 eth0 holds %q", got)
	}
	if got := addrs(t, ns2, "eth0"); got != "10.0.0.1/24" {
		t.Fatalf("ns2 eth0 holds %q: the handle leaked out of its namespace", got)
	}
}

func TestIntegrationAddDummy(t *testing.T) {
	testutil.RequireKernel(t)
	ns, h := newNS(t)
	for range 2 { // the second call finds it and only sets it up
		if err := h.AddDummy("hala0"); err != nil {
			t.Fatal(err)
		}
	}
	if out := ns.IP(t, "-d", "link", "show", "hala0"); !strings.Contains(out, "dummy") || !strings.Contains(out, ",UP") {
		t.Errorf("hala0: %s", out)
	}
	if _, err := h.Add(vip.Address{Name: "v", Prefix: netip.MustParsePrefix("10.99.0.10/32"), Interface: "hala0"}); err != nil {
		t.Fatal(err)
	}
	if got := addrs(t, ns, "hala0"); got != "10.99.0.10/32" {
		t.Errorf("hala0 holds %q", got)
	}
	if err := h.AddDummy("eth0"); err == nil || !strings.Contains(err.Error(), "not a dummy") {
		t.Errorf("AddDummy(eth0) = %v, want: not a dummy", err)
	}
}
