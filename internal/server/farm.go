package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/farm"
)

// A server farm: every node keeps the configuration all nodes share in
// etcd (farm.ConfigStore) and watches it, so a change made on any node is
// in etcd before the admin's call returns and runs on every node a moment
// later; each node publishes itself and its load on a lease (farm.Node).

// FarmOptions make the server a node of a farm (ethervpn server --farm).
type FarmOptions struct {
	Endpoints []string // etcd client URLs
	// Cluster names the farm: its keys are under /ethervpn/<Cluster>/,
	// so one etcd can hold several farms ("default" if empty).
	Cluster string
	Name    string     // the node's name (the host name if empty)
	Address netip.Addr // where other nodes' clients are sent: IPv4
	// Ports are the SSL-VPN ports clients are sent to (SoftEther's
	// PublicPorts); the enabled listeners' ports if empty.
	Ports []uint16
	// Weight scales the node's share of sessions (100 if 0).
	Weight uint32
	// NoSessions: the node answers logins and admin calls but carries no
	// sessions itself (SoftEther's ControllerOnly).
	NoSessions bool
	// Timeout bounds each etcd call (5 s if 0).
	Timeout time.Duration
	// LeaseTTL is how long a node that stopped answering stays a member
	// and keeps its dynamic hubs (10 s if 0).
	LeaseTTL time.Duration
	// CAFile, CertFile and KeyFile are PEM files for TLS to etcd
	// (https:// endpoints): the CA that signed etcd's server certificate
	// (the system's roots if empty), and the node's client certificate and
	// key, for an etcd that asks for one (--client-cert-auth).
	CAFile, CertFile, KeyFile string
}

// FarmOptionsFromConfig reads the farm settings of the configuration
// file in dir (root/EtherVPNFarm); ok is false when it has none.
func FarmOptionsFromConfig(dir string) (f FarmOptions, ok bool, err error) {
	root, err := config.Load(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return f, false, nil
	}
	if err != nil {
		return f, false, err
	}
	c, ok := config.ReadFarm(root)
	if !ok {
		return f, false, nil
	}
	f = FarmOptions{Endpoints: c.Endpoints, Cluster: c.Cluster, Name: c.Name, Weight: c.Weight,
		NoSessions: c.NoSessions, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}
	if c.Address != "" {
		if f.Address, err = netip.ParseAddr(c.Address); err != nil {
			return f, false, fmt.Errorf("%s: %s/Address %q is not an IPv4 address", ConfigFile, config.FarmFolder, c.Address)
		}
	}
	return f, true, nil
}

// etcdTLS is the TLS configuration for the farm's etcd, nil for none.
func (f FarmOptions) etcdTLS() (*tls.Config, error) {
	if f.CAFile == "" && f.CertFile == "" && f.KeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fmt.Errorf("the farm's CA (--farm-ca): %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the farm's CA (--farm-ca) %s: no PEM certificate in it", f.CAFile)
		}
	}
	if f.CertFile != "" || f.KeyFile != "" {
		if f.CertFile == "" || f.KeyFile == "" {
			return nil, errors.New("a client certificate for the farm's etcd needs both --farm-cert and --farm-key")
		}
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("the node's etcd client certificate (--farm-cert, --farm-key): %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// OpenNode is Open for a node of a farm: the shared part of the
// configuration comes from etcd (the first node of an empty farm puts its
// own there), the node's own part (listeners, local bridges, UDP ports)
// from DIR/vpn_server.config, which also keeps a copy of the rest.
func OpenNode(dir string, log *slog.Logger, f FarmOptions) (*Server, error) {
	if len(f.Endpoints) == 0 {
		return nil, errors.New("a farm needs the client URLs of its etcd (--farm)")
	}
	if !f.Address.Is4() {
		return nil, fmt.Errorf("the node's farm address %q is not IPv4: SoftEther clients follow a redirect to an IPv4 address only (--farm-address)", f.Address)
	}
	return open(dir, log, &f)
}

// farmNode is the server's side of its farm membership.
type farmNode struct {
	opts  FarmOptions
	root  string
	cli   *clientv3.Client
	store *farm.ConfigStore
	log   *slog.Logger
	// status is the history of the membership (admin_farm.go).
	status farmStatus
	// node is the membership while the node is in the farm (nil while
	// etcd is away); logins read it.
	node   atomic.Pointer[farm.Node]
	hosted hosted // the dynamic hubs placed here
	// numbers are the blocks of session numbers this node holds
	// (farm_login.go, sessionNumber).
	numbers numbers
	// life ends with the connection to etcd (close).
	life    context.Context
	endLife context.CancelFunc
}

// openFarm connects to the farm's etcd; the configuration is read
// through the returned node's store.
func openFarm(f FarmOptions, file *config.Store, log *slog.Logger) (*farmNode, error) {
	if f.Name == "" {
		f.Name, _ = os.Hostname()
	}
	f.Cluster = cmp.Or(f.Cluster, "default")
	f.Timeout = cmp.Or(f.Timeout, 5*time.Second)
	tlsConf, err := f.etcdTLS()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: f.Endpoints, DialTimeout: f.Timeout, TLS: tlsConf, Logger: zap.NewNop(),
		// Reconnect within seconds when etcd returns (gRPC's default
		// backoff grows to two minutes).
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: f.Timeout,
		})}})
	if err != nil {
		return nil, fmt.Errorf("connecting to the farm's etcd %s: %w", strings.Join(f.Endpoints, ","), err)
	}
	root := "/ethervpn/" + f.Cluster + "/"
	fm := &farmNode{opts: f, root: root, cli: cli, log: log.With("farm", f.Cluster, "node", f.Name)}
	fm.life, fm.endLife = context.WithCancel(context.Background())
	fm.store = farm.NewConfigStore(farm.StoreConfig{Client: cli, Root: root, Node: f.Name,
		File: defaultIfMissing{file}, Timeout: f.Timeout, Log: fm.log})
	return fm, nil
}

