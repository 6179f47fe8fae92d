//go:build linux && integration

package e2e

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

const (
	// slowWork is how long the slow stand-in's worker spends on each
	// message in the load-weights scenario: at the even split (50 msg/s)
	// it is busy at least half the time.
	slowWork = 10 * time.Millisecond
	// weightCount is the stream measured under load weights.
	weightCount = 1000
	// weightSettle bounds the wait for the load weights to settle.
	weightSettle = 20 * time.Second
)

// loadWeights is D12: stash2's worker spends slowWork on every message.
// With static weights (rr) it still gets exactly half; after a SIGHUP with
// weights = "load" and scheduler = "wrr" its weight follows its
// worker_utilization and its share must fall to SlowShareBound (against
// the other node's lowest weight in the table) or less, and not under the
// floor, as the weights in the table say, with nothing lost.
func loadWeights(c *cluster) (row Row) {
	d, fast, slow := c.nodes[0], c.nodes[0], c.nodes[1]
	row = Row{Scenario: c.label("12 load weights, " + slow.name + " " + slowWork.String() + " per message")}
	boundText := func(b string) string {
		return fmt.Sprintf("static: %d/%d; load: %s's share %.1f%% (floor) to %s (the formula, against %s's weight), within 5 points of the table's weights; lost 0",
			splitCount/2, splitCount/2, slow.name, 100*FloorShare(), b, fast.name)
	}
	row.Bound = boundText("the bound")
	c.settle(&row, d)
	full, err := os.ReadFile(c.invPath)
	if err != nil {
		row.Failf("%v", err)
		return row
	}
	if err := slow.control("process delay " + slowWork.String()); err != nil {
		row.Failf("%v", err)
		return row
	}
	defer func() {
		// Back to the example for whatever runs next (rr again, the
		// stream stopped).
		if err := slow.control("process delay 0s"); err != nil {
			row.Failf("%v", err)
		}
		if err := c.writeInventory(full); err != nil {
			row.Failf("%v", err)
		}
		c.hupDirectors()
		if _, ok := c.mon.waitFor(time.Now(), 30*time.Second, func(s sample) bool {
			return c.healthy(s, d) && s.table[d.name][c.rs(fast)] == c.inv.Services[0].Weight && s.table[d.name][c.rs(slow)] == c.inv.Services[0].Weight
		}); !ok {
			row.Failf("static weights not back: %s", c.describe(c.mon.last()))
		}
	}()

	// The variants an operator would write: load weights need wrr here.
	// The scheduler changes first, with no traffic: while the kernel swaps
	// a service's scheduler it has none for a moment and drops what
	// arrives (2 of 100 msg/s in one run), which is not what this row
	// measures. wrr at equal weights splits as rr does.
	wrr := strings.Replace(string(full), `scheduler = "rr"`, `scheduler = "wrr"`, 1)
	if wrr == string(full) {
		row.Failf("%s: no scheduler = \"rr\" to replace", c.invPath)
		return row
	}
	load := strings.Replace(wrr, `scheduler = "wrr"`, `scheduler = "wrr"`+"\n"+`weights = "load"`, 1)
	if err := c.writeInventory([]byte(wrr)); err != nil {
		row.Failf("%v", err)
		return row
	}
	c.hupDirectors()
	if err := c.waitScheduler("wrr"); err != nil {
		row.Failf("%v", err)
		return row
	}

	static := c.sender.Burst(splitCount)
	c.flushed(&row)
	ts := c.count(&row, static)
	row.Add(ts)
	c.checkSplit(&row, "static weights", ts)

	// Load weights while the slow node works at the even split's load, so
	// its first weight is its lowest. Settled: its weight unchanged 2 s.
	st := c.sender.Start()
	time.Sleep(time.Second)
	if err := c.writeInventory([]byte(load)); err != nil {
		row.Failf("%v", err)
		return row
	}
	t0 := time.Now()
	c.hupDirectors()
	weightOf := func(s sample, n *node) int { return s.table[d.name][c.rs(n)] }
	var since time.Time
	last := -1
	settled, ok := c.mon.waitFor(t0, weightSettle, func(s sample) bool {
		w := weightOf(s, slow)
		if w != last || w <= 1 {
			last, since = w, s.at
			return false
		}
		return s.at.Sub(since) >= 2*time.Second
	})
	warm := st.Stop()
	settle := fmt.Sprintf("settled after %s", Seconds(settled.at.Sub(t0)))
	if !ok {
		// Still moving: it moves towards the resting band from below (the
		// first reading is at the even split's load), so the bound holds.
		settle = fmt.Sprintf("still moving after %s", Seconds(weightSettle))
	}
	if weightOf(settled, slow) <= 1 {
		row.Failf("no load weight in %s's table %s after the reload: %s", d.name, Seconds(weightSettle), c.describe(settled))
	}
	from := time.Now()
	span := c.sender.Burst(weightCount)
	to := time.Now()
	c.flushed(&row)
	tl := c.count(&row, span)
	tw := c.count(&row, warm)
	row.Add(tw)
	row.Add(tl)

	// What the table said while the span was sent.
	var expected, n float64
	minFast, maxSlow := 1<<30, 0
	for _, s := range c.mon.between(from, to) {
		wf, ws := weightOf(s, fast), weightOf(s, slow)
		if wf+ws == 0 {
			continue
		}
		expected += float64(ws) / float64(wf+ws)
		n++
		minFast, maxSlow = min(minFast, wf), max(maxSlow, ws)
	}
	if n == 0 {
		row.Failf("no sample of %s's table while the span was sent", d.name)
		return row
	}
	expected /= n
	bound := SlowShareBound(c.sender.Rate(), slowWork, float64(minFast))
	row.Bound = boundText(fmt.Sprintf("%.1f%%", 100*bound))
	share := float64(tl.PerServer[slow.name]) / float64(max(1, tl.Received))
	row.Time = fmt.Sprintf("%s: weights %s ≥ %d, %s ≤ %d; %s's share %.1f%% (table %.1f%%, static 50.0%%)",
		settle, fast.name, minFast, slow.name, maxSlow, slow.name, 100*share, 100*expected)
	fmt.Printf("load weights: %s\n", row.Time)
	row.Check(share <= bound, "%s's share %.1f%% under load weights; bound %.1f%% (50%% with static weights)", slow.name, 100*share, 100*bound)
	row.Check(share >= FloorShare(), "%s's share %.1f%% is under the floor's %.1f%%", slow.name, 100*share, 100*FloorShare())
	// wrr is exact over whole cycles ((w1 + w2) / gcd packets, about 200
	// here) and the weights may still move during the span.
	row.Check(share > expected-0.05 && share < expected+0.05, "%s's share %.1f%%, but its weights in the table give %.1f%%", slow.name, 100*share, 100*expected)
	row.Check(maxSlow < minFast, "%s's weight reached %d, %s's fell to %d: the slow node not lighter", slow.name, maxSlow, fast.name, minFast)
	row.Check(tl.Lost == 0 && tw.Lost == 0, "%d lost under load weights (%d while settling)", tl.Lost, tw.Lost)
	row.Check(tl.Duplicates == 0 && tw.Duplicates == 0, "%d duplicates", tl.Duplicates+tw.Duplicates)
	return row
}

// waitScheduler waits until both directors' tables run the service with
// scheduler name.
//
// Equivalent to: ipvsadm -Ln -u VIP:PORT | grep NAME
func (c *cluster) waitScheduler(name string) error {
	svc := net.JoinHostPort(c.vip.String(), strconv.Itoa(c.port))
	_, err := testutil.Poll(10*time.Second, 100*time.Millisecond, func() error {
		for _, n := range c.nodes {
			out, err := n.ipvsadm("-Ln", "-u", svc)
			if err != nil || !slices.Contains(strings.Fields(out), name) {
				return fmt.Errorf("%s: %s not %s yet: %v\n%s", n.name, svc, name, err, out)
			}
		}
		return nil
	})
	return err
}
