package drain

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	a1    = netip.MustParseAddr("192.0.2.21")
	a2    = netip.MustParseAddr("2001:db8::22")
	since = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
)

func TestDrainLookupUndrain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drain") // created on demand
	if r, err := Lookup(dir, a1); r != nil || err != nil {
		t.Fatalf("lookup before any drain: %v, %v; want nil, nil", r, err)
	}
	if err := Drain(dir, Record{Address: a1, Name: "stash1", Since: since}); err != nil {
		t.Fatal(err)
	}
	if err := Drain(dir, Record{Address: netip.MustParseAddr("::ffff:192.0.2.99"), Since: since}); err != nil {
		t.Fatal(err)
	}
	r, err := Lookup(dir, a1)
	if err != nil || r == nil {
		t.Fatalf("lookup: %v, %v", r, err)
	}
	if r.Name != "stash1" || !r.Since.Equal(since) || r.Reason() != "drained since 2025-03-04T05:06:07Z (hala drain)" {
		t.Errorf("record = %+v, reason %q", r, r.Reason())
	}
	// A v4-mapped address is the same backend as the plain one.
	if r, _ := Lookup(dir, netip.MustParseAddr("192.0.2.99")); r == nil {
		t.Error("record written for ::ffff:192.0.2.99 not found as 192.0.2.99")
	}
	if r, _ := Lookup(dir, a2); r != nil {
		t.Errorf("undrained address reads as drained: %v", r)
	}
	fi, err := os.Stat(path(dir, a1))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("record mode %v, want 0644 (keepalived's script user reads it)", fi.Mode().Perm())
	}
	ok, err := Undrain(dir, a1)
	if !ok || err != nil {
		t.Fatalf("undrain: %v, %v", ok, err)
	}
	if r, err := Lookup(dir, a1); r != nil || err != nil {
		t.Errorf("after undrain: %v, %v", r, err)
	}
	if ok, err := Undrain(dir, a1); ok || err != nil {
		t.Errorf("second undrain: %v, %v; want false, nil", ok, err)
	}
}

// Readers polling a record while it is rewritten never see part of one,
// and no temporary file is left behind.
func TestDrainIsAtomic(t *testing.T) {
	dir := t.TempDir()
	if err := Drain(dir, Record{Address: a2, Since: since}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				if r, err := Lookup(dir, a2); err != nil || r == nil {
					bad.Add(1)
				}
			}
		})
	}
	for i := range 300 {
		name := strings.Repeat("x", i%50)
		if err := Drain(dir, Record{Address: a2, Name: name, Since: since.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d reads saw no record or a broken one while it was rewritten", n)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files left in the drain dir: %v, want only the record", names)
	}
}

func TestUnreadableRecords(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("192.0.2.1.drain", "{not json")
	write("192.0.2.2.drain", `{"address":"192.0.2.3","since":"2025-03-04T05:06:07Z"}`)
	write("192.0.2.4.drain", strings.Repeat(" ", maxRecord+1))
	write("README", "ignored")
	for _, tc := range []struct {
		addr string
		want string
	}{
		{"192.0.2.1", "invalid character"},
		{"192.0.2.2", "it names 192.0.2.3"},
		{"192.0.2.4", "larger than"},
	} {
		r, err := Lookup(dir, netip.MustParseAddr(tc.addr))
		if r != nil || err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("lookup %s: %v, %v; want an error naming the file and %q", tc.addr, r, err, tc.want)
		}
	}
	if os.Geteuid() != 0 { // root reads any file
		write("192.0.2.5.drain", `{"address":"192.0.2.5","since":"2025-03-04T05:06:07Z"}`)
		if err := os.Chmod(filepath.Join(dir, "192.0.2.5.drain"), 0); err != nil {
			t.Fatal(err)
		}
		if r, err := Lookup(dir, netip.MustParseAddr("192.0.2.5")); r != nil || err == nil {
			t.Errorf("unreadable record: %v, %v; want an error", r, err)
		}
	}
	if err := Drain(dir, Record{Address: a1, Since: since}); err != nil {
		t.Fatal(err)
	}
	recs, err := List(dir)
	if len(recs) != 1 || recs[0].Address != a1 {
		t.Errorf("list = %v, want the one good record", recs)
	}
	if err == nil || !strings.Contains(err.Error(), "192.0.2.1.drain") {
		t.Errorf("list error = %v, want one naming each bad record", err)
	}
}

func TestListMissingDir(t *testing.T) {
	recs, err := List(filepath.Join(t.TempDir(), "none"))
	if recs != nil || err != nil {
		t.Errorf("list of a missing dir = %v, %v; want nothing", recs, err)
	}
}

func TestDirFromEnvironment(t *testing.T) {
	t.Setenv(EnvDir, "")
	if Dir() != DefaultDir {
		t.Errorf("Dir() = %q, want %q", Dir(), DefaultDir)
	}
	t.Setenv(EnvDir, "/tmp/x")
	if Dir() != "/tmp/x" {
		t.Errorf("Dir() = %q with $%s set", Dir(), EnvDir)
	}
}
