package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/internal/atomicfile"
	"github.com/hala-lb/hala/pkg/logstash"
)

// idleState is kept per (node, pipeline, input) for --max-idle.
type idleState struct {
	Out   int64 `json:"events_out"`
	Since int64 `json:"since_unix_ms"` // when Out last changed
}

// checkIdle fails the input when events.out has not changed for MaxIdle,
// returning the reason. Each failure restarts the idle clock: keepalived
// then removes the real server, IPVS sends it nothing and its counter
// cannot move, so without the restart the node would stay out for good
// (and a quiet night would empty the whole service). The node is
// readmitted at the next run and judged again after another MaxIdle.
//
// State that cannot be read or written never fails the check: the API
// answered and the input is there, so the verdict is healthy with a
// warning (a root-owned state dir must not take every backend down).
func checkIdle(o Options, v *Verdict, p *logstash.Pipeline, in *logstash.Input) string {
	var out int64
	if in.Events != nil {
		out = in.Events.Out
	}
	now := o.Now()
	path := statePath(o.StateDir, "idle", o.Address, p.ID, in.ID)
	save := func(st idleState) {
		if o.ReadOnly {
			v.note("max-idle: state not written (read-only run)")
			return
		}
		if err := writeState(o.StateDir, path, st); err != nil {
			v.warn("--max-idle not enforced: %v", err)
		}
	}
	var st idleState
	data, err := os.ReadFile(path)
	switch {
	case err == nil && json.Unmarshal(data, &st) == nil && st.Out == out:
		since := time.UnixMilli(st.Since)
		if idle := now.Sub(since); idle >= o.MaxIdle {
			save(idleState{Out: out, Since: now.UnixMilli()})
			v.note("max-idle %s: idle clock restarted; the node is readmitted at the next run", o.MaxIdle)
			return fmt.Sprintf("has received no events for %s (events.out stuck at %d since %s; --max-idle %s)",
				idle.Round(time.Second), out, since.Format(time.RFC3339), o.MaxIdle)
		}
		v.note("max-idle %s: events.out %d unchanged for %s", o.MaxIdle, out, now.Sub(since).Round(time.Second))
		return ""
	case err != nil && !errors.Is(err, os.ErrNotExist):
		v.warn("--max-idle not enforced: read state: %v", err)
		return ""
	}
	// First run, or the counter moved (or went back: a restart).
	v.note("max-idle %s: events.out is moving (%d)", o.MaxIdle, out)
	save(idleState{Out: out, Since: now.UnixMilli()})
	return ""
}

// runningState caches /_health_report per node for --require-running.
type runningState struct {
	Fetched   int64             `json:"fetched_unix_ms"`
	Supported bool              `json:"supported"`
	Summary   map[string]string `json:"summary"` // pipeline id → "RUNNING (green)"
	State     map[string]string `json:"state"`   // pipeline id → RUNNING
}

// checkRunning verifies the pipeline's state is RUNNING in the health
// report, reusing a cached answer younger than RunningInterval.
func checkRunning(ctx context.Context, src Source, o Options, v *Verdict, p *logstash.Pipeline) (string, error) {
	if v.Stats.Version != "" && !v.Stats.VersionAtLeast(8, 16) {
		v.note("require-running: skipped, Logstash %s has no /_health_report (8.16+)", v.Stats.Version)
		return "", nil
	}
	path := statePath(o.StateDir, "health", o.Address)
	now := o.Now()
	var st runningState
	cached := false
	if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &st) == nil {
		age := now.Sub(time.UnixMilli(st.Fetched))
		_, known := st.State[p.ID]
		cached = age >= 0 && age < o.RunningInterval && (known || !st.Supported)
		if cached {
			v.note("require-running: using the health report fetched %s ago (interval %s)", age.Round(time.Millisecond), o.RunningInterval)
		}
	}
	if !cached {
		rep, err := src.HealthReport(ctx)
		switch {
		case errors.Is(err, logstash.ErrNoHealthReport):
			st = runningState{Fetched: now.UnixMilli(), Supported: false}
		case err != nil:
			return "health report: " + Describe(ctx, err, o.Timeout), err
		default:
			st = runningState{Fetched: now.UnixMilli(), Supported: true, Summary: map[string]string{}, State: map[string]string{}}
			for id, ph := range rep.Pipelines {
				st.Summary[id] = ph.String()
				st.State[id] = ph.State
			}
		}
		if o.ReadOnly {
			v.note("require-running: health report not cached (read-only run)")
		} else if err := writeState(o.StateDir, path, st); err != nil {
			v.warn("--require-running cannot cache /_health_report (%v): asking it every run", err)
		}
	}
	if !st.Supported {
		v.note("require-running: skipped, the node has no /_health_report (Logstash < 8.16)")
		return "", nil
	}
	state, ok := st.State[p.ID]
	switch {
	case !ok:
		return "pipeline not in /_health_report", nil
	case state != "RUNNING":
		return fmt.Sprintf("pipeline state is %s, not RUNNING (/_health_report: %s)", state, st.Summary[p.ID]), nil
	}
	v.note("require-running: pipeline %q is %s", p.ID, st.Summary[p.ID])
	return "", nil
}

// udpInputs listen on UDP only: there is nothing to connect to.
var udpInputs = map[string]bool{"udp": true, "snmptrap": true, "gelf_udp": true}

// probe connects to the input's TCP port.
func probe(ctx context.Context, o Options, v *Verdict, in *logstash.Input) (string, error) {
	if udpInputs[in.Name] {
		v.note("probe: skipped, %s listens on UDP (nothing to connect to)", in)
		return "", nil
	}
	if o.ProbePort < 1 || o.ProbePort > 65535 {
		return "--probe needs the input's TCP port (--probe-port)", nil
	}
	dial := o.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	addr := net.JoinHostPort(o.Host, strconv.Itoa(o.ProbePort))
	start := time.Now()
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Sprintf("TCP probe of %s failed: %s", addr, Describe(ctx, err, o.Timeout)), err
	}
	conn.Close()
	v.note("probe: connected to %s in %s", addr, time.Since(start).Round(10*time.Microsecond))
	return "", nil
}

// statePath names a state file from its key parts: readable, and unique
// thanks to a hash of the exact key.
func statePath(dir, kind string, parts ...string) string {
	key := strings.Join(parts, "\x00")
	h := fnv.New64a()
	h.Write([]byte(key))
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, strings.Join(parts, "_"))
	if len(clean) > 100 {
		clean = clean[:100]
	}
	return filepath.Join(dir, fmt.Sprintf("%s-%s-%016x.json", kind, clean, h.Sum64()))
}

// writeState writes v as JSON to path atomically. Not synced: it runs
// on every check, and lost state is rebuilt (the weight from MaxWeight,
// the counters from the next sample).
func writeState(dir, path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	if err := atomicfile.Write(path, data, 0o600, atomicfile.Atomic); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}
