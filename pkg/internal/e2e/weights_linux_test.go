//go:build linux && integration

package e2e

import (
	"fmt"
	"os"
	"strings"
	"time"
)

const (
	// slowWork is how long the slow stand-in's worker spends on each
	// message in the load-weights scenario: at the even split (50 msg/s)
	// it is busy half the time, and it keeps up with all 100 msg/s.
	slowWork = 10 * time.Millisecond
	// idleLoad is the most the other stand-in may be busy (its worker
	// only writes JSON lines); its weight then rests at least at
	// restingWeights(loadTarget(idleLoad)).
	idleLoad = 0.05
	// weightCount is the stream measured under load weights.
	weightCount = 1500
)

// loadWeights is D12: stash2's worker spends slowWork on every message.
// With static weights (rr) it still gets exactly half; after a SIGHUP with
// weights = "load" and scheduler = "wrr" its weight follows its
// worker_utilization and its share must fall to SlowShareBound or less
// (and not under the floor), as the weights in the table say, with
// nothing lost.
func loadWeights(c *cluster) Row {
	d, fast, slow := c.nodes[0], c.nodes[0], c.nodes[1]
	other, _ := restingWeights(loadTarget(idleLoad))
	bound := SlowShareBound(c.sender.Rate(), slowWork, other)
	row := Row{Scenario: c.label("12 load weights, " + slow.name + " " + slowWork.String() + " per message")}
	row.Bound = fmt.Sprintf("static: %d/%d; load: %s ≥ %.0f, %s's share %.1f%%–%.1f%% and within 3 points of the table's weights, lost 0",
		splitCount/2, splitCount/2, fast.name, other, slow.name, 100*FloorShare(), 100*bound)
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
		// Back to the example for whatever runs next.
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

	static := c.sender.Burst(splitCount)
	c.hold()
	ts := c.count(&row, static)
	row.Add(ts)
	c.checkSplit(&row, "static weights", ts)

	// The variant an operator would write: load weights need wrr here.
	variant := strings.Replace(string(full), `scheduler = "rr"`, `scheduler = "wrr"`+"\n"+`weights = "load"`, 1)
	if variant == string(full) {
		row.Failf("%s: no scheduler = \"rr\" to replace", c.invPath)
		return row
	}
	if err := c.writeInventory([]byte(variant)); err != nil {
		row.Failf("%v", err)
		return row
	}
	t0 := time.Now()
	c.hupDirectors()
	// Load the slow node while the weights settle: its share decides its
	// utilization. Settled: its weight unchanged for 3 s.
	st := c.sender.Start()
	weightOf := func(s sample, n *node) int { return s.table[d.name][c.rs(n)] }
	var since time.Time
	last := -1
	settled, ok := c.mon.waitFor(t0, 60*time.Second, func(s sample) bool {
		w := weightOf(s, slow)
		if w != last || w <= 1 {
			last, since = w, s.at
			return false
		}
		return s.at.Sub(since) >= 3*time.Second
	})
	warm := st.Stop()
	settle := settled.at.Sub(t0)
	if !ok {
		row.Failf("%s's load weight did not settle within 60s: %s", slow.name, c.describe(settled))
	}
	from := time.Now()
	span := c.sender.Burst(weightCount)
	to := time.Now()
	c.hold()
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
	share := float64(tl.PerServer[slow.name]) / float64(max(1, tl.Received))
	row.Time = fmt.Sprintf("settled %s: weights %s %d, %s %d; %s's share %.1f%% (table %.1f%%, static 50.0%%)",
		Seconds(settle), fast.name, weightOf(settled, fast), slow.name, weightOf(settled, slow), slow.name, 100*share, 100*expected)
	fmt.Printf("load weights: %s\n", row.Time)
	row.Check(float64(minFast) >= other, "%s's weight fell to %d while idle; want ≥ %.0f (load ≤ %.0f%%)", fast.name, minFast, other, 100*idleLoad)
	row.Check(share <= bound, "%s's share %.1f%% under load weights; bound %.1f%% (50%% with static weights)", slow.name, 100*share, 100*bound)
	row.Check(share >= FloorShare(), "%s's share %.1f%% is under the floor's %.1f%%", slow.name, 100*share, 100*FloorShare())
	row.Check(share > expected-0.03 && share < expected+0.03, "%s's share %.1f%%, but its weights in the table give %.1f%%", slow.name, 100*share, 100*expected)
	row.Check(maxSlow < minFast, "%s's weight reached %d, %s's fell to %d: the slow node not lighter", slow.name, maxSlow, fast.name, minFast)
	row.Check(tl.Lost == 0 && tw.Lost == 0, "%d lost under load weights (%d while settling)", tl.Lost, tw.Lost)
	row.Check(tl.Duplicates == 0 && tw.Duplicates == 0, "%d duplicates", tl.Duplicates+tw.Duplicates)
	return row
}
