package testutil

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// ScriptSafeBinary returns a copy of the executable at path inside a fresh
// root-owned 0755 directory under /run, removed at cleanup. keepalived's
// script security silently drops a check whose path has a component that a
// non-root user can write to, which a checkout under /tmp (mode 1777) has.
func ScriptSafeBinary(tb testing.TB, path string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("/run", "hala-test-")
	if err != nil {
		tb.Fatalf("script-safe copy of %s: %v", path, err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	src, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(dir, filepath.Base(path))
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return dst
}
