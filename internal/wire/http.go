package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SoftEther frames its handshake as HTTP/1.1 messages that it builds and
// parses itself. The limits below are the real implementation's: a peer that
// exceeds them is not a SoftEther peer.
const (
	maxHTTPLine    = 4096 // bytes per start or header line
	maxHTTPHeaders = 128  // header lines kept; extra lines are read and dropped
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
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return nil, fmt.Errorf("%w: start line %q has fewer than 3 tokens", ErrHTTPSyntax, truncate(line))
	}
	m := &Message{}
	m.Start[0], m.Start[1] = fields[0], fields[1]
	// The reason phrase may contain spaces: keep the rest of the line.
	m.Start[2] = strings.TrimSpace(strings.SplitN(strings.TrimSpace(line), " ", 3)[2])
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
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
	m.Body = make([]byte, n)
	if _, err := io.ReadFull(r, m.Body); err != nil {
		return nil, fmt.Errorf("wire: reading %d-byte HTTP body: %w", n, err)
	}
	return m, nil
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
