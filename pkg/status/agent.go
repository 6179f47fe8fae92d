package status

import (
	"context"
	"slices"
	"sync"

	"github.com/hala-lb/hala/pkg/agent/stream"
	"github.com/hala-lb/hala/pkg/inventory"
)

// ReceiverFunc asks a Logstash host's hala agent for its inputs' states
// (stream.Snapshot).
type ReceiverFunc func(ctx context.Context, l inventory.Logstash) ([]stream.State, error)

// receivers asks every Logstash host's agent at once; a host whose agent
// does not answer is left out (its rows show no drops).
func receivers(ctx context.Context, cfg Config) map[string][]stream.State {
	out := map[string][]stream.State{}
	if cfg.Receivers == nil {
		return out
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, l := range cfg.Inventory.Logstash {
		wg.Go(func() {
			st, err := cfg.Receivers(ctx, l)
			if err != nil {
				return
			}
			mu.Lock()
			out[l.Name] = st
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// drops is the kernel's drop count at the socket of service s's input on
// a host, from its agent's states (nil: no agent answered for it).
func drops(states []stream.State, s inventory.Service) *uint64 {
	for _, st := range states {
		if slices.Contains(st.Services, s.Name) {
			n := st.Drops
			return &n
		}
	}
	return nil
}
