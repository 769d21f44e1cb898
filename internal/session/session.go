// Package session runs one SoftEther session: 1..32 TCP connections that
// together carry Ethernet frames between the peer and a local Port (a hub
// port on the server, a TAP adapter on the client).
//
// Every connection has one reader goroutine, and one writer goroutine when
// this side may send on it. Writers pull batches from the Port's shared
// output queue. One connection, the primary, carries the traffic, so that
// the frames of each flow arrive in order: spread over several connections
// they would be reordered, and the TCP inside the tunnel would take that
// for loss. The other writers step in while the primary is blocked on a
// full socket, which is how SoftEther moves to a less blocked socket.
//
// Push lets the goroutine that queued frames for the session (another
// session's reader, on a server) write them itself while the primary's
// writer is idle, as long as the socket takes them at once: under load
// this saves a goroutine hand-over per batch.
package session

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// Port is what a session carries frames to and from.
type Port interface {
	// Input takes a batch of frames received from the peer. The frames are
	// only valid during the call.
	Input(frames [][]byte)
	// Ready is signalled when output frames are queued, and again when
	// Output leaves frames queued, so that another writer takes them while
	// the one that called Output may be blocked on its socket.
	Ready() <-chan struct{}
	// Output passes up to max queued outbound frames to emit, one at a
	// time, and returns how many it passed. It is called concurrently by
	// the writers of the session's connections.
	Output(max int, emit func(frame []byte)) int
}

// Role says which end of the protocol this session is.
type Role int

// Roles.
const (
	Server Role = iota
	Client
)

// Params are the negotiated session parameters.
type Params struct {
	Role           Role
	Timeout        time.Duration // idle limit for the session and for receiving connections
	MaxConnections int
	HalfDuplex     bool
	Compress       bool
	// Log receives a panic of the session's goroutines (which ends the
	// session, not the process); nil means slog.Default.
	Log *slog.Logger
}

// Stream is the data phase of one connection: where to read and write
// blocks, and the connection's direction.
type Stream struct {
	R   *bufio.Reader
	W   io.Writer
	Dir wire.Direction
	// Flush, when set, pushes out what W buffered; the writer calls it
	// after every batch.
	Flush func() error
	// TryFlush, when set, writes what W buffered without waiting and
	// reports whether all of it went out; the rest stays buffered for
	// Flush. It lets Push send from the goroutine that queued the frames.
	TryFlush func() (bool, error)
}

// Errors that end a session or refuse a connection.
var (
	ErrClosed = errors.New("session: closed")
)

// writeBatch is the most frames a writer puts in one DATA_FRAME.
const writeBatch = 256

// pushBatches bounds the batches Push writes for the goroutine that queued
// them, which has its own frames to read.
const pushBatches = 4

// helpAfter is how long the primary writer must have been stuck in one
// write before other connections' writers send too.
const helpAfter = 5 * time.Millisecond

// maxWriters bounds the writers of a session that send at once: the
// primary and up to maxWriters-1 helpers. Each holds the batch it took
// from the port until its socket takes it, so when the peer reads nothing
// a session holds at most maxWriters batches (1.6 MB), not one per
// connection (32 connections: 13 MB) beyond the hub's bounded queue.
// SoftEther bounds a session's buffered frames too (Connection.c,
// MAX_BUFFERING_PACKET_SIZE, 2.5 MB).
const maxWriters = 4

// Session is one live session.
type Session struct {
	params Params
	port   Port

	mu    sync.Mutex
	conns []*conn

	lastRecv  atomic.Int64 // unix nanoseconds of the last block or keep-alive received
	helpers   atomic.Int32 // helper writers sending now (see maxWriters)
	stats     struct{ recvFrames, recvBatches, sentFrames, sentBatches, helperBatches atomic.Uint64 }
	primary   atomic.Pointer[conn] // the writer that carries the traffic
	done      chan struct{}
	closeOnce sync.Once
	err       error
}

// New creates a session for port. Add connections with AddConn and wait
// for the end with Wait.
func New(port Port, p Params) *Session {
	if p.MaxConnections < 1 {
		p.MaxConnections = 1
	}
	s := &Session{params: p, port: port, done: make(chan struct{})}
	s.lastRecv.Store(time.Now().UnixNano())
	if pp, ok := port.(PushPort); ok {
		pp.SetPush(s.Push)
	}
	return s
}

// PushPort is a Port that can call Push itself after it queued output
// (instead of signalling Ready); New hands it the session's Push.
type PushPort interface {
	Port
	SetPush(push func() bool)
}

