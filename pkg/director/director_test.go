package director

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/logstash"
)

// fixture is a real Logstash 8.15 node stats body with pipelines "main"
// (two inputs) and ".monitoring-logstash" (one), their ids replaced by
// the ones the test inventories check.
func fixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "logstash", "testdata", "node_stats-8.15-kuskoman.json"))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	for old, id := range map[string]string{
		"5ee0ea3d45c32bab3b41963bd900e758ba6e193a11079649302574c706fd5e2f": "udp-5514",
		"95bb3e4f2a40f87147b6ab5035e08ba31858eace7604a57d2e719db790097222": "tcp-5514",
		"9a9bed30135e19c8047fe6aa0588b70b15280fb9161fea8ed8e7368e1fb1e6d3": "beats-5044",
	} {
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("fixture lacks input id %s", old)
		}
		b = bytes.ReplaceAll(b, []byte(old), []byte(id))
	}
	return b
}

// api is a real HTTP server standing in for one Logstash API. Its mode
// says how it answers: "ok" (every input), "missing" (udp-5514 gone),
// "blackhole" (accepts, never answers).
type api struct {
	srv      *httptest.Server
	body     atomic.Value // []byte
	mode     atomic.Value
	requests atomic.Int64
}

func newAPI(t testing.TB) *api {
	a := &api{}
	a.body.Store(fixture(t))
	a.mode.Store("ok")
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		body := a.body.Load().([]byte)
		switch a.mode.Load().(string) {
		case "blackhole":
			<-r.Context().Done()
			return
		case "missing":
			_, _ = w.Write(bytes.ReplaceAll(body, []byte(`"udp-5514"`), []byte(`"udp-9999"`)))
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *api) set(mode string) { a.mode.Store(mode) }

// fakeTable is an in-memory IPVS table that logs every write.
type fakeTable struct {
	mu     sync.Mutex
	table  map[ipvs.ServiceKey]*ipvs.Entry
	writes []string
}

func newFakeTable() *fakeTable { return &fakeTable{table: map[ipvs.ServiceKey]*ipvs.Entry{}} }

func (f *fakeTable) Entries(context.Context) ([]ipvs.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ipvs.Entry
	for _, e := range f.table {
		out = append(out, ipvs.Entry{Service: e.Service, Destinations: slices.Clone(e.Destinations)})
	}
	return out, nil
}

func (f *fakeTable) Batch(_ context.Context, reqs []ipvs.Request) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		f.writes = append(f.writes, r.String())
		k := r.Service.Key()
		e := f.table[k]
		switch r.Op {
		case ipvs.OpAddService:
			f.table[k] = &ipvs.Entry{Service: r.Service}
		case ipvs.OpUpdateService:
			e.Service = r.Service
		case ipvs.OpDeleteService:
			delete(f.table, k)
		case ipvs.OpAddDestination, ipvs.OpUpdateDestination, ipvs.OpDeleteDestination:
			if e == nil {
				errs[i] = fmt.Errorf("no service %s", k)
				continue
			}
			// As the kernel: an add goes to the head of the list, an
			// update stays in place.
			j := slices.IndexFunc(e.Destinations, func(d ipvs.Destination) bool { return d.Key() == r.Destination.Key() })
			switch {
			case r.Op == ipvs.OpAddDestination && j < 0:
				e.Destinations = slices.Insert(e.Destinations, 0, r.Destination)
			case r.Op == ipvs.OpAddDestination:
				errs[i] = ipvs.ErrExists
			case j < 0:
				errs[i] = ipvs.ErrNotFound
			case r.Op == ipvs.OpUpdateDestination:
				e.Destinations[j] = r.Destination
			default:
				e.Destinations = slices.Delete(e.Destinations, j, j+1)
			}
		}
	}
	return errs
}

// dests returns "addr:port/weight" of the service on port, sorted.
func (f *fakeTable) dests(port uint16) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, e := range f.table {
		if k.AddrPort.Port() != port {
			continue
		}
		for _, d := range e.Destinations {
			out = append(out, d.Key().String()+"/"+strconv.Itoa(d.Weight))
		}
	}
	slices.Sort(out)
	return out
}

