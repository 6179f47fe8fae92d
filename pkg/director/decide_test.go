package director

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/announce"
)

func TestDecide(t *testing.T) {
	svc := func(name string, healthy, min int) serviceView { return serviceView{name, healthy, min} }
	view := func(ss ...serviceView) vipView {
		return vipView{Name: "logs", Address: netip.MustParseAddr("10.99.0.10"), Services: ss}
	}
	tests := []struct {
		name           string
		ready, drained bool
		v              vipView
		announce       bool
		reason         string
	}{
		{"start: before the first apply", false, false, view(svc("a", 2, 1)), false, "starting: the first checks and apply have not finished"},
		{"healthy", true, false, view(svc("a", 1, 1)), true, "every service on the VIP has at least min_healthy healthy backends"},
		{"below min_healthy", true, false, view(svc("a", 1, 2)), false, "service a has 1 of min_healthy 2 healthy backends"},
		{"no backend seen", true, false, view(svc("a", 0, 1)), false, "service a has 0 of min_healthy 1 healthy backends"},
		{"one of two services short", true, false, view(svc("a", 2, 1), svc("b", 0, 1)), false, "service b has 0 of min_healthy 1 healthy backends"},
		{"both short, both named", true, false, view(svc("a", 0, 1), svc("b", 1, 2)), false, "service a has 0 of min_healthy 1 healthy backends; service b has 1 of min_healthy 2 healthy backends"},
		{"drained wins over healthy", true, true, view(svc("a", 2, 1)), false, "director drained (hala drain --director)"},
		{"not ready wins over drained", false, true, view(svc("a", 2, 1)), false, "starting: the first checks and apply have not finished"},
		{"a VIP without services", true, false, view(), false, "no service on the VIP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(tc.ready, tc.drained, tc.v)
			if got.Announce != tc.announce || got.Reason != tc.reason {
				t.Errorf("decide = %+v, want {%v %q}", got, tc.announce, tc.reason)
			}
		})
	}
}

func TestPeersHealthy(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hold := 9 * time.Second
	r1 := netip.MustParseAddr("192.0.2.1")
	r2 := netip.MustParseAddr("192.0.2.2")
	up := func(a netip.Addr, since time.Time) announce.PeerState {
		return announce.PeerState{Address: a, ASN: 65000, Up: true, State: "established", Since: since}
	}
	down := func(a netip.Addr, since time.Time) announce.PeerState {
		return announce.PeerState{Address: a, ASN: 65000, State: "active", Since: since, Reason: "hold timer expired"}
	}
	tests := []struct {
		name  string
		peers []announce.PeerState
		now   time.Time
		ok    bool
		why   string
	}{
		{"one peer up", []announce.PeerState{down(r1, t0), up(r2, t0)}, t0.Add(time.Hour), true, ""},
		{"just started, none up yet", []announce.PeerState{down(r1, time.Time{}), down(r2, time.Time{})}, t0.Add(hold), true, ""},
		{"never up after the hold time", []announce.PeerState{down(r1, time.Time{})}, t0.Add(hold + time.Second), false,
			"no BGP session established for 10s, longer than the hold time 9s: 192.0.2.1 AS65000 active: hold timer expired"},
		{"all down within the hold time", []announce.PeerState{down(r1, t0.Add(time.Minute)), down(r2, t0.Add(time.Minute))}, t0.Add(time.Minute + hold), true, ""},
		{"all down for longer than the hold time", []announce.PeerState{down(r1, t0.Add(time.Minute)), down(r2, t0.Add(50*time.Second))}, t0.Add(time.Minute + hold + time.Millisecond), false,
			"no BGP session established for 9.001s, longer than the hold time 9s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := peersHealthy(tc.peers, t0, tc.now, hold)
			if ok != tc.ok || !strings.HasPrefix(why, tc.why) {
				t.Errorf("peersHealthy = %v %q, want %v %q", ok, why, tc.ok, tc.why)
			}
		})
	}
}
