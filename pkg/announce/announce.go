package announce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Config is what a Speaker runs with.
type Config struct {
	// ASN is the director's AS number; RouterID its BGP identifier.
	ASN      uint32
	RouterID netip.Addr
	// Local is the director's address: the sessions' source and every
	// announced route's next hop.
	Local netip.Addr
	// ListenPort is the TCP port the speaker accepts sessions on (179 when
	// 0; -1: connect out only).
	ListenPort int
	// HoldTime and Keepalive are the BGP timers (whole seconds).
	HoldTime, Keepalive time.Duration
	// GracefulRestart announces the capability (RFC 4724) with a restart
	// time of RestartTime (default 120s): the routers keep this director's
	// routes while it restarts.
	GracefulRestart bool
	RestartTime     time.Duration
	// BFD runs BFD with every peer at Interval × Multiplier.
	BFD           bool
	BFDInterval   time.Duration
	BFDMultiplier int
	// Peers are the routers.
	Peers []Peer
	// Logger receives every session change.
	Logger *slog.Logger
	// OnChange, when set, is called with a peer's new state after every
	// session change (from GoBGP's event goroutine: keep it short).
	OnChange func(PeerState)
}

// Peer is one router.
type Peer struct {
	Address netip.Addr
	ASN     uint32
	// Port is the router's BGP port (179 when 0).
	Port int
	// PasswordFile holds the TCP MD5 password; it must not be readable by
	// group or others.
	PasswordFile string
}

// PeerState is one session as the speaker sees it.
type PeerState struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// Up is true while the session is Established; Since is when it last
	// became so or stopped being so (zero before the first change).
	Up    bool      `json:"up"`
	Since time.Time `json:"since"`
	// State is the BGP FSM state, e.g. "established", "active".
	State string `json:"state"`
	// BFD is "up", "down", "init", "admin-down", or "" when BFD is off.
	BFD string `json:"bfd,omitempty"`
	// Reason is why the session last went down, when it did.
	Reason string `json:"reason,omitempty"`
}

// String is `192.0.2.1 AS65000 established since 15:04:05 (bfd up)`.
func (p PeerState) String() string {
	s := fmt.Sprintf("%s AS%d %s", p.Address, p.ASN, p.State)
	if !p.Since.IsZero() {
		s += " since " + p.Since.Format(time.RFC3339)
	}
	if p.BFD != "" {
		s += " (bfd " + p.BFD + ")"
	}
	if !p.Up && p.Reason != "" {
		s += ": " + p.Reason
	}
	return s
}

// Speaker is a running BGP speaker.
type Speaker struct {
	cfg Config
	bgp *server.BgpServer
	log *slog.Logger

	mu        sync.Mutex
	peers     map[netip.Addr]*PeerState
	announced map[netip.Prefix]bool
	cancel    context.CancelFunc
}

// DefaultRestartTime is the graceful restart time announced when the
// config gives none.
const DefaultRestartTime = 120 * time.Second

// Start starts the speaker and adds every peer; sessions come up in the
// background. Nothing is announced until Announce.
func Start(ctx context.Context, cfg Config) (*Speaker, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RestartTime == 0 {
		cfg.RestartTime = DefaultRestartTime
	}
	passwords := make([]string, len(cfg.Peers))
	for i, p := range cfg.Peers {
		if p.PasswordFile == "" {
			continue
		}
		pw, err := ReadPassword(p.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("peer %s: %w", p.Address, err)
		}
		passwords[i] = pw
	}
	// GoBGP logs every session step at info level, which the speaker
	// reports itself: keep only its warnings and errors.
	lvl := &slog.LevelVar{}
	lvl.Set(slog.LevelWarn)
	quiet := slog.New(minLevel{cfg.Logger.Handler(), lvl}).With("component", "gobgp")
	s := &Speaker{
		cfg:       cfg,
		bgp:       server.NewBgpServer(server.LoggerOption(quiet, lvl)),
		log:       cfg.Logger,
		peers:     map[netip.Addr]*PeerState{},
		announced: map[netip.Prefix]bool{},
	}
	go s.bgp.Serve()
	port := int32(cfg.ListenPort)
	if port == 0 {
		port = 179
	}
	global := &api.Global{
		Asn:             cfg.ASN,
		RouterId:        cfg.RouterID.String(),
		ListenPort:      port,
		ListenAddresses: []string{cfg.Local.String()},
	}
	if cfg.GracefulRestart {
		global.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: uint32(cfg.RestartTime / time.Second)}
	}
	if err := s.bgp.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		s.bgp.Stop()
		return nil, fmt.Errorf("start BGP: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.bgp.WatchEvent(wctx, server.WatchEventMessageCallbacks{OnPeerUpdate: s.peerEvent}, server.WatchPeer()); err != nil {
		s.Stop()
		return nil, fmt.Errorf("watch BGP peers: %w", err)
	}
	for i, p := range cfg.Peers {
		s.mu.Lock()
		s.peers[p.Address] = &PeerState{Address: p.Address, ASN: p.ASN, State: "idle"}
		s.mu.Unlock()
		if err := s.bgp.AddPeer(ctx, &api.AddPeerRequest{Peer: s.peerConfig(p, passwords[i])}); err != nil {
			s.Stop()
			return nil, fmt.Errorf("add peer %s: %w", p.Address, err)
		}
	}
	return s, nil
}

