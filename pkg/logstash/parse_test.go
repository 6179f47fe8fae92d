package logstash

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type wantPipeline struct {
	id     string
	inputs []wantInput
}

type wantInput struct {
	id, name string
	out      int64 // -1: no events (start-up body)
}

// fixtureWants is what every node stats body in testdata holds, read off
// the bodies by hand: pipelines in body order with their inputs.
var fixtureWants = []struct {
	file    string
	version string
	layout  Layout
	want    []wantPipeline
}{
	{"node_stats_pipeline-5.3-telegraf.json", "5.3.0", LayoutSinglePipeline, []wantPipeline{
		{"main", []wantInput{{"a35197a509596954e905e38521bae12b1498b17d-1", "beats", 2}}}}},
	{"node_stats-5.6-bonniernews.json", "5.6.4", LayoutSinglePipeline, []wantPipeline{
		{"main", []wantInput{{"5681ae93b83a24a100eacdb291ca4679effa35bf-1", "stdin", 0}}}}},
	{"node_stats-6.0-logstash-benchmark.json", "6.0.0-alpha3", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"1db6e3e8163d4cf302e5b5ee12f6fc3dcfe783ba-1", "stdin", 24125}}}}},
	{"node_stats-6.4-metricbeat.json", "6.4.1", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"fc1bd2827edc6b55a3caf4af83c5ac8c5c32b84cb54453bdac8c0d1dcb37ee46", "stdin", 0}}}}},
	{"node_stats-6.4-sagap.json", "6.4.2", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"2e751834e57957fe3925003eb2567a0a737fdf74971baefc8cbd483a4a2eee10", "stdin", 2}}}}},
	{"node_stats-7.0-metricbeat.json", "7.0.0-alpha1", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"fc1bd2827edc6b55a3caf4af83c5ac8c5c32b84cb54453bdac8c0d1dcb37ee46", "stdin", 5}}}}},
	{"node_stats_pipelines-7.4-telegraf.json", "7.4.2", LayoutPipelines, []wantPipeline{
		{"infra", []wantInput{{"8526dc80bc2257ab08f96018f96b0c68dd03abc5695bb22fb9e96339a8dfb4f86", "beats", 2665549}}}}},
	{"node_stats-7.8-metricbeat.json", "7.8.1", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"adc9aa83962ecb7f9e68a9b25d9ef5473a197dbb8f6cd7d6025742b2e2bcadcf", "file", 0}}}}},
	{"node_stats_vertices-7.10-metricbeat.json", "7.10.0", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"0710cad67e8f47667bc7612580d5b91f691dd8262a4187d9eca8cf87229d04aa", "beats", 0}}}}},
	{"node_stats-7.11-logstash-benchmark.json", "7.11.1", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"3ca119230f5eaf03a261b674ee2f2dfe1491894c1b2b8f21e1d9a02b656b36f1", "stdin", 361126}}}}},
	{"node_stats_partial-8.4-metricbeat.json", "8.4.0", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"0a94a2ce1283b96e0a916019722411e62435f584371347d36e10f72edd02a578", "java_generator", -1}}}}},
	{"node_stats-8.6-kuskoman.json", "8.6.1", LayoutPipelines, []wantPipeline{
		{".monitoring-logstash", nil},
		{"main", []wantInput{{"c75c0c6f97fd2c8605b95a5b2694fdae97189fe49553787a923faeaa3342c54a", "generator", 80553557}}}}},
	{"node_stats-8.8-kuskoman.json", "8.8.1", LayoutPipelines, []wantPipeline{
		{"main", []wantInput{{"c75c0c6f97fd2c8605b95a5b2694fdae97189fe49553787a923faeaa3342c54a", "generator", 4001}}},
		{".monitoring-logstash", nil}}},
	{"node_stats-8.15-kuskoman.json", "8.15.0", LayoutPipelines, []wantPipeline{
		{".monitoring-logstash", []wantInput{{"9a9bed30135e19c8047fe6aa0588b70b15280fb9161fea8ed8e7368e1fb1e6d3", "", 0}}},
		{"main", []wantInput{
			{"5ee0ea3d45c32bab3b41963bd900e758ba6e193a11079649302574c706fd5e2f", "dead_letter_queue", 0},
			{"95bb3e4f2a40f87147b6ab5035e08ba31858eace7604a57d2e719db790097222", "generator", 3751}}}}},
	{"node_stats_pipelines-8.x-docs.json", "", LayoutPipelines, []wantPipeline{
		{"test", []wantInput{{"35131f351e2dc5ed13ee04265a8a5a1f95292165-1", "beats", 216485}}},
		{"test2", []wantInput{{"d7ea8941c0fc48ac58f89c84a9da482107472b82-1", "twitter", 87247}}}}},
	{"node_stats_pipelines_test-8.x-docs.json", "", LayoutPipelines, []wantPipeline{
		{"test", []wantInput{{"35131f351e2dc5ed13ee04265a8a5a1f95292165-1", "beats", 216485}}}}},
	{"node_stats-9.1-openapi.json", "9.1.0", LayoutPipelines, []wantPipeline{
		{"heartbeat-ruby-stdout", []wantInput{{"c9ca46e359d73146590ca8af40092342afa922f3cbf07adc4b5009e346cb19f7", "heartbeat", 1}}}}},
	{"node_stats_pipelines-9.x-openapi.json", "", LayoutPipelines, []wantPipeline{
		{"beats-es", []wantInput{{"35131f351e2dc5ed13ee04265a8a5a1f95292165-1", "beats", 216485}}},
		{"heartbeat-ruby-stdout", []wantInput{{"c9ca46e359d73146590ca8af40092342afa922f3cbf07adc4b5009e346cb19f7", "heartbeat", 45}}}}},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseNodeStatsEveryFixture(t *testing.T) {
	// Every node stats body with pipelines in testdata must be in the table.
	files, _ := filepath.Glob("testdata/node_stats*.json")
	covered := map[string]bool{}
	for _, fw := range fixtureWants {
		covered[fw.file] = true
	}
	for _, f := range files {
		base := filepath.Base(f)
		if !covered[base] && !strings.Contains(base, "_jvm-") && !strings.Contains(base, "_process-") {
			t.Errorf("%s is not in fixtureWants", base)
		}
	}
	for _, fw := range fixtureWants {
		t.Run(fw.file, func(t *testing.T) {
			s, err := ParseNodeStats(bytes.NewReader(readTestdata(t, fw.file)), DefaultMaxBody)
			if err != nil {
				t.Fatal(err)
			}
			if s.Version != fw.version || s.Layout != fw.layout {
				t.Errorf("version %q layout %v, want %q %v", s.Version, s.Layout, fw.version, fw.layout)
			}
			if len(s.Pipelines) != len(fw.want) {
				t.Fatalf("%d pipelines, want %d", len(s.Pipelines), len(fw.want))
			}
			for i, wp := range fw.want {
				p := s.Pipelines[i]
				if p.ID != wp.id || len(p.Inputs) != len(wp.inputs) {
					t.Fatalf("pipeline %d: %q with %d inputs, want %q with %d", i, p.ID, len(p.Inputs), wp.id, len(wp.inputs))
				}
				for j, wi := range wp.inputs {
					in := p.Inputs[j]
					if in.ID != wi.id || in.Name != wi.name {
						t.Errorf("input %d: %s, want %q (%s)", j, &in, wi.id, wi.name)
					}
					switch {
					case wi.out < 0 && in.Events != nil:
						t.Errorf("input %q: events %+v, want none (start-up body)", in.ID, in.Events)
					case wi.out >= 0 && (in.Events == nil || in.Events.Out != wi.out):
						t.Errorf("input %q: events %+v, want out %d", in.ID, in.Events, wi.out)
					}
				}
			}
		})
	}
}

