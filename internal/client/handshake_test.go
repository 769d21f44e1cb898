package client_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// fakeServer accepts TLS connections on loopback, reads the client's
// signature and answers with reply, then holds the connection open until
// the test ends.
func fakeServer(t *testing.T, reply string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := wire.ReadMessage(bufio.NewReader(c), 4096); err != nil {
					return
				}
				c.Write([]byte(reply))
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

// TestLoginRefusesOddStatusLines answers the signature with status lines
// whose tokens are separated by TAB, CR, VT or FF: the client (which a
// cascade runs inside the server process) must fail the login with an
// error. Before the fix the response parser panicked and took the whole
// process down.
func TestLoginRefusesOddStatusLines(t *testing.T) {
	for _, status := range []string{"HTTP/1.1\t200\tOK", "HTTP/1.1 200\tOK", "HTTP/1.1 200\rOK", "HTTP/1.1 200\vOK", "HTTP/1.1 200\fOK", "0 0\r00"} {
		addr := fakeServer(t, status+"\r\nContent-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\n\x00\x00\x00\x00")
		o := &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "x", Timeout: 5 * time.Second}
		_, _, err := client.Login(context.Background(), o)
		if !errors.Is(err, wire.ErrNotVPN) || !errors.Is(err, wire.ErrHTTPSyntax) {
			t.Errorf("status line %q: %v, want a malformed-HTTP error", status, err)
		}
	}
}

// TestLoginDoesNotAllocateAnnouncedBody answers the signature with a
// response that announces the largest body the client accepts and sends
// ten bytes of it. The client must neither allocate the announced size
// nor wait longer than its handshake timeout.
func TestLoginDoesNotAllocateAnnouncedBody(t *testing.T) {
	for _, length := range []string{"1048576", "536870912"} {
		addr := fakeServer(t, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "+length+"\r\n\r\n0123456789")
		const step = 500 * time.Millisecond
		o := &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "x", Timeout: step}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, _, err := client.Login(context.Background(), o)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("Content-Length %s: login succeeded", length)
		}
		var ne net.Error
		if length == "1048576" && (!errors.As(err, &ne) || !ne.Timeout()) {
			t.Errorf("Content-Length %s: %v, want a timeout", length, err)
		}
		if took > step+2*time.Second {
			t.Errorf("Content-Length %s: Login took %v with a %v timeout", length, took, step)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("Content-Length %s with 10 bytes sent: %d bytes allocated", length, alloc)
		}
		t.Logf("Content-Length %s: %v after %v, %d KiB allocated", length, err, took.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>10)
	}
}
