package check

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/logstash"
)

// The report of a check against a real (recorded) Logstash 8.15 body says
// what was asked, every pipeline and input that came back with the one
// looked for marked, and the verdict with its exit status.
func TestReportOfACheck(t *testing.T) {
	o, v, exchanges := observedCheck(t, fixture(t, "node_stats-8.15-kuskoman.json"), "95bb3e4f2a40f87147b6ab5035e08ba31858eace7604a57d2e719db790097222")
	addr := o.Address
	var b strings.Builder
	err := Report{Options: o, Scheme: "http", AuthFile: "/etc/hala/api-auth", Exchanges: exchanges, Verdict: v, Elapsed: 1234567 * time.Nanosecond}.WriteText(&b)
	if err != nil {
		t.Fatal(err)
	}
	got := b.String()
	// The exchange's size and time vary; everything else is the fixture's.
	got = regexp.MustCompile(`→ 200 \(11.7 KiB\) in \S+\n`).ReplaceAllString(got, "→ 200 (11.7 KiB) in T\n")
	got = strings.ReplaceAll(got, addr, "ADDR")
	const in = `"95bb3e4f2a40f87147b6ab5035e08ba31858eace7604a57d2e719db790097222"`
	want := `hala check: input ` + in + ` in any pipeline on http://ADDR, timeout 2s
  basic auth from /etc/hala/api-auth
  note: credentials travel in clear over http; prefer --scheme https
asked:
  GET http://ADDR/_node/stats/pipelines → 200 (11.7 KiB) in T
got:
  pipeline ".monitoring-logstash": 1 input(s), worker_utilization 0.0% (current)
     input "9a9bed30135e19c8047fe6aa0588b70b15280fb9161fea8ed8e7368e1fb1e6d3": events.out 0, queue_push_duration 0ms
  pipeline "main": 2 input(s), memory queue, worker_utilization 100.0% (current)
     input "5ee0ea3d45c32bab3b41963bd900e758ba6e193a11079649302574c706fd5e2f" (dead_letter_queue): events.out 0, queue_push_duration 0ms
   * input ` + in + ` (generator): events.out 3751, queue_push_duration 49454ms
checked:
  Logstash 8.15.0, node "814a8393fbd5" (.pipelines.<id> (6.0+) layout), 2 pipeline(s)
  input ` + in + ` (generator) found in pipeline "main", events.out 3751
verdict: healthy: ADDR input ` + in + ` found in pipeline "main"
exit status 0 (in 1.23ms)
`
	if got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
}

// explain runs a check against body served by a real node and returns the
// verdict and the --explain report.
func explain(t *testing.T, body []byte, input string) (*Verdict, string) {
	t.Helper()
	o, v, exchanges := observedCheck(t, body, input)
	var b strings.Builder
	if err := (Report{Options: o, Scheme: "http", Exchanges: exchanges, Verdict: v}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return v, b.String()
}

// observedCheck runs a check of input against body served by a real node
// and returns its options, its verdict and the exchanges it made.
func observedCheck(t *testing.T, body []byte, input string) (Options, *Verdict, []logstash.Exchange) {
	t.Helper()
	n := newNode(t, body)
	host, port := n.hostPort()
	var (
		mu        sync.Mutex
		exchanges []logstash.Exchange
	)
	c, err := logstash.New(logstash.Config{Host: host, Port: port, Observe: func(e logstash.Exchange) {
		mu.Lock()
		exchanges = append(exchanges, e)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Address: n.srv.Listener.Addr().String(), Host: host, Input: input, Timeout: 2 * time.Second, StateDir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	v := Run(ctx, c, o)
	mu.Lock()
	defer mu.Unlock()
	return o, v, exchanges
}

// A 5.x node answers /_node/stats/pipelines with 404, whose body the
// client does not read: the report says so instead of "404 (0 B)".
func TestExplainFallback404(t *testing.T) {
	v, got := explain(t, fixture(t, "node_stats-5.6-bonniernews.json"), "5681ae93b83a24a100eacdb291ca4679effa35bf-1")
	if !regexp.MustCompile(`GET http://\S+/_node/stats/pipelines → 404 \(body not read\) in `).MatchString(got) || strings.Contains(got, "404 (0 B)") {
		t.Errorf("the 404 is not reported as unread:\n%s", got)
	}
	if !v.Healthy || !regexp.MustCompile(`/_node/stats/pipeline → 200 \([0-9.]+ KiB\)`).MatchString(got) {
		t.Errorf("the fallback's answer:\n%s", got)
	}
}

// Elastic's documented pipeline stats example names no node: the report
// leaves the node out rather than printing node "".
func TestExplainOmitsEmptyNodeName(t *testing.T) {
	v, got := explain(t, fixture(t, "node_stats_pipelines-8.x-docs.json"), "35131f351e2dc5ed13ee04265a8a5a1f95292165-1")
	if !v.Healthy || strings.Contains(got, `node ""`) || !strings.Contains(got, "Logstash (version unknown) (.pipelines.<id> (6.0+) layout), 2 pipeline(s)") {
		t.Errorf("report:\n%s", got)
	}
}

// A /_node/pipelines or /_node body where node stats should be (a proxy
// mapping the wrong path) is reported as not node stats, never as
// pipelines that have no inputs.
func TestNotNodeStatsBodies(t *testing.T) {
	for _, f := range []string{"node_pipelines-8.x-docs.json", "node_pipelines-7.0-metricbeat.json", "node-7.0-metricbeat.json"} {
		t.Run(f, func(t *testing.T) {
			v, got := explain(t, fixture(t, f), "beats")
			if v.Healthy || !strings.Contains(v.String(), "response is not Logstash node stats JSON") || !strings.Contains(v.String(), "/_node/pipelines body") || strings.Contains(got, "no inputs") {
				t.Errorf("verdict %q:\n%s", v, got)
			}
		})
	}
}
