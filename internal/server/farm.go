package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

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
	// node is the membership while the node is in the farm (nil while
	// etcd is away); logins read it.
	node   atomic.Pointer[farm.Node]
	hosted hosted // the dynamic hubs placed here
}

// openFarm connects to the farm's etcd; the configuration is read
// through the returned node's store.
func openFarm(f FarmOptions, file *config.Store, log *slog.Logger) (*farmNode, error) {
	if f.Name == "" {
		f.Name, _ = os.Hostname()
	}
	f.Cluster = cmp.Or(f.Cluster, "default")
	f.Timeout = cmp.Or(f.Timeout, 5*time.Second)
	cli, err := clientv3.New(clientv3.Config{Endpoints: f.Endpoints, DialTimeout: f.Timeout, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("connecting to the farm's etcd %s: %w", strings.Join(f.Endpoints, ","), err)
	}
	root := "/ethervpn/" + f.Cluster + "/"
	fm := &farmNode{opts: f, root: root, cli: cli, log: log.With("farm", f.Cluster, "node", f.Name)}
	fm.store = farm.NewConfigStore(farm.StoreConfig{Client: cli, Root: root, Node: f.Name,
		File: defaultIfMissing{file}, Timeout: f.Timeout, Log: fm.log})
	return fm, nil
}

// close ends the connection to etcd.
func (fm *farmNode) close() { fm.cli.Close() }

// run keeps the node in the farm while ctx lasts: it follows the shared
// configuration, and publishes itself and its load on its lease, joining
// again when the lease was lost (etcd away for longer than the lease).
func (fm *farmNode) run(ctx context.Context, s *Server) {
	go fm.store.Watch(ctx, func() {
		if err := s.ctl.Reload(readConfig); err != nil {
			fm.log.Error("could not take a change of the farm's configuration", "err", err)
		}
	})
	for ctx.Err() == nil {
		ports := fm.opts.Ports
		if len(ports) == 0 {
			ports = s.listenerPorts()
		}
		node, err := farm.Join(ctx, farm.NodeConfig{Client: fm.cli, Root: fm.root, Timeout: fm.opts.Timeout,
			Self: farm.Member{Name: fm.opts.Name, Address: fm.opts.Address, Ports: ports,
				Weight: fm.opts.Weight, NoSessions: fm.opts.NoSessions}})
		if err != nil {
			fm.log.Warn("could not join the farm; trying again", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		fm.log.Info("joined the farm")
		fm.node.Store(node)
		fm.report(ctx, s, node)
		fm.node.Store(nil)
		if ctx.Err() != nil {
			node.Leave()
			return
		}
		fm.log.Warn("the node lost its lease in etcd (etcd unreachable); joining again")
	}
}

// reportEvery is how often a node looks at its load and publishes it if
// it changed (SoftEther's members report every 10 s,
// SERVER_FARM_CONTROL_INTERVAL; a shorter period spreads a burst of
// logins over a static hub's nodes sooner).
const reportEvery = time.Second

// report publishes the node's load until ctx ends or the lease is lost.
func (fm *farmNode) report(ctx context.Context, s *Server, node *farm.Node) {
	t := time.NewTicker(reportEvery)
	defer t.Stop()
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
		case <-t.C:
			hubs := fm.releaseIdle(ctx, s, node)
			slices.Sort(hubs)
			sessions, tcp := s.load()
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
