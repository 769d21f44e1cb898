package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ethervpn/ethervpn/internal/admin/cli"
)

// cmdCmd is "ethervpn cmd", the administration CLI with vpncmd's syntax.
// Its arguments are vpncmd's, not flags, so cobra leaves them alone.
func cmdCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cmd [HOST[:PORT]] [/SERVER] [/HUB:hub] [/ADMINHUB:hub] [/PASSWORD:pw] [/IN:file] [/OUT:file] [/CSV] [/CMD command args...]",
		Short: "Administer a VPN Server with vpncmd's commands",
		Long: `Administer ethervpn or a SoftEther VPN Server over the binary admin RPC, with
vpncmd's syntax: the same command names (HubCreate, UserCreate, SecureNatEnable,
NatSet, DhcpTable, ...), /PARAM:value arguments and table output.

  ethervpn cmd localhost:5555 /SERVER /PASSWORD:pw /CMD HubList
  ethervpn cmd 10.0.0.1 /SERVER /HUB:HUB1 /PASSWORD:pw /IN:script.txt /CSV

Without /CMD or /IN it reads commands at a "VPN Server>" prompt. The port
defaults to 443. The exit status is 0 or the SoftEther error number.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "--help" || a == "-h" {
					return cmd.Help()
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			code := cli.Run(ctx, args, os.Stdin, os.Stdout, os.Stderr, cli.Dial)
			stop()
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}
