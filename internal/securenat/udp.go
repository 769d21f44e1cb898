package securenat

import (
	"net"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/ethervpn/ethervpn/internal/guard"
)

// forwardUDP handles the first datagram of a new UDP flow (called inline by
// the stack, so it must not block). Datagrams that are not for NAT (to the
// virtual host's other ports, to the subnet or broadcast) are dropped
// silently, as SoftEther does (docs/protocol/securenat.md#udp-and-dns).
func (n *SecureNAT) forwardUDP(r *udp.ForwarderRequest) bool {
	client, dest := idAddrs(r.ID())
	if !n.routable(client.Addr(), dest.Addr()) || dest.Port() == 0 {
		return true
	}
	f := n.nat.newFlow(ProtoUDP, client, dest)
	if !n.nat.add(f) {
		return true
	}
	var wq waiter.Queue
	ep, err := r.CreateEndpoint(&wq)
	if err != nil {
		n.nat.remove(f)
		return true
	}
	n.logCreated(f)
	go n.runUDP(f, gonet.NewUDPConn(&wq, ep))
	return true
}

// runUDP dials the host side of a UDP flow and relays datagrams both ways
// until the flow is closed (idle timeout, eviction, socket error).
func (n *SecureNAT) runUDP(f *flow, local *gonet.UDPConn) {
	defer guard.Recover(n.opt.Log, "SecureNAT UDP flow", nil)
	defer n.nat.remove(f)
	f.setCloser(func() { local.Close() })
	conn, err := n.opt.Dial(n.ctx, "udp", f.key.dest.String())
	if err != nil {
		f.close()
		return
	}
	f.setCloser(func() { local.Close(); conn.Close() })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer guard.Recover(n.opt.Log, "SecureNAT UDP flow", func(error) { f.close() })
		relayDatagrams(f, conn, local, true)
	}()
	relayDatagrams(f, local, conn, false)
	wg.Wait()
}

// relayDatagrams copies datagrams from src to dst, one per read, until an
// error; then it closes the flow so the other direction stops too.
func relayDatagrams(f *flow, dst, src net.Conn, toHost bool) {
	defer f.close()
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		nr, err := src.Read(buf)
		if err != nil {
			return
		}
		f.touch()
		if _, err := dst.Write(buf[:nr]); err != nil {
			return
		}
		if toHost {
			f.sent.Add(uint64(nr))
		} else {
			f.recv.Add(uint64(nr))
		}
	}
}
