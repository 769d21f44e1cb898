package server

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
)

// closedSoon reports whether the server closes c without a word.
func closedSoon(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) // generous: a loaded machine may be slow to accept
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF
}

func TestConnectionFloodIsRefused(t *testing.T) {
	_, addr := testServer(t, func(s *Server) { s.conns = newConnLimiter(4, 3) })
	var idle []net.Conn
	for i := 0; i < 3; i++ { // idle TCP connections: unestablished
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if !closedSoon(c) {
		t.Fatal("a 4th connection still in the handshake was accepted over the limit of 3")
	}
	// Freeing one lets a real login through; once established it no longer
	// counts as unestablished, but still counts for its address.
	idle[0].Close()
	time.Sleep(100 * time.Millisecond)
	o := client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "alicepw"}
	_, first, err := client.Login(context.Background(), &o)
	if err != nil {
		t.Fatalf("login after a slot was freed: %v", err)
	}
	defer first.Raw.Close()
	// 2 idle + 1 session connection = 3 of 4 per address: one more fits,
	// the next does not.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	time.Sleep(100 * time.Millisecond)
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if !closedSoon(over) {
		t.Fatal("a 5th connection from one address was accepted over the limit of 4")
	}
}
