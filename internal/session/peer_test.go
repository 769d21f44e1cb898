package session

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/wire"
)

// The tests of this file and of the *_synctest_test.go files run the
// session inside a testing/synctest bubble: time is a fake clock that moves
// only when every goroutine of the test is blocked, so timeouts and
// keep-alive spans are checked to the nanosecond and no test sleeps for
// real. Connections are net.Pipe pairs, which have no buffer: a write
// blocks until the peer reads it, so "the peer stops reading" blocks the
// session's writer at once, as a full socket would.

// hubPort is a Port whose output is a FIFO the test fills. Like the hub's
// port (hub.Port.Drain), it signals Ready again when Output leaves frames
// queued, so that another writer can take the rest.
type hubPort struct {
	mu     sync.Mutex
	out    [][]byte
	in     []uint32 // sequence numbers of the frames received from the peer
	ready  chan struct{}
	inputs atomic.Int64
}

func newHubPort() *hubPort { return &hubPort{ready: make(chan struct{}, 1)} }

func (p *hubPort) Ready() <-chan struct{} { return p.ready }

func (p *hubPort) Input(frames [][]byte) {
	p.mu.Lock()
	for _, f := range frames {
		p.in = append(p.in, seqOf(f))
	}
	p.mu.Unlock()
	p.inputs.Add(int64(len(frames)))
}

func (p *hubPort) Output(max int, emit func([]byte)) int {
	p.mu.Lock()
	n := min(max, len(p.out))
	for _, f := range p.out[:n] {
		emit(f)
	}
	p.out = p.out[n:]
	left := len(p.out)
	p.mu.Unlock()
	if left > 0 {
		p.signal()
	}
	return n
}

// send queues frames first..first+n-1 and signals Ready once.
func (p *hubPort) send(first, n int) {
	p.mu.Lock()
	for i := range n {
		p.out = append(p.out, numbered(uint32(first+i)))
	}
	p.mu.Unlock()
	p.signal()
}

func (p *hubPort) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.out)
}

func (p *hubPort) received() []uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint32(nil), p.in...)
}

func (p *hubPort) signal() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func seqOf(f []byte) uint32 { return binary.BigEndian.Uint32(f[14:]) }

// peer plays the other end of one connection of a session: it reads the
// blocks the session sends (unless paused) and sends what the test asks,
// plus keep-alives when told to.
type peer struct {
	t     *testing.T
	nc    net.Conn // the peer's end of the pipe
	local net.Conn // the session's end
	dir   wire.Direction

	mu         sync.Mutex
	seqs       []uint32      // frames received, in order
	keepAlives []time.Time   // when each keep-alive arrived
	dataAt     []time.Time   // when each DATA_FRAME arrived
	gate       chan struct{} // non-nil while paused
	readDone   chan struct{} // closed when the reader has stopped

	out  chan func(*wire.BlockWriter) error // blocks to send
	stop chan struct{}
	once sync.Once
}

// attach adds a connection to s and starts its peer. The session's end
// gets the direction the session proposes, as the server's handshake
// answers it in the welcome or the additional_connect reply.
func attach(t *testing.T, s *Session) (*peer, error) {
	local, remote := net.Pipe()
	p := &peer{t: t, nc: remote, local: local, readDone: make(chan struct{}),
		out: make(chan func(*wire.BlockWriter) error), stop: make(chan struct{})}
	err := s.AddConn(local, func(d wire.Direction) (Stream, error) {
		p.dir = d
		return Stream{R: bufio.NewReader(local), W: local, Dir: d}, nil
	})
	if err != nil {
		local.Close()
		remote.Close()
		return nil, err
	}
	go p.read()
	go p.write()
	return p, nil
}

func (p *peer) read() {
	defer close(p.readDone)
	br := wire.NewBlockReader(bufio.NewReader(gatedReader{p}), false)
	for {
		frames, err := br.Next()
		if err != nil {
			return
		}
		now := time.Now()
		p.mu.Lock()
		if len(frames) == 0 {
			p.keepAlives = append(p.keepAlives, now)
		} else {
			p.dataAt = append(p.dataAt, now)
		}
		for _, f := range frames {
			p.seqs = append(p.seqs, seqOf(f))
		}
		p.mu.Unlock()
	}
}

