//go:build linux

package ipvs

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"
)

// encoded returns the attributes of the one request c.out holds (after
// the netlink and generic netlink headers), checking its length field.
func encoded(t *testing.T, c *conn) []byte {
	t.Helper()
	if l := int(binary.NativeEndian.Uint32(c.out)); l != len(c.out) {
		t.Fatalf("message length field %d, message is %d bytes", l, len(c.out))
	}
	return c.out[16+genlHeaderLen:]
}

// What hala sends for a service is what it reads back from a reply with
// the same attributes, field for field; the byte orders are the kernel's.
func TestServiceEncodingRoundTrip(t *testing.T) {
	for _, s := range []Service{
		{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr", Flags: FlagOnePacket, Netmask: 0xffffffff},
		{Protocol: TCP, Address: netip.MustParseAddr("10.0.0.100"), Port: 80, Scheduler: "sh", Flags: FlagPersistent | FlagSched2, Timeout: 60, Netmask: 0xffffff00},
		{Protocol: UDP, Address: netip.MustParseAddr("2001:db8::100"), Port: 5514, Scheduler: "wrr", Flags: FlagPersistent, Timeout: 10, Netmask: 128},
		{FWMark: 7, Address: netip.IPv4Unspecified(), Scheduler: "wlc", Netmask: 0xffffffff},
	} {
		c := &conn{family: 42}
		seq := c.encode(Request{Op: OpAddService, Service: s}, true)
		if seq != 1 || binary.NativeEndian.Uint16(c.out[4:]) != 42 || c.out[16] != cmdNewService {
			t.Errorf("%s: header %x", s, c.out[:20])
		}
		b := encoded(t, c)
		back, err := decodeService(b)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if back != s {
			t.Errorf("round trip: %+v, want %+v", back, s)
		}
		svc := nested(b, attrService)
		if s.FWMark == 0 {
			if port := nested(svc, svcAttrPort); binary.BigEndian.Uint16(port) != s.Port {
				t.Errorf("%s: port sent as %x, want network byte order", s, port)
			}
		}
		if fl := nested(svc, svcAttrFlags); binary.NativeEndian.Uint32(fl[4:]) != ^uint32(0) {
			t.Errorf("%s: flags mask %x, want every flag set from the request", s, fl)
		}
		if s.Address.Is4() && s.FWMark == 0 {
			var want [4]byte
			binary.BigEndian.PutUint32(want[:], s.Netmask)
			if got := nested(svc, svcAttrNetmask); string(got) != string(want[:]) {
				t.Errorf("%s: netmask sent as %x, want the mask's bytes in network order %x", s, got, want)
			}
		}
	}

	// A delete names the service only, and without an ack request the
	// kernel answers only if it fails.
	c := &conn{family: 42}
	c.encode(Request{Op: OpDeleteService, Service: Service{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514}}, false)
	if nested(nested(encoded(t, c), attrService), svcAttrSchedName) != nil {
		t.Error("delete service sends the scheduler")
	}
	if flags := binary.NativeEndian.Uint16(c.out[6:]); flags != 1 {
		t.Errorf("request flags %#x without ack, want NLM_F_REQUEST only", flags)
	}
}

func TestDestinationEncodingRoundTrip(t *testing.T) {
	svc := Service{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}
	for _, d := range []Destination{
		{Address: netip.MustParseAddr("10.0.0.11"), Port: 5514, Forwarding: Masq, Weight: 1},
		{Address: netip.MustParseAddr("10.0.0.12"), Port: 6514, Forwarding: Route, Weight: MaxWeight, UpperThreshold: 100, LowerThreshold: 10},
		{Address: netip.MustParseAddr("10.0.0.13"), Port: 1, Forwarding: Tunnel, Weight: 0},
	} {
		c := &conn{family: 42}
		c.encode(Request{Op: OpUpdateDestination, Service: svc, Destination: d}, true)
		b := encoded(t, c)
		if c.out[16] != cmdSetDest {
			t.Errorf("command %d, want SET_DEST", c.out[16])
		}
		back, err := decodeDestination(b, syscall.AF_INET)
		if err != nil {
			t.Fatal(err)
		}
		if back != d {
			t.Errorf("round trip: %+v, want %+v", back, d)
		}
		key, err := decodeService(b)
		if err != nil || key.Key() != svc.Key() {
			t.Errorf("destination request names service %v (%v), want %v", key.Key(), err, svc.Key())
		}
	}
}

// Several requests share one buffer, each with its own sequence number,
// and only the one asked for carries NLM_F_ACK.
func TestBatchEncoding(t *testing.T) {
	svc := Service{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr"}
	c := &conn{family: 42, seq: 100}
	c.encode(Request{Op: OpAddService, Service: svc}, false)
	c.encode(Request{Op: OpAddDestination, Service: svc, Destination: Destination{Address: netip.MustParseAddr("10.0.0.11"), Port: 5514, Weight: 1}}, false)
	c.encode(Request{Op: OpDeleteDestination, Service: svc, Destination: Destination{Address: netip.MustParseAddr("10.0.0.12"), Port: 5514}}, true)
	var seqs []uint32
	var flags []uint16
	err := messages(c.out, func(m message) error {
		seqs = append(seqs, m.seq)
		flags = append(flags, m.flags)
		return nil
	})
	if err != nil || len(seqs) != 3 || seqs[0] != 101 || seqs[2] != 103 || flags[0] != 1 || flags[2] != 5 {
		t.Errorf("messages: seqs %v flags %v err %v", seqs, flags, err)
	}
}
