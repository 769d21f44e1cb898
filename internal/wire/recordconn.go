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
// socket (session-protocol.md §8.6).
//
// In the data phase (SetExact(false)) it batches system calls: reads fill a
// large buffer, and writes are collected until Flush, so that the dozen TLS
// records of one batch of frames leave in a single write.
type RecordConn struct {
	net.Conn
	exact bool
	hdr   [5]byte
	hdrN  int // bytes of the current record header seen
	left  int // bytes of the current record body not yet passed on

	rbuf       []byte // data-phase read buffer; rbuf[rpos:rend] is unread
	rpos, rend int
	// wbuf collects writes until Flush (nil: write through). wmu guards it:
	// besides the session's writer, crypto/tls itself writes here when it
	// answers a TLS 1.3 KeyUpdate on the reading goroutine.
	wmu  sync.Mutex
	wbuf []byte

	// Data-phase system calls, set up by BufferWrites when the connection
	// exposes its descriptor (see rawOp).
	raw     syscall.RawConn
	rd, wr  rawOp
	readFn  func(fd uintptr) bool
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
// Turning it off also turns on read buffering.
func (c *RecordConn) SetExact(on bool) {
	c.exact = on
	if !on && c.rbuf == nil {
		c.rbuf = make([]byte, dataReadBuffer)
	}
}

// BufferWrites makes Write collect data until Flush. Only the data-phase
// writer may use it, and it must Flush after every batch. It also moves the
// connection's reads and writes to raw system calls (see rawOp) when the
// connection exposes its descriptor.
func (c *RecordConn) BufferWrites() {
	c.wbuf = make([]byte, 0, 64<<10)
	if sc, ok := c.Conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			// Made once, so that no read or write allocates.
			c.readFn, c.writeFn = c.rd.read, c.wr.write
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
	c.wr = rawOp{buf: c.wbuf, wait: wait}
	err := c.raw.Write(c.writeFn)
	if err == nil {
		err = c.wr.err
	}
	rest := copy(c.wbuf, c.wbuf[c.wr.n:])
	c.wbuf = c.wbuf[:rest]
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
	if c.hdrN < len(c.hdr) {
		n, err := c.Conn.Read(p[:min(len(p), len(c.hdr)-c.hdrN)])
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
	n, err := c.Conn.Read(p[:min(len(p), c.left)])
	c.left -= n
	if c.left == 0 {
		c.hdrN = 0
	}
	return n, err
}

func (c *RecordConn) bufferedRead(p []byte) (int, error) {
	if c.rpos == c.rend {
		if len(p) >= len(c.rbuf) {
			return c.read(p)
		}
		n, err := c.read(c.rbuf)
		c.rpos, c.rend = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, c.rbuf[c.rpos:c.rend])
	c.rpos += n
	return n, nil
}

// read reads from the socket: raw in the data phase when possible.
func (c *RecordConn) read(p []byte) (int, error) {
	if c.raw != nil {
		return c.rawRead(p)
	}
	return c.Conn.Read(p)
}

func (c *RecordConn) Write(p []byte) (int, error) {
	if c.wbuf == nil {
		return c.Conn.Write(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = append(c.wbuf, p...)
	if len(c.wbuf) >= dataWriteLimit {
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
	if len(c.wbuf) == 0 {
		return true, nil
	}
	if c.raw == nil {
		return false, errNoDescriptor
	}
	err := c.rawWrite(false)
	return len(c.wbuf) == 0 && err == nil, err
}

// Flush writes out what BufferWrites collected.
func (c *RecordConn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked()
}

func (c *RecordConn) flushLocked() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	if c.raw != nil {
		return c.rawWrite(true)
	}
	_, err := c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}