// gatedReader reads the peer's end of the pipe while the peer is not
// paused. pause interrupts a read that waits for data with a deadline in
// the past, so that it takes effect before the next byte.
type gatedReader struct{ p *peer }

func (g gatedReader) Read(b []byte) (int, error) {
	for {
		g.p.mu.Lock()
		gate := g.p.gate
		g.p.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-g.p.stop:
				return 0, net.ErrClosed
			}
		}
		n, err := g.p.nc.Read(b)
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			continue // pause interrupted the read
		}
		return n, err
	}
}

func (p *peer) write() {
	bw := wire.NewBlockWriter(p.nc, false)
	for {
		select {
		case <-p.stop:
			return
		case f := <-p.out:
			if f(bw) != nil {
				return
			}
		}
	}
}

// pause stops the peer reading: from then on the session's writes on
// this connection block, as on a socket whose peer reads nothing. Call it
// while the session is not writing on the connection (after
// synctest.Wait), or the write in progress may get through in part.
func (p *peer) pause() {
	p.mu.Lock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
	p.mu.Unlock()
	p.nc.SetReadDeadline(time.Unix(1, 0))
}

// resume lets a paused peer read again.
func (p *peer) resume() {
	p.nc.SetReadDeadline(time.Time{})
	p.mu.Lock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
	p.mu.Unlock()
}

// sendFrames sends frames first..first+n-1 to the session in one DATA_FRAME.
func (p *peer) sendFrames(first, n int) {
	p.out <- func(bw *wire.BlockWriter) error {
		for i := range n {
			bw.Add(numbered(uint32(first + i)))
		}
		return bw.Flush()
	}
}

// keepAlive sends one keep-alive to the session.
func (p *peer) keepAlive() {
	p.out <- func(bw *wire.BlockWriter) error { return bw.WriteKeepAlive() }
}

// keepAliveEvery sends keep-alives every d until the peer is closed.
func (p *peer) keepAliveEvery(d time.Duration) {
	go func() {
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				select {
				case p.out <- func(bw *wire.BlockWriter) error { return bw.WriteKeepAlive() }:
				case <-p.stop:
					return
				}
			}
		}
	}()
}

// close hangs up the peer's end, as a peer whose TCP connection breaks.
func (p *peer) close() {
	p.once.Do(func() {
		close(p.stop)
		p.nc.Close()
	})
}

// closed reports whether the session has closed its end (the peer's
// reader has seen the end of the stream).
func (p *peer) closed() bool {
	select {
	case <-p.readDone:
		return true
	default:
		return false
	}
}

func (p *peer) frames() []uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint32(nil), p.seqs...)
}

func (p *peer) keepAliveTimes() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.keepAlives...)
}

// rig is a session under test with its port, its peers and its Wait
// running in the background.
type rig struct {
	t     *testing.T
	s     *Session
	port  *hubPort
	peers []*peer
	done  chan struct{} // closed when Wait has returned
	err   error         // what Wait returned
}

func newRig(t *testing.T, p Params) *rig {
	r := &rig{t: t, port: newHubPort(), done: make(chan struct{})}
	r.s = New(r.port, p)
	go func() {
		r.err = r.s.Wait()
		close(r.done)
	}()
	return r
}

// attach adds a connection with a peer, or returns AddConn's error.
func (r *rig) attach() (*peer, error) {
	p, err := attach(r.t, r.s)
	if err == nil {
		r.peers = append(r.peers, p)
	}
	return p, err
}

func (r *rig) mustAttach() *peer {
	r.t.Helper()
	p, err := r.attach()
	if err != nil {
		r.t.Fatalf("AddConn: %v", err)
	}
	return p
}

// ended reports whether the session has ended, and why.
func (r *rig) ended() (bool, error) {
	select {
	case <-r.done:
		return true, r.err
	default:
		return false, nil
	}
}

// close ends the session and hangs up every peer, so that every goroutine
// of the test ends with it.
func (r *rig) close() {
	r.s.Close(ErrClosed)
	for _, p := range r.peers {
		p.close()
	}
	<-r.done
}

// inOrder checks that seqs is strictly increasing.
func inOrder(seqs []uint32) bool {
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			return false
		}
	}
	return true
}
