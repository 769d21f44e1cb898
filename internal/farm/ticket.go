package farm

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TicketSize is the length of a redirect's ticket: the real client
// carries exactly 20 opaque bytes from the redirect to its login
// (Protocol.c:2615-2660 makes them; authtype 99 sends them back).
const TicketSize = 20

// Ticket is what the node that took a login leaves for the node it
// redirects the client to: who logged in, to which hub, in which group
// (SoftEther's createticket task carries these, and the session name and
// policy, Server.c:8958-9005; here the node that carries the session
// names it, and reads the policy from the configuration all nodes
// share). It lives in etcd, so no node trusts a ticket it did not read
// there.
type Ticket struct {
	ID       [TicketSize]byte `json:"-"`
	Node     string           `json:"node"` // the node that must consume it
	Hub      string           `json:"hub"`
	User     string           `json:"user"`
	RealUser string           `json:"real_user"`
	Group    string           `json:"group,omitempty"`
}

// ErrNoTicket is a ticket that is not in etcd: never issued, already
// used or expired. The client gets SoftEther's access denied.
var ErrNoTicket = errors.New("no such ticket: never issued, already used, or expired")

// IssueTicket keeps t in etcd for the ticket lifetime: 60 s, and at most
// a tenth more, since tickets of a few seconds share a lease (SoftEther
// too sweeps expired tickets now and then rather than at the second:
// Server.c:8134-8220).
func (n *Node) IssueTicket(ctx context.Context, t Ticket) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	lease, err := n.ticketLeaseFor(ctx)
	if err != nil {
		return err
	}
	if _, err := n.cli.Put(ctx, n.ticketKey(t.ID), string(b), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("keeping a redirect's ticket in etcd: %w", err)
	}
	return nil
}

// ticketLeaseFor returns a lease for a ticket issued now. Tickets of the
// same few seconds share one lease, a little longer than the lifetime,
// so that a busy node does not grant a lease per login.
func (n *Node) ticketLeaseFor(ctx context.Context) (clientv3.LeaseID, error) {
	n.ticketMu.Lock()
	defer n.ticketMu.Unlock()
	share := n.ticketTTL / 10
	if n.ticketLease != 0 && time.Since(n.leaseTaken) < share {
		return n.ticketLease, nil
	}
	ttl := int64((n.ticketTTL + share + time.Second - 1) / time.Second)
	g, err := n.cli.Grant(ctx, ttl)
	if err != nil {
		return 0, fmt.Errorf("taking a lease for redirect tickets in etcd: %w", err)
	}
	n.ticketLease, n.leaseTaken = g.ID, time.Now()
	return g.ID, nil
}

// ConsumeTicket takes the ticket id out of etcd, once: the first node to
// consume it gets it, every later attempt gets ErrNoTicket. A ticket for
// another node is consumed too (it is spent) but refused.
func (n *Node) ConsumeTicket(ctx context.Context, id [TicketSize]byte) (Ticket, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	key := n.ticketKey(id)
	resp, err := n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), ">", 0)).
		Then(clientv3.OpGet(key), clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return Ticket{}, fmt.Errorf("reading a redirect's ticket from etcd: %w", err)
	}
	if !resp.Succeeded {
		return Ticket{}, ErrNoTicket
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) != 1 {
		return Ticket{}, ErrNoTicket
	}
	var t Ticket
	if err := json.Unmarshal(kvs[0].Value, &t); err != nil {
		return Ticket{}, fmt.Errorf("a redirect's ticket in etcd is damaged: %w", err)
	}
	t.ID = id
	if t.Node != n.self.Name {
		return Ticket{}, fmt.Errorf("the ticket was issued for node %q, not this one (%q)", t.Node, n.self.Name)
	}
	return t, nil
}

func (n *Node) ticketKey(id [TicketSize]byte) string {
	return n.root + "tickets/" + hex.EncodeToString(id[:])
}
