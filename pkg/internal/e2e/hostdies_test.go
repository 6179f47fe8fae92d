package e2e

import (
	"strings"
	"testing"
	"time"
)

// The two B8 rows are named by their advert interval and VRRP version,
// and B2's target compares with the 1s row (the baseline), never
// with the 100 ms one, whichever comes last in the table.
func TestCompareB2WithB8At1s(t *testing.T) {
	if got, want := hostDiesScenario(time.Second), "B8 VIP holder's host dies (VRRP, advert_int 1s)"; got != want {
		t.Errorf("1s row %q, want %q", got, want)
	}
	if got, want := hostDiesScenario(100*time.Millisecond), "B8 VIP holder's host dies (VRRPv3, advert_int 100ms)"; got != want {
		t.Errorf("100ms row %q, want %q", got, want)
	}
	for _, tc := range []struct {
		b2Lost int
		pass   bool
	}{{35, true}, {36, false}} {
		table := Table{
			{Scenario: hostDiesScenario(time.Second), Lost: 353},
			{Scenario: hostDiesScenario(100 * time.Millisecond), Lost: 40},
			{Scenario: "B2 director host dies (d2)", Lost: tc.b2Lost, Bound: "route gone ≤ 0.5s"},
		}
		compareB2B8(table)
		b2 := table[2]
		if b2.Pass() != tc.pass || !strings.HasSuffix(b2.Bound, "; ≤ B8's loss ÷ 10 = 35") {
			t.Errorf("B2 lost %d against B8's 353: pass %v, bound %q, failures %q; want pass %v against 35", tc.b2Lost, b2.Pass(), b2.Bound, b2.Failures, tc.pass)
		}
	}
	// Without the 1s row (one half alone) there is nothing to compare.
	table := Table{{Scenario: hostDiesScenario(100 * time.Millisecond), Lost: 40}, {Scenario: "B2 director host dies (d2)", Lost: 7}}
	compareB2B8(table)
	if !table[1].Pass() || strings.Contains(table[1].Bound, "B8") {
		t.Errorf("B2 compared with the 100 ms row: %+v", table[1])
	}
}
