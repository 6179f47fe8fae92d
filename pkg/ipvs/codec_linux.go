//go:build linux

package ipvs

// The IPVS message codec: requests encoded into conn's buffer and dump
// replies decoded, on top of the generic netlink transport in netlink_linux.go.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"
)

// Generic netlink and IPVS constants from the kernel's uapi headers
// (linux/genetlink.h, linux/ip_vs.h); golang.org/x/sys has no IPVS ones.
const (
	genlHeaderLen = 4
	ipvsVersion   = 1

	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8

	attrService = 1
	attrDest    = 2

	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFWMark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9
	svcAttrStats     = 10
	svcAttrStats64   = 12

	destAttrAddr        = 1
	destAttrPort        = 2
	destAttrFwdMethod   = 3
	destAttrWeight      = 4
	destAttrUThresh     = 5
	destAttrLThresh     = 6
	destAttrActiveConns = 7
	destAttrInactConns  = 8
	destAttrStats       = 10
	destAttrAF          = 11
	destAttrStats64     = 12

	statsConns    = 1
	statsInPkts   = 2
	statsOutPkts  = 3
	statsInBytes  = 4
	statsOutBytes = 5
	statsCPS      = 6
	statsInPPS    = 7
	statsOutPPS   = 8
	statsInBPS    = 9
	statsOutBPS   = 10

	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// putService writes the service attribute: its key, and with full its
// settings too (the kernel requires them on add and update).
func (c *conn) putService(s Service, full bool) {
	n := c.nest(attrService)
	c.u16(svcAttrAF, family(s.Address))
	if s.FWMark != 0 {
		c.u32(svcAttrFWMark, s.FWMark)
	} else {
		c.u16(svcAttrProtocol, uint16(s.Protocol))
		c.addr(svcAttrAddr, s.Address)
		c.be16(svcAttrPort, s.Port)
	}
	if full {
		name := make([]byte, len(s.Scheduler)+1)
		copy(name, s.Scheduler)
		c.attr(svcAttrSchedName, name)
		var fl [8]byte // struct ip_vs_flags: the flags, and which to set
		binary.NativeEndian.PutUint32(fl[:], uint32(s.Flags&^FlagHashed))
		binary.NativeEndian.PutUint32(fl[4:], ^uint32(0))
		c.attr(svcAttrFlags, fl[:])
		c.u32(svcAttrTimeout, s.Timeout)
		netmask := s.Netmask
		if netmask == 0 {
			netmask = DefaultNetmask(s.Address)
		}
		c.u32(svcAttrNetmask, kernelNetmask(s.Address, netmask))
	}
	c.end(n)
}

func (c *conn) putDestination(d Destination) {
	n := c.nest(attrDest)
	c.addr(destAttrAddr, d.Address)
	c.be16(destAttrPort, d.Port)
	c.u32(destAttrFwdMethod, uint32(d.Forwarding&forwardingMask))
	c.u32(destAttrWeight, uint32(d.Weight))
	c.u32(destAttrUThresh, d.UpperThreshold)
	c.u32(destAttrLThresh, d.LowerThreshold)
	c.u16(destAttrAF, family(d.Address))
	c.end(n)
}

func (o Op) cmd() uint8 {
	return [...]uint8{0, cmdNewService, cmdSetService, cmdDelService, cmdNewDest, cmdSetDest, cmdDelDest}[o]
}

// verb returns "add", "update" or "delete".
func (o Op) verb() string {
	switch o {
	case OpAddService, OpAddDestination:
		return "add"
	case OpUpdateService, OpUpdateDestination:
		return "update"
	}
	return "delete"
}

// check validates r as the single-call methods do, and fills in what the
// kernel needs but does not compare.
func (r *Request) check() error {
	verb := r.Op.verb()
	if r.Op < OpAddService || r.Op > OpDeleteDestination {
		return fmt.Errorf("unknown IPVS operation %d", r.Op)
	}
	if r.Op == OpDeleteService || r.Op.onDestination() {
		if r.Service.Scheduler == "" {
			r.Service.Scheduler = "rr" // the kernel looks services up by key only
		}
	}
	if !r.Op.onDestination() {
		if err := r.Service.Validate(); err != nil {
			return fmt.Errorf("%s service: %w", verb, err)
		}
		if r.Service.Address.Is4In6() {
			return fmt.Errorf("%s service %s: IPv4-mapped IPv6 address; write it as IPv4", verb, r.Service.Key())
		}
		return nil
	}
	if !r.Service.Address.IsValid() {
		return fmt.Errorf("%s destination %s on %s: no address", verb, r.Destination.Key(), r.Service.Key())
	}
	if err := r.Destination.Validate(); err != nil {
		return fmt.Errorf("%s destination on %s: %w", verb, r.Service.Key(), err)
	}
	r.Destination.Address = r.Destination.Address.Unmap()
	if r.Destination.Address.Is4() != r.Service.Address.Is4() {
		return fmt.Errorf("%s destination %s on %s: address family differs from the service's", verb, r.Destination.Key(), r.Service.Key())
	}
	return nil
}

// wrap names the request and what the kernel's errno means for it.
func (r Request) wrap(err error) error {
	if r.Op.onDestination() {
		return fmt.Errorf("%s destination %s on %s: %w", r.Op.verb(), r.Destination.Key(), r.Service.Key(), destErr(err, r.Op.verb()))
	}
	return fmt.Errorf("%s service %s: %w", r.Op.verb(), r.Service.Key(), svcErr(err, r.Service))
}

// encode appends r to c.out as one request; ack asks for an
// acknowledgement even on success.
func (c *conn) encode(r Request, ack bool) uint32 {
	flags := uint16(unix.NLM_F_REQUEST)
	if ack {
		flags |= unix.NLM_F_ACK
	}
	start, seq := c.begin(c.family, flags, r.Op.cmd(), ipvsVersion)
	if r.Op.onDestination() {
		c.putService(r.Service, false)
		c.putDestination(r.Destination)
	} else {
		c.putService(r.Service, r.Op != OpDeleteService)
	}
	c.finish(start)
	return seq
}

// decodeStats reads a stats attribute: 32-bit counters in the old one,
// 64-bit in stats64 (wide is true).
func decodeStats(b []byte, wide bool) Stats {
	var s Stats
	attrs(b, func(t uint16, v []byte) {
		n := uint64(u32(v))
		if wide || t == statsInBytes || t == statsOutBytes {
			n = u64(v)
		}
		switch t {
		case statsConns:
			s.Connections = n
		case statsInPkts:
			s.PacketsIn = n
		case statsOutPkts:
			s.PacketsOut = n
		case statsInBytes:
			s.BytesIn = n
		case statsOutBytes:
			s.BytesOut = n
		case statsCPS:
			s.CPS = n
		case statsInPPS:
			s.PPSIn = n
		case statsOutPPS:
			s.PPSOut = n
		case statsInBPS:
			s.BPSIn = n
		case statsOutBPS:
			s.BPSOut = n
		}
	})
	return s
}

// addrOf reads an address attribute of family af (the kernel sends 16
// bytes, of which IPv4 uses the first 4).
func addrOf(v []byte, af uint16) (netip.Addr, bool) {
	switch {
	case af == unix.AF_INET && len(v) >= 4:
		return netip.AddrFrom4([4]byte(v[:4])), true
	case af == unix.AF_INET6 && len(v) >= 16:
		return netip.AddrFrom16([16]byte(v[:16])), true
	}
	return netip.Addr{}, false
}

// decodeService reads the service attribute of a GET_SERVICE reply.
func decodeService(msg []byte) (Service, error) {
	b := nested(msg, attrService)
	if b == nil {
		return Service{}, errors.New("kernel reply without a service")
	}
	var (
		s             Service
		af            uint16
		rawAddr       []byte
		stats, stats6 []byte
	)
	attrs(b, func(t uint16, v []byte) {
		switch t {
		case svcAttrAF:
			if len(v) >= 2 {
				af = binary.NativeEndian.Uint16(v)
			}
		case svcAttrProtocol:
			if len(v) >= 2 {
				s.Protocol = Protocol(binary.NativeEndian.Uint16(v))
			}
		case svcAttrAddr:
			rawAddr = v
		case svcAttrPort:
			if len(v) >= 2 {
				s.Port = binary.BigEndian.Uint16(v)
			}
		case svcAttrFWMark:
			s.FWMark = u32(v)
		case svcAttrSchedName:
			for len(v) > 0 && v[len(v)-1] == 0 {
				v = v[:len(v)-1]
			}
			s.Scheduler = string(v)
		case svcAttrFlags:
			s.Flags = Flags(u32(v)) &^ FlagHashed
		case svcAttrTimeout:
			s.Timeout = u32(v)
		case svcAttrNetmask:
			s.Netmask = u32(v)
		case svcAttrStats:
			stats = v
		case svcAttrStats64:
			stats6 = v
		}
	})
	switch {
	case s.FWMark != 0 && af == unix.AF_INET6:
		s.Address = netip.IPv6Unspecified()
	case s.FWMark != 0:
		s.Address = netip.IPv4Unspecified()
	default:
		a, ok := addrOf(rawAddr, af)
		if !ok {
			return Service{}, fmt.Errorf("kernel returned an invalid service address %x (family %d)", rawAddr, af)
		}
		s.Address = a
	}
	if s.FWMark != 0 {
		s.Protocol, s.Port = 0, 0
	}
	s.Netmask = kernelNetmask(s.Address, s.Netmask)
	if stats6 != nil {
		s.Stats = decodeStats(stats6, true)
	} else if stats != nil {
		s.Stats = decodeStats(stats, false)
	}
	return s, nil
}

// decodeDestination reads the destination attribute of a GET_DEST reply;
// af is the service's family, used when the kernel does not say.
func decodeDestination(msg []byte, af uint16) (Destination, error) {
	b := nested(msg, attrDest)
	if b == nil {
		return Destination{}, errors.New("kernel reply without a destination")
	}
	var (
		d             Destination
		rawAddr       []byte
		stats, stats6 []byte
	)
	attrs(b, func(t uint16, v []byte) {
		switch t {
		case destAttrAddr:
			rawAddr = v
		case destAttrPort:
			if len(v) >= 2 {
				d.Port = binary.BigEndian.Uint16(v)
			}
		case destAttrFwdMethod:
			d.Forwarding = Forwarding(u32(v)) & forwardingMask
		case destAttrWeight:
			d.Weight = int(int32(u32(v)))
		case destAttrUThresh:
			d.UpperThreshold = u32(v)
		case destAttrLThresh:
			d.LowerThreshold = u32(v)
		case destAttrActiveConns:
			d.ActiveConns = int(u32(v))
		case destAttrInactConns:
			d.InactiveConns = int(u32(v))
		case destAttrAF:
			if len(v) >= 2 {
				af = binary.NativeEndian.Uint16(v)
			}
		case destAttrStats:
			stats = v
		case destAttrStats64:
			stats6 = v
		}
	})
	a, ok := addrOf(rawAddr, af)
	if !ok {
		return Destination{}, fmt.Errorf("kernel returned an invalid destination address %x (family %d)", rawAddr, af)
	}
	d.Address = a
	if stats6 != nil {
		d.Stats = decodeStats(stats6, true)
	} else if stats != nil {
		d.Stats = decodeStats(stats, false)
	}
	return d, nil
}

// services dumps every service.
func (c *conn) services() ([]Service, error) {
	var out []Service
	err := c.dump(cmdGetService, nil, func() { out = out[:0] }, func(b []byte) error {
		s, err := decodeService(b)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// destinations dumps the destinations of s.
func (c *conn) destinations(s Service) ([]Destination, error) {
	if s.Scheduler == "" {
		s.Scheduler = "rr"
	}
	af := family(s.Address)
	// Decoded into a buffer kept between dumps, then copied out at its
	// size: growing each service's slice from nil made a third of the Go
	// time of reading 1,000 services × 10 in the test VM.
	out := c.dests[:0]
	err := c.dump(cmdGetDest, func() { c.putService(s, false) }, func() { out = out[:0] }, func(b []byte) error {
		d, err := decodeDestination(b, af)
		if err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	c.dests = out[:0]
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return slices.Clone(out), nil
}
