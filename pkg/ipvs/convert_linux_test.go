//go:build linux

package ipvs

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"

	moby "github.com/moby/ipvs"
)

// On a kernel without IPVS, moby/ipvs would hand out a handle that
// "succeeds" at everything; New must refuse instead.
func TestNewFailsClearlyWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS loaded; the integration tests cover it")
	}
	h, err := New("")
	if err == nil {
		h.Close()
		t.Skip("IPVS became available (ip_vs loaded on demand)")
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("New without IPVS: err = %v, want ErrUnsupported", err)
	}
	if want := `IPVS not supported: the kernel has no generic netlink family "IPVS" (ip_vs module not loaded)`; err.Error() != want {
		t.Errorf("message = %q, want %q", err.Error(), want)
	}
}

func TestMobyConversion(t *testing.T) {
	s := Service{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr", Flags: FlagOnePacket}
	m, err := toMobyService(s)
	if err != nil {
		t.Fatal(err)
	}
	if m.Netmask != 0xffffffff || m.AddressFamily != syscall.AF_INET || m.Flags != uint32(FlagOnePacket) || !m.Address.Equal(net.ParseIP("10.0.0.100")) {
		t.Errorf("to moby: %+v", m)
	}
	// What the kernel sends back: 4 address bytes and the hashed flag.
	m.Address = m.Address.To4()
	m.Flags |= uint32(FlagHashed)
	back, err := fromMobyService(m)
	if err != nil {
		t.Fatal(err)
	}
	s.Netmask = 0xffffffff
	if back != s {
		t.Errorf("round trip: %+v, want %+v", back, s)
	}

	// The kernel holds an IPv4 netmask as bytes in network order.
	s.Flags, s.Timeout, s.Netmask = FlagPersistent, 60, 0xffffff00
	m, _ = toMobyService(s)
	var raw [4]byte
	binary.NativeEndian.PutUint32(raw[:], m.Netmask)
	if raw != [4]byte{255, 255, 255, 0} {
		t.Errorf("netmask 255.255.255.0 sent as bytes %v", raw)
	}
	if back, _ := fromMobyService(m); back.Netmask != 0xffffff00 {
		t.Errorf("netmask read back as %#x", back.Netmask)
	}

	v6 := Service{Protocol: TCP, Address: netip.MustParseAddr("2001:db8::1"), Port: 80, Scheduler: "wlc"}
	m, _ = toMobyService(v6)
	if m.Netmask != 128 || m.AddressFamily != syscall.AF_INET6 {
		t.Errorf("IPv6 to moby: %+v", m)
	}

	fw, err := fromMobyService(&moby.Service{FWMark: 5, AddressFamily: syscall.AF_INET6, SchedName: "rr"})
	if err != nil || fw.Key().String() != "FWM 5 IPv6" {
		t.Errorf("fwmark service: %v, %v", fw.Key(), err)
	}

	d := Destination{Address: netip.MustParseAddr("10.0.0.11"), Port: 5514, Forwarding: Route, Weight: MaxWeight}
	md := &moby.Destination{Address: net.ParseIP("10.0.0.11").To4(), Port: 5514, ConnectionFlags: uint32(Route), Weight: MaxWeight, AddressFamily: syscall.AF_INET}
	md.ConnectionFlags |= 0x0100 // a connection flag above the forwarding bits
	dback, err := fromMobyDestination(md)
	if err != nil || dback != d {
		t.Errorf("destination round trip: %+v, %v; want %+v", dback, err, d)
	}
	if _, err := toMobyService(Service{Protocol: UDP, Address: netip.MustParseAddr("::ffff:10.0.0.1"), Port: 1, Scheduler: "rr"}); err == nil {
		t.Error("an IPv4-mapped IPv6 service address was accepted")
	}
}
