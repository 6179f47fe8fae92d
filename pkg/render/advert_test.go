package render_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

// A VIP advertising every 100 ms (the e2e table's fast B8 row) renders
// keepalived's centisecond form with VRRP version 3 and no authentication
// block (version 3 has none), on every director; the cluster's password
// stays on nothing else.
func TestSubSecondAdvertIsVersion3(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "two-node-director.toml"))
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.Replace(src, []byte("\n[[vip]]\n"), []byte("\n[[vip]]\nadvert_interval = \"100ms\"\nvrrp_version = 3\nvrrp_auth_pass = \"\"\n"), 1)
	inv, err := inventory.Parse("two-node-director.toml", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range inv.Directors {
		files, err := render.Node(inv, d.Name)
		if err != nil {
			t.Fatal(err)
		}
		var conf string
		for _, f := range files {
			if filepath.Base(f.Path) == render.KeepalivedPath {
				conf = string(f.Data)
			}
		}
		if !strings.Contains(conf, "    version 3\n    advert_int 0.1\n") || strings.Contains(conf, "auth_pass") {
			t.Errorf("%s: keepalived.conf without version 3 and advert_int 0.1, or with a password:\n%s", d.Name, conf)
		}
	}
}
