//go:build linux && integration

package ipvs_test

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"

	moby "github.com/moby/ipvs"

	"github.com/hala-lb/hala/pkg/ipvs"
)

// do makes one request on h, as a batch of one.
func do(h *ipvs.Handle, op ipvs.Op, s ipvs.Service, d ipvs.Destination) error {
	return h.Batch(ctx, []ipvs.Request{{Op: op, Service: s, Destination: d}})[0]
}

// mobyEntries reads the table of the namespace at nsPath with
// github.com/moby/ipvs, a decoder independent of hala's, in the kernel's
// order and in hala's types, counters left out.
func mobyEntries(t *testing.T, nsPath string) []ipvs.Entry {
	t.Helper()
	mh, err := moby.New(nsPath)
	if err != nil {
		t.Fatalf("moby/ipvs: %v", err)
	}
	defer mh.Close()
	ms, err := mh.GetServices()
	if err != nil {
		t.Fatalf("moby/ipvs: list services: %v", err)
	}
	var out []ipvs.Entry
	for _, m := range ms {
		s := ipvs.Service{
			Protocol:  ipvs.Protocol(m.Protocol),
			Port:      m.Port,
			FWMark:    m.FWMark,
			Scheduler: m.SchedName,
			Flags:     ipvs.Flags(m.Flags) &^ ipvs.FlagHashed,
			Timeout:   m.Timeout,
			Netmask:   m.Netmask,
		}
		switch a, ok := netip.AddrFromSlice(m.Address); {
		case ok && m.FWMark == 0:
			s.Address = a.Unmap()
		case m.AddressFamily == syscall.AF_INET6:
			s.Address = netip.IPv6Unspecified()
		default:
			s.Address = netip.IPv4Unspecified()
		}
		if s.Address.Is4() {
			// The kernel holds the mask's bytes in network order.
			var b [4]byte
			binary.NativeEndian.PutUint32(b[:], m.Netmask)
			s.Netmask = binary.BigEndian.Uint32(b[:])
		}
		md, err := mh.GetDestinations(m)
		if err != nil {
			t.Fatalf("moby/ipvs: list destinations of %s: %v", s.Key(), err)
		}
		e := ipvs.Entry{Service: s}
		for _, d := range md {
			a, ok := netip.AddrFromSlice(d.Address)
			if !ok {
				t.Fatalf("moby/ipvs: destination address %v", d.Address)
			}
			e.Destinations = append(e.Destinations, ipvs.Destination{
				Address:        a.Unmap(),
				Port:           d.Port,
				Forwarding:     ipvs.Forwarding(d.ConnectionFlags & moby.ConnectionFlagFwdMask),
				Weight:         d.Weight,
				UpperThreshold: d.UpperThreshold,
				LowerThreshold: d.LowerThreshold,
				ActiveConns:    d.ActiveConnections,
				InactiveConns:  d.InactiveConnections,
			})
		}
		out = append(out, e)
	}
	return out
}

// withoutCounters returns e with every counter zeroed, as mobyEntries
// reads it.
func withoutCounters(e ipvs.Entry) ipvs.Entry {
	e.Service.Stats = ipvs.Stats{}
	ds := make([]ipvs.Destination, len(e.Destinations))
	for i, d := range e.Destinations {
		d.Stats, d.ActiveConns, d.InactiveConns = ipvs.Stats{}, 0, 0
		ds[i] = d
	}
	e.Destinations = ds
	return e
}
