//go:build linux && integration

package ipvs_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/ipvs"
)

// kernel returns a handle on a fresh namespace and a function printing
// that namespace's table with ipvsadm -Sn, the independent oracle.
func kernel(t *testing.T) (*ipvs.Handle, *testutil.NetNS, func() string) {
	t.Helper()
	testutil.RequireKernel(t)
	ipvsadm := testutil.RequireTool(t, "ipvsadm")
	ns := testutil.NewNetNS(t)
	h, err := ipvs.New(ns.Path)
	if err != nil {
		t.Fatalf("ipvs.New(%s): %v", ns.Path, err)
	}
	t.Cleanup(func() { h.Close() })
	return h, ns, func() string { return ns.Run(t, ipvsadm, "-Sn") }
}

var ctx = context.Background()

func TestIntegrationRoundTripEveryField(t *testing.T) {
	h, ns, save := kernel(t)
	svcs := []ipvs.Service{
		{Protocol: ipvs.UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr", Flags: ipvs.FlagOnePacket},
		{Protocol: ipvs.TCP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5044, Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 300},
		{Protocol: ipvs.TCP, Address: netip.MustParseAddr("10.0.0.100"), Port: 80, Scheduler: "sh", Flags: ipvs.FlagPersistent | ipvs.FlagSched2, Timeout: 60, Netmask: 0xffffff00},
		{Protocol: ipvs.UDP, Address: netip.MustParseAddr("2001:db8::100"), Port: 5514, Scheduler: "wrr", Flags: ipvs.FlagPersistent, Timeout: 10},
	}
	dests := [][]ipvs.Destination{
		{{Address: netip.MustParseAddr("10.0.0.11"), Port: 5514, Weight: 1}, {Address: netip.MustParseAddr("10.0.0.12"), Port: 5514, Weight: 0}},
		{{Address: netip.MustParseAddr("10.0.0.11"), Port: 5044, Forwarding: ipvs.Route, Weight: ipvs.MaxWeight, UpperThreshold: 100, LowerThreshold: 10}},
		{{Address: netip.MustParseAddr("10.0.0.13"), Port: 80, Forwarding: ipvs.Tunnel, Weight: 2}},
		{{Address: netip.MustParseAddr("2001:db8::11"), Port: 6514, Weight: 5}},
	}
	for i, s := range svcs {
		if err := do(h, ipvs.OpAddService, s, ipvs.Destination{}); err != nil {
			t.Fatal(err)
		}
		for _, d := range dests[i] {
			if err := do(h, ipvs.OpAddDestination, s, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if w := h.Writes(); w != 9 {
		t.Errorf("Writes() = %d after 9 writes", w)
	}

	// moby/ipvs, an independent decoder, reads back every field written.
	got := mobyEntries(t, ns.Path)
	if len(got) != len(svcs) {
		t.Fatalf("moby/ipvs read %d services, wrote %d", len(got), len(svcs))
	}
	for i, s := range svcs {
		var g ipvs.Service
		var gd []ipvs.Destination
		for _, o := range got {
			if o.Service.Key() == s.Key() {
				g, gd = o.Service, o.Destinations
			}
		}
		want := s
		if want.Netmask == 0 {
			want.Netmask = ipvs.DefaultNetmask(s.Address)
		}
		if g != want {
			t.Errorf("moby/ipvs read service as %+v, wrote %+v", g, want)
		}
		if len(gd) != len(dests[i]) {
			t.Fatalf("%s: read %d destinations, wrote %d", s.Key(), len(gd), len(dests[i]))
		}
		for _, d := range dests[i] {
			found := false
			for _, o := range gd {
				o.Stats, o.ActiveConns, o.InactiveConns = ipvs.Stats{}, 0, 0
				if o == d {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: destination %+v not read back; got %+v", s.Key(), d, gd)
			}
		}
	}

	// hala's own decoder (Entries: one dump of services, one per service of
	// destinations) reads back the same fields: persistence timeout,
	// non-default netmask, IPv6, flags, thresholds.
	entries, err := h.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(svcs) {
		t.Fatalf("Entries read %d services, wrote %d", len(entries), len(svcs))
	}
	for i, s := range svcs {
		want := s
		if want.Netmask == 0 {
			want.Netmask = ipvs.DefaultNetmask(s.Address)
		}
		var e *ipvs.Entry
		for j := range entries {
			if entries[j].Service.Key() == s.Key() {
				e = &entries[j]
			}
		}
		if e == nil {
			t.Errorf("Entries lacks %s", s.Key())
			continue
		}
		g := e.Service
		g.Stats = ipvs.Stats{}
		if g != want {
			t.Errorf("Entries read service as %+v, wrote %+v", g, want)
		}
		if len(e.Destinations) != len(dests[i]) {
			t.Errorf("%s: Entries read %d destinations, wrote %d", s.Key(), len(e.Destinations), len(dests[i]))
		}
		for _, d := range dests[i] {
			found := false
			for _, o := range e.Destinations {
				o.Stats, o.ActiveConns, o.InactiveConns = ipvs.Stats{}, 0, 0
				found = found || o == d
			}
			if !found {
				t.Errorf("%s: Entries did not read back destination %+v; got %+v", s.Key(), d, e.Destinations)
			}
		}
	}

	// The oracle agrees, in ipvsadm's own words.
	out := save()
	for _, want := range []string{
		"-A -u 10.0.0.100:5514 -s rr -o",
		"-a -u 10.0.0.100:5514 -r 10.0.0.12:5514 -m -w 0",
		"-A -t 10.0.0.100:5044 -s wlc -p 300",
		"-a -t 10.0.0.100:5044 -r 10.0.0.11:5044 -g -w 65535",
		"-A -t 10.0.0.100:80 -s sh -p 60 -M 255.255.255.0 -b sh-port",
		"-a -t 10.0.0.100:80 -r 10.0.0.13:80 -i -w 2 --tun-type ipip",
		"-A -u [2001:db8::100]:5514 -s wrr -p 10",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("ipvsadm -Sn lacks %q:\n%s", want, out)
		}
	}
	// ipvsadm -S does not save thresholds; its listing shows them.
	th := ns.Run(t, testutil.RequireTool(t, "ipvsadm"), "-Ln", "--thresholds", "-t", "10.0.0.100:5044")
	found := false
	for _, line := range strings.Split(th, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "->" && f[1] == "10.0.0.11:5044" {
			found = f[2] == "100" && f[3] == "10"
		}
	}
	if !found {
		t.Errorf("ipvsadm -Ln --thresholds does not show 100/10:\n%s", th)
	}
}

func TestIntegrationErrors(t *testing.T) {
	h, _, save := kernel(t)
	s := ipvs.Service{Protocol: ipvs.UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}
	d := ipvs.Destination{Address: netip.MustParseAddr("10.0.0.11"), Port: 5514, Weight: 1}

	none := ipvs.Destination{}
	if err := do(h, ipvs.OpUpdateService, s, none); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("update of a missing service: %v, want ErrNotFound", err)
	}
	if err := do(h, ipvs.OpDeleteService, s, none); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("delete of a missing service: %v, want ErrNotFound", err)
	}
	if err := do(h, ipvs.OpAddDestination, s, d); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("destination on a missing service: %v, want ErrNotFound", err)
	}
	if err := do(h, ipvs.OpAddService, s, none); err != nil {
		t.Fatal(err)
	}
	if err := do(h, ipvs.OpAddService, s, none); !errors.Is(err, ipvs.ErrExists) {
		t.Errorf("duplicate service: %v, want ErrExists", err)
	}
	if err := do(h, ipvs.OpUpdateDestination, s, d); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("update of a missing destination: %v, want ErrNotFound", err)
	}
	bad := s
	bad.Scheduler = "nosuch"
	err := do(h, ipvs.OpUpdateService, bad, none)
	if !errors.Is(err, ipvs.ErrNoScheduler) || !strings.Contains(err.Error(), "ip_vs_nosuch") {
		t.Errorf("unknown scheduler: %v, want ErrNoScheduler naming ip_vs_nosuch", err)
	}
	heavy := d
	heavy.Weight = ipvs.MaxWeight + 1
	before := h.Writes()
	if err := do(h, ipvs.OpAddDestination, s, heavy); err == nil {
		t.Error("weight 65536 accepted: it would read back wrong")
	}
	if h.Writes() != before {
		t.Error("an invalid destination reached the kernel")
	}
	if out := save(); strings.Contains(out, "-a ") || !strings.Contains(out, "-A -u 10.0.0.100:5514 -s rr") {
		t.Errorf("table after the errors:\n%s", out)
	}
}

