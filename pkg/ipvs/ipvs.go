package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hala-lb/hala/pkg/internal/netnspath"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrUnsupported means this system has no IPVS: not Linux, or a kernel
	// without the ip_vs module loaded.
	ErrUnsupported = errors.New("IPVS not supported")
	// ErrNotFound means the service or destination does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means the service or destination already exists.
	ErrExists = errors.New("already exists")
	// ErrNoScheduler means the kernel has no module for the scheduler.
	ErrNoScheduler = errors.New("scheduler not available in the kernel")
	// ErrNotNamespace means a path given as a network namespace is not one
	// (a regular file, another kind of namespace); vip.ErrNotNamespace is
	// the same error.
	ErrNotNamespace = netnspath.ErrNotNamespace
	// ErrDumpInterrupted means the table changed during every read that was
	// tried, so no consistent copy of it could be read.
	ErrDumpInterrupted = errors.New("IPVS table changed while it was being read")
)

// MaxWeight is the largest weight hala writes. The kernel accepts more, but
// ipvsadm takes at most 65535 and github.com/moby/ipvs reads weights as 16
// bits, so a larger one would read back wrong in other tools.
const MaxWeight = 65535

// Protocol is a virtual service's transport protocol (an IP protocol number).
type Protocol uint16

// Protocols IPVS balances.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

// String returns the protocol as ipvsadm prints it: TCP, UDP or SCTP.
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	case 0:
		return "FWM"
	}
	return "proto-" + strconv.Itoa(int(p))
}

// ParseProtocol reads "tcp", "udp" or "sctp" (any case).
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	case "sctp":
		return SCTP, nil
	}
	return 0, fmt.Errorf("unknown protocol %q (want udp, tcp or sctp)", s)
}

// ipvsadmFlag returns ipvsadm's option for a service of this protocol.
func (p Protocol) ipvsadmFlag() string {
	switch p {
	case TCP:
		return "-t"
	case UDP:
		return "-u"
	case SCTP:
		return "--sctp-service"
	}
	return "-f"
}

// Flags are a virtual service's IP_VS_SVC_F_* flags.
type Flags uint32

// Service flags, as in the kernel's include/uapi/linux/ip_vs.h.
const (
	// FlagPersistent sends a client to the same destination for Timeout
	// seconds (ipvsadm -p).
	FlagPersistent Flags = 0x0001
	// FlagHashed is set by the kernel on every service in its table. Reads
	// mask it off and writes never set it.
	FlagHashed Flags = 0x0002
	// FlagOnePacket schedules every UDP datagram on its own (ipvsadm -o,
	// "ops"), so syslog from one sender is spread over all destinations.
	FlagOnePacket Flags = 0x0004
	// FlagSched1 to FlagSched3 are scheduler-specific (sh-fallback, sh-port
	// for sh and mh).
	FlagSched1 Flags = 0x0008
	FlagSched2 Flags = 0x0010
	FlagSched3 Flags = 0x0020

	// FlagMHFallback is FlagSched1 for the mh scheduler
	// (IP_VS_SVC_F_SCHED_MH_FALLBACK, ipvsadm -b mh-fallback): a flow whose
	// destination is at weight 0 or overloaded goes to the next one the
	// table gives instead of being dropped.
	FlagMHFallback = FlagSched1
	// FlagMHPort is FlagSched2 for the mh scheduler
	// (IP_VS_SVC_F_SCHED_MH_PORT, ipvsadm -b mh-port): the source port is
	// hashed with the source address.
	FlagMHPort = FlagSched2
)

// schedFlags names the scheduler-specific flags in f as ipvsadm -b takes
// them: "mh-fallback", "mh-port" for mh (sh-… for sh, whose bits are the
// same), "flag-1" to "flag-3" for other schedulers.
func schedFlags(scheduler string, f Flags) []string {
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	if scheduler == "mh" || scheduler == "sh" {
		names[0], names[1] = scheduler+"-fallback", scheduler+"-port"
	}
	var out []string
	for i, bit := range []Flags{FlagSched1, FlagSched2, FlagSched3} {
		if f&bit != 0 {
			out = append(out, names[i])
		}
	}
	return out
}

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagPersistent, "persistent"},
	{FlagHashed, "hashed"},
	{FlagOnePacket, "ops"},
	{FlagSched1, "sched1"},
	{FlagSched2, "sched2"},
	{FlagSched3, "sched3"},
}

