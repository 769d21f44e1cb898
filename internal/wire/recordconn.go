package wire

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// RecordConn sits between a TCP connection and crypto/tls and does two jobs.
//
// While exact, it hands TLS at most one TLS record per Read, so TLS never
// pulls bytes of the following plaintext data phase out of the socket. That
// matters for sessions negotiated with use_encrypt=0: right after the
// welcome both peers abandon TLS and exchange blocks in the clear on the same
// socket (docs/protocol/session.md#encryption-off).
//
// In the data phase (BufferReads, or SetExact(false) for a session without
// encryption) it batches system calls: reads fill a large buffer, and writes
// are collected until Flush, so that the dozen TLS records of one batch of
// frames leave in a single write. Both buffers come from pools when bytes
// arrive or are written and go back once empty, so an idle connection holds
// neither.
type RecordConn struct {
	net.Conn
	exact    bool
	buffered bool // reads go through rbuf
	hdr      [5]byte
	hdrN     int // bytes of the current record header seen
	left     int // bytes of the current record body not yet passed on

	rbuf       *[]byte // data-phase read buffer; (*rbuf)[rpos:rend] is unread; nil when empty
	rpos, rend int
	rerr       error // error of the system call that filled rbuf
	// wbuf collects writes until Flush (nil: none pending). wmu guards it:
	// besides the session's writer, crypto/tls itself writes here when it
	// answers a TLS 1.3 KeyUpdate on the reading goroutine.
	wmu       sync.Mutex
	buffering bool // Write collects into wbuf instead of writing through
	wbuf      *[]byte

	// Data-phase system calls, set up when the connection exposes its
	// descriptor (see rawOp).
	raw     syscall.RawConn
	rd, wr  rawOp
	readFn  func(fd uintptr) bool
	fillFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

const (
	dataReadBuffer = 256 << 10
	dataWriteLimit = 512 << 10 // flush early past this, to bound memory
)

// NewRecordConn wraps c in exact mode.
func NewRecordConn(c net.Conn) *RecordConn { return &RecordConn{Conn: c, exact: true} }

// SetExact switches record-exact reading on or off. It must only be called
// from the goroutine that reads, between records (TLS always consumes whole
// records before it returns data, so after a TLS Read is a safe point).
// Turning it off also turns on read buffering and moves reads to raw
// system calls (see rawOp) when the connection exposes its descriptor.
func (c *RecordConn) SetExact(on bool) {
	c.exact = on
	if !on {
		c.BufferReads()
	}
}

// BufferReads starts the data phase of a TLS connection: reads go through
// a pooled buffer filled by large system calls (raw ones, see rawOp, when
// the connection exposes its descriptor), and TLS still gets one record at
// a time. That keeps crypto/tls's own read buffer, which grows to what it
// is handed and never shrinks, at one record: handed all that one system
// call read, it grew to 48 KiB per connection and kept it while idle.
// It must only be called from the goroutine that reads.
func (c *RecordConn) BufferReads() {
	c.buffered = true
	c.useRaw()
}

// BufferWrites makes Write collect data until Flush. Only the data-phase
// writer may use it, and it must Flush after every batch. It also moves the
// connection's writes to raw system calls (see rawOp) when the connection
// exposes its descriptor.
func (c *RecordConn) BufferWrites() {
	c.wmu.Lock()
	c.buffering = true
	c.wmu.Unlock()
	c.useRaw()
}

// useRaw sets up raw system calls once, if the connection allows them.
func (c *RecordConn) useRaw() {
	if c.raw != nil {
		return
	}
	if sc, ok := c.Conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			// Made once, so that no read or write allocates.
			c.readFn, c.fillFn, c.writeFn = c.rd.read, c.rawFill, c.wr.write
			c.raw = raw
		}
	}
}

// rawOp is one direction's system call on the non-blocking socket, run
// inside syscall.RawConn (which waits for readiness through the runtime's
// poller and applies deadlines). The calls are raw (no runtime system-call
// bookkeeping): on a non-blocking socket they never block, and the
// bookkeeping of ordinary calls keeps waking the runtime's monitor thread
// every 20 µs while sessions are busy, which cost a sixth of the server's
// CPU in the L2 benchmark.
type rawOp struct {
	buf  []byte
	n    int
	err  error
	wait bool // writes: wait for room (Flush) or stop at a full socket (TryFlush)
}

func (o *rawOp) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&o.buf[0])), uintptr(len(o.buf)))
		switch e {
		case 0:
			o.n = int(n)
			if n == 0 {
				o.err = io.EOF
			}
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			o.err = e
			return true
		}
	}
}

func (o *rawOp) write(fd uintptr) bool {
	for o.n < len(o.buf) {
		rest := o.buf[o.n:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(len(rest)))
		switch e {
		case 0:
			o.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return !o.wait
		default:
			o.err = e
			return true
		}
	}
	return true
}

// rawFill reads into the read buffer with one raw system call. It takes
// the buffer from its pool only when the call finds data, and hands it back
// before RawConn waits: a connection waiting for its peer holds no buffer.
func (c *RecordConn) rawFill(fd uintptr) bool {
	if c.rbuf == nil {
		c.rbuf = socketReadBufs.get()
		*c.rbuf = (*c.rbuf)[:cap(*c.rbuf)]
	}
	buf := *c.rbuf
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		switch e {
		case 0:
			c.rend = int(n)
			if n == 0 {
				c.rerr = io.EOF
			}
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			c.releaseRead()
			return false
		default:
			c.rerr = e
			return true
		}
	}
}