// list returns "addr:port/weight" of the service on port in the kernel's
// list order (newest first), which mh builds its table from.
func (f *fakeTable) list(port uint16) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, e := range f.table {
		if k.AddrPort.Port() == port {
			var out []string
			for _, d := range e.Destinations {
				out = append(out, d.Key().String()+"/"+strconv.Itoa(d.Weight))
			}
			return out
		}
	}
	return nil
}

func (f *fakeTable) takeWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes
	f.writes = nil
	return w
}

// cluster is an inventory of two backends, l1 (10.0.0.11) and l2
// (10.0.0.12), behind a UDP service on udp-5514 (port 5514), a TCP one on
// tcp-5514 (port 5515) and a TCP one on beats-5044 (port 5044): three
// inputs of one API per backend. extra is appended to [cluster].
func cluster(t *testing.T, extraCluster, extraServices string) *inventory.Inventory {
	t.Helper()
	return parse(t, clusterSource(extraCluster, extraServices))
}

func parse(t testing.TB, src string) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Parse("test.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func clusterSource(extraCluster, extraServices string) string {
	return inventorytest.Edit(inventorytest.DirectorBase, `ipvs = "director"`+"\n", `ipvs = "director"`+"\n"+extraCluster+"\n") +
		"interval = \"100ms\"\n" + extraServices + `

[[service]]
name = "syslog-tcp"
vip = "logs"
port = 5515
protocol = "tcp"
input_id = "tcp-5514"
scheduler = "wlc"
interval = "100ms"

[[service]]
name = "beats"
vip = "logs"
port = 5044
protocol = "tcp"
input_id = "beats-5044"
scheduler = "wlc"
interval = "100ms"
`
}

// rig runs a director against the fake table and two real API servers.
type rig struct {
	t      *testing.T
	apis   map[string]*api // by backend address
	table  *fakeTable
	d      *Director
	cancel context.CancelFunc
	done   chan error
	logs   *testutil.SyncBuffer
	drains string     // the drain dir
	clock  *fakeClock // set by stepped
}

func newRig(t *testing.T, inv *inventory.Inventory, table *fakeTable) *rig {
	r := &rig{t: t, table: table, logs: &testutil.SyncBuffer{}, drains: t.TempDir(),
		apis: map[string]*api{"10.0.0.11": newAPI(t), "10.0.0.12": newAPI(t)}}
	if r.table == nil {
		r.table = newFakeTable()
	}
	d, err := New(Config{
		Inventory: inv, Target: r.table,
		Logger:        slog.New(slog.NewTextHandler(r.logs, nil)),
		StatePath:     filepath.Join(t.TempDir(), "owned.json"),
		CheckStateDir: t.TempDir(),
		DrainDir:      r.drains,
		NewSource: func(inv *inventory.Inventory, host string, port int) (check.Source, error) {
			src, err := r.source(inv, host, port)
			return patient{src}, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	return r
}

// patient gives a rig's checks 10s, not the 80ms a 100ms interval allows:
// the test servers answer at once (or never, in a test that wants a
// timeout and calls the prober itself), so only a loaded machine could
// make a check time out, and a failure the test did not cause would turn
// it red.
type patient struct{ check.Source }

func (p patient) NodeStats(ctx context.Context, pipeline string) (*logstash.NodeStats, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return p.Source.NodeStats(ctx, pipeline)
}

func (p patient) HealthReport(ctx context.Context) (*logstash.HealthReport, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return p.Source.HealthReport(ctx)
}

// source points a backend's client at its test server.
func (r *rig) source(_ *inventory.Inventory, host string, _ int) (check.Source, error) {
	a := r.apis[host]
	if a == nil {
		return nil, fmt.Errorf("no test API for %s", host)
	}
	u, _ := url.Parse(a.srv.URL)
	port, _ := strconv.Atoi(u.Port())
	return logstash.New(logstash.Config{Host: u.Hostname(), Port: port, KeepAlive: true})
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan error, 1)
	ready := make(chan struct{})
	r.d.cfg.Ready = func() { close(ready) }
	go func() { r.done <- r.d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-r.done:
		r.t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		r.t.Fatal("director not ready after 10s")
	}
	r.t.Cleanup(r.stop)
}

func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		r.t.Errorf("Run returned %v", err)
	}
}

// stepped puts the rig's rounds on a fake clock: call before start, then
// round to run one interval of checks of every backend.
func (r *rig) stepped() {
	r.clock = newFakeClock()
	r.d.cfg.Clock = r.clock
}

