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
	Node     string           `json:"node"` // the node that must consume it (set by IssueTicket)
	Hub      string           `json:"hub"`
	User     string           `json:"user"`
	RealUser string           `json:"real_user"`
	Group    string           `json:"group,omitempty"`
	Expires  time.Time        `json:"expires"` // set by IssueTicket
}

// ErrNoTicket is a ticket that is not in etcd: never issued, already
// used or expired. The client gets SoftEther's access denied.
var ErrNoTicket = errors.New("no such ticket: never issued, already used, or expired")

// IssueTicket keeps t in etcd for node to, which must consume it within
// the ticket lifetime (60 s, SoftEther's TICKET_EXPIRES, Cedar.h). The
// ticket lives on to's lease, as a dynamic hub's placement does: a node
// that dies takes its unused tickets with it when its lease ends, and a
// ticket cannot be issued for a node whose lease has already ended. The
// lifetime is the deadline written in the ticket, checked when it is
// consumed; SweepTickets deletes a node's tickets nobody came for.
func (n *Node) IssueTicket(ctx context.Context, to Member, t Ticket) error {
	if to.Lease == 0 {
		return fmt.Errorf("node %q has no lease in etcd", to.Name)
	}
	t.Node, t.Expires = to.Name, time.Now().Add(n.ticketTTL).UTC()
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	if _, err := n.cli.Put(ctx, n.ticketKey(t.ID), string(b), clientv3.WithLease(clientv3.LeaseID(to.Lease))); err != nil {
		return fmt.Errorf("keeping a redirect's ticket for node %q in etcd: %w", to.Name, err)
	}
	return nil
}

// SweepTickets deletes this node's tickets whose lifetime has passed: a
// client that was redirected here and never came. It returns how many.
func (n *Node) SweepTickets(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	resp, err := n.cli.Get(ctx, n.root+"tickets/", clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("listing redirect tickets in etcd: %w", err)
	}
	swept := 0
	for _, kv := range resp.Kvs {
		var t Ticket
		if json.Unmarshal(kv.Value, &t) == nil && (t.Node != n.self.Name || time.Now().Before(t.Expires)) {
			continue // another node's, or still good
		}
		// A damaged ticket is nobody's: the node that finds it deletes it.
		if _, err := n.cli.Delete(ctx, string(kv.Key)); err != nil {
			return swept, fmt.Errorf("deleting an expired redirect ticket: %w", err)
		}
		swept++
	}
	return swept, nil
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
	if !time.Now().Before(t.Expires) {
		return Ticket{}, ErrNoTicket // expired: spent, as if it had gone
	}
	return t, nil
}

func (n *Node) ticketKey(id [TicketSize]byte) string {
	return n.root + "tickets/" + hex.EncodeToString(id[:])
}