// fromFile is the configuration a node starts with when etcd could not
// be read (why): the copy of the farm's configuration in its file, which
// run replaces with etcd's once etcd answers.
func (fm *farmNode) fromFile(file *config.Store, why error) (*config.Folder, error) {
	root, err := file.Load()
	if err != nil {
		return nil, fmt.Errorf("%w; and this node has no configuration file to start from until etcd answers: %v", why, err)
	}
	fm.log.Warn("etcd cannot be read: starting from the copy of the farm's configuration in the configuration file; admin changes are refused until etcd answers", "err", why)
	fm.store.Offline(root)
	return root, nil
}

// close ends the connection to etcd.
func (fm *farmNode) close() {
	fm.endLife()
	fm.cli.Close()
}

// run keeps the node in the farm while ctx lasts: it follows the shared
// configuration, and publishes itself and its load on its lease, joining
// again when the lease was lost (etcd away for longer than the lease).
func (fm *farmNode) run(ctx context.Context, s *Server) {
	go fm.store.Watch(ctx, func() {
		if err := s.ctl.Reload(readConfig); err != nil {
			fm.log.Error("could not take a change of the farm's configuration", "err", err)
		}
	})
	fm.status.mu.Lock()
	fm.status.started = time.Now()
	fm.status.mu.Unlock()
	for ctx.Err() == nil {
		ports := fm.opts.Ports
		if len(ports) == 0 {
			ports = s.listenerPorts()
		}
		node, err := farm.Join(ctx, farm.NodeConfig{Client: fm.cli, Root: fm.root, Timeout: fm.opts.Timeout, TTL: fm.opts.LeaseTTL,
			Self: farm.Member{Name: fm.opts.Name, Address: fm.opts.Address, Ports: ports,
				Weight: fm.opts.Weight, NoSessions: fm.opts.NoSessions}})
		fm.status.joinDone(err)
		if err != nil {
			fm.log.Warn("could not join the farm; trying again", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		fm.log.Info("joined the farm")
		if fm.store.Revision() < 0 { // started from the file's copy (Offline)
			if err := s.ctl.Reload(readConfig); err != nil {
				fm.log.Warn("could not read the farm's configuration yet", "err", err)
			} else {
				fm.log.Info("took the farm's configuration from etcd")
			}
		}
		fm.reclaim(ctx, s, node)
		fm.node.Store(node)
		cmdCtx, stopCmds := context.WithCancel(ctx)
		go func() {
			// Commands other nodes' administrators give this node
			// (DeleteSession of a session here), while it is in the farm.
			for cmdCtx.Err() == nil {
				if err := node.ServeCommands(cmdCtx, s.farmCommand); err != nil && cmdCtx.Err() == nil {
					fm.log.Debug("watching the node's commands; again", "err", err)
					time.Sleep(time.Second)
				}
			}
		}()
		fm.report(ctx, s, node)
		stopCmds()
		fm.node.Store(nil)
		if ctx.Err() != nil {
			fm.status.left(nil)
			node.Leave()
			return
		}
		fm.status.left(errLeaseLost)
		fm.log.Warn("the node lost its lease in etcd (etcd unreachable); joining again")
	}
}

// reclaim claims again, after a (re)join, the dynamic hubs whose sessions
// this node carries: while its lease was gone another node may have taken
// a hub; then the sessions here end (their clients come back through
// their entry node to the hub's node) and so does the hub's SecureNAT.
func (fm *farmNode) reclaim(ctx context.Context, s *Server, node *farm.Node) {
	fm.hosted.mu.Lock()
	hubs := make([]string, 0, len(fm.hosted.placed))
	for hub := range fm.hosted.placed {
		hubs = append(hubs, hub)
	}
	fm.hosted.mu.Unlock()
	for _, hub := range hubs {
		// Claim, not Place: the hub stays where its sessions are, unless
		// another node took it meanwhile.
		host, err := node.Claim(ctx, hub)
		if err != nil || host == node.Name() {
			continue // placed here again (or etcd went away again: the next join tries)
		}
		fm.log.Warn("a dynamic hub this node carried moved to another node while this node was away; ending its sessions here", "hub", hub, "host", host)
		fm.hosted.mu.Lock()
		delete(fm.hosted.placed, hub)
		fm.hosted.mu.Unlock()
		for _, x := range s.Sessions() {
			if strings.EqualFold(x.Hub.Name(), hub) {
				x.Close(errHubMoved)
			}
		}
		if hb := s.LookupHub(hub); hb != nil {
			s.ApplySecureNAT(hb)
		}
	}
}

// errHubMoved ends the sessions of a dynamic hub that another node took.
var errHubMoved = errors.New("the farm moved the hub to another node")

// errLeaseLost is why a node that was in the farm is out of it.
var errLeaseLost = errors.New("the node's lease in etcd was lost (etcd unreachable for longer than the lease)")

// reportEvery is how often a node looks at its load and publishes it if
// it changed (SoftEther's members report every 10 s,
// SERVER_FARM_CONTROL_INTERVAL; a shorter period spreads a burst of
// logins over a static hub's nodes sooner).
const reportEvery = time.Second

// sweepEvery is how often a node deletes the redirect tickets issued for
// it that nobody came for (a ticket is good for 60 s; one left behind
// is only etcd's garbage).
const sweepEvery = 30 * time.Second

// report publishes the node's load until ctx ends or the lease is lost.
func (fm *farmNode) report(ctx context.Context, s *Server, node *farm.Node) {
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	var last struct {
		sessions, tcp uint32
		hubs          []string
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-node.Lost():
			return
		case <-sweep.C:
			if n, err := node.SweepTickets(ctx); err != nil {
				fm.log.Debug("could not sweep expired redirect tickets", "err", err)
			} else if n > 0 {
				fm.log.Info("deleted redirect tickets nobody came for", "tickets", n)
			}
		case <-t.C:
			hubs := fm.releaseIdle(ctx, s, node)
			slices.Sort(hubs)
			sessions, tcp := s.load()
			// The sessions and tables the farm lists (only what changed
			// is written).
			recs, tables := s.farmRecords()
			if err := node.Publish(ctx, recs, tables); err != nil {
				fm.log.Debug("could not publish the node's sessions and tables", "err", err)
			}
			if sessions == last.sessions && tcp == last.tcp && slices.Equal(hubs, last.hubs) {
				continue
			}
			if err := node.Report(ctx, sessions, tcp, hubs); err != nil {
				fm.log.Debug("could not report the node's load", "err", err)
				continue
			}
			last.sessions, last.tcp, last.hubs = sessions, tcp, hubs
		}
	}
}

// load counts the node's sessions and their TCP connections.
func (s *Server) load() (sessions, tcp uint32) {
	for _, x := range s.Sessions() {
		sessions++
		tcp += uint32(x.NumConns())
	}
	return sessions, tcp
}

// listenerPorts are the SSL-VPN ports the node listens on, for redirects.
func (s *Server) listenerPorts() []uint16 {
	var ports []uint16
	for _, l := range s.ctl.Current().Listeners {
		if l.Enabled {
			ports = append(ports, l.Port)
		}
	}
	slices.Sort(ports)
	return ports
}

// defaultIfMissing is a node's configuration file that gives the default
// configuration while there is none (a new node joining a farm).
type defaultIfMissing struct{ *config.Store }

func (d defaultIfMissing) Load() (*config.Folder, error) {
	root, err := d.Store.Load()
	if errors.Is(err, os.ErrNotExist) {
		return config.Default().ToTree(), nil
	}
	return root, err
}

// Control is the owner of the server's configuration: its typed
// operations are the admin methods (for embedding and tests).
func (s *Server) Control() *control.Owner { return s.ctl }
