package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/hala-lb/hala/pkg/status"
)

// directorBGP asks the local hala director for its BGP sessions and
// announced VIPs (its /bgp, next to /metrics).
func directorBGP(addr string) func(context.Context) (*status.BGP, error) {
	return func(ctx context.Context) (*status.BGP, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/bgp", nil)
		if err != nil {
			return nil, err
		}
		client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("hala director on %s: %w", addr, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("hala director on %s: %w", addr, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("hala director on %s: %s", addr, resp.Status)
		}
		var b status.BGP
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, fmt.Errorf("hala director on %s: %w", addr, err)
		}
		return &b, nil
	}
}
