package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// tempFiles lists what Stage leaves in dir besides the targets.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, ".hala-*.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWriteReplaces(t *testing.T) {
	for _, d := range []Durability{Atomic, SyncFile, Durable} {
		dir := t.TempDir()
		p := filepath.Join(dir, "state.json")
		if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Write(p, []byte("new"), 0o644, d); err != nil {
			t.Fatalf("durability %d: %v", d, err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != "new" {
			t.Errorf("durability %d: read %q, %v; want \"new\"", d, got, err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
			t.Errorf("durability %d: mode %v, want 0644 (the mode asked, not the old file's or the umask's)", d, fi.Mode().Perm())
		}
		if left := tempFiles(t, dir); len(left) != 0 {
			t.Errorf("durability %d: temporary files left: %v", d, left)
		}
	}
}

// A staged file leaves the target alone until Commit; Cleanup removes it.
func TestStageCommitCleanup(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(p, []byte("old"), 0o644)
	pending, err := Stage(p, []byte("new"), 0o644, SyncFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("before Commit the target holds %q, want the old bytes", got)
	}
	pending.Cleanup()
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("Cleanup left %v", left)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("after Cleanup the target holds %q, want the old bytes", got)
	}
	if _, err := Stage(filepath.Join(dir, "missing", "x"), nil, 0o644, Atomic); err == nil {
		t.Error("Stage into a missing directory succeeded")
	}
}
