package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/osprio"
	"github.com/ethervpn/ethervpn/internal/procs"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/tap"
)

// clientCmd is "ethervpn client": the VPN Client in the foreground, one
// account from flags or several from an accounts file.
func clientCmd() *cobra.Command {
	a := client.NewAccount("")
	var configFile, accountName, logLevel, pprofAddr string
	var jsonLog, offload, highPriority bool
	var interval, lifetime, retryInterval int
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Run the VPN Client in the foreground with a TAP device",
		Long: `Run the VPN Client in the foreground: create the TAP device, log in to the
Virtual Hub and keep the session up (re-open dropped TCP connections, log in
again after the server restarts), until SIGTERM or SIGINT, which closes the
session and removes the TAP device. "Now connected" is logged each time the
session is established. Needs CAP_NET_ADMIN for the TAP device.

  ethervpn client --server vpn.example.com:443 --hub DEFAULT --user alice \
      --password secret --tap vpn0 --max-connections 8 --pin-cert AB:CD:...

The password may also come from the ETHERVPN_PASSWORD environment variable.
Without --pin-cert the server's certificate is not verified (as vpnclient by
default); the log shows its SHA-256 to pin.

Saved accounts, vpnclient's way: --config FILE runs every account of FILE
(or only --account NAME), each with its own session and TAP device.

` + client.AccountsFormat,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, jsonLog)
			if err != nil {
				return err
			}
			if pprofAddr != "" {
				if err := servePprof(pprofAddr, log); err != nil {
					return err
				}
			}
			var accts []client.Account
			if configFile != "" {
				if accts, err = loadAccounts(configFile, accountName); err != nil {
					return err
				}
				for _, name := range []string{"server", "hub", "user", "password", "tap"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s cannot be combined with --config: set it in the accounts file", name)
					}
				}
			} else {
				if a.Link.Password == "" && !a.Link.Anonymous {
					a.Link.Password = os.Getenv("ETHERVPN_PASSWORD")
				}
				a.Link.ConnectionInterval = time.Duration(interval) * time.Second
				a.Link.ConnectionLifetime = time.Duration(lifetime) * time.Second
				a.Link.RetryInterval = time.Duration(retryInterval) * time.Second
				if err := a.Validate(); err != nil {
					return err
				}
				accts = []client.Account{a}
			}
			if highPriority {
				if err := osprio.Raise(); err != nil {
					log.Warn("cannot raise the CPU priority", "err", err)
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			go procs.Adapt(ctx, log)
			return runAccounts(ctx, accts, offload, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.Link.Server, "server", "", "VPN server as HOST:PORT")
	f.StringVar(&a.Link.Hub, "hub", "", "Virtual Hub name")
	f.StringVar(&a.Link.User, "user", "", "user name")
	f.StringVar(&a.Link.Password, "password", "", "password (or set ETHERVPN_PASSWORD)")
	f.BoolVar(&a.Link.Anonymous, "anonymous", false, "anonymous authentication")
	f.BoolVar(&a.Link.PlainPassword, "plain-password", false, "send the password itself, protected by TLS only (for users the server checks against RADIUS or an NT domain)")
	f.StringVar(&a.TAP, "tap", a.TAP, "name of the TAP device to create")
	f.IntVar(&a.Link.MaxConnections, "max-connections", 1, "TCP connections of the session, 1-32")
	f.BoolVar(&a.Link.HalfDuplex, "half-duplex", false, "half-duplex connections (each carries one direction)")
	f.BoolVar(&a.Link.Compress, "compress", false, "compress data (zlib per frame)")
	f.BoolVar(&a.Link.NoEncrypt, "no-encrypt", false, "carry data outside TLS after the login")
	f.BoolVar(&a.Link.BridgeMode, "bridge-mode", false, "request bridge/router mode (other hosts behind this one)")
	f.BoolVar(&a.Link.MonitorMode, "monitor-mode", false, "request monitor mode (receive all of the hub's traffic)")
	f.IntVar(&interval, "connection-interval", 1, "seconds between additional connection attempts, >= 1")
	f.IntVar(&lifetime, "connection-lifetime", 0, "seconds after which each TCP connection is replaced, 0 = never")
	f.IntVar(&retryInterval, "retry-interval", 15, "seconds before logging in again, >= 5")
	f.IntVar(&a.Link.Retries, "retries", -1, "failed attempts in a row to retry, -1 = unlimited")
	f.StringVar(&a.Link.PinSHA256, "pin-cert", "", "hex SHA-256 of the server certificate to accept")
	f.StringVar(&configFile, "config", "", "accounts file (see below) instead of the connection flags")
	f.StringVar(&accountName, "account", "", "with --config: run only this account")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&jsonLog, "log-json", false, "log as JSON lines instead of text")
	f.BoolVar(&offload, "tap-offload", true, "let the kernel pass 64 KiB TCP segments through the TAP (cut into and merged from wire frames here)")
	f.BoolVar(&highPriority, "high-priority", true, "run at nice -20 as SoftEther's vpnclient does (needs root or CAP_SYS_NICE)")
	f.StringVar(&pprofAddr, "pprof", os.Getenv("ETHERVPN_PPROF"),
		"serve Go's profiler (net/http/pprof) on this loopback address, e.g. 127.0.0.1:6061; off when empty (default $ETHERVPN_PPROF)")
	cmd.AddCommand(hashPasswordCmd())
	return cmd
}

