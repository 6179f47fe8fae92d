package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The bytes read across a file and its includes are bounded by
// MaxTotalSize, not only each file by MaxFileSize: including one large
// file many times is refused before it fills memory.
func TestLoadBoundsTotalSize(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("# "+strings.Repeat("x", 1021)+"\n", MaxFileSize/1024-1) // under MaxFileSize
	if err := os.WriteFile(filepath.Join(dir, "big.conf"), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(main, []byte(strings.Repeat("include big.conf\n", 2)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(main)
	want := main + `:2: include "big.conf": ` + filepath.Join(dir, "big.conf") + " (4193280 bytes) is larger than"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "may hold at most 4194304 bytes together") {
		t.Fatalf("error %v, want %q and the total limit", err, want)
	}
	// Once is fine.
	if err := os.WriteFile(main, []byte("include big.conf\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(main); err != nil {
		t.Errorf("one include of a file under the limit: %v", err)
	}
}

// A kernel file whose size says nothing of its content is refused, and a
// read of one never waits: /proc/kmsg (as root) would block for ever.
func TestLoadRefusesKernelFiles(t *testing.T) {
	for _, path := range []string{"/proc/self/status", "/proc/kmsg"} {
		if _, err := os.Stat(path); err != nil {
			t.Logf("%s: %v", path, err)
			continue
		}
		done := make(chan error, 1)
		go func() {
			_, err := Load(path)
			done <- err
		}()
		// A correct read returns at once; a hang would be reported by go
		// test's -timeout.
		if err := <-done; err == nil {
			t.Errorf("Load(%s) accepted it", path)
		} else if os.Geteuid() == 0 || path != "/proc/kmsg" {
			if !strings.Contains(err.Error(), "kernel's proc file system") {
				t.Errorf("Load(%s): %v", path, err)
			}
		}
	}
	// The same for an include.
	main := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(main, []byte("include /proc/self/status\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), main+`:1: include "/proc/self/status": /proc/self/status is a file of the kernel's proc file system`) {
		t.Errorf("include of /proc/self/status: %v", err)
	}
}
