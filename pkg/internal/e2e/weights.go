package e2e

import "time"

// Load weights as docs/check.md documents them for weights = "load" (hala
// check --dynamic-weight and hala director): weight = 10 + round((1 −
// load) × 243), 253 idle and 10 saturated, held while the formula's value
// is within 10% of the current weight. Written out here rather than taken
// from pkg/check, so that the suite checks the code against the document.
const (
	loadFloor = 10
	loadIdle  = 253
	loadHold  = 0.10
)

// loadTarget is the formula's weight for a load u (0 idle, 1 saturated),
// unrounded.
func loadTarget(u float64) float64 {
	u = max(0, min(1, u))
	return loadFloor + (1-u)*(loadIdle-loadFloor)
}

// restingWeights returns the weights a damped load weight can rest at
// when the formula says target: held within loadHold of it, so from
// target/(1+loadHold) to target/(1−loadHold).
func restingWeights(target float64) (lo, hi float64) {
	return target / (1 + loadHold), min(loadIdle, target/(1-loadHold))
}

// SlowShareBound is the largest share of the traffic that a node can keep
// under load weights when it works at least work on each message, the
// client sends rate messages a second in all, and the other node's weight
// is at least other. At share s the slow node is busy at least s × rate ×
// work of the time, so the formula gives it at most loadTarget of that,
// and it rests at most restingWeights' hi above it; the share its weight
// wins against other falls as s grows, and the bound is where it equals s.
func SlowShareBound(rate int, work time.Duration, other float64) float64 {
	gap := func(s float64) float64 {
		_, w := restingWeights(loadTarget(s * float64(rate) * work.Seconds()))
		return w/(w+other) - s
	}
	lo, hi := 0.0, 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if gap(mid) > 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// FloorShare is the smallest share a healthy node keeps under load
// weights: the floor against an idle node.
func FloorShare() float64 { return float64(loadFloor) / (loadFloor + loadIdle) }
