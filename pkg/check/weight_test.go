package check

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/logstash"
)

func fixturePipeline(t *testing.T, file, id string) *logstash.Pipeline {
	t.Helper()
	s, err := logstash.ParseNodeStats(strings.NewReader(string(fixture(t, file))), 0)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	p := s.Pipeline(id)
	if p == nil {
		t.Fatalf("%s: no pipeline %q", file, id)
	}
	return p
}

// The formula on real bodies: flow metrics where the version has them,
// the event counters' growth before that.
func TestWeightOnFixtures(t *testing.T) {
	zero := WeightState{Counters: true} // a previous sample at counters 0
	for _, tc := range []struct {
		file, pipeline string
		prev           WeightState
		want           int
		source         string
	}{
		// 8.13+: worker_utilization, current window.
		{"node_stats-8.15-kuskoman.json", "main", WeightState{}, 10, "worker_utilization 100.0% (current)"},
		{"node_stats_pipelines-8.x-docs.json", "test", WeightState{}, 27, "worker_utilization 93.1% (current)"},
		{"node_stats_pipelines-8.x-docs.json", "test2", WeightState{}, 10, "worker_utilization 100.0%"},
		{"node_stats_pipelines_test-8.x-docs.json", "test", WeightState{}, 72, "worker_utilization 74.5%"},
		{"node_stats_pipelines-9.x-openapi.json", "heartbeat-ruby-stdout", WeightState{}, 253, "worker_utilization 0.0%"},
		// 8.5 to 8.12: queue_backpressure.
		{"node_stats-8.6-kuskoman.json", "main", WeightState{}, 197, "queue_backpressure 0.229 (current)"},
		// Before flow metrics: queue_push_duration / duration growth.
		{"node_stats-6.0-logstash-benchmark.json", "main", zero, 142, "queue_push_duration 4236ms / duration 9250ms"},
		{"node_stats-6.0-logstash-benchmark.json", "main", WeightState{}, 253, "first sample"},
		{"node_stats-6.0-logstash-benchmark.json", "main", WeightState{Counters: true, Push: 4236, Duration: 9250, Weight: 142}, 198, "no events since the last sample"},
		{"node_stats-6.0-logstash-benchmark.json", "main", WeightState{Counters: true, Push: 1e9, Duration: 1e9, Weight: 99}, 99, "weight kept"}, // counters went back: a restart
		{"node_stats-6.4-sagap.json", "main", zero, 253, "queue_push_duration 0ms / duration 93ms"},
		{"node_stats_pipeline-5.3-telegraf.json", "main", zero, 253, "duration 1151ms"},
		{"node_stats_partial-8.4-metricbeat.json", "main", WeightState{}, 253, "first sample"},
	} {
		t.Run(tc.file+"/"+tc.pipeline, func(t *testing.T) {
			p := fixturePipeline(t, tc.file, tc.pipeline)
			w, why, _ := Weight(p, tc.prev)
			if w != tc.want || !strings.Contains(why, tc.source) {
				t.Errorf("weight %d (%s), want %d from %q", w, why, tc.want, tc.source)
			}
			if w < MinLoadWeight || w > MaxWeight {
				t.Errorf("weight %d outside %d-%d", w, MinLoadWeight, MaxWeight)
			}
		})
	}
}

func TestLoadWeightFormula(t *testing.T) {
	for load, want := range map[float64]int{0: 253, 0.5: 132, 1: 10, 1.7: 10, -1: 253} {
		if got := LoadWeight(load); got != want {
			t.Errorf("LoadWeight(%g) = %d, want %d", load, got, want)
		}
	}
}

