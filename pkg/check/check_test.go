package check

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/logstash"
)

// node is a real Logstash API stand-in on loopback: it serves a body on
// the endpoints the body's Logstash version has (5.x: /_node/stats and
// /_node/stats/pipeline; 6.0+: /_node/stats, /_node/stats/pipelines and
// /_node/stats/pipelines/<id>), 404 elsewhere, and counts requests.
type node struct {
	srv    *httptest.Server
	mu     sync.Mutex
	body   []byte
	health []byte // /_health_report body; nil = 404 (before 8.16)
	hits   map[string]int
}

func newNode(t *testing.T, body []byte) *node {
	n := &node{body: body, hits: map[string]int{}}
	n.srv = httptest.NewServer(http.HandlerFunc(n.serve))
	n.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(n.srv.Close)
	return n
}

func (n *node) set(body []byte) {
	n.mu.Lock()
	n.body = body
	n.mu.Unlock()
}

func (n *node) count(path string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hits[path]
}

func (n *node) serve(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	n.hits[r.URL.Path]++
	body, health := n.body, n.health
	n.mu.Unlock()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		panic(err)
	}
	_, five := top["pipelines"]
	five = !five
	path := r.URL.Path
	switch {
	case path == "/_node/stats":
	case path == "/_node/stats/pipeline" && five:
	case path == "/_node/stats/pipelines" && !five:
	case strings.HasPrefix(path, "/_node/stats/pipelines/") && !five:
		id := strings.TrimPrefix(path, "/_node/stats/pipelines/")
		var ps map[string]json.RawMessage
		json.Unmarshal(top["pipelines"], &ps)
		p, ok := ps[id]
		if !ok {
			http.Error(w, `{"status":404}`, http.StatusNotFound)
			return
		}
		top["pipelines"], _ = json.Marshal(map[string]json.RawMessage{id: p})
		body, _ = json.Marshal(top)
	case path == "/_health_report" && health != nil:
		body = health
	default:
		http.Error(w, `{"status":404}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// hostPort returns the test server's host and port.
func (n *node) hostPort() (string, int) {
	host, port, _ := net.SplitHostPort(n.srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return host, p
}

// run checks input on addr (host:port) with a real client.
func run(t *testing.T, addr string, o Options) *Verdict {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	c, err := logstash.New(logstash.Config{Host: host, Port: p})
	if err != nil {
		t.Fatal(err)
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	o.Address, o.Host = addr, host
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	return Run(ctx, c, o)
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "logstash", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixtureWant is one entry of pkg/logstash/testdata/fixture_wants.json:
// what a body holds, written by hand (not derived from the parser).
type fixtureWant struct {
	File      string `json:"file"`
	Pipelines []struct {
		ID     string `json:"id"`
		Inputs []struct {
			ID string `json:"id"`
		} `json:"inputs"`
	} `json:"pipelines"`
}

// TestEveryFixture: every input of every body is found (healthy, exit 0,
// in its own pipeline, with and without --pipeline); an absent id is
// unhealthy (exit 1) with a message naming the pipeline and its inputs.
// What each body holds comes from the hand-written fixture_wants.json.
func TestEveryFixture(t *testing.T) {
	var wants []fixtureWant
	if err := json.Unmarshal(fixture(t, "fixture_wants.json"), &wants); err != nil || len(wants) == 0 {
		t.Fatalf("fixture_wants.json: %v (%d entries)", err, len(wants))
	}
	for _, fw := range wants {
		t.Run(fw.File, func(t *testing.T) {
			n := newNode(t, fixture(t, fw.File))
			addr := n.srv.Listener.Addr().String()
			var groups []string
			for _, p := range fw.Pipelines {
				var ids []string
				for _, in := range p.Inputs {
					ids = append(ids, in.ID)
					for _, pipeline := range []string{"", p.ID} {
						v := run(t, addr, Options{Input: in.ID, Pipeline: pipeline})
						if !v.Healthy || v.ExitCode() != 0 || v.Pipeline != p.ID {
							t.Errorf("input %q (--pipeline %q): %v exit %d, want healthy in pipeline %q", in.ID, pipeline, v, v.ExitCode(), p.ID)
						}
						if want := fmt.Sprintf("%s input %q found in pipeline %q", addr, in.ID, p.ID); v.String() != want {
							t.Errorf("got %q, want %q", v, want)
						}
					}
				}
				if len(ids) > 0 {
					groups = append(groups, p.ID+": "+strings.TrimPrefix(inputsThere(ids), "inputs there: "))
				}
				// An absent id, looked for in this pipeline.
				v := run(t, addr, Options{Input: "udp-5514", Pipeline: p.ID})
				want := fmt.Sprintf("%s input \"udp-5514\" not found in pipeline %q (%s)", addr, p.ID, inputsThere(ids))
				if v.Healthy || v.ExitCode() != 1 || v.String() != want {
					t.Errorf("absent input: %q exit %d\n want %q exit 1", v, v.ExitCode(), want)
				}
			}
			// An absent id, in any pipeline.
			v := run(t, addr, Options{Input: "udp-5514"})
			var want string
			if len(fw.Pipelines) == 1 {
				p := fw.Pipelines[0]
				var ids []string
				for _, in := range p.Inputs {
					ids = append(ids, in.ID)
				}
				want = fmt.Sprintf("%s input \"udp-5514\" not found in pipeline %q (%s)", addr, p.ID, inputsThere(ids))
			} else {
				var ids []string
				for _, p := range fw.Pipelines {
					ids = append(ids, strconv.Quote(p.ID))
				}
				want = fmt.Sprintf("%s input \"udp-5514\" not found in pipelines %s (inputs there: %s)", addr, strings.Join(ids, ", "), strings.Join(groups, "; "))
			}
			if v.Healthy || v.ExitCode() != 1 || v.String() != want {
				t.Errorf("absent input, any pipeline: %q\n want %q", v, want)
			}
		})
	}
}

// TestNotFoundGroupsByPipeline: with several pipelines the message says
// which inputs each has, within the usual bound on listed ids.
func TestNotFoundGroupsByPipeline(t *testing.T) {
	n := newNode(t, []byte(`{"pipelines":{"main":{"plugins":{"inputs":[{"id":"a"},{"id":"b"}]}},
		"empty":{"plugins":{"inputs":[]}},"other":{"plugins":{"inputs":[{"id":"c"}]}}}}`))
	addr := n.srv.Listener.Addr().String()
	v := run(t, addr, Options{Input: "udp-5514"})
	want := addr + ` input "udp-5514" not found in pipelines "main", "empty", "other" (inputs there: main: "a", "b"; other: "c")`
	if v.Healthy || v.String() != want {
		t.Errorf("got  %q\nwant %q", v, want)
	}
	var ins []string
	for i := 0; i < 10; i++ {
		ins = append(ins, fmt.Sprintf(`{"id":"t-%d"}`, i))
	}
	n.set([]byte(`{"pipelines":{"p1":{"plugins":{"inputs":[` + strings.Join(ins[:6], ",") + `]}},
		"p2":{"plugins":{"inputs":[` + strings.Join(ins[6:], ",") + `]}},"p3":{"plugins":{"inputs":[{"id":"z"}]}}}}`))
	v = run(t, addr, Options{Input: "udp-5514"})
	want = addr + ` input "udp-5514" not found in pipelines "p1", "p2", "p3" (inputs there: p1: "t-0", "t-1", "t-2", "t-3", "t-4", "t-5"; p2: "t-6", "t-7" and 2 more; p3: 1 more)`
	if v.String() != want {
		t.Errorf("got  %q\nwant %q", v, want)
	}
}

func inputsThere(ids []string) string {
	if len(ids) == 0 {
		return "it has no inputs"
	}
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	return "inputs there: " + strings.Join(q, ", ")
}

func TestMessageOfTheIssue(t *testing.T) {
	// The example line of the issue, from a 6.x-style body.
	n := newNode(t, []byte(`{"version":"6.4.2","pipelines":{"main":{"plugins":{"inputs":[
		{"id":"tcp-5514","name":"tcp"},{"id":"beats-5044","name":"beats"}]}}}}`))
	addr := n.srv.Listener.Addr().String()
	v := run(t, addr, Options{Input: "udp-5514", Pipeline: "main"})
	want := addr + ` input "udp-5514" not found in pipeline "main" (inputs there: "tcp-5514", "beats-5044")`
	if v.String() != want {
		t.Errorf("got  %q\nwant %q", v, want)
	}
}

func TestMissingPipelineAndStartup(t *testing.T) {
	n := newNode(t, fixture(t, "node_stats-8.15-kuskoman.json"))
	addr := n.srv.Listener.Addr().String()
	v := run(t, addr, Options{Input: "udp-5514", Pipeline: "beats"})
	want := addr + ` input "udp-5514": pipeline "beats" not found (pipelines there: ".monitoring-logstash", "main")`
	if v.Healthy || v.String() != want {
		t.Errorf("got  %q\nwant %q", v, want)
	}
	n.set([]byte(`{"version":"8.15.0","pipelines":{}}`))
	v = run(t, addr, Options{Input: "udp-5514"})
	if want := addr + ` input "udp-5514" not found: no pipelines are running (Logstash starting?)`; v.Healthy || v.String() != want {
		t.Errorf("got  %q\nwant %q", v, want)
	}
}

func TestLongInputListIsBounded(t *testing.T) {
	var ins []string
	for i := 0; i < 30; i++ {
		ins = append(ins, fmt.Sprintf(`{"id":"tcp-%d"}`, 5000+i))
	}
	n := newNode(t, []byte(`{"pipelines":{"main":{"plugins":{"inputs":[`+strings.Join(ins, ",")+`]}}}}`))
	v := run(t, n.srv.Listener.Addr().String(), Options{Input: "udp-5514"})
	if !strings.HasSuffix(v.String(), `"tcp-5007" and 22 more)`) {
		t.Errorf("got %q", v)
	}
}

func TestDynamicWeightExitCodes(t *testing.T) {
	n := newNode(t, fixture(t, "node_stats-8.15-kuskoman.json")) // main: worker_utilization current 100
	addr := n.srv.Listener.Addr().String()
	gen := "95bb3e4f2a40f87147b6ab5035e08ba31858eace7604a57d2e719db790097222"
	v := run(t, addr, Options{Input: gen, DynamicWeight: true})
	if !v.Healthy || v.Weight != MinLoadWeight || v.ExitCode() != 2+MinLoadWeight {
		t.Errorf("saturated pipeline: %v weight %d exit %d, want the floor %d, exit %d", v, v.Weight, v.ExitCode(), MinLoadWeight, 2+MinLoadWeight)
	}
	n6 := newNode(t, fixture(t, "node_stats-6.4-sagap.json")) // no flow metrics: full weight
	v = run(t, n6.srv.Listener.Addr().String(), Options{Input: "2e751834e57957fe3925003eb2567a0a737fdf74971baefc8cbd483a4a2eee10", DynamicWeight: true})
	if !v.Healthy || v.ExitCode() != 255 {
		t.Errorf("no flow metrics: %v exit %d, want 255", v, v.ExitCode())
	}
	v = run(t, addr, Options{Input: "absent", DynamicWeight: true})
	if v.ExitCode() != 1 {
		t.Errorf("unhealthy with --dynamic-weight: exit %d, want 1", v.ExitCode())
	}
	if v := run(t, addr, Options{Input: gen}); v.ExitCode() != 0 {
		t.Errorf("without --dynamic-weight: exit %d, want 0", v.ExitCode())
	}
}

func statsWithOut(out int64) []byte {
	return []byte(fmt.Sprintf(`{"version":"8.15.0","pipelines":{"main":{"plugins":{"inputs":[{"id":"udp-5514","name":"udp","events":{"out":%d}}]}}}}`, out))
}

func TestMaxIdle(t *testing.T) {
	n := newNode(t, statsWithOut(5))
	addr := n.srv.Listener.Addr().String()
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) *Verdict {
		return run(t, addr, Options{Input: "udp-5514", MaxIdle: 2 * time.Minute, StateDir: dir, Now: func() time.Time { return t0.Add(d) }})
	}
	if v := at(0); !v.Healthy {
		t.Fatalf("first run: %v", v)
	}
	if v := at(time.Minute); !v.Healthy {
		t.Fatalf("idle 1m of 2m: %v", v)
	}
	v := at(3 * time.Minute)
	want := addr + ` input "udp-5514" in pipeline "main" has received no events for 3m0s (events.out stuck at 5 since 2026-01-02T03:04:05Z; --max-idle 2m0s)`
	if v.Healthy || v.String() != want {
		t.Fatalf("idle 3m: %q\n want %q", v, want)
	}
	n.set(statsWithOut(6))
	if v := at(4 * time.Minute); !v.Healthy {
		t.Fatalf("counter moved: %v", v)
	}
	if v := at(5 * time.Minute); !v.Healthy {
		t.Fatalf("1m after the move: %v", v)
	}
	// State is one small file per input, private, with no temporary left over.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "idle-") {
		t.Fatalf("state dir holds %v", entries)
	}
	fi, _ := entries[0].Info()
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("state file mode %v, want private", fi.Mode())
	}
}

// TestMaxIdleReadmits: a node failed for idleness gets no traffic, so its
// counter cannot move; the failure restarts the idle clock, the next run
// readmits it, and it fails again only after another --max-idle.
func TestMaxIdleReadmits(t *testing.T) {
	n := newNode(t, statsWithOut(5))
	addr := n.srv.Listener.Addr().String()
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) *Verdict {
		return run(t, addr, Options{Input: "udp-5514", MaxIdle: 2 * time.Minute, StateDir: dir, Now: func() time.Time { return t0.Add(d) }})
	}
	at(0)
	if v := at(2 * time.Minute); v.Healthy {
		t.Fatalf("idle 2m: healthy, want the idle failure")
	}
	// delay_loop later: out of IPVS, no events, yet readmitted.
	if v := at(2*time.Minute + 5*time.Second); !v.Healthy {
		t.Fatalf("the run after the idle failure: %v, want readmitted", v)
	}
	if v := at(3*time.Minute + 55*time.Second); !v.Healthy {
		t.Fatalf("1m55s after the restart: %v", v)
	}
	v := at(4 * time.Minute)
	want := addr + ` input "udp-5514" in pipeline "main" has received no events for 2m0s (events.out stuck at 5 since 2026-01-02T03:06:05Z; --max-idle 2m0s)`
	if v.Healthy || v.String() != want {
		t.Fatalf("another 2m idle: %q\n want %q", v, want)
	}
}

// TestStateTroubleDoesNotFail: state that cannot be written (or read)
// never fails the check: healthy, with a warning for the log.
func TestStateTroubleDoesNotFail(t *testing.T) {
	n := newNode(t, statsWithOut(5))
	addr := n.srv.Listener.Addr().String()
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	for _, o := range []Options{
		{Input: "udp-5514", MaxIdle: time.Minute, StateDir: filepath.Join(blocker, "sub")},
		{Input: "udp-5514", MaxIdle: time.Minute, StateDir: blocker}, // read: not a directory
	} {
		v := run(t, addr, o)
		if !v.Healthy || v.ExitCode() != 0 || len(v.Warnings) != 1 || !strings.HasPrefix(v.Warnings[0], "--max-idle not enforced: ") {
			t.Errorf("state dir %s: %v, warnings %q; want healthy with one warning", o.StateDir, v, v.Warnings)
		}
	}
	// Permissions that deny the current user: only meaningful without root
	// (TestCheckStateOwnedByAnotherUser in pkg/cli covers it as root).
	if os.Geteuid() != 0 {
		dir := t.TempDir()
		run(t, addr, Options{Input: "udp-5514", MaxIdle: time.Minute, StateDir: dir})
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			os.Chmod(filepath.Join(dir, e.Name()), 0)
		}
		os.Chmod(dir, 0o500)
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		v := run(t, addr, Options{Input: "udp-5514", MaxIdle: time.Minute, StateDir: dir})
		if !v.Healthy || len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "permission denied") {
			t.Errorf("unreadable state: %v, warnings %q", v, v.Warnings)
		}
	}
	// --require-running's cache: a warning, and the endpoint asked anyway.
	n8 := newNode(t, []byte(`{"version":"8.17.0","pipelines":{"main":{"plugins":{"inputs":[{"id":"udp-5514"}]}}}}`))
	n8.health = fixture(t, "health_report_example_blocked-9.x-openapi.json")
	v := run(t, n8.srv.Listener.Addr().String(), Options{Input: "udp-5514", RequireRunning: true, StateDir: filepath.Join(blocker, "sub")})
	if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "cannot cache") {
		t.Errorf("require-running with unwritable state: %v, warnings %q", v, v.Warnings)
	}
}

// TestReadOnlyWritesNoState: --explain (ReadOnly) judges from the state
// but leaves it as it was.
func TestReadOnlyWritesNoState(t *testing.T) {
	n := newNode(t, statsWithOut(5))
	addr := n.srv.Listener.Addr().String()
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration, ro bool) *Verdict {
		return run(t, addr, Options{Input: "udp-5514", MaxIdle: 2 * time.Minute, StateDir: dir, ReadOnly: ro, Now: func() time.Time { return t0.Add(d) }})
	}
	at(0, true)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("read-only first run wrote %v", entries)
	}
	at(0, false)
	if v := at(3*time.Minute, true); v.Healthy {
		t.Fatalf("read-only idle 3m: healthy, want the idle verdict")
	}
	// The read-only failure did not restart the clock: still idle.
	if v := at(3*time.Minute+time.Second, false); v.Healthy {
		t.Errorf("after a read-only run the idle clock was restarted")
	}
}

func TestRequireRunning(t *testing.T) {
	body := func(version string) []byte {
		return []byte(`{"version":"` + version + `","pipelines":{"abnormal-termination-pipeline":{"plugins":{"inputs":[{"id":"udp-5514","name":"udp"}]}},
			"blocked-pipeline":{"plugins":{"inputs":[{"id":"tcp-5514","name":"tcp"}]}}}}`)
	}
	n := newNode(t, body("8.17.0"))
	addr := n.srv.Listener.Addr().String()
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	check := func(input string) *Verdict {
		return run(t, addr, Options{Input: input, RequireRunning: true, StateDir: dir, Now: func() time.Time { return now }})
	}

	n.health = fixture(t, "health_report_example_blocked-9.x-openapi.json") // blocked-pipeline RUNNING
	if v := check("tcp-5514"); !v.Healthy {
		t.Fatalf("RUNNING pipeline: %v", v)
	}
	if got := n.count("/_health_report"); got != 1 {
		t.Fatalf("%d health report requests, want 1", got)
	}
	now = now.Add(10 * time.Second)
	if v := check("tcp-5514"); !v.Healthy {
		t.Fatalf("cached: %v", v)
	}
	if got := n.count("/_health_report"); got != 1 {
		t.Errorf("asked /_health_report again within the interval (%d requests)", got)
	}

	// After the interval the endpoint is asked again, and a terminated
	// pipeline (its input still listed in the stats) fails the check.
	n.health = fixture(t, "health_report_example_terminated-9.x-openapi.json")
	now = now.Add(DefaultRunningInterval)
	v := check("udp-5514")
	want := addr + ` input "udp-5514" in pipeline "abnormal-termination-pipeline": pipeline state is TERMINATED, not RUNNING (/_health_report: TERMINATED (red))`
	if v.Healthy || v.String() != want {
		t.Errorf("terminated: %q\n want %q", v, want)
	}
	if got := n.count("/_health_report"); got != 2 {
		t.Errorf("%d health report requests, want 2", got)
	}

	// Before 8.16 the endpoint is not asked; the check passes with a note.
	old := newNode(t, body("8.15.0"))
	v = run(t, old.srv.Listener.Addr().String(), Options{Input: "udp-5514", RequireRunning: true})
	if !v.Healthy || old.count("/_health_report") != 0 || !strings.Contains(strings.Join(v.Notes, "\n"), "skipped") {
		t.Errorf("8.15: %v (notes %q, %d requests)", v, v.Notes, old.count("/_health_report"))
	}
	// Unknown version without the endpoint: skipped, and remembered.
	unknown := newNode(t, []byte(`{"pipelines":{"main":{"plugins":{"inputs":[{"id":"udp-5514"}]}}}}`))
	udir := t.TempDir()
	for i := 0; i < 2; i++ {
		v = run(t, unknown.srv.Listener.Addr().String(), Options{Input: "udp-5514", RequireRunning: true, StateDir: udir})
		if !v.Healthy {
			t.Errorf("no /_health_report: %v", v)
		}
	}
	if got := unknown.count("/_health_report"); got != 1 {
		t.Errorf("%d health report requests for a node without it, want 1", got)
	}
}

func TestProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	probePort, _ := strconv.Atoi(port)
	n := newNode(t, []byte(`{"pipelines":{"main":{"plugins":{"inputs":[{"id":"tcp-5514","name":"tcp"},{"id":"udp-5514","name":"udp"}]}}}}`))
	addr := n.srv.Listener.Addr().String()

	if v := run(t, addr, Options{Input: "tcp-5514", Probe: true, ProbePort: probePort}); !v.Healthy {
		t.Errorf("listening port: %v", v)
	}
	ln.Close()
	v := run(t, addr, Options{Input: "tcp-5514", Probe: true, ProbePort: probePort})
	want := fmt.Sprintf(`%s input "tcp-5514" found in pipeline "main" but TCP probe of 127.0.0.1:%d failed: connect: connection refused`, addr, probePort)
	if v.Healthy || v.String() != want {
		t.Errorf("closed port: %q\n want %q", v, want)
	}
	if v := run(t, addr, Options{Input: "udp-5514", Probe: true, ProbePort: probePort}); !v.Healthy {
		t.Errorf("UDP input must skip the probe: %v", v)
	}
}