// round moves the fake clock one interval (every service's is 100ms) on,
// once every backend's loop waits for its next round, and returns once
// they all have done it.
func (r *rig) round() {
	r.t.Helper()
	n := len(r.d.sp.backends)
	r.clock.waitArmed(r.t, n)
	r.clock.set(r.clock.Now().Add(100 * time.Millisecond))
	r.clock.waitArmed(r.t, n)
}

// roundsUntil runs rounds until cond holds (at most 20), then waits for
// it as waitFor does: the last round's result may still be handled.
func (r *rig) roundsUntil(what string, cond func() bool) {
	r.t.Helper()
	for i := 0; i < 20 && !cond(); i++ {
		r.round()
	}
	r.waitFor(what, cond)
}

// waitFor polls cond for up to 5s.
func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not within 5s\nlogs:\n%s", what, r.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHealthRiseFall(t *testing.T) {
	// Each case feeds results to a backend that starts up (or down) and
	// lists the state after each one.
	cases := []struct {
		name    string
		up      bool
		results string // p = pass, f = fail
		want    string // u = up, d = down after each result
	}{
		{"one failure is not enough", true, "fp", "uu"},
		{"fall failures in a row take it down", true, "ff", "ud"},
		{"a pass resets the fall count", true, "fpfpf", "uuuuu"},
		{"rise passes bring it back", false, "pp", "du"},
		{"a failure during rise starts the rise over", false, "pfpp", "dddu"},
		{"flapping never moves it", true, "fpfpfp", "uuuuuu"},
		{"down stays down on failures", false, "fff", "ddd"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &health{up: tc.up}
			var got strings.Builder
			for _, c := range tc.results {
				h.observe(c == 'p', 2, 2)
				if h.up {
					got.WriteByte('u')
				} else {
					got.WriteByte('d')
				}
			}
			if got.String() != tc.want {
				t.Errorf("states = %s, want %s", got.String(), tc.want)
			}
		})
	}
}

func TestHealthStart(t *testing.T) {
	cases := []struct {
		inTable, ok bool
		fall        int
		want        bool
	}{
		{inTable: true, ok: true, fall: 2, want: true},   // kept
		{inTable: false, ok: true, fall: 2, want: true},  // seen healthy: added
		{inTable: true, ok: false, fall: 2, want: true},  // one failure of two: kept for now
		{inTable: true, ok: false, fall: 1, want: false}, // fall 1: out
		{inTable: false, ok: false, fall: 2, want: false},
	}
	for _, tc := range cases {
		h := &health{}
		h.start(tc.inTable, tc.ok, tc.fall)
		if h.up != tc.want {
			t.Errorf("start(inTable=%v, ok=%v, fall=%d): up=%v, want %v", tc.inTable, tc.ok, tc.fall, h.up, tc.want)
		}
	}
	// The one failure counted at start needs only fall-1 more.
	h := &health{}
	h.start(true, false, 2)
	if !h.observe(false, 2, 2) || h.up {
		t.Error("a backend failing at start and once more with fall 2 should go down")
	}
}

func TestTimeoutCountsAsFailure(t *testing.T) {
	inv := cluster(t, "", "")
	r := newRig(t, inv, nil)
	r.apis["10.0.0.12"].set("blackhole")
	b := r.d.sp.backends["l2"]
	src, _ := r.source(inv, "10.0.0.12", 0)
	p := &prober{b: b, src: src, stateDir: t.TempDir(), clock: wallClock{}}
	// A black hole never answers: the round returns through its timeout
	// alone, which the verdict names.
	res := p.once(context.Background())
	v := res.verdicts[checkKey{Input: "udp-5514"}]
	if v.Healthy || !strings.Contains(v.String(), "timed out after") {
		t.Fatalf("verdict = %v healthy=%v, want a timeout failure", v, v.Healthy)
	}
	h := &health{up: true}
	h.observe(v.Healthy, 2, 2)
	h.observe(v.Healthy, 2, 2)
	if h.up {
		t.Error("two timeouts in a row did not take the backend down")
	}
}

