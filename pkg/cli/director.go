package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/director/healthz"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/reconcile"
	"github.com/hala-lb/hala/pkg/render"
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
			if cmd.Flags().Changed("check-state-dir") {
				fmt.Fprintln(streams.ErrOut, "hala: warning: --check-state-dir DIR is deprecated: use --state-dir DIR (hala check's name for the same directory)")
			}
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
	fl.StringVar(&f.checkStateDir, "state-dir", "", "`DIR` where checks keep state, as hala check's --state-dir (default $STATE_DIRECTORY, else /run/hala)")
	fl.StringVar(&f.checkStateDir, "check-state-dir", "", "old spelling of --state-dir `DIR`")
	_ = fl.MarkHidden("check-state-dir")
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
			if err := healthz.Probe(cmd.Context(), addr, timeout); err != nil {
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
	if err := checkMetricsAddress(addr); err != nil {
		return nil, err
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
	if directorLoop == nil {
		if err := checkMetricsAddress(addr); err != nil {
			return err
		}
		return execDirector()
	}
	ln, err := metricsListener(addr)
	if err != nil {
		return err // the address may appear later (a slow network at boot)
	}
	defer ln.Close()
	return directorLoop(ctx, DirectorSetup{
		Log: log, InventoryFile: f.inventory, Inventory: inv, Node: f.node, MetricsAddress: addr,
		Listener: ln, FlushOnExit: f.flushOnExit, State: f.state, CheckStateDir: stateDir, DrainDir: f.drainDir,
	})
}

// DirectorSetup is what hala director has checked and opened before its
// loop starts.
type DirectorSetup struct {
	Log            *slog.Logger
	InventoryFile  string
	Inventory      *inventory.Inventory
	Node           string
	MetricsAddress string
	// Listener serves /metrics and /healthz on MetricsAddress.
	Listener      net.Listener
	FlushOnExit   bool
	State         string
	CheckStateDir string
	DrainDir      string
}

// Director runs hala director's loop (package directord, in the
// hala-director binary).
type Director func(ctx context.Context, s DirectorSetup) error

// directorLoop is nil in the hala binary: hala director checks its flags
// and inventory, then executes hala-director, which links the director
// (Prometheus, GoBGP) that hala check must not pay for.
var directorLoop Director

// RunDirector is Run in the hala-director binary, where hala director runs
// d in the process instead of executing hala-director.
func RunDirector(args []string, in io.Reader, out, errOut io.Writer, d Director) int {
	directorLoop = d
	return Run(args, in, out, errOut)
}

// Permanent marks err as one restarting cannot mend: the process exits
// with code (render.DirectorExit*), which the unit does not restart on.
func Permanent(code int, err error) error { return permanent(code, err) }

// Hint adds a hint, printed as "hala: hint: ..." after the error.
func Hint(err error, hint string) error { return withHint(err, hint) }

// directorBinary is the program hala director executes, next to hala.
const directorBinary = "hala-director"

// execDirector replaces this process with hala-director, same arguments
// and environment: same PID for systemd (Type=notify), same signals.
func execDirector() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find %s: %w", directorBinary, err)
	}
	path := filepath.Join(filepath.Dir(exe), directorBinary)
	if _, err := os.Stat(path); err != nil {
		return withHint(fmt.Errorf("hala director runs %s: %w", path, err),
			"install hala-director next to hala (the hala package ships both; make build builds both)")
	}
	err = syscall.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
	return fmt.Errorf("run %s: %w", path, err)
}

// checkMetricsAddress refuses an address on all interfaces, without
// listening (hala-director listens).
func checkMetricsAddress(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--metrics-address %q: %w", addr, err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		return withHint(fmt.Errorf("--metrics-address %q listens on every interface", addr),
			"give one address, e.g. 127.0.0.1:9610 or this director's own address")
	}
	return nil
}
