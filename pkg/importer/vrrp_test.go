package importer

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/keepalived"
)

var sampleDirectors = Options{Directors: []Director{
	{Name: "LVS_DEVEL", Address: netip.MustParseAddr("192.168.200.1")},
	{Name: "lb2", Address: netip.MustParseAddr("192.168.200.2")},
}}

// Instances with different passwords, none, another advert_int and
// another interface (keepalived's keepalived.conf.vrrp sample VI_1..VI_4)
// render each with
// its own settings: a director switched to hala keeps speaking VRRP as its
// not-yet-switched peer does, so neither becomes a second MASTER.
func TestImportPerInstanceVRRP(t *testing.T) {
	cfg, err := keepalived.Load("testdata/vrrp-sample.conf")
	if err != nil {
		t.Fatal(err)
	}
	res, again := importRender(t, cfg, "vrrp-sample.conf", sampleDirectors, "LVS_DEVEL")
	got := semanticOf(t, parseConf(t, "again.conf", again).Nodes, true).Instances
	want := semanticOf(t, cfg.Nodes, true).Instances
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rendered VRRP differs from the imported file\n got: %q\nwant: %q\ninventory:\n%s", got, want, res.TOML)
	}
	for _, w := range []string{`vrrp_auth_pass = "secret1"`, `vrrp_auth_pass = ""  # testdata/vrrp-sample.conf:25 has no authentication`, `advert_interval = "3s"`, `interface = "eth1"  # interface at testdata/vrrp-sample.conf:37`, "vrrp_version = 3  # version at testdata/vrrp-sample.conf:25"} {
		if !strings.Contains(string(res.TOML), w) {
			t.Errorf("inventory lacks %s:\n%s", w, res.TOML)
		}
	}
}

// What hala keeps cluster-wide, or cannot render at all, and that would
// change how an instance speaks VRRP refuses the import, naming every
// instance by file:line; the notes collected are still returned.
func TestImportRefusesVRRPChanges(t *testing.T) {
	conf := `global_defs {
    router_id lb1
    smtp_connect_timeout 30
    vrrp_mcast_group4 224.0.0.19
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    unicast_src_ip 10.0.0.1
    unicast_peer 10.0.0.2
    virtual_ipaddress {
        10.0.0.100/24
    }
}
vrrp_instance VI_2 {
    state MASTER
    interface eth1
    virtual_router_id 52
    virtual_ipaddress {
        10.0.0.101/24
    }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 53
    unicast_peer {
        10.0.0.3
    }
    authentication {
        auth_type AH
        auth_pass secret
    }
    virtual_ipaddress {
        10.0.0.102/24
    }
}
vrrp_instance VI_4 {
    interface eth0
    version 2
    advert_int 0.5
    virtual_router_id 54
    unicast_peer {
        10.0.0.2
    }
    virtual_ipaddress {
        10.0.0.103/24
    }
}
`
	res, err := Import(parseConf(t, "k.conf", []byte(conf)), "k.conf", Options{})
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("error %v, want a RefusedError", err)
	}
	want := []string{
		"k.conf:4: vrrp_mcast_group4 224.0.0.19: hala renders VRRP on keepalived's default multicast group (224.0.0.18)",
		"k.conf:31: auth_type AH: hala renders auth_type PASS or no authentication: peers would reject the other's adverts",
		"k.conf:38: vrrp_instance VI_4: VRRP version 2: hala renders version 3 for this instance (3 below whole-second adverts and for IPv6)",
		"k.conf:16: vrrp_instance VI_2 is multicast VRRP, but VI_1 (k.conf:6) is unicast VRRP: hala renders one for every VIP",
		`k.conf:24: vrrp_instance VI_3 has unicast peers "10.0.0.3", but VI_1 (k.conf:6) has "10.0.0.2": hala sends every VIP's adverts to every other director`,
	}
	if !reflect.DeepEqual(refused.Reasons, want) {
		t.Errorf("reasons\n%s\nwant\n%s", strings.Join(refused.Reasons, "\n"), strings.Join(want, "\n"))
	}
	if res == nil || len(res.Unmapped) != 1 || !strings.HasPrefix(res.Unmapped[0], "k.conf:3: smtp_connect_timeout 30") {
		t.Errorf("notes of the refused import: %+v", res)
	}
}
