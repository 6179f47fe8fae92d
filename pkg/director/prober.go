package director

import (
	"context"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/logstash"
)

// result is one round of checks of one backend: a verdict per input, all
// computed from the one response.
type result struct {
	backend  string
	gen      uint64 // the spec generation the prober was started for
	start    time.Time
	duration time.Duration
	verdicts map[checkKey]*check.Verdict
	// drained is the backend's drain record (nil: not drained); drainErr
	// says why a record could not be read (then it counts as not drained).
	drained  *drain.Record
	drainErr error
}

// prober checks one backend once per interval.
type prober struct {
	b        *backendSpec
	gen      uint64
	src      check.Source
	stateDir string
	drainDir string
	weights  check.WeightStore
	clock    Clock
}

// once asks the backend's API one time and judges every input from it.
func (p *prober) once(ctx context.Context) result {
	ctx, cancel := context.WithTimeout(ctx, p.b.Timeout)
	defer cancel()
	start := p.clock.Now()
	stats, err := p.src.NodeStats(ctx, p.b.pipeline())
	src := check.Answered{Stats: stats, Err: err, Health: p.src}
	r := result{backend: p.b.Name, gen: p.gen, start: start, verdicts: make(map[checkKey]*check.Verdict, len(p.b.Checks))}
	// The record is read every round, so a drain acts within one interval.
	r.drained, r.drainErr = drain.Lookup(p.drainDir, p.b.Address)
	addr := net.JoinHostPort(p.b.Address.String(), strconv.Itoa(p.b.APIPort))
	for _, c := range p.b.Checks {
		r.verdicts[c.checkKey] = check.Run(ctx, src, check.Options{
			Address: addr, Host: p.b.Address.String(), Input: c.Input, Pipeline: c.Pipeline,
			Timeout: p.b.Timeout, StateDir: p.stateDir, Now: p.clock.Now,
			DynamicWeight: c.Load, Weights: p.weights,
		})
	}
	r.duration = p.clock.Now().Sub(start)
	return r
}

// run checks every interval until ctx ends, the first time at first (the
// slot that spreads many backends over the interval). A round never
// overlaps the next: its timeout is below the interval.
func (p *prober) run(ctx context.Context, first time.Time, out chan<- result) {
	next := first
	timer := p.clock.NewTimer(next.Sub(p.clock.Now()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		r := p.once(ctx)
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		next = next.Add(p.b.Interval)
		wait := next.Sub(p.clock.Now())
		if wait < 0 {
			// Fell behind (a result the main loop took late, a stalled
			// host): check again at once, so detection is not delayed by
			// an interval, then return to the slot grid at its first
			// point half an interval or more away: one early round, never
			// a burst to catch up.
			g := next.Add((-wait+p.b.Interval/2)/p.b.Interval*p.b.Interval + p.b.Interval)
			next, wait = g.Add(-p.b.Interval), 0
		}
		timer.Reset(wait)
	}
}

// slotWidth is the grid that checks are placed on. Loops whose offsets
// fall in one slot fire at the same instant, so the process wakes a few
// times per interval, not once per backend: waking is most of what a
// check costs. For 100 backends every second the director took 4.7% of
// a core with every loop on its own random offset, 1.6% on a 100ms grid
// and 1.15% on this one (make bench-director). An interval has at least
// two slots, so a short one still spreads; 500 backends at 1s go in 5
// groups of about 100, each backend asked once per interval all the same.
const slotWidth = 200 * time.Millisecond

// slot is a random offset in [0, interval) on a grid of about slotWidth.
func slot(interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	n := max(int64(interval/slotWidth), 2)
	return time.Duration(rand.Int64N(n)) * (interval / time.Duration(n))
}

// NewSource builds the client that asks one backend's API; Config.NewSource
// replaces it in tests.
type NewSource func(inv *inventory.Inventory, host string, port int) (check.Source, error)

// logstashSource is the default NewSource: the monitoring API client with
// the inventory's scheme, CA and credentials, keeping its connection open
// between checks.
func logstashSource(inv *inventory.Inventory, host string, port int) (check.Source, error) {
	cfg, err := check.APIConfig(inv, host, port)
	if err != nil {
		return nil, err
	}
	cfg.KeepAlive = true
	return logstash.New(cfg)
}
