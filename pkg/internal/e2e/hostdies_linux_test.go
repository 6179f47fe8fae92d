//go:build linux && integration

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// vipHolderDies is B8, the baseline of the BGP half's B2, in the director
// half (VRRP): the VIP holder's host dies as in B2 (its link goes down,
// then keepalived, hala director and its Logstash stand-in stop at once).
// stash2 must take the VIP within 3 × advert_int + skew; every message
// lost is counted, for comparing with B2.
func vipHolderDies(c *cluster) Row {
	p, s := c.nodes[0], c.nodes[1]
	skew := time.Duration(float64(c.advert) * float64(256-c.priority[s.name]) / 256)
	bound := 3*c.advert + skew
	row := Row{Scenario: fmt.Sprintf("B8 VIP holder's host dies (VRRP, advert_int %s)", c.advert),
		Bound: fmt.Sprintf("failover ≤ 3 × advert_int + skew = %s; loss counted (the baseline of B2)", Seconds(bound))}
	c.settle(&row, p)
	iface := c.inv.Directors[0].Interface

	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	if out, err := p.ns.Cmd("ip", "link", "set", iface, "down").CombinedOutput(); err != nil {
		row.Failf("link down: %v %s", err, out)
	}
	if err := p.killKeepalived(); err != nil {
		row.Failf("kill keepalived: %v", err)
	}
	syscall.Kill(p.hd.Pid(), syscall.SIGKILL)
	p.hd.Stop()
	p.killStandin()
	s1, ok := c.mon.waitFor(t0, 10*bound, func(x sample) bool { return x.vip[s.name] })
	t1 := s1.seen[s.name]
	if !ok {
		t1 = time.Now()
		row.Failf("VIP not on %s %s after the host died: %s", s.name, Seconds(t1.Sub(t0)), c.describe(s1))
	}
	failover := t1.Sub(t0)
	row.Check(!ok || failover <= bound+sampleEvery+vrrpLatency, "VIP on %s after %s; bound %s (+%s sampling, +%s timer latency)",
		s.name, Seconds(failover), Seconds(bound), sampleEvery, vrrpLatency)
	// stash2 also takes the dead backend out of its table.
	rs := c.rs(p)
	s2, ok := c.mon.waitFor(t1, 10*time.Second, func(x sample) bool { return !x.in(s.name, rs) })
	if !ok {
		row.Failf("%s still in %s's table: %s", p.name, s.name, c.describe(s2))
	}
	time.Sleep(time.Second)
	span := st.Stop()
	c.hold()
	tl := c.count(&row, span, Window{From: t0, To: t1})
	row.Add(tl)
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	row.Time = fmt.Sprintf("failover %s; %d lost during it, %d after (dead backend)", Seconds(failover), tl.LostInWindow, len(tl.LostOutside))

	// The host comes back.
	if out, err := p.ns.Cmd("ip", "link", "set", iface, "up").CombinedOutput(); err != nil {
		row.Failf("link up: %v %s", err, out)
	}
	if err := c.startStandin(p, 0); err != nil {
		row.Failf("%v", err)
	}
	c.startDirector(p)
	if err := c.waitDirector(p); err != nil {
		row.Failf("%v", err)
	}
	c.startKeepalived(p)
	if _, ok := c.mon.waitFor(time.Now(), 60*time.Second, func(x sample) bool {
		return slices.Equal(x.holders(), []string{p.name}) && c.healthy(x, p)
	}); !ok {
		row.Failf("%s not back as the VIP holder: %s", p.name, c.describe(c.mon.last()))
	}
	return row
}

// compareB2B8 asserts the BGP half's target against its baseline: B2's
// loss at most a tenth of B8's at the same rate (both halves ran).
func compareB2B8(table Table) {
	var b2, b8 *Row
	for i := range table {
		switch {
		case strings.HasPrefix(table[i].Scenario, "B2 "):
			b2 = &table[i]
		case strings.HasPrefix(table[i].Scenario, "B8 "):
			b8 = &table[i]
		}
	}
	if b2 == nil || b8 == nil {
		return
	}
	b2.Bound += fmt.Sprintf("; ≤ B8's loss ÷ 10 = %d", b8.Lost/10)
	b2.Check(b2.Lost*10 <= b8.Lost, "lost %d, more than a tenth of B8's %d", b2.Lost, b8.Lost)
}
