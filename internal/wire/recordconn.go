package wire

import (
	"encoding/binary"
	"net"
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
	wbuf       []byte // writes collected until Flush (nil: write through)
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
// writer may use it, and it must Flush after every batch.
func (c *RecordConn) BufferWrites() { c.wbuf = make([]byte, 0, 64<<10) }

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
			return c.Conn.Read(p)
		}
		n, err := c.Conn.Read(c.rbuf)
		c.rpos, c.rend = 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, c.rbuf[c.rpos:c.rend])
	c.rpos += n
	return n, nil
}

func (c *RecordConn) Write(p []byte) (int, error) {
	if c.wbuf == nil {
		return c.Conn.Write(p)
	}
	c.wbuf = append(c.wbuf, p...)
	if len(c.wbuf) >= dataWriteLimit {
		if err := c.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes out what BufferWrites collected.
func (c *RecordConn) Flush() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}
