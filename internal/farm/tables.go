package farm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// What runs on each node, for the admin methods that list a hub across
// the farm (SoftEther's EnumSession, EnumMacTable and EnumIpTable on a
// controller, which ask every member with the enumsession, enummactable
// and enumiptable tasks, Server.c). Here each node publishes its part in
// etcd, on its lease, and any node reads the whole farm's with one range
// read: no node needs to reach another, a dead node's rows go with its
// lease, and a node's admin port need not be open to the others.
//
// The cost is bounded: a node publishes from its report loop (once a
// second), only what changed since it last did, in transactions of many
// keys; traffic counters and "last used" times alone do not make a row
// change, they are refreshed with the row every refreshEvery. A session is
// one key (sessions/<HUB>/<NAME>/<node>), so that DeleteSession finds its node
// with one read and a hub of 10,000 sessions is 10,000 small values; a
// hub's MAC and IP tables on one node are one value
// (tables/<HUB>/<node>), at most maxTableRows rows of each, since they
// change together and are read together.

// refreshEvery is how often an unchanged row is written again, with its
// counters (SoftEther's members report every 10 s,
// SERVER_FARM_CONTROL_INTERVAL; the counters of another node's session
// are as old as this at most).
const refreshEvery = 30 * time.Second

// maxTableRows bounds the MAC and IP rows a node publishes for one hub,
// so that the value stays far below etcd's request limit (1.5 MiB).
const maxTableRows = 4096

// maxTxnOps is how many keys one transaction writes (etcd refuses more
// than 128 by default, --max-txn-ops).
const maxTxnOps = 100

// SessionRecord is a session as the farm lists it (RPC_ENUM_SESSION_ITEM,
// Admin.c): Node is the node that carries it.
type SessionRecord struct {
	Node    string    `json:"node"`
	Hub     string    `json:"hub"`
	Name    string    `json:"name"`
	User    string    `json:"user"`
	Host    string    `json:"host,omitempty"` // the client's address
	TCP     uint32    `json:"tcp"`
	MaxTCP  uint32    `json:"max_tcp"`
	Sent    uint64    `json:"sent"` // bytes the session sent
	Recv    uint64    `json:"recv"` // bytes it received
	Packets uint64    `json:"packets"`
	Mode    string    `json:"mode,omitempty"` // "" a client; "link", "securenat", "bridge", "layer3", "client-bridge"
	Monitor bool      `json:"monitor,omitempty"`
	Created time.Time `json:"created"`
}

