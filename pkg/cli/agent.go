package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/hala-lb/hala/pkg/agent/stream"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/status"
)

type agentFlags struct {
	inventory string
	node      string
	listen    string
	logFormat string
	interval  time.Duration
}

func newAgentCommand(streams IOStreams) *cobra.Command {
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "agent -i FILE [--node NAME] [--listen ADDR] [--log-format text|json]",
		Short: "Watch this Logstash host's input sockets and stream their state to the directors",
		Long: `Runs on each Logstash host (systemd: hala-agent.service, unprivileged, no
capabilities) when the inventory sets agent.port. It watches the sockets
this host's inputs must be bound to (each service's backend port and
protocol, at the address the rendered input binds) and tells every
connected hala director the moment one closes: the kernel broadcasts each
socket's destruction (sock_diag), and a dump every --interval finds binds,
receive queues and the kernel's drop counters.

A director connected to the stream takes a backend out of a service within
milliseconds of its input's socket closing, instead of after "fall" failed
API checks; a socket bound again is readmitted only by "rise" passing API
checks. Without an agent, directors work as before.

Served on --listen (default: this host's inventory address at agent.port):
/v1/stream (JSON lines: the state of every input, then each change, and a
ping each second) and /metrics (hala_receiver_socket_up,
hala_receiver_drops_total, hala_receiver_queue_bytes,
hala_receiver_noports_total). With agent.token_file every request needs
its bearer token; the rendered firewalld.sh admits only the directors.`,
		Example: `  hala agent -i /etc/hala/inventory.toml --node stash2
  hala agent -i /etc/hala/inventory.toml --listen 192.168.1.222:9611 --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd.Context(), streams, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	fl.StringVar(&f.node, "node", "", "this host's [[logstash]] `NAME` (default: the host name)")
	fl.StringVar(&f.listen, "listen", "", "`ADDR` (host:port) to serve on (default: the node's address at agent.port)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log `FORMAT` on stderr: text or json")
	fl.DurationVar(&f.interval, "interval", stream.DefaultInterval, "how often to dump the bound sockets (`DURATION`)")
	_ = cmd.MarkFlagRequired("inventory")
	return cmd
}

// agentNode is --node, or the host name when it names a [[logstash]] host.
func agentNode(inv *inventory.Inventory, node string) (inventory.Logstash, error) {
	if node == "" {
		h, err := os.Hostname()
		if err != nil {
			return inventory.Logstash{}, err
		}
		node, _, _ = strings.Cut(h, ".")
	}
	l, ok := inv.LogstashHost(node)
	if !ok {
		return l, withHint(fmt.Errorf("%s: no [[logstash]] host named %q", inv.File, node), "pass this host's name with --node")
	}
	return l, nil
}

// agentSetup is what hala agent has checked before its loop starts.
type agentSetup struct {
	log       *slog.Logger
	inventory *inventory.Inventory
	node      string
	listen    string
	interval  time.Duration
	token     string
}

func runAgent(ctx context.Context, streams IOStreams, f *agentFlags) error {
	log, err := newLogger(streams.ErrOut, f.logFormat)
	if err != nil {
		return err
	}
	if f.interval <= 0 || f.interval > time.Second {
		return fmt.Errorf("--interval %s: want above 0 and at most 1s", f.interval)
	}
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return problemsError(f.inventory, err)
	}
	if !inv.AgentEnabled() {
		return withHint(fmt.Errorf("%s: agent.port is not set: no director would connect", f.inventory), "add [agent] port = 9611 and render again (firewalld.sh opens it to the directors)")
	}
	l, err := agentNode(inv, f.node)
	if err != nil {
		return err
	}
	s := agentSetup{log: log, inventory: inv, node: l.Name, listen: f.listen, interval: f.interval}
	if inv.Agent.TokenFile != "" {
		if s.token, err = stream.ReadToken(inv.Agent.TokenFile); err != nil {
			return err
		}
	}
	if s.listen == "" {
		s.listen = net.JoinHostPort(l.Address.String(), strconv.Itoa(inv.Agent.Port))
	}
	if host, _, err := net.SplitHostPort(s.listen); err != nil {
		return fmt.Errorf("--listen %q: %w", s.listen, err)
	} else if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		return withHint(fmt.Errorf("--listen %q listens on every interface", s.listen), "give this host's address; the directors connect to its inventory address")
	}
	return agentLoop(ctx, s)
}

// agentLoop serves the stream and /metrics on s.listen and watches the
// node's inputs until SIGTERM or SIGINT. It runs in the hala binary, not
// hala-director: pkg/agent needs the standard library only (its metrics
// are written by pkg/internal/promtext), so the agent's resident memory
// is that of the small binary (docs/agent.md, make bench-agent).
func agentLoop(ctx context.Context, s agentSetup) error {
	a, err := agent.New(agent.Config{Inventory: s.inventory, Node: s.node, Interval: s.interval, Token: s.token, Logger: s.log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.log.Error("server stopped", "error", err)
		}
	}()
	defer srv.Close()
	s.log.Info("serving the stream and /metrics", "address", ln.Addr().String(), "token", s.token != "")
	for _, in := range a.Inputs() {
		s.log.Info("watching", "input", in.String(), "address", in.Addr.String(), "services", in.Services)
	}
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
	return a.Run(ctx)
}

// agentReceivers asks each Logstash host's hala agent for its inputs
// (hala status's DROPS column, hala diagnose); nil without agents.
func agentReceivers(inv *inventory.Inventory) (status.ReceiverFunc, error) {
	if !inv.AgentEnabled() {
		return nil, nil
	}
	token := ""
	if f := inv.Agent.TokenFile; f != "" {
		var err error
		if token, err = stream.ReadToken(f); err != nil {
			return nil, fmt.Errorf("%s: agent.token_file: %w", inv.File, err)
		}
	}
	client := stream.NewClient()
	return func(ctx context.Context, l inventory.Logstash) ([]stream.State, error) {
		base := "http://" + net.JoinHostPort(l.Address.String(), strconv.Itoa(inv.Agent.Port))
		return stream.Snapshot(ctx, client, base, token)
	}, nil
}

// kernelDrops prints, after hala diagnose's report, what the host's hala
// agent says the kernel dropped at the inputs' sockets: losses no API
// figure shows. An agent that does not answer is said in one line.
func kernelDrops(ctx context.Context, streams IOStreams, host string, port int, tokenFile string) {
	token := ""
	if tokenFile != "" {
		var err error
		if token, err = stream.ReadToken(tokenFile); err != nil {
			fmt.Fprintf(streams.Out, "\nhala agent not asked: %v\n", err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	states, err := stream.Snapshot(ctx, stream.NewClient(), base, token)
	if err != nil {
		fmt.Fprintf(streams.Out, "\nhala agent: %v\n", err)
		return
	}
	lines := stream.DropsText(states)
	if len(lines) == 0 {
		fmt.Fprintln(streams.Out, "\nKernel drops at the inputs (hala agent): none")
		return
	}
	fmt.Fprintln(streams.Out, "\nKernel drops at the inputs (hala agent):")
	for _, l := range lines {
		fmt.Fprintln(streams.Out, "  "+l)
	}
}
