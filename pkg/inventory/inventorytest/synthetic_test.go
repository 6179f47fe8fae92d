package inventorytest_test

import (
	"reflect"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
)

func TestSyntheticParses(t *testing.T) {
	for _, mode := range []inventorytest.Mode{inventorytest.Keepalived, inventorytest.Director} {
		inv, err := inventory.Parse("synthetic.toml", []byte(inventorytest.Synthetic(3, 7, mode)))
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		if len(inv.Logstash) != 3 || len(inv.Services) != 7 {
			t.Errorf("mode %d: %d hosts, %d services; want 3, 7", mode, len(inv.Logstash), len(inv.Services))
		}
		if s := inv.Services[6]; s.Port != 20006 || s.InputID != "udp-20006" || len(s.Backends) != 3 {
			t.Errorf("mode %d: last service %+v", mode, s)
		}
		if want := map[inventorytest.Mode]string{inventorytest.Keepalived: "keepalived", inventorytest.Director: "director"}[mode]; inv.Cluster.IPVS != want {
			t.Errorf("mode %d: ipvs = %q, want %q", mode, inv.Cluster.IPVS, want)
		}
	}
}

func TestBaseAndEdit(t *testing.T) {
	inv, err := inventory.Parse("base.toml", []byte(inventorytest.Edit(inventorytest.Base,
		`address = "10.0.0.11"`, `address = "127.0.0.1"`,
		"one_packet = true\n", "")))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Directors) != 2 || inv.Logstash[0].Address.String() != "127.0.0.1" || inv.Services[0].OnePacket {
		t.Errorf("edited base: directors %d, l1 %q, one_packet %t", len(inv.Directors), inv.Logstash[0].Address, inv.Services[0].OnePacket)
	}
	defer func() {
		if recover() == nil {
			t.Error("Edit of a missing string did not panic")
		}
	}()
	inventorytest.Edit(inventorytest.Base, "no such line", "")
}

// TestTwoNodeIsTheExample: TwoNode says what examples/two-node.toml says.
func TestTwoNodeIsTheExample(t *testing.T) {
	example, err := inventory.Load("../../../examples/two-node.toml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Parse("two-node.toml", []byte(inventorytest.TwoNode))
	if err != nil {
		t.Fatal(err)
	}
	// Every exported field but the file name (the unexported key
	// positions differ by the example's comments).
	got, want := reflect.ValueOf(*inv), reflect.ValueOf(*example)
	for i := range got.NumField() {
		f := got.Type().Field(i)
		if !f.IsExported() || f.Name == "File" {
			continue
		}
		if !reflect.DeepEqual(got.Field(i).Interface(), want.Field(i).Interface()) {
			t.Errorf("%s: TwoNode has %+v, examples/two-node.toml %+v", f.Name, got.Field(i), want.Field(i))
		}
	}
}

func TestDirectorBaseIsValid(t *testing.T) {
	inv, err := inventory.Parse("director.toml", []byte(inventorytest.DirectorBase))
	if err != nil {
		t.Fatal(err)
	}
	if !inv.UsesDirector() || len(inv.Directors) != 1 || len(inv.Logstash) != 2 || inv.Services[0].OnePacket {
		t.Errorf("DirectorBase: director %t, directors %d, hosts %d, one_packet %t", inv.UsesDirector(), len(inv.Directors), len(inv.Logstash), inv.Services[0].OnePacket)
	}
}

func TestBGPIsValid(t *testing.T) {
	inv, err := inventory.Parse("bgp.toml", []byte(inventorytest.BGP))
	if err != nil {
		t.Fatal(err)
	}
	if !inv.UsesBGP() || len(inv.BGP.Peers) != 2 || len(inv.Directors) != 2 {
		t.Errorf("BGP fixture: bgp %t, peers %d, directors %d", inv.UsesBGP(), len(inv.BGP.Peers), len(inv.Directors))
	}
}