func TestParseNodeStatsWithoutPipelines(t *testing.T) {
	// Other /_node/stats/<part> bodies are JSON but not pipeline stats.
	for _, f := range []string{"node_stats_jvm-5.3-telegraf.json", "node_stats_jvm-6.4-telegraf.json", "node_stats_process-6.4-telegraf.json"} {
		_, err := ParseNodeStats(bytes.NewReader(readTestdata(t, f)), 0)
		if !errors.Is(err, ErrNotNodeStats) {
			t.Errorf("%s: err %v, want ErrNotNodeStats", f, err)
		}
	}
}

func TestParseFlowMetrics(t *testing.T) {
	s, err := ParseNodeStats(bytes.NewReader(readTestdata(t, "node_stats-8.15-kuskoman.json")), 0)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pipeline("main")
	if v, w, ok := p.Flow["worker_utilization"].Recent(); !ok || v != 100 || w != "current" {
		t.Errorf("worker_utilization %v %q %v, want 100 current", v, w, ok)
	}
	if v := p.Flow["queue_backpressure"]["lifetime"]; v != 0.9872 {
		t.Errorf("queue_backpressure lifetime %v", v)
	}
	if p.Events == nil || p.Events.QueuePushDurationMillis == 0 {
		t.Errorf("pipeline events %+v, want queue_push_duration", p.Events)
	}
	if p.Queue.Type != "memory" {
		t.Errorf("queue %+v", p.Queue)
	}
	if th := p.Inputs[1].Flow["throughput"]["lifetime"]; th != 74.88 {
		t.Errorf("input throughput %v", th)
	}
}

