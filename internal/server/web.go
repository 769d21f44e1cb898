package server

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/pack"
)

// AdminRPC takes over a connection whose client asked for the binary admin
// RPC (method "admin" after the hello) after the hello. p is that request,
// random the challenge sent in the hello. It owns conn from then on, and
// calls authenticated once the administrator has logged in, before its
// answer: until then the connection counts as in the handshake, with its
// deadline. Before it waits out a wrong password's delay it calls
// delayAnswer, which frees its handshake slot; on false it closes the
// connection at once without an answer.
type AdminRPC func(conn net.Conn, r *bufio.Reader, random [20]byte, p *pack.Pack, remote netip.Addr, authenticated func(), delayAnswer func() bool)

// SetAdmin installs the administration front-ends that share the VPN
// ports: the binary RPC of vpncmd and the HTTP handler for /api and /admin.
// Call it before Run or Serve.
func (s *Server) SetAdmin(rpc AdminRPC, web http.Handler) {
	s.adminRPC = rpc
	s.web = web
}

// webIdleTimeout closes an authenticated JSON-RPC connection idle between
// requests; an unauthenticated one lives at most the handshake timeout.
const webIdleTimeout = time.Minute

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

// serveWeb hands a TLS connection to the shared HTTP server. It counts as
// in the handshake until one of its requests authenticates (SoftEther marks
// it so too: Admin.c, JsonRpcAuthed), and is closed if none has by the
// handshake deadline; authenticated connections are capped (maxWeb).
func (s *Server) serveWeb(h *handshake) {
	ln := s.webSrv.listener(s)
	// The HTTP server sets deadlines of its own on the connection, so the
	// handshake deadline is kept by a timer instead.
	h.raw.SetDeadline(time.Time{})
	wc := &webConn{Conn: h.tc, r: h.br, l: s.conns, established: h.established}
	wc.mu.Lock() // the timer may fire at once
	wc.preAuth = time.AfterFunc(time.Until(h.deadline), wc.closeIfPending)
	wc.mu.Unlock()
	if ln == nil { // the server is stopping
		wc.Close()
		return
	}
	select {
	case ln.conns <- wc:
	case <-ln.done:
		wc.Close()
	}
}

// webServer is the HTTP server of the JSON-RPC API and the web console,
// started at the first connection that asks for it. Its goroutines (Serve
// and one per connection) are counted, so that Serve can end them all.
type webServer struct {
	mu      sync.Mutex
	stopped bool
	srv     *http.Server
	ln      *chanListener
	wg      sync.WaitGroup // Add only under mu before stopped, or by a counted goroutine
}

// listener returns the listener that feeds the HTTP server, starting the
// server the first time; nil once the server has stopped.
func (w *webServer) listener(s *Server) *chanListener {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped:
		return nil
	case w.ln != nil:
		return w.ln
	}
	w.ln = &chanListener{conns: make(chan net.Conn), done: make(chan struct{})}
	w.srv = &http.Server{
		Handler: s.web, ReadHeaderTimeout: s.conns.handshake, IdleTimeout: webIdleTimeout, MaxHeaderBytes: 64 << 10,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if wc, ok := c.(*webConn); ok {
				return admin.WithAuthHook(ctx, wc.authenticated)
			}
			return ctx
		},
		// StateNew is reported by the Serve goroutine (counted) before
		// the connection's goroutine starts, and StateClosed or
		// StateHijacked by that goroutine as it ends.
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				w.wg.Add(1)
			case http.StateClosed, http.StateHijacked:
				w.wg.Done()
			}
		},
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer guard.Recover(s.log, "web server", nil)
		w.srv.Serve(w.ln)
	}()
	return w.ln
}

// stop closes the HTTP server and every connection it serves, and waits
// for its goroutines: a request being answered is cut short, as the
// sessions are, since the server is stopping.
func (w *webServer) stop() {
	w.mu.Lock()
	w.stopped = true
	srv := w.srv
	w.mu.Unlock()
	if srv != nil {
		srv.Close() // closes the listener too
	}
	w.wg.Wait()
}

// webConn is a JSON-RPC connection: it reads through the bufio.Reader that
// already holds the start of the first request, and keeps the accounting
// of serveWeb.
type webConn struct {
	net.Conn
	r           *bufio.Reader
	l           *connLimiter
	established func()

	mu      sync.Mutex
	state   webState
	preAuth *time.Timer // closes the connection unless it authenticates first
	release func()      // gives back its admin.WebSlots place once authenticated
}

type webState int

const (
	webPending webState = iota
	webAuthenticated
	webClosed
)

func (c *webConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// authenticated is the admin handler's hook (admin.WithAuthHook): a
// request of this connection has authenticated. The first time, the
// connection leaves the handshake count and takes one of the maxWeb
// places; false means there is none left.
func (c *webConn) authenticated(caller admin.Caller) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case webAuthenticated:
		return true
	case webClosed:
		return false
	}
	release, ok := c.l.webSlots.Take(caller, c.l.maxWeb)
	if !ok {
		return false
	}
	c.release = release
	c.state = webAuthenticated
	c.preAuth.Stop()
	c.established()
	return true
}

// closeIfPending ends a connection that has not authenticated in time.
func (c *webConn) closeIfPending() {
	c.mu.Lock()
	pending := c.state == webPending
	c.mu.Unlock()
	if pending {
		c.Close()
	}
}

func (c *webConn) Close() error {
	c.mu.Lock()
	if c.state == webAuthenticated {
		c.release()
	}
	c.state = webClosed
	c.preAuth.Stop()
	c.mu.Unlock()
	return c.Conn.Close()
}

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
