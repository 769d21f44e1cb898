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
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	src, crc := wire.NewRecordConn(srv), wire.NewRecordConn(cli)
	stc := tls.Server(src, &tls.Config{Certificates: []tls.Certificate{cert}})
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
		rc.SetExact(false)
		rc.BufferWrites()
		return Stream{R: bufio.NewReaderSize(tc, 64<<10), W: tc, Dir: wire.Both, Flush: rc.Flush, TryFlush: rc.TryFlush}
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
