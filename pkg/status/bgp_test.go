package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/inventory/inventorytest"

	"github.com/hala-lb/hala/pkg/inventory"
)

// bgpInv is the shared active-active fixture.
var bgpInv = inventorytest.BGP

// With BGP, status shows the VIPs on hala0, the director's sessions and
// what it announces, as hala director's /bgp gives them.
func TestCollectBGP(t *testing.T) {
	i, err := inventory.Parse("inv.toml", []byte(bgpInv))
	if err != nil {
		t.Fatal(err)
	}
	// The JSON hala director serves on /bgp.
	body := `{"peers":[{"address":"10.0.0.254","asn":65000,"up":true,"since":"2026-01-02T03:04:05Z","state":"established","bfd":"up"},
		{"address":"10.0.0.253","asn":65000,"up":false,"since":"2026-01-02T03:05:00Z","state":"active","bfd":"down","reason":"hold timer expired"}],
		"announced":{"logs":"10.99.0.10"},"drained":false}`
	cfg := Config{
		Inventory: i, Timeout: 200 * time.Millisecond, Node: "d1",
		Client:  func(inventory.Logstash) (Source, error) { return &source{}, nil },
		IPVSErr: fmt.Errorf("open IPVS: %w", syscall.EPERM),
		VIPErr:  fmt.Errorf("netlink: %w", syscall.EPERM),
		BGP: func(context.Context) (*BGP, error) {
			var b BGP
			return &b, json.Unmarshal([]byte(body), &b)
		},
	}
	st := Collect(context.Background(), cfg)
	var b bytes.Buffer
	if err := st.WriteText(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"logs  10.99.0.10/32 dev hala0  (no root)",
		"  peer 10.0.0.254 AS65000  established since 2026-01-02T03:04:05Z  bfd up\n",
		"  peer 10.0.0.253 AS65000  active since 2026-01-02T03:05:00Z  bfd down  (hold timer expired)\n",
		"  announced: logs (10.99.0.10)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}

	cfg.BGP = func(context.Context) (*BGP, error) {
		return nil, errors.New("hala director on 127.0.0.1:9610: connection refused")
	}
	st = Collect(context.Background(), cfg)
	b.Reset()
	_ = st.WriteText(&b, false)
	if !strings.Contains(b.String(), "BGP:\n  BGP not read: hala director on 127.0.0.1:9610: connection refused\n") {
		t.Errorf("no note for an unreadable director:\n%s", b.String())
	}
	if _, ok := i.VIP("logs"); !ok || netip.MustParseAddr("10.99.0.10") != st.VIPs[0].Address.Addr() {
		t.Errorf("VIP rows %+v", st.VIPs)
	}
}
