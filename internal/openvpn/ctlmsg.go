package openvpn

import (
	"bytes"
	"errors"
	"io"
)

// errControlTooLong is a control message that outgrew its reader's bound.
var errControlTooLong = errors.New("openvpn: control message too long")

// controlReader splits the TLS stream of a control channel into its
// messages, NUL-terminated strings such as PUSH_REQUEST or PUSH_REPLY,...
// (OpenVPN ssl.c tls_rec_payload, push.c). Both the server's sessions and
// the client read with one.
type controlReader struct {
	r       io.Reader
	buf     []byte
	pending []byte
	max     int // the longest message taken
}

func newControlReader(r io.Reader, buf []byte, max int) *controlReader {
	return &controlReader{r: r, buf: buf, max: max}
}

// next returns the next message. A message longer than max is dropped
// with errControlTooLong; the caller may carry on with the next one.
func (c *controlReader) next() (string, error) {
	for {
		if i := bytes.IndexByte(c.pending, 0); i >= 0 {
			msg := string(c.pending[:i])
			c.pending = c.pending[i+1:]
			return msg, nil
		}
		if len(c.pending) > c.max {
			c.pending = c.pending[:0]
			return "", errControlTooLong
		}
		n, err := c.r.Read(c.buf)
		if err != nil {
			return "", err
		}
		c.pending = append(c.pending, c.buf[:n]...)
	}
}
