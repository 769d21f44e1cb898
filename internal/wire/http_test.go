package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// Start lines whose tokens are separated by other whitespace than spaces.
// strings.Fields saw three tokens in each, a split on spaces fewer, and
// the old parser indexed the third one: a panic in whichever goroutine
// read the message (on the client side, a cascade's).
var whitespaceStartLines = []string{
	"0 0\r00",                         // the fuzzer's find: CR inside the line
	"HTTP/1.1\t200\tOK",               // TABs only
	"HTTP/1.1 200\tOK",                // TAB before the reason
	"HTTP/1.1 200\vOK",                // VT
	"HTTP/1.1 200\fOK",                // FF
	"HTTP/1.1 200\rOK",                // CR
	"POST\t/vpnsvc/vpn.cgi\tHTTP/1.1", // request line with TABs
	"POST /vpnsvc/vpn.cgi\tHTTP/1.1",
	"GET /\x0bHTTP/1.1",
	" \t ",
}

func TestReadMessageStartLineSeparators(t *testing.T) {
	for _, line := range whitespaceStartLines {
		in := line + "\r\nContent-Type: application/octet-stream\r\nContent-Length: 1\r\n\r\nx"
		if _, err := ReadMessage(bufio.NewReader(strings.NewReader(in)), 10); !errors.Is(err, ErrHTTPSyntax) {
			t.Errorf("start line %q: err = %v, want ErrHTTPSyntax", line, err)
		}
	}
	// Runs of spaces are one separator, and the reason phrase keeps its
	// inner spaces, as before.
	for in, want := range map[string][3]string{
		"HTTP/1.1  200   Not  Found \r\n\r\n": {"HTTP/1.1", "200", "Not  Found"},
		"  POST /x HTTP/1.1\r\n\r\n":          {"POST", "/x", "HTTP/1.1"},
	} {
		m, err := ReadMessage(bufio.NewReader(strings.NewReader(in)), 10)
		if err != nil || m.Start != want {
			t.Errorf("%q: %v %q, want %q", in, err, m, want)
		}
	}
}

// TestPreambleParsersRefuseOddSeparators runs the crashing start lines
// through every entry point of both roles: the server's signature and
// request readers and the client's response reader.
func TestPreambleParsersRefuseOddSeparators(t *testing.T) {
	for _, line := range whitespaceStartLines {
		in := line + "\r\nContent-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\n\x00\x00\x00\x00"
		var out bytes.Buffer
		if err := ServeSignature(bufio.NewReader(strings.NewReader(in)), &out, PageInfo{}); !errors.Is(err, ErrNotVPN) {
			t.Errorf("server, signature, %q: %v", line, err)
		}
		if _, err := ReadPackRequest(bufio.NewReader(strings.NewReader(in))); !errors.Is(err, ErrHTTPSyntax) {
			t.Errorf("server, request pack, %q: %v", line, err)
		}
		if _, err := ReadPackResponse(bufio.NewReader(strings.NewReader(in))); !errors.Is(err, ErrNotVPN) || !errors.Is(err, ErrHTTPSyntax) {
			t.Errorf("client, response pack, %q: %v", line, err)
		}
	}
}

// TestResponseBodyGrowsWithItsBytes announces the largest body the client
// accepts and sends a few bytes of it: ReadPackResponse must allocate for
// what arrived, not for what was announced, and give up at the deadline.
func TestResponseBodyGrowsWithItsBytes(t *testing.T) {
	client, server := tcpPair(t)
	head := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(maxResponsePack) + "\r\n\r\n"
	if _, err := server.Write([]byte(head + "0123456789")); err != nil {
		t.Fatal(err)
	}
	const wait = 300 * time.Millisecond
	client.SetReadDeadline(time.Now().Add(wait))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := ReadPackResponse(bufio.NewReader(client))
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if took > wait+2*time.Second {
		t.Fatalf("returned %v after the deadline", took-wait)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("allocated %d bytes for a 10-byte body announced as %d bytes", alloc, maxResponsePack)
	}

	// Beyond the cap the headers alone are refused, before any body byte.
	over := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 536870912\r\n\r\n"
	if _, err := ReadPackResponse(bufio.NewReader(strings.NewReader(over))); !errors.Is(err, ErrHTTPTooLong) {
		t.Fatalf("512 MiB response: %v, want ErrHTTPTooLong", err)
	}
}

