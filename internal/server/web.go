package server

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// AdminRPC takes over a connection whose client asked for the binary admin
// RPC (method "admin", as vpncmd does) after the hello. p is that request,
// random the challenge sent in the hello. It owns conn from then on.
type AdminRPC func(conn net.Conn, r *bufio.Reader, random [20]byte, p *pack.Pack, remote netip.Addr)

// SetAdmin installs the administration front-ends that share the VPN
// ports: the binary RPC of vpncmd and the HTTP handler for /api and /admin.
// Call it before Run or Serve.
func (s *Server) SetAdmin(rpc AdminRPC, web http.Handler) {
	s.adminRPC = rpc
	s.web = web
}

// isWebRequest peeks at the first request line: the JSON-RPC API and the
// web console live under /api and /admin on the VPN ports, as on
// SoftEther. Every HTTP request line is at least 16 bytes long.
func isWebRequest(br *bufio.Reader) bool {
	b, err := br.Peek(16)
	if err != nil {
		return false
	}
	_, target, ok := bytes.Cut(b, []byte{' '})
	return ok && (bytes.HasPrefix(target, []byte("/api")) || bytes.HasPrefix(target, []byte("/admin")))
}

// serveWeb hands a TLS connection to the shared HTTP server.
func (s *Server) serveWeb(c net.Conn, br *bufio.Reader) {
	s.webOnce.Do(func() {
		s.webLn = &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
		srv := &http.Server{Handler: s.web, ReadHeaderTimeout: handshakeTimeout, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
		go srv.Serve(s.webLn)
	})
	c.SetDeadline(time.Time{})
	select {
	case s.webLn.conns <- &bufferedConn{Conn: c, r: br}:
	case <-s.webLn.done:
		c.Close()
	}
}

// bufferedConn reads through the bufio.Reader that already holds the
// start of the first request.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener is a net.Listener fed with already-accepted connections.
type chanListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }
