package render_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// Sysctl gives each host of every example the sysctl file Node renders for
// it, byte for byte, and ok = false exactly for the hosts Node renders none
// for; an unknown host is an error naming it.
func TestSysctlIsNodesSysctlFile(t *testing.T) {
	examples, err := filepath.Glob("../../examples/*.toml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	hosts := 0
	for _, ex := range examples {
		inv, err := inventory.Load(ex)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range inv.Directors {
			names = append(names, d.Name)
		}
		for _, l := range inv.Logstash {
			names = append(names, l.Name)
		}
		for _, name := range names {
			files, err := render.Node(inv, name)
			if err != nil {
				t.Fatal(err)
			}
			var want *render.File
			for i := range files {
				if files[i].Path == name+"/"+render.SysctlPath {
					want = &files[i]
				}
			}
			got, ok, err := render.Sysctl(inv, name)
			switch {
			case err != nil:
				t.Errorf("%s %s: %v", ex, name, err)
			case want == nil && ok:
				t.Errorf("%s %s: Sysctl gives %s, Node renders none", ex, name, got.Path)
			case want != nil && (!ok || got.Path != want.Path || got.Mode != want.Mode || !bytes.Equal(got.Data, want.Data)):
				t.Errorf("%s %s: Sysctl gives %q (ok %v), Node renders %q", ex, name, got.Path, ok, want.Path)
			}
			hosts++
		}
		if _, _, err := render.Sysctl(inv, "nosuch"); err == nil || !strings.Contains(err.Error(), `no host "nosuch"`) {
			t.Errorf("%s: Sysctl(nosuch) = %v", ex, err)
		}
	}
	if hosts == 0 {
		t.Fatal("no hosts checked")
	}
}