// rawRead reads into p with one raw system call, waiting for data.
func (c *RecordConn) rawRead(p []byte) (int, error) {
	c.rd = rawOp{buf: p}
	if err := c.raw.Read(c.readFn); err != nil {
		return 0, err
	}
	n, err := c.rd.n, c.rd.err
	c.rd.buf = nil
	return n, err
}

// rawWrite writes wbuf with raw system calls, waiting for room when wait is
// set, and drops what went out from wbuf. The caller holds wmu.
func (c *RecordConn) rawWrite(wait bool) error {
	c.wr = rawOp{buf: *c.wbuf, wait: wait}
	err := c.raw.Write(c.writeFn)
	if err == nil {
		err = c.wr.err
	}
	if c.wr.n == len(*c.wbuf) {
		c.releaseWrite()
	} else {
		rest := copy(*c.wbuf, (*c.wbuf)[c.wr.n:])
		*c.wbuf = (*c.wbuf)[:rest]
	}
	c.wr.buf = nil
	return err
}

// AtRecordBoundary reports whether no partial TLS record has been consumed.
func (c *RecordConn) AtRecordBoundary() bool { return c.hdrN == 0 && c.left == 0 }

func (c *RecordConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !c.exact {
		return c.bufferedRead(p)
	}
	if !c.buffered {
		return c.recordStep(p, c.Conn.Read)
	}
	// Buffered, a whole record (header and body) goes in one call, as far
	// as p takes it. crypto/tls then reads each record with one call and
	// one small allocation, and never calls again for the rest of a body,
	// which would first make room for 512 more bytes and so double its
	// buffer (to 32 KiB for 16 KiB records).
	n := 0
	for n < len(p) {
		m, err := c.recordStep(p[n:], c.bufferedRead)
		n += m
		if err != nil {
			return n, err
		}
		if c.hdrN == 0 { // the record is complete
			break
		}
	}
	return n, nil
}

// recordStep passes on bytes of the current record's header or body, never
// past either, reading them with read.
func (c *RecordConn) recordStep(p []byte, read func([]byte) (int, error)) (int, error) {
	if c.hdrN < len(c.hdr) {
		n, err := read(p[:min(len(p), len(c.hdr)-c.hdrN)])
		copy(c.hdr[c.hdrN:], p[:n])
		c.hdrN += n
		if c.hdrN == len(c.hdr) {
			c.left = int(binary.BigEndian.Uint16(c.hdr[3:]))
			if c.left == 0 {
				c.hdrN = 0
			}
		}
		return n, err
	}
	n, err := read(p[:min(len(p), c.left)])
	c.left -= n
	if c.left == 0 {
		c.hdrN = 0
	}
	return n, err
}

func (c *RecordConn) bufferedRead(p []byte) (int, error) {
	if c.rbuf == nil {
		if len(p) >= dataReadBuffer {
			return c.read(p)
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*c.rbuf)[c.rpos:c.rend])
	c.rpos += n
	if c.rpos == c.rend {
		c.releaseRead()
	}
	return n, nil
}

// fill reads from the socket into a read buffer taken from its pool. It
// returns an error only when it read nothing.
func (c *RecordConn) fill() error {
	c.rpos, c.rend, c.rerr = 0, 0, nil
	if c.raw != nil {
		if err := c.raw.Read(c.fillFn); err != nil {
			c.releaseRead()
			return err
		}
	} else {
		// Without a descriptor the buffer is held while the read waits.
		c.rbuf = socketReadBufs.get()
		*c.rbuf = (*c.rbuf)[:cap(*c.rbuf)]
		c.rend, c.rerr = c.Conn.Read(*c.rbuf)
	}
	if c.rend == 0 {
		c.releaseRead()
		if c.rerr == nil {
			return io.ErrNoProgress
		}
		return c.rerr
	}
	return nil
}

func (c *RecordConn) releaseRead() {
	if c.rbuf != nil {
		socketReadBufs.put(c.rbuf)
		c.rbuf, c.rpos, c.rend = nil, 0, 0
	}
}

// read reads from the socket: raw in the data phase when possible.
func (c *RecordConn) read(p []byte) (int, error) {
	if c.raw != nil {
		return c.rawRead(p)
	}
	return c.Conn.Read(p)
}

func (c *RecordConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.buffering {
		return c.Conn.Write(p)
	}
	if c.wbuf == nil {
		c.wbuf = socketWriteBufs.get()
	}
	*c.wbuf = append(*c.wbuf, p...)
	if len(*c.wbuf) >= dataWriteLimit {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// errNoDescriptor says TryFlush cannot write without waiting on this
// connection.
var errNoDescriptor = errors.New("wire: connection has no descriptor for non-blocking writes")

// CanTryFlush reports whether TryFlush can work on this connection.
func (c *RecordConn) CanTryFlush() bool { return c.raw != nil }

// TryFlush writes as much of what BufferWrites collected as the socket takes
// at once, without waiting, and reports whether all of it went out. The rest
// stays buffered, in order, for the next Flush or TryFlush.
func (c *RecordConn) TryFlush() (bool, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wbuf == nil {
		return true, nil
	}
	if c.raw == nil {
		return false, errNoDescriptor
	}
	err := c.rawWrite(false)
	return c.wbuf == nil && err == nil, err
}

// Flush writes out what BufferWrites collected.
func (c *RecordConn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked()
}

func (c *RecordConn) flushLocked() error {
	if c.wbuf == nil {
		return nil
	}
	if c.raw != nil {
		return c.rawWrite(true)
	}
	_, err := c.Conn.Write(*c.wbuf)
	c.releaseWrite()
	return err
}

// releaseWrite gives the write buffer back. The caller holds wmu.
func (c *RecordConn) releaseWrite() {
	socketWriteBufs.put(c.wbuf)
	c.wbuf = nil
}
