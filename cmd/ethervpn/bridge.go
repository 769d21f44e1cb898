package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/procs"
	"github.com/ethervpn/ethervpn/internal/server"
)

// bridgeCmd is the VPN Bridge role: the server with one hub, BRIDGE, that
// only reaches out (cascades) and bridges to local devices.
func bridgeCmd() *cobra.Command {
	var dataDir, logLevel string
	var jsonLog bool
	cmd := &cobra.Command{
		Use:   "bridge",
		Short: "Run the VPN Bridge in the foreground",
		Long: `Run the VPN Bridge in the foreground, as SoftEther's vpnbridge: a server with one
Virtual Hub called BRIDGE that connects to hubs of other VPN servers through
cascade connections and to local networks through local bridges. VPN clients
cannot log in to it (error 33); administrators can (vpncmd, "ethervpn cmd",
JSON-RPC). Cascades are the BRIDGE hub's CascadeList and local bridges the
LocalBridgeList of DIR/vpn_server.config, in SoftEther's format (a
vpn_bridge.config from vpnbridge can be copied in under that name). SIGTERM or
SIGINT stops the bridge and saves the configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, jsonLog)
			if err != nil {
				return err
			}
			srv, err := server.Open(dataDir, log)
			if err != nil {
				return err
			}
			if err := srv.SetBridgeRole(); err != nil {
				return err
			}
			d := srv.Dispatcher()
			srv.SetAdmin(srv.AdminRPC(d), admin.NewWebHandler(d, srv.AdminAuthenticator(), log))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			go procs.Adapt(ctx, log)
			return srv.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "ethervpn-bridge-data", "directory holding the configuration (created if missing)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().BoolVar(&jsonLog, "log-json", false, "log as JSON lines instead of text")
	return cmd
}
