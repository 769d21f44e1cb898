package farm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ethervpn/ethervpn/internal/securenat/dhcpd"
)

// LeaseKeeper keeps the DHCP leases of a dynamic hub's SecureNAT in etcd,
// under leases/<HUB>/<MAC>, so that when the hub moves to another node
// (its node died, or it was given up and placed again) the new node's
// SecureNAT starts with them and its clients keep their addresses. It is
// a securenat.LeaseKeeper.
type LeaseKeeper struct {
	cli     *clientv3.Client
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	queue   chan dhcpd.Lease
	// Dropped counts leases not written because the queue was full (etcd
	// slower than the DHCP server for a while); the lease is written again
	// at its renewal.
	Dropped atomic.Uint64
}

// keepQueue bounds the leases waiting to be written.
const keepQueue = 256

// forgetAfter is how long after its end a lease is still worth keeping.
const forgetAfter = 24 * time.Hour

// NewLeaseKeeper returns the keeper of hub's leases in the farm whose keys
// start with root; it writes until ctx ends.
func NewLeaseKeeper(ctx context.Context, cli *clientv3.Client, root, hub string, timeout time.Duration, log *slog.Logger) *LeaseKeeper {
	k := &LeaseKeeper{cli: cli, prefix: root + "leases/" + keyName(hub) + "/", timeout: timeout, log: log,
		queue: make(chan dhcpd.Lease, keepQueue)}
	go k.run(ctx)
	return k
}

// storedLease is a lease as etcd keeps it.
type storedLease struct {
	ID       uint32    `json:"id"`
	LeasedAt time.Time `json:"leased_at"`
	Expires  time.Time `json:"expires,omitzero"`
	MAC      string    `json:"mac"`
	IP       string    `json:"ip"`
	Hostname string    `json:"hostname,omitempty"`
}

// Load returns the hub's leases kept in etcd (none if etcd cannot be
// read: the SecureNAT then starts as a new one would, and says so).
func (k *LeaseKeeper) Load() []dhcpd.Lease {
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	resp, err := k.cli.Get(ctx, k.prefix, clientv3.WithPrefix())
	if err != nil {
		k.log.Warn("could not read the hub's DHCP leases from etcd; its clients may get new addresses", "err", err)
		return nil
	}
	var out []dhcpd.Lease
	for _, kv := range resp.Kvs {
		var s storedLease
		if json.Unmarshal(kv.Value, &s) != nil {
			continue
		}
		l, err := s.lease()
		if err != nil {
			continue
		}
		if !l.Expires.IsZero() && time.Since(l.Expires) > forgetAfter {
			k.cli.Delete(ctx, string(kv.Key))
			continue
		}
		out = append(out, l)
	}
	return out
}

// Keep queues l to be written; it never blocks.
func (k *LeaseKeeper) Keep(l dhcpd.Lease) {
	select {
	case k.queue <- l:
	default:
		k.Dropped.Add(1)
	}
}

func (k *LeaseKeeper) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-k.queue:
			b, err := json.Marshal(storedLease{ID: l.ID, LeasedAt: l.LeasedAt, Expires: l.Expires,
				MAC: l.MAC.String(), IP: l.IP.String(), Hostname: l.Hostname})
			if err != nil {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, k.timeout)
			_, err = k.cli.Put(wctx, k.prefix+l.MAC.String(), string(b))
			cancel()
			if err != nil {
				k.log.Warn("could not keep a DHCP lease in etcd", "mac", l.MAC.String(), "err", err)
			}
		}
	}
}

func (s storedLease) lease() (dhcpd.Lease, error) {
	mac, err := net.ParseMAC(s.MAC)
	if err != nil {
		return dhcpd.Lease{}, err
	}
	l := dhcpd.Lease{ID: s.ID, LeasedAt: s.LeasedAt, Expires: s.Expires, MAC: mac, Hostname: s.Hostname}
	if l.IP, err = parseIP(s.IP); err != nil {
		return dhcpd.Lease{}, err
	}
	return l, nil
}

func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("not an IPv4 address: %q", s)
	}
	return a, nil
}
