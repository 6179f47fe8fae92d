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
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/director"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
	"github.com/hala-lb/hala/pkg/render"
	"github.com/hala-lb/hala/pkg/vip"
)

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
		Use:   "director -i FILE [--node NAME] [--log-format text|json]",
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

/metrics (Prometheus) and /healthz are served on the inventory's
metrics_address (cluster.metrics_address, default 127.0.0.1:9610, or the
director's own metrics_address), the address keepalived's tracking script
(hala director health, rendered into keepalived.conf) asks: both read the
one key, so they cannot disagree. --metrics-address is kept for old
command lines and must name that same address.

Exit status: 0 after SIGTERM or SIGINT; 78 (EX_CONFIG) for what
restarting cannot mend: no or an invalid inventory, cluster.ipvs not
"director", an unknown --node, a --metrics-address other than the
inventory's, no CAP_NET_ADMIN; 69 (EX_UNAVAILABLE) when the kernel has no
IPVS (modprobe ip_vs); 1 for anything else (systemd restarts it). The
unit's RestartPreventExitStatus= lists 78 and 69, so systemd does not
loop on them. With --log-format json a start-up error is a JSON record
too ("msg":"hala director stopped", with "error", "exit" and "hint").`,
		Example: `  hala director -i /etc/hala/inventory.toml --node stash1
  hala director -i /etc/hala/inventory.toml --node stash1 --log-format json
  systemctl reload hala-director    # SIGHUP: reload the inventory`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDirector(cmd.Context(), streams, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	fl.StringVar(&f.node, "node", "", "this director's `NAME` in the inventory")
	fl.StringVar(&f.metrics, "metrics-address", "", "`ADDR` for /metrics and /healthz: must equal the inventory's metrics_address, which is the default")
	fl.StringVar(&f.logFormat, "log-format", "text", "log `FORMAT` on stderr: text or json")
	fl.BoolVar(&f.flushOnExit, "flush-on-exit", false, "delete the services hala owns when stopping")
	fl.StringVar(&f.state, "state", "", "ownership state `FILE` (default "+reconcile.DefaultStatePath+")")
	fl.StringVar(&f.drainDir, "drain-dir", drain.Dir(), "`DIR` of hala drain's records, read every round (or $"+drain.EnvDir+")")
	fl.StringVar(&f.checkStateDir, "check-state-dir", "", "`DIR` for check state, what hala check keeps in its --state-dir (default $STATE_DIRECTORY, else /run/hala)")
	cmd.AddCommand(newDirectorHealthCommand(streams))
	return cmd
}