func (s *Speaker) family() *api.Family {
	if s.cfg.Local.Is4() {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}

func (s *Speaker) peerConfig(p Peer, password string) *api.Peer {
	c := s.cfg
	peer := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASN, AuthPassword: password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          uint64(c.HoldTime / time.Second),
			KeepaliveInterval: uint64(c.Keepalive / time.Second),
			// Retry soon after a router restarts (GoBGP's default is 120s).
			ConnectRetry:           2,
			IdleHoldTimeAfterReset: 1,
		}},
		Transport: &api.Transport{LocalAddress: c.Local.String(), RemotePort: uint32(p.Port)},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: s.family(), Enabled: true}}},
	}
	if c.GracefulRestart {
		peer.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: uint32(c.RestartTime / time.Second)}
		peer.AfiSafis[0].MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
	}
	if c.BFD {
		us := uint32(c.BFDInterval / time.Microsecond)
		peer.Bfd = &api.BfdPeerConfig{
			Enabled: true, DesiredMinimumTxInterval: us, RequiredMinimumReceive: us,
			DetectionMultiplier: uint32(c.BFDMultiplier),
		}
	}
	return peer
}

// peerEvent records a session change and reports it.
func (s *Speaker) peerEvent(ev *apiutil.WatchEventMessage_PeerEvent, at time.Time) {
	if ev.Type != apiutil.PEER_EVENT_STATE {
		return
	}
	st := ev.Peer.State
	s.mu.Lock()
	p := s.peers[ev.Peer.Conf.NeighborAddress]
	if p == nil {
		s.mu.Unlock()
		return
	}
	up := st.SessionState == bgp.BGP_FSM_ESTABLISHED
	changed := up != p.Up
	p.State = fsmName(st.SessionState)
	if changed {
		p.Up, p.Since = up, at
		p.Reason = ""
		if !up {
			p.Reason = disconnectReason(st.DisconnectReason, st.DisconnectMessage)
		}
	}
	snap := *p
	s.mu.Unlock()
	if !changed {
		return
	}
	if up {
		s.log.Info("BGP session up", "peer", snap.Address.String(), "asn", snap.ASN)
	} else {
		s.log.Warn("BGP session down", "peer", snap.Address.String(), "asn", snap.ASN, "state", snap.State, "reason", snap.Reason)
	}
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(snap)
	}
}

func fsmName(st bgp.FSMState) string {
	n := strings.ToLower(st.String())
	return strings.TrimPrefix(n, "bgp_fsm_")
}

func disconnectReason(r api.PeerState_DisconnectReason, msg string) string {
	n := strings.ToLower(strings.TrimPrefix(r.String(), "DISCONNECT_REASON_"))
	n = strings.ReplaceAll(n, "_", " ")
	if n == "unspecified" {
		n = ""
	}
	if msg != "" {
		if n != "" {
			n += ": "
		}
		n += msg
	}
	return n
}

