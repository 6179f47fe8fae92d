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
	"time"
)

// Header marks /healthz answers as hala director's own, so that a probe
// tells them from whatever else might answer 200 on the address.
const Header = "X-Hala-Director"

// Probe asks the director serving on addr (host:port) for /healthz,
// waiting at most timeout, and returns nil when it answers 200 with
// Header, else an error with the reason: keepalived's vrrp_script
// (hala director health) runs it every second.
func Probe(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		var ne *net.OpError
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("no hala director answering on %s (timed out after %s)", addr, timeout)
		case errors.As(err, &ne) && ne.Op == "dial":
			return fmt.Errorf("no hala director answering on %s (%w): is hala-director running?", addr, ne.Err)
		}
		return fmt.Errorf("hala director on %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.Header.Get(Header) == "" {
		return fmt.Errorf("no hala director answering on %s: HTTP %d from something else (no %s header); metrics_address must be hala director's alone", addr, resp.StatusCode, Header)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hala director on %s unhealthy: %s", addr, strings.TrimSpace(string(body)))
	}
	return nil
}
