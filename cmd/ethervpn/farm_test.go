package main

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/server"
)

// The farm settings come from root/EtherVPNFarm of the configuration
// file; a flag given overrides its item, one not given leaves it.
func TestFarmOptionsFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	parse := func(args ...string) (server.FarmOptions, bool, error) {
		cmd := &cobra.Command{Use: "server"}
		var f farmFlagValues
		f.add(cmd)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return farmOptions(cmd, dir, f)
	}
	if _, in, err := parse(); in || err != nil {
		t.Fatalf("no file, no flags: in a farm %v, %v", in, err)
	}
	o, in, err := parse("--farm", "https://10.0.0.1:2379", "--farm-address", "10.0.0.2")
	if !in || err != nil || o.Address != netip.MustParseAddr("10.0.0.2") || o.Weight != 100 || o.Cluster != "" {
		t.Fatalf("flags only: %+v %v %v", o, in, err)
	}
	root := config.Default().ToTree()
	config.Farm{Endpoints: []string{"https://10.0.0.1:2379", "https://10.0.0.9:2379"}, Address: "10.0.0.3", Weight: 300,
		Name: "n3", Cluster: "c1", CAFile: "/ca.pem", CertFile: "/n3.pem", KeyFile: "/n3.key", NoSessions: true}.Put(root)
	if err := config.Save(filepath.Join(dir, server.ConfigFile), root); err != nil {
		t.Fatal(err)
	}
	o, in, err = parse()
	if !in || err != nil || len(o.Endpoints) != 2 || o.Address != netip.MustParseAddr("10.0.0.3") || o.Weight != 300 ||
		o.Name != "n3" || o.Cluster != "c1" || o.CAFile != "/ca.pem" || o.CertFile != "/n3.pem" || o.KeyFile != "/n3.key" || !o.NoSessions {
		t.Fatalf("file only: %+v %v %v", o, in, err)
	}
	o, _, err = parse("--farm-weight", "10", "--farm-key", "/other.key", "--farm-no-sessions=false", "--farm-address", "10.0.0.4")
	if err != nil || o.Weight != 10 || o.KeyFile != "/other.key" || o.NoSessions || o.Address != netip.MustParseAddr("10.0.0.4") || o.Name != "n3" {
		t.Fatalf("flags over the file: %+v %v", o, err)
	}
	if _, in, _ := parse("--farm", ""); in {
		t.Error("--farm '' did not turn the file's farm off")
	}
}
