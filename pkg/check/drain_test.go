package check

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/drain"
)

func TestDrainedBackend(t *testing.T) {
	n := newNode(t, fixture(t, "node_stats-8.15-kuskoman.json"))
	addr := n.srv.Listener.Addr().String()
	gen := "95bb3e4f2a40f87147b6ab5035e08ba31858eace7604a57d2e719db790097222"
	dir := t.TempDir()
	since := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

	if v := run(t, addr, Options{Input: gen, DrainDir: dir}); !v.Healthy || v.Drained != nil {
		t.Fatalf("no record: %v", v)
	}
	if err := drain.Drain(dir, drain.Record{Address: netip.MustParseAddr("127.0.0.1"), Since: since}); err != nil {
		t.Fatal(err)
	}
	before := n.count("/_node/stats/pipelines")
	v := run(t, addr, Options{Input: gen, DrainDir: dir})
	if v.Healthy || v.ExitCode() != 1 || !strings.HasSuffix(v.String(), `input "`+gen+`": drained since 2025-03-04T05:06:07Z (hala drain)`) {
		t.Errorf("drained: %v exit %d", v, v.ExitCode())
	}
	if n.count("/_node/stats/pipelines") != before {
		t.Error("a drained backend's API was asked anyway")
	}
	// misc_dynamic: up at weight 0, so TCP sessions finish.
	v = run(t, addr, Options{Input: gen, DrainDir: dir, DynamicWeight: true})
	if !v.Healthy || v.Weight != 0 || v.ExitCode() != 2 || !strings.Contains(v.Reason, "weight 0 (drained since") {
		t.Errorf("drained, dynamic: %v weight %d exit %d, want exit 2", v, v.Weight, v.ExitCode())
	}
	// A drained node that is also down is down.
	if v := run(t, addr, Options{Input: "absent", DrainDir: dir, DynamicWeight: true}); v.ExitCode() != 1 {
		t.Errorf("drained and missing input, dynamic: exit %d, want 1", v.ExitCode())
	}
	// Without DrainDir (the director judges drains itself) nothing changes.
	if v := run(t, addr, Options{Input: gen}); !v.Healthy {
		t.Errorf("no drain dir: %v", v)
	}
}

// An unreadable record never fails a check: not drained, with a warning.
func TestUnreadableDrainRecord(t *testing.T) {
	n := newNode(t, fixture(t, "node_stats-8.15-kuskoman.json"))
	addr := n.srv.Listener.Addr().String()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "127.0.0.1.drain"), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	gen := "95bb3e4f2a40f87147b6ab5035e08ba31858eace7604a57d2e719db790097222"
	for _, dyn := range []bool{false, true} {
		v := run(t, addr, Options{Input: gen, DrainDir: dir, DynamicWeight: dyn})
		if !v.Healthy || v.Weight == 0 || len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "drain record ignored") {
			t.Errorf("dynamic %v: %v weight %d warnings %q; want healthy, not drained, one warning", dyn, v, v.Weight, v.Warnings)
		}
	}
}
