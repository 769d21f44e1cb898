package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SoftEther frames its handshake as HTTP/1.1 messages that it builds and
// parses itself. The line limits are the real implementation's (HTTP.c,
// RecvHttpHeader and AddHttpValue): a peer that exceeds them is not a
// SoftEther peer. SoftEther reads header lines until the empty one however
// many come, keeping the first 128; ethervpn also caps the whole header
// (the web server's MaxHeaderBytes is the same), so that a rogue server
// cannot keep a client or a cascade reading lines until its timeout.
const (
	maxHTTPLine        = 4096     // bytes per start or header line
	maxHTTPHeaders     = 128      // header lines kept; extra lines are read and dropped
	maxHTTPHeaderBytes = 64 << 10 // start line and header lines together
)

// Message is one HTTP request or response of the handshake preamble.
// For a request, Start is {method, target, version}; for a response it is
// {version, status code, reason}.
type Message struct {
	Start   [3]string
	Headers []Header
	Body    []byte
}

// Header is one "Name: Value" line.
type Header struct{ Name, Value string }

// Get returns the value of the first header with the given name
// (case-insensitive), or "".
func (m *Message) Get(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Errors returned by ReadMessage.
var (
	ErrHTTPSyntax  = errors.New("wire: malformed HTTP message")
	ErrHTTPTooLong = errors.New("wire: HTTP line or body over the limit")
)

// ReadMessage reads one HTTP message from r. The body is read only if its
// Content-Length is at most maxBody; otherwise the headers are returned with
// ErrHTTPTooLong (and a nil body) so that the caller can answer before
// closing. ReadMessage never reads past the end of the message, so the bytes
// that follow (the data phase) stay in r.
func ReadMessage(r *bufio.Reader, maxBody int) (*Message, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	m := &Message{}
	if !splitStartLine(line, &m.Start) {
		return nil, fmt.Errorf("%w: start line %q has fewer than 3 space-separated tokens", ErrHTTPSyntax, truncate(line))
	}
	for total := len(line); ; {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		if total += len(line) + 2; total > maxHTTPHeaderBytes {
			return nil, fmt.Errorf("%w: header over %d bytes", ErrHTTPTooLong, maxHTTPHeaderBytes)
		}
		name, value, ok := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		if !ok || value == "" {
			return nil, fmt.Errorf("%w: header line %q", ErrHTTPSyntax, truncate(line))
		}
		if len(m.Headers) < maxHTTPHeaders {
			m.Headers = append(m.Headers, Header{strings.TrimSpace(name), value})
		}
	}
	n := 0
	if cl := m.Get("Content-Length"); cl != "" {
		n, err = strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: Content-Length %q", ErrHTTPSyntax, truncate(cl))
		}
	}
	if n > maxBody {
		return m, fmt.Errorf("%w: body of %d bytes (limit %d)", ErrHTTPTooLong, n, maxBody)
	}
	if m.Body, err = readBody(r, n); err != nil {
		return nil, fmt.Errorf("wire: reading %d-byte HTTP body: %w", n, err)
	}
	return m, nil
}

// bodyStep is the first allocation for a body. Larger bodies grow as their
// bytes arrive, so a peer that announces a large Content-Length and sends
// little costs memory for what it sent, not for what it announced.
const bodyStep = 64 << 10

// readBody reads exactly n bytes, growing the buffer (at most doubling it)
// only as data arrives.
func readBody(r io.Reader, n int) ([]byte, error) {
	body := make([]byte, 0, min(n, bodyStep))
	for len(body) < n {
		if len(body) == cap(body) {
			body = slices.Grow(body, min(n-len(body), len(body)))
		}
		m, err := r.Read(body[len(body):min(n, cap(body))])
		body = body[:len(body)+m]
		if err != nil && len(body) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return body, nil
}

// splitStartLine splits a start line into its three tokens as SoftEther
// does (HTTP.c, RecvHttpHeader: ParseToken on spaces only, runs of spaces
// are one separator), except that the third token keeps the rest of the
// line, spaces included, because a reason phrase may contain them. Other
// whitespace (TAB, CR, VT, FF) is part of a token, not a separator: a line
// such as "HTTP/1.1\t200\tOK" has one token and is refused. It reports false
// when there are fewer than three tokens.
func splitStartLine(line string, start *[3]string) bool {
	rest := line
	for i := range 2 {
		rest = strings.TrimLeft(rest, " ")
		tok, after, found := strings.Cut(rest, " ")
		if !found || tok == "" {
			return false
		}
		start[i], rest = tok, after
	}
	start[2] = strings.Trim(rest, " ")
	return start[2] != ""
}

// readLine reads one line ending in LF and strips the LF and a trailing CR.
func readLine(r *bufio.Reader) (string, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxHTTPLine+2 {
			return "", fmt.Errorf("%w: line longer than %d bytes", ErrHTTPTooLong, maxHTTPLine)
		}
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
	return string(line), nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// httpDate formats t as SoftEther (and RFC 7231) do: "Sat, 21 Nov 2026 05:19:26 GMT".
func httpDate(t time.Time) string { return t.UTC().Format(time.RFC1123[:len(time.RFC1123)-3] + "GMT") }

// AppendMessage appends m to dst in SoftEther's layout: the start line, the
// headers sorted case-insensitively with Content-Length in its sorted place,
// an empty line and the body.
func AppendMessage(dst []byte, m *Message) []byte {
	hs := make([]Header, 0, len(m.Headers)+1)
	for _, h := range m.Headers {
		if !strings.EqualFold(h.Name, "Content-Length") {
			hs = append(hs, h)
		}
	}
	hs = append(hs, Header{"Content-Length", strconv.Itoa(len(m.Body))})
	sort.SliceStable(hs, func(i, j int) bool { return strings.ToLower(hs[i].Name) < strings.ToLower(hs[j].Name) })
	dst = append(dst, m.Start[0]+" "+m.Start[1]+" "+m.Start[2]+"\r\n"...)
	for _, h := range hs {
		dst = append(dst, h.Name+": "+h.Value+"\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, m.Body...)
}
