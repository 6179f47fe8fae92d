package director

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"time"

	"github.com/hala-lb/hala/pkg/announce"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/vip"
)

// Announcer is the BGP speaker as the director uses it; *announce.Speaker
// satisfies it, and tests fake it.
type Announcer interface {
	Announce(vip netip.Addr) error
	Withdraw(vip netip.Addr) error
	Peers() []announce.PeerState
	Stop()
}

// LocalVIPs keeps the VIPs local on this director, where IPVS needs them;
// *vip.Handle satisfies it.
type LocalVIPs interface {
	AddDummy(name string) error
	Add(vip.Address) (vip.Change, error)
}

// DummyInterface is the interface the VIPs are kept on with BGP.
const DummyInterface = vip.DummyInterface

// bgpState is the director's announcing side; owned by the loop goroutine
// except where noted.
type bgpState struct {
	self      inventory.Director
	speaker   Announcer
	announced map[netip.Addr]bool
	// local are the VIPs put on the dummy interface.
	local   map[netip.Addr]bool
	drained bool
	started time.Time
}

// startBGP brings up the speaker and the VIPs on the dummy interface.
func (d *Director) startBGP(ctx context.Context) error {
	inv := d.sp.inv
	self, ok := inv.Director(d.cfg.Node)
	if !ok {
		return fmt.Errorf("cluster.ha = \"bgp\" needs this director's name (--node): its address is the routes' next hop")
	}
	b := inv.BGP
	cfg := announce.Config{
		ASN: inv.DirectorASN(self), RouterID: inv.DirectorRouterID(self), Local: self.Address,
		HoldTime: b.HoldTime.Duration, Keepalive: b.Keepalive.Duration, GracefulRestart: b.GracefulRestart,
		BFD: b.BFD, BFDInterval: b.BFDInterval.Duration, BFDMultiplier: b.BFDMultiplier,
		Logger: d.log, OnChange: d.peerChanged,
	}
	for _, p := range b.Peers {
		cfg.Peers = append(cfg.Peers, announce.Peer{Address: p.Address, ASN: p.ASN, PasswordFile: p.PasswordFile})
	}
	sp, err := d.cfg.NewAnnouncer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start BGP speaker: %w", err)
	}
	d.bgp = &bgpState{self: self, speaker: sp, announced: map[netip.Addr]bool{}, local: map[netip.Addr]bool{}, started: d.cfg.Now()}
	d.mu.Lock()
	d.status.bgp = d.bgp.speaker
	d.status.bgpStarted = d.bgp.started
	d.status.hold = b.HoldTime.Duration
	d.mu.Unlock()
	d.log.Info("BGP speaker started", "asn", cfg.ASN, "router_id", cfg.RouterID.String(), "next_hop", self.Address.String(), "peers", len(cfg.Peers), "bfd", cfg.BFD)
	return d.localVIPs()
}

// localVIPs puts every VIP of the inventory on the dummy interface. A VIP
// an inventory reload removed stays until the director restarts: it is
// withdrawn, so no traffic comes for it.
func (d *Director) localVIPs() error {
	if d.cfg.LocalVIPs == nil {
		return nil
	}
	if err := d.cfg.LocalVIPs.AddDummy(DummyInterface); err != nil {
		return fmt.Errorf("create %s: %w", DummyInterface, err)
	}
	for _, v := range d.sp.inv.VIPs {
		a := v.Address.Addr()
		if d.bgp.local[a] {
			continue
		}
		c, err := d.cfg.LocalVIPs.Add(vip.Address{Name: v.Name, Prefix: netip.PrefixFrom(a, a.BitLen()), Interface: DummyInterface})
		if err != nil {
			return fmt.Errorf("VIP %s: %w", v.Name, err)
		}
		d.bgp.local[a] = true
		if c.Action != vip.Unchanged {
			d.log.Info("VIP on the dummy interface", "vip", v.Name, "change", c.String())
		}
	}
	return nil
}

// peerChanged counts a session change (called from the speaker).
func (d *Director) peerChanged(p announce.PeerState) {
	state := "down"
	if p.Up {
		state = "up"
	}
	d.metrics.peerTransitions.WithLabelValues(p.Address.String(), state).Inc()
}

// views builds the decision input of every VIP.
func (d *Director) views() []vipView {
	var out []vipView
	for _, v := range d.sp.inv.VIPs {
		vv := vipView{Name: v.Name, Address: v.Address.Addr()}
		for _, ss := range d.sp.services {
			if ss.VIP != v.Name {
				continue
			}
			n := 0
			for _, m := range ss.Members {
				if d.drained[m.Backend] == nil && d.healthOf(m.Backend, m.Check).up {
					n++
				}
			}
			vv.Services = append(vv.Services, serviceView{Name: ss.Name, Healthy: n, Min: ss.MinHealthy})
		}
		out = append(out, vv)
	}
	return out
}