// TestReadBodyGrowsToTheFullLength checks the incremental reader on a
// body that arrives in small pieces across several growth steps.
func TestReadBodyGrowsToTheFullLength(t *testing.T) {
	want := pattern(5*bodyStep + 123)
	got, err := readBody(io.MultiReader(bytes.NewReader(want[:7]), &trickle{b: want[7:], step: 1000}), len(want))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if _, err := readBody(bytes.NewReader(want[:100]), 200); err != io.ErrUnexpectedEOF {
		t.Fatalf("short body: %v", err)
	}
}

// trickle returns its bytes at most step at a time.
type trickle struct {
	b    []byte
	step int
}

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.step)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// A response pack over maxResponsePack is refused from its Content-Length,
// and one at the cap made of empty values (six times its size once
// decoded) is refused by the decoder's budget, allocating little more than
// its bytes: a rogue server cannot make a client or a cascade hold much.
func TestReadPackResponseBounded(t *testing.T) {
	resp := func(body []byte) string {
		return "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	}
	// No handshake answer comes near 1 MiB (see maxResponsePack).
	const legit = 1 << 20
	over := resp(make([]byte, legit+1))
	if _, err := ReadPackResponse(bufio.NewReader(strings.NewReader(over))); !errors.Is(err, ErrHTTPTooLong) {
		t.Errorf("%d-byte response: %v, want ErrHTTPTooLong", legit+1, err)
	}
	const count = (legit - 64) / 4
	body := binary.BigEndian.AppendUint32(nil, 1)
	body = binary.BigEndian.AppendUint32(body, 2)
	body = append(body, 'e')
	body = binary.BigEndian.AppendUint32(body, uint32(pack.TypeData))
	body = binary.BigEndian.AppendUint32(body, count)
	body = append(body, make([]byte, 4*count)...)
	in := resp(body)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadPackResponse(bufio.NewReader(strings.NewReader(in)))
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Errorf("%d-byte pack of empty values accepted", len(body))
	}
	// The body grows by doubling as it arrives, so up to twice its size
	// (more under the race detector); decoded, it would take six.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*legit {
		t.Errorf("a %d-byte response of empty values allocated %d bytes", len(body), alloc)
	}
}

// endlessHeaders is a response whose header lines never end (up to size
// bytes, then EOF); it counts what was read.
type endlessHeaders struct{ sent, size int }

func (e *endlessHeaders) Read(p []byte) (int, error) {
	if e.sent >= e.size {
		return 0, io.EOF
	}
	line := "X-A: " + strings.Repeat("b", 4000) + "\r\n"
	if e.sent == 0 {
		line = "HTTP/1.1 200 OK\r\n"
	}
	n := copy(p, line)
	e.sent += n
	return n, nil
}

// A peer that sends header line after header line is refused once the
// header passes maxHTTPHeaderBytes, having been read no further: a rogue
// server kept "ethervpn cmd" reading for as long as it liked.
func TestReadMessageHeaderCapped(t *testing.T) {
	in := &endlessHeaders{size: 64 << 20}
	_, err := ReadPackResponse(bufio.NewReader(in))
	if !errors.Is(err, ErrHTTPTooLong) {
		t.Errorf("endless header lines: %v, want ErrHTTPTooLong", err)
	}
	if in.sent > 2*(64<<10) {
		t.Errorf("read %d bytes of header lines, want at most about %d", in.sent, 64<<10)
	}
}