// Params returns the negotiated parameters.
func (s *Session) Params() Params { return s.params }

// AddConn attaches one TCP connection. While a slot is reserved for it,
// handshake is called with the direction this side proposes (the rule of
// the real server: the first connection of a half-duplex session carries
// client-to-server traffic, then directions alternate so the side with
// fewer connections gets the next one); it answers the peer and returns
// the data-phase stream. It returns vpnerr.TooManyConnection when the
// session is full.
func (s *Session) AddConn(nc net.Conn, handshake func(wire.Direction) (Stream, error)) error {
	c := &conn{s: s, nc: nc, closed: make(chan struct{}), wake: make(chan struct{}, 1)}
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return ErrClosed
	default:
	}
	if len(s.conns) >= s.params.MaxConnections {
		s.mu.Unlock()
		return vpnerr.TooManyConnection
	}
	dir := wire.Both
	if s.params.HalfDuplex {
		s2c, c2s := s.directionsLocked()
		if c2s == 0 || s2c > c2s {
			dir = wire.ClientToServer
		} else {
			dir = wire.ServerToClient
		}
	}
	c.dir = dir
	s.conns = append(s.conns, c)
	s.mu.Unlock()

	st, err := handshake(dir)
	if err != nil {
		s.removeConn(c)
		return err
	}
	s.mu.Lock()
	c.dir = st.Dir
	s.mu.Unlock()
	// Attaching is no sign of life: only blocks and keep-alives received
	// keep the session from timing out, so a peer that keeps re-attaching
	// and closing cannot hold a dead session open.
	go c.readLoop(st.R)
	if c.sends() {
		c.bw = wire.NewBlockWriter(st.W, s.params.Compress)
		c.flush, c.tryFlush = st.Flush, st.TryFlush
		if c.flush == nil {
			c.flush = func() error { return nil }
		}
		go c.writeLoop()
	}
	return nil
}

func (s *Session) directionsLocked() (s2c, c2s int) {
	for _, c := range s.conns {
		switch c.dir {
		case wire.ServerToClient:
			s2c++
		case wire.ClientToServer:
			c2s++
		}
	}
	return
}

// NumConns returns the number of attached connections.
func (s *Session) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Directions returns how many connections carry each half-duplex direction.
func (s *Session) Directions() (s2c, c2s int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.directionsLocked()
}

func (s *Session) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.conns {
		if x == c {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			return
		}
	}
}

// Wait runs the session's idle check until the session ends and returns
// why it ended: nothing received for the timeout ends it, at that very
// moment (SoftEther Session.c, SessionMain: now - LastCommTime >= Timeout).
// With no connections left the session stays alive until the timeout, so
// that the peer can re-attach with its session key.
func (s *Session) Wait() error {
	// One timer, set for when the session would time out if nothing
	// came; when it fires after something did, it is set again. A busy
	// session wakes about once per timeout, not once a second.
	t := time.NewTimer(s.untilTimeout())
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return s.err
		case <-t.C:
			if left := s.untilTimeout(); left > 0 {
				t.Reset(left)
				continue
			}
			s.Close(vpnerr.SessionTimeout)
		}
	}
}

// untilTimeout returns how long from now the session may stay idle.
func (s *Session) untilTimeout() time.Duration {
	return s.params.Timeout - time.Since(time.Unix(0, s.lastRecv.Load()))
}

// Close ends the session and closes every connection.
func (s *Session) Close(reason error) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.err = reason
		close(s.done)
		conns := append([]*conn(nil), s.conns...)
		s.conns = nil
		s.mu.Unlock()
		for _, c := range conns {
			c.close()
		}
	})
}

