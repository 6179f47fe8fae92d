// Package atomicfile replaces files atomically: the new bytes go to a
// temporary file next to the target, which is then renamed over it, so a
// reader sees the old file or the new one, never a part. How much survives
// a crash is the caller's choice (Durability): hala's callers differ, from
// check state rewritten on every check (Atomic) to drain records an
// operator relies on after a reboot (Durable).
//
// It is not github.com/google/renameio/v2, which always syncs the file:
// hala check's state, rewritten on every check, must not pay an fsync.
// It imports the standard library only, so that leaf packages may use it.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Durability says what a crash (power loss, kernel panic) may leave.
type Durability int

const (
	// Atomic renames without syncing: readers never see a partial file,
	// but a crash soon after may leave the old file, or an empty one.
	// For state that is rebuilt when lost (hala check's weights).
	Atomic Durability = iota
	// SyncFile syncs the new file before the rename: after a crash, the
	// old bytes or the new ones, whole; the rename itself may be lost.
	// For files that a later run rewrites (render's outputs).
	SyncFile
	// Durable also syncs the directory after the rename: once Write
	// returns, the new file survives a crash.
	Durable
)

// Pending is a complete temporary file waiting to replace its target.
type Pending struct {
	tmp, target string
	durability  Durability
}

// Stage writes data with mode perm to a temporary file in path's
// directory (which must exist), named .hala-NAME.*.tmp, and returns it, not yet renamed: render
// stages every file before replacing any. A failure removes the temporary
// file.
func Stage(path string, data []byte, perm fs.FileMode, d Durability) (*Pending, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".hala-"+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(action string, err error) (*Pending, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("%s %s: %w", action, tmp, err)
	}
	// Chmod, not CreateTemp's 0600 through the umask: the mode asked.
	if err := f.Chmod(perm.Perm()); err != nil {
		return fail("chmod", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if d >= SyncFile {
		if err := f.Sync(); err != nil {
			return fail("sync", err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("close %s: %w", tmp, err)
	}
	return &Pending{tmp: tmp, target: path, durability: d}, nil
}

// Target is the path the file replaces.
func (p *Pending) Target() string { return p.target }

// Commit renames the temporary file over its target (and, Durable, syncs
// the directory). A failed rename removes the temporary file.
func (p *Pending) Commit() error {
	if err := os.Rename(p.tmp, p.target); err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("replace %s: %w", p.target, err)
	}
	if p.durability >= Durable {
		return SyncDir(filepath.Dir(p.target))
	}
	return nil
}

// Cleanup removes the temporary file of a Pending that will not be
// committed.
func (p *Pending) Cleanup() { os.Remove(p.tmp) }

// Write replaces path with data, mode perm, as durable as d asks.
func Write(path string, data []byte, perm fs.FileMode, d Durability) error {
	p, err := Stage(path, data, perm, d)
	if err != nil {
		return err
	}
	return p.Commit()
}

// SyncDir syncs a directory, making the renames and removals in it
// durable. Filesystems that cannot sync a directory are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