// announce applies the decision of every VIP, and withdraws the VIPs an
// inventory reload removed; each change is logged with its reason.
func (d *Director) announce() {
	if d.bgp == nil {
		return
	}
	d.mu.Lock()
	ready := d.status.ready
	d.mu.Unlock()
	seen := map[netip.Addr]bool{}
	for _, v := range d.views() {
		seen[v.Address] = true
		dec := decide(ready, d.bgp.drained, v)
		d.setAnnounced(v.Name, v.Address, dec.Announce, dec.Reason)
	}
	for a := range d.bgp.announced {
		if !seen[a] {
			d.setAnnounced(a.String(), a, false, "the VIP left the inventory")
		}
	}
}

func (d *Director) setAnnounced(name string, a netip.Addr, on bool, reason string) {
	was := d.bgp.announced[a]
	if on == was {
		return
	}
	var err error
	if on {
		err = d.bgp.speaker.Announce(a)
	} else {
		err = d.bgp.speaker.Withdraw(a)
	}
	verb := map[bool]string{true: "announce", false: "withdraw"}[on]
	if err != nil {
		d.log.Error("BGP "+verb+" failed; retried on the next change or repair", "vip", name, "address", a.String(), "error", err)
		return
	}
	if on {
		d.bgp.announced[a] = true
		d.log.Info("VIP announced", "vip", name, "address", a.String(), "reason", reason)
		d.metrics.vipAnnounced.WithLabelValues(name).Set(1)
	} else {
		delete(d.bgp.announced, a)
		d.log.Warn("VIP withdrawn", "vip", name, "address", a.String(), "reason", reason)
		d.metrics.vipAnnounced.WithLabelValues(name).Set(0)
	}
	d.mu.Lock()
	if on {
		d.status.announced[name] = a
	} else {
		delete(d.status.announced, name)
	}
	d.mu.Unlock()
}

// pollDrain reads this director's drain record and re-decides on a change.
func (d *Director) pollDrain() {
	if d.readDirectorDrain() {
		d.announce()
	}
}

// readDirectorDrain reads this director's drain record into the announcing
// state and reports a change. Run calls it before its first announce: a
// director restarted while drained must not announce, even for the one
// poll interval until pollDrain would have read the record.
func (d *Director) readDirectorDrain() bool {
	if d.bgp == nil {
		return false
	}
	rec, err := drain.Lookup(drain.DirectorDir(d.cfg.DrainDir), d.bgp.self.Address)
	if err != nil {
		d.log.Warn("director drain record ignored", "error", err)
	}
	drained := rec != nil
	if drained == d.bgp.drained {
		return false
	}
	d.bgp.drained = drained
	d.mu.Lock()
	d.status.drained = drained
	d.mu.Unlock()
	if drained {
		d.log.Info("director drained: withdrawing every VIP, still forwarding what arrives", "since", rec.Since.Format(time.RFC3339))
	} else {
		d.log.Info("director undrained")
	}
	return true
}

// stopBGP withdraws every VIP, waits withdraw_delay for the routers to
// move the traffic (IPVS keeps forwarding what still arrives), and closes
// the sessions.
func (d *Director) stopBGP() {
	if d.bgp == nil {
		return
	}
	n := len(d.bgp.announced)
	for a := range d.bgp.announced {
		d.setAnnounced(a.String(), a, false, "stopping")
	}
	if wait := d.sp.inv.BGP.WithdrawDelay.Duration; n > 0 && wait > 0 {
		d.log.Info("waiting for the routers to converge before closing the sessions", "withdraw_delay", wait.String())
		d.cfg.Sleep(wait)
	}
	d.bgp.speaker.Stop()
	d.log.Info("BGP sessions closed")
}

// startAnnouncer is the default NewAnnouncer: pkg/announce's speaker.
func startAnnouncer(ctx context.Context, cfg announce.Config) (Announcer, error) {
	return announce.Start(ctx, cfg)
}

// BGPStatus is what hala status shows of a director's BGP side; the
// director serves it as JSON on /bgp.
type BGPStatus struct {
	Peers []announce.PeerState `json:"peers"`
	// Announced are the VIPs announced now, by name.
	Announced map[string]netip.Addr `json:"announced"`
	Drained   bool                  `json:"drained"`
}

// BGP returns the announcing side's state, or false without BGP.
func (d *Director) BGP() (BGPStatus, bool) {
	d.mu.Lock()
	sp := d.status.bgp
	st := BGPStatus{Announced: maps.Clone(d.status.announced), Drained: d.status.drained}
	d.mu.Unlock()
	if sp == nil {
		return BGPStatus{}, false
	}
	st.Peers = sp.Peers()
	return st, true
}