// Peers returns every peer's state, in the order of the config, with its
// BFD session state read now.
func (s *Speaker) Peers() []PeerState {
	bfd := map[string]string{}
	if s.cfg.BFD {
		_ = s.bgp.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
			if p.State != nil && p.State.BfdState != nil {
				n := strings.ToLower(strings.TrimPrefix(p.State.BfdState.SessionState.String(), "BFD_SESSION_STATE_"))
				bfd[p.Conf.GetNeighborAddress()] = strings.ReplaceAll(n, "_", "-")
			}
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PeerState, 0, len(s.cfg.Peers))
	for _, p := range s.cfg.Peers {
		st := *s.peers[p.Address]
		if s.cfg.BFD {
			st.BFD = bfd[p.Address.String()]
			if st.BFD == "" {
				st.BFD = "down"
			}
		}
		out = append(out, st)
	}
	return out
}

// Announced returns the prefixes announced now, sorted.
func (s *Speaker) Announced() []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.Prefix, 0, len(s.announced))
	for p := range s.announced {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

// HostRoute is the host route (/32 or /128) of addr.
func HostRoute(addr netip.Addr) netip.Prefix {
	return netip.PrefixFrom(addr, addr.BitLen())
}

// path builds the host route of vip with the director as next hop.
func (s *Speaker) path(vip netip.Addr) (*apiutil.Path, error) {
	pfx := HostRoute(vip)
	nlri, err := bgp.NewIPAddrPrefix(pfx)
	if err != nil {
		return nil, err
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	family := bgp.RF_IPv4_UC
	if vip.Is4() {
		nh, err := bgp.NewPathAttributeNextHop(s.cfg.Local)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		family = bgp.RF_IPv6_UC
		mp, err := bgp.NewPathAttributeMpReachNLRI(family, []bgp.PathNLRI{{NLRI: nlri}}, s.cfg.Local)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: attrs}, nil
}

// ErrFamily is returned for a VIP of another address family than the
// director's: its next hop would be unreachable.
var ErrFamily = errors.New("VIP and director address families differ")

// Announce announces vip's host route to every peer (now to the
// established ones, and to each as it comes up). Announcing an announced
// VIP does nothing.
func (s *Speaker) Announce(vip netip.Addr) error {
	pfx := HostRoute(vip)
	if vip.Is4() != s.cfg.Local.Is4() {
		return fmt.Errorf("announce %s: %w", pfx, ErrFamily)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.announced[pfx] {
		return nil
	}
	p, err := s.path(vip)
	if err != nil {
		return fmt.Errorf("announce %s: %w", pfx, err)
	}
	if _, err := s.bgp.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("announce %s: %w", pfx, err)
	}
	s.announced[pfx] = true
	return nil
}

// Withdraw withdraws vip's host route from every peer. Withdrawing a VIP
// that is not announced does nothing.
func (s *Speaker) Withdraw(vip netip.Addr) error {
	pfx := HostRoute(vip)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.announced[pfx] {
		return nil
	}
	p, err := s.path(vip)
	if err != nil {
		return fmt.Errorf("withdraw %s: %w", pfx, err)
	}
	if err := s.bgp.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("withdraw %s: %w", pfx, err)
	}
	delete(s.announced, pfx)
	return nil
}

// Stop closes every session (a BGP Cease notification, so the routers drop
// the routes at once) and stops the speaker.
func (s *Speaker) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	s.bgp.Stop()
}

// maxPassword bounds the password file: RFC 2385 keys are at most 80 bytes.
const maxPassword = 80

// ReadPassword reads a TCP MD5 password file: its first line, which must
// be 1-80 bytes. The file must be a regular file readable by its owner
// only (mode 0600 or 0400), so the password is never world-readable.
func ReadPassword(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("password_file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("password_file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("password_file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("password_file %s: mode %04o lets others read the password; chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("password_file %s: %w", path, err)
	}
	pw, _, _ := strings.Cut(string(data), "\n")
	pw = strings.TrimRight(pw, "\r")
	switch {
	case pw == "":
		return "", fmt.Errorf("password_file %s: empty", path)
	case len(pw) > maxPassword:
		return "", fmt.Errorf("password_file %s: %d bytes; TCP MD5 keys are at most %d", path, len(pw), maxPassword)
	}
	return pw, nil
}

// minLevel passes records at or above level to h.
type minLevel struct {
	h     slog.Handler
	level slog.Leveler
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.level.Level() && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.h.WithAttrs(as), m.level}
}
func (m minLevel) WithGroup(name string) slog.Handler { return minLevel{m.h.WithGroup(name), m.level} }
