package session

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// queuePort is a Port whose output is a FIFO the test fills.
type queuePort struct {
	mu     sync.Mutex
	frames [][]byte
	ready  chan struct{}
}

func newQueuePort() *queuePort { return &queuePort{ready: make(chan struct{}, 1)} }

func (p *queuePort) Input([][]byte)         {}
func (p *queuePort) Ready() <-chan struct{} { return p.ready }

func (p *queuePort) Output(max int, emit func([]byte)) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := min(max, len(p.frames))
	for _, f := range p.frames[:n] {
		emit(f)
	}
	p.frames = p.frames[n:]
	return n
}

func (p *queuePort) queue(frames ...[]byte) {
	p.mu.Lock()
	p.frames = append(p.frames, frames...)
	p.mu.Unlock()
}

func (p *queuePort) signal() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// numbered is a 1000-byte frame carrying seq.
func numbered(seq uint32) []byte {
	f := make([]byte, 1000)
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	binary.BigEndian.PutUint32(f[14:], seq)
	return f
}

// TestPushKeepsOrderThroughAFullSocket pushes far more than the socket
// holds while the peer is not reading yet: Push must leave what the socket
// refuses to the writer goroutine, and the peer must get every frame once,
// in order, whichever of the two sent it.
func TestPushKeepsOrderThroughAFullSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peerc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		peerc <- c
	}()
	local, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-peerc
	defer peer.Close()

	port := newQueuePort()
	s := New(port, Params{Role: Server, Timeout: 30 * time.Second, MaxConnections: 1})
	defer s.Close(ErrClosed)
	var partial atomic.Int64
	err = s.AddConn(local, func(wire.Direction) (Stream, error) {
		rc := wire.NewRecordConn(local)
		rc.SetExact(false)
		rc.BufferWrites()
		try := func() (bool, error) {
			done, err := rc.TryFlush()
			if !done {
				partial.Add(1)
			}
			return done, err
		}
		return Stream{R: bufio.NewReader(rc), W: rc, Dir: wire.Both, Flush: rc.Flush, TryFlush: try}, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	const total = 30000 // 30 MB: more than loopback socket buffers hold
	var seq uint32
	// The first frames go through the writer goroutine, which makes its
	// connection the primary that Push writes on.
	port.queue(numbered(seq))
	seq++
	port.signal()
	deadline := time.Now().Add(5 * time.Second)
	for s.primary.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the writer never became the primary")
		}
		time.Sleep(time.Millisecond)
	}

	got := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond) // let the socket fill up first
		br := wire.NewBlockReader(bufio.NewReader(peer), false)
		var want uint32
		for want < total {
			frames, err := br.Next()
			if err != nil {
				got <- err
				return
			}
			for _, f := range frames {
				if n := binary.BigEndian.Uint32(f[14:]); n != want {
					t.Errorf("frame %d arrived where %d was due", n, want)
					got <- nil
					return
				}
				want++
			}
		}
		got <- nil
	}()

	pushed := 0
	for seq < total {
		batch := make([][]byte, 0, 100)
		for len(batch) < 100 && seq < total {
			batch = append(batch, numbered(seq))
			seq++
		}
		port.queue(batch...)
		if s.Push() {
			pushed++
		} else {
			port.signal()
		}
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("peer: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the peer did not get every frame")
	}
	if pushed == 0 || partial.Load() == 0 {
		t.Fatalf("Push wrote %d batches and stopped at a full socket %d times; the test needs both", pushed, partial.Load())
	}
	t.Logf("%d of %d batches taken by Push, %d partial writes left to the writer", pushed, total/100, partial.Load())
}

// TestStalledPeerHoldsFewBatches: when the peer reads none of a session's
// connections, every writer ends up blocked with the batch it took from the
// port, and Push leaves at most one batch behind on the primary. Only a few
// writers may hold one at a time, so that a session with 32 connections
// cannot take 32 batches (13 MB) out of the hub's bounded queue into
// buffers that nothing bounds.
func TestStalledPeerHoldsFewBatches(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const conns = 8
	port := newQueuePort()
	s := New(port, Params{Role: Server, Timeout: 30 * time.Second, MaxConnections: conns})
	defer s.Close(ErrClosed)
	for range conns {
		peerc := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			peerc <- c
		}()
		local, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		peer := <-peerc
		defer peer.Close()
		// Small socket buffers, so that the kernel holds little and the
		// writers block soon.
		local.(*net.TCPConn).SetWriteBuffer(4096)
		peer.(*net.TCPConn).SetReadBuffer(4096)
		err = s.AddConn(local, func(wire.Direction) (Stream, error) {
			rc := wire.NewRecordConn(local)
			rc.SetExact(false)
			rc.BufferWrites()
			return Stream{R: bufio.NewReader(rc), W: rc, Dir: wire.Both, Flush: rc.Flush, TryFlush: rc.TryFlush}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	const total = 20000
	for i := range total {
		port.queue(numbered(uint32(i)))
	}
	// Traffic keeps arriving for the session: the hub pushes or signals
	// Ready as it queues each batch.
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		if !s.Push() {
			port.signal()
		}
		time.Sleep(time.Millisecond)
	}
	port.mu.Lock()
	taken := total - len(port.frames)
	port.mu.Unlock()
	// Each writer that may send holds at most one batch; the kernel holds
	// a few frames per connection besides.
	limit := maxWriters*writeBatch + conns*64
	t.Logf("%d connections to a peer that reads nothing took %d frames out of the port (at most %d allowed)", conns, taken, limit)
	if taken > limit {
		t.Fatalf("the writers took %d frames, more than %d", taken, limit)
	}
}

// panicPort panics on the first frame it is given, as a bug in the hub's
// handling of one peer's frame would.
type panicPort struct{ queuePort }

func (p *panicPort) Input([][]byte) { panic("bug reached by a peer's frame") }

// A panic while handling a peer's frames ends that session, with the panic
// as its reason, and nothing else: the process lives on.
func TestPanicEndsOnlyTheSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		local, peer := net.Pipe()
		defer peer.Close()
		s := New(&panicPort{queuePort: *newQueuePort()}, Params{Role: Server, Timeout: 30 * time.Second, MaxConnections: 1})
		err := s.AddConn(local, func(wire.Direction) (Stream, error) {
			return Stream{R: bufio.NewReader(local), W: local, Dir: wire.ClientToServer}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		bw := wire.NewBlockWriter(peer, false)
		bw.Add(numbered(1))
		go bw.Flush() // net.Pipe: the write completes as the session reads
		done := make(chan error, 1)
		go func() { done <- s.Wait() }()
		synctest.Wait()
		select {
		case err := <-done:
			var pe *guard.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("session ended with %v, want the panic as its reason", err)
			}
		default:
			t.Fatal("the session did not end when its reader panicked")
		}
	})
}
