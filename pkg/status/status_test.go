package status

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
	"github.com/hala-lb/hala/pkg/logstash"
)

// invTwo is inventorytest.Base with one director; inv has one Logstash
// host, l1, too.
var (
	invTwo = inventorytest.Edit(inventorytest.Base,
		"[[director]]\nname = \"d2\"\naddress = \"10.0.0.2\"\n\n", "",
		"one_packet = true\n", "")
	inv = inventorytest.Edit(invTwo, "[[logstash]]\nname = \"l2\"\naddress = \"10.0.0.12\"\n\n", "")
)

type source struct{ out int64 }

func (s *source) NodeStats(context.Context, string) (*logstash.NodeStats, error) {
	s.out += 10
	return logstash.ParseNodeStats(strings.NewReader(fmt.Sprintf(
		`{"version":"8.15.0","pipelines":{"main":{"plugins":{"inputs":[{"id":"udp-5514","events":{"out":%d}}]}}}}`, s.out)), 0)
}

func (s *source) HealthReport(context.Context) (*logstash.HealthReport, error) {
	return nil, logstash.ErrNoHealthReport
}

// Without root the IPVS and VIP cells say so, the rest still works, and
// a drained backend shows as drained.
func TestCollectWithoutRoot(t *testing.T) {
	i, err := inventory.Parse("inv.toml", []byte(inv))
	if err != nil {
		t.Fatal(err)
	}
	st := Collect(context.Background(), Config{
		// Both samples fit however slow the machine: the timeout only
		// guards against a hang.
		Inventory: i, Timeout: 10 * time.Second, Gap: time.Millisecond, Node: "d1",
		Client:  func(inventory.Logstash) (Source, error) { return &source{}, nil },
		IPVSErr: fmt.Errorf("open IPVS: %w", syscall.EPERM),
		VIPErr:  fmt.Errorf("netlink: %w", syscall.EPERM),
		Drained: func(netip.Addr) (bool, string, error) { return true, "drained for maintenance", nil },
	})
	r := st.Rows[0]
	if r.API != APIUp || r.InputState != InputPresent || r.EventsPerSec == nil || *r.EventsPerSec <= 0 ||
		!r.Drained || r.IPVS.String() != "(no root)" {
		t.Errorf("row %+v", r)
	}
	var b bytes.Buffer
	st.WriteText(&b, false)
	for _, want := range []string{"(no root)", "IPVS table not read: open IPVS: operation not permitted",
		"logs  10.0.0.100/24 dev eth0  (no root)", "VIPs not read: netlink: operation not permitted", "syslog-udp on l1: drained for maintenance\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	st.WriteText(&b, true)
	if !strings.Contains(b.String(), green+"up"+reset) {
		t.Errorf("no colour when asked:\n%q", b.String())
	}
}

// meetSource is a backend that answers only once the other one has been
// asked too: asked one after the other, the first would wait out the
// timeout.
type meetSource struct {
	source
	mine, other chan struct{}
	once        *sync.Once
}

func (s *meetSource) NodeStats(ctx context.Context, p string) (*logstash.NodeStats, error) {
	s.once.Do(func() { close(s.mine) })
	select {
	case <-s.other:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.source.NodeStats(ctx, p)
}

// A black hole costs one timeout for the whole status, not one per
// backend: every backend is asked at the same time.
func TestCollectAsksBackendsTogether(t *testing.T) {
	i, err := inventory.Parse("inv.toml", []byte(invTwo))
	if err != nil {
		t.Fatal(err)
	}
	a, b := make(chan struct{}), make(chan struct{})
	srcs := map[string]*meetSource{
		"l1": {mine: a, other: b, once: &sync.Once{}},
		"l2": {mine: b, other: a, once: &sync.Once{}},
	}
	// The timeout is a hang guard: asked in turn, the first backend
	// would wait for it and fail.
	st := Collect(context.Background(), Config{
		Inventory: i, Timeout: 10 * time.Second, Gap: time.Millisecond, Node: "d1",
		Client:  func(l inventory.Logstash) (Source, error) { return srcs[l.Name], nil },
		IPVSErr: fmt.Errorf("open IPVS: %w", syscall.EPERM),
		VIPErr:  fmt.Errorf("netlink: %w", syscall.EPERM),
	})
	if len(st.Rows) != 2 {
		t.Fatalf("%d rows, want 2", len(st.Rows))
	}
	for _, r := range st.Rows {
		if r.API != APIUp {
			t.Errorf("%s: API %v (%s): the backends were not asked together", r.Backend, r.API, r.Problem)
		}
	}
}

func row(service, backend string, api, input string, drained bool) Row {
	return Row{Service: service, Backend: backend, API: api, InputState: input, Drained: drained}
}

// The verdict is the worst service's: one serving backend keeps it
// degraded, none makes it "no healthy backend"; drained backends do not
// serve.
func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []Row
		want Verdict
	}{
		{"all serving", []Row{row("a", "l1", APIUp, InputPresent, false), row("a", "l2", APIUp, InputRunning, false)}, Healthy},
		{"one down", []Row{row("a", "l1", APIUp, InputPresent, false), row("a", "l2", APIDown, "", false)}, Degraded},
		{"one drained", []Row{row("a", "l1", APIUp, InputPresent, false), row("a", "l2", APIUp, InputPresent, true)}, Degraded},
		{"input stopped in one service only", []Row{row("a", "l1", APIUp, InputPresent, false), row("b", "l1", APIUp, InputStopped, false), row("b", "l2", APIUp, InputPresent, false)}, Degraded},
		{"a service with none", []Row{row("a", "l1", APIUp, InputPresent, false), row("b", "l1", APIUp, InputMissing, false), row("b", "l2", APIUp, InputPresent, true)}, NoHealthyBackend},
		{"every backend drained", []Row{row("a", "l1", APIUp, InputPresent, true)}, NoHealthyBackend},
	} {
		st := &Status{Rows: tc.rows}
		if got := st.Verdict(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The text names what matters without doubling words: an unreadable
// record is "unreadable" with why, a drained row its reason once, a
// service without a serving backend a line of its own; events/s has one
// format; long names that share a prefix stay apart.
func TestWriteText(t *testing.T) {
	fast, slow := 1234.0, 2.25
	st := &Status{Rows: []Row{
		{Service: "syslog-udp-frontend-alpha-long-name-one", Backend: "l1", API: APIUp, InputState: InputPresent, EventsPerSec: &fast,
			DrainError: "drain record unreadable: read drain record: open /var/lib/hala/drain/10.0.0.11.drain: permission denied"},
		{Service: "syslog-udp-frontend-alpha-long-name-two", Backend: "l1", API: APIUp, InputState: InputPresent, EventsPerSec: &slow,
			Drained: true, DrainReason: "drained since 2025-01-02T15:04:05Z (hala drain)"},
	}}
	for i := range st.Rows {
		st.Rows[i].IPVS = IPVSCell{State: IPVSUnknown, Why: "no root"}
	}
	var b bytes.Buffer
	if err := st.WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	for _, want := range []string{
		"syslog-udp-frontend-alpha-long-name-one on l1: drain record unreadable: read drain record: open /var/lib/hala/drain/10.0.0.11.drain: permission denied (so not drained: hala check and hala director skip it too)\n",
		"syslog-udp-frontend-alpha-long-name-two on l1: drained since 2025-01-02T15:04:05Z (hala drain)\n",
		"syslog-udp-frontend-alpha-long-name-two: no healthy backend (1 listed)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "drained: drained") {
		t.Errorf("doubled words:\n%s", out)
	}
	f1, f2 := strings.Fields(lines[1]), strings.Fields(lines[2])
	if f1[0] == f2[0] || !strings.Contains(f1[0], "…") {
		t.Errorf("two long names sharing a prefix shortened to %q and %q, want them apart", f1[0], f2[0])
	}
	if !slices.Contains(f1, "1234.0") || !slices.Contains(f2, "2.2") || !slices.Contains(f1, "unreadable") || !slices.Contains(f2, "yes") {
		t.Errorf("rows %q, %q: want events/s 1234.0 and 2.2, DRAINED unreadable and yes", f1, f2)
	}
}
