package importer

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/keepalived"
)

// An LVS-only keepalived.conf (virtual servers, no vrrp_instance) with
// checkers hala cannot map imports what is there: a VIP per virtual-server
// address with a router_id placeholder, a service per virtual server with
// its real servers, scheduler, forwarding, protocol, persistence and
// weight, the checker as a comment and an input_id placeholder. hala
// validate rejects each placeholder, and once they are set the inventory
// renders the same virtual servers.
func TestImportLVSOnly(t *testing.T) {
	cfg, err := keepalived.Load("testdata/lvs-only.conf")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Import(cfg, "lvs-only.conf", Options{Directors: []Director{{Name: "LVS_DEVEL", Address: netip.MustParseAddr("10.10.10.10")}}})
	if err != nil {
		t.Fatal(err)
	}
	toml := string(res.TOML)
	for _, want := range []string{
		"router_id = 0  # PLACEHOLDER: no vrrp_instance holds this virtual_server address (testdata/lvs-only.conf:15)",
		"# keepalived checked with HTTP_GET at testdata/lvs-only.conf:24\n",
		"# keepalived checked with TCP_CHECK at testdata/lvs-only.conf:54\n",
		`input_id = ""  # PLACEHOLDER`,
		`scheduler = "wlc"`, `forwarding = "dr"`, `persistence = "50s"`, "weight = 3\n", `protocol = "udp"`, "backend_port = 5514\n",
	} {
		if !strings.Contains(toml, want) {
			t.Errorf("inventory lacks %q:\n%s", want, toml)
		}
	}
	_, err = inventory.Parse("imported.toml", res.TOML)
	if !errors.Is(err, inventory.ErrPlaceholder) {
		t.Fatalf("validate: %v, want ErrPlaceholder", err)
	}
	for _, want := range []string{
		`vip[0] ("vip-10.10.10.2").router_id: 0 is out of range 1-255 (hala import's placeholder`,
		`vip[1] ("vip-10.10.10.3").router_id: 0 is out of range 1-255 (hala import's placeholder`,
		`service[0] ("tcp-1358").input_id: "" is a placeholder`,
		`service[1] ("udp-514").input_id: "" is a placeholder`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validate lacks %q:\n%v", want, err)
		}
	}

	// Filled in, it renders the same virtual servers and real servers.
	filled := strings.NewReplacer("# interface = \"eth0\"", "interface = \"eth0\"").Replace(toml)
	for i, id := range []string{"1", "2"} {
		filled = strings.Replace(filled, "router_id = 0 ", "router_id = "+id+" ", 1)
		filled = strings.Replace(filled, `input_id = ""`, `input_id = "in-`+[]string{"a", "b"}[i]+`"`, 1)
	}
	inv, err := inventory.Parse("filled.toml", []byte(filled))
	if err != nil {
		t.Fatalf("filled in: %v\n%s", err, filled)
	}
	files := renderConf(t, inv, "LVS_DEVEL")
	got := semanticOf(t, parseConf(t, "again.conf", files).Nodes, false).Servers
	want := []string{
		"at 10.10.10.2 1358; delay_loop 6; lb_algo wlc; lb_kind DR; persistence_timeout 50; protocol TCP => 192.168.200.2 1358; checks 192.168.200.2 in-a; weight 3 | 192.168.200.3 1358; checks 192.168.200.3 in-a; weight 3",
		"at 10.10.10.3 514; delay_loop 10; lb_algo rr; lb_kind NAT; persistence_timeout 0; protocol UDP => 192.168.200.2 5514; checks 192.168.200.2 in-b; weight 1 | 192.168.200.3 5514; checks 192.168.200.3 in-b; weight 1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rendered virtual servers\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A file with neither VRRP nor virtual servers is refused, and the notes
// collected on the way are returned all the same.
func TestImportNothingKeepsNotes(t *testing.T) {
	res, err := Import(parseConf(t, "k.conf", []byte("global_defs {\n  smtp_connect_timeout 30\n}\n")), "k.conf", Options{})
	if err == nil || !strings.Contains(err.Error(), "nothing to import") {
		t.Fatalf("error %v", err)
	}
	if res == nil || !reflect.DeepEqual(res.Unmapped, []string{"k.conf:2: smtp_connect_timeout 30: no inventory key (hala renders global_defs itself)"}) {
		t.Errorf("notes %+v", res)
	}
}
