package farm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Session names are farm-wide, as on SoftEther, where the controller
// names every session (SID-<USER>-<n> with its hub's counter, passed to
// the member in the ticket: Server.c:8958-9005). Here any node may carry
// a static hub's session, so the numbers come from one counter per hub
// in etcd, numbers/<HUB>, which nodes take in blocks: one transaction per
// block, not per login. The counter has no lease: a number is never given
// twice, even after every node restarted.

// SessionNumbers reserves count numbers for the names of hub's sessions
// and returns the first; the block is first .. first+count-1.
func (n *Node) SessionNumbers(ctx context.Context, hub string, count uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	key := n.root + "numbers/" + strings.ToUpper(hub)
	for range 16 {
		resp, err := n.cli.Get(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("reading a hub's session counter from etcd: %w", err)
		}
		var last uint64
		var rev int64 // 0: no counter yet
		if len(resp.Kvs) == 1 {
			if last, err = strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64); err != nil {
				return 0, fmt.Errorf("a hub's session counter in etcd is damaged: %w", err)
			}
			rev = resp.Kvs[0].ModRevision
		}
		txn, err := n.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, strconv.FormatUint(last+count, 10))).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("taking session numbers from etcd: %w", err)
		}
		if txn.Succeeded {
			return last + 1, nil
		}
		// Another node took a block first: read the counter again.
	}
	return 0, errors.New("a hub's session counter kept changing; try again")
}
