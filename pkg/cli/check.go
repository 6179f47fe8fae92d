package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/logstash"
)

// Environment variables read by hala check.
const (
	// envStateDir overrides --state-dir's default.
	envStateDir = "HALA_STATE_DIR"
	// envSyslogSocket sends the failure line to this unix datagram socket
	// instead of the system's /dev/log (tests, non-standard syslog set-ups).
	envSyslogSocket = "HALA_SYSLOG_SOCKET"
)

// watchdogGrace is how long after --timeout the watchdog ends the process
// if the check has not returned; the bound promised is timeout + 100ms.
const watchdogGrace = 50 * time.Millisecond

// exitProcess ends the process from the watchdog; runChecker runs the
// check; afterFunc arms the watchdog (it returns the timer's Stop).
// Tests replace them, and fire the watchdog themselves.
var (
	exitProcess = os.Exit
	runChecker  = check.Run
	afterFunc   = func(d time.Duration, f func()) (stop func() bool) { return time.AfterFunc(d, f).Stop }
)

type checkFlags struct {
	apiFlags
	pipeline        string
	timeout         time.Duration
	requireRunning  bool
	runningInterval time.Duration
	probe           bool
	probePort       int
	maxIdle         time.Duration
	stateDir        string
	dynamicWeight   bool
	drainDir        string
	explain         bool
}

