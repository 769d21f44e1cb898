package openvpn

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"sync"
	"testing"
	"time"
)

// lossyLink carries packets from one reliable to the other on a goroutine
// (never under the sender's lock), dropping, duplicating and reordering.
type lossyLink struct {
	mu      sync.Mutex
	n       int
	ch      chan []byte
	held    []byte
	dst     *reliable
	drops   int
	stopped bool
}

func (l *lossyLink) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	close(l.ch)
}

func newLossyLink() *lossyLink { return &lossyLink{ch: make(chan []byte, 1024)} }

func (l *lossyLink) output(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.n++
	p = append([]byte(nil), p...)
	switch {
	case l.n%10 == 0: // drop
		l.drops++
	case l.n%7 == 0: // duplicate
		l.ch <- p
		l.ch <- p
	case l.n%4 == 0 && l.held == nil: // hold back, send after the next
		l.held = p
	default:
		l.ch <- p
		if l.held != nil {
			l.ch <- l.held
			l.held = nil
		}
	}
}

func (l *lossyLink) run() {
	for p := range l.ch {
		var c Control
		if err := ParseControl(p, &c); err != nil {
			panic(err)
		}
		l.dst.onPacket(&c)
	}
}

// TestReliableTLSOverLossyLink runs a TLS handshake and 20 kB each way
// over two reliable endpoints joined by a link that drops, duplicates and
// reorders: everything arrives, in order, once.
func TestReliableTLSOverLossyLink(t *testing.T) {
	ab, ba := newLossyLink(), newLossyLink()
	a := newReliable(0, 1, 2, ab.output)
	b := newReliable(0, 2, 1, ba.output)
	ab.dst, ba.dst = b, a
	go ab.run()
	go ba.run()
	defer ab.stop()
	defer ba.stop()

	dir := t.TempDir()
	cert := testCert(t, dir)
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	srv := tls.Server(&ctlConn{r: a}, &tls.Config{Certificates: []tls.Certificate{cert}})
	cli := tls.Client(&ctlConn{r: b}, &tls.Config{InsecureSkipVerify: true})

	msg := make([]byte, 20<<10)
	rand.Read(msg)
	errc := make(chan error, 2)
	go func() {
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(srv, got); err != nil {
			errc <- err
			return
		}
		if !bytes.Equal(got, msg) {
			errc <- io.ErrUnexpectedEOF
			return
		}
		_, err := srv.Write(got)
		errc <- err
	}()
	go func() {
		if _, err := cli.Write(msg); err != nil {
			errc <- err
			return
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(cli, got); err != nil {
			errc <- err
			return
		}
		if !bytes.Equal(got, msg) {
			errc <- io.ErrUnexpectedEOF
			return
		}
		errc <- nil
	}()
	for range 2 {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("transfer over the lossy link did not finish")
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ab.mu.Lock()
	defer ab.mu.Unlock()
	if ab.drops == 0 || a.retransmits == 0 || a.duplicates == 0 {
		t.Fatalf("the link did not exercise the layer: drops %d retransmits %d duplicates %d", ab.drops, a.retransmits, a.duplicates)
	}
	t.Logf("drops %d/%d, retransmits %d, duplicates %d, out of window %d", ab.drops, ab.n, a.retransmits, a.duplicates, a.outOfWindow)
}

// TestReliableWindow checks in-order delivery, duplicate drop and the
// receive window directly.
func TestReliableWindow(t *testing.T) {
	var sent [][]byte
	r := newReliable(0, 1, 2, func(p []byte) { sent = append(sent, append([]byte(nil), p...)) })
	deliver := func(id uint32, s string) {
		r.onPacket(&Control{Opcode: OpControlV1, SessionID: 2, PacketID: id, Payload: []byte(s)})
	}
	deliver(1, "b")
	deliver(0, "a")
	deliver(0, "a")              // duplicate: dropped, acked again
	deliver(2+recvWindow, "far") // beyond the window: dropped, not acked
	deliver(2, "c")
	if string(r.readBuf) != "abc" || r.recvNext != 3 || r.duplicates != 1 || r.outOfWindow != 1 {
		t.Fatalf("readBuf %q next %d dup %d oow %d", r.readBuf, r.recvNext, r.duplicates, r.outOfWindow)
	}
	acked := map[uint32]int{}
	for _, p := range sent {
		var c Control
		if err := ParseControl(p, &c); err != nil || c.Opcode != OpAckV1 || c.RemoteSessionID != 2 {
			t.Fatalf("%x: %v", p, err)
		}
		for _, a := range c.Acks {
			acked[a]++
		}
	}
	if acked[0] != 2 || acked[1] != 1 || acked[2] != 1 || acked[2+recvWindow] != 0 {
		t.Fatalf("acks %v", acked)
	}
	// Sending: an ack removes the packet from the retransmit list.
	r.send(OpControlV1, []byte("x"))
	if r.idle() {
		t.Fatal("idle with an unacked packet")
	}
	r.onPacket(&Control{Opcode: OpAckV1, SessionID: 2, Acks: []uint32{0}, RemoteSessionID: 1})
	if !r.idle() {
		t.Fatal("ack did not clear the packet")
	}
	r.close(errClosed)
}
