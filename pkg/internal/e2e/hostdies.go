package e2e

import (
	"fmt"
	"strings"
	"time"
)

// hostDiesScenario names a B8 row: the VIP holder's host dies while VRRP
// (version 2, or 3 below whole seconds) advertises every advert.
func hostDiesScenario(advert time.Duration) string {
	proto := "VRRP"
	if advert%time.Second != 0 {
		proto = "VRRPv3"
	}
	return fmt.Sprintf("B8 VIP holder's host dies (%s, advert_int %s)", proto, advert)
}

// compareB2B8 asserts the BGP half's target against its baseline: B2's
// loss at most a tenth of B8's at advert_int 1s, at the same rate (both
// halves ran). The 100 ms B8 row is reported beside it, not compared.
func compareB2B8(table Table) {
	var b2, b8 *Row
	for i := range table {
		switch s := table[i].Scenario; {
		case strings.HasPrefix(s, "B2 "):
			b2 = &table[i]
		case s == hostDiesScenario(time.Second):
			b8 = &table[i]
		}
	}
	if b2 == nil || b8 == nil {
		return
	}
	b2.Bound += fmt.Sprintf("; ≤ B8's loss ÷ 10 = %d", b8.Lost/10)
	b2.Check(b2.Lost*10 <= b8.Lost, "lost %d, more than a tenth of B8's %d", b2.Lost, b8.Lost)
}
