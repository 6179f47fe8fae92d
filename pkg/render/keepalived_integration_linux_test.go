//go:build linux && integration

package render_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// The addresses of examples/two-node.toml. The test keeps them: they exist
// only inside the test's namespaces.
const (
	stash1Addr = "192.168.1.210" // director (runs keepalived) and Logstash host
	stash2Addr = "192.168.1.220" // Logstash host
	vipAddr    = "192.168.1.230"
	inputID    = "udp-5514"
	vsPort     = "5514"
)

// TestIntegrationKeepalivedProgramsIPVS loads the hala render output for
// examples/two-node.toml into the real keepalived, in a namespace on a
// test LAN, with the real `hala check` as MISC_CHECK against real HTTP
// servers that serve a captured Logstash node-stats body. IPVS must list
// the virtual server and both real servers while their checks pass, and
// drop a real server within delay_loop + misc_timeout once its Logstash
// stops reporting the input.
func TestIntegrationKeepalivedProgramsIPVS(t *testing.T) {
	testutil.RequireKernel(t)
	begin := time.Now()
	r := startTwoNode(t, true)

	// The VRRP instance is MASTER (the only director running): the VIP is up.
	testutil.WaitFor(t, 20*time.Second, func() error {
		out := r.director.IP(t, "-4", "-o", "addr", "show", "dev", "eth0")
		if !strings.Contains(out, " "+vipAddr+"/24 ") {
			return fmt.Errorf("VIP %s/24 not on the director's eth0:\n%s", vipAddr, out)
		}
		return nil
	})

	both := []string{stash1Addr + ":" + vsPort, stash2Addr + ":" + vsPort}
	testutil.WaitFor(t, 20*time.Second, func() error {
		return r.expect(t, both)
	})
	t.Logf("IPVS %v after start-up:\n%s", time.Since(begin).Round(100*time.Millisecond), r.ipvsadm(t))

	// stash2's Logstash loses the input: its API still answers, without it.
	r.api2.serve(testutil.NodeStats(""))
	flipped := time.Now()
	bound := r.delayLoop + r.miscTimeout + 2*time.Second
	took := testutil.WaitFor(t, bound, func() error {
		return r.expect(t, both[:1])
	})
	t.Logf("real server %s left IPVS %v after its input vanished (bound: delay_loop %v + misc_timeout %v + 2s slack)",
		stash2Addr, took.Round(100*time.Millisecond), r.delayLoop, r.miscTimeout)

	// Over a whole further check period, stash1's passing check keeps it in,
	// and stash2 stays out.
	deadline := time.Now().Add(r.delayLoop + r.miscTimeout)
	for time.Now().Before(deadline) {
		if err := r.expect(t, both[:1]); err != nil {
			t.Fatalf("%v after the flip: %v", time.Since(flipped).Round(100*time.Millisecond), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestIntegrationKeepalivedNoHealthyBackends is the negative control: both
// Logstash APIs answer but neither has the input, so after the first check
// round IPVS holds the virtual server with no real server at all.
func TestIntegrationKeepalivedNoHealthyBackends(t *testing.T) {
	testutil.RequireKernel(t)
	r := startTwoNode(t, false)

	// The virtual server appears as soon as keepalived has read its config.
	testutil.WaitFor(t, 20*time.Second, func() error {
		_, ok := parseIPVS(r.ipvsadm(t))[r.service]
		if !ok {
			return fmt.Errorf("no virtual server %s", r.service)
		}
		return nil
	})
	start := time.Now()
	var seen []string
	bound := r.delayLoop + r.miscTimeout + 2*time.Second
	for time.Since(start) < bound {
		seen = appendNew(seen, parseIPVS(r.ipvsadm(t))[r.service])
		time.Sleep(250 * time.Millisecond)
	}
	table := r.ipvsadm(t)
	if reals := parseIPVS(table)[r.service]; len(reals) != 0 {
		t.Fatalf("failing checks, yet after %v IPVS still routes to %v:\n%s", bound, reals, table)
	}
	if len(seen) > 0 {
		t.Logf("real servers listed before the first check round ended: %v", seen)
	}
}

// twoNode is examples/two-node.toml running on a test LAN: stash1's
// namespace runs keepalived with its rendered keepalived.conf and a
// Logstash API stand-in; stash2's namespace runs the other stand-in.
type twoNode struct {
	director    *testutil.NetNS
	api1, api2  *apiStandIn
	ipvsadmPath string
	service     string        // as ipvsadm -Ln prints it, e.g. "UDP 192.168.1.230:5514 rr ops"
	delayLoop   time.Duration // from the rendered keepalived.conf
	miscTimeout time.Duration // from the rendered keepalived.conf
}

// startTwoNode builds the rig; healthy says whether the APIs start out
// reporting the input.
func startTwoNode(t *testing.T, healthy bool) *twoNode {
	t.Helper()
	keepalived := testutil.RequireTool(t, "keepalived")
	r := &twoNode{ipvsadmPath: testutil.RequireTool(t, "ipvsadm")}
	// MISC_CHECK runs this copy: keepalived refuses a binary under a
	// world-writable directory, and a checkout may live under /tmp.
	hala := testutil.ScriptSafeBinary(t, testutil.HalaBinary(t))
	dir := t.TempDir()

	invPath := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(invPath, adaptTwoNode(t, hala, scriptUser(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if b, err := exec.Command(hala, "render", "-i", invPath, "-d", out, "--node", "stash1").CombinedOutput(); err != nil {
		t.Fatalf("hala render: %v\n%s", err, b)
	}
	conf := filepath.Join(out, "stash1", "keepalived.conf")
	confText, err := os.ReadFile(conf)
	if err != nil {
		t.Fatalf("hala render wrote no keepalived.conf for stash1: %v", err)
	}
	r.delayLoop = confSeconds(t, confText, "delay_loop")
	r.miscTimeout = confSeconds(t, confText, "misc_timeout")
	r.service = "UDP " + vipAddr + ":" + vsPort + " rr ops"
	if !strings.Contains(string(confText), `misc_path "`+hala+` check `) {
		t.Fatalf("rendered MISC_CHECK does not run %s check:\n%s", hala, confText)
	}

	lan := testutil.NewLAN(t)
	r.director = testutil.NewNetNS(t)
	stash2 := testutil.NewNetNS(t)
	lan.Attach(t, r.director, "eth0", netip.MustParsePrefix(stash1Addr+"/24"))
	lan.Attach(t, stash2, "eth0", netip.MustParsePrefix(stash2Addr+"/24"))

	body := testutil.NodeStats("")
	if healthy {
		body = testutil.NodeStats(inputID)
	}
	r.api1 = serveAPI(t, r.director, stash1Addr+":9600", body)
	r.api2 = serveAPI(t, stash2, stash2Addr+":9600", body)

	testutil.Start(t, r.director.Cmd(keepalived,
		"--dont-fork", "--log-console", "--no-syslog", "--log-detail", "--use-file", conf,
		"--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"),
		"--checkers_pid", filepath.Join(dir, "checkers.pid")))
	return r
}

// adaptTwoNode returns examples/two-node.toml moved onto the test LAN: the
// cluster interface is the namespaces' eth0 and MISC_CHECK runs the hala
// under test. Everything else (addresses, service, check) is the example's.
func adaptTwoNode(t *testing.T, hala, scriptUser string) []byte {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "examples", "two-node.toml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	iface := regexp.MustCompile(`(?m)^interface = "[^"]*"`)
	if len(iface.FindAllString(text, -1)) != 1 {
		t.Fatalf("examples/two-node.toml: want exactly one top-level interface line to adapt")
	}
	text = iface.ReplaceAllString(text, `interface = "eth0"`)
	extra := fmt.Sprintf("[cluster]\nhala_path = %q\n", hala)
	if scriptUser != "" {
		extra += fmt.Sprintf("script_user = %q\n", scriptUser)
	}
	if !strings.Contains(text, "\n[cluster]\n") {
		t.Fatal("examples/two-node.toml: no [cluster] table to adapt")
	}
	return []byte(strings.Replace(text, "\n[cluster]\n", "\n"+extra, 1))
}

// scriptUser makes sure keepalived has a user to run checks as. Inside the
// throwaway test VM the default keepalived_script user is created when
// missing; elsewhere the machine is left alone and checks run as nobody.
// It returns the script_user to put in the inventory ("" = the default).
func scriptUser(t *testing.T) string {
	t.Helper()
	const name = "keepalived_script"
	if _, err := user.Lookup(name); err == nil {
		return ""
	}
	if os.Getenv("HALA_VM") != "1" {
		return "nobody"
	}
	useradd := testutil.RequireTool(t, "useradd")
	if b, err := exec.Command(useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, b)
	}
	return ""
}

// confSeconds reads a "keyword N" line (seconds) from keepalived.conf.
func confSeconds(t *testing.T, conf []byte, keyword string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + keyword + ` (\d+)\s*$`).FindSubmatch(conf)
	if m == nil {
		t.Fatalf("rendered keepalived.conf has no %s line", keyword)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return time.Duration(n) * time.Second
}

// ipvsadm returns the director namespace's IPVS table.
//
// Equivalent to: ip netns exec DIRECTOR ipvsadm -Ln
func (r *twoNode) ipvsadm(t *testing.T) string {
	t.Helper()
	return r.director.Run(t, r.ipvsadmPath, "-Ln")
}

// expect returns nil when the virtual server lists exactly the real servers
// want (ip:port), each masqueraded with weight 1.
func (r *twoNode) expect(t *testing.T, want []string) error {
	t.Helper()
	table := r.ipvsadm(t)
	reals, ok := parseIPVS(table)[r.service]
	if !ok {
		return fmt.Errorf("no virtual server %q in:\n%s", r.service, table)
	}
	var got []string
	for _, rs := range reals {
		f := strings.Fields(rs)
		if len(f) < 3 || f[1] != "Masq" || f[2] != "1" {
			return fmt.Errorf("real server %q: want Masq weight 1 in:\n%s", rs, table)
		}
		got = append(got, f[0])
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("real servers %v, want %v in:\n%s", got, want, table)
	}
	return nil
}

// parseIPVS maps each virtual server line of `ipvsadm -Ln` (fields joined by
// one space, e.g. "UDP 192.168.1.230:5514 rr ops") to its real server lines
// ("192.168.1.210:5514 Masq 1 0 0").
func parseIPVS(out string) map[string][]string {
	services := map[string][]string{}
	current := ""
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && (f[0] == "UDP" || f[0] == "TCP" || f[0] == "SCTP" || f[0] == "FWM"):
			current = strings.Join(f, " ")
			services[current] = nil
		case len(f) >= 2 && f[0] == "->" && f[1] != "RemoteAddress:Port" && current != "":
			services[current] = append(services[current], strings.Join(f[1:], " "))
		}
	}
	return services
}

func appendNew(seen, reals []string) []string {
	for _, rs := range reals {
		addr := strings.Fields(rs)[0]
		if !slices.Contains(seen, addr) {
			seen = append(seen, addr)
		}
	}
	return seen
}

// apiStandIn is a Logstash monitoring API: a real HTTP server, listening
// in a host's namespace, answering GET /_node/stats (and its sub-paths)
// with a body the test can swap.
type apiStandIn struct {
	body atomic.Pointer[[]byte]
}

func serveAPI(t *testing.T, ns *testutil.NetNS, addr string, body []byte) *apiStandIn {
	t.Helper()
	a := &apiStandIn{}
	a.serve(body)
	l := ns.Listen(t, "tcp4", addr)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !strings.HasPrefix(req.URL.Path, "/_node/stats") {
				http.NotFound(w, req)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(*a.body.Load())
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(l) // returns at cleanup, when the server closes

	t.Cleanup(func() { srv.Close() })
	return a
}

// serve makes the API answer with body from now on.
func (a *apiStandIn) serve(body []byte) { a.body.Store(&body) }