// Stats counts what went through the session's connections. Batches are
// reads that yielded frames and writes of one DATA_FRAME: frames per batch
// shows how well the data path amortises system calls and TLS records.
type Stats struct {
	RecvFrames, RecvBatches uint64
	SentFrames, SentBatches uint64
	// HelperBatches are the batches sent by a writer other than the
	// primary, because the primary was blocked.
	HelperBatches uint64
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	return Stats{
		RecvFrames: s.stats.recvFrames.Load(), RecvBatches: s.stats.recvBatches.Load(),
		SentFrames: s.stats.sentFrames.Load(), SentBatches: s.stats.sentBatches.Load(),
		HelperBatches: s.stats.helperBatches.Load(),
	}
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// keepAliveSpan draws the time until the next keep-alive as the real
// implementation does: random below half the timeout, at least a fifth.
func (s *Session) keepAliveSpan() time.Duration {
	half := s.params.Timeout / 2
	span := time.Duration(mrand.Int64N(int64(half)))
	return max(span, s.params.Timeout/5)
}

// conn is one TCP connection of a session.
type conn struct {
	s         *Session
	nc        net.Conn
	dir       wire.Direction
	closed    chan struct{}
	closeOnce sync.Once

	wake      chan struct{} // another writer handing the work to this one
	writingAt atomic.Int64  // unix nanoseconds when the current write began; 0 between writes

	// The sending side, under wmu: the writer goroutine holds it while it
	// writes; Push takes it only when it is free.
	wmu      sync.Mutex
	bw       *wire.BlockWriter
	flush    func() error
	tryFlush func() (bool, error)
	backlog  bool // TryFlush left bytes buffered: Flush them before anything else
}

// poke wakes this connection's writer.
func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// mayDrain reports whether this writer should send now: it is the
// primary (or becomes it, when there is none or it closed), or the primary
// has been stuck in one write for helpAfter and fewer than maxWriters-1
// helpers send; helper says it took a helper's place, which the caller
// gives back. A writer that defers to an idle primary makes sure the
// primary has seen the work; one that defers to a primary busy for less
// than helpAfter gets retryIn, when to look again: the port does not
// signal again for frames it already signalled.
func (c *conn) mayDrain(now int64) (may, helper bool, retryIn time.Duration) {
	s := c.s
	p := s.primary.Load()
	if p == nil || p.isClosed() {
		if s.primary.CompareAndSwap(p, c) {
			return true, false, 0
		}
		p = s.primary.Load()
	}
	if p == c || p == nil {
		return true, false, 0
	}
	since := p.writingAt.Load()
	if since == 0 {
		p.poke()
		return false, false, 0
	}
	if busy := now - since; busy <= int64(helpAfter) {
		return false, false, time.Duration(int64(helpAfter) - busy + 1)
	}
	for {
		n := s.helpers.Load()
		if n >= maxWriters-1 {
			return false, false, 0
		}
		if s.helpers.CompareAndSwap(n, n+1) {
			return true, true, 0
		}
	}
}

// sends reports whether this side may send on the connection.
func (c *conn) sends() bool {
	if c.s.params.Role == Server {
		return c.dir.ServerSends()
	}
	return c.dir.ClientSends()
}

// receives reports whether the peer sends on the connection, so that its
// silence counts against the timeout.
func (c *conn) receives() bool {
	if c.s.params.Role == Server {
		return c.dir.ClientSends()
	}
	return c.dir.ServerSends()
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.nc.Close()
		c.s.removeConn(c)
		if c.s.primary.CompareAndSwap(c, nil) {
			// Queued frames must not wait for new ones to wake a writer.
			c.s.pokeWriters()
		}
	})
}

// pokeWriters wakes the writers of the session's connections.
func (s *Session) pokeWriters() {
	s.mu.Lock()
	for _, o := range s.conns {
		o.poke()
	}
	s.mu.Unlock()
}

func (c *conn) readLoop(r *bufio.Reader) {
	defer c.close()
	defer guard.Recover(c.s.params.Log, "session (reading)", c.s.Close)
	s := c.s
	br := wire.NewBlockReader(r, s.params.Compress)
	var deadlineSet time.Time
	for {
		if c.receives() {
			// Refreshing the deadline once a second is enough and keeps the
			// hot path free of timer updates.
			if now := time.Now(); now.Sub(deadlineSet) > time.Second {
				c.nc.SetReadDeadline(now.Add(s.params.Timeout))
				deadlineSet = now
			}
		}
		frames, err := br.Next()
		if len(frames) > 0 {
			s.port.Input(frames)
			s.stats.recvFrames.Add(uint64(len(frames)))
			s.stats.recvBatches.Add(1)
		}
		if err != nil {
			return
		}
		s.lastRecv.Store(time.Now().UnixNano())
	}
}