func flowPipeline(t *testing.T, utilization string) *logstash.Pipeline {
	t.Helper()
	body := `{"pipelines":{"main":{"flow":{"worker_utilization":{"current":` + utilization + `}},"plugins":{"inputs":[{"id":"a"}]}}}}`
	s, err := logstash.ParseNodeStats(strings.NewReader(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	return &s.Pipelines[0]
}

// Damping over a sequence of samples: halfway steps, held within 10%, and
// never below the floor.
func TestWeightDamping(t *testing.T) {
	var st WeightState
	for i, tc := range []struct {
		utilization string
		want        int
	}{
		{"0", 253},   // first sample: the formula's value
		{"100", 131}, // 253 → 10: halfway
		{"100", 70},
		{"100", 40},
		{"100", 25},
		{"100", 17},
		{"100", 13},
		{"100", 11},
		{"100", 11}, // 10 is within 10% of 11: held
		{"100", 11}, // and stays above the floor
		{"98", 13},  // 98% → 15, more than 10% away: halfway
	} {
		var w int
		var why string
		w, why, st = Weight(flowPipeline(t, tc.utilization), st)
		if w != tc.want {
			t.Fatalf("sample %d (utilization %s): weight %d (%s), want %d", i, tc.utilization, w, why, tc.want)
		}
	}
	// Around a steady 50%, samples within ±10% of the weight never move it.
	st = WeightState{Weight: 132}
	for _, u := range []string{"50", "46", "54", "47", "53"} {
		var w int
		w, _, st = Weight(flowPipeline(t, u), st)
		if w != 132 {
			t.Fatalf("utilization %s moved the weight from 132 to %d: flapping", u, w)
		}
	}
	// Pre-8.5: the same damping on the counters' ratio.
	body := func(push, dur string) *logstash.Pipeline {
		s, err := logstash.ParseNodeStats(strings.NewReader(`{"version":"6.4.0","pipelines":{"main":{"events":{"queue_push_duration_in_millis":`+push+`,"duration_in_millis":`+dur+`},"plugins":{"inputs":[{"id":"a"}]}}}}`), 0)
		if err != nil {
			t.Fatal(err)
		}
		return &s.Pipelines[0]
	}
	st = WeightState{}
	for i, tc := range []struct {
		push, dur string
		want      int
	}{
		{"0", "0", 253},       // first sample: nothing to compare with
		{"900", "1000", 143},  // 0.9 → 34: halfway from 253
		{"1800", "2000", 88},  // again 34
		{"1800", "2000", 171}, // no events: idle, 253
	} {
		var w int
		var why string
		w, why, st = Weight(body(tc.push, tc.dur), st)
		if w != tc.want {
			t.Fatalf("counter sample %d: weight %d (%s), want %d", i, w, why, tc.want)
		}
	}
}

// hala check keeps the state in its state dir: a pre-8.5 node is weighed
// from the second run on; --explain reads it but never writes it.
func TestDynamicWeightKeepsStateBetweenRuns(t *testing.T) {
	body := func(push, dur int) []byte {
		return []byte(`{"version":"6.4.0","pipelines":{"main":{"events":{"queue_push_duration_in_millis":` + itoa(push) + `,"duration_in_millis":` + itoa(dur) + `},"plugins":{"inputs":[{"id":"udp-5514","name":"udp"}]}}}}`)
	}
	n := newNode(t, body(0, 0))
	addr := n.srv.Listener.Addr().String()
	dir := t.TempDir()
	o := Options{Input: "udp-5514", DynamicWeight: true, StateDir: dir}
	if v := run(t, addr, o); v.Weight != MaxWeight || len(v.Warnings) > 0 {
		t.Fatalf("first run: %v weight %d %v", v, v.Weight, v.Warnings)
	}
	n.set(body(1000, 1000)) // saturated since the first run
	ro := o
	ro.ReadOnly = true
	if v := run(t, addr, ro); v.Weight != 131 {
		t.Fatalf("read-only run: weight %d (%s), want 131 (halfway to 10)", v.Weight, v.Reason)
	}
	if v := run(t, addr, o); v.Weight != 131 {
		t.Fatalf("second run: weight %d (%s), want 131: the read-only run kept nothing", v.Weight, v.Reason)
	}
	if v := run(t, addr, o); v.Weight != 192 || !strings.Contains(v.Reason, "no events since") {
		t.Fatalf("third run, counters unchanged: weight %d (%s), want 192 (idle: halfway to 253)", v.Weight, v.Reason)
	}
	// State that cannot be written: still healthy, with a warning.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o.StateDir = filepath.Join(file, "sub")
	v := run(t, addr, o)
	if !v.Healthy || v.ExitCode() != 2+MaxWeight || !strings.Contains(strings.Join(v.Warnings, "\n"), "load weight state not kept") {
		t.Errorf("unwritable state: %v exit %d warnings %q", v, v.ExitCode(), v.Warnings)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