// MACRecord is one row of a hub's MAC table on a node.
type MACRecord struct {
	Session string    `json:"session"`
	MAC     HexBytes  `json:"mac"`
	VLAN    uint16    `json:"vlan,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// IPRecord is one row of a hub's IP table on a node.
type IPRecord struct {
	Session string     `json:"session"`
	IP      netip.Addr `json:"ip"`
	DHCP    bool       `json:"dhcp,omitempty"`
	Created time.Time  `json:"created"`
	Updated time.Time  `json:"updated"`
}

// HubTables are a hub's MAC and IP tables on one node.
type HubTables struct {
	Node      string      `json:"node"`
	Hub       string      `json:"hub"`
	MACs      []MACRecord `json:"macs,omitempty"`
	IPs       []IPRecord  `json:"ips,omitempty"`
	Truncated bool        `json:"truncated,omitempty"` // more than maxTableRows rows of either
}

// HexBytes is bytes written as hex in JSON.
type HexBytes []byte

// MarshalJSON writes b as a hex string.
func (b HexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(b)) }

// UnmarshalJSON reads a hex string.
func (b *HexBytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*b = v
	return err
}

// published is what the node last wrote under one key.
type published struct {
	shape []byte // the value without its counters and times of use
	at    time.Time
}

// Publish makes the node's rows in etcd what runs: sessions and the hubs'
// tables, all of this node's (Node is set here). It writes only what
// changed, and what is older than refreshEvery; a row that is gone is
// deleted. Rows of a failed write are written again by the next call.
func (n *Node) Publish(ctx context.Context, sessions []SessionRecord, tables []HubTables) error {
	type row struct {
		value, shape []byte
	}
	want := make(map[string]row, len(sessions)+len(tables))
	for _, s := range sessions {
		s.Node = n.self.Name
		v, err := json.Marshal(s)
		if err != nil {
			return err
		}
		s.Sent, s.Recv, s.Packets = 0, 0, 0
		shape, _ := json.Marshal(s)
		want[n.sessionKey(s.Hub, s.Name)] = row{v, shape}
	}
	for _, t := range tables {
		t.Node = n.self.Name
		if len(t.MACs) > maxTableRows || len(t.IPs) > maxTableRows {
			t.MACs, t.IPs, t.Truncated = t.MACs[:min(len(t.MACs), maxTableRows)], t.IPs[:min(len(t.IPs), maxTableRows)], true
		}
		if len(t.MACs) == 0 && len(t.IPs) == 0 {
			continue
		}
		v, err := json.Marshal(t)
		if err != nil {
			return err
		}
		t.MACs, t.IPs = withoutUse(t.MACs, t.IPs)
		shape, _ := json.Marshal(t)
		want[n.tablesKey(t.Hub)] = row{v, shape}
	}

	n.pubMu.Lock()
	defer n.pubMu.Unlock()
	if n.pub == nil {
		n.pub = map[string]published{}
	}
	now := time.Now()
	var ops []clientv3.Op
	var keys []string
	for k, r := range want {
		if p, ok := n.pub[k]; ok && bytes.Equal(p.shape, r.shape) && now.Sub(p.at) < refreshEvery {
			continue
		}
		ops = append(ops, clientv3.OpPut(k, string(r.value), clientv3.WithLease(n.sess.Lease())))
		keys = append(keys, k)
	}
	for k := range n.pub {
		if _, ok := want[k]; !ok {
			ops = append(ops, clientv3.OpDelete(k))
			keys = append(keys, k)
		}
	}
	for len(ops) > 0 {
		m := min(len(ops), maxTxnOps)
		tctx, cancel := context.WithTimeout(ctx, n.timeout)
		_, err := n.cli.Txn(tctx).Then(ops[:m]...).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("publishing the node's sessions and tables in etcd: %w", err)
		}
		for _, k := range keys[:m] {
			if r, ok := want[k]; ok {
				n.pub[k] = published{shape: r.shape, at: now}
			} else {
				delete(n.pub, k)
			}
		}
		ops, keys = ops[m:], keys[m:]
	}
	return nil
}

// withoutUse copies the rows without their times of last use.
func withoutUse(macs []MACRecord, ips []IPRecord) ([]MACRecord, []IPRecord) {
	m := make([]MACRecord, len(macs))
	for i, r := range macs {
		r.Updated = time.Time{}
		m[i] = r
	}
	p := make([]IPRecord, len(ips))
	for i, r := range ips {
		r.Updated = time.Time{}
		p[i] = r
	}
	return m, p
}

// sessionKey is where this node publishes session name of hub: with the
// node's name last, since two nodes may give a static hub's sessions the
// same name (each counts its own).
func (n *Node) sessionKey(hub, name string) string {
	return n.sessionPrefix(hub, name) + keyName(n.self.Name)
}

func (n *Node) sessionPrefix(hub, name string) string {
	return n.root + "sessions/" + keyName(hub) + "/" + keyName(name) + "/"
}

func (n *Node) tablesKey(hub string) string {
	return n.root + "tables/" + keyName(hub) + "/" + keyName(n.self.Name)
}

// HubSessions lists the sessions of hub on every node, as published.
func (n *Node) HubSessions(ctx context.Context, hub string) ([]SessionRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	resp, err := n.cli.Get(ctx, n.root+"sessions/"+keyName(hub)+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing the farm's sessions: %w", err)
	}
	out := make([]SessionRecord, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var s SessionRecord
		if json.Unmarshal(kv.Value, &s) == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// HubTables lists the MAC and IP tables of hub on every node, as
// published.
func (n *Node) HubTables(ctx context.Context, hub string) ([]HubTables, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	resp, err := n.cli.Get(ctx, n.root+"tables/"+keyName(hub)+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("listing the farm's MAC and IP tables: %w", err)
	}
	out := make([]HubTables, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var t HubTables
		if json.Unmarshal(kv.Value, &t) == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// Session finds session name of hub in the farm: the node that carries
// it, or the nodes (two nodes may name a static hub's sessions alike).
func (n *Node) Session(ctx context.Context, hub, name string) ([]SessionRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	resp, err := n.cli.Get(ctx, n.sessionPrefix(hub, name), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("looking a session up in etcd: %w", err)
	}
	var out []SessionRecord
	for _, kv := range resp.Kvs {
		var r SessionRecord
		if json.Unmarshal(kv.Value, &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Command is an admin action for another node to carry out: SoftEther's
// controller sends its members such tasks (deletesession, Server.c);
// here the command is a key under the target's cmd/ prefix, which the
// target watches and deletes when done.
type Command struct {
	Op   string     `json:"op"` // CmdDeleteSession, CmdDeleteMAC, CmdDeleteIP
	Hub  string     `json:"hub"`
	Name string     `json:"name,omitempty"` // the session
	MAC  HexBytes   `json:"mac,omitempty"`
	VLAN uint16     `json:"vlan,omitempty"`
	IP   netip.Addr `json:"ip,omitzero"`
}

// The commands: disconnect session Name of hub Hub; delete the MAC table
// row of MAC on VLAN, or the IP table row of IP (SoftEther's
// deletesession, deletemactable and deleteiptable tasks, Server.c).
const (
	CmdDeleteSession = "deletesession"
	CmdDeleteMAC     = "deletemactable"
	CmdDeleteIP      = "deleteiptable"
)

// ErrCommandTimeout is a command the target did not carry out in time
// (it may still do so).
var ErrCommandTimeout = errors.New("the node did not carry the command out in time")

// Send gives c to node and waits until node has carried it out. The
// command lives on the sender's lease: a sender that dies takes its
// commands with it.
func (n *Node) Send(ctx context.Context, node string, c Command) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var id [8]byte
	rand.Read(id[:])
	key := n.root + "cmd/" + keyName(node) + "/" + hex.EncodeToString(id[:])
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	put, err := n.cli.Put(ctx, key, string(b), clientv3.WithLease(n.sess.Lease()))
	if err != nil {
		return fmt.Errorf("giving a command to node %s: %w", node, err)
	}
	for resp := range n.cli.Watch(ctx, key, clientv3.WithRev(put.Header.Revision+1)) {
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	// Gone unseen (the watch ended): ask once more before giving up.
	get, gerr := n.cli.Get(context.Background(), key, clientv3.WithCountOnly())
	if gerr == nil && get.Count == 0 {
		return nil
	}
	n.cli.Delete(context.Background(), key)
	return ErrCommandTimeout
}

// ServeCommands carries out the commands given to this node with do,
// until ctx ends: those waiting when it starts, then each as it comes.
func (n *Node) ServeCommands(ctx context.Context, do func(Command)) error {
	prefix := n.root + "cmd/" + keyName(n.self.Name) + "/"
	run := func(key, value []byte) {
		var c Command
		if json.Unmarshal(value, &c) == nil {
			do(c)
		}
		dctx, cancel := context.WithTimeout(ctx, n.timeout)
		n.cli.Delete(dctx, string(key))
		cancel()
	}
	gctx, cancel := context.WithTimeout(ctx, n.timeout)
	resp, err := n.cli.Get(gctx, prefix, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return fmt.Errorf("reading the node's commands: %w", err)
	}
	for _, kv := range resp.Kvs {
		run(kv.Key, kv.Value)
	}
	for w := range n.cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
		if err := w.Err(); err != nil {
			return err
		}
		for _, ev := range w.Events {
			if ev.Type == clientv3.EventTypePut && strings.HasPrefix(string(ev.Kv.Key), prefix) {
				run(ev.Kv.Key, ev.Kv.Value)
			}
		}
	}
	return ctx.Err()
}

// OtherSessionCounts counts the sessions other nodes publish, by hub (the
// hub's name in upper case), for the session counts of a hub list.
func (n *Node) OtherSessionCounts(ctx context.Context) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	resp, err := n.cli.Get(ctx, n.root+"sessions/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("counting the farm's sessions: %w", err)
	}
	counts := map[string]int{}
	for _, kv := range resp.Kvs {
		var s SessionRecord
		if json.Unmarshal(kv.Value, &s) == nil && s.Node != n.self.Name {
			counts[strings.ToUpper(s.Hub)]++
		}
	}
	return counts, nil
}
