package drain

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultDir is where drain records live unless $HALA_DRAIN_DIR says
// otherwise.
const DefaultDir = "/var/lib/hala/drain"

// EnvDir names the environment variable that overrides DefaultDir.
const EnvDir = "HALA_DRAIN_DIR"

// suffix ends every record's file name; other files in the directory are
// ignored.
const suffix = ".drain"

// maxRecord bounds what Lookup reads: a record is a few dozen bytes.
const maxRecord = 4096

// Dir returns $HALA_DRAIN_DIR, or DefaultDir when it is unset.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return DefaultDir
}

// Record is one drained backend.
type Record struct {
	// Address is the backend's address, the key of the record.
	Address netip.Addr `json:"address"`
	// Name is the [[logstash]] name, when the drain named one.
	Name string `json:"name,omitempty"`
	// Since is when the backend was drained.
	Since time.Time `json:"since"`
}

// String is `192.168.1.210 (stash1) drained since 2025-01-02T15:04:05Z`.
func (r Record) String() string {
	who := r.Address.String()
	if r.Name != "" {
		who += " (" + r.Name + ")"
	}
	return who + " drained since " + r.Since.Format(time.RFC3339)
}

// Reason is what a check reports for a drained backend:
// `drained since 2025-01-02T15:04:05Z (hala drain)`.
func (r Record) Reason() string {
	return "drained since " + r.Since.Format(time.RFC3339) + " (hala drain)"
}

// path is the record file of addr in dir. The unmapped, zone-less form
// keys it, so ::ffff:10.0.0.1 and 10.0.0.1 are one backend.
func path(dir string, addr netip.Addr) string {
	return filepath.Join(dir, addr.Unmap().WithZone("").String()+suffix)
}

// Drain writes r's record into dir, replacing any earlier one. dir (and
// any missing parent) is created 0755 and the record is 0644, whatever
// the caller's umask: hala check and hala director read them as other
// users.
func Drain(dir string, r Record) error {
	if !r.Address.IsValid() {
		return errors.New("drain: no address")
	}
	r.Address = r.Address.Unmap().WithZone("")
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("drain %s: %w", r.Address, err)
	}
	if err := mkdirAll(dir); err != nil {
		return fmt.Errorf("create drain dir: %w", err)
	}
	if err := writeAtomic(dir, path(dir, r.Address), append(data, '\n')); err != nil {
		return fmt.Errorf("drain %s: %w", r.Address, err)
	}
	return nil
}

// Undrain removes addr's record. It reports whether there was one.
func Undrain(dir string, addr netip.Addr) (bool, error) {
	err := os.Remove(path(dir, addr))
	switch {
	case err == nil:
		return true, syncDir(dir)
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("undrain %s: %w", addr, err)
}

// Lookup returns addr's record, or nil when addr is not drained (no record,
// or no directory). An error means a record exists but cannot be read or
// parsed; callers treat that as not drained and warn.
func Lookup(dir string, addr netip.Addr) (*Record, error) {
	p := path(dir, addr)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read drain record: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, fmt.Errorf("read drain record %s: %w", p, err)
	}
	if len(data) > maxRecord {
		return nil, fmt.Errorf("read drain record %s: larger than %d bytes", p, maxRecord)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read drain record %s: %w", p, err)
	}
	if r.Address != addr.Unmap().WithZone("") {
		return nil, fmt.Errorf("read drain record %s: it names %s", p, r.Address)
	}
	return &r, nil
}

// List returns every record in dir, by address; a missing directory is
// an empty list. Records that cannot be read are returned as errors (one
// per file, joined) next to the ones that could.
func List(dir string) ([]Record, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list drain records: %w", err)
	}
	var out []Record
	var errs []error
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		addr, err := netip.ParseAddr(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("drain record %s: name is not an address", filepath.Join(dir, e.Name())))
			continue
		}
		r, err := Lookup(dir, addr)
		switch {
		case err != nil:
			errs = append(errs, err)
		case r != nil:
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int { return a.Address.Compare(b.Address) })
	return out, errors.Join(errs...)
}

// mkdirAll is os.MkdirAll(dir, 0o755) with the mode of each directory it
// creates set explicitly, so that a umask such as 077 cannot make them
// 0700. Existing directories keep their mode.
func mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile
		}
		return err
	}
	return os.Chmod(dir, 0o755)
}

// writeAtomic writes data to path through a temporary file in dir, synced
// before the rename and the directory after it, so that a crash leaves
// either the old record or the new one, and a reboot keeps it.
func writeAtomic(dir, path string, data []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644) // readable by keepalived's script user
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
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

// DirectorDir is where hala drain --director keeps directors' records,
// under dir: apart from the backends' records, since a director may also
// be a Logstash host with the same address.
func DirectorDir(dir string) string { return filepath.Join(dir, "director") }