// newDirectorHealthCommand is keepalived's vrrp_script for a director:
// exit 0 while the local hala director says it is healthy, else 1, with
// the reason on stderr and in syslog (keepalived discards stderr).
func newDirectorHealthCommand(streams IOStreams) *cobra.Command {
	var addr, inv, node string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health [--metrics-address ADDR | -i FILE [--node NAME]] [--timeout DURATION]",
		Short: "Exit 0 while the local hala director is healthy (keepalived's vrrp_script)",
		Long: `Asks the hala director serving on --metrics-address for /healthz: exit 0
when hala director's own health document (marked by its X-Hala-Director
header; any other 200 does not count) says healthy within --timeout, else
1 with the reason on stderr and in syslog (tag hala-director), e.g.
"no hala director answering on 127.0.0.1:9610 (timed out after 1s)". hala render puts it in keepalived.conf as a
vrrp_script when cluster.ipvs = "director", so a director whose hala
director is down, wedged or failing to program IPVS gives up its VIPs.`,
		Example: `  hala director health
  hala director health -i /etc/hala/inventory.toml --node stash1
  hala director health --metrics-address 127.0.0.1:9610 --timeout 500ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s: must be positive", timeout)
			}
			if inv != "" && !cmd.Flags().Changed("metrics-address") {
				i, err := inventory.Load(inv)
				if err != nil {
					return problemsError(inv, err)
				}
				addr = i.MetricsAddress(node)
			}
			if err := director.ProbeHealth(cmd.Context(), addr, timeout); err != nil {
				line := err.Error()
				fmt.Fprintln(streams.ErrOut, "hala-director: "+line)
				logSyslogTag("hala-director", syslog.LOG_ERR, line)
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "metrics-address", inventory.DefaultMetricsAddress, "`ADDR` (host:port) the director serves /healthz on: the inventory's metrics_address")
	cmd.Flags().StringVarP(&inv, "inventory", "i", "", "read the address from the inventory `FILE` (its metrics_address for --node)")
	cmd.Flags().StringVar(&node, "node", "", "with -i, this director's `NAME`")
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

// metricsAddress is the inventory's metrics_address for --node, where
// keepalived's tracking script asks. A --metrics-address that differs is
// refused: the director would serve where nobody asks, and keepalived
// would give up the VIPs on every director.
func metricsAddress(inv *inventory.Inventory, f *directorFlags) (string, error) {
	want := inv.MetricsAddress(f.node)
	if f.metrics == "" || f.metrics == want {
		return want, nil
	}
	key := "cluster.metrics_address"
	if f.node != "" {
		key = fmt.Sprintf("metrics_address of director %q (or cluster.metrics_address)", f.node)
	}
	return "", withHint(fmt.Errorf("--metrics-address %s: keepalived's tracking script (hala director health) asks %s, the %s in %s; serving elsewhere would take the VIPs off this director", f.metrics, want, key, f.inventory),
		"drop --metrics-address; to move the address, set metrics_address in the inventory, run hala render and install the new keepalived.conf")
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

// runDirector runs hala director. Errors restarting cannot mend exit
// with a code the unit's RestartPreventExitStatus= lists; with
// --log-format json they are a JSON record too, like every other line.
func runDirector(ctx context.Context, streams IOStreams, f *directorFlags) error {
	log, err := newLogger(streams.ErrOut, f.logFormat)
	if err != nil {
		return &ExitError{Code: render.DirectorExitConfig, Err: err}
	}
	err = serveDirector(ctx, f, log)
	var exit *ExitError
	if err == nil || f.logFormat != "json" {
		return err
	}
	code := 1
	if errors.As(err, &exit) {
		code = exit.Code
	}
	attrs := []any{"error", err.Error(), "exit", code}
	if h := (*hintError)(nil); errors.As(err, &h) {
		attrs = append(attrs, "hint", h.hint)
	}
	log.Error("hala director stopped", attrs...)
	return &ExitError{Code: code}
}

// permanent marks err as one restarting cannot mend.
func permanent(code int, err error) error { return &ExitError{Code: code, Err: err} }

// serveDirector checks everything it can before touching the kernel, then
// runs the director until ctx ends.
func serveDirector(ctx context.Context, f *directorFlags, log *slog.Logger) error {
	if f.inventory == "" {
		return permanent(render.DirectorExitConfig, withHint(errors.New("no inventory given"), "hala director -i "+render.DirectorInventory+" --node NAME"))
	}
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return permanent(render.DirectorExitConfig, problemsError(f.inventory, err))
	}
	if !inv.UsesDirector() {
		return permanent(render.DirectorExitConfig, withHint(fmt.Errorf("%s: cluster.ipvs is %q: keepalived manages these virtual servers, and a director would fight it over the same table", f.inventory, inv.Cluster.IPVS),
			`set ipvs = "director" under [cluster], render again and install the new keepalived.conf (VRRP only)`))
	}
	if f.node != "" {
		if _, ok := inv.Director(f.node); !ok {
			names := make([]string, len(inv.Directors))
			for i, d := range inv.Directors {
				names[i] = d.Name
			}
			return permanent(render.DirectorExitConfig, withHint(fmt.Errorf("--node %q: %s has no [[director]] of that name (known: %s)", f.node, f.inventory, strings.Join(names, ", ")),
				"set HALA_DIRECTOR_ARGS=\"--node NAME\" in /etc/default/hala-director to this director's name"))
		}
	}
	stateDir := f.checkStateDir
	if stateDir == "" {
		stateDir = os.Getenv("STATE_DIRECTORY") // systemd's StateDirectory=
	}
	addr, err := metricsAddress(inv, f)
	if err != nil {
		return permanent(render.DirectorExitConfig, err)
	}
	ln, err := metricsListener(addr)
	if err != nil {
		return err // the address may appear later (a slow network at boot)
	}
	defer ln.Close()
	h, err := ipvs.New("")
	switch {
	case errors.Is(err, ipvs.ErrUnsupported):
		return permanent(render.DirectorExitUnavailable, withHint(fmt.Errorf("open IPVS: %w", err),
			"load the IPVS kernel module: modprobe ip_vs (the hala package loads it at boot through /usr/lib/modules-load.d/hala.conf; setup.sh through /etc/modules-load.d/hala.conf)"))
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
		return permanent(render.DirectorExitConfig, withHint(fmt.Errorf("open IPVS: %w", err), "hala director needs CAP_NET_ADMIN (its unit gives it; by hand, run it as root)"))
	case err != nil:
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
	d, err := director.New(cfg)
	if err != nil {
		return permanent(render.DirectorExitConfig, err)
	}
	// Whether this host holds each VIP: /metrics and the status page.
	if vh, err := vip.New(""); err != nil {
		log.Warn("VIPs not shown on /metrics and the status page", "error", err)
	} else {
		defer vh.Close()
		d.WatchVIPs(vh)
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	defer srv.Close()
	log.Info("serving /metrics and /healthz", "address", ln.Addr().String())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reloadDirector(ctx, d, f, addr, log)
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
func reloadDirector(ctx context.Context, d *director.Director, f *directorFlags, addr string, log *slog.Logger) {
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReloading)
	defer func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyReady) }()
	inv, err := inventory.Load(f.inventory)
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
	if now := inv.MetricsAddress(f.node); now != addr {
		log.Warn("metrics_address changed: still serving on the old address until restarted", "serving", addr, "inventory", now,
			"hint", "render and install keepalived.conf, then systemctl restart hala-director")
	}
	if err := d.Reload(ctx, inv); err != nil {
		return // logged by the director
	}
}
