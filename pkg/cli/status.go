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
		Use:   "status -i FILE [-o json] [--watch 2s]",
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
never with NO_COLOR set. --watch redraws it every interval; with -o json
it prints one JSON object per line instead.`,
		Example: `  hala status -i /etc/hala/cluster.toml
  hala status -i /etc/hala/cluster.toml --watch 2s
  hala status -i /etc/hala/cluster.toml -o json | jq '.backends[] | select(.api != "up")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	fl.StringVar(&f.metrics, "metrics-address", defaultMetricsAddress, "`ADDR` (host:port) of the local hala director, asked for its BGP sessions (cluster.ha = \"bgp\")")
	_ = cmd.MarkFlagRequired("inventory")
	return cmd
}

// drainedIn reads hala drain's records in dir for the status table; a
// record that cannot be read shows as not drained, with why.
func drainedIn(dir string) status.DrainFunc {
	return func(a netip.Addr) (bool, string) {
		r, err := drain.Lookup(dir, a)
		switch {
		case err != nil:
			return false, "drain record unreadable: " + err.Error()
		case r == nil:
			return false, ""
		}
		return true, "drained since " + r.Since.Format(time.RFC3339) + " (hala drain)"
	}
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
		cfg.BGP = directorBGP(f.metrics)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	tty := isTerminal(streams.Out)
	color := tty && os.Getenv("NO_COLOR") == ""
	for {
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
				fmt.Fprintf(streams.Out, "%s  every %s\n\n", time.Now().Format(time.TimeOnly), f.watch)
			}
			err = st.WriteText(streams.Out, color)
		}
		if err != nil || f.watch == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.watch):
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
