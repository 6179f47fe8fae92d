package director

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/drain"
)

// A drain acts at the backend's next round, well before fall: UDP
// destinations removed, TCP ones at weight 0, one write each; undrain
// puts them back.
func TestDrainActsWithinOneInterval(t *testing.T) {
	// fall = 5: a drain that waited for failures would take 5 rounds.
	inv := cluster(t, "", "fall = 5")
	r := newRig(t, inv, nil)
	r.stepped()
	r.start()
	r.table.takeWrites()
	l2 := r.apis["10.0.0.12"]

	r.clock.waitArmed(t, 2)
	before := l2.requests.Load()
	if err := drain.Drain(r.drains, drain.Record{Address: netip.MustParseAddr("10.0.0.12"), Name: "l2", Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r.round()
	r.waitFor("l2 drained", func() bool {
		return slices.Equal(r.table.dests(5514), []string{"10.0.0.11:5514/1"}) &&
			slices.Equal(r.table.dests(5515), []string{"10.0.0.11:5515/1", "10.0.0.12:5515/0"}) &&
			slices.Equal(r.table.dests(5044), []string{"10.0.0.11:5044/1", "10.0.0.12:5044/0"})
	})
	// The clock moved one round: the drain acted on it.
	if n := l2.requests.Load() - before; n != 1 {
		t.Errorf("drain took %d rounds of l2's checks, want it at the next one", n)
	}
	w := r.table.takeWrites()
	slices.Sort(w)
	want := []string{
		"delete destination 10.0.0.12:5514 on UDP 10.0.0.100:5514",
		"update destination 10.0.0.12:5044 on TCP 10.0.0.100:5044",
		"update destination 10.0.0.12:5515 on TCP 10.0.0.100:5515",
	}
	if !slices.Equal(w, want) {
		t.Errorf("writes for the drain = %q, want %q", w, want)
	}
	if !strings.Contains(r.logs.String(), "backend drained") {
		t.Errorf("drain not logged:\n%s", r.logs.String())
	}
	// A repair keeps the drain.
	if err := r.d.Reload(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	if got := r.table.dests(5514); !slices.Equal(got, []string{"10.0.0.11:5514/1"}) {
		t.Errorf("after a reconcile: %v", got)
	}

	if _, err := drain.Undrain(r.drains, netip.MustParseAddr("10.0.0.12")); err != nil {
		t.Fatal(err)
	}
	r.roundsUntil("l2 undrained", func() bool {
		return len(r.table.dests(5514)) == 2 && slices.Equal(r.table.dests(5515), []string{"10.0.0.11:5515/1", "10.0.0.12:5515/1"})
	})
}

// An unreadable record drains nothing and is warned about once.
func TestUnreadableDrainRecordIsIgnored(t *testing.T) {
	inv := cluster(t, "", "")
	r := newRig(t, inv, nil)
	if err := os.WriteFile(filepath.Join(r.drains, "10.0.0.12.drain"), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.stepped()
	r.start()
	for range 4 { // four rounds of both backends
		r.round()
	}
	if got := r.table.dests(5514); len(got) != 2 {
		t.Errorf("unreadable record drained l2: %v", got)
	}
	if n := strings.Count(r.logs.String(), "drain record ignored"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, r.logs.String())
	}
}

var pipelineUtilization = regexp.MustCompile(`(?m)^        "worker_utilization": \{\n          "current": [0-9.]+`)

// setUtilization sets every pipeline's worker_utilization (current) in
// the API's body.
func (a *api) setUtilization(t *testing.T, percent float64) {
	t.Helper()
	b := fixture(t)
	if len(pipelineUtilization.FindAll(b, -1)) != 2 {
		t.Fatal("fixture: pipeline worker_utilization not found twice")
	}
	v := strconv.FormatFloat(percent, 'f', 1, 64)
	a.body.Store(pipelineUtilization.ReplaceAllFunc(b, func(m []byte) []byte {
		return append(m[:bytes.LastIndexByte(m, ' ')+1:bytes.LastIndexByte(m, ' ')+1], v...)
	}))
}

// weights = "load": each destination's weight follows its backend's
// worker_utilization, damped, through single update requests.
func TestLoadWeights(t *testing.T) {
	inv := cluster(t, "", "weights = \"load\"\nscheduler = \"wrr\"")
	r := newRig(t, inv, nil)
	r.apis["10.0.0.11"].setUtilization(t, 0)
	r.apis["10.0.0.12"].setUtilization(t, 100)
	r.stepped()
	r.start()
	if got := r.table.dests(5514); !slices.Equal(got, []string{"10.0.0.11:5514/253", "10.0.0.12:5514/10"}) {
		t.Errorf("after start: %v, want idle l1 at 253, saturated l2 at the floor 10", got)
	}
	if got := r.table.dests(5515); !slices.Equal(got, []string{"10.0.0.11:5515/1", "10.0.0.12:5515/1"}) {
		t.Errorf("static service: %v, want weight 1", got)
	}
	r.table.takeWrites()

	// l2 goes idle: halfway steps 10 → 132 → 193 → 223 → 238, then held.
	r.apis["10.0.0.12"].setUtilization(t, 0)
	seen := []string{}
	r.roundsUntil("l2 at 238", func() bool {
		got := r.table.dests(5514)
		if len(seen) == 0 || seen[len(seen)-1] != got[1] {
			seen = append(seen, got[1])
		}
		return got[1] == "10.0.0.12:5514/238"
	})
	for range 3 { // three more rounds: held
		r.round()
	}
	if got := r.table.dests(5514); got[1] != "10.0.0.12:5514/238" {
		t.Errorf("weight moved on after settling: %v (253 is within 10%% of 238)", got)
	}
	w := r.table.takeWrites()
	if len(w) != 4 {
		t.Errorf("writes = %q, want the 4 updates 132, 193, 223, 238", w)
	}
	for _, x := range w {
		if x != "update destination 10.0.0.12:5514 on UDP 10.0.0.100:5514" {
			t.Errorf("unexpected write %q", x)
		}
	}
	t.Logf("weights seen: %v", seen)
}
