//go:build linux && integration

package testutil

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Two namespaces on one LAN reach each other, a listener opened with Listen
// lives in its namespace, and cleanup removes the namespaces and kills what
// ran inside.
func TestIntegrationNetNSLAN(t *testing.T) {
	RequireKernel(t)
	var names []string
	var sleeper *exec.Cmd
	t.Run("lan", func(t *testing.T) {
		lan := NewLAN(t)
		a, b := NewNetNS(t), NewNetNS(t)
		names = append(names, lan.NS.Name, a.Name, b.Name)
		lan.Attach(t, a, "eth0", netip.MustParsePrefix("10.99.0.1/24"))
		lan.Attach(t, b, "eth0", netip.MustParsePrefix("10.99.0.2/24"))

		l := b.Listen(t, "tcp4", "10.99.0.2:9600")
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, "hello from b\n")
				c.Close()
			}
		}()
		// From a, over the bridge.
		out := a.Run(t, "busybox", "nc", "-w", "2", "10.99.0.2", "9600")
		if !strings.Contains(out, "hello from b") {
			t.Fatalf("nc from a got %q, want the listener's greeting", out)
		}
		// The host namespace is untouched: the address exists only inside.
		hostAddrs, err := net.InterfaceAddrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, ha := range hostAddrs {
			if strings.HasPrefix(ha.String(), "10.99.0.") {
				t.Fatalf("host namespace has %s; a test address leaked out of its namespace", ha)
			}
		}
		// Do really runs inside: a's interface is visible there.
		err = a.Do(func() error {
			ifc, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			addrs, err := ifc.Addrs()
			if err != nil {
				return err
			}
			if len(addrs) == 0 || !strings.HasPrefix(addrs[0].String(), "10.99.0.1/") {
				return fmt.Errorf("eth0 addresses %v, want 10.99.0.1/24", addrs)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Do in %s: %v", a, err)
		}
		// Left running on purpose: cleanup must kill it.
		sleeper = a.Cmd("sleep", "600")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
	})
	for _, n := range names {
		if _, err := os.Stat("/run/netns/" + n); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("netns %s still present after cleanup (stat: %v)", n, err)
		}
	}
	if sleeper == nil {
		return
	}
	done := make(chan struct{})
	go func() { sleeper.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		sleeper.Process.Kill()
		t.Error("process left in a namespace still running after cleanup")
	}
}
