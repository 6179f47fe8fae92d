package sysctl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultRoot is where the running kernel exposes its settings.
const DefaultRoot = "/proc/sys"

// ErrUnknownKey is wrapped by Apply's error for a key the kernel does not
// have (no file under the root).
var ErrUnknownKey = errors.New("not in this kernel")

// Setting is one "key = value" line of a sysctl.d file.
type Setting struct {
	// Key is the setting's name as written, e.g. net.ipv4.ip_forward.
	Key string
	// Value is the value with runs of blanks collapsed to one space.
	Value string
	// Optional is true for a key written with a leading "-": when the
	// kernel lacks it, the setting is skipped instead of failing.
	Optional bool
	// Line is the 1-based line number in the file.
	Line int
}

// String gives the setting as a sysctl.d line.
func (s Setting) String() string {
	opt := ""
	if s.Optional {
		opt = "-"
	}
	return fmt.Sprintf("%s%s = %s", opt, s.Key, s.Value)
}

// Parse reads sysctl.d syntax: "key = value" lines, blank lines, and
// comments starting with "#" or ";". name labels error messages. Every bad
// line is reported.
func Parse(name string, data []byte) ([]Setting, error) {
	var out []Setting
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		s := Setting{Line: n, Value: normalize(v)}
		if strings.HasPrefix(k, "-") {
			s.Optional, k = true, strings.TrimSpace(k[1:])
		}
		s.Key = k
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s:%d: %q is not \"key = value\"", name, n, line))
		case k == "" || strings.Contains(k, ".."):
			errs = append(errs, fmt.Errorf("%s:%d: invalid key %q", name, n, k))
		default:
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read %s: %w", name, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Result is what Apply found and did for one key.
type Result struct {
	// Key is the concrete key (a glob in the file is expanded per match).
	Key string
	// Old is the kernel's value before Apply, New the file's.
	Old, New string
	// Changed is true when Old differed from New: Apply wrote New, or
	// would have in a dry run.
	Changed bool
	// Skipped is true for an optional key the kernel does not have.
	Skipped bool
	// DryRun is true when Apply only compared.
	DryRun bool
}

// String gives one line of `hala sysctl apply` output:
// "net.ipv4.ip_forward: 0 → 1", "net.ipv4.ip_forward: 1 (unchanged)",
// "net.ipv4.ip_forward: 0 → 1 (dry run)" or "KEY: not in this kernel (skipped)".
func (r Result) String() string {
	switch {
	case r.Skipped:
		return fmt.Sprintf("%s: not in this kernel (skipped)", r.Key)
	case !r.Changed:
		return fmt.Sprintf("%s: %s (unchanged)", r.Key, r.New)
	case r.DryRun:
		return fmt.Sprintf("%s: %s → %s (dry run)", r.Key, r.Old, r.New)
	default:
		return fmt.Sprintf("%s: %s → %s", r.Key, r.Old, r.New)
	}
}

// Apply sets each setting under root ("" means DefaultRoot) and returns a
// Result per key in file order. A key whose value already matches (blanks
// normalised) is not written; with dryRun nothing is written. Keys may be
// globs ("net.ipv4.conf.*.rp_filter"). Every key is tried: the error joins
// one error per key that could not be read, written or verified, and the
// results hold the keys that succeeded.
//
// Equivalent to: sysctl -w KEY=VALUE, for each changed key
func Apply(root string, settings []Setting, dryRun bool) ([]Result, error) {
	if root == "" {
		root = DefaultRoot
	}
	var out []Result
	var errs []error
	for _, s := range settings {
		paths, err := resolve(root, s.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s: %w", s.Key, err))
			continue
		}
		if len(paths) == 0 {
			if s.Optional {
				out = append(out, Result{Key: s.Key, New: s.Value, Skipped: true, DryRun: dryRun})
				continue
			}
			errs = append(errs, fmt.Errorf("sysctl %s: %w (%s missing)", s.Key, ErrUnknownKey, keyPath(root, s.Key)))
			continue
		}
		for _, p := range paths {
			r, err := applyOne(root, p, s.Value, dryRun)
			if errors.Is(err, fs.ErrNotExist) && s.Optional {
				r.Skipped = true
				err = nil
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

func applyOne(root, path, value string, dryRun bool) (Result, error) {
	key := pathKey(root, path)
	r := Result{Key: key, New: value, DryRun: dryRun}
	old, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("read %s: %w", key, err)
	}
	r.Old = normalize(string(old))
	if r.Old == value {
		return r, nil
	}
	r.Changed = true
	if dryRun {
		return r, nil
	}
	// No O_CREATE: a key the kernel lacks is an error, never a new file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return r, fmt.Errorf("set %s: %w", key, err)
	}
	_, werr := f.Write([]byte(value + "\n"))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return r, fmt.Errorf("set %s = %s: %w", key, value, werr)
	}
	now, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("read back %s: %w", key, err)
	}
	if got := normalize(string(now)); got != value {
		return r, fmt.Errorf("set %s = %s: the kernel keeps %s", key, value, got)
	}
	return r, nil
}

// resolve returns the files under root that key names: one file for a
// plain key (whether or not it exists yet is applyOne's business), the
// matches for a glob.
func resolve(root, key string) ([]string, error) {
	p := keyPath(root, key)
	if !strings.ContainsAny(key, "*?[") {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return []string{p}, nil
	}
	return filepath.Glob(p)
}

// keyPath maps a key to its file as sysctl(8) does: dots separate
// components unless the key uses slashes, which lets interface names
// with dots (eth0.10) be written as net/ipv4/conf/eth0.10/rp_filter.
func keyPath(root, key string) string {
	k := strings.TrimPrefix(key, "/")
	if !strings.Contains(k, "/") {
		k = strings.ReplaceAll(k, ".", "/")
	}
	return filepath.Join(root, filepath.FromSlash(k))
}

// pathKey is keyPath's inverse for messages: the dotted key, or the
// slashed form when a component holds a dot.
func pathKey(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	rel = filepath.ToSlash(rel)
	if strings.Contains(rel, ".") {
		return rel
	}
	return strings.ReplaceAll(rel, "/", ".")
}

// normalize trims a value and collapses blanks, so "32768\t60999\n" and
// "32768 60999" compare equal.
func normalize(v string) string {
	return strings.Join(strings.Fields(v), " ")
}
