package farm

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// A node's liveness is an etcd lease: it publishes itself under
// nodes/<name> on that lease, and everything it hosts (dynamic hubs) is
// placed on the same lease, so a node that dies takes its record and its
// placements with it when the lease runs out, without anyone cleaning up.

// Member is what a node publishes about itself: what SoftEther's admin
// method EnumFarmMember lists of a member (Admin.c:12880-12930).
type Member struct {
	Name string `json:"name"`
	// Address is where clients are redirected to reach the node: IPv4,
	// since the real client reads the redirect's address as IPv4
	// with PackGetIp32 (Protocol.c:4611-4686).
	Address netip.Addr `json:"address"`
	Ports   []uint16   `json:"ports"` // its SSL-VPN ports
	// Weight scales the node's share of sessions (SoftEther's
	// ClusterMemberWeight; 0 counts as 100).
	Weight uint32 `json:"weight"`
	// NoSessions: the node takes logins and admin calls but carries no
	// sessions (SoftEther's ControllerOnly).
	NoSessions     bool      `json:"no_sessions,omitempty"`
	Sessions       uint32    `json:"sessions"`
	TCPConnections uint32    `json:"tcp_connections"`
	Hubs           []string  `json:"hubs,omitempty"` // dynamic hubs it hosts
	Joined         time.Time `json:"joined"`
	Lease          int64     `json:"lease"` // the node's etcd lease
}

// farmBasePoint and maxSessions are SoftEther's FARM_BASE_POINT and the
// open-source build's session cap (Cedar.h; Server.c,
// SERVER_MAX_SESSIONS_FOR_CARRIER_EDITION).
const (
	farmBasePoint = 100000
	maxSessions   = 100000
)

// Point is the node's load point, higher for a less loaded node, as
// SoftEther computes it (Server.c:1954-1992):
// 100000 × (max − min(sessions×100/weight, max)) / max.
func (m Member) Point() uint32 {
	w := uint64(m.Weight)
	if w == 0 {
		w = 100
	}
	load := min(uint64(m.Sessions)*100/w, maxSessions)
	return uint32(farmBasePoint * (maxSessions - load) / maxSessions)
}

// Choose picks the node a new session should go to: among nodes that
// carry sessions and are below the cap, the highest point; a tie goes to
// the node that joined last, as SoftEther's choice goes to the later
// member (Server.c:7121-7334, SiGetNextFarmMember). ok is false when no
// node can take a session.
func Choose(members []Member) (best Member, ok bool) {
	for _, m := range members {
		if m.NoSessions || m.Sessions >= maxSessions {
			continue
		}
		if !ok || m.Point() > best.Point() ||
			(m.Point() == best.Point() && m.Joined.After(best.Joined)) {
			best, ok = m, true
		}
	}
	return best, ok
}

// Node is this server's membership of a farm.
type Node struct {
	cli     *clientv3.Client
	root    string
	sess    *concurrency.Session
	timeout time.Duration

	mu   sync.Mutex
	self Member

	ticketTTL time.Duration

	pubMu sync.Mutex
	pub   map[string]published // what Publish last wrote, by key
}

// NodeConfig says how a node joins.
type NodeConfig struct {
	Client *clientv3.Client
	Root   string // the farm's keys start with it, say "/ethervpn/farm1/"
	Self   Member // Name, Address, Ports, Weight, NoSessions
	// TTL is the lease: a node silent that long is gone (10 s if 0).
	TTL     time.Duration
	Timeout time.Duration // every etcd call gives up after it
	// TicketTTL is how long a redirect's ticket lasts (60 s if 0, as
	// SoftEther's TICKET_EXPIRES).
	TicketTTL time.Duration
}

// Join makes this server a node of the farm: it takes a lease, kept
// alive while the process lives, and publishes itself on it.
func Join(ctx context.Context, c NodeConfig) (*Node, error) {
	ttl := cmp.Or(c.TTL, 10*time.Second)
	timeout := cmp.Or(c.Timeout, 5*time.Second)
	sess, err := newSession(ctx, c.Client, ttl, timeout)
	if err != nil {
		return nil, fmt.Errorf("taking the node's lease in etcd: %w", err)
	}
	n := &Node{cli: c.Client, root: c.Root, sess: sess, timeout: timeout,
		self: c.Self, ticketTTL: cmp.Or(c.TicketTTL, 60*time.Second)}
	n.self.Lease = int64(sess.Lease())
	n.self.Joined = time.Now().UTC()
	if err := n.publish(ctx); err != nil {
		sess.Close()
		return nil, err
	}
	return n, nil
}

// newSession takes a lease of ttl, giving up after timeout (etcd away),
// and keeps it alive until the session is closed: not with ctx, so that
// closing the session at shutdown can still revoke the lease, and the
// node leaves the farm at once rather than after its TTL.
func newSession(ctx context.Context, cli *clientv3.Client, ttl, timeout time.Duration) (*concurrency.Session, error) {
	gctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	g, err := cli.Grant(gctx, int64((ttl+time.Second-1)/time.Second))
	if err != nil {
		return nil, err
	}
	return concurrency.NewSession(cli, concurrency.WithLease(g.ID), concurrency.WithContext(context.Background()))
}

// Name is the node's name.
func (n *Node) Name() string { return n.self.Name }

// Lost is closed when the node's lease is gone (etcd was unreachable for
// longer than the TTL): its record and placements are gone too, and the
// node must join again.
func (n *Node) Lost() <-chan struct{} { return n.sess.Done() }

// Leave ends the membership at once: the lease is revoked, and with it
// the node's record and everything placed on it.
func (n *Node) Leave() error { return n.sess.Close() }

// Report publishes the node's current load.
func (n *Node) Report(ctx context.Context, sessions, tcp uint32, hubs []string) error {
	n.mu.Lock()
	n.self.Sessions, n.self.TCPConnections, n.self.Hubs = sessions, tcp, slices.Clone(hubs)
	n.mu.Unlock()
	return n.publish(ctx)
}

// publish writes the node's record on its lease.
func (n *Node) publish(ctx context.Context) error {
	n.mu.Lock()
	b, err := json.Marshal(n.self)
	n.mu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	if _, err := n.cli.Put(ctx, n.root+"nodes/"+n.self.Name, string(b), clientv3.WithLease(n.sess.Lease())); err != nil {
		return fmt.Errorf("publishing the node in etcd: %w", err)
	}
	return nil
}

// Members lists the farm's live nodes, by name.
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	resp, err := n.cli.Get(ctx, n.root+"nodes/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing the farm's nodes: %w", err)
	}
	out := make([]Member, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			continue // a record this version cannot read is not a node it can use
		}
		out = append(out, m)
	}
	return out, nil
}
