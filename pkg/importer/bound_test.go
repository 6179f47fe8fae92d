package importer

import (
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
)

// The inventory import writes is bounded like the ones hala reads.
func TestMaxOutputIsTheInventoryLimit(t *testing.T) {
	if MaxOutput != inventory.MaxFileSize {
		t.Errorf("MaxOutput %d, inventory.MaxFileSize %d", MaxOutput, inventory.MaxFileSize)
	}
}

// A file of many small statements hala cannot map would make notes many
// times its size: the import is refused once they pass MaxOutput, instead
// of writing an inventory hala validate would not read.
func TestImportBoundsOutput(t *testing.T) {
	conf := strings.Repeat("vrrp_garp_interval 0\n", (1<<20)/21)
	res, err := Import(parseConf(t, "k.conf", []byte(conf)), "k.conf", Options{})
	if err == nil || !strings.Contains(err.Error(), "import k.conf: the inventory would be larger than 4194304 bytes") {
		t.Fatalf("error %v", err)
	}
	if res == nil || res.TOML != nil || len(res.Unmapped) == 0 {
		t.Errorf("result %v", res != nil)
	}
	n := 0
	for _, u := range res.Unmapped {
		n += len(u) + 5
	}
	if n > MaxOutput {
		t.Errorf("notes kept: %d bytes, more than MaxOutput", n)
	}
}

// Control characters from the input are escaped in notes (stderr and the
// inventory's comments), not written to a terminal.
func TestImportEscapesControlCharacters(t *testing.T) {
	conf := "global_defs {\n  smtp_helo_name \"evil\x1b[2J\x07\"\n}\nvirtual_server 10.0.0.1 514 {\n protocol UDP\n real_server 10.0.0.2 514 {\n  weight 1\n }\n}\n"
	res, err := Import(parseConf(t, "k.conf", []byte(conf)), "k.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `k.conf:2: smtp_helo_name evil\x1b[2J\x07: no inventory key (hala renders global_defs itself)`
	if len(res.Unmapped) == 0 || res.Unmapped[0] != want {
		t.Errorf("notes %q, want first %q", res.Unmapped, want)
	}
	if strings.ContainsAny(string(res.TOML), "\x1b\x07") {
		t.Errorf("control characters in the inventory")
	}
}
