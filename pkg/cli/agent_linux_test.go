//go:build linux && integration

package cli_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// The hala agent command as the unit runs it: its token from a mode 0600
// file, the state of the input's socket on its stream, /metrics behind
// the token; SIGTERM ends it with status 0.
func TestAgentProcess(t *testing.T) {
	hala := testutil.HalaBinary(t)
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	port := uc.LocalAddr().(*net.UDPAddr).Port
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "inventory.toml")
	if err := os.WriteFile(inv, fmt.Appendf(nil, `
[cluster]
name = "t"
interface = "eth0"
vrrp_auth_pass = "secret42"
ipvs = "director"
[[director]]
name = "d1"
address = "192.0.2.1"
[[logstash]]
name = "l1"
address = "192.0.2.20"
[[vip]]
name = "logs"
address = "192.0.2.100/24"
router_id = 1
[[service]]
name = "syslog-udp"
vip = "logs"
port = %d
protocol = "udp"
input_id = "u"
[agent]
port = 9611
token_file = %q
`, port, token), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := testutil.Start(t, exec.Command(hala, "agent", "-i", inv, "--node", "l1", "--listen", addr))
	base := "http://" + addr
	var states []agent.State
	if _, err := testutil.Poll(10*time.Second, 50*time.Millisecond, func() error {
		states, err = agent.Snapshot(context.Background(), agent.NewClient(), base, "s3cret")
		if err == nil && (len(states) != 1 || !states[0].Up) {
			err = fmt.Errorf("states %+v", states)
		}
		return err
	}); err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	if _, err := agent.Snapshot(context.Background(), agent.NewClient(), base, ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("no token: %v, want 401", err)
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `hala_receiver_socket_up{backend="l1",service="syslog-udp"} 1`; !strings.Contains(string(b), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("SIGTERM: %v, want exit 0\n%s", err, p.Output())
	}
}
