package standin

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
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
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logstash-standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg     Config
		inputs  inputFlags
		control = fs.String("control", "", "unix socket path for control commands (none when empty)")
		delay   = fs.Duration("start-delay", 0, "wait this long before listening, like a JVM starting")
	)
	fs.StringVar(&cfg.Name, "name", "", "node name in the stats body (default: the host name)")
	fs.StringVar(&cfg.API, "api", "127.0.0.1:9600", "monitoring API host:port")
	fs.StringVar(&cfg.Pipeline, "pipeline", "main", "pipeline id holding the inputs")
	fs.StringVar(&cfg.Output, "out", "", "file receiving one JSON line per message (required)")
	fs.Var(&inputs, "input", "input as id=udp://host:port or id=tcp://host:port (repeatable)")
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
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	select {
	case <-time.After(*delay):
	case <-sigs:
		return 0
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
	if *control != "" {
		os.Remove(*control)
		l, err := net.Listen("unix", *control)
		if err != nil {
			s.Close()
			fmt.Fprintf(stderr, "logstash-standin: error: control socket: %v\n", err)
			return 1
		}
		defer os.Remove(*control)
		defer l.Close()
		go func() {
			if err := s.ServeControl(l); err != nil && !errors.Is(err, net.ErrClosed) {
				fmt.Fprintf(stderr, "logstash-standin: control: %v\n", err)
			}
		}()
	}
	fmt.Fprintln(stdout, "ready")
	<-sigs
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "logstash-standin: close: %v\n", err)
	}
	return 0
}
