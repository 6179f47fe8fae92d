package director

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/announce"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
	"github.com/hala-lb/hala/pkg/vip"
)

// fakeSpeaker records what the director asks of the BGP speaker.
type fakeSpeaker struct {
	mu      sync.Mutex
	cfg     announce.Config
	calls   []string
	peers   []announce.PeerState
	stopped bool
}

func (f *fakeSpeaker) Announce(a netip.Addr) error { return f.call("announce " + a.String()) }
func (f *fakeSpeaker) Withdraw(a netip.Addr) error { return f.call("withdraw " + a.String()) }
func (f *fakeSpeaker) call(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return nil
}
func (f *fakeSpeaker) Peers() []announce.PeerState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.peers)
}
func (f *fakeSpeaker) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		f.calls = append(f.calls, "stop")
	}
	f.stopped = true
}
func (f *fakeSpeaker) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

type fakeLocal struct {
	mu    sync.Mutex
	addrs []string
}

func (f *fakeLocal) AddDummy(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs = append(f.addrs, "dummy "+name)
	return nil
}
func (f *fakeLocal) Add(a vip.Address) (vip.Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs = append(f.addrs, a.String())
	return vip.Change{Address: a, Action: vip.Added}, nil
}

// bgpSource is a two-backend ha = "bgp" cluster with one UDP service per
// VIP; extra is appended.
func bgpSource(extra string) string {
	return inventorytest.Edit(inventorytest.DirectorBase,
		`ipvs = "director"`+"\n", `ipvs = "director"
ha = "bgp"

[bgp]
asn = 65001
withdraw_delay = "3s"

[[bgp.peer]]
address = "10.0.0.254"
asn = 65000
`,
		"address = \"10.0.0.100/24\"\nrouter_id = 1\n", "address = \"10.99.0.10/32\"\n") + `interval = "100ms"
rise = 1
fall = 1
min_healthy = 2
` + extra
}

type bgpRig struct {
	*rig
	speaker *fakeSpeaker
	local   *fakeLocal
	now     time.Time
	slept   []time.Duration
	mu      sync.Mutex
}

