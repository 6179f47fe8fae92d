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

	"github.com/hala-lb/hala/pkg/internal/atomicfile"
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
	var stage []*atomicfile.Pending
	defer func() {
		if err != nil {
			for _, p := range stage {
				p.Cleanup()
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
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return nil, fmt.Errorf("create directory %s: %w", filepath.Dir(target), err)
		}
		// SyncFile: a crash leaves each file old or new, whole; the next
		// render rewrites whatever was not renamed.
		p, err := atomicfile.Stage(target, f.Data, f.Mode, atomicfile.SyncFile)
		if err != nil {
			return nil, err
		}
		stage = append(stage, p)
	}
	for i, p := range stage {
		if err := p.Commit(); err != nil {
			stage = stage[i+1:]
			return written, err
		}
		written = append(written, p.Target())
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