func TestOneRequestPerBackendPerRound(t *testing.T) {
	inv := cluster(t, "", "")
	r := newRig(t, inv, nil)
	b := r.d.sp.backends["l1"]
	if len(b.Checks) != 3 {
		t.Fatalf("l1 has %d checks, want 3 (one per input)", len(b.Checks))
	}
	if b.pipeline() != "" {
		t.Errorf("narrowest pipeline = %q; the inputs are all in main", b.pipeline())
	}
	src, _ := r.source(inv, "10.0.0.11", 0)
	p := &prober{b: b, src: patient{src}, stateDir: t.TempDir(), clock: wallClock{}}
	res := p.once(context.Background())
	if n := r.apis["10.0.0.11"].requests.Load(); n != 1 {
		t.Errorf("one round asked the API %d times, want 1", n)
	}
	for k, v := range res.verdicts {
		if !v.Healthy {
			t.Errorf("%s: %v", k, v)
		}
	}

	// Running: one request per interval, however many services. The
	// clock is moved on an interval at a time, each time after both
	// backends' loops have done their round and wait for the next.
	r.stepped()
	r.start()
	r.clock.waitArmed(t, 2)
	before := r.apis["10.0.0.11"].requests.Load()
	for range 10 {
		r.round()
	}
	if n := r.apis["10.0.0.11"].requests.Load() - before; n != 10 {
		t.Errorf("%d requests in 10 intervals for 3 services, want 10", n)
	}
}

func TestTransitionIsOneWritePerDestination(t *testing.T) {
	inv := cluster(t, "", "")
	r := newRig(t, inv, nil)
	r.start()
	if got := r.table.dests(5514); len(got) != 2 {
		t.Fatalf("after start: %v, want both backends", got)
	}
	r.table.takeWrites()

	r.apis["10.0.0.12"].set("missing") // only udp-5514 goes
	r.waitFor("l2 out of syslog-udp", func() bool { return len(r.table.dests(5514)) == 1 })
	if w := r.table.takeWrites(); !slices.Equal(w, []string{"delete destination 10.0.0.12:5514 on UDP 10.0.0.100:5514"}) {
		t.Errorf("writes for the failure = %q, want the one delete", w)
	}
	if got := r.table.dests(5515); len(got) != 2 {
		t.Errorf("syslog-tcp lost a destination although tcp-5514 is fine: %v", got)
	}
	if !strings.Contains(r.logs.String(), `not found in pipeline`) {
		t.Errorf("transition not logged with the check's reason:\n%s", r.logs.String())
	}

	r.apis["10.0.0.12"].set("ok")
	r.waitFor("l2 back", func() bool { return len(r.table.dests(5514)) == 2 })
	if w := r.table.takeWrites(); !slices.Equal(w, []string{"add destination 10.0.0.12:5514 on UDP 10.0.0.100:5514"}) {
		t.Errorf("writes for the recovery = %q, want the one add", w)
	}
}

func TestStartNeitherRemovesHealthyNorAddsUnseen(t *testing.T) {
	inv := cluster(t, "", "")
	// A first director fills the table, then stops, leaving it.
	r1 := newRig(t, inv, nil)
	r1.start()
	r1.stop()
	table := r1.table
	table.takeWrites()

	// Restart with l2 failing: l1 stays untouched, l2 counts one failure
	// (fall 2) and goes only at the next one.
	r2 := newRig(t, inv, table)
	r2.d.cfg.StatePath = r1.d.cfg.StatePath
	r2.apis["10.0.0.12"].set("missing")
	r2.stepped()
	r2.start()
	if w := table.takeWrites(); len(w) != 0 {
		t.Errorf("restart wrote %q; a restart must not touch a table that matches", w)
	}
	r2.round()
	r2.waitFor("l2 out after its second failure", func() bool { return len(table.dests(5514)) == 1 })
	for _, w := range table.takeWrites() {
		if strings.Contains(w, "10.0.0.11") {
			t.Errorf("healthy l1 touched: %s", w)
		}
	}
	r2.stop()

	// From an empty table, a failing backend is never added.
	r3 := newRig(t, inv, nil)
	r3.apis["10.0.0.12"].set("missing")
	r3.start()
	if got := r3.table.dests(5514); !slices.Equal(got, []string{"10.0.0.11:5514/1"}) {
		t.Errorf("start from empty with l2 failing: %v, want l1 only", got)
	}
}

