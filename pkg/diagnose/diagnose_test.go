package diagnose

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/logstash"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtures is where the copies of the shared Logstash bodies live.
const fixtures = "../logstash/testdata"

func parse(t *testing.T, path string) *logstash.NodeStats {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := logstash.ParseNodeStatsPlugins(bytes.NewReader(data), logstash.DefaultMaxBody)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// The seed's blocked pipeline: 99.82% of the time waiting for a worker,
// and the firehose output named as the bottleneck.
func TestSeedBlockedPipeline(t *testing.T) {
	r, err := Analyze(Samples{Second: parse(t, "testdata/seed-001.json")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Bottleneck || r.ExitCode() != 3 || len(r.Pipelines) != 1 {
		t.Fatalf("bottleneck %v, exit %d, %d pipelines", r.Bottleneck, r.ExitCode(), len(r.Pipelines))
	}
	p := r.Pipelines[0]
	if p.Waiting == nil || percent(*p.Waiting) != "99.82%" {
		t.Errorf("waiting %v, want 99.82%%", p.Waiting)
	}
	if p.Bottleneck == nil || p.Bottleneck.ID != "firehose-archive" || p.Bottleneck.Name != "firehose" || p.Bottleneck.Kind != "output" {
		t.Fatalf("bottleneck %+v, want the firehose output", p.Bottleneck)
	}
	if got := []string{p.Plugins[0].Name, p.Plugins[1].Name, p.Plugins[2].Name}; strings.Join(got, " ") != "firehose date kinesis" {
		t.Errorf("ranking %v, want firehose date kinesis", got)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"inputs waited for a free worker 99.82% of the time",
		`verdict: bottleneck: output "firehose-archive" (firehose) takes 99.76% of the filters' and outputs' time`,
		"pipeline.batch.size",
		"more Logstash nodes behind the VIP",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
}

// Every node stats body of every version gives a report; bodies that are
// not node stats are refused by the parser before diagnose sees them.
func TestEveryFixtureReports(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtures, "node_stats*.json"))
	if err != nil || len(files) < 15 {
		t.Fatalf("%d node stats bodies in %s (%v)", len(files), fixtures, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			s, err := logstash.ParseNodeStatsPlugins(bytes.NewReader(data), logstash.DefaultMaxBody)
			if strings.Contains(f, "_jvm-") || strings.Contains(f, "_process-") {
				if !errors.Is(err, logstash.ErrNotNodeStats) {
					t.Fatalf("a body without pipelines: %v, want ErrNotNodeStats", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := Analyze(Samples{Second: s}, "")
			if err != nil {
				t.Fatal(err)
			}
			// The same body twice: an interval in which nothing moved.
			ri, err := Analyze(Samples{First: s, Second: s, Elapsed: time.Second}, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, rep := range []*Report{r, ri} {
				var text, js bytes.Buffer
				if err := rep.WriteText(&text); err != nil {
					t.Fatal(err)
				}
				if err := rep.WriteJSON(&js); err != nil {
					t.Fatal(err)
				}
				if len(rep.Pipelines) != len(s.Pipelines) || !strings.Contains(text.String(), "verdict: ") && len(s.Pipelines) > 0 {
					t.Errorf("%d of %d pipelines reported:\n%s", len(rep.Pipelines), len(s.Pipelines), text.String())
				}
			}
			// Idle, unless the flow metrics say the workers are saturated
			// or the inputs blocked: then frozen counters mean stuck.
			for _, p := range ri.Pipelines {
				want := Idle
				if u, pu, b := p.WorkerUtilization, p.PluginUtilization, p.QueueBackpressure; u != nil && u.Value >= 95 || pu != nil && pu.Value >= 95 || b != nil && b.Value >= 0.7 {
					want = Blocked
				}
				if p.State != want || p.Stuck != (want == Blocked) {
					t.Errorf("pipeline %q: an interval without movement is %s (stuck %v), want %s: %s", p.ID, p.State, p.Stuck, want, p.Verdict)
				}
			}
		})
	}
}

// The 8.15 capture's ruby filter holds the workers at 100% (current
// window): blocked by Logstash's own threshold, with the ruby filter named.
func TestFlowWorkerUtilization(t *testing.T) {
	r, err := Analyze(Samples{Second: parse(t, filepath.Join(fixtures, "node_stats-8.15-kuskoman.json"))}, "main")
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pipelines[0]
	if p.Load == nil || !strings.HasPrefix(p.Load.Source, "worker_utilization ") {
		t.Fatalf("load %v, want the worker_utilization flow metric", p.Load)
	}
	if p.State != Blocked || p.Bottleneck == nil || p.Bottleneck.Name != "ruby" || p.Bottleneck.Kind != "filter" {
		t.Fatalf("state %s, bottleneck %v; want blocked, the ruby filter (load %v)", p.State, p.Bottleneck, p.Load)
	}
	if !strings.Contains(p.Knobs[0], "pipeline.workers (node default 10)") {
		t.Errorf("knobs %q lack the node's workers", p.Knobs)
	}
	if _, err := Analyze(Samples{Second: parse(t, filepath.Join(fixtures, "node_stats-8.15-kuskoman.json"))}, "nope"); !errors.Is(err, ErrNoPipeline) ||
		!strings.Contains(err.Error(), `"nope" (pipelines there: ".monitoring-logstash", "main")`) {
		t.Errorf("unknown pipeline: %v", err)
	}
}

func TestThresholds(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want State
	}{{94.99, Healthy}, {95, Degraded}, {99.999, Degraded}, {99.9991, Blocked}, {100, Blocked}} {
		if got := stateOf(tc.v); got != tc.want {
			t.Errorf("%v%%: %s, want %s", tc.v, got, tc.want)
		}
	}
}

// With two samples the report works on what moved between them: a
// pipeline whose lifetime totals look blocked is healthy once it is not.
func TestIntervalRates(t *testing.T) {
	first := parse(t, "testdata/seed-001.json")
	second := parse(t, "testdata/seed-001.json")
	p := &second.Pipelines[0]
	p.Events.In += 1000
	p.Events.Filtered += 1000
	p.Events.Out += 1000
	p.Events.DurationMillis += 10000
	p.Events.QueuePushDurationMillis += 100
	p.Outputs[1].Events.DurationMillis += 9000
	p.Outputs[1].Events.In += 1000
	p.Filters[0].Events.DurationMillis += 1000
	p.Filters[0].Events.In += 1000
	r, err := Analyze(Samples{First: first, Second: second, Elapsed: 10 * time.Second}, "")
	if err != nil {
		t.Fatal(err)
	}
	pr := r.Pipelines[0]
	if *pr.Events.InRate != 100 || percent(*pr.Waiting) != "1.00%" || pr.State != Healthy || r.Bottleneck {
		t.Errorf("in %v/s, waiting %v%%, state %s", *pr.Events.InRate, *pr.Waiting, pr.State)
	}
	if pr.Plugins[0].Millis != 9000 || percent(*pr.Plugins[0].PluginShare) != "90.00%" || *pr.Plugins[0].MillisPerEvent != 9 {
		t.Errorf("firehose over the interval: %+v", pr.Plugins[0])
	}
	// Counters that went backwards mean a restart: lifetime totals again.
	r, _ = Analyze(Samples{First: second, Second: first, Elapsed: 10 * time.Second}, "")
	if pr := r.Pipelines[0]; pr.Events.In != 28471136 || len(pr.Notes) == 0 || !strings.Contains(pr.Notes[0], "restarted") {
		t.Errorf("after a restart: %+v %q", pr.Events, pr.Notes)
	}
}

// Sample takes two answers interval apart and measures the gap.
func TestSample(t *testing.T) {
	src := &fakeSource{stats: parse(t, "testdata/seed-001.json")}
	s, err := Sample(context.Background(), src, "main", 50*time.Millisecond, time.Second)
	if err != nil || src.calls != 2 || s.First == nil || s.Elapsed < 50*time.Millisecond || src.pipeline != "main" {
		t.Fatalf("%d calls, elapsed %v, %v", src.calls, s.Elapsed, err)
	}
	src.err = errors.New("connect: connection refused")
	if _, err := Sample(context.Background(), src, "", 0, time.Second); err == nil {
		t.Fatal("error lost")
	}
}

type fakeSource struct {
	stats    *logstash.NodeStats
	err      error
	calls    int
	pipeline string
}

func (f *fakeSource) NodeStatsPlugins(_ context.Context, pipeline string) (*logstash.NodeStats, error) {
	f.calls++
	f.pipeline = pipeline
	return f.stats, f.err
}

// Golden reports of the seed and of real bodies with flow metrics,
// persisted queues and reload failures.
func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"seed-001", "testdata/seed-001.json"},
		{"8.15-kuskoman", filepath.Join(fixtures, "node_stats-8.15-kuskoman.json")},
		{"9.x-openapi", filepath.Join(fixtures, "node_stats_pipelines-9.x-openapi.json")},
		{"8.4-partial", filepath.Join(fixtures, "node_stats_partial-8.4-metricbeat.json")},
		{"5.3-telegraf", filepath.Join(fixtures, "node_stats_pipeline-5.3-telegraf.json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Analyze(Samples{Second: parse(t, tc.body)}, "")
			if err != nil {
				t.Fatal(err)
			}
			r.Address = "192.0.2.10:9600"
			var text, js bytes.Buffer
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tc.name+".txt.golden"), text.Bytes())
			golden(t, filepath.Join("testdata", tc.name+".json.golden"), js.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/diagnose -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./pkg/diagnose -update, then review the diff)\ngot:\n%s", path, got)
	}
}

// Elastic's 8.13 pipeline stats example: pipeline "test2" has
// worker_utilization 100 and queue_backpressure 0.735 in the current
// window. Taken twice with nothing moving in between, its counters are
// frozen beside saturated flow metrics: stuck, not idle, with the output at
// 100% named. Pipeline "test" (93%, 0.214) stays idle.
func TestFrozenCountersSaturatedFlowAreStuck(t *testing.T) {
	s := parse(t, "testdata/node_stats_pipelines-8.13-docs.json")
	r, err := Analyze(Samples{First: s, Second: s, Elapsed: 10 * time.Second}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Bottleneck || r.ExitCode() != 3 {
		t.Fatalf("bottleneck %v, exit %d; want a bottleneck, exit 3", r.Bottleneck, r.ExitCode())
	}
	byID := map[string]*Pipeline{}
	for _, p := range r.Pipelines {
		byID[p.ID] = p
	}
	p := byID["test2"]
	if p.State != Blocked || !p.Stuck {
		t.Fatalf("test2: state %s, stuck %v; want blocked and stuck: %s", p.State, p.Stuck, p.Verdict)
	}
	if p.Bottleneck == nil || p.Bottleneck.ID != "d7ea8941c0fc48ac58f89c84a9da482107472b82-2" || p.Bottleneck.Name != "elasticsearch" {
		t.Fatalf("test2: bottleneck %v, want the elasticsearch output", p.Bottleneck)
	}
	for _, want := range []string{"stuck", "worker_utilization current 100.00%", "queue_backpressure current 0.735", "worker_utilization 100.00%, the highest"} {
		if !strings.Contains(p.Verdict, want) {
			t.Errorf("test2 verdict %q lacks %q", p.Verdict, want)
		}
	}
	if q := byID["test"]; q.State != Idle || q.Stuck {
		t.Errorf("test: state %s, stuck %v; want idle (93%% and 0.214 are not saturated)", q.State, q.Stuck)
	}
}

// apiServer is a real HTTP server on loopback answering paths with the
// bodies in files (404 otherwise), and a client aimed at it.
func apiServer(t *testing.T, files map[string]string) *logstash.Client {
	t.Helper()
	bodies := map[string][]byte{}
	for path, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		bodies[path] = data
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.Error(w, `{"status":404}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	p, _ := strconv.Atoi(port)
	c, err := logstash.New(logstash.Config{Host: host, Port: p, Scheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Elastic's 8.9 pipeline stats example has no pipeline worker_utilization
// (8.13+) and no pipeline settings (8.17.1+), but every filter and output
// reports its own worker_utilization (8.7+). Pipeline "test2"'s only
// output is at 100%: blocked, not "healthy, load 0.07%" from the inputs'
// waiting share. Its workers come from /_node/pipelines (8), asked of a
// real server beside the stats.
func TestPluginFlowAndNodePipelines(t *testing.T) {
	c := apiServer(t, map[string]string{
		"/_node/stats/pipelines": "testdata/node_stats_pipelines-8.9-docs.json",
		"/_node/pipelines":       filepath.Join(fixtures, "node_pipelines-8.x-docs.json"),
	})
	s, err := Sample(context.Background(), c, "", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Analyze(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Bottleneck || r.ExitCode() != 3 {
		t.Errorf("bottleneck %v, exit %d; want exit 3", r.Bottleneck, r.ExitCode())
	}
	byID := map[string]*Pipeline{}
	for _, p := range r.Pipelines {
		byID[p.ID] = p
	}
	p := byID["test2"]
	if p.Load == nil || p.Load.Value != 100 || !strings.Contains(p.Load.Source, "filters' and outputs' worker_utilization") {
		t.Fatalf("test2 load %v, want 100 from the plugins' worker_utilization", p.Load)
	}
	if p.State != Blocked || p.Bottleneck == nil || p.Bottleneck.Name != "elasticsearch" {
		t.Errorf("test2: %s, bottleneck %v; want blocked by the elasticsearch output", p.State, p.Bottleneck)
	}
	if p.Workers != 8 || p.SettingsFrom != "/_node/pipelines" || !strings.Contains(strings.Join(p.Knobs, "\n"), "pipeline.workers (now 8)") {
		t.Errorf("test2 workers %d from %q, knobs %q; want 8 from /_node/pipelines", p.Workers, p.SettingsFrom, p.Knobs)
	}
	// "test": 16.71 + 1.042 + 75.34, what 8.13 reports as the pipeline's
	// own worker_utilization (93.092).
	q := byID["test"]
	if q.Load == nil || percent(q.Load.Value) != "93.09%" || q.State != Healthy || q.Workers != 1 {
		t.Errorf("test: load %v, %s, %d workers; want 93.09%%, healthy, 1 worker", q.Load, q.State, q.Workers)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"filters' and outputs' worker_utilization 100.00% (current)", "pipeline.workers 8, pipeline.batch.size 125 (from /_node/pipelines)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	// With an interval and nothing moving, the plugins' flow says stuck.
	ri, err := Analyze(Samples{First: s.Second, Second: s.Second, Elapsed: 10 * time.Second, Settings: s.Settings}, "test2")
	if err != nil || !ri.Pipelines[0].Stuck || ri.ExitCode() != 3 {
		t.Errorf("test2 over a frozen interval: %v %+v", err, ri.Pipelines[0])
	}
}

// Without the plugins' flow (8.5, 8.6), worker_concurrency is divided by
// the pipeline's own workers from /_node/pipelines, never by the node's
// default.
func TestWorkerConcurrencyOverPipelineWorkers(t *testing.T) {
	s := parse(t, filepath.Join(fixtures, "node_stats-8.6-kuskoman.json"))
	r, _ := Analyze(Samples{Second: s}, "main")
	if l := r.Pipelines[0].Load; l != nil && strings.Contains(l.Source, "workers") {
		t.Errorf("without the pipeline's workers the load is %v", l)
	}
	wc := r.Pipelines[0].WorkerConcurrency
	if wc == nil {
		t.Fatal("no worker_concurrency in the 8.6 body")
	}
	r, _ = Analyze(Samples{Second: s, Settings: map[string]logstash.Settings{"main": {Workers: 4, BatchSize: 125}}}, "main")
	p := r.Pipelines[0]
	if p.Load == nil || p.Load.Value != 100*wc.Value/4 || p.SettingsFrom != "/_node/pipelines" {
		t.Errorf("load %v, want worker_concurrency %v / 4 workers", p.Load, wc.Value)
	}
}

// The 5.2 docs example: a persisted queue that reports no size and events
// without queue push time. Nothing may be made up: the size is unknown,
// not "0 B of 4.0 GiB (0.00% full)", and waiting is unknown because of the
// missing queue push time, not the worker time, which is there.
func TestNoMadeUpFigures(t *testing.T) {
	r, err := Analyze(Samples{Second: parse(t, "testdata/node_stats_pipeline-5.2-docs.json")}, "")
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pipelines[0]
	if p.Queue.Bytes != nil || p.Queue.FillPercent != nil || p.Queue.MaxBytes != 4294967296 {
		t.Errorf("queue %+v: size and fill must be unknown", p.Queue)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	out := text.String()
	for _, want := range []string{
		"queue          persisted, 26 events, size unknown (not reported) of 4.0 GiB",
		"waiting        unknown (this version reports no queue_push_duration_in_millis)",
		"verdict: no bottleneck found: no load figure (no flow metrics; waiting unknown: this version reports no queue_push_duration_in_millis)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"0 B of", "0.00% full", "no worker time or queue push time"} {
		if strings.Contains(out, bad) {
			t.Errorf("report says %q:\n%s", bad, out)
		}
	}
}

// With a persisted queue the inputs' queue push time includes writing to
// disk: the 7.4 capture (persisted, no flow metrics) says so, and a push
// share of 99% does not make the pipeline blocked before 8.5.
func TestPersistedQueuePushTime(t *testing.T) {
	s := parse(t, filepath.Join(fixtures, "node_stats_pipelines-7.4-telegraf.json"))
	r, _ := Analyze(Samples{Second: s}, "")
	var text bytes.Buffer
	r.WriteText(&text)
	if want := "inputs spent 0.44% of the time pushing into the persisted queue (waiting for a worker or writing to disk)"; !strings.Contains(text.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, text.String())
	}
	s.Pipelines[0].Events.QueuePushDurationMillis = s.Pipelines[0].Events.DurationMillis * 99 / 100
	r, _ = Analyze(Samples{Second: s}, "")
	p := r.Pipelines[0]
	if p.State != Healthy || r.ExitCode() != 0 || p.Load != nil {
		t.Errorf("persisted queue, 99%% push time: %s, load %v, exit %d; the push time must not decide", p.State, p.Load, r.ExitCode())
	}
	if !strings.Contains(p.Verdict, "includes the disk write") || !strings.Contains(p.Verdict, "99.00% of the time pushing into the persisted queue") {
		t.Errorf("verdict %q does not say why", p.Verdict)
	}
}

// A /_node/pipelines or /_node body where node stats should be is an
// error that says what it is, not a report of idle pipelines.
func TestNotNodeStatsBody(t *testing.T) {
	for _, f := range []string{"node_pipelines-8.x-docs.json", "node-7.0-metricbeat.json"} {
		body := filepath.Join(fixtures, f)
		c := apiServer(t, map[string]string{"/_node/stats": body, "/_node/stats/pipelines": body})
		_, err := Sample(context.Background(), c, "", 0, 5*time.Second)
		if !errors.Is(err, logstash.ErrNotNodeStats) || !strings.Contains(err.Error(), "/_node/pipelines body") {
			t.Errorf("%s: %v, want ErrNotNodeStats naming a /_node/pipelines body", f, err)
		}
	}
}

// When an elasticsearch output holds the pipeline back, the hints start
// with its own error counters (the 8.8 capture reports bulk requests with
// errors and non-retryable document failures) and then rejections on the
// Elasticsearch side; over an interval, with what grew in it.
func TestElasticsearchOutputHints(t *testing.T) {
	first := parse(t, filepath.Join(fixtures, "node_stats-8.8-kuskoman.json"))
	second := parse(t, filepath.Join(fixtures, "node_stats-8.8-kuskoman.json"))
	// Over 10s the inputs wait 99% of the time and the output takes 90%.
	p := second.Pipeline("main")
	p.Events.In += 1000
	p.Events.Filtered += 1000
	p.Events.Out += 1000
	p.Events.DurationMillis += 10000
	p.Events.QueuePushDurationMillis += 9900
	es := &p.Outputs[0]
	es.Events.DurationMillis += 9000
	es.Events.In += 1000
	es.Counters["documents.non_retryable_failures"] += 13
	es.Counters["bulk_requests.responses.429"] = 5
	r, err := Analyze(Samples{First: first, Second: second, Elapsed: 10 * time.Second}, "main")
	if err != nil {
		t.Fatal(err)
	}
	pr := r.Pipelines[0]
	if pr.State < Degraded || pr.Bottleneck == nil || pr.Bottleneck.Name != "elasticsearch" || len(pr.Knobs) < 2 {
		t.Fatalf("state %s, bottleneck %v, knobs %q", pr.State, pr.Bottleneck, pr.Knobs)
	}
	if want := "the output's own errors (over the interval): bulk_requests.with_errors 0, documents.non_retryable_failures 13"; !strings.HasPrefix(pr.Knobs[0], want) {
		t.Errorf("first hint %q, want %q", pr.Knobs[0], want)
	}
	if want := "rejections on the Elasticsearch side: 5 bulk responses were HTTP 429 (over the interval); GET _cat/thread_pool/write"; !strings.HasPrefix(pr.Knobs[1], want) {
		t.Errorf("second hint %q, want %q", pr.Knobs[1], want)
	}
	// Lifetime totals of the same capture.
	r, _ = Analyze(Samples{Second: second}, "main")
	if k := r.Pipelines[0].Knobs; len(k) == 0 || !strings.HasPrefix(k[0], "the output's own errors (lifetime): bulk_requests.with_errors 87, documents.non_retryable_failures 100") {
		t.Errorf("lifetime hints %q", k)
	}
	// Elastic's 8.13 example reports no counters for its output: said so.
	r, _ = Analyze(Samples{Second: parse(t, "testdata/node_stats_pipelines-8.13-docs.json")}, "test2")
	if k := r.Pipelines[0].Knobs; len(k) < 2 || !strings.Contains(k[0], "no bulk_requests or documents counters") || !strings.HasPrefix(k[1], "rejections on the Elasticsearch side") {
		t.Errorf("8.13 hints %q", k)
	}
}
