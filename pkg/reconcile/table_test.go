package reconcile

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/hala-lb/hala/pkg/ipvs"
)

// TestSortDestinations: sorted, reversed (the kernel's newest-first order
// of a table written in order) and shuffled lists all come out sorted.
func TestSortDestinations(t *testing.T) {
	var want []ipvs.Destination
	for i := 1; i <= 10; i++ {
		want = append(want, ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), Port: 5514, Weight: i})
	}
	shuffled := slices.Clone(want)
	shuffled[0], shuffled[5], shuffled[9] = shuffled[9], shuffled[0], shuffled[5]
	for name, in := range map[string][]ipvs.Destination{
		"sorted":   slices.Clone(want),
		"reversed": func() []ipvs.Destination { r := slices.Clone(want); slices.Reverse(r); return r }(),
		"shuffled": shuffled,
	} {
		sortDestinations(in)
		if !slices.Equal(in, want) {
			t.Errorf("%s: got %v, want %v", name, in, want)
		}
	}
}

// TestTableSortOrdersServices: services in the kernel's hash order come
// out by key, each with its own destinations.
func TestTableSortOrdersServices(t *testing.T) {
	var tab Table
	for _, port := range []uint16{5003, 5001, 5004, 5000, 5002} {
		tab = append(tab, Entry{
			Service:      ipvs.Service{Protocol: ipvs.UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: port, Scheduler: "rr"},
			Destinations: []ipvs.Destination{{Address: netip.MustParseAddr("10.1.0.1"), Port: port}},
		})
	}
	tab.sort()
	for i, e := range tab {
		if want := uint16(5000 + i); e.Service.Port != want || e.Destinations[0].Port != want {
			t.Errorf("entry %d: service port %d with destination port %d, want %d for both", i, e.Service.Port, e.Destinations[0].Port, want)
		}
	}
}
