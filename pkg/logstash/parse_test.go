package logstash

import (
	"bytes"
	"encoding/json"
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

// fixtureWant is what one node stats body in testdata holds, read off the
// body by hand and kept in testdata/fixture_wants.json, which pkg/check's
// tests read too: pipelines in body order with their inputs. EventsOut is
// null for an input without events (a start-up body).
type fixtureWant struct {
	File      string `json:"file"`
	Version   string `json:"version"`
	Layout    string `json:"layout"`
	Pipelines []struct {
		ID     string `json:"id"`
		Inputs []struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			EventsOut *int64 `json:"events_out"`
		} `json:"inputs"`
	} `json:"pipelines"`
}

func loadFixtureWants(t testing.TB) []fixtureWant {
	t.Helper()
	var fws []fixtureWant
	if err := json.Unmarshal(readTestdata(t, "fixture_wants.json"), &fws); err != nil {
		t.Fatalf("fixture_wants.json: %v", err)
	}
	if len(fws) == 0 {
		t.Fatal("fixture_wants.json lists no bodies")
	}
	return fws
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
	fixtureWants := loadFixtureWants(t)
	for _, fw := range fixtureWants {
		covered[fw.File] = true
	}
	for _, f := range files {
		base := filepath.Base(f)
		if !covered[base] && !strings.Contains(base, "_jvm-") && !strings.Contains(base, "_process-") {
			t.Errorf("%s is not in fixture_wants.json", base)
		}
	}
	for _, fw := range fixtureWants {
		t.Run(fw.File, func(t *testing.T) {
			s, err := ParseNodeStats(bytes.NewReader(readTestdata(t, fw.File)), DefaultMaxBody)
			if err != nil {
				t.Fatal(err)
			}
			if s.Version != fw.Version || s.Layout.String() != fw.Layout {
				t.Errorf("version %q layout %v, want %q %v", s.Version, s.Layout, fw.Version, fw.Layout)
			}
			if len(s.Pipelines) != len(fw.Pipelines) {
				t.Fatalf("%d pipelines, want %d", len(s.Pipelines), len(fw.Pipelines))
			}
			for i, wp := range fw.Pipelines {
				p := s.Pipelines[i]
				if p.ID != wp.ID || len(p.Inputs) != len(wp.Inputs) {
					t.Fatalf("pipeline %d: %q with %d inputs, want %q with %d", i, p.ID, len(p.Inputs), wp.ID, len(wp.Inputs))
				}
				for j, wi := range wp.Inputs {
					in := p.Inputs[j]
					if in.ID != wi.ID || in.Name != wi.Name {
						t.Errorf("input %d: %s, want %q (%s)", j, &in, wi.ID, wi.Name)
					}
					switch {
					case wi.EventsOut == nil && in.Events != nil:
						t.Errorf("input %q: events %+v, want none (start-up body)", in.ID, in.Events)
					case wi.EventsOut != nil && (in.Events == nil || in.Events.Out != *wi.EventsOut):
						t.Errorf("input %q: events %+v, want out %d", in.ID, in.Events, *wi.EventsOut)
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
	// /_node and /_node/pipelines list pipelines with their settings, but
	// without events or plugins: not node stats, for check and diagnose.
	for _, f := range []string{"node-7.0-metricbeat.json", "node_pipelines-7.0-metricbeat.json", "node_pipelines-8.x-docs.json"} {
		for _, parse := range []func(io.Reader, int64) (*NodeStats, error){ParseNodeStats, ParseNodeStatsPlugins} {
			_, err := parse(bytes.NewReader(readTestdata(t, f)), 0)
			if !errors.Is(err, ErrNotNodeStats) || !strings.Contains(err.Error(), "/_node/pipelines body") {
				t.Errorf("%s: err %v, want ErrNotNodeStats naming /_node/pipelines", f, err)
			}
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
	for _, fw := range loadFixtureWants(t) {
		data := readTestdata(t, fw.File)
		a, err := ParseNodeStats(bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseNodeStats(oneByteReader{bytes.NewReader(data)}, 0)
		if err != nil {
			t.Fatalf("%s: %v", fw.File, err)
		}
		if len(a.Pipelines) != len(b.Pipelines) || a.Version != b.Version {
			t.Errorf("%s: different result with one-byte reads", fw.File)
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
