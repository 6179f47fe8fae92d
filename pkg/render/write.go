package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Changed returns the paths (dir joined with File.Path) of the files Write
// would write: missing ones, and those whose bytes or mode differ. It writes
// nothing.
func Changed(dir string, files []File) ([]string, error) {
	var out []string
	for _, f := range files {
		target, err := targetPath(dir, f)
		if err != nil {
			return nil, err
		}
		same, err := unchanged(target, f)
		if err != nil {
			return nil, err
		}
		if !same {
			out = append(out, target)
		}
	}
	return out, nil
}

// Write writes the files that Changed reports under dir and returns their
// paths. Each is first written in full to a temporary file next to its
// target; only when every temporary file is complete are they renamed over
// their targets, so a failure leaves no partial file and no temporary file
// behind. Unchanged files are not touched (their inode and mtime stay).
func Write(dir string, files []File) (written []string, err error) {
	type staged struct{ tmp, target string }
	var stage []staged
	defer func() {
		if err != nil {
			for _, s := range stage {
				os.Remove(s.tmp)
			}
		}
	}()
	for _, f := range files {
		target, err := targetPath(dir, f)
		if err != nil {
			return nil, err
		}
		same, err := unchanged(target, f)
		if err != nil {
			return nil, err
		}
		if same {
			continue
		}
		tmp, err := writeTemp(target, f)
		if err != nil {
			return nil, err
		}
		stage = append(stage, staged{tmp: tmp, target: target})
	}
	for i, s := range stage {
		if err := os.Rename(s.tmp, s.target); err != nil {
			stage = stage[i:]
			return written, fmt.Errorf("replace %s: %w", s.target, err)
		}
		written = append(written, s.target)
	}
	return written, nil
}

// targetPath joins dir and f.Path, refusing paths that leave dir.
func targetPath(dir string, f File) (string, error) {
	p := f.Path
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, `\`) {
		return "", fmt.Errorf("write %q: not a clean relative path", p)
	}
	return filepath.Join(dir, filepath.FromSlash(p)), nil
}

// unchanged reports whether target already holds f's bytes and mode.
func unchanged(target string, f File) (bool, error) {
	fi, err := os.Lstat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", target, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.Mode.Perm() || fi.Size() != int64(len(f.Data)) {
		return false, nil
	}
	old, err := os.ReadFile(target)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", target, err)
	}
	return bytes.Equal(old, f.Data), nil
}

// writeTemp writes f completely to a new temporary file in target's
// directory (creating it) and returns the temporary file's path.
func writeTemp(target string, f File) (string, error) {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create directory %s: %w", dir, err)
	}
	t, err := os.CreateTemp(dir, ".hala-"+filepath.Base(target)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("create temporary file for %s: %w", target, err)
	}
	name := t.Name()
	fail := func(action string, err error) (string, error) {
		t.Close()
		os.Remove(name)
		return "", fmt.Errorf("%s %s: %w", action, name, err)
	}
	if err := t.Chmod(f.Mode.Perm()); err != nil {
		return fail("chmod", err)
	}
	if _, err := t.Write(f.Data); err != nil {
		return fail("write", err)
	}
	if err := t.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := t.Close(); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("close %s: %w", name, err)
	}
	return name, nil
}
