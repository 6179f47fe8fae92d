package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/hala-lb/hala/pkg/internal/atomicfile"
	"github.com/hala-lb/hala/pkg/ipvs"
)

// DefaultStatePath is where hala records the IPVS services it manages.
const DefaultStatePath = "/var/lib/hala/ipvs-owned.json"

// Owned is the set of services hala manages, each with its inventory name
// ("" when unknown).
type Owned map[ipvs.ServiceKey]string

// Has reports whether k is owned.
func (o Owned) Has(k ipvs.ServiceKey) bool {
	_, ok := o[k]
	return ok
}

// Keys returns the owned services, sorted.
func (o Owned) Keys() []ipvs.ServiceKey {
	keys := slices.Collect(maps.Keys(o))
	slices.SortFunc(keys, ipvs.ServiceKey.Compare)
	return keys
}

func (o Owned) clone() Owned {
	c := make(Owned, len(o))
	maps.Copy(c, o)
	return c
}

// union returns the services in o or p (p's names win).
func (o Owned) union(p Owned) Owned {
	c := o.clone()
	maps.Copy(c, p)
	return c
}

type stateFile struct {
	Comment  string         `json:"comment"`
	Services []stateService `json:"services"`
}

type stateService struct {
	Service string `json:"service"`
	Name    string `json:"name,omitempty"`
}

const stateComment = "IPVS services hala manages (hala ipvs apply); --prune deletes those no longer in the inventory. Other services are never touched."

// LoadOwned reads the state file at path; a missing file is an empty set.
func LoadOwned(path string) (Owned, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Owned{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ownership state: %w", err)
	}
	var f stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("read ownership state %s: %w", path, err)
	}
	o := make(Owned, len(f.Services))
	for _, s := range f.Services {
		k, err := ipvs.ParseServiceKey(s.Service)
		if err != nil {
			return nil, fmt.Errorf("read ownership state %s: %w", path, err)
		}
		o[k] = s.Name
	}
	return o, nil
}

func (o Owned) encode() []byte {
	f := stateFile{Comment: stateComment, Services: []stateService{}}
	for _, k := range o.Keys() {
		f.Services = append(f.Services, stateService{Service: k.String(), Name: o[k]})
	}
	data, _ := json.MarshalIndent(f, "", "  ") // cannot fail: strings only
	return append(data, '\n')
}

// SaveOwned writes o to path atomically (a temporary file in the same
// directory, synced, then renamed over path), creating the directory when
// missing. It writes nothing when the file already holds o, and reports
// whether it wrote.
func SaveOwned(path string, o Owned) (bool, error) {
	data := o.encode()
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("write ownership state: %w", err)
	}
	// Durable: after a crash the director must still know which services
	// it created, or it would leave them behind or delete an operator's.
	if err := atomicfile.Write(path, data, 0o644, atomicfile.Durable); err != nil {
		return false, fmt.Errorf("write ownership state: %w", err)
	}
	return true, nil
}