func TestParseSpecialValues(t *testing.T) {
	body := `{"version":"8.15.0","events":{"in":null},"pipelines":{"main":{
		"events":{"out":null,"in":12.0,"filtered":1e3},
		"flow":{"worker_utilization":{"current":"Infinity","lifetime":"-Infinity","last_1_minute":null},
		        "queue_backpressure":{"current":0.5,"lifetime":"NaN","x":"?"},"odd":null},
		"reloads":null,"queue":null,
		"plugins":{"inputs":[{"id":"tcp-1","name":"tcp","events":null},42,{"id":7,"name":"x"}]}}}}`
	s, err := ParseNodeStats(strings.NewReader(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pipeline("main")
	if p.Events == nil || p.Events.Out != 0 || p.Events.In != 12 || p.Events.Filtered != 1000 {
		t.Errorf("events %+v", p.Events)
	}
	wu := p.Flow["worker_utilization"]
	if !math.IsInf(wu["current"], 1) || !math.IsInf(wu["lifetime"], -1) {
		t.Errorf("worker_utilization %v, want +Inf/-Inf", wu)
	}
	if _, ok := wu["last_1_minute"]; ok {
		t.Errorf("null window kept: %v", wu)
	}
	if _, _, ok := wu.Recent(); ok {
		t.Errorf("Recent found a finite value in %v", wu)
	}
	if v, w, ok := p.Flow["queue_backpressure"].Recent(); !ok || v != 0.5 || w != "current" {
		t.Errorf("queue_backpressure Recent %v %q %v", v, w, ok)
	}
	if len(p.Inputs) != 2 || p.Inputs[0].ID != "tcp-1" || p.Inputs[0].Events != nil || p.Inputs[1].ID != "" {
		t.Errorf("inputs %+v", p.Inputs)
	}
}

func TestParseRejects(t *testing.T) {
	for name, body := range map[string]string{
		"html":           "<html><body><h1>502 Bad Gateway</h1></body></html>",
		"truncated":      `{"pipelines":{"main":{"plugins":{"inputs":[{"id":"udp-5514"`,
		"empty":          "",
		"array":          `[{"pipelines":{}}]`,
		"no pipelines":   `{"status":"green","jvm":{}}`,
		"trailing":       `{"pipelines":{}} x`,
		"bad escape":     `{"pipelines":{"a\q":{}}}`,
		"bad number":     `{"pipelines":{},"n":01}`,
		"control char":   "{\"pipelines\":{\"a\nb\":{}}}",
		"trailing comma": `{"pipelines":{"main":{},}}`,
	} {
		_, err := ParseNodeStats(strings.NewReader(body), 0)
		if !errors.Is(err, ErrNotNodeStats) {
			t.Errorf("%s: err %v, want ErrNotNodeStats", name, err)
		}
	}
}

func TestParseBodyLimit(t *testing.T) {
	// A body over the limit is an error after reading at most the limit.
	r := &countReader{r: io.MultiReader(strings.NewReader(`{"pipelines":{},"pad":"`), infinite('x'))}
	_, err := ParseNodeStats(r, 1<<20)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err %v, want ErrBodyTooLarge", err)
	}
	if !strings.Contains(err.Error(), "over 1 MiB") {
		t.Errorf("message %q does not name the limit", err)
	}
	if r.n > 1<<20+64<<10 {
		t.Errorf("read %d bytes for a 1 MiB limit", r.n)
	}
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type infinite byte

func (b infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// oneByteReader returns one byte per Read, to exercise every buffer edge.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestParseOneByteReads(t *testing.T) {
	for _, fw := range fixtureWants {
		data := readTestdata(t, fw.file)
		a, err := ParseNodeStats(bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseNodeStats(oneByteReader{bytes.NewReader(data)}, 0)
		if err != nil {
			t.Fatalf("%s: %v", fw.file, err)
		}
		if len(a.Pipelines) != len(b.Pipelines) || a.Version != b.Version {
			t.Errorf("%s: different result with one-byte reads", fw.file)
		}
	}
	// Escapes split across reads, including a surrogate pair.
	body := `{"pipelines":{"m\u00e9in\ud83d\ude00\"":{"plugins":{"inputs":[{"id":"a\\b\/c\u0041"}]}}}}`
	s, err := ParseNodeStats(oneByteReader{strings.NewReader(body)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Pipelines[0].ID; got != "méin😀\"" {
		t.Errorf("pipeline id %q", got)
	}
	if got := s.Pipelines[0].Inputs[0].ID; got != `a\b/cA` {
		t.Errorf("input id %q", got)
	}
}

func TestParseHealthReportFixtures(t *testing.T) {
	for file, want := range map[string]struct{ pipeline, state, status string }{
		"health_report_example_blocked-9.x-openapi.json":    {"blocked-pipeline", "RUNNING", "red"},
		"health_report_example_finished-9.x-openapi.json":   {"normal-completion-pipeline", "FINISHED", "yellow"},
		"health_report_example_terminated-9.x-openapi.json": {"abnormal-termination-pipeline", "TERMINATED", "red"},
		"health_report_example_recovered-9.x-openapi.json":  {"crashy-pipeline", "RUNNING", "yellow"},
	} {
		rep, err := ParseHealthReport(bytes.NewReader(readTestdata(t, file)), 0)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		ph, ok := rep.Pipelines[want.pipeline]
		if !ok || ph.State != want.state || ph.Status != want.status {
			t.Errorf("%s: pipelines %v, want %s %s (%s)", file, rep.Pipelines, want.pipeline, want.state, want.status)
		}
	}
}

func BenchmarkParseNodeStats(b *testing.B) {
	data := readTestdata(b, "node_stats-8.15-kuskoman.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := ParseNodeStats(bytes.NewReader(data), 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseStreamsLargeBody: a 5 MiB body with 100 pipelines is parsed
// without holding it: allocations stay far below the body's size.
func TestParseStreamsLargeBody(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"version":"8.15.0","pipelines":{`)
	filler := strings.Repeat(`{"id":"filter","name":"mutate","events":{"in":1,"out":1,"duration_in_millis":2},"flow":{"worker_utilization":{"current":1.5,"lifetime":"Infinity"}}},`, 100)
	for i := 0; b.Len() < 5<<20; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"p%d":{"plugins":{"inputs":[{"id":"tcp-%d","name":"tcp","events":{"out":%d}}],"filters":[%s{}]}}`, i, i, i, filler)
	}
	b.WriteString(`}}`)
	body := b.String()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := ParseNodeStats(strings.NewReader(body), 0)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pipelines) < 100 {
		t.Fatalf("%d pipelines", len(s.Pipelines))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("parsing a %s body allocated %s; it must stream", FormatBytes(int64(len(body))), FormatBytes(int64(alloc)))
	}
}