// A Handle is bound to its namespace: what it writes is invisible
// elsewhere, and a second namespace's table is its own.
func TestIntegrationHandlesAreBoundToTheirNamespace(t *testing.T) {
	h1, _, save1 := kernel(t)
	h2, _, save2 := kernel(t)
	s := ipvs.Service{Protocol: ipvs.UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}
	if err := do(h1, ipvs.OpAddService, s, ipvs.Destination{}); err != nil {
		t.Fatal(err)
	}
	if got, err := h2.Entries(ctx); err != nil || len(got) != 0 {
		t.Errorf("other namespace sees %v, %v", got, err)
	}
	if strings.Contains(save2(), "5514") || !strings.Contains(save1(), "5514") {
		t.Error("ipvsadm disagrees about which namespace holds the service")
	}
}

// Every call honours its context: a cancelled one sends nothing, and a
// call under a deadline returns by then.
func TestIntegrationCallsHonourTheirContext(t *testing.T) {
	h, _, save := kernel(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s := ipvs.Service{Protocol: ipvs.UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}
	if err := h.Batch(cctx, []ipvs.Request{{Op: ipvs.OpAddService, Service: s}})[0]; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled add: %v", err)
	}
	if strings.Contains(save(), "5514") {
		t.Error("a cancelled call changed the table")
	}
	h.Timeout = time.Second
	start := time.Now()
	if err := do(h, ipvs.OpAddService, s, ipvs.Destination{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Entries(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("two calls took %v", d)
	}
}
