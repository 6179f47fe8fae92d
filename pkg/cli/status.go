package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/logstash"
	"github.com/hala-lb/hala/pkg/status"
	"github.com/hala-lb/hala/pkg/vip"
)

type statusFlags struct {
	inventory string
	node      string
	netns     string
	output    string
	watch     time.Duration
	drainDir  string
	metrics   string
}

func newStatusCommand(streams IOStreams) *cobra.Command {
	f := &statusFlags{}
	cmd := &cobra.Command{
		Use:   "status [-i] FILE [-o json] [--watch 2s]",
		Short: "Show the whole cluster from this director: backends, inputs, load, IPVS, VIPs",
		Long: `One table for the cluster, seen from the local director: per service and
backend, whether the Logstash API answers and its version, whether the
service's input is there (and its pipeline RUNNING, 8.16+), the input's
events/s from two samples, the pipeline's load (worker_utilization),
whether the backend is drained, and whether it is in the local IPVS table,
with what weight. Below it, which VIPs this director holds.

Every backend is asked at once, bounded by cluster.check_timeout, so a
hundred backends take about one timeout. Without root, or without IPVS in
the kernel, the IPVS and VIP columns say why they are empty and the rest
still works. The table fits 100 columns; colours only on a terminal, and
never with NO_COLOR set or TERM=dumb. --watch redraws it every interval,
counted from the start of a round: a round that takes longer (a black-holed
API costs one check_timeout) says so, and the next follows at once. With
-o json it prints one JSON object per line instead.

A backend serves a service when its API answers with the service's input
there (and its pipeline running, 8.16+) and it is not drained; a drain
record that cannot be read counts as not drained, as in hala check, and
is shown as "unreadable" with why.

Exit status (without --watch; interrupted, --watch exits 0):
  0  healthy: every backend serves every service it is in
  2  degraded: some backend does not, but every service has one that does
  3  no healthy backend: some service has no backend that serves it
  1  an error (bad inventory, flags)`,
		Example: `  hala status -i /etc/hala/inventory.toml
  hala status /etc/hala/inventory.toml --watch 2s
  hala status -i /etc/hala/inventory.toml -o json | jq '.backends[] | select(.api != "up")'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := inventoryArg(&f.inventory, args, "hala status"); err != nil {
				return err
			}
			return runStatus(cmd.Context(), streams, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	fl.StringVar(&f.node, "node", "", "director `NAME` whose VIPs to show (default: this host's name)")
	fl.StringVar(&f.netns, "netns", "", "network namespace `PATH` whose IPVS table and VIPs to read (default: the current one)")
	fl.StringVarP(&f.output, "output", "o", "text", "output `FORMAT`: text or json")
	fl.DurationVar(&f.watch, "watch", 0, "redraw every `DURATION` until interrupted")
	fl.StringVar(&f.drainDir, "drain-dir", drain.Dir(), "`DIR` of hala drain's records (or $"+drain.EnvDir+")")
	fl.StringVar(&f.metrics, "metrics-address", "", "`ADDR` (host:port) of the local hala director, asked for its BGP sessions (cluster.ha = \"bgp\"; default: the inventory's metrics_address)")
	return cmd
}

// drainedIn reads hala drain's records in dir for the status table; a
// record that cannot be read shows as not drained, with why.
func drainedIn(dir string) status.DrainFunc {
	return func(a netip.Addr) (bool, string, error) {
		r, err := drain.Lookup(dir, a)
		switch {
		case err != nil:
			return false, "", fmt.Errorf("drain record unreadable: %w", err)
		case r == nil:
			return false, "", nil
		}
		return true, r.Reason(), nil
	}
}

// hala status's exit status beyond 0 (healthy) and 1 (an error).
const (
	exitDegraded         = 2
	exitNoHealthyBackend = 3
)

// exitCode is hala status's exit status for a verdict.
func exitCode(v status.Verdict) int {
	switch v {
	case status.Degraded:
		return exitDegraded
	case status.NoHealthyBackend:
		return exitNoHealthyBackend
	}
	return 0
}

// useColor: a terminal, unless NO_COLOR is set or TERM says it has no
// colours (dumb, or unset).
func useColor(tty bool, getenv func(string) string) bool {
	term := getenv("TERM")
	return tty && getenv("NO_COLOR") == "" && term != "" && term != "dumb"
}

// watchLine heads each --watch round: the time, the period, and when the
// round took longer than the period (a black-holed API costs a whole
// check_timeout), that the next one follows at once.
func watchLine(at time.Time, every, took time.Duration) string {
	l := at.Format(time.TimeOnly) + "  every " + every.String()
	if took > every {
		l += fmt.Sprintf(" (this round took %s: a slow or silent API; the next starts at once)", took.Round(100*time.Millisecond))
	}
	return l
}

func runStatus(ctx context.Context, streams IOStreams, f *statusFlags) error {
	if f.output != "text" && f.output != "json" {
		return withHint(fmt.Errorf("unknown output format %q", f.output), "use -o text or -o json")
	}
	if f.watch < 0 {
		return fmt.Errorf("--watch %s: must be positive", f.watch)
	}
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return err
	}
	printWarnings(streams, inv)
	cfg := status.Config{Inventory: inv, Timeout: inv.Cluster.CheckTimeout.Duration, Drained: drainedIn(f.drainDir)}
	if f.node != "" {
		if cfg.Node, err = directorNode(inv, f.node); err != nil {
			return err
		}
	} else if cfg.Node, err = directorNode(inv, ""); err != nil {
		cfg.NodeErr = err
		var h *hintError
		if errors.As(err, &h) {
			cfg.NodeErr = fmt.Errorf("%w (%s)", err, h.hint)
		}
	}
	// The auth file is read once, before any host is asked.
	api, err := check.APIConfig(inv, "", 0)
	if err != nil {
		return err
	}
	cfg.Client = func(l inventory.Logstash) (status.Source, error) {
		c := api
		c.Host, c.Port = l.Address.String(), l.APIPort
		return logstash.New(c)
	}
	if cfg.Receivers, err = agentReceivers(inv); err != nil {
		return err
	}
	if h, err := ipvs.New(f.netns); err != nil {
		if f.netns != "" && (errors.Is(err, ipvs.ErrNotNamespace) || errors.Is(err, fs.ErrNotExist)) {
			return netnsHint(err)
		}
		cfg.IPVSErr = err
	} else {
		defer h.Close()
		cfg.IPVS = h
	}
	if cfg.Node != "" {
		if h, err := vip.New(f.netns); err != nil {
			cfg.VIPErr = err
		} else {
			defer h.Close()
			cfg.VIPs = h
		}
	}
	if inv.UsesBGP() {
		addr := f.metrics
		if addr == "" {
			addr = inv.MetricsAddress(cfg.Node)
		}
		cfg.BGP = directorBGP(addr)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tty := isTerminal(streams.Out)
	color := useColor(tty, os.Getenv)
	for {
		start := time.Now()
		st := status.Collect(ctx, cfg)
		if ctx.Err() != nil {
			return nil // interrupted: the half-asked round is not printed
		}
		if f.output == "json" {
			err = st.WriteJSON(streams.Out)
		} else {
			if f.watch > 0 && tty {
				io.WriteString(streams.Out, "\x1b[H\x1b[2J") // home, clear
			}
			if f.watch > 0 {
				fmt.Fprintf(streams.Out, "%s\n\n", watchLine(start, f.watch, st.Elapsed))
			}
			err = st.WriteText(streams.Out, color)
		}
		switch {
		case err != nil:
			return err
		case f.watch == 0 && exitCode(st.Verdict()) != 0:
			return &ExitError{Code: exitCode(st.Verdict())}
		case f.watch == 0:
			return nil
		}
		// The period runs from the start of a round, so a slow round
		// does not stretch it by its own length.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(start.Add(f.watch))):
		}
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