func TestAllBackendsFailing(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   int
		log    string
	}{
		{"keep", 1, `all_down = \"keep\"`},
		{"remove", 0, `all_down = \"remove\"`},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			inv := cluster(t, "", `all_down = "`+tc.policy+`"`)
			r := newRig(t, inv, nil)
			r.start()
			r.apis["10.0.0.12"].set("missing")
			r.waitFor("l2 out", func() bool { return len(r.table.dests(5514)) == 1 })
			r.apis["10.0.0.11"].set("missing")
			// Logged as an error, and the table follows the policy.
			r.waitFor("every backend failing, all_down="+tc.policy, func() bool {
				logs := r.logs.String()
				return strings.Contains(logs, tc.log) && strings.Contains(logs, "level=ERROR") && len(r.table.dests(5514)) == tc.want
			})
			// A repair keeps to the same decision.
			if err := r.d.Reload(context.Background(), inv); err != nil {
				t.Fatal(err)
			}
			if got := r.table.dests(5514); len(got) != tc.want {
				t.Errorf("after a reconcile: %v, want %d", got, tc.want)
			}
			r.table.takeWrites()
			r.apis["10.0.0.12"].set("ok")
			r.waitFor("l2 back, l1 out", func() bool {
				got := r.table.dests(5514)
				return slices.Equal(got, []string{"10.0.0.12:5514/1"})
			})
			if tc.policy == "keep" {
				// l2 replaces the kept l1: added before l1 is deleted, so
				// the service is never empty in between.
				var order []string
				for _, w := range r.table.takeWrites() {
					if strings.Contains(w, ":5514") && (strings.Contains(w, "add destination") || strings.Contains(w, "delete destination")) {
						order = append(order, w)
					}
				}
				if len(order) != 2 || !strings.Contains(order[0], "add destination") || !strings.Contains(order[0], "10.0.0.12") ||
					!strings.Contains(order[1], "delete destination") || !strings.Contains(order[1], "10.0.0.11") {
					t.Errorf("writes on port 5514 %q, want the add of 10.0.0.12 before the delete of 10.0.0.11", order)
				}
			}
		})
	}
}

func TestQuiesceSetsWeightZero(t *testing.T) {
	// The TCP service on tcp-5514 quiesces instead of removing.
	inv := parse(t, strings.Replace(clusterSource("", ""), `input_id = "tcp-5514"`, `input_id = "tcp-5514"`+"\non_failure = \"quiesce\"", 1))
	r := newRig(t, inv, nil)
	r.start()
	a := r.apis["10.0.0.12"]
	a.body.Store(bytes.ReplaceAll(a.body.Load().([]byte), []byte(`"tcp-5514"`), []byte(`"tcp-gone"`)))
	r.waitFor("l2 quiesced", func() bool {
		return slices.Equal(r.table.dests(5515), []string{"10.0.0.11:5515/1", "10.0.0.12:5515/0"})
	})
}

func TestReloadRefusesUnusableInventoryAndKeepsRunning(t *testing.T) {
	inv := cluster(t, "", "")
	r := newRig(t, inv, nil)
	r.start()
	bad := cluster(t, "", "")
	bad.Cluster.IPVS = inventory.IPVSKeepalived
	if err := r.d.Reload(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "keepalived") {
		t.Fatalf("reload of an inventory for keepalived: %v, want refused", err)
	}
	// Still checking under the old inventory: a failure still takes effect.
	r.apis["10.0.0.12"].set("missing")
	r.waitFor("l2 out after a refused reload", func() bool { return len(r.table.dests(5514)) == 1 })
}

func TestReloadAddsBackendWithoutTouchingOthers(t *testing.T) {
	inv := cluster(t, "", `backends = ["l1"]`)
	r := newRig(t, inv, nil)
	r.start()
	if got := r.table.dests(5514); !slices.Equal(got, []string{"10.0.0.11:5514/1"}) {
		t.Fatalf("start: %v", got)
	}
	// On a loaded machine l2's start-up check can time out: it is then
	// added to its other services only after its rise checks.
	r.waitFor("l2 in its other services", func() bool { return len(r.table.dests(5515)) == 2 && len(r.table.dests(5044)) == 2 })
	r.table.takeWrites()
	if err := r.d.Reload(context.Background(), cluster(t, "", "")); err != nil {
		t.Fatal(err)
	}
	r.waitFor("l2 added after rise passes", func() bool { return len(r.table.dests(5514)) == 2 })
	if w := r.table.takeWrites(); !slices.Equal(w, []string{"add destination 10.0.0.12:5514 on UDP 10.0.0.100:5514"}) {
		t.Errorf("reload adding l2 wrote %q, want only its add", w)
	}
}