// String lists the flags by name ("persistent,ops"), or "none".
func (f Flags) String() string {
	var names []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			names = append(names, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		names = append(names, fmt.Sprintf("%#x", uint32(f)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Forwarding is a destination's packet-forwarding method.
type Forwarding uint32

// Forwarding methods (IP_VS_CONN_F_* in the kernel).
const (
	// Masq is NAT (ipvsadm -m, keepalived lb_kind NAT).
	Masq Forwarding = 0
	// Local delivers to the director itself.
	Local Forwarding = 1
	// Tunnel is IP-in-IP (ipvsadm -i, lb_kind TUN).
	Tunnel Forwarding = 2
	// Route is direct routing (ipvsadm -g, lb_kind DR).
	Route Forwarding = 3
	// Bypass skips the connection cache.
	Bypass Forwarding = 4

	forwardingMask Forwarding = 0x7
)

// String returns the method as ipvsadm -Ln prints it: Masq, Local, Tunnel,
// Route or Bypass.
func (f Forwarding) String() string {
	switch f {
	case Masq:
		return "Masq"
	case Local:
		return "Local"
	case Tunnel:
		return "Tunnel"
	case Route:
		return "Route"
	case Bypass:
		return "Bypass"
	}
	return "fwd-" + strconv.Itoa(int(f))
}

// ParseForwarding reads the inventory's (and keepalived's lb_kind) names:
// "nat", "dr" or "tun" (any case).
func ParseForwarding(s string) (Forwarding, error) {
	switch strings.ToLower(s) {
	case "nat", "masq":
		return Masq, nil
	case "dr", "route":
		return Route, nil
	case "tun", "tunnel":
		return Tunnel, nil
	}
	return 0, fmt.Errorf("unknown forwarding %q (want nat, dr or tun)", s)
}

func (f Forwarding) ipvsadmFlag() string {
	switch f {
	case Masq:
		return "-m"
	case Tunnel:
		return "-i"
	case Route:
		return "-g"
	}
	return "--forward-method=" + strconv.Itoa(int(f))
}

// Stats are the traffic counters the kernel keeps for a service or a
// destination, as ipvsadm -Ln --stats and --rate print them.
type Stats struct {
	Connections uint64 `json:"conns"`
	PacketsIn   uint64 `json:"in_packets"`
	PacketsOut  uint64 `json:"out_packets"`
	BytesIn     uint64 `json:"in_bytes"`
	BytesOut    uint64 `json:"out_bytes"`
	CPS         uint64 `json:"cps"`
	PPSIn       uint64 `json:"in_pps"`
	PPSOut      uint64 `json:"out_pps"`
	BPSIn       uint64 `json:"in_bps"`
	BPSOut      uint64 `json:"out_bps"`
}

// String summarises the counters.
func (s Stats) String() string {
	return fmt.Sprintf("conns %d, in %d pkts/%d B, out %d pkts/%d B",
		s.Connections, s.PacketsIn, s.BytesIn, s.PacketsOut, s.BytesOut)
}

// ServiceKey identifies a virtual service in the kernel's table: protocol,
// address and port, or a firewall mark (then Protocol is 0 and AddrPort
// holds the unspecified address of the service's family). It is comparable,
// so it serves as a map key.
type ServiceKey struct {
	Protocol Protocol
	AddrPort netip.AddrPort
	FWMark   uint32
}

// String returns "UDP 192.0.2.10:5514", "TCP [2001:db8::1]:80" or "FWM 7".
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		s := "FWM " + strconv.FormatUint(uint64(k.FWMark), 10)
		if k.AddrPort.Addr().Is6() {
			s += " IPv6"
		}
		return s
	}
	return k.Protocol.String() + " " + k.AddrPort.String()
}

// ParseServiceKey reads what ServiceKey.String writes.
func ParseServiceKey(s string) (ServiceKey, error) {
	proto, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return ServiceKey{}, fmt.Errorf("invalid service %q (want like \"UDP 192.0.2.10:5514\")", s)
	}
	if strings.EqualFold(proto, "FWM") {
		markStr, fam, _ := strings.Cut(rest, " ")
		mark, err := strconv.ParseUint(markStr, 10, 32)
		if err != nil || mark == 0 {
			return ServiceKey{}, fmt.Errorf("invalid firewall mark in %q", s)
		}
		addr := netip.IPv4Unspecified()
		if fam == "IPv6" {
			addr = netip.IPv6Unspecified()
		}
		return ServiceKey{AddrPort: netip.AddrPortFrom(addr, 0), FWMark: uint32(mark)}, nil
	}
	p, err := ParseProtocol(proto)
	if err != nil {
		return ServiceKey{}, fmt.Errorf("invalid service %q: %w", s, err)
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		return ServiceKey{}, fmt.Errorf("invalid service %q: %w", s, err)
	}
	return ServiceKey{Protocol: p, AddrPort: ap}, nil
}

// Compare orders keys by address, port, protocol and firewall mark, with
// firewall-mark services last. It returns -1, 0 or +1.
func (k ServiceKey) Compare(o ServiceKey) int {
	if (k.FWMark != 0) != (o.FWMark != 0) {
		if k.FWMark != 0 {
			return 1
		}
		return -1
	}
	if c := k.AddrPort.Compare(o.AddrPort); c != 0 {
		return c
	}
	if k.Protocol != o.Protocol {
		if k.Protocol < o.Protocol {
			return -1
		}
		return 1
	}
	switch {
	case k.FWMark < o.FWMark:
		return -1
	case k.FWMark > o.FWMark:
		return 1
	}
	return 0
}

// ipvsadm returns ipvsadm's service selector, e.g. "-u 192.0.2.10:5514".
func (k ServiceKey) ipvsadm() string {
	if k.FWMark != 0 {
		s := "-f " + strconv.FormatUint(uint64(k.FWMark), 10)
		if k.AddrPort.Addr().Is6() {
			s += " -6"
		}
		return s
	}
	return k.Protocol.ipvsadmFlag() + " " + k.AddrPort.String()
}

// Service is a virtual service: what clients connect to, and how the
// kernel picks a destination for them.
type Service struct {
	Protocol Protocol
	Address  netip.Addr
	Port     uint16
	// FWMark, when not 0, selects packets by firewall mark instead of
	// Protocol/Address/Port (Address then only gives the family).
	FWMark uint32

	// Scheduler is the scheduling algorithm: rr, wrr, lc, wlc, sh, mh, ...
	Scheduler string
	// Flags are FlagPersistent, FlagOnePacket, ...; never FlagHashed.
	Flags Flags
	// Timeout is the persistence timeout in seconds (with FlagPersistent).
	Timeout uint32
	// Netmask groups clients for persistence: a 32-bit mask for IPv4, a
	// prefix length for IPv6. 0 means DefaultNetmask when writing.
	Netmask uint32

	// Stats are filled in by reads and ignored by writes.
	Stats Stats
}

// Key returns the service's identity in the kernel's table.
func (s Service) Key() ServiceKey {
	if s.FWMark != 0 {
		addr := netip.IPv4Unspecified()
		if s.Address.Is6() {
			addr = netip.IPv6Unspecified()
		}
		return ServiceKey{AddrPort: netip.AddrPortFrom(addr, 0), FWMark: s.FWMark}
	}
	return ServiceKey{Protocol: s.Protocol, AddrPort: netip.AddrPortFrom(s.Address, s.Port)}
}

// String returns e.g. "UDP 192.0.2.10:5514 rr ops" or
// "TCP 192.0.2.10:6514 mh mh-fallback,mh-port".
func (s Service) String() string {
	var b strings.Builder
	b.WriteString(s.Key().String())
	b.WriteString(" ")
	b.WriteString(s.Scheduler)
	if s.Flags&FlagOnePacket != 0 {
		b.WriteString(" ops")
	}
	if s.Flags&FlagPersistent != 0 {
		fmt.Fprintf(&b, " persistent %d", s.Timeout)
	}
	if sf := schedFlags(s.Scheduler, s.Flags); len(sf) > 0 {
		b.WriteString(" " + strings.Join(sf, ","))
	}
	if other := s.Flags &^ (FlagOnePacket | FlagPersistent | FlagHashed | FlagSched1 | FlagSched2 | FlagSched3); other != 0 {
		fmt.Fprintf(&b, " flags %s", other)
	}
	return b.String()
}

// DefaultNetmask returns the persistence netmask that makes each client
// its own persistence group: 0xffffffff for IPv4, 128 for IPv6 (what
// ipvsadm uses when -M is not given).
func DefaultNetmask(addr netip.Addr) uint32 {
	if addr.Is6() && !addr.Is4In6() {
		return 128
	}
	return 0xffffffff
}

// Validate reports a service the kernel would reject or misread.
func (s Service) Validate() error {
	if !s.Address.IsValid() {
		return fmt.Errorf("service %s: no address", s.Key())
	}
	if s.FWMark == 0 {
		switch s.Protocol {
		case TCP, UDP, SCTP:
		default:
			return fmt.Errorf("service %s: unsupported protocol %d", s.Key(), s.Protocol)
		}
		if s.Port == 0 {
			return fmt.Errorf("service %s: port 0", s.Key())
		}
	}
	if s.Scheduler == "" {
		return fmt.Errorf("service %s: no scheduler", s.Key())
	}
	if len(s.Scheduler) >= 16 {
		return fmt.Errorf("service %s: scheduler name %q too long", s.Key(), s.Scheduler)
	}
	if s.Flags&FlagHashed != 0 {
		return fmt.Errorf("service %s: the hashed flag is the kernel's", s.Key())
	}
	if s.Flags&FlagPersistent != 0 && s.Timeout == 0 {
		return fmt.Errorf("service %s: persistent with timeout 0", s.Key())
	}
	if s.Address.Is6() && s.Netmask > 128 {
		return fmt.Errorf("service %s: IPv6 netmask /%d out of range 0-128", s.Key(), s.Netmask)
	}
	return nil
}

// IpvsadmArgs returns ipvsadm's options that create or edit s, e.g.
// "-u 192.0.2.10:5514 -s rr -o"; used for -A and -E.
func (s Service) IpvsadmArgs() string {
	var b strings.Builder
	b.WriteString(s.Key().ipvsadm())
	b.WriteString(" -s ")
	b.WriteString(s.Scheduler)
	if s.Flags&FlagPersistent != 0 {
		fmt.Fprintf(&b, " -p %d", s.Timeout)
		if s.Netmask != 0 && s.Netmask != DefaultNetmask(s.Address) {
			if s.Address.Is6() {
				fmt.Fprintf(&b, " -M %d", s.Netmask)
			} else {
				m := s.Netmask
				fmt.Fprintf(&b, " -M %d.%d.%d.%d", byte(m>>24), byte(m>>16), byte(m>>8), byte(m))
			}
		}
	}
	if s.Flags&FlagOnePacket != 0 {
		b.WriteString(" -o")
	}
	if sched := schedFlags(s.Scheduler, s.Flags); len(sched) > 0 {
		b.WriteString(" -b " + strings.Join(sched, ","))
	}
	return b.String()
}

// IpvsadmKey returns ipvsadm's selector for s alone, e.g.
// "-u 192.0.2.10:5514"; used for -D, -a, -e and -d.
func (s Service) IpvsadmKey() string { return s.Key().ipvsadm() }

// Destination is a real server behind a virtual service.
type Destination struct {
	Address    netip.Addr
	Port       uint16
	Forwarding Forwarding
	// Weight is 0 (quiesced: no new connections) to MaxWeight.
	Weight int
	// UpperThreshold and LowerThreshold bound the connections (0 = none).
	UpperThreshold uint32
	LowerThreshold uint32

	// ActiveConns, InactiveConns and Stats are filled in by reads and
	// ignored by writes.
	ActiveConns   int
	InactiveConns int
	Stats         Stats
}

// Key returns the destination's identity within its service.
func (d Destination) Key() netip.AddrPort { return netip.AddrPortFrom(d.Address, d.Port) }

// String returns e.g. "192.0.2.21:5514 Masq weight 1".
func (d Destination) String() string {
	s := d.Key().String() + " " + d.Forwarding.String() + " weight " + strconv.Itoa(d.Weight)
	if d.UpperThreshold != 0 || d.LowerThreshold != 0 {
		s += fmt.Sprintf(" thresholds %d-%d", d.LowerThreshold, d.UpperThreshold)
	}
	return s
}

// Validate reports a destination the kernel would reject or misread.
func (d Destination) Validate() error {
	if !d.Address.IsValid() {
		return fmt.Errorf("destination %s: no address", d.Key())
	}
	if d.Weight < 0 || d.Weight > MaxWeight {
		return fmt.Errorf("destination %s: weight %d out of range 0-%d", d.Key(), d.Weight, MaxWeight)
	}
	if d.Forwarding&^forwardingMask != 0 || d.Forwarding > Bypass {
		return fmt.Errorf("destination %s: unknown forwarding method %d", d.Key(), d.Forwarding)
	}
	if d.UpperThreshold != 0 && d.LowerThreshold > d.UpperThreshold {
		return fmt.Errorf("destination %s: lower threshold %d above upper %d", d.Key(), d.LowerThreshold, d.UpperThreshold)
	}
	return nil
}

// IpvsadmArgs returns ipvsadm's options that create or edit d, e.g.
// "-r 192.0.2.21:5514 -m -w 1"; used for -a and -e.
func (d Destination) IpvsadmArgs() string {
	s := fmt.Sprintf("-r %s %s -w %d", d.Key(), d.Forwarding.ipvsadmFlag(), d.Weight)
	if d.UpperThreshold != 0 {
		s += fmt.Sprintf(" -x %d", d.UpperThreshold)
	}
	if d.LowerThreshold != 0 {
		s += fmt.Sprintf(" -y %d", d.LowerThreshold)
	}
	return s
}

// Op is the kind of change a Request makes.
type Op uint8

// The changes Handle.Batch makes.
const (
	OpAddService Op = iota + 1
	OpUpdateService
	OpDeleteService
	OpAddDestination
	OpUpdateDestination
	OpDeleteDestination
)

// String returns e.g. "add service" or "delete destination".
func (o Op) String() string {
	switch o {
	case OpAddService:
		return "add service"
	case OpUpdateService:
		return "update service"
	case OpDeleteService:
		return "delete service"
	case OpAddDestination:
		return "add destination"
	case OpUpdateDestination:
		return "update destination"
	case OpDeleteDestination:
		return "delete destination"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

func (o Op) onDestination() bool { return o >= OpAddDestination }

// Request is one change to the table, for Handle.Batch.
type Request struct {
	Op      Op
	Service Service
	// Destination is the destination of the Op*Destination ops.
	Destination Destination
}

// String returns e.g. "add destination 192.0.2.21:5514 on UDP 192.0.2.10:5514".
func (r Request) String() string {
	if r.Op.onDestination() {
		return fmt.Sprintf("%s %s on %s", r.Op, r.Destination.Key(), r.Service.Key())
	}
	return fmt.Sprintf("%s %s", r.Op, r.Service.Key())
}

// ErrNotAttempted is Batch's result for a request it did not send because
// an earlier one failed.
var ErrNotAttempted = errors.New("not attempted: an earlier change failed")

// Entry is a virtual service with its destinations, as Entries reads them.
type Entry struct {
	Service      Service
	Destinations []Destination
}
