package server

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/ethervpn/ethervpn/internal/wireguard"
)

// wgBind is a client device's "UDP socket" (the library's conn.Bind): it
// receives what the demultiplexer queued for the device and sends on the
// UDP port the client last came from.
type wgBind struct {
	p  *wgPeer
	in chan wgDatagram

	mu     sync.Mutex
	closed chan struct{} // of the current Open; nil when closed
}

var errWgNoEndpoints = errors.New("wireguard: endpoints come from the client's datagrams, not from configuration")

// Open starts a receive function; the device reopens its bind when it
// goes down and up.
func (b *wgBind) Open(uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed != nil {
		return nil, 0, conn.ErrBindAlreadyOpen
	}
	closed := make(chan struct{})
	b.closed = closed
	return []conn.ReceiveFunc{func(pkts [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		return b.receive(closed, pkts, sizes, eps)
	}}, 0, nil
}

// receive waits for a datagram, then takes those queued behind it.
func (b *wgBind) receive(closed chan struct{}, pkts [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
	var d wgDatagram
	select {
	case <-closed:
		return 0, net.ErrClosed
	case d = <-b.in:
	}
	n := 0
	for {
		sizes[n] = copy(pkts[n], d.b[:d.n])
		eps[n] = d.ep
		wgBufs.Put(d.b)
		if n++; n == len(pkts) {
			return n, nil
		}
		select {
		case d = <-b.in:
		default:
			return n, nil
		}
	}
}

// Close ends the receive function of the current Open.
func (b *wgBind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed != nil {
		close(b.closed)
		b.closed = nil
	}
	return nil
}

// SetMark is not needed: the port is the server's.
func (b *wgBind) SetMark(uint32) error { return nil }

// Send writes the device's datagrams to the client, learning the sender
// index of its handshake messages on the way.
func (b *wgBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	e, ok := ep.(*wgEndpoint)
	if !ok {
		return conn.ErrWrongEndpointType
	}
	var err error
	for _, buf := range bufs {
		if idx, ok := wireguard.SenderIndex(buf); ok {
			b.p.w.learn(b.p, idx)
		}
		if _, werr := e.u.pc.WriteToUDPAddrPort(buf, e.addr); werr != nil {
			err = werr
		}
	}
	return err
}

// ParseEndpoint is refused: the server never configures endpoints.
func (b *wgBind) ParseEndpoint(string) (conn.Endpoint, error) { return nil, errWgNoEndpoints }

// BatchSize is how many datagrams one receive may return.
func (b *wgBind) BatchSize() int { return wgBatch }

// wgEndpoint is where a client's datagrams came from: a UDP port of the
// server and the client's address.
type wgEndpoint struct {
	u    *udpListener
	addr netip.AddrPort
}

func (e *wgEndpoint) ClearSrc()           {}
func (e *wgEndpoint) SrcToString() string { return "" }
func (e *wgEndpoint) DstToString() string { return e.addr.String() }
func (e *wgEndpoint) DstIP() netip.Addr   { return e.addr.Addr() }
func (e *wgEndpoint) SrcIP() netip.Addr   { return netip.Addr{} }

// DstToBytes is what the library's cookies bind to (its address).
func (e *wgEndpoint) DstToBytes() []byte {
	b, _ := e.addr.MarshalBinary()
	return b
}

// wgTun is a client device's "tun" (the library's tun.Device): the hub
// side. Read gives the device the hub's packets for the client; Write
// takes the client's decrypted packets to the hub.
type wgTun struct {
	p      *wgPeer
	q      chan wgDatagram
	closed chan struct{}
	once   sync.Once
	events chan tun.Event
	// slots passes a batch to the adapter without allocating; the device
	// writes from one goroutine (its one peer's).
	slots [][]byte
}

func (t *wgTun) File() *os.File           { return nil }
func (t *wgTun) MTU() (int, error)        { return wgMTU, nil }
func (t *wgTun) Name() (string, error)    { return "ethervpn-wireguard", nil }
func (t *wgTun) Events() <-chan tun.Event { return t.events }
func (t *wgTun) BatchSize() int           { return wgBatch }

// Read waits for a packet for the client, then takes those queued behind
// it.
func (t *wgTun) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	var d wgDatagram
	select {
	case <-t.closed:
		return 0, os.ErrClosed
	case d = <-t.q:
	}
	n := 0
	for {
		sizes[n] = copy(bufs[n][offset:], d.b[:d.n])
		wgBufs.Put(d.b)
		if n++; n == len(bufs) {
			return n, nil
		}
		select {
		case d = <-t.q:
		default:
			return n, nil
		}
	}
}

// Write hands the client's packets to the hub.
func (t *wgTun) Write(bufs [][]byte, offset int) (int, error) {
	t.p.fromClient(bufs, offset)
	return len(bufs), nil
}

// Close stops Read and the device's event reader.
func (t *wgTun) Close() error {
	t.once.Do(func() {
		close(t.closed)
		close(t.events)
	})
	return nil
}
