package cli

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// hala diagnose against a real HTTP server serving the seed's blocked
// pipeline: the report names the firehose output and exits 3; a healthy
// node exits 0; an unreachable one exits 1 naming the address.
func TestDiagnoseCommand(t *testing.T) {
	seed, err := os.ReadFile("../diagnose/testdata/seed-001.json")
	if err != nil {
		t.Fatal(err)
	}
	host, port := checkAPI(t, string(seed))
	code, stdout, stderr := runHala(t, "diagnose", host, "--port", port)
	if code != 3 || stderr != "" || !strings.Contains(stdout, "inputs waited for a free worker 99.82% of the time") ||
		!strings.Contains(stdout, `verdict: bottleneck: output "firehose-archive" (firehose)`) {
		t.Errorf("seed: exit %d (want 3)\n%s%s", code, stdout, stderr)
	}

	code, stdout, _ = runHala(t, "diagnose", host, "--port", port, "-o", "json", "--interval", "50ms")
	var rep struct {
		IntervalMillis int64 `json:"interval_millis"`
		Pipelines      []struct {
			State string `json:"state"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 || rep.IntervalMillis < 50 || rep.Pipelines[0].State != "idle" {
		t.Errorf("two equal samples: exit %d, %v, %+v\n%s", code, err, rep, stdout)
	}

	healthy, err := os.ReadFile("../logstash/testdata/node_stats_pipeline-5.3-telegraf.json")
	if err != nil {
		t.Fatal(err)
	}
	h2, p2 := checkAPI(t, string(healthy))
	if code, stdout, stderr := runHala(t, "diagnose", h2, "--port", p2); code != 0 || !strings.Contains(stdout, "verdict: no bottleneck") {
		t.Errorf("healthy: exit %d\n%s%s", code, stdout, stderr)
	}

	code, _, stderr = runHala(t, "diagnose", host, "--port", port, "--pipeline", "nope")
	if code != 1 || !strings.Contains(stderr, `hala: error: diagnose `+host+":"+port+`: pipeline not found: "nope" (pipelines there: "main")`) {
		t.Errorf("unknown pipeline: exit %d, %s", code, stderr)
	}
	bh, bp := blackHole(t)
	// The message says the deadline, not the server, ended it.
	code, _, stderr = runHala(t, "diagnose", bh, "--port", bp, "--timeout", "300ms")
	if code != 1 || stderr != "hala: error: diagnose "+bh+":"+bp+": timed out after 300ms\n" {
		t.Errorf("black hole: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runHala(t, "diagnose", host, "-o", "yaml"); code != 1 || !strings.Contains(stderr, "use -o text or -o json") {
		t.Errorf("-o yaml: exit %d %s", code, stderr)
	}
	// The API flags are hala check's, checked the same way.
	for _, tc := range []struct{ args, want string }{
		{"--scheme HTTPS", `hala: error: --scheme "HTTPS": want http or https`},
		{"--max-body 100", "hala: error: --max-body 100: must be at least 1024 (1 KiB)"},
		{"--port 0", "hala: error: --port 0: out of range 1-65535"},
	} {
		args := append([]string{"diagnose", host}, strings.Fields(tc.args)...)
		if code, _, stderr := runHala(t, args...); code != 1 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%s: exit %d, %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
	// <ip> as hala check takes it: no name looked up, no port, no brackets.
	for _, tc := range []struct{ ip, want string }{
		{"127.0.0.1:9600", "hala: error: <ip> \"127.0.0.1:9600\": not an IP address\nhala: hint: use --port: hala diagnose --port 9600 127.0.0.1 ...\n"},
		{"[::1]", "hala: error: <ip> \"[::1]\": not an IP address\nhala: hint: write an IPv6 address without brackets: ::1\n"},
		{"[[::1]]", "hala: error: <ip> \"[[::1]]\": not an IP address\nhala: hint: give the node's IP address, e.g. 192.168.1.210 (hala diagnose looks no name up)\n"},
		{"logstash.invalid", "hala: error: <ip> \"logstash.invalid\": not an IP address\nhala: hint: give the node's IP address, e.g. 192.168.1.210 (hala diagnose looks no name up)\n"},
	} {
		if code, stdout, stderr := runHala(t, "diagnose", tc.ip, "--timeout", "300ms"); code != 1 || stdout != "" || stderr != tc.want {
			t.Errorf("diagnose %s: exit %d stdout %q stderr %q, want exit 1 and %q", tc.ip, code, stdout, stderr, tc.want)
		}
	}
}

// hala diagnose --interval on Elastic's 8.13 example taken twice: the
// counters stand still beside worker_utilization 100 and
// queue_backpressure 0.735, so pipeline "test2" is stuck, exit 3, with its
// elasticsearch output named; never "no bottleneck", exit 0.
func TestDiagnoseStuckExits3(t *testing.T) {
	body, err := os.ReadFile("../diagnose/testdata/node_stats_pipelines-8.13-docs.json")
	if err != nil {
		t.Fatal(err)
	}
	host, port := checkAPI(t, string(body))
	code, stdout, stderr := runHala(t, "diagnose", host, "--port", port, "--interval", "50ms")
	if code != 3 || stderr != "" || !strings.Contains(stdout, `pipeline "test2": blocked`) ||
		!strings.Contains(stdout, `verdict: bottleneck: output "d7ea8941c0fc48ac58f89c84a9da482107472b82-2" (elasticsearch) at worker_utilization 100.00%, the highest (stuck: `) {
		t.Errorf("exit %d (want 3)\n%s%s", code, stdout, stderr)
	}
}
