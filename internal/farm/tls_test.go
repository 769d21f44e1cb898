package farm_test

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/farm/etcdtest"
	"github.com/ethervpn/ethervpn/internal/server"
)

// A farm whose etcd asks for client certificates: a node with a
// certificate of etcd's CA joins, from flags (FarmOptions) or from its
// vpn_server.config (root/EtherVPNFarm); a node with none, or with one of
// another CA, is refused with an error.
func TestFarmOverTLSWithClientCertificates(t *testing.T) {
	cli, good, stranger := etcdtest.StartTLS(t)
	eps := cli.Endpoints()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := func(f etcdtest.TLSFiles) server.FarmOptions {
		return server.FarmOptions{Endpoints: eps, Cluster: "t", Name: "n", Address: netip.MustParseAddr("127.0.0.1"),
			Timeout: 2 * time.Second, CAFile: f.CA, CertFile: f.Cert, KeyFile: f.Key}
	}
	for name, f := range map[string]etcdtest.TLSFiles{
		"no client certificate":       {CA: good.CA},
		"a certificate of another CA": {CA: good.CA, Cert: stranger.Cert, Key: stranger.Key},
		"not trusting etcd's CA":      {CA: stranger.CA, Cert: good.Cert, Key: good.Key},
	} {
		if _, err := server.OpenNode(t.TempDir(), quiet, opts(f)); err == nil {
			t.Errorf("a node with %s was let in", name)
		}
	}
	if _, err := server.OpenNode(t.TempDir(), quiet, opts(etcdtest.TLSFiles{Cert: good.Cert})); err == nil {
		t.Error("a client certificate without its key was accepted")
	}

	// Node a from flags; node b from its configuration file.
	a, _, _ := runNodeOpts(t, opts(good), t.TempDir())
	dirB := t.TempDir()
	root := config.Default().ToTree()
	config.Farm{Endpoints: eps, Address: "127.0.0.1", Name: "b", Cluster: "t", Weight: 50,
		CAFile: good.CA, CertFile: good.Cert, KeyFile: good.Key}.Put(root)
	if err := config.Save(dirB+"/"+server.ConfigFile, root); err != nil {
		t.Fatal(err)
	}
	fb, ok, err := server.FarmOptionsFromConfig(dirB)
	if err != nil || !ok || fb.Weight != 50 || fb.Name != "b" || fb.KeyFile != good.Key || fb.Address != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("FarmOptionsFromConfig: %+v %v %v", fb, ok, err)
	}
	runNodeOpts(t, fb, dirB)
	if !eventually(5*time.Second, func() bool {
		p, err := adminCall(t, a, "EnumFarmMember")
		return err == nil && p.Count("Hostname") == 2
	}) {
		t.Fatal("nodes a and b are not both members over TLS")
	}
	if _, ok, err := server.FarmOptionsFromConfig(t.TempDir()); ok || err != nil {
		t.Errorf("a directory without a file: ok %v err %v", ok, err)
	}
}
