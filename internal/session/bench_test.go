package session

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/wire"
)

// sourcePort emits the same frame until total frames have gone out.
type sourcePort struct {
	frame []byte
	left  atomic.Int64
	ready chan struct{}
}

func (p *sourcePort) Input([][]byte)         {}
func (p *sourcePort) Ready() <-chan struct{} { return p.ready }
func (p *sourcePort) Output(max int, emit func([]byte)) int {
	n := int(min(int64(max), p.left.Load()))
	if n <= 0 {
		return 0
	}
	n = int(min(int64(n), p.left.Add(-int64(n))+int64(n)))
	for range n {
		emit(p.frame)
	}
	return n
}

// sinkPort counts what arrives and closes done at want frames.
type sinkPort struct {
	got  atomic.Int64
	want int64
	done chan struct{}
	once sync.Once
}

func (p *sinkPort) Input(frames [][]byte) {
	if p.got.Add(int64(len(frames))) >= p.want {
		p.once.Do(func() { close(p.done) })
	}
}
func (p *sinkPort) Ready() <-chan struct{}             { return nil }
func (p *sinkPort) Output(int, func(frame []byte)) int { return 0 }

// testCert is a self-signed certificate shared by the tests.
var testCert = sync.OnceValue(func() tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
})

// tlsPair returns the data-phase streams of both ends of a loopback TCP
// connection set up as the server and the client set up theirs: TLS over
// a RecordConn, buffered reads and writes, raw system calls.
func tlsPair(tb testing.TB) (srv, cli net.Conn, srvSt, cliSt Stream) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cli, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	srv = <-accepted
	tb.Cleanup(func() { srv.Close(); cli.Close() })
	src, crc := wire.NewRecordConn(srv), wire.NewRecordConn(cli)
	stc := tls.Server(src, &tls.Config{Certificates: []tls.Certificate{testCert()}})
	ctc := tls.Client(crc, &tls.Config{InsecureSkipVerify: true})
	errc := make(chan error, 1)
	go func() { errc <- stc.Handshake() }()
	if err := ctc.Handshake(); err != nil {
		tb.Fatal(err)
	}
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
	stream := func(rc *wire.RecordConn, tc *tls.Conn) Stream {
		rc.BufferReads()
		rc.BufferWrites()
		return Stream{R: bufio.NewReaderSize(tc, 16), W: tc, Dir: wire.Both, Flush: rc.Flush, TryFlush: rc.TryFlush}
	}
	return srv, cli, stream(src, stc), stream(crc, ctc)
}

// BenchmarkSessionThroughput moves 1500-byte frames from a server-role
// session to a client-role session over one TLS connection on loopback:
// the whole data path of a session (port queue to block writer, TLS,
// socket, block reader to port) in both directions' code.
func BenchmarkSessionThroughput(b *testing.B) {
	srv, cli, srvSt, cliSt := tlsPair(b)
	src := &sourcePort{frame: make([]byte, 1500), ready: make(chan struct{}, 1)}
	sink := &sinkPort{want: int64(b.N), done: make(chan struct{})}
	p := Params{Timeout: 30 * time.Second, MaxConnections: 1}
	p.Role = Server
	a := New(src, p)
	defer a.Close(ErrClosed)
	p.Role = Client
	c := New(sink, p)
	defer c.Close(ErrClosed)
	if err := a.AddConn(srv, func(wire.Direction) (Stream, error) { return srvSt, nil }); err != nil {
		b.Fatal(err)
	}
	if err := c.AddConn(cli, func(wire.Direction) (Stream, error) { return cliSt, nil }); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1500)
	b.ReportAllocs()
	b.ResetTimer()
	src.left.Store(int64(b.N))
	src.ready <- struct{}{}
	select {
	case <-sink.done:
	case <-time.After(60 * time.Second):
		b.Fatalf("%d of %d frames arrived", sink.got.Load(), b.N)
	}
}

// countPort counts the frames it receives and sends those queued on it,
// dropping its references to them as they go.
type countPort struct {
	queuePort
	got atomic.Int64
}

func (p *countPort) Input(frames [][]byte) { p.got.Add(int64(len(frames))) }

func (p *countPort) Output(max int, emit func([]byte)) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(max, len(p.frames))
	for i, f := range p.frames[:n] {
		emit(f)
		p.frames[i] = nil
	}
	p.frames = p.frames[n:]
	if len(p.frames) == 0 {
		p.frames = nil
	}
	return n
}

// TestIdleConnectionsHoldNoBuffers opens session pairs (server and client
// role) over TLS on loopback, passes frames both ways on each, lets them
// idle with keep-alives only and measures the live heap per pair: the data
// path's buffers must have gone back to their pools, so that an idle
// session costs what its TLS connection costs.
func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	const base, pairs, frames = 10, 100, 300
	// Heap of one idle pair, both ends. Each end keeps its TLS state,
	// most of it crypto/tls's read buffer: it grows to hold the largest
	// record received and is never given back, 18 KiB after 16 KiB
	// records or 32 KiB after a Go peer's records grew from small to
	// 16 KiB (crypto/tls doubles it). Then the session's bookkeeping. Before the data path's buffers were
	// pooled a pair held 2.6 MB.
	const maxPairHeap = 128 << 10
	type pair struct{ a, b *countPort }
	var all []pair
	open := func(n int) {
		for len(all) < n {
			srv, cli, srvSt, cliSt := tlsPair(t)
			p := pair{&countPort{queuePort: *newQueuePort()}, &countPort{queuePort: *newQueuePort()}}
			for _, end := range []struct {
				port *countPort
				role Role
				nc   net.Conn
				st   Stream
			}{{p.a, Server, srv, srvSt}, {p.b, Client, cli, cliSt}} {
				s := New(end.port, Params{Role: end.role, Timeout: 30 * time.Second, MaxConnections: 1})
				t.Cleanup(func() { s.Close(ErrClosed) })
				st := end.st
				if err := s.AddConn(end.nc, func(wire.Direction) (Stream, error) { return st, nil }); err != nil {
					t.Fatal(err)
				}
				for i := range frames {
					end.port.queue(numbered(uint32(i)))
				}
				end.port.signal()
			}
			all = append(all, p)
		}
		deadline := time.Now().Add(30 * time.Second)
		for _, p := range all {
			for p.a.got.Load() < frames || p.b.got.Load() < frames {
				if time.Now().After(deadline) {
					t.Fatalf("frames did not arrive: %d and %d of %d", p.a.got.Load(), p.b.got.Load(), frames)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	measure := func() runtime.MemStats {
		// Let the last keep-alives arrive, then collect twice, so that
		// buffers parked in the pools (kept for one cycle) are gone.
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m
	}
	open(base)
	before := measure()
	open(pairs)
	after := measure()
	heap := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / (pairs - base)
	t.Logf("one idle session pair (both ends) after %d frames each way: %d bytes of heap (%.1f KiB)", frames, heap, float64(heap)/1024)
	if heap > maxPairHeap {
		t.Fatalf("an idle session pair holds %d bytes of heap, more than %d", heap, maxPairHeap)
	}
}
