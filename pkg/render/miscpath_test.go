package render_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// logstashAPI is a real HTTP server answering GET /_node/stats (and its
// sub-paths) with a captured Logstash body the test can swap.
type logstashAPI struct {
	body atomic.Pointer[[]byte]
	srv  *httptest.Server
}

func newLogstashAPI(t *testing.T, body []byte) *logstashAPI {
	t.Helper()
	a := &logstashAPI{}
	a.serve(body)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_node/stats") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(*a.body.Load())
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *logstashAPI) serve(body []byte) { a.body.Store(&body) }

func (a *logstashAPI) port(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(a.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// checkInventory is one director and one Logstash host at 127.0.0.1 whose
// API is on apiPort; service holds the [[service]] keys after name and vip.
func checkInventory(hala, apiPort, service string) string {
	return fmt.Sprintf(`[cluster]
name = "c"
interface = "eth0"
hala_path = %q

[[director]]
name = "d1"
address = "192.0.2.1"

[[logstash]]
name = "ls1"
address = "127.0.0.1"
api_port = %s

[[vip]]
name = "logs"
address = "192.0.2.100/24"
router_id = 1

[[service]]
name = "s"
vip = "logs"
%s

[firewall]
log_sources = ["192.0.2.0/24"]
`, hala, apiPort, service)
}

// renderedMiscPaths renders the inventory and returns the misc_path of
// every MISC_CHECK in d1's keepalived.conf.
func renderedMiscPaths(t *testing.T, src string) []string {
	t.Helper()
	inv, err := inventory.Parse("check.toml", []byte(src))
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	files, err := render.Node(inv, "d1")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path != "d1/"+render.KeepalivedPath {
			continue
		}
		var paths []string
		for _, m := range regexp.MustCompile(`misc_path "([^"]*)"`).FindAllSubmatch(f.Data, -1) {
			paths = append(paths, string(m[1]))
		}
		if len(paths) == 0 {
			t.Fatalf("no misc_path in %s:\n%s", f.Path, f.Data)
		}
		return paths
	}
	t.Fatal("no keepalived.conf rendered for d1")
	return nil
}

// runMiscPath runs a misc_path as keepalived does (split on white space,
// no shell) and returns its exit status and stderr.
func runMiscPath(t *testing.T, miscPath string, env ...string) (int, string) {
	t.Helper()
	args := strings.Fields(miscPath)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	code, _, stderr := testutil.Run(t, cmd)
	return code, stderr
}

// An input id may start with '-' (Logstash accepts any id): the rendered
// check must find it, not take it for a flag and fail forever.
func TestMiscPathInputIDStartingWithDash(t *testing.T) {
	hala := testutil.HalaBinary(t)
	const id = "-x"
	api := newLogstashAPI(t, testutil.NodeStats(id))
	paths := renderedMiscPaths(t, checkInventory(hala, api.port(t), `port = 5514
protocol = "udp"
input_id = "`+id+`"`))
	code, stderr := runMiscPath(t, paths[0], "HALA_STATE_DIR="+t.TempDir())
	if code != 0 {
		t.Fatalf("%s: exit %d against an API that has input %q, want 0; stderr:\n%s", paths[0], code, id, stderr)
	}

	api.serve(testutil.NodeStats("")) // the same capture without the input
	code, stderr = runMiscPath(t, paths[0], "HALA_STATE_DIR="+t.TempDir())
	if code != 1 || !strings.Contains(stderr, `input "-x" not found`) {
		t.Fatalf("%s: exit %d against an API without the input, want 1 and a line naming it; stderr:\n%s", paths[0], code, stderr)
	}
}

// Every service key that becomes a hala check flag renders a command line
// hala check accepts: weights = "load" exits 2+weight (misc_dynamic), and
// probe connects to backend_port, so the check fails once nothing listens
// there.
func TestMiscPathCheckOptions(t *testing.T) {
	hala := testutil.HalaBinary(t)
	api := newLogstashAPI(t, testutil.NodeStats("beats-5044"))
	input, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer input.Close()
	go func() {
		for {
			c, err := input.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, inputPort, _ := net.SplitHostPort(input.Addr().String())
	paths := renderedMiscPaths(t, checkInventory(hala, api.port(t), `port = 5044
backend_port = `+inputPort+`
protocol = "tcp"
input_id = "beats-5044"
scheduler = "wlc"
weights = "load"
max_idle = "15m"
require_running = true
probe = true`))
	for _, flag := range []string{" --dynamic-weight ", " --max-idle 15m0s ", " --require-running ", " --probe --probe-port " + inputPort + " "} {
		if !strings.Contains(paths[0], flag) {
			t.Errorf("misc_path %q lacks %q", paths[0], flag)
		}
	}
	state := t.TempDir()
	code, stderr := runMiscPath(t, paths[0], "HALA_STATE_DIR="+state)
	if code < 2 || stderr != "" {
		t.Fatalf("%s: exit %d, want 2+weight (healthy, misc_dynamic) and no stderr; stderr:\n%s", paths[0], code, stderr)
	}
	if entries, _ := os.ReadDir(state); len(entries) == 0 {
		t.Errorf("--max-idle kept no state in %s", state)
	}

	input.Close()
	code, stderr = runMiscPath(t, paths[0], "HALA_STATE_DIR="+state)
	if code != 1 || !strings.Contains(stderr, "TCP probe of 127.0.0.1:"+inputPort+" failed") {
		t.Fatalf("%s: exit %d with nothing on the input's port, want 1 and the probe's failure; stderr:\n%s", paths[0], code, stderr)
	}
}

// setup.sh creates the state directory hala check uses by default.
func TestStateDirIsTheChecks(t *testing.T) {
	inv, err := inventory.Load("testdata/check-options/inventory.toml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := render.Node(inv, "o1")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "o1/"+render.SetupPath {
			if want := "state_dir='" + check.DefaultStateDir + "'\n"; !bytes.Contains(f.Data, []byte(want)) {
				t.Errorf("%s does not set %q", f.Path, want)
			}
			return
		}
	}
	t.Fatal("no setup.sh for o1")
}
