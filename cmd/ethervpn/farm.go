package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ethervpn/ethervpn/internal/server"
)

// farmFlagValues are the --farm* flags of ethervpn server.
type farmFlagValues struct {
	urls, address, name, cluster, ca, cert, key string
	weight                                      uint32
	noSessions                                  bool
}

func (f *farmFlagValues) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.urls, "farm", "", "join a server farm: the client URLs of its etcd, comma-separated")
	fl.StringVar(&f.address, "farm-address", "", "this node's IPv4 address, to which clients of other nodes are redirected")
	fl.Uint32Var(&f.weight, "farm-weight", 100, "this node's share of the farm's sessions (SoftEther's member weight)")
	fl.BoolVar(&f.noSessions, "farm-no-sessions", false, "take logins and admin calls but carry no sessions")
	fl.StringVar(&f.name, "farm-name", "", "this node's name in the farm (default: the host name)")
	fl.StringVar(&f.cluster, "farm-cluster", "default", "the farm's name, for several farms on one etcd")
	fl.StringVar(&f.ca, "farm-ca", "", "PEM file of the CA of the farm's etcd (TLS; https:// URLs)")
	fl.StringVar(&f.cert, "farm-cert", "", "PEM file of this node's client certificate for the farm's etcd")
	fl.StringVar(&f.key, "farm-key", "", "PEM file of the key of --farm-cert")
}

// farmOptions are the node's farm settings: the configuration file's
// root/EtherVPNFarm, each overridden by its flag when the flag is given.
// inFarm is false when neither says to join a farm.
func farmOptions(cmd *cobra.Command, dataDir string, f farmFlagValues) (opts server.FarmOptions, inFarm bool, err error) {
	opts, inFarm, err = server.FarmOptionsFromConfig(dataDir)
	if err != nil {
		return opts, false, fmt.Errorf("the farm settings of the configuration: %w", err)
	}
	set := cmd.Flags().Changed
	if set("farm") {
		opts.Endpoints, inFarm = strings.Split(f.urls, ","), f.urls != ""
	}
	if !inFarm {
		return opts, false, nil
	}
	if set("farm-address") || !opts.Address.IsValid() {
		if opts.Address, err = netip.ParseAddr(f.address); err != nil {
			return opts, false, fmt.Errorf("--farm-address %q: want the node's IPv4 address, to which clients of other nodes are redirected", f.address)
		}
	}
	for _, s := range []struct {
		flag string
		dst  *string
		v    string
	}{{"farm-name", &opts.Name, f.name}, {"farm-cluster", &opts.Cluster, f.cluster},
		{"farm-ca", &opts.CAFile, f.ca}, {"farm-cert", &opts.CertFile, f.cert}, {"farm-key", &opts.KeyFile, f.key}} {
		if set(s.flag) {
			*s.dst = s.v
		}
	}
	if set("farm-weight") || opts.Weight == 0 {
		opts.Weight = f.weight
	}
	if set("farm-no-sessions") {
		opts.NoSessions = f.noSessions
	}
	return opts, true, nil
}
