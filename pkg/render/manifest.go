package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ManifestName is the file in the output directory that lists the files
// render wrote there, one relative path a line. It is the only source of
// what --prune may delete: a file it does not list is never touched.
const ManifestName = ".hala-manifest"

// manifestMagic starts the manifest's first line; a file without it is not
// ours and is refused rather than trusted.
const manifestMagic = "# hala render manifest v1"

const manifestHeader = manifestMagic + ": the files hala render wrote in this directory; hala render --prune deletes only files listed here\n"

// Options says which part of an output directory a render owns.
type Options struct {
	// Node is the one host rendered (render --node); "" means every host of
	// the inventory. The manifest entries of other hosts are kept as they
	// are and never called stale, so --node runs of several hosts into one
	// directory each keep their own files.
	Node string
	// Prune deletes the stale files instead of leaving them in place.
	Prune bool
}

// Report is what Sync did or, from Status, what it would do. Paths are dir
// joined with the file's relative path.
type Report struct {
	// Written are the rendered files written (or that would be).
	Written []string
	// Unchanged counts the rendered files already up to date.
	Unchanged int
	// Stale are files render wrote before, for a host in scope, that the
	// inventory no longer produces; Sync leaves them unless Options.Prune.
	Stale []string
	// Pruned are the stale files Sync deleted, Dirs the directories that
	// deleting them left empty and that Sync removed.
	Pruned, Dirs []string
	// Manifest reports whether the manifest was (or would be) rewritten.
	Manifest bool
}

// ManifestError is a manifest that cannot be trusted: not written by
// hala, or holding a line that is not a file under a host directory.
type ManifestError struct {
	Path string
	Line int // 0: the whole file
	Msg  string
}

func (e *ManifestError) Error() string {
	if e.Line == 0 {
		return e.Path + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// Status compares files and the manifest with dir and reports what Sync
// would do: the files it would write, the stale files, and whether the
// manifest would change. It writes nothing.
func Status(dir string, files []File, opts Options) (Report, error) {
	p, err := planOutput(dir, files, opts)
	if err != nil {
		return Report{}, err
	}
	changed, err := Changed(dir, files)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Written: changed, Unchanged: len(files) - len(changed), Stale: p.paths(p.stale)}
	keep := p.stale
	if opts.Prune {
		keep = nil
	}
	rep.Manifest = !bytes.Equal(p.manifest(keep), p.oldData)
	return rep, nil
}

// Sync writes files under dir as Write does, deletes the stale files when
// opts.Prune (and the directories that leaves empty), and then records in
// the manifest what dir now holds of render's: the rendered files, the
// stale files left in place, and the other hosts' entries. The manifest is
// written last, so a failure before it leaves entries for files render no
// longer has (forgotten on the next run), never a listed file it did not
// write.
func Sync(dir string, files []File, opts Options) (Report, error) {
	p, err := planOutput(dir, files, opts)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	written, err := Write(dir, files)
	rep.Written, rep.Unchanged = written, len(files)-len(written)
	if err != nil {
		if len(written) > 0 {
			// Some files were replaced: record them (and keep every entry),
			// so none of them escapes a later --prune.
			_, merr := p.writeManifest(dir, p.stale)
			err = errors.Join(err, merr)
		}
		return rep, err
	}
	left := p.stale
	if opts.Prune {
		left = nil
		for i, rel := range p.stale {
			target := filepath.Join(dir, filepath.FromSlash(rel))
			if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
				_, merr := p.writeManifest(dir, p.stale[i:])
				return rep, errors.Join(fmt.Errorf("remove stale file: %w", err), merr)
			}
			rep.Pruned = append(rep.Pruned, target)
			rep.Dirs = append(rep.Dirs, removeEmptyParents(dir, rel)...)
		}
	} else {
		rep.Stale = p.paths(p.stale)
	}
	rep.Manifest, err = p.writeManifest(dir, left)
	return rep, err
}

// outputPlan is the manifest on disk and what becomes of its entries.
type outputPlan struct {
	dir     string
	oldData []byte // nil: no manifest yet
	// entries is the next manifest without the stale files: other hosts'
	// entries and every rendered file.
	entries map[string]bool
	// stale are the relative paths of the stale files, sorted.
	stale []string
}