func TestDriftRepaired(t *testing.T) {
	inv := cluster(t, `reconcile_interval = "1s"`, "")
	r := newRig(t, inv, nil)
	r.start()
	// Delete a destination by hand.
	svc := r.d.sp.services[0].Service
	r.table.Batch(context.Background(), []ipvs.Request{{Op: ipvs.OpDeleteDestination, Service: svc,
		Destination: ipvs.Destination{Address: netip.MustParseAddr("10.0.0.11"), Port: 5514}}})
	r.waitFor("destination back, the repair logged", func() bool {
		return len(r.table.dests(5514)) == 2 && strings.Contains(r.logs.String(), "repaired drift")
	})
}

func TestMetricsAfterTransition(t *testing.T) {
	inv := cluster(t, "", "")
	r := newRig(t, inv, nil)
	r.start()
	srv := httptest.NewServer(r.d.Handler())
	defer srv.Close()
	r.apis["10.0.0.12"].set("missing")
	r.waitFor("l2 out", func() bool { return len(r.table.dests(5514)) == 1 })
	body := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`hala_backend_up{address="10.0.0.12",backend="l2",input_id="udp-5514",port="5514",service="syslog-udp"} 0`,
		`hala_backend_up{address="10.0.0.11",backend="l1",input_id="udp-5514",port="5514",service="syslog-udp"} 1`,
		`hala_backend_weight{address="10.0.0.12",backend="l2",port="5514",service="syslog-udp"} -1`,
		`hala_backend_transitions_total{backend="l2",service="syslog-udp",state="down"} 1`,
		`hala_reconcile_total{result="ok"} 1`,
		`hala_backend_check_duration_seconds_count{address="10.0.0.11",backend="l1"}`,
		`hala_build_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if got := get(t, srv.URL+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	// One observation per round (one request), not one per input judged.
	r.stop()
	served := r.apis["10.0.0.11"].requests.Load()
	body = get(t, srv.URL+"/metrics")
	m := regexp.MustCompile(`hala_backend_check_duration_seconds_count\{address="10.0.0.11",backend="l1"\} (\d+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics lacks l1's check duration count:\n%s", body)
	}
	// (Around the stop a request cut short may still count as a failed
	// round, and a round or two may be left unhandled; per input judged
	// it would be twice the requests or more.)
	if n, _ := strconv.ParseInt(m[1], 10, 64); n > served+1 || n < served-2 {
		t.Errorf("l1's check duration count is %d, its API answered %d requests: want one per request", n, served)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestExitLeavesTableUnlessFlushOnExit(t *testing.T) {
	for _, flush := range []bool{false, true} {
		inv := cluster(t, "", "")
		r := newRig(t, inv, nil)
		r.d.cfg.FlushOnExit = flush
		r.start()
		r.stop()
		n := len(r.table.dests(5514)) + len(r.table.dests(5515)) + len(r.table.dests(5044))
		if want := map[bool]int{false: 6, true: 0}[flush]; n != want {
			t.Errorf("FlushOnExit=%v: %d destinations left after exit, want %d", flush, n, want)
		}
	}
}

func TestHealthzReportsAFailedReconcile(t *testing.T) {
	inv := cluster(t, `reconcile_interval = "1s"`, "")
	r := newRig(t, inv, nil)
	r.start()
	srv := httptest.NewServer(r.d.Handler())
	defer srv.Close()
	// A service hala does not own appears where the inventory wants one:
	// the repair refuses to take it over, and /healthz says so.
	os.Remove(r.d.cfg.StatePath)
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz before: %d", resp.StatusCode)
	}
	r.waitFor("/healthz 503", func() bool {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(b), "hala did not create")
	})
}

