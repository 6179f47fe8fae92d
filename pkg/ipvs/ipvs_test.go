package ipvs

import (
	"net/netip"
	"strings"
	"testing"
)

func TestServiceKeyStringParseCompare(t *testing.T) {
	keys := []ServiceKey{
		{Protocol: TCP, AddrPort: netip.MustParseAddrPort("10.0.0.100:80")},
		{Protocol: UDP, AddrPort: netip.MustParseAddrPort("10.0.0.100:80")},
		{Protocol: UDP, AddrPort: netip.MustParseAddrPort("10.0.0.100:5514")},
		{Protocol: SCTP, AddrPort: netip.MustParseAddrPort("10.0.0.101:1")},
		{Protocol: UDP, AddrPort: netip.MustParseAddrPort("[2001:db8::1]:5514")},
		{FWMark: 3, AddrPort: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)},
		{FWMark: 3, AddrPort: netip.AddrPortFrom(netip.IPv6Unspecified(), 0)},
	}
	want := []string{"TCP 10.0.0.100:80", "UDP 10.0.0.100:80", "UDP 10.0.0.100:5514", "SCTP 10.0.0.101:1",
		"UDP [2001:db8::1]:5514", "FWM 3", "FWM 3 IPv6"}
	for i, k := range keys {
		if k.String() != want[i] {
			t.Errorf("String() = %q, want %q", k.String(), want[i])
		}
		back, err := ParseServiceKey(k.String())
		if err != nil || back != k {
			t.Errorf("ParseServiceKey(%q) = %v, %v; want %v", k.String(), back, err, k)
		}
		for j, o := range keys {
			c := k.Compare(o)
			if (i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0) {
				t.Errorf("%s.Compare(%s) = %d, want order %d vs %d", k, o, c, i, j)
			}
		}
	}
	for _, bad := range []string{"", "UDP", "ICMP 1.2.3.4:5", "UDP 1.2.3.4", "FWM x", "FWM 0"} {
		if _, err := ParseServiceKey(bad); err == nil {
			t.Errorf("ParseServiceKey(%q) accepted", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Service{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid service: %v", err)
	}
	bad := map[string]Service{
		"no scheduler": {Protocol: UDP, Address: ok.Address, Port: 1},
		"port 0":       {Protocol: UDP, Address: ok.Address, Scheduler: "rr"},
		"hashed":       {Protocol: UDP, Address: ok.Address, Port: 1, Scheduler: "rr", Flags: FlagHashed},
		"persistent 0": {Protocol: UDP, Address: ok.Address, Port: 1, Scheduler: "rr", Flags: FlagPersistent},
		"protocol":     {Protocol: 1, Address: ok.Address, Port: 1, Scheduler: "rr"},
		"v6 netmask":   {Protocol: UDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 1, Scheduler: "rr", Netmask: 129},
	}
	for name, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	d := Destination{Address: netip.MustParseAddr("10.0.0.11"), Port: 5514, Weight: MaxWeight}
	if err := d.Validate(); err != nil {
		t.Errorf("weight %d: %v", MaxWeight, err)
	}
	d.Weight = 0
	if err := d.Validate(); err != nil {
		t.Errorf("weight 0 (quiesced): %v", err)
	}
	for _, w := range []int{-1, MaxWeight + 1, 1 << 20} {
		d.Weight = w
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "out of range 0-65535") {
			t.Errorf("weight %d: err = %v, want out of range", w, err)
		}
	}
}

func TestIpvsadmEquivalents(t *testing.T) {
	s := Service{Protocol: UDP, Address: netip.MustParseAddr("192.0.2.10"), Port: 5514, Scheduler: "rr", Flags: FlagOnePacket}
	if got := s.IpvsadmArgs(); got != "-u 192.0.2.10:5514 -s rr -o" {
		t.Errorf("ops service: %q", got)
	}
	s = Service{Protocol: TCP, Address: netip.MustParseAddr("2001:db8::10"), Port: 5044, Scheduler: "wlc",
		Flags: FlagPersistent, Timeout: 300, Netmask: 64}
	if got := s.IpvsadmArgs(); got != "-t [2001:db8::10]:5044 -s wlc -p 300 -M 64" {
		t.Errorf("persistent v6 service: %q", got)
	}
	s = Service{Protocol: TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "sh",
		Flags: FlagPersistent | FlagSched2, Timeout: 60, Netmask: 0xffffff00}
	if got := s.IpvsadmArgs(); got != "-t 192.0.2.10:80 -s sh -p 60 -M 255.255.255.0 -b sh-port" {
		t.Errorf("sh service: %q", got)
	}
	s = Service{Protocol: TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 6514, Scheduler: "mh", Flags: FlagMHFallback | FlagMHPort}
	if got := s.IpvsadmArgs(); got != "-t 192.0.2.10:6514 -s mh -b mh-fallback,mh-port" {
		t.Errorf("mh service: %q", got)
	}
	if got := s.String(); got != "TCP 192.0.2.10:6514 mh mh-fallback,mh-port" {
		t.Errorf("mh service: %q", got)
	}
	s = Service{Protocol: TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "wrr", Flags: FlagSched3}
	if got := s.IpvsadmArgs(); got != "-t 192.0.2.10:80 -s wrr -b flag-3" {
		t.Errorf("wrr service: %q", got)
	}
	d := Destination{Address: netip.MustParseAddr("192.0.2.21"), Port: 5514, Forwarding: Route, Weight: 2, UpperThreshold: 100}
	if got := d.IpvsadmArgs(); got != "-r 192.0.2.21:5514 -g -w 2 -x 100" {
		t.Errorf("destination: %q", got)
	}
}

func TestStrings(t *testing.T) {
	if got := (FlagPersistent | FlagOnePacket | FlagHashed | 0x400).String(); got != "persistent,hashed,ops,0x400" {
		t.Errorf("flags: %q", got)
	}
	if got := Flags(0).String(); got != "none" {
		t.Errorf("no flags: %q", got)
	}
	for in, want := range map[string]Forwarding{"nat": Masq, "DR": Route, "tun": Tunnel} {
		if got, err := ParseForwarding(in); err != nil || got != want {
			t.Errorf("ParseForwarding(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseForwarding("fullnat"); err == nil {
		t.Error("ParseForwarding accepted fullnat")
	}
	s := Service{Protocol: TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 60}
	if got := s.String(); got != "TCP 192.0.2.10:80 wlc persistent 60" {
		t.Errorf("service: %q", got)
	}
}
