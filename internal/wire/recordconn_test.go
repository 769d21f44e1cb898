package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// pattern is n bytes that show any loss, duplication or reordering.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestTryFlushStopsAtAFullSocketAndKeepsOrder fills a socket whose peer does
// not read: TryFlush must return at once with the rest still buffered, and
// Flush must then deliver everything once, in order.
func TestTryFlushStopsAtAFullSocketAndKeepsOrder(t *testing.T) {
	a, b := tcpPair(t)
	rc := NewRecordConn(a)
	rc.SetExact(false)
	rc.BufferWrites()
	if !rc.CanTryFlush() {
		t.Fatal("a TCP connection should allow non-blocking flushes")
	}
	want := pattern(24 << 20) // far more than loopback socket buffers hold
	var sent int
	full := false
	for sent < len(want) && !full {
		chunk := want[sent:min(sent+256<<10, len(want))]
		if _, err := rc.Write(chunk); err != nil {
			t.Fatal(err)
		}
		sent += len(chunk)
		start := time.Now()
		done, err := rc.TryFlush()
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > time.Second {
			t.Fatal("TryFlush waited")
		}
		full = !done
	}
	if !full {
		t.Fatal("the socket never filled up; TryFlush never had to stop")
	}
	got := make(chan []byte, 1)
	go func() {
		buf, _ := io.ReadAll(io.LimitReader(b, int64(len(want))))
		got <- buf
	}()
	for sent < len(want) {
		chunk := want[sent:min(sent+256<<10, len(want))]
		if _, err := rc.Write(chunk); err != nil {
			t.Fatal(err)
		}
		sent += len(chunk)
	}
	if err := rc.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf := <-got; !bytes.Equal(buf, want) {
		t.Fatalf("peer got %d bytes, not the %d written in order", len(buf), len(want))
	}
}

// TestRawReadsHonourDeadlinesAndEOF checks the data-phase reads: data,
// a read deadline, and the peer's close.
func TestRawReadsHonourDeadlinesAndEOF(t *testing.T) {
	a, b := tcpPair(t)
	rc := NewRecordConn(a)
	rc.SetExact(false)
	rc.BufferWrites()
	msg := pattern(100000)
	go b.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(rc, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("read %v, data equal %v", err, bytes.Equal(got, msg))
	}
	rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := rc.Read(got); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a deadline error", err)
	}
	rc.SetReadDeadline(time.Time{})
	b.Close()
	if _, err := rc.Read(got); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want EOF", err)
	}
}

// TestTryFlushWithoutDescriptor: on a connection without a socket the
// caller learns that it must use Flush.
func TestTryFlushWithoutDescriptor(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	rc := NewRecordConn(a)
	rc.BufferWrites()
	if rc.CanTryFlush() {
		t.Fatal("net.Pipe has no descriptor")
	}
	rc.Write([]byte("x"))
	if done, err := rc.TryFlush(); done || err == nil {
		t.Fatalf("TryFlush on a pipe: %v %v, want an error", done, err)
	}
}