func newBGPRig(t *testing.T, inv *inventory.Inventory) *bgpRig {
	r := &bgpRig{rig: newRig(t, inv, nil), speaker: &fakeSpeaker{}, local: &fakeLocal{},
		now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c := &r.d.cfg
	c.Node = "d1"
	c.NewAnnouncer = func(_ context.Context, cfg announce.Config) (Announcer, error) {
		r.speaker.cfg = cfg
		for _, p := range cfg.Peers {
			r.speaker.peers = append(r.speaker.peers, announce.PeerState{Address: p.Address, ASN: p.ASN, State: "active"})
		}
		return r.speaker, nil
	}
	c.LocalVIPs = r.local
	c.DrainPoll = 20 * time.Millisecond
	c.Now = func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
	c.Sleep = func(d time.Duration) { r.mu.Lock(); defer r.mu.Unlock(); r.slept = append(r.slept, d) }
	return r
}

func (r *bgpRig) waitCalls(what string, want ...string) {
	r.t.Helper()
	var got []string
	r.waitFor(what, func() bool {
		got = append(got, r.speaker.take()...)
		return slices.Equal(got, want)
	})
}

func TestBGPAnnounceFollowsTheDecision(t *testing.T) {
	inv := parse(t, bgpSource(""))
	r := newBGPRig(t, inv)
	r.start()

	// The speaker got the director's identity and the [bgp] timers.
	c := r.speaker.cfg
	if c.ASN != 65001 || c.Local.String() != "10.0.0.1" || c.RouterID.String() != "10.0.0.1" || !c.BFD ||
		c.BFDInterval != 300*time.Millisecond || c.BFDMultiplier != 3 || c.HoldTime != 9*time.Second ||
		len(c.Peers) != 1 || c.Peers[0].Address.String() != "10.0.0.254" || c.Peers[0].ASN != 65000 {
		t.Errorf("speaker config %+v", c)
	}
	if got := strings.Join(r.local.addrs, ", "); got != "dummy hala0, 10.99.0.10/32 dev hala0" {
		t.Errorf("local VIPs: %s", got)
	}
	// Ready (first apply done, both backends healthy) → announced.
	r.waitCalls("announce at start", "announce 10.99.0.10")
	if !strings.Contains(r.logs.String(), "VIP announced") {
		t.Errorf("announce not logged:\n%s", r.logs)
	}

	// One backend fails: 1 of min_healthy 2 → withdrawn, with the reason.
	r.apis["10.0.0.12"].set("missing")
	r.waitCalls("withdraw below min_healthy", "withdraw 10.99.0.10")
	if !strings.Contains(r.logs.String(), "service syslog-udp has 1 of min_healthy 2 healthy backends") {
		t.Errorf("reason not logged:\n%s", r.logs)
	}
	r.apis["10.0.0.12"].set("ok")
	r.waitCalls("announce again", "announce 10.99.0.10")

	// A drained backend does not count.
	if err := drain.Drain(r.drains, drain.Record{Address: netip.MustParseAddr("10.0.0.12"), Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("withdraw: a backend drained", "withdraw 10.99.0.10")
	if _, err := drain.Undrain(r.drains, netip.MustParseAddr("10.0.0.12")); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("announce after undrain", "announce 10.99.0.10")

	// The director drained: withdrawn, IPVS untouched.
	r.table.takeWrites()
	if err := drain.Drain(drain.DirectorDir(r.drains), drain.Record{Address: netip.MustParseAddr("10.0.0.1"), Name: "d1", Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("withdraw on director drain", "withdraw 10.99.0.10")
	if !strings.Contains(r.logs.String(), "reason=\"director drained (hala drain --director)\"") {
		t.Errorf("drain reason not logged:\n%s", r.logs)
	}
	if w := r.table.takeWrites(); len(w) != 0 {
		t.Errorf("a director drain changed IPVS: %q", w)
	}
	if _, err := drain.Undrain(drain.DirectorDir(r.drains), netip.MustParseAddr("10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("announce on undrain", "announce 10.99.0.10")

	// Reload adding a VIP: on hala0 and announced; removing it: withdrawn.
	more := parse(t, bgpSource(`
[[vip]]
name = "more"
address = "10.99.0.11/32"

[[service]]
name = "more-udp"
vip = "more"
port = 5044
protocol = "udp"
input_id = "beats-5044"
interval = "100ms"
`))
	if err := r.d.Reload(t.Context(), more); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("announce the added VIP", "announce 10.99.0.11")
	if !slices.Contains(r.local.addrs, "10.99.0.11/32 dev hala0") {
		t.Errorf("added VIP not on hala0: %v", r.local.addrs)
	}
	if err := r.d.Reload(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("withdraw the removed VIP", "withdraw 10.99.0.11")

	// SIGTERM: withdraw, wait withdraw_delay, close the sessions; the
	// IPVS table stays.
	r.table.takeWrites()
	r.stop()
	if got := r.speaker.take(); !slices.Equal(got, []string{"withdraw 10.99.0.10", "stop"}) {
		t.Errorf("on exit: %q", got)
	}
	if !slices.Equal(r.slept, []time.Duration{3 * time.Second}) {
		t.Errorf("waited %v on exit, want withdraw_delay 3s", r.slept)
	}
	if w := r.table.takeWrites(); len(w) != 0 {
		t.Errorf("exit changed IPVS: %q", w)
	}
}

// A director whose backends are all unreachable never announces.
func TestBGPNoAnnounceWithoutHealthyBackends(t *testing.T) {
	r := newBGPRig(t, parse(t, bgpSource("")))
	r.apis["10.0.0.11"].set("missing")
	r.stepped() // rounds run when the test says: four really happen, however busy the machine
	r.start()
	for range 4 {
		r.round()
	}
	if got := r.speaker.take(); len(got) != 0 {
		t.Errorf("calls %q, want none", got)
	}
	r.stop()
	if got := r.speaker.take(); !slices.Equal(got, []string{"stop"}) {
		t.Errorf("on exit: %q", got)
	}
	if len(r.slept) != 0 {
		t.Errorf("waited %v with nothing announced", r.slept)
	}
}

// A director restarted while drained (hala drain --director, then a
// restart: planned work) announces nothing, not even for the one drain
// poll interval, until it is undrained.
func TestBGPRestartedWhileDrainedDoesNotAnnounce(t *testing.T) {
	r := newBGPRig(t, parse(t, bgpSource("")))
	if err := drain.Drain(drain.DirectorDir(r.drains), drain.Record{Address: netip.MustParseAddr("10.0.0.1"), Name: "d1", Since: r.now}); err != nil {
		t.Fatal(err)
	}
	r.start()
	if got := r.speaker.take(); len(got) != 0 {
		t.Fatalf("a drained director's start asked the speaker for %q, want nothing", got)
	}
	if st, ok := r.d.BGP(); !ok || !st.Drained {
		t.Errorf("status at start %+v, want drained", st)
	}
	if _, err := drain.Undrain(drain.DirectorDir(r.drains), netip.MustParseAddr("10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	r.waitCalls("announce on undrain", "announce 10.99.0.10")
}

// /healthz turns 503 once no session has been up for the hold time, and
// the metrics show the peers and the VIP.
func TestBGPHealthzAndMetrics(t *testing.T) {
	r := newBGPRig(t, parse(t, bgpSource("")))
	r.start()
	r.waitCalls("announce", "announce 10.99.0.10")
	if ok, why := r.d.Healthy(); !ok {
		t.Fatalf("unhealthy at start: %s", why)
	}
	r.mu.Lock()
	r.now = r.now.Add(9*time.Second + time.Millisecond)
	r.mu.Unlock()
	ok, why := r.d.Healthy()
	if ok || !strings.Contains(why, "no BGP session established for 9.001s, longer than the hold time 9s: 10.0.0.254 AS65000 active") {
		t.Errorf("Healthy = %v %q", ok, why)
	}
	r.speaker.mu.Lock()
	r.speaker.peers[0].Up, r.speaker.peers[0].State, r.speaker.peers[0].BFD = true, "established", "up"
	r.speaker.mu.Unlock()
	if ok, why := r.d.Healthy(); !ok {
		t.Errorf("unhealthy with a peer up: %s", why)
	}
	r.d.peerChanged(announce.PeerState{Address: netip.MustParseAddr("10.0.0.254"), Up: true})
	st, ok := r.d.BGP()
	if !ok || st.Announced["logs"].String() != "10.99.0.10" || len(st.Peers) != 1 || !st.Peers[0].Up || st.Drained {
		t.Errorf("BGP() = %+v, %v", st, ok)
	}

	// /bgp gives the keys hala status reads.
	rec := httptest.NewRecorder()
	r.d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/bgp", nil))
	for _, want := range []string{`"peers":[{"address":"10.0.0.254","asn":65000,"up":true,`, `"state":"established","bfd":"up"}]`, `"announced":{"logs":"10.99.0.10"}`, `"drained":false`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/bgp lacks %s: %s", want, rec.Body.String())
		}
	}

	var buf strings.Builder
	mfs, err := r.d.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			if strings.HasPrefix(mf.GetName(), "hala_bgp") || strings.HasPrefix(mf.GetName(), "hala_bfd") || mf.GetName() == "hala_vip_announced" {
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
				fmt.Fprintf(&buf, "%s%v %g\n", mf.GetName(), m.GetLabel(), v)
			}
		}
	}
	for _, want := range []string{
		`hala_bfd_peer_up[name:"peer" value:"10.0.0.254"] 1`,
		`hala_bgp_peer_transitions_total[name:"peer" value:"10.0.0.254" name:"state" value:"up"] 1`,
		`hala_bgp_peer_up[name:"peer" value:"10.0.0.254"] 1`,
		`hala_vip_announced[name:"vip" value:"logs"] 1`,
	} {
		if !strings.Contains(strings.ReplaceAll(buf.String(), "  ", " "), want) {
			t.Errorf("metrics lack %s:\n%s", want, buf.String())
		}
	}
}
