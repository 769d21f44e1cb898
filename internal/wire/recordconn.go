package wire

import (
	"encoding/binary"
	"net"
)

// RecordConn sits between a TCP connection and crypto/tls. While Exact is
// set it hands TLS at most one TLS record per Read, so TLS never pulls bytes
// of the following plaintext data phase out of the socket. That matters for
// sessions negotiated with use_encrypt=0: right after the welcome both peers
// abandon TLS and exchange blocks in the clear on the same socket
// (session-protocol.md §8.6). Once the preamble is over, SetExact(false)
// removes the per-record limit so the TLS data phase reads in large chunks.
type RecordConn struct {
	net.Conn
	exact bool
	hdr   [5]byte
	hdrN  int // bytes of the current record header seen
	left  int // bytes of the current record body not yet passed on
}

// NewRecordConn wraps c in exact mode.
func NewRecordConn(c net.Conn) *RecordConn { return &RecordConn{Conn: c, exact: true} }

// SetExact switches record-exact reading on or off. It must only be called
// from the goroutine that reads, between records (TLS always consumes whole
// records before it returns data, so after a TLS Read is a safe point).
func (c *RecordConn) SetExact(on bool) { c.exact = on }

// AtRecordBoundary reports whether no partial TLS record has been consumed.
func (c *RecordConn) AtRecordBoundary() bool { return c.hdrN == 0 && c.left == 0 }

func (c *RecordConn) Read(p []byte) (int, error) {
	if !c.exact || len(p) == 0 {
		return c.Conn.Read(p)
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