// hashPasswordCmd prints the password-hash value of an accounts file.
func hashPasswordCmd() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "hash-password --user NAME",
		Short: "Print the password-hash of an accounts file (reads the password from stdin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return errors.New("--user is required: the hash depends on the user name")
			}
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("reading the password from stdin: %w", err)
			}
			h := sha0.HashPassword(user, strings.TrimRight(line, "\r\n"))
			fmt.Fprintln(cmd.OutOrStdout(), client.EncodeHash(h[:]))
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user name")
	return cmd
}

func loadAccounts(path, only string) ([]client.Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		slog.Warn("the accounts file is readable by other users; its password hashes log in as the users", "file", path)
	}
	accts, err := client.ParseAccounts(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if only == "" {
		return accts, nil
	}
	for _, a := range accts {
		if a.Name == only {
			return []client.Account{a}, nil
		}
	}
	return nil, fmt.Errorf("%s has no account %q", path, only)
}

// runAccounts runs every account until ctx ends or all of them have given
// up; it returns the first account's error.
func runAccounts(ctx context.Context, accts []client.Account, offload bool, log *slog.Logger) error {
	errs := make([]error, len(accts))
	var wg sync.WaitGroup
	for i, a := range accts {
		alog := log
		if a.Name != "" {
			alog = log.With("account", a.Name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runAccount(ctx, a, offload, alog)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runAccount creates the account's TAP device and runs its link; the device
// is removed when the link stops.
func runAccount(ctx context.Context, a client.Account, offload bool, log *slog.Logger) error {
	dev, err := tap.Create(tap.Config{Name: a.TAP, TxQueueLen: 1000, Offload: offload})
	if err != nil {
		return err
	}
	log = log.With("tap", dev.Name())
	port := tap.NewPort(dev, 0)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tapDone := make(chan struct{})
	go func() {
		defer close(tapDone)
		if err := port.Run(); err != nil {
			cancel(fmt.Errorf("TAP device %s failed: %w", dev.Name(), err))
		}
	}()
	log.Info("TAP device up", "mac", dev.MAC().String())
	if a.Link.PinSHA256 == "" {
		log.Warn("the server is not verified: its certificate is accepted as it comes; pass --pin-cert with the SHA-256 logged on connect")
	}
	a.Link.Log = log
	err = client.NewLink(a.Link, port).Run(ctx)
	if err == nil {
		err = context.Cause(ctx)
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	}
	port.Close()
	<-tapDone
	st := port.Stats()
	log.Info("stopped; TAP device removed", "frames_from_tap", st.FromDevice, "frames_to_tap", st.ToDevice, "dropped", st.Dropped,
		"super_frames_from_tap", st.SuperFrames, "merged_writes_to_tap", st.MergedWrites)
	return err
}
