package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// statusAPI serves node stats on addr whose input's events.out grows by
// 50 per request, as a receiving Logstash's does.
func statusAPI(t *testing.T, addr, inputID string) {
	t.Helper()
	var n atomic.Int64
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen on %s: %v", addr, err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := n.Add(50)
		fmt.Fprintf(w, `{"version":"8.15.0","name":"ls","pipelines":{"main":{
			"events":{"in":%d,"out":%d,"duration_in_millis":10},
			"flow":{"worker_utilization":{"current":42.0}},
			"plugins":{"inputs":[{"id":%q,"name":"udp","events":{"out":%d}}]}}}}`, out, out, inputID, out)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
}

// servedBody serves a fixed body on addr.
func servedBody(t *testing.T, addr string, body []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen on %s: %v", addr, err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
}

// blackHoleAt accepts connections on addr and never answers; accepted
// counts them.
func blackHoleAt(t *testing.T, addr string) (accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen on %s: %v", addr, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// statusInventory has four Logstash hosts on loopback, each with its own
// API port, behind one UDP service.
func statusInventory(t *testing.T, service string, ports [4]int) string {
	t.Helper()
	inv := fmt.Sprintf(`
[cluster]
name = "t"
interface = "eth0"
vrrp_auth_pass = "secret42"
check_timeout = "2s" # the second sample (1s later) has a second to spare on a loaded machine

[[director]]
name = "d1"
address = "10.0.0.1"

[[logstash]]
name = "healthy"
address = "127.0.0.11"
api_port = %d

[[logstash]]
name = "noinput"
address = "127.0.0.12"
api_port = %d

[[logstash]]
name = "down"
address = "127.0.0.13"
api_port = %d

[[logstash]]
name = "blackhole"
address = "127.0.0.14"
api_port = %d

[[vip]]
name = "logs"
address = "10.0.0.100/24"
router_id = 1

[[service]]
name = %q
vip = "logs"
port = 5514
protocol = "udp"
input_id = "udp-5514"

[firewall]
log_sources = ["10.0.0.0/24"]
`, ports[0], ports[1], ports[2], ports[3], service)
	p := filepath.Join(t.TempDir(), "inv.toml")
	if err := os.WriteFile(p, []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startStandIns starts healthy, input-missing and black-holed APIs; the
// "down" port has no listener.
func startStandIns(t *testing.T) [4]int {
	ports, _ := standIns(t)
	return ports
}

// standIns is startStandIns that also counts the black hole's connections.
func standIns(t *testing.T) ([4]int, func() int) {
	ports := [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}
	statusAPI(t, fmt.Sprintf("127.0.0.11:%d", ports[0]), "udp-5514")
	servedBody(t, fmt.Sprintf("127.0.0.12:%d", ports[1]), testutil.NodeStats(""))
	accepted := blackHoleAt(t, fmt.Sprintf("127.0.0.14:%d", ports[3]))
	return ports, accepted
}

// hala status against real HTTP stand-ins on loopback: the rows say what
// each backend is, and the black hole is asked once: one timeout, not one
// per sample (that the backends are asked side by side is
// TestCollectAsksBackendsTogether's).
func TestStatusStandIns(t *testing.T) {
	ports, blackHoleConns := standIns(t)
	inv := statusInventory(t, "syslog-udp", ports)
	// The missing-input backend is drained too (hala drain's record).
	drains := t.TempDir()
	if err := drain.Drain(drains, drain.Record{Address: netip.MustParseAddr("127.0.0.12"), Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r := hala(t, []string{drain.EnvDir + "=" + drains}, "status", "-i", inv, "--node", "d1", "-o", "json")
	if n := blackHoleConns(); n != 1 {
		t.Errorf("the black-holed API was asked %d times, want once (one timeout)", n)
	}
	if r.code != 2 || !strings.Contains(r.stdout, `"state":"degraded"`) {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var st struct {
		Backends []struct {
			Backend, API, Version, Input, Problem string
			Drained                               bool
			EventsPerSecond                       *float64 `json:"events_per_second"`
			LoadPercent                           *float64 `json:"load_percent"`
			IPVS                                  struct{ State, Why string }
		}
		VIPs []struct{ Name, State string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Backends) != 4 {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	b := st.Backends
	if b[0].Backend != "healthy" || b[0].API != "up" || b[0].Version != "8.15.0" || b[0].Input != "present" ||
		b[0].EventsPerSecond == nil || *b[0].EventsPerSecond <= 0 || b[0].LoadPercent == nil || *b[0].LoadPercent != 42 {
		t.Errorf("healthy: %+v", b[0])
	}
	if b[0].Drained || !b[1].Drained {
		t.Errorf("drained: %v %v, want only the second backend (its drain record)", b[0].Drained, b[1].Drained)
	}
	if b[1].API != "up" || b[1].Version != "8.8.1" || b[1].Input != "missing" || !strings.Contains(b[1].Problem, `input "udp-5514" not found`) {
		t.Errorf("input missing: %+v", b[1])
	}
	if b[2].API != "down" || !strings.Contains(b[2].Problem, "connection refused") {
		t.Errorf("down: %+v", b[2])
	}
	if b[3].API != "down" || b[3].Problem != "timed out after 2s" {
		t.Errorf("black hole: %+v", b[3])
	}
	if !kernelHasIPVS() && (b[0].IPVS.State != "unknown" || b[0].IPVS.Why == "") {
		t.Errorf("IPVS without kernel support: %+v, want the reason", b[0].IPVS)
	}
	if len(st.VIPs) != 1 || st.VIPs[0].Name != "logs" || st.VIPs[0].State == "" {
		t.Errorf("VIPs %+v", st.VIPs)
	}
}

// The text table fits 100 columns even with long names, and has no
// colour codes when stdout is not a terminal. The inventory is given as
// the argument, as hala validate FILE takes it.
func TestStatusTextFits(t *testing.T) {
	inv := statusInventory(t, "a-service-name-much-longer-than-any-column-should-be", startStandIns(t))
	code, stdout, stderr := runHala(t, "status", inv)
	if code != 2 {
		t.Fatalf("exit %d, want 2 (degraded)\n%s%s", code, stdout, stderr)
	}
	lines := strings.Split(stdout, "\n")
	if !strings.HasPrefix(lines[0], "SERVICE") || !strings.Contains(lines[1], "a-servic…hould-be") {
		t.Errorf("table:\n%s", stdout)
	}
	for _, l := range lines[:5] {
		if n := utf8.RuneCountInString(l); n > 100 {
			t.Errorf("%d columns: %q", n, l)
		}
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Errorf("colour codes on a pipe:\n%q", stdout)
	}
	if !strings.Contains(stdout, "VIPs not read: ") {
		t.Errorf("without a director the VIP section does not say why:\n%s", stdout)
	}
}

// healthAPI serves a real Logstash 9.1 node stats body (its input id
// replaced by udp-5514) and a real /_health_report body whose pipeline is
// renamed to the node's, on addr.
func healthAPI(t *testing.T, addr, healthFixture, healthPipeline string) {
	t.Helper()
	stats, err := os.ReadFile("../logstash/testdata/node_stats-9.1-openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	stats = []byte(strings.ReplaceAll(string(stats), "c9ca46e359d73146590ca8af40092342afa922f3cbf07adc4b5009e346cb19f7", "udp-5514"))
	health, err := os.ReadFile("../logstash/testdata/" + healthFixture)
	if err != nil {
		t.Fatal(err)
	}
	health = []byte(strings.ReplaceAll(string(health), `"`+healthPipeline+`"`, `"heartbeat-ruby-stdout"`))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen on %s: %v", addr, err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_health_report" {
			w.Write(health)
			return
		}
		w.Write(stats)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
}

// On 8.16+ hala status asks /_health_report too: a pipeline RUNNING
// there shows its input as running, one FINISHED as stopped, saying so.
func TestStatusHealthReportStates(t *testing.T) {
	ports := [4]int{freePort(t), freePort(t), freePort(t), freePort(t)}
	healthAPI(t, fmt.Sprintf("127.0.0.11:%d", ports[0]), "health_report_example_blocked-9.x-openapi.json", "blocked-pipeline")
	healthAPI(t, fmt.Sprintf("127.0.0.12:%d", ports[1]), "health_report_example_finished-9.x-openapi.json", "normal-completion-pipeline")
	inv := statusInventory(t, "syslog-udp", ports)
	r := hala(t, nil, "status", "-i", inv, "--node", "d1", "-o", "json")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2 (degraded)\n%s%s", r.code, r.stdout, r.stderr)
	}
	var st struct {
		Backends []struct{ Backend, API, Version, Input, Problem string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Backends) != 4 {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if b := st.Backends[0]; b.API != "up" || b.Version != "9.1.0" || b.Input != "running" || b.Problem != "" {
		t.Errorf("RUNNING in the health report: %+v, want input running", b)
	}
	if b := st.Backends[1]; b.API != "up" || b.Input != "stopped" || b.Problem != `pipeline "heartbeat-ruby-stdout" is FINISHED` {
		t.Errorf("FINISHED in the health report: %+v, want input stopped, saying why", b)
	}
}

// hala status's exit status tells a script how the cluster is: 0 every
// backend serves, 2 some does not, 3 a service has none; an unreadable
// drain record drains nothing, so it is a warning, not a drained row.
func TestStatusExitCodes(t *testing.T) {
	ports, _ := standIns(t)
	inv := statusInventory(t, "syslog-udp", ports)
	src, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	only := filepath.Join(t.TempDir(), "healthy-only.toml")
	if err := os.WriteFile(only, []byte(strings.Replace(string(src), `input_id = "udp-5514"`, `input_id = "udp-5514"`+"\nbackends = [\"healthy\"]", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	drains := t.TempDir()
	status := func(inv string) (int, string) {
		t.Helper()
		code, stdout, stderr := runHala(t, "status", "-i", inv, "--node", "d1", "--drain-dir", drains)
		return code, stdout + stderr
	}
	if code, out := status(only); code != 0 {
		t.Errorf("the one backend serving: exit %d, want 0\n%s", code, out)
	}
	if code, out := status(inv); code != 2 {
		t.Errorf("one of four serving: exit %d, want 2\n%s", code, out)
	}
	// Its record unreadable: not drained, said so, still serving.
	if err := os.WriteFile(filepath.Join(drains, "127.0.0.11.drain"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := status(only); code != 0 || !strings.Contains(out, "unreadable") ||
		!strings.Contains(out, "syslog-udp on healthy: drain record unreadable: read drain record "+filepath.Join(drains, "127.0.0.11.drain")) {
		t.Errorf("unreadable drain record: exit %d, want 0 and the record named\n%s", code, out)
	}
	if err := drain.Drain(drains, drain.Record{Address: netip.MustParseAddr("127.0.0.11"), Since: time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	code, out := status(only)
	if code != 3 || !strings.Contains(out, "syslog-udp on healthy: drained since 2025-01-02T15:04:05Z (hala drain)\n") || !strings.Contains(out, "syslog-udp: no healthy backend (1 listed)\n") {
		t.Errorf("its only backend drained: exit %d, want 3\n%s", code, out)
	}
	if code, _ := status(filepath.Join(t.TempDir(), "missing.toml")); code != 1 {
		t.Errorf("no inventory: exit %d, want 1", code)
	}
}

// Colour needs a terminal that has them: not with NO_COLOR, TERM=dumb
// or no TERM.
func TestStatusColor(t *testing.T) {
	for _, tc := range []struct {
		tty  bool
		env  map[string]string
		want bool
	}{
		{true, map[string]string{"TERM": "xterm-256color"}, true},
		{false, map[string]string{"TERM": "xterm-256color"}, false},
		{true, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, false},
		{true, map[string]string{"TERM": "dumb"}, false},
		{true, map[string]string{}, false},
	} {
		if got := useColor(tc.tty, func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("tty %v env %v: colour %v, want %v", tc.tty, tc.env, got, tc.want)
		}
	}
}

// --watch's header keeps its period, and says when a round outlasted it.
func TestStatusWatchLine(t *testing.T) {
	at := time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)
	if got := watchLine(at, time.Second, 300*time.Millisecond); got != "15:04:05  every 1s" {
		t.Errorf("quick round: %q", got)
	}
	if got, want := watchLine(at, time.Second, 2040*time.Millisecond), "15:04:05  every 1s (this round took 2s: a slow or silent API; the next starts at once)"; got != want {
		t.Errorf("slow round: %q, want %q", got, want)
	}
}

// hala status takes its inventory with -i or as its one argument, and
// says which it wants when given none or two different ones.
func TestStatusInventoryArgument(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "hala: error: no inventory given\nhala: hint: hala status -i FILE\n"},
		{[]string{"status", "-i", "a.toml", "b.toml"}, "hala: error: two inventories given\nhala: hint: pass the file either with -i or as an argument\n"},
		{[]string{"status", "nope.toml"}, "hala: error: read inventory: open nope.toml: "},
		{[]string{"status", "-i", "nope.toml", "nope.toml"}, "hala: error: read inventory: open nope.toml: "},
	} {
		code, _, stderr := runHala(t, tc.args...)
		if code != 1 || !strings.HasPrefix(stderr, tc.want) {
			t.Errorf("%q: exit %d, %q, want 1, %q", tc.args, code, stderr, tc.want)
		}
	}
}
