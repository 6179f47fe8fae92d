// Package directord is hala director's loop as the hala-director binary
// runs it: the IPVS handle, signals, systemd notifications, the metrics
// server and reloads around pkg/director. pkg/cli checks the flags and
// the inventory first (the same code in both binaries); the hala binary
// then executes hala-director, so that hala check, which keepalived forks
// per backend and input every few seconds, links none of the director's
// dependencies (Prometheus, and GoBGP through pkg/announce).
//
// Only cmd/hala-director imports it.
package directord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/hala-lb/hala/pkg/cli"
	"github.com/hala-lb/hala/pkg/director"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/render"
	"github.com/hala-lb/hala/pkg/vip"
)

// Run runs the director until ctx ends, SIGTERM or SIGINT.
func Run(ctx context.Context, s cli.DirectorSetup) error {
	log, inv := s.Log, s.Inventory
	h, err := ipvs.New("")
	switch {
	case errors.Is(err, ipvs.ErrUnsupported):
		return cli.Permanent(render.DirectorExitUnavailable, cli.Hint(fmt.Errorf("open IPVS: %w", err),
			"load the IPVS kernel module: modprobe ip_vs (the hala package loads it at boot through /usr/lib/modules-load.d/hala.conf; setup.sh through /etc/modules-load.d/hala.conf)"))
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
		return cli.Permanent(render.DirectorExitConfig, cli.Hint(fmt.Errorf("open IPVS: %w", err), "hala director needs CAP_NET_ADMIN (its unit gives it; by hand, run it as root)"))
	case err != nil:
		return fmt.Errorf("open IPVS: %w", err)
	}
	defer h.Close()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg := director.Config{
		Inventory: inv, Node: s.Node, Target: h, Logger: log, StatePath: s.State,
		CheckStateDir: s.CheckStateDir, DrainDir: s.DrainDir, FlushOnExit: s.FlushOnExit,
		Ready: func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyReady) },
	}
	if every, err := daemon.SdWatchdogEnabled(false); err == nil && every > 0 {
		cfg.Watchdog = func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog) }
		cfg.WatchdogInterval = every / 2
	}
	if inv.UsesBGP() {
		if s.Node == "" {
			return cli.Permanent(render.DirectorExitConfig, cli.Hint(fmt.Errorf("%s: cluster.ha = \"bgp\" needs --node: this director's address is the next hop it announces", s.InventoryFile),
				"/etc/default/hala-director sets HALA_DIRECTOR_ARGS=\"--node NAME\"; by hand: hala director -i FILE --node NAME"))
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
		return cli.Permanent(render.DirectorExitConfig, err)
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
		if err := srv.Serve(s.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	defer srv.Close()
	log.Info("serving /metrics and /healthz", "address", s.Listener.Addr().String())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(ctx, d, s, log)
			}
		}
	}()
	// Through the logger: with --log-format json every line is a record.
	for _, w := range inv.Warnings {
		log.Warn("inventory warning", "problem", w.String())
	}
	log.Info("starting", "inventory", s.InventoryFile, "services", len(inv.Services))
	return d.Run(ctx)
}

// reload reads and validates the inventory again; an invalid one is
// refused with every file:line problem logged.
func reload(ctx context.Context, d *director.Director, s cli.DirectorSetup, log *slog.Logger) {
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReloading)
	defer func() { _, _ = daemon.SdNotify(false, daemon.SdNotifyReady) }()
	inv, err := inventory.Load(s.InventoryFile)
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
	if now := inv.MetricsAddress(s.Node); now != s.MetricsAddress {
		log.Warn("metrics_address changed: still serving on the old address until restarted", "serving", s.MetricsAddress, "inventory", now,
			"hint", "render and install keepalived.conf, then systemctl restart hala-director")
	}
	if err := d.Reload(ctx, inv); err != nil {
		return // logged by the director
	}
}
