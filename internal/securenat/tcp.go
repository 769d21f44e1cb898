package securenat

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/ethervpn/ethervpn/internal/guard"
)

// connectTimeout bounds the host-side connect of a TCP flow (docs/protocol/securenat.md#user-mode-tcp: 10 s).
const connectTimeout = 10 * time.Second

func idAddrs(id stack.TransportEndpointID) (client, dest netip.AddrPort) {
	return netip.AddrPortFrom(netAddr(id.RemoteAddress), id.RemotePort),
		netip.AddrPortFrom(netAddr(id.LocalAddress), id.LocalPort)
}

// forwardTCP handles a client SYN to any destination (called by the
// forwarder in its own goroutine): it opens the host connection first and
// completes the client's handshake only when that succeeded, so a refused
// or unreachable destination gives the client RST|ACK.
func (n *SecureNAT) forwardTCP(r *tcp.ForwarderRequest) {
	// netstack runs this on a goroutine of its own: a panic here must end
	// this flow only (the deferred removal below still runs).
	defer guard.Recover(n.opt.Log, "SecureNAT TCP flow", nil)
	client, dest := idAddrs(r.ID())
	if !n.routable(client.Addr(), dest.Addr()) || dest.Port() == 0 || client.Port() == 0 {
		r.Complete(true)
		return
	}
	f := n.nat.newFlow(ProtoTCP, client, dest)
	f.connecting.Store(true)
	if !n.nat.add(f) {
		r.Complete(true)
		return
	}
	defer n.nat.remove(f)
	n.logCreated(f)

	ctx, cancel := context.WithTimeout(n.ctx, connectTimeout)
	f.setCloser(cancel)
	conn, err := n.opt.Dial(ctx, "tcp", dest.String())
	cancel()
	if err != nil {
		n.logf("LH_NAT_TCP_FAILED", flowAttrs(f), `The connection to TCP session %d: Host "%s", Port %d failed.`,
			f.id, dest.Addr(), dest.Port())
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		r.Complete(true)
		conn.Close()
		return
	}
	r.Complete(false)
	ep.SocketOptions().SetKeepAlive(true)
	host := dest.Addr().String()
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		host = a.IP.String()
	}
	f.host.Store(&host)
	f.connecting.Store(false)
	f.touch()
	n.logf("LH_NAT_TCP_SUCCEED", flowAttrs(f), `The connection to TCP session %d: Host "%s (%s)", Port %d was successful.`,
		f.id, host, dest.Addr(), dest.Port())

	local := gonet.NewTCPConn(&wq, ep)
	// Closing a flow (timeout, eviction, stop) resets the client side and
	// closes the host socket, as SoftEther does.
	f.setCloser(func() { ep.Abort(); conn.Close() })
	splice(f, local, conn)
	// Both sides are closed gracefully now; an abort from remove would cut
	// data the client has not yet acknowledged.
	f.setCloser(func() {})
}

// halfCloser is a connection that can shut down its write side.
type halfCloser interface{ CloseWrite() error }

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// splice copies a (client side) and b (host side) both ways, honouring
// half-closes, and returns when both directions are done. Bytes written to b
// count as sent, bytes read from b as received.
func splice(f *flow, a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer guard.Recover(nil, "SecureNAT TCP flow", func(error) { a.Close(); b.Close() })
		pump(f, b, a, true)
	}()
	pump(f, a, b, false)
	wg.Wait()
	a.Close()
	b.Close()
}

// pump copies src to dst until EOF, then half-closes dst. On any other
// error it closes the whole flow.
func pump(f *flow, dst, src net.Conn, toHost bool) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			f.touch()
			if _, werr := dst.Write(buf[:nr]); werr != nil {
				f.close()
				return
			}
			if toHost {
				f.sent.Add(uint64(nr))
			} else {
				f.recv.Add(uint64(nr))
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				if hc, ok := dst.(halfCloser); ok {
					hc.CloseWrite()
					return
				}
			}
			f.close()
			return
		}
	}
}
