package render_test

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/render"
)

func sampleFiles() []render.File {
	return []render.File{
		{Path: "a/keepalived.conf", Data: []byte("global_defs {\n}\n"), Mode: 0o600},
		{Path: "a/setup.sh", Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		{Path: "b/logstash/conf.d/hala-inputs.conf", Data: []byte("input {}\n"), Mode: 0o644},
	}
}

// listTree returns every entry under dir, relative, sorted.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestWriteCreatesFilesWithModes(t *testing.T) {
	dir := t.TempDir()
	files := sampleFiles()
	written, err := render.Write(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != len(files) {
		t.Fatalf("written %v, want all %d files", written, len(files))
	}
	for i, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if written[i] != p {
			t.Errorf("written[%d] = %q, want %q", i, written[i], p)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v, want %v", f.Path, fi.Mode().Perm(), f.Mode)
		}
		if data, _ := os.ReadFile(p); string(data) != string(f.Data) {
			t.Errorf("%s: content %q", f.Path, data)
		}
	}
	for _, e := range listTree(t, dir) {
		if strings.Contains(e, ".hala-") {
			t.Errorf("temporary file left: %s", e)
		}
	}
}

// TestWriteLeavesUnchangedFilesAlone checks that a second Write with the
// same content writes nothing: same inode, same mtime (config management
// and inotify watchers see no change), and Changed reports nothing.
func TestWriteLeavesUnchangedFilesAlone(t *testing.T) {
	dir := t.TempDir()
	files := sampleFiles()
	if _, err := render.Write(dir, files); err != nil {
		t.Fatal(err)
	}
	type stamp struct {
		ino   uint64
		mtime time.Time
	}
	stamps := map[string]stamp{}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		stamps[f.Path] = stamp{fi.Sys().(*syscall.Stat_t).Ino, fi.ModTime()}
	}

	changed, err := render.Changed(dir, files)
	if err != nil || len(changed) != 0 {
		t.Fatalf("Changed = %v, %v; want nothing", changed, err)
	}
	files[1].Data = []byte("#!/bin/sh\necho changed\n")
	changed, err = render.Changed(dir, files)
	if want := []string{filepath.Join(dir, "a/setup.sh")}; err != nil || !reflect.DeepEqual(changed, want) {
		t.Fatalf("Changed = %v, %v; want %v", changed, err, want)
	}
	written, err := render.Write(dir, files)
	if want := []string{filepath.Join(dir, "a/setup.sh")}; err != nil || !reflect.DeepEqual(written, want) {
		t.Fatalf("Write = %v, %v; want %v", written, err, want)
	}
	for _, f := range files {
		fi, _ := os.Stat(filepath.Join(dir, f.Path))
		now := stamp{fi.Sys().(*syscall.Stat_t).Ino, fi.ModTime()}
		if f.Path == "a/setup.sh" {
			if now == stamps[f.Path] {
				t.Errorf("%s: changed content but same inode and mtime", f.Path)
			}
			continue
		}
		if now != stamps[f.Path] {
			t.Errorf("%s: unchanged content but rewritten (inode/mtime %v → %v)", f.Path, stamps[f.Path], now)
		}
	}

	// A mode change alone is a change too.
	if err := os.Chmod(filepath.Join(dir, "a/keepalived.conf"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, _ := render.Changed(dir, files); len(changed) != 1 || !strings.HasSuffix(changed[0], "a/keepalived.conf") {
		t.Errorf("after chmod: Changed = %v, want a/keepalived.conf", changed)
	}
}

// TestWriteFailureLeavesNothingPartial makes the last of three files
// impossible to write: none of them may change and no temporary file may
// remain, because every file is staged before any is renamed into place.
func TestWriteFailureLeavesNothingPartial(t *testing.T) {
	dir := t.TempDir()
	old := []render.File{{Path: "a/keepalived.conf", Data: []byte("old\n"), Mode: 0o600}}
	if _, err := render.Write(dir, old); err != nil {
		t.Fatal(err)
	}
	// "b" is a regular file, so b/logstash/... cannot be created.
	if err := os.WriteFile(filepath.Join(dir, "b"), []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, dir)

	written, err := render.Write(dir, sampleFiles())
	if err == nil {
		t.Fatal("Write succeeded although b is a file")
	}
	if len(written) != 0 {
		t.Errorf("written %v although the write failed", written)
	}
	if after := listTree(t, dir); !reflect.DeepEqual(after, before) {
		t.Errorf("tree changed by a failed write:\nbefore %v\nafter  %v", before, after)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a/keepalived.conf")); string(data) != "old\n" {
		t.Errorf("a/keepalived.conf = %q, want the old content", data)
	}
}

// TestWriteRenameFailureRemovesTemporaryFiles: when the target is a
// directory the final rename fails; the staged temporary files go.
func TestWriteRenameFailureRemovesTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "setup.sh", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := render.Write(dir, sampleFiles()); err == nil {
		t.Fatal("Write succeeded although a/setup.sh is a non-empty directory")
	}
	for _, e := range listTree(t, dir) {
		if strings.Contains(e, ".hala-") {
			t.Errorf("temporary file left: %s", e)
		}
	}
}

func TestWriteRefusesPathsOutsideDir(t *testing.T) {
	for _, p := range []string{"../x", "/etc/passwd", "a/../../x", "", "a//b", `a\b`} {
		dir := t.TempDir()
		if _, err := render.Write(dir, []render.File{{Path: p, Data: []byte("x"), Mode: 0o644}}); err == nil {
			t.Errorf("Write(%q) succeeded", p)
		}
		if _, err := render.Changed(dir, []render.File{{Path: p, Data: []byte("x"), Mode: 0o644}}); err == nil {
			t.Errorf("Changed(%q) succeeded", p)
		}
		if entries := listTree(t, dir); len(entries) != 0 {
			t.Errorf("Write(%q) created %v", p, entries)
		}
	}
}
