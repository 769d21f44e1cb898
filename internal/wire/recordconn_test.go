package wire

import (
	"bufio"
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

// signalReader hands out its data, then reports each further Read on
// waiting and blocks it until the test ends.
type signalReader struct {
	data    []byte
	waiting chan struct{}
	done    chan struct{}
}

func (r *signalReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	r.waiting <- struct{}{}
	<-r.done
	return 0, io.EOF
}

// TestBuffersGoBackWhenIdle checks that the data path holds its pooled
// buffers only while data flows: the block reader while it waits for its
// peer, the block writer and the socket's write buffer after a flush, the
// socket's read buffer once what it read has been passed on.
func TestBuffersGoBackWhenIdle(t *testing.T) {
	var f [][]byte
	for i := 0; i < 100; i++ {
		f = append(f, frame(1500, byte(i)))
	}
	src := &signalReader{data: blocks(f, nil), waiting: make(chan struct{}), done: make(chan struct{})}
	defer close(src.done)
	br := NewBlockReader(bufio.NewReaderSize(src, 16), false)
	got := 0
	for got < 100 {
		fs, err := br.Next()
		if err != nil {
			t.Fatal(err)
		}
		got += len(fs)
		if br.list == nil || br.buf == nil {
			t.Fatal("buffers given back while frames in them are still handed out")
		}
	}
	go br.Next()
	<-src.waiting // the reader now waits for its peer
	if br.buf != nil || br.list != nil || br.arena != nil {
		t.Fatalf("block reader waits holding input %v, frame list %v, arena %v", br.buf != nil, br.list != nil, br.arena != nil)
	}

	a, b := tcpPair(t)
	rc := NewRecordConn(a)
	rc.SetExact(false)
	rc.BufferWrites()
	bw := NewBlockWriter(rc, false)
	bw.Add(frame(1500, 1))
	if bw.buf == nil {
		t.Fatal("no buffer while a frame is pending")
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if bw.buf != nil {
		t.Fatal("block writer holds its buffer after Flush")
	}
	if rc.wbuf == nil {
		t.Fatal("the DATA_FRAME should wait in the socket's buffer until Flush")
	}
	if err := rc.Flush(); err != nil {
		t.Fatal(err)
	}
	if rc.wbuf != nil {
		t.Fatal("socket write buffer held after Flush")
	}
	b.Write(pattern(1000))
	p := make([]byte, 600)
	if _, err := io.ReadFull(rc, p); err != nil {
		t.Fatal(err)
	}
	if rc.rbuf == nil {
		t.Fatal("the 400 bytes not yet passed on should still be buffered")
	}
	if _, err := io.ReadFull(rc, p[:400]); err != nil {
		t.Fatal(err)
	}
	if rc.rbuf != nil {
		t.Fatal("socket read buffer held after everything read was passed on")
	}
}
