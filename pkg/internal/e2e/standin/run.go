package standin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type inputFlags []Input

func (f *inputFlags) String() string {
	parts := make([]string, len(*f))
	for i, in := range *f {
		parts[i] = in.String()
	}
	return strings.Join(parts, ",")
}

func (f *inputFlags) Set(s string) error {
	in, err := ParseInput(s)
	if err != nil {
		return err
	}
	*f = append(*f, in)
	return nil
}

// Main runs a stand-in until SIGTERM or SIGINT and returns the exit code:
// 0 after a signal, 2 for bad flags, 1 when it cannot start. It prints
// "ready" on stdout once the API and inputs listen.
//
// SIGHUP restarts it, as systemctl restart logstash does: it stops like
// on SIGTERM, then executes itself again (same pid, same output streams),
// which listens after -restart-delay. The pid file, removed by whoever
// asks for the restart, is written again once the old process has stopped.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logstash-standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg          Config
		inputs       inputFlags
		control      = fs.String("control", "", "unix socket path for control commands (none when empty)")
		delay        = fs.Duration("start-delay", 0, "wait this long before listening, like a JVM starting")
		restartDelay = fs.Duration("restart-delay", 0, "after SIGHUP, the -start-delay of the restarted stand-in")
		pidfile      = fs.String("pidfile", "", "write the pid to this file at start (none when empty)")
	)
	fs.StringVar(&cfg.Name, "name", "", "node name in the stats body (default: the host name)")
	fs.StringVar(&cfg.API, "api", "127.0.0.1:9600", "monitoring API host:port")
	fs.StringVar(&cfg.Pipeline, "pipeline", "main", "pipeline id holding the inputs")
	fs.StringVar(&cfg.Output, "out", "", "file receiving one JSON line per message (required)")
	fs.Var(&inputs, "input", "input as id=udp://host:port or id=tcp://host:port (repeatable)")
	fs.DurationVar(&cfg.ProcessDelay, "process-delay", 0, "the pipeline's single worker works this long on each message")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Output == "" || len(inputs) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "logstash-standin: error: -out and at least one -input are required, and no arguments")
		fs.Usage()
		return 2
	}
	cfg.Inputs = inputs

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if *pidfile != "" {
		if err := writePidfile(*pidfile); err != nil {
			fmt.Fprintf(stderr, "logstash-standin: error: %v\n", err)
			return 1
		}
	}

	select {
	case <-time.After(*delay):
	case sig := <-sigs:
		return stopped(sig, args, *restartDelay, *pidfile, stderr)
	}
	s, err := New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "logstash-standin: error: %v\n", err)
		return 1
	}
	if err := s.Start(); err != nil {
		s.Close()
		fmt.Fprintf(stderr, "logstash-standin: error: %v\n", err)
		return 1
	}
	var l net.Listener
	if *control != "" {
		os.Remove(*control)
		l, err = net.Listen("unix", *control)
		if err != nil {
			s.Close()
			fmt.Fprintf(stderr, "logstash-standin: error: control socket: %v\n", err)
			return 1
		}
		go func() {
			if err := s.ServeControl(l); err != nil && !errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(stderr, "logstash-standin: control: %v\n", err)
			}
		}()
	}
	fmt.Fprintln(stdout, "ready")
	sig := <-sigs
	if sig == syscall.SIGHUP {
		fmt.Fprintln(stdout, "restarting")
	}
	if l != nil {
		l.Close()
		os.Remove(*control)
	}
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "logstash-standin: close: %v\n", err)
	}
	return stopped(sig, args, *restartDelay, *pidfile, stderr)
}

// stopped finishes a stand-in that has closed everything: SIGHUP executes
// it again with start delay d; any other signal ends it with status 0.
func stopped(sig os.Signal, args []string, d time.Duration, pidfile string, stderr io.Writer) int {
	if sig != syscall.SIGHUP {
		if pidfile != "" {
			os.Remove(pidfile)
		}
		return 0
	}
	exe, err := os.Executable()
	if err == nil {
		argv := append([]string{exe, "-start-delay", d.String()}, withoutFlag(args, "start-delay")...)
		err = syscall.Exec(exe, argv, os.Environ())
	}
	fmt.Fprintf(stderr, "logstash-standin: error: restart: %v\n", err)
	return 1
}

// withoutFlag returns args without the flag called name and its value.
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		switch {
		case a == name && i+1 < len(args):
			i++
		case strings.HasPrefix(a, name+"="):
		default:
			out = append(out, args[i])
		}
	}
	return out
}

// writePidfile writes the process id to path atomically, so a reader
// never sees a partial file.
func writePidfile(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}
