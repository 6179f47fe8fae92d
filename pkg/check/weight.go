package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"

	"github.com/hala-lb/hala/pkg/logstash"
)

// Load-aware weights (service weights = "load").
const (
	// MinLoadWeight is the floor: a healthy node never gets less from load
	// alone, so a saturated node keeps a trickle that keeps its metrics
	// current, and one bad reading cannot starve it (at most 253:10).
	MinLoadWeight = 10
	// Hysteresis is the share of the current weight by which the
	// formula's value must differ before the weight moves at all.
	Hysteresis = 0.10
)

// WeightState is what load weights keep between two samples of one
// pipeline: the weight last reported (for damping) and the event counters
// that pipelines without flow metrics are measured by.
type WeightState struct {
	// Weight is the weight last reported (0 = none yet).
	Weight int `json:"weight"`
	// Counters says Push and Duration hold a sample.
	Counters bool  `json:"counters"`
	Push     int64 `json:"queue_push_duration_in_millis"`
	Duration int64 `json:"duration_in_millis"`
}

// WeightStore keeps each pipeline's WeightState between checks: hala
// director keeps it in memory (MemoryWeights), hala check in a state file.
type WeightStore interface {
	LoadWeight(key string) (WeightState, bool, error)
	SaveWeight(key string, st WeightState) error
}

// MemoryWeights is a WeightStore in memory, safe for concurrent use.
type MemoryWeights struct {
	mu sync.Mutex
	m  map[string]WeightState
}

// LoadWeight returns key's state, if any.
func (s *MemoryWeights) LoadWeight(key string) (WeightState, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.m[key]
	return st, ok, nil
}

// SaveWeight keeps key's state.
func (s *MemoryWeights) SaveWeight(key string, st WeightState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]WeightState{}
	}
	s.m[key] = st
	return nil
}

// fileWeights keeps WeightState as one small JSON file per pipeline in
// the state dir, written atomically.
type fileWeights struct {
	dir      string
	readOnly bool
}

func (f fileWeights) path(key string) string { return statePath(f.dir, "weight", key) }

func (f fileWeights) LoadWeight(key string) (WeightState, bool, error) {
	var st WeightState
	data, err := os.ReadFile(f.path(key))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return st, false, nil
	case err != nil:
		return st, false, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return WeightState{}, false, fmt.Errorf("read state %s: %w", f.path(key), err)
	}
	return st, true, nil
}

func (f fileWeights) SaveWeight(key string, st WeightState) error {
	if f.readOnly {
		return nil
	}
	return writeState(f.dir, f.path(key), st)
}

// PipelineLoad reads a pipeline's load, 0 (idle) to 1 (saturated), and
// names where it came from. It is the one definition of a pipeline's load:
// the dynamic weight is set from it, and hala status and hala check
// --explain show it. Flow metrics are read through FlowMetric.Recent:
//
//   - flow.worker_utilization (8.13+), the current window first: the share
//     of worker time spent working;
//   - else flow.queue_backpressure (8.5+), current first: how much of the
//     time inputs were blocked pushing to the queue;
//   - else (5.x to 8.4) the growth of events.queue_push_duration_in_millis
//     against events.duration_in_millis since prev, the previous sample:
//     the time inputs waited for a free worker per unit of worker time.
//
// ok is false when there is no reading: no flow metrics and no previous
// sample (or the counters went back, a restart).
func PipelineLoad(p *logstash.Pipeline, prev WeightState) (load float64, why string, ok bool) {
	if v, w, ok := p.Flow["worker_utilization"].Recent(); ok {
		return clamp01(v / 100), fmt.Sprintf("worker_utilization %.1f%% (%s)", v, w), true
	}
	if v, w, ok := p.Flow["queue_backpressure"].Recent(); ok {
		return clamp01(v), fmt.Sprintf("queue_backpressure %.3g (%s)", v, w), true
	}
	if p.Events == nil || !prev.Counters {
		return 0, "", false
	}
	dp, dd := p.Events.QueuePushDurationMillis-prev.Push, p.Events.DurationMillis-prev.Duration
	switch {
	case dp < 0 || dd < 0:
		return 0, "", false
	case dd == 0:
		return 0, "no events since the last sample", true
	}
	return clamp01(float64(dp) / float64(dd)), fmt.Sprintf("queue_push_duration %dms / duration %dms since the last sample", dp, dd), true
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

// Counters is the sample of p's event counters that PipelineLoad compares
// a later sample with (nodes without flow metrics); no Weight.
func Counters(p *logstash.Pipeline) WeightState {
	if p == nil || p.Events == nil {
		return WeightState{}
	}
	return WeightState{Counters: true, Push: p.Events.QueuePushDurationMillis, Duration: p.Events.DurationMillis}
}

// LoadWeight is the formula: MinLoadWeight + (1 - load) × (MaxWeight -
// MinLoadWeight), rounded: 253 idle, 10 saturated.
func LoadWeight(load float64) int {
	return MinLoadWeight + int(math.Round((1-clamp01(load))*(MaxWeight-MinLoadWeight)))
}

// Weight computes a pipeline's misc_dynamic weight from its load and the
// previous sample's state, and returns the state to keep for the next one.
//
// Damping: the first sample takes the formula's value; after that the
// weight holds while the formula's value is within Hysteresis (10%) of it,
// and otherwise moves halfway towards that value, so one noisy sample
// neither flaps it nor swings it end to end. Without a reading (no flow
// metrics, first sample of an older node) the weight stays where it was,
// MaxWeight at first.
func Weight(p *logstash.Pipeline, prev WeightState) (int, string, WeightState) {
	next := Counters(p)
	next.Weight = prev.Weight
	last := prev.Weight
	if last < 1 || last > MaxWeight {
		last = 0
	}
	load, why, ok := PipelineLoad(p, prev)
	if !ok {
		if last == 0 {
			last = MaxWeight
		}
		next.Weight = last
		if prev.Counters || p.Events == nil {
			return last, "no load metrics: weight kept", next
		}
		return last, "no flow metrics: first sample of the event counters, weight kept", next
	}
	target := LoadWeight(load)
	w := target
	switch diff := target - last; {
	case last == 0:
	case math.Abs(float64(diff)) <= Hysteresis*float64(last):
		w = last
		why += fmt.Sprintf(" → %d, held within %d%%", target, int(Hysteresis*100))
	default:
		w = last + int(math.Round(float64(diff)/2))
		why += fmt.Sprintf(" → %d, moved halfway from %d", target, last)
	}
	next.Weight = w
	return w, why, next
}
