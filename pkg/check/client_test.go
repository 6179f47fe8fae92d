package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
)

func clientInventory(t *testing.T, authFile string) *inventory.Inventory {
	t.Helper()
	src := `[cluster]
name = "t"
interface = "eth0"
api_scheme = "https"
api_ca = "/etc/hala/ca.pem"
api_auth_file = "` + authFile + `"

[[director]]
name = "d1"
address = "10.0.0.1"

[[logstash]]
name = "l1"
address = "10.0.0.11"

[[vip]]
name = "v"
address = "10.0.0.100/24"
router_id = 1

[[service]]
name = "s"
vip = "v"
port = 5514
protocol = "udp"
input_id = "udp-5514"
`
	inv, err := inventory.Parse("cluster.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestAPIConfig: the inventory's scheme, CA and credentials reach the
// client; an auth file that cannot be used is an error naming the
// inventory and the key.
func TestAPIConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "auth")
	if err := os.WriteFile(good, []byte("hala:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := APIConfig(clientInventory(t, good), "10.0.0.11", 9600)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "10.0.0.11" || cfg.Port != 9600 || cfg.Scheme != "https" || cfg.CAFile != "/etc/hala/ca.pem" {
		t.Errorf("config %+v lacks the host, port, scheme or CA", cfg)
	}
	if cfg.Credentials == nil || cfg.Credentials.Username != "hala" || cfg.Credentials.Password != "s3cret" {
		t.Errorf("credentials %+v, want hala:s3cret from %s", cfg.Credentials, good)
	}

	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("hala:s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = APIConfig(clientInventory(t, open), "10.0.0.11", 9600)
	if err == nil || !strings.HasPrefix(err.Error(), "cluster.toml: cluster.api_auth_file: ") || !strings.Contains(err.Error(), open) {
		t.Errorf("world-readable auth file: %v, want an error naming cluster.toml, cluster.api_auth_file and %s", err, open)
	}
}
