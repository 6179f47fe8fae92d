// Package healthz is the client side of hala director's /healthz: what
// keepalived's vrrp_script (hala director health) asks every second. It is
// a package of its own so that the hala binary can ask without linking the
// director (Prometheus, GoBGP), which lives in the hala-director binary.
//
// It imports the standard library only.
package healthz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// Probe asks the director serving on addr (host:port) for /healthz and
// returns nil when it answers 200, else an error with its reason.
func Probe(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return fmt.Errorf("hala director not answering on %s (not running?): %w", addr, ne.Err)
		}
		return fmt.Errorf("hala director on %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hala director on %s unhealthy: %s", addr, strings.TrimSpace(string(body)))
	}
	return nil
}