func newCheckCommand(streams IOStreams) *cobra.Command {
	f := &checkFlags{}
	cmd := &cobra.Command{
		Use:   "check [flags] <ip> <input-id>",
		Short: "Check a Logstash input for keepalived's MISC_CHECK (exit 0 healthy, 1 not)",
		Long: `Asks the Logstash monitoring API of <ip> whether the input <input-id> is
there, and exits 0 when it is, 1 when it is not: keepalived's MISC_CHECK.
Nothing is printed on success. On failure one line goes to stderr and to
syslog (facility daemon, tag hala-check) naming the node, pipeline, input
and reason. The whole run ends within --timeout (+100ms), whatever the
server does.

<ip> is an IP address (no name, no port: the port is --port's).
Flags end at "--", so an input id may begin with "-":
  hala check --port 9600 -- 192.168.1.210 -x

Stronger, opt-in checks:
  --require-running    the pipeline's state in /_health_report is RUNNING
                       (Logstash 8.16+; skipped with a note on older nodes;
                       asked at most once per --running-interval per node)
  --probe              for a TCP input, also connect to <ip>:--probe-port;
                       NAT forwarding only: with DR or TUN the input binds
                       the VIP, not <ip>, so the probe would always fail
  --max-idle DURATION  fail when the input's events.out has not grown for
                       DURATION; each failure restarts the idle clock, so
                       the node is readmitted at the next run and judged
                       again after another DURATION (a removed node gets no
                       traffic: without this it could never come back). A
                       quiet source thus flaps out for one delay_loop every
                       DURATION.

State for --max-idle and --require-running lives in --state-dir. When it
cannot be read or written the check does not fail on that account: it
passes with a warning on stderr and syslog. --explain reads state but
never writes it.

--dynamic-weight is for keepalived's misc_dynamic: healthy exits 2+weight,
the weight (10..253) falling as the pipeline's load rises (worker_utilization,
else queue_backpressure, else queue_push_duration against duration since the
last run, kept in --state-dir), moving halfway per run and only by more than
10%; unhealthy exits 1.

A backend drained with hala drain (a record in --drain-dir) is down,
"drained since <time> (hala drain)"; with --dynamic-weight it is up at
weight 0 (exit 2) so TCP sessions finish. A record that cannot be read is
ignored with a warning.

Credentials come from a file holding one line "user:password" (--auth-file
or $HALA_API_AUTH_FILE) that group and others cannot read; never a flag.
Over plain http they travel in clear: each run warns on stderr and syslog.`,
		Example: `  hala check 192.168.1.210 udp-5514
  hala check --explain --pipeline main 192.168.1.210 udp-5514
  hala check --scheme https --ca /etc/hala/api-ca.pem --auth-file /etc/hala/api-auth 192.168.1.210 udp-5514`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(2)(cmd, args); err != nil {
				return usageError(fmt.Errorf("%w: %q", err, args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkArgs(cmd, f, args[0], args[1]); err != nil {
				return usageError(err)
			}
			return runCheck(streams, f, args[0], args[1])
		},
	}
	// Under keepalived stderr goes nowhere: a bad misc_path must show in
	// syslog too, not only as "exited with status 1".
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	fl := cmd.Flags()
	fl.SortFlags = false
	f.addPort(cmd)
	fl.StringVar(&f.pipeline, "pipeline", "", "look only in the pipeline called `ID` (default: any pipeline)")
	fl.DurationVar(&f.timeout, "timeout", 2*time.Second, "`DURATION` bounding the whole check, such as 2s")
	f.addTLS(cmd)
	fl.BoolVar(&f.requireRunning, "require-running", false, "also require pipeline state RUNNING in /_health_report (8.16+)")
	fl.DurationVar(&f.runningInterval, "running-interval", check.DefaultRunningInterval, "reuse a /_health_report answer for `DURATION`")
	fl.BoolVar(&f.probe, "probe", false, "for a TCP input, also connect to <ip>:--probe-port (NAT forwarding only)")
	fl.IntVar(&f.probePort, "probe-port", 0, "the input's TCP `PORT`, for --probe")
	fl.DurationVar(&f.maxIdle, "max-idle", 0, "fail when the input's events.out has not grown for this `DURATION` (readmitted at the next run)")
	fl.StringVar(&f.stateDir, "state-dir", envOr(envStateDir, check.DefaultStateDir), "`DIR` where --max-idle and --require-running keep state (or $"+envStateDir+")")
	fl.BoolVar(&f.dynamicWeight, "dynamic-weight", false, "exit 2+weight when healthy, for keepalived's misc_dynamic")
	fl.StringVar(&f.drainDir, "drain-dir", drain.Dir(), "`DIR` where hala drain keeps its records (or $"+drain.EnvDir+"); a drained backend is down (with --dynamic-weight: weight 0)")
	fl.BoolVar(&f.explain, "explain", false, "print a report of what was asked, what came back and why")
	f.addMaxBody(cmd)
	_ = cmd.MarkFlagDirname("state-dir")
	return cmd
}

// checkArgs validates the command line before anything is asked: a
// misc_path that can never pass must say so, not fail every run for a
// reason that looks like the node's.
func checkArgs(cmd *cobra.Command, f *checkFlags, host, input string) error {
	if _, err := parseNodeIP("check", host); err != nil {
		return err
	}
	changed := cmd.Flags().Changed
	switch {
	case input == "":
		return withHint(errors.New("<input-id> is empty"), `give the id of the Logstash input, as in its config: id => "udp-5514"`)
	}
	if err := f.resolve(); err != nil {
		return err
	}
	switch {
	case f.timeout <= 0:
		return withHint(fmt.Errorf("--timeout %s: must be positive", f.timeout), "keepalived's misc_timeout must be larger than --timeout; 2s is the default")
	case changed("max-idle") && f.maxIdle <= 0:
		return withHint(fmt.Errorf("--max-idle %s: must be positive", f.maxIdle), "leave --max-idle out to not judge idleness")
	case f.runningInterval <= 0:
		return fmt.Errorf("--running-interval %s: must be positive", f.runningInterval)
	case f.probe && (f.probePort < 1 || f.probePort > 65535):
		if changed("probe-port") {
			return fmt.Errorf("--probe-port %d: out of range 1-65535", f.probePort)
		}
		return withHint(errors.New("--probe needs --probe-port, the input's TCP port"), "add --probe-port 5514 (the port the input listens on)")
	case changed("probe-port") && !f.probe:
		return withHint(fmt.Errorf("--probe-port %d without --probe", f.probePort), "add --probe to connect to the input's port, or drop --probe-port")
	}
	return nil
}

// parseNodeIP accepts an IP literal only: a name would be looked up on
// every run (slow, and down with DNS), and a port belongs in --port.
// verb is the command the hints name (check, diagnose).
func parseNodeIP(verb, s string) (netip.Addr, error) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr, nil
	}
	err := fmt.Errorf("<ip> %q: not an IP address", s)
	if ap, perr := netip.ParseAddrPort(s); perr == nil {
		return netip.Addr{}, withHint(err, fmt.Sprintf("use --port: hala %s --port %d %s ...", verb, ap.Port(), ap.Addr()))
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if _, perr := netip.ParseAddr(inner); perr == nil {
				return netip.Addr{}, withHint(err, "write an IPv6 address without brackets: "+inner)
			}
		}
	}
	if host, port, serr := net.SplitHostPort(s); serr == nil {
		return netip.Addr{}, withHint(err, fmt.Sprintf("use --port %s, and the node's IP address instead of %q", port, host))
	}
	return netip.Addr{}, withHint(err, "give the node's IP address, e.g. 192.168.1.210 (hala "+verb+" looks no name up)")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// runCheck runs one check and reports it: nothing on success, one line on
