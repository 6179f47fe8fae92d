package director

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/announce"
)

// serviceView is one service of a VIP as the announce decision sees it.
type serviceView struct {
	Name string
	// Healthy counts the service's backends that are up and not drained
	// in this director's view; Min is its min_healthy.
	Healthy, Min int
}

// vipView is what decides whether a VIP is announced.
type vipView struct {
	Name     string
	Address  netip.Addr
	Services []serviceView
}

// decision is whether to announce a VIP, and why.
type decision struct {
	Announce bool
	Reason   string
}

// decide says whether this director announces v: only after its first
// apply (the IPVS table is programmed), while it is not drained, and while
// every service on v has at least min_healthy healthy backends in its
// view. A director that cannot see the backends must not attract traffic.
// Peers being down changes nothing: the route is sent when one comes up.
func decide(ready, drained bool, v vipView) decision {
	switch {
	case !ready:
		return decision{false, "starting: the first checks and apply have not finished"}
	case drained:
		return decision{false, "director drained (hala drain --director)"}
	case len(v.Services) == 0:
		return decision{false, "no service on the VIP"}
	}
	var short []string
	for _, s := range v.Services {
		if s.Healthy < s.Min {
			short = append(short, fmt.Sprintf("service %s has %d of min_healthy %d healthy backends", s.Name, s.Healthy, s.Min))
		}
	}
	if len(short) > 0 {
		return decision{false, strings.Join(short, "; ")}
	}
	return decision{true, "every service on the VIP has at least min_healthy healthy backends"}
}

// peersHealthy says whether the director's sessions are healthy at now:
// some peer is established, or every peer went down (or the speaker
// started, at start) less than hold ago, which leaves a session time to
// come back. Otherwise the reason lists the peers.
func peersHealthy(peers []announce.PeerState, started, now time.Time, hold time.Duration) (bool, string) {
	last := started
	for _, p := range peers {
		if p.Up {
			return true, ""
		}
		if p.Since.After(last) {
			last = p.Since
		}
	}
	if now.Sub(last) <= hold {
		return true, ""
	}
	desc := make([]string, len(peers))
	for i, p := range peers {
		desc[i] = p.String()
	}
	return false, fmt.Sprintf("no BGP session established for %s, longer than the hold time %s: %s",
		now.Sub(last).Round(time.Millisecond), hold, strings.Join(desc, "; "))
}
