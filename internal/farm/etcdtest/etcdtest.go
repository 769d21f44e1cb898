// Package etcdtest runs an etcd server inside a Go test, for the tests
// of the farm (internal/farm) and of servers that join one.
package etcdtest

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Start runs an etcd server inside the test, on loopback, and
// returns a client of it; both end with the test.
func Start(t testing.TB) *clientv3.Client {
	t.Helper()
	return StartServer(t).Client
}

// start is Start; with tlsInfo the clients' URL is https and etcd serves
// it with tlsInfo, and the returned client uses tlsInfo's client files.
func start(t testing.TB, tlsInfo *transport.TLSInfo) *clientv3.Client {
	t.Helper()
	return startServer(t, tlsInfo).Client
}

// Server is an etcd server run inside a test, which the test may stop and
// start again (on the same address and data).
type Server struct {
	t      testing.TB
	cfg    *embed.Config
	e      *embed.Etcd
	Client *clientv3.Client // a client of it, ended with the test
}

// StartServer runs an etcd server inside the test, on loopback.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, nil)
}

// startServer is StartServer, with TLS as start has it.
func startServer(t testing.TB, tlsInfo *transport.TLSInfo) *Server {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(cfg.Dir, "etcd.log")} // its close is noisy
	client, peer := freeURL(t), freeURL(t)
	var clientTLS *tls.Config
	if tlsInfo != nil {
		client.Scheme = "https"
		cfg.ClientTLSInfo = *tlsInfo
		var err error
		if clientTLS, err = tlsInfo.ClientConfig(); err != nil {
			t.Fatal(err)
		}
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	s := &Server{t: t, cfg: cfg}
	s.Restart()
	t.Cleanup(s.Stop)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{client.String()}, DialTimeout: 5 * time.Second, TLS: clientTLS, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	s.Client = cli
	return s
}

// Stop stops the server (a lost etcd); its data stays.
func (s *Server) Stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Restart starts the stopped server again on its address and data.
func (s *Server) Restart() {
	s.t.Helper()
	e, err := embed.StartEtcd(s.cfg)
	if err != nil {
		s.t.Fatalf("starting etcd: %v", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(20 * time.Second):
		e.Close()
		s.t.Fatal("etcd did not start within 20 s")
	}
	s.e = e
}

// freeURL is an http URL on a loopback port that was free a moment ago.
func freeURL(t testing.TB) url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, _ := url.Parse(fmt.Sprintf("http://%s", l.Addr()))
	return *u
}