func (c *conn) writeLoop() {
	defer func() {
		c.close()
		// A helper's place is free only once its writer has left, which
		// may be after the reader closed the connection: the frames
		// still queued must not wait for new ones to wake a writer.
		c.s.pokeWriters()
	}()
	defer guard.Recover(c.s.params.Log, "session (writing)", c.s.Close)
	s := c.s
	// The first keep-alive goes out as soon as the data phase starts.
	nextKA := time.Now()
	ka := time.NewTimer(0)
	defer ka.Stop()
	// retry wakes this writer when the primary it deferred to will have
	// been stuck for helpAfter, since nothing else may wake it then.
	retry := time.NewTimer(helpAfter)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-s.done:
			return
		case <-ka.C:
			now := time.Now()
			if now.Before(nextKA) {
				ka.Reset(nextKA.Sub(now))
				continue
			}
			c.wmu.Lock()
			err := c.keepAlive(now)
			c.wmu.Unlock()
			if err != nil {
				return
			}
			nextKA = now.Add(s.keepAliveSpan())
			ka.Reset(nextKA.Sub(now))
			continue
		case <-s.port.Ready():
		case <-c.wake:
		case <-retry.C:
		}
		c.wmu.Lock()
		wrote, retryIn, err := c.drain()
		c.wmu.Unlock()
		if err != nil {
			return
		}
		if retryIn > 0 {
			retry.Reset(retryIn)
		}
		if wrote {
			nextKA = time.Now().Add(s.keepAliveSpan())
		}
	}
}

// keepAlive sends a keep-alive block (after what Push left buffered).
// The caller holds wmu. A keep-alive can block on a full socket like any
// write, so it counts as one for the helpers.
func (c *conn) keepAlive(now time.Time) error {
	return c.blockingWrite(now, c.bw.WriteKeepAlive)
}

// drain finishes what Push left buffered, then, when this writer should
// send, writes batches until the port's queue is empty. It reports whether
// it wrote anything, and, when it deferred to a primary that has not been
// stuck for helpAfter yet, when to try again. The caller holds wmu.
func (c *conn) drain() (wrote bool, retryIn time.Duration, err error) {
	s := c.s
	if c.backlog {
		if err := c.blockingWrite(time.Now(), nil); err != nil {
			return false, 0, err
		}
		wrote = true
	}
	may, helper, retryIn := c.mayDrain(time.Now().UnixNano())
	if !may {
		return wrote, retryIn, nil
	}
	if helper {
		defer s.helpers.Add(-1)
	}
	for {
		// The writer is busy from taking a batch until its socket took
		// it: a writer that the port wakes meanwhile (it signals when
		// Output leaves frames) must see that, and come back if the
		// write gets stuck.
		now := time.Now()
		c.writingAt.Store(now.UnixNano())
		n := s.port.Output(writeBatch, c.bw.Add)
		if n == 0 {
			c.writingAt.Store(0)
			return wrote, 0, nil
		}
		if err := c.blockingWrite(now, c.bw.Flush); err != nil {
			return wrote, 0, err
		}
		c.countBatch(n)
		wrote = true
	}
}

// blockingWrite encodes with encode (if any) and writes everything
// buffered, waiting for the socket up to the timeout from now. The caller
// holds wmu.
func (c *conn) blockingWrite(now time.Time, encode func() error) error {
	c.nc.SetWriteDeadline(now.Add(c.s.params.Timeout))
	c.writingAt.Store(now.UnixNano())
	var err error
	if encode != nil {
		err = encode()
	}
	if err == nil {
		err = c.flush()
	}
	c.backlog = false
	c.writingAt.Store(0)
	return err
}

func (c *conn) countBatch(n int) {
	s := c.s
	s.stats.sentFrames.Add(uint64(n))
	s.stats.sentBatches.Add(1)
	if s.primary.Load() != c {
		s.stats.helperBatches.Add(1)
	}
}

// Push writes the port's queued output on the calling goroutine, so that
// the frames skip the hand-over to a writer goroutine (a wake-up and often
// a thread switch per batch): the hub calls it right after it queued frames
// for this session. It works only while the primary connection's writer is
// idle, and it never waits: the socket takes what it takes at once and the
// writer sends the rest. It reports whether the writers may stay asleep;
// on false the caller signals Ready as usual.
func (s *Session) Push() bool {
	c := s.primary.Load()
	if c == nil || c.tryFlush == nil || !c.wmu.TryLock() {
		return false
	}
	defer c.wmu.Unlock()
	if c.backlog || c.isClosed() {
		return false
	}
	for range pushBatches {
		n := s.port.Output(writeBatch, c.bw.Add)
		if n == 0 {
			return true
		}
		// No deadline to set: this write never waits, and the one the
		// writer sets is renewed by its keep-alives (at most half the
		// timeout apart) long before it could expire.
		err := c.bw.Flush()
		sent := false
		if err == nil {
			sent, err = c.tryFlush()
		}
		if err != nil {
			c.close()
			return false
		}
		c.countBatch(n)
		if !sent {
			c.backlog = true
			c.poke()
			return true
		}
	}
	return false
}
