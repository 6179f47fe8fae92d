package drain

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Owner, group and other bits decide, for every directory down to the
// record and for the record itself.
func TestCheckReadable(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "drain")
	addr := netip.MustParseAddr("10.0.0.11")
	if err := Drain(dir, Record{Address: addr, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(top)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	owner := Reader{Name: "owner", UID: int(st.Uid)}
	group := Reader{Name: "member", UID: 1 << 20, GIDs: []int{int(st.Gid)}}
	other := Reader{Name: "other", UID: 1<<20 + 1}
	// The test's own temporary directories are 0700.
	for _, d := range []string{filepath.Dir(top), top} {
		if err := os.Chmod(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckReadable(dir, addr, owner); err != nil {
		t.Errorf("owner: %v", err)
	}
	err = CheckReadable(dir, addr, other)
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "user other cannot enter "+filepath.Dir(top)+" (mode 0700") {
		t.Errorf("other, 0700 parent: %v", err)
	}
	for _, d := range []string{filepath.Dir(top), top} {
		if err := os.Chmod(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckReadable(dir, addr, group); err != nil {
		t.Errorf("group member, 0750: %v", err)
	}
	if err := CheckReadable(dir, addr, other); err == nil {
		t.Error("other, 0750: readable")
	}
	for _, d := range []string{filepath.Dir(top), top} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckReadable(dir, addr, other); err != nil {
		t.Errorf("other, search-only 0711 parents: %v", err)
	}
	if err := os.Chmod(path(dir, addr), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := CheckReadable(dir, addr, other); err == nil || !strings.Contains(err.Error(), "cannot read "+path(dir, addr)+" (mode 0640") {
		t.Errorf("other, record 0640: %v", err)
	}
	if err := CheckReadable(dir, addr, Reader{Name: "root", UID: 0}); err != nil {
		t.Errorf("root: %v", err)
	}
	if r := LookupReader("no-such-user-here"); r.UID != -1 || !strings.Contains(r.Name, "no such user") {
		t.Errorf("unknown user: %+v, want any user (UID -1)", r)
	}
}

// Directories Drain creates are 0755 and the record 0644 whatever the
// umask: hala check reads them as another user.
func TestDrainModesUnderUmask077(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	top := t.TempDir()
	dir := filepath.Join(top, "lib", "hala", "drain")
	addr := netip.MustParseAddr("10.0.0.11")
	if err := Drain(dir, Record{Address: addr, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{filepath.Join(top, "lib"): 0o755, filepath.Join(top, "lib", "hala"): 0o755, dir: 0o755, path(dir, addr): 0o644} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
}