func planOutput(dir string, files []File, opts Options) (*outputPlan, error) {
	old, data, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	p := &outputPlan{dir: dir, oldData: data, entries: make(map[string]bool, len(files)+len(old))}
	for _, f := range files {
		if opts.Node != "" && hostOf(f.Path) != opts.Node {
			return nil, fmt.Errorf("render %s: not a file of host %q", f.Path, opts.Node)
		}
		p.entries[f.Path] = true
	}
	for _, rel := range old {
		switch {
		case p.entries[rel]:
		case opts.Node != "" && hostOf(rel) != opts.Node:
			p.entries[rel] = true
		default:
			owned, err := ownedFile(dir, rel)
			if err != nil {
				return nil, err
			}
			if owned {
				p.stale = append(p.stale, rel)
			}
			// Otherwise it is gone, or no longer a plain file render
			// could have written: forget it and leave it alone.
		}
	}
	sort.Strings(p.stale)
	return p, nil
}

func (p *outputPlan) paths(rels []string) []string {
	out := make([]string, len(rels))
	for i, rel := range rels {
		out[i] = filepath.Join(p.dir, filepath.FromSlash(rel))
	}
	return out
}

// manifest returns the manifest's bytes with the stale files in keep.
func (p *outputPlan) manifest(keep []string) []byte {
	list := make([]string, 0, len(p.entries)+len(keep))
	for rel := range p.entries {
		list = append(list, rel)
	}
	for _, rel := range keep {
		if !p.entries[rel] {
			list = append(list, rel)
		}
	}
	sort.Strings(list)
	var b bytes.Buffer
	b.WriteString(manifestHeader)
	for _, rel := range list {
		b.WriteString(rel)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// writeManifest replaces the manifest atomically when its content changes.
func (p *outputPlan) writeManifest(dir string, keep []string) (bool, error) {
	data := p.manifest(keep)
	if bytes.Equal(data, p.oldData) {
		return false, nil
	}
	if _, err := Write(dir, []File{{Path: ManifestName, Data: data, Mode: 0o644}}); err != nil {
		return false, fmt.Errorf("write manifest: %w", err)
	}
	return true, nil
}

// readManifest returns the manifest's entries and bytes; none when dir has
// no manifest.
func readManifest(dir string) ([]string, []byte, error) {
	path := filepath.Join(dir, ManifestName)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &ManifestError{Path: path, Msg: "not a regular file"}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	if !strings.HasPrefix(lines[0], manifestMagic) {
		return nil, nil, &ManifestError{Path: path, Line: 1, Msg: fmt.Sprintf("does not start with %q: not a manifest written by hala render", manifestMagic)}
	}
	var entries []string
	seen := map[string]bool{}
	for i, line := range lines[1:] {
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		if !validEntry(line) {
			return nil, nil, &ManifestError{Path: path, Line: i + 2, Msg: fmt.Sprintf("%q is not a file under a host directory", line)}
		}
		entries = append(entries, line)
	}
	return entries, data, nil
}

// validEntry reports whether rel is a clean relative path inside a host
// directory, as render writes them.
func validEntry(rel string) bool {
	if _, err := targetPath("", File{Path: rel}); err != nil {
		return false
	}
	host, rest, ok := strings.Cut(rel, "/")
	return ok && rest != "" && hostDir(host) == nil
}

func hostOf(rel string) string {
	host, _, _ := strings.Cut(rel, "/")
	return host
}

// ownedFile reports whether rel is still a regular file reached through
// real directories: a symlink anywhere on the way (or at the end) is not
// something render wrote, so it is never followed or deleted.
func ownedFile(dir, rel string) (bool, error) {
	p := dir
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("inspect %s: %w", p, err)
		}
		if i < len(parts)-1 && !fi.IsDir() || i == len(parts)-1 && !fi.Mode().IsRegular() {
			return false, nil
		}
	}
	return true, nil
}

// removeEmptyParents removes rel's parent directories below dir that are
// now empty, deepest first, and returns them; it stops at the first one
// that is not empty.
func removeEmptyParents(dir, rel string) []string {
	var removed []string
	for d := filepath.Dir(filepath.FromSlash(rel)); d != "."; d = filepath.Dir(d) {
		p := filepath.Join(dir, d)
		if os.Remove(p) != nil {
			break
		}
		removed = append(removed, p)
	}
	return removed
}