func TestProbeHealth(t *testing.T) {
	inv := cluster(t, "", "")
	r := newRig(t, inv, nil)
	srv := httptest.NewServer(r.d.Handler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	if err := ProbeHealth(ctx, addr, time.Minute); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Errorf("before the first apply: %v, want unhealthy (starting)", err)
	}
	r.start()
	if err := ProbeHealth(ctx, addr, time.Minute); err != nil {
		t.Errorf("running: %v", err)
	}
	srv.Close()
	if err := ProbeHealth(ctx, addr, time.Minute); err == nil || !strings.Contains(err.Error(), "no hala director answering on "+addr+" (") {
		t.Errorf("no director: %v, want no hala director answering", err)
	}

	// Any 200 is not hala director's health: something else on the port
	// must not keep the VIPs on a director whose hala director is gone.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	defer other.Close()
	oaddr := strings.TrimPrefix(other.URL, "http://")
	if err := ProbeHealth(ctx, oaddr, time.Minute); err == nil || !strings.Contains(err.Error(), "HTTP 200 from something else") {
		t.Errorf("another server's 200: %v, want refused", err)
	}

	// A listener that never answers: the bound is the timeout given.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := "no hala director answering on " + ln.Addr().String() + " (timed out after 20ms)"
	if err := ProbeHealth(ctx, ln.Addr().String(), 20*time.Millisecond); err == nil || err.Error() != want {
		t.Errorf("silent listener: %v, want %q", err, want)
	}
}

// stampSource records when (on the test's clock) each backend is first
// asked and answers a real body; a small fake behind check.Source, to
// watch the schedule.
type stampSource struct {
	mu    *sync.Mutex
	first map[string]time.Time
	host  string
	body  []byte
	clock Clock
}

func (s stampSource) NodeStats(context.Context, string) (*logstash.NodeStats, error) {
	s.mu.Lock()
	if _, ok := s.first[s.host]; !ok {
		s.first[s.host] = s.clock.Now()
	}
	s.mu.Unlock()
	return logstash.ParseNodeStats(bytes.NewReader(s.body), 0)
}

func (s stampSource) HealthReport(context.Context) (*logstash.HealthReport, error) {
	return nil, fmt.Errorf("not asked")
}

