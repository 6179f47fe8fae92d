package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/director"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
	"github.com/hala-lb/hala/pkg/vip"
)

// defaultMetricsAddress is on loopback: the metrics say which backends are
// down and why, which is not for every network.
const defaultMetricsAddress = "127.0.0.1:9610"

type directorFlags struct {
	inventory     string
	node          string
	metrics       string
	logFormat     string
	flushOnExit   bool
	state         string
	checkStateDir string
	drainDir      string
}

func newDirectorCommand(streams IOStreams) *cobra.Command {
	f := &directorFlags{}
	cmd := &cobra.Command{
		Use:   "director -i FILE [--node NAME] [--metrics-address ADDR] [--log-format text|json]",
		Short: "Run the resident IPVS director: in-process checks, one netlink write per transition",
		Long: `Runs in the foreground (systemd Type=notify) and keeps this director's IPVS
table on what the inventory and the Logstash APIs say, with keepalived
doing VRRP only (cluster.ipvs = "director"; hala render writes that
keepalived.conf and hala-director.service).

Each backend is asked once per service interval (default 1s), on one
kept-alive connection, and every input it serves is judged from that one
answer by the code behind hala check. An input failing "fall" checks in a
row takes its destinations out of every service using it at once, one
netlink request each; "rise" passes bring them back. Every
cluster.reconcile_interval (default 10s) the whole table is re-applied
through the plan/apply path of hala ipvs apply, so rules removed or edited
by hand come back; services hala does not own are never touched.

A backend drained with hala drain (a record in --drain-dir) leaves every
service at its next round: UDP destinations are removed, TCP ones set to
weight 0 so sessions finish. Services with weights = "load" get each
destination's weight from its Logstash load (see hala check --help).

Signals: SIGHUP reloads the inventory (an invalid one is refused and the
running one kept); SIGTERM or SIGINT stop the checks and exit 0, leaving
the table as it is so traffic keeps flowing across a restart
(--flush-on-exit removes hala's services instead).

/metrics (Prometheus) and /healthz are served on --metrics-address, on
loopback unless you say otherwise; never on all interfaces.`,
		Example: `  hala director -i /etc/hala/inventory.toml
  hala director -i cluster.toml --node stash1 --metrics-address 192.168.1.210:9610 --log-format json
  systemctl reload hala-director    # SIGHUP: reload the inventory`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDirector(cmd.Context(), streams, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	fl.StringVar(&f.node, "node", "", "this director's `NAME` in the inventory")
	fl.StringVar(&f.metrics, "metrics-address", defaultMetricsAddress, "`ADDR` (host:port) for /metrics and /healthz; \"off\" to serve none")
	fl.StringVar(&f.logFormat, "log-format", "text", "log `FORMAT` on stderr: text or json")
	fl.BoolVar(&f.flushOnExit, "flush-on-exit", false, "delete the services hala owns when stopping")
	fl.StringVar(&f.state, "state", "", "ownership state `FILE` (default "+reconcile.DefaultStatePath+")")
	fl.StringVar(&f.drainDir, "drain-dir", drain.Dir(), "`DIR` of hala drain's records, read every round (or $"+drain.EnvDir+")")
	fl.StringVar(&f.checkStateDir, "check-state-dir", "", "`DIR` for check state (default $STATE_DIRECTORY, else /run/hala)")
	_ = cmd.MarkFlagRequired("inventory")
	cmd.AddCommand(newDirectorHealthCommand(streams))
	return cmd
}

// newDirectorHealthCommand is keepalived's vrrp_script for a director:
// exit 0 while the local hala director says it is healthy, else 1, with
// the reason on stderr and in syslog (keepalived discards stderr).
func newDirectorHealthCommand(streams IOStreams) *cobra.Command {
	var addr string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health [--metrics-address ADDR] [--timeout DURATION]",
		Short: "Exit 0 while the local hala director is healthy (keepalived's vrrp_script)",
		Long: `Asks the hala director serving on --metrics-address for /healthz: exit 0
when it answers 200 within --timeout, else 1 with the reason on stderr and
in syslog (tag hala-director). hala render puts it in keepalived.conf as a
vrrp_script when cluster.ipvs = "director", so a director whose hala
director is down, wedged or failing to program IPVS gives up its VIPs.`,
		Example: `  hala director health
  hala director health --metrics-address 127.0.0.1:9610 --timeout 500ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s: must be positive", timeout)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := director.ProbeHealth(ctx, addr); err != nil {
				line := err.Error()
				fmt.Fprintln(streams.ErrOut, "hala-director: "+line)
				logSyslogTag("hala-director", syslog.LOG_ERR, line)
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "metrics-address", defaultMetricsAddress, "`ADDR` (host:port) the director serves /healthz on")
	cmd.Flags().DurationVar(&timeout, "timeout", 500*time.Millisecond, "bound on the request (`DURATION`)")
	return cmd
}

func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, withHint(fmt.Errorf("--log-format %q: want text or json", format), "journald keeps either; json suits log shippers")
}

// metricsListener refuses an address on all interfaces.
func metricsListener(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-address %q: %w", addr, err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		return nil, withHint(fmt.Errorf("--metrics-address %q listens on every interface", addr),
			"give one address, e.g. 127.0.0.1:9610 or this director's own address")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	return ln, nil
}

func runDirector(ctx context.Context, streams IOStreams, f *directorFlags) error {
	log, err := newLogger(streams.ErrOut, f.logFormat)
	if err != nil {
		return err
	}
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return problemsError(f.inventory, err)
	}
	if !inv.UsesDirector() {
		return withHint(fmt.Errorf("%s: cluster.ipvs is %q: keepalived manages these virtual servers, and a director would fight it over the same table", f.inventory, inv.Cluster.IPVS),
			`set ipvs = "director" under [cluster], render again and install the new keepalived.conf (VRRP only)`)
	}
	stateDir := f.checkStateDir
	if stateDir == "" {
		stateDir = os.Getenv("STATE_DIRECTORY") // systemd's StateDirectory=
	}
	var ln net.Listener
	if f.metrics != "off" {
		if ln, err = metricsListener(f.metrics); err != nil {
			return err
		}
		defer ln.Close()
	}
	h, err := ipvs.New("")
	if err != nil {
		return fmt.Errorf("open IPVS: %w", err)
	}
	defer h.Close()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg := director.Config{
		Inventory: inv, Node: f.node, Target: h, Logger: log, StatePath: f.state,
		CheckStateDir: stateDir, DrainDir: f.drainDir, FlushOnExit: f.flushOnExit,
		Ready: func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyReady) },
	}
	if every, err := daemon.SdWatchdogEnabled(false); err == nil && every > 0 {
		cfg.Watchdog = func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog) }
		cfg.WatchdogInterval = every / 2
	}
	if inv.UsesBGP() {
		if f.node == "" {
			return withHint(fmt.Errorf("%s: cluster.ha = \"bgp\" needs --node: this director's address is the next hop it announces", f.inventory),
				"the rendered hala-director.service passes --node NAME; by hand: hala director -i FILE --node NAME")
		}
		vh, err := vip.New("")
		if err != nil {
			return fmt.Errorf("open netlink for the VIPs: %w", err)
		}
		defer vh.Close()
		cfg.LocalVIPs = vh
	}
	d, err := director.New(cfg)
	if err != nil {
		return err
	}
	if ln != nil {
		srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				log.Error("metrics server stopped", "error", err)
			}
		}()
		defer srv.Close()
		log.Info("serving /metrics and /healthz", "address", ln.Addr().String())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reloadDirector(ctx, d, f.inventory, log)
			}
		}
	}()
	// Through the logger: with --log-format json every line is a record.
	for _, w := range inv.Warnings {
		log.Warn("inventory warning", "problem", w.String())
	}
	log.Info("starting", "inventory", f.inventory, "services", len(inv.Services))
	return d.Run(ctx)
}

// reloadDirector reads and validates the inventory again; an invalid one
// is refused with every file:line problem logged.
func reloadDirector(ctx context.Context, d *director.Director, file string, log *slog.Logger) {
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReloading)
	defer func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyReady) }()
	inv, err := inventory.Load(file)
	if err != nil {
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			for _, p := range joined.Unwrap() {
				log.Error("reload refused: invalid inventory; keeping the running one", "problem", p.Error())
			}
		} else {
			log.Error("reload refused: invalid inventory; keeping the running one", "problem", err.Error())
		}
		return
	}
	for _, w := range inv.Warnings {
		log.Warn("inventory warning", "problem", w.String())
	}
	if err := d.Reload(ctx, inv); err != nil {
		return // logged by the director
	}
}
