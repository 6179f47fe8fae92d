package directord

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/hala-lb/hala/pkg/agent"
	"github.com/hala-lb/hala/pkg/cli"
)

// RunAgent is hala agent's loop: it serves the stream and /metrics on
// s.Listen and watches the node's inputs until SIGTERM or SIGINT.
func RunAgent(ctx context.Context, s cli.AgentSetup) error {
	a, err := agent.New(agent.Config{Inventory: s.Inventory, Node: s.Node, Interval: s.Interval, Token: s.Token, Logger: s.Log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			s.Log.Error("server stopped", "error", err)
		}
	}()
	defer srv.Close()
	s.Log.Info("serving the stream and /metrics", "address", ln.Addr().String(), "token", s.Token != "")
	for _, in := range a.Inputs() {
		s.Log.Info("watching", "input", in.String(), "address", in.Addr.String(), "services", in.Services)
	}
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady)
	return a.Run(ctx)
}