// TestFirstChecksAreSpread: after the start-up round, the loops' first
// checks are spread over the interval, so many backends don't fire
// together, and each one is on the slot grid.
func TestFirstChecksAreSpread(t *testing.T) {
	var b strings.Builder
	b.WriteString("[cluster]\nname = \"t\"\ninterface = \"eth0\"\nipvs = \"director\"\n\n[[director]]\nname = \"d1\"\naddress = \"10.0.0.1\"\n\n[[vip]]\nname = \"v\"\naddress = \"10.0.0.100/24\"\nrouter_id = 1\n\n")
	const n = 40
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "[[logstash]]\nname = \"l%d\"\naddress = \"10.0.1.%d\"\n\n", i, i+1)
	}
	b.WriteString("[[service]]\nname = \"s\"\nvip = \"v\"\nport = 5514\nprotocol = \"udp\"\ninput_id = \"udp-5514\"\ninterval = \"1s\"\n")
	inv := parse(t, b.String())
	var mu sync.Mutex
	first := map[string]time.Time{}
	started := false
	body := fixture(t)
	clk := newFakeClock()
	d, err := New(Config{
		Inventory: inv, Target: newFakeTable(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		StatePath: filepath.Join(t.TempDir(), "owned.json"), CheckStateDir: t.TempDir(), Clock: clk,
		NewSource: func(_ *inventory.Inventory, host string, _ int) (check.Source, error) {
			return stampSource{mu: &mu, first: first, host: host, body: body, clock: clk}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var readyAt time.Time
	d.cfg.Ready = func() {
		mu.Lock()
		defer mu.Unlock()
		readyAt, started = clk.Now(), true
		clear(first) // the start-up round asks everyone at once, by design
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	// One interval, a slot at a time: each time every loop has done its
	// round and waits for its next one.
	clk.waitArmed(t, n)
	for range 4 {
		clk.set(clk.Now().Add(200 * time.Millisecond))
		clk.waitArmed(t, n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !started || len(first) != n {
		t.Fatalf("%d backends asked after the start, want %d", len(first), n)
	}
	buckets := map[time.Duration]bool{}
	for host, at := range first {
		off := at.Sub(readyAt)
		buckets[off] = true
		// On the slot grid: the backends of one slot are asked at one
		// instant, so the process wakes at most five times per interval
		// (the grid is what keeps the director's CPU low: make
		// bench-director).
		if off%(200*time.Millisecond) != 0 || off < 0 || off >= time.Second {
			t.Errorf("%s's first check came %v after the start, want a multiple of 200ms below 1s", host, off)
		}
	}
	// 40 random slots fall in 3 of 5 or fewer with odds below 2e-8.
	if len(buckets) < 4 {
		t.Errorf("the first checks of %d backends fell in %d of the interval's five 200ms slots, want them spread", n, len(buckets))
	}
}

// TestSlotGrid: offsets are on a grid of about 200ms, inside the
// interval, and even a short interval has two slots.
func TestSlotGrid(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		slots    int
	}{{50 * time.Millisecond, 2}, {250 * time.Millisecond, 2}, {time.Second, 5}, {3 * time.Second, 15}} {
		seen := map[time.Duration]bool{}
		for range 2000 {
			off := slot(tc.interval)
			if off < 0 || off >= tc.interval || off%(tc.interval/time.Duration(tc.slots)) != 0 {
				t.Fatalf("interval %v: offset %v is off the grid of %d slots", tc.interval, off, tc.slots)
			}
			seen[off] = true
		}
		if len(seen) != tc.slots {
			t.Errorf("interval %v: %d distinct offsets, want %d slots", tc.interval, len(seen), tc.slots)
		}
	}
}

// timesSource records when (on the test's clock) it is asked, and
// answers a real body.
type timesSource struct {
	mu    sync.Mutex
	times []time.Time
	body  []byte
	clock Clock
	asked chan struct{} // one per request
}

func (s *timesSource) NodeStats(context.Context, string) (*logstash.NodeStats, error) {
	s.mu.Lock()
	s.times = append(s.times, s.clock.Now())
	s.mu.Unlock()
	s.asked <- struct{}{}
	return logstash.ParseNodeStats(bytes.NewReader(s.body), 0)
}

func (s *timesSource) HealthReport(context.Context) (*logstash.HealthReport, error) {
	return nil, fmt.Errorf("not asked")
}

func (s *timesSource) asks() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.times)
}

// TestProberCatchesUpOnceAndReturnsToTheGrid: when a round's result is
// taken late (the main loop busy) past the next round's time, the next
// round follows at once, not an interval later, and the rounds after it
// are back on the grid: first + k × interval.
func TestProberCatchesUpOnceAndReturnsToTheGrid(t *testing.T) {
	sp, err := newSpec(parse(t, clusterSource("", "")), "")
	if err != nil {
		t.Fatal(err)
	}
	b := *sp.backends["l1"]
	b.Interval, b.Timeout = 200*time.Millisecond, 100*time.Millisecond
	clk := newFakeClock()
	src := &timesSource{body: fixture(t), clock: clk, asked: make(chan struct{}, 10)}
	p := &prober{b: &b, src: src, stateDir: t.TempDir(), drainDir: t.TempDir(), clock: clk}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan result)
	first := clk.Now().Add(50 * time.Millisecond)
	go p.run(ctx, first, out)
	clk.waitArmed(t, 1)
	clk.set(first)
	<-src.asked
	<-out // round 1, at first
	clk.waitArmed(t, 1)
	clk.set(first.Add(b.Interval))
	<-src.asked                                // round 2 asked; its result waits to be taken
	taken := first.Add(650 * time.Millisecond) // past round 3's time (+400ms)
	clk.set(taken)
	<-out // round 2's result, taken late
	<-out // round 3, the catch-up
	clk.waitArmed(t, 1)
	clk.set(clk.next(t))
	<-out // round 4: back on the grid
	asked := src.asks()
	if len(asked) != 4 {
		t.Fatalf("%d rounds asked, want 4", len(asked))
	}
	if want := []time.Time{first, first.Add(b.Interval)}; !asked[0].Equal(want[0]) || !asked[1].Equal(want[1]) {
		t.Errorf("rounds 1 and 2 at %v, want %v", asked[:2], want)
	}
	if !asked[2].Equal(taken) {
		t.Errorf("the round due while a result waited started %v after that result was taken, want at once", asked[2].Sub(taken))
	}
	if off := asked[3].Sub(first) % b.Interval; off != 0 {
		t.Errorf("the round after the catch-up is %v off the grid of %v from the first round", off, b.Interval)
	}
	if gap := asked[3].Sub(asked[2]); gap < b.Interval/2 {
		t.Errorf("the round after the catch-up came %v after it, want at least half an interval (no burst)", gap)
	}
}
