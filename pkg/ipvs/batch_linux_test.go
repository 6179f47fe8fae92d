//go:build linux && integration

package ipvs_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/ipvs"
)

func udp(port uint16, sched string) ipvs.Service {
	return ipvs.Service{Protocol: ipvs.UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: port, Scheduler: sched, Flags: ipvs.FlagOnePacket}
}

func dest(last byte, port uint16) ipvs.Destination {
	return ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 0, 0, last}), Port: port, Weight: 1}
}

func sortedRules(s string) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return lines
}

// Batch makes every request in order, as ipvsadm sees it; Entries reads
// back what moby/ipvs reads, field for field.
func TestIntegrationBatchAndEntries(t *testing.T) {
	h, ns, save := kernel(t)
	var reqs []ipvs.Request
	for port := uint16(5000); port < 5300; port++ {
		s := udp(port, "rr")
		reqs = append(reqs, ipvs.Request{Op: ipvs.OpAddService, Service: s})
		for last := byte(11); last <= 13; last++ {
			reqs = append(reqs, ipvs.Request{Op: ipvs.OpAddDestination, Service: s, Destination: dest(last, port)})
		}
	}
	// One service with 200 destinations: its destination dump takes several
	// parts (replies are read with a buffer of a page or two).
	wide := udp(6000, "rr")
	reqs = append(reqs, ipvs.Request{Op: ipvs.OpAddService, Service: wide})
	for port := uint16(7000); port < 7200; port++ {
		reqs = append(reqs, ipvs.Request{Op: ipvs.OpAddDestination, Service: wide, Destination: dest(11, port)})
	}
	// Edits and deletes in the same batches as the adds.
	s := udp(5000, "rr")
	d := dest(11, 5000)
	d.Weight, d.Forwarding = 7, ipvs.Tunnel
	reqs = append(reqs,
		ipvs.Request{Op: ipvs.OpUpdateDestination, Service: s, Destination: d},
		ipvs.Request{Op: ipvs.OpDeleteDestination, Service: s, Destination: dest(12, 5000)},
		ipvs.Request{Op: ipvs.OpDeleteService, Service: udp(5001, "")},
		ipvs.Request{Op: ipvs.OpUpdateService, Service: udp(5002, "wrr")},
	)
	for i, err := range h.Batch(ctx, reqs) {
		if err != nil {
			t.Fatalf("request %d (%s): %v", i, reqs[i], err)
		}
	}
	if w := h.Writes(); w != uint64(len(reqs)) {
		t.Errorf("Writes() = %d after %d requests", w, len(reqs))
	}
	rules := sortedRules(save())
	if n, want := len(rules), 299*4-1+201; n != want {
		t.Errorf("ipvsadm -Sn lists %d rules, want %d", n, want)
	}
	for _, want := range []string{
		"-A -u 10.0.0.100:5002 -s wrr -o",
		"-a -u 10.0.0.100:5000 -r 10.0.0.11:5000 -i -w 7", // ipvsadm may add tunnel options
		"-a -u 10.0.0.100:5299 -r 10.0.0.13:5299 -m -w 1",
	} {
		if !slices.ContainsFunc(rules, func(r string) bool { return r == want || strings.HasPrefix(r, want+" ") }) {
			t.Errorf("ipvsadm -Sn lacks %q:\n%s", want, strings.Join(rules[:min(8, len(rules))], "\n"))
		}
	}
	for _, gone := range []string{"-A -u 10.0.0.100:5001 -s rr -o", "-a -u 10.0.0.100:5000 -r 10.0.0.12:5000 -m -w 1"} {
		if _, ok := slices.BinarySearch(rules, gone); ok {
			t.Errorf("ipvsadm -Sn still has %q", gone)
		}
	}

	entries, err := h.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mobys := mobyEntries(t, ns.Path)
	if len(entries) != len(mobys) || len(mobys) != 300 {
		t.Fatalf("Entries read %d services, moby/ipvs %d; want 300", len(entries), len(mobys))
	}
	for i, e := range entries {
		e = withoutCounters(e)
		if e.Service != mobys[i].Service {
			t.Errorf("Entries: %+v\nmoby/ipvs: %+v", e.Service, mobys[i].Service)
		}
		if e.Service.Port == 6000 && len(e.Destinations) != 200 {
			t.Errorf("service %s: Entries read %d destinations, want 200", e.Service.Key(), len(e.Destinations))
		}
		if !slices.Equal(e.Destinations, mobys[i].Destinations) {
			t.Errorf("destinations of %s: Entries %+v, moby/ipvs %+v", e.Service.Key(), e.Destinations, mobys[i].Destinations)
		}
	}
}