// stderr and syslog on failure, a report on stdout with --explain.
func runCheck(streams IOStreams, f *checkFlags, host, input string) error {
	rep := &reporter{streams: streams}
	start := time.Now()
	var exchanges exchangeLog
	opts := check.Options{
		Address: addrOf(host, f.port), Host: host, Input: input, Pipeline: f.pipeline, Timeout: f.timeout,
		RequireRunning: f.requireRunning, RunningInterval: f.runningInterval,
		Probe: f.probe, ProbePort: f.probePort, MaxIdle: f.maxIdle,
		DynamicWeight: f.dynamicWeight, StateDir: f.stateDir, DrainDir: f.drainDir,
		ReadOnly: f.explain, // a run by hand must not change keepalived's next verdict
	}
	// Last resort: whatever happens below, the process ends in time, and
	// --explain still shows what was gathered.
	var finish sync.Once
	stopWatchdog := afterFunc(f.timeout+watchdogGrace, func() {
		finish.Do(func() {
			v := &check.Verdict{Address: opts.Address, Input: input, Pipeline: f.pipeline, Weight: -1,
				Reason: fmt.Sprintf(": timed out after %s", f.timeout)}
			if f.explain {
				v.Notes = []string{"the check did not return by its deadline; the watchdog ended it"}
				report(streams.Out, f, opts, v, exchanges.list(), start)
			}
			rep.fail(v.String())
		})
		exitProcess(1)
	})
	defer stopWatchdog()

	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()

	var v *check.Verdict
	if f.authFile != "" && f.scheme != "https" {
		rep.warn(fmt.Sprintf("%s input %q: warning: the credentials in %s travel in clear over http; use --scheme https (api_scheme = \"https\" in the inventory)", opts.Address, input, f.authFile))
	}
	cfg, err := f.config(host)
	if err != nil {
		v = setupFailure(opts, err)
	}
	if f.explain {
		cfg.Observe = exchanges.add
	}
	if v == nil {
		client, err := logstash.New(cfg)
		if err != nil {
			v = setupFailure(opts, err)
		} else {
			v = runChecker(ctx, client, opts)
		}
	}
	reported := false
	finish.Do(func() {
		reported = true
		if f.explain {
			report(streams.Out, f, opts, v, exchanges.list(), start)
		}
		for _, w := range v.Warnings {
			rep.warn(fmt.Sprintf("%s input %q: warning: %s", opts.Address, input, w))
		}
		if !v.Healthy {
			rep.fail(v.String())
		}
	})
	if !reported { // the watchdog has reported a timeout
		return &ExitError{Code: 1}
	}
	if code := v.ExitCode(); code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// exchangeLog collects --explain's HTTP exchanges; the watchdog may read
// it while the client still appends.
type exchangeLog struct {
	mu sync.Mutex
	es []logstash.Exchange
}

func (l *exchangeLog) add(e logstash.Exchange) {
	l.mu.Lock()
	l.es = append(l.es, e)
	l.mu.Unlock()
}

func (l *exchangeLog) list() []logstash.Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logstash.Exchange(nil), l.es...)
}

// usageError sends a command-line error to syslog as well: under
// keepalived stderr is discarded, and a bad misc_path would otherwise show
// only as "exited with status 1". cli.Run prints it on stderr and exits 1.
func usageError(err error) error {
	line := fmt.Sprintf("bad command line: %v (see hala check --help)", err)
	withDeadline(func() { logSyslog(syslog.LOG_ERR, line) })
	return err
}

func addrOf(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// setupFailure is a verdict for a check that could not start (auth file,
// CA file): keepalived sees it as down and the log says why.
func setupFailure(o check.Options, err error) *check.Verdict {
	return &check.Verdict{Address: o.Address, Input: o.Input, Pipeline: o.Pipeline, Weight: -1, Reason: ": " + err.Error(), Err: err}
}

// reporter prints the failure line once, on stderr and to syslog.
type reporter struct {
	streams IOStreams
	once    sync.Once
}

func (r *reporter) fail(line string) {
	r.once.Do(func() {
		fmt.Fprintf(r.streams.ErrOut, "hala-check: %s\n", line)
		withDeadline(func() { logSyslog(syslog.LOG_ERR, line) })
	})
}

// warn reports a problem that did not decide the verdict (priority warning).
func (r *reporter) warn(line string) {
	fmt.Fprintf(r.streams.ErrOut, "hala-check: %s\n", line)
	withDeadline(func() { logSyslog(syslog.LOG_WARNING, line) })
}

// withDeadline runs f but waits at most 30ms: syslog must not hold the
// process past its bound.
func withDeadline(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Millisecond):
	}
}

// logSyslog sends line with facility daemon, the given severity and tag
// hala-check. Without a syslog socket (no /dev/log) it does nothing.
func logSyslog(severity syslog.Priority, line string) { logSyslogTag("hala-check", severity, line) }

// logSyslogTag writes line to syslog (facility daemon) under tag.
func logSyslogTag(tag string, severity syslog.Priority, line string) {
	var w *syslog.Writer
	var err error
	prio := syslog.LOG_DAEMON | severity
	if sock := os.Getenv(envSyslogSocket); sock != "" {
		w, err = syslog.Dial("unixgram", sock, prio, tag)
	} else {
		w, err = syslog.New(prio, tag)
	}
	if err != nil {
		return
	}
	defer w.Close()
	if severity == syslog.LOG_WARNING {
		_ = w.Warning(line)
		return
	}
	_ = w.Err(line)
}

// report prints --explain's report (see check.Report).
func report(out io.Writer, f *checkFlags, o check.Options, v *check.Verdict, exchanges []logstash.Exchange, start time.Time) {
	r := check.Report{Options: o, Scheme: f.scheme, AuthFile: f.authFile, Insecure: f.insecure, Exchanges: exchanges, Verdict: v, Elapsed: time.Since(start)}
	_ = r.WriteText(out) // nothing to do about a closed stdout: the exit status still tells
}
