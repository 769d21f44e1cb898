// Command ethervpn is a SoftEther-compatible VPN server.
//
//	ethervpn server [--data-dir DIR] [--restore-backup] [--pprof 127.0.0.1:6060]
//
// runs the VPN Server in the foreground with its state in
// DIR/vpn_server.config (SoftEther's configuration format). On first start
// it creates DIR, a DEFAULT hub, listeners on 443, 992 and 5555 and a
// self-signed certificate. --restore-backup puts the newest good backup
// (DIR/backup.vpn_server.config) back in place of a damaged file and exits.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with --pprof
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/procs"
	"github.com/ethervpn/ethervpn/internal/server"
)

func main() {
	root := &cobra.Command{
		Use:           "ethervpn",
		Short:         "A SoftEther-compatible VPN server",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCmd())
	root.AddCommand(cmdCmd())
	root.AddCommand(clientCmd())
	root.AddCommand(bridgeCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ethervpn:", err)
		os.Exit(1)
	}
}

func serverCmd() *cobra.Command {
	var dataDir, logLevel string
	var jsonLog, restore bool
	var farmFlags farmFlagValues
	var pprofAddr string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the VPN Server in the foreground",
		Long: `Run the VPN Server in the foreground. All state lives in DIR/vpn_server.config,
in SoftEther's configuration format: a vpn_server.config written by the real
SoftEther vpnserver can be copied in. SIGTERM or SIGINT stops the server and
saves the configuration.

Every save first keeps a copy in DIR/backup.vpn_server.config (the newest 16,
named as SoftEther names them). A configuration file that is damaged or
truncated, or holds values the server cannot use, is refused with the line
and the reason, and left as it is; --restore-backup then puts the newest
good backup in its place (keeping the damaged file beside it) and exits.

With --farm the server is a node of a server farm on etcd: the hubs, users,
groups, access lists, the certificate and the admin password live in etcd and
are the same on every node; listeners, local bridges and UDP ports stay in the
node's own file. The first node of an empty farm puts its configuration there.
The --farm* settings can also live in DIR/vpn_server.config, in the folder
root/EtherVPNFarm (items Endpoints, Address, Weight, NoSessions, Name, Cluster,
CaFile, CertFile, KeyFile); a flag given overrides the file's item. For an etcd
that serves TLS, give https:// URLs, --farm-ca, and with client certificate
authentication --farm-cert and --farm-key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if restore {
				return restoreBackup(cmd, dataDir)
			}
			log, err := newLogger(logLevel, jsonLog)
			if err != nil {
				return err
			}
			if pprofAddr != "" {
				if err := servePprof(pprofAddr, log); err != nil {
					return err
				}
			}
			var srv *server.Server
			opts, inFarm, err := farmOptions(cmd, dataDir, farmFlags)
			if err != nil {
				return err
			}
			if inFarm {
				srv, err = server.OpenNode(dataDir, log, opts)
			} else {
				srv, err = server.Open(dataDir, log)
			}
			if err != nil {
				return err
			}
			// vpncmd's admin RPC and the JSON-RPC API share the VPN ports.
			d := srv.Dispatcher()
			srv.SetAdmin(srv.AdminRPC(d), admin.NewWebHandler(d, srv.AdminAuthenticator(), log))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			go procs.Adapt(ctx, log)
			return srv.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "ethervpn-data", "directory holding vpn_server.config (created if missing)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().BoolVar(&jsonLog, "log-json", false, "log as JSON lines instead of text")
	cmd.Flags().BoolVar(&restore, "restore-backup", false, "put the newest good backup of the configuration in place of the file, then exit")
	farmFlags.add(cmd)
	cmd.Flags().StringVar(&pprofAddr, "pprof", os.Getenv("ETHERVPN_PPROF"),
		"serve Go's profiler (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6060; off when empty (default $ETHERVPN_PPROF)")
	return cmd
}

// servePprof serves net/http/pprof on addr, which must be a loopback
// address: the profiler shows the process's memory and costs CPU, so it is
// for the operator on the machine only.
func servePprof(addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof %q: %w", addr, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof %q: want a loopback address such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	log.Info("serving the profiler (net/http/pprof)", "addr", ln.Addr().String())
	// DefaultServeMux holds only pprof's handlers: the admin API has its own.
	go http.Serve(ln, http.DefaultServeMux)
	return nil
}

// restoreBackup runs `ethervpn server --restore-backup`.
func restoreBackup(cmd *cobra.Command, dataDir string) error {
	b, kept, err := server.RestoreBackup(dataDir)
	if err != nil {
		return fmt.Errorf("cannot restore a backup of the configuration: %w", err)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "restored %s, saved %s, as %s\n", b.Path, b.Time.Format("2006-01-02 15:04:05 MST"),
		filepath.Join(dataDir, server.ConfigFile))
	if kept != "" {
		fmt.Fprintf(out, "the file it replaced was kept as %s\n", kept)
	}
	fmt.Fprintln(out, "start the server again without --restore-backup")
	return nil
}

func newLogger(level string, json bool) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if json {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}