// A failure stops Batch after the batch it is in: the requests after it in
// that batch were made and say so, later batches are not sent. A failed
// service add ends its batch, so its destinations are never sent.
func TestIntegrationBatchStopsAfterAFailedBatch(t *testing.T) {
	h, _, save := kernel(t)
	a, b := udp(5514, "rr"), udp(6514, "rr")
	reqs := []ipvs.Request{
		{Op: ipvs.OpAddService, Service: a},
		{Op: ipvs.OpAddDestination, Service: a, Destination: dest(11, 5514)},
		{Op: ipvs.OpAddDestination, Service: a, Destination: dest(11, 5514)}, // again: EEXIST
		{Op: ipvs.OpAddDestination, Service: a, Destination: dest(12, 5514)},
		{Op: ipvs.OpAddService, Service: b},
		{Op: ipvs.OpAddDestination, Service: b, Destination: dest(11, 6514)},
	}
	errs := h.Batch(ctx, reqs)
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ipvs.ErrExists) || errs[3] != nil || errs[4] != nil ||
		!errors.Is(errs[5], ipvs.ErrNotAttempted) {
		t.Errorf("results: %v", errs)
	}
	if want := "add destination 10.0.0.11:5514 on UDP 10.0.0.100:5514: destination already exists"; errs[2] == nil || errs[2].Error() != want {
		t.Errorf("error = %v, want %q", errs[2], want)
	}
	if h.Writes() != 5 {
		t.Errorf("Writes() = %d, want 5 (the last request not sent)", h.Writes())
	}
	want := sortedRules(`-A -u 10.0.0.100:5514 -s rr -o
-a -u 10.0.0.100:5514 -r 10.0.0.11:5514 -m -w 1
-a -u 10.0.0.100:5514 -r 10.0.0.12:5514 -m -w 1
-A -u 10.0.0.100:6514 -s rr -o`)
	if got := sortedRules(save()); !slices.Equal(got, want) {
		t.Errorf("ipvsadm -Sn:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	c := udp(7514, "nosuch")
	errs = h.Batch(ctx, []ipvs.Request{
		{Op: ipvs.OpAddService, Service: c},
		{Op: ipvs.OpAddDestination, Service: c, Destination: dest(11, 7514)},
	})
	if !errors.Is(errs[0], ipvs.ErrNoScheduler) || !errors.Is(errs[1], ipvs.ErrNotAttempted) || h.Writes() != 6 {
		t.Errorf("missing scheduler: results %v, %d writes", errs, h.Writes())
	}

	// An invalid request is refused before it is sent; those before it
	// are made.
	errs = h.Batch(ctx, []ipvs.Request{
		{Op: ipvs.OpAddDestination, Service: b, Destination: dest(12, 6514)},
		{Op: ipvs.OpAddDestination, Service: b, Destination: ipvs.Destination{Address: netip.MustParseAddr("10.0.0.13"), Port: 6514, Weight: 70000}},
		{Op: ipvs.OpAddDestination, Service: b, Destination: dest(14, 6514)},
	})
	if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "weight 70000 out of range") || !errors.Is(errs[2], ipvs.ErrNotAttempted) || h.Writes() != 7 {
		t.Errorf("invalid request: results %v, %d writes", errs, h.Writes())
	}
}
