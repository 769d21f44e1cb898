package farm

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A dynamic hub lives on one node at a time (SoftEther's dynamic hub,
// Server.c:9781-9820). Its placement is the key hubs/<HUB> = the host's
// name, on the host's lease: created by one transaction when the hub's
// first session arrives, so two nodes placing the same hub at once agree
// on one host; deleted by the host when the hub's last session leaves;
// gone with the host's lease if the host dies, so the next session
// places the hub again.

// ErrNoNode is a hub that cannot be placed: no node carries sessions.
// The client gets SoftEther's error 49 (ERR_COULD_NOT_HOST_HUB_ON_FARM).
var ErrNoNode = errors.New("no node of the farm can take the hub's sessions")

// Place returns the node that hosts hub, placing it on the least loaded
// node (Choose) if no node hosts it yet.
func (n *Node) Place(ctx context.Context, hub string) (Member, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	members, err := n.Members(ctx)
	if err != nil {
		return Member{}, err
	}
	key := n.hubKey(hub)
	for range 3 {
		resp, err := n.cli.Get(ctx, key)
		if err != nil {
			return Member{}, fmt.Errorf("reading a hub's placement from etcd: %w", err)
		}
		if len(resp.Kvs) == 1 {
			kv := resp.Kvs[0]
			if string(kv.Value) == n.self.Name && kv.Lease != int64(n.sess.Lease()) {
				// Placed here on the lease this node had before it
				// joined again (etcd was away): keep it placed here on the
				// current lease, or it would end with the old one while
				// the hub's sessions are still here.
				if err := n.movePlacement(ctx, key, kv.ModRevision); err != nil {
					return Member{}, err
				}
			}
			if m, ok := byName(members, string(kv.Value)); ok {
				return m, nil
			}
			// Its host left after we listed the nodes: list them again.
			if members, err = n.Members(ctx); err != nil {
				return Member{}, err
			}
			continue
		}
		host, ok := Choose(members)
		if !ok {
			return Member{}, ErrNoNode
		}
		txn, err := n.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, host.Name, clientv3.WithLease(clientv3.LeaseID(host.Lease)))).
			Commit()
		if err != nil {
			// A lease that ended between the listing and the put: the
			// host is gone; list the nodes again.
			if members, err = n.Members(ctx); err != nil {
				return Member{}, err
			}
			continue
		}
		if txn.Succeeded {
			return host, nil
		}
		// Another node placed it first: read where.
	}
	return Member{}, errors.New("the hub's placement kept changing; try again")
}

// Host returns the node that hosts hub, if any.
func (n *Node) Host(ctx context.Context, hub string) (name string, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	resp, err := n.cli.Get(ctx, n.hubKey(hub))
	if err != nil {
		return "", false, fmt.Errorf("reading a hub's placement from etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", false, nil
	}
	return string(resp.Kvs[0].Value), true, nil
}

// Release gives up the hub if this node hosts it (its last session
// left).
func (n *Node) Release(ctx context.Context, hub string) error {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	key := n.hubKey(hub)
	_, err := n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(key), "=", n.self.Name)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return fmt.Errorf("releasing a hub's placement in etcd: %w", err)
	}
	return nil
}

// Claim keeps hub placed on this node after the node joined the farm
// again with a new lease (etcd was away for longer than a lease, and the
// hub's sessions stayed up here): the placement, still on the old lease
// or already gone with it, is put on the new lease, so that the hub's
// next sessions come here and not to a second instance on another node.
// It returns the node that hosts the hub: another one if a node placed
// the hub there meanwhile.
func (n *Node) Claim(ctx context.Context, hub string) (host string, err error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	key := n.hubKey(hub)
	mine := clientv3.OpPut(key, n.self.Name, clientv3.WithLease(n.sess.Lease()))
	resp, err := n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(mine).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return "", fmt.Errorf("claiming a hub's placement in etcd: %w", err)
	}
	if resp.Succeeded {
		return n.self.Name, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 || string(kvs[0].Value) != n.self.Name {
		if len(kvs) == 0 {
			return "", errors.New("the hub's placement changed while it was claimed; try again")
		}
		return string(kvs[0].Value), nil
	}
	// Placed here on a lease of this node's, maybe the old one.
	if err := n.movePlacement(ctx, key, kvs[0].ModRevision); err != nil {
		return "", err
	}
	return n.self.Name, nil
}

// movePlacement puts the placement key, which names this node, on the
// node's current lease, unless it changed since revision rev.
func (n *Node) movePlacement(ctx context.Context, key string, rev int64) error {
	resp, err := n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, n.self.Name, clientv3.WithLease(n.sess.Lease()))).Commit()
	if err != nil {
		return fmt.Errorf("keeping a hub's placement in etcd: %w", err)
	}
	if !resp.Succeeded {
		return errors.New("the hub's placement changed while it was kept; try again")
	}
	return nil
}

func (n *Node) hubKey(hub string) string {
	return n.root + "hubs/" + keyName(hub)
}

// byName finds the node called name.
func byName(members []Member, name string) (Member, bool) {
	for _, m := range members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}
