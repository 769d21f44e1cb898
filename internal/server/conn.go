package server

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// connTracker keeps the connections whose goroutine the server still runs
// outside a session (the handshake, the admin RPC), so that Serve can close
// them and wait for their goroutines when it stops.
type connTracker struct {
	mu      sync.Mutex
	stopped bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup // Add only under mu before stopped
}

// add registers c, whose goroutine is about to start; false when the
// server is stopping (the caller then closes c).
func (t *connTracker) add(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	if t.conns == nil {
		t.conns = map[net.Conn]struct{}{}
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	return true
}

// done forgets c when its goroutine ends (c is then closed, or belongs to
// a session or the web server).
func (t *connTracker) done(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

// stop refuses new connections, closes those still tracked (which ends
// their reads and writes) and waits for their goroutines.
func (t *connTracker) stop() {
	t.mu.Lock()
	t.stopped = true
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}

// maxNoops bounds the NOOP packs a client may send while it waits for its
// user (docs/protocol/session.md#negotiation-timeouts).
const maxNoops = 30

// handshake is the state of one TCP connection during the preamble.
type handshake struct {
	s      *Server
	raw    net.Conn
	rc     *wire.RecordConn
	tc     *tls.Conn
	br     *bufio.Reader
	remote netip.Addr
	random [20]byte
	log    *slog.Logger
	// deadline ends the unauthenticated phase (connLimiter.handshake).
	deadline time.Time
}

// serveConn runs the preamble on one accepted TCP connection and hands it to
// a session, the admin RPC or the web server, or closes it. The connection
// counts as in the handshake (see connLimiter) until it authenticates. A
// panic here would take every session down with the process, so it is
// caught, logged and only this connection is closed.
func (s *Server) serveConn(raw net.Conn) {
	defer guard.Recover(s.log.With("remote", raw.RemoteAddr().String()), "connection", func(error) { raw.Close() })
	h := &handshake{s: s, raw: raw, log: s.log.With("remote", raw.RemoteAddr().String())}
	if ap, err := netip.ParseAddrPort(raw.RemoteAddr().String()); err == nil {
		h.remote = ap.Addr().Unmap()
	}
	if !h.run() {
		raw.Close()
	}
}

// run returns true when the connection now belongs to a session, the admin
// RPC or the web server.
func (h *handshake) run() bool {
	h.deadline = time.Now().Add(h.s.conns.handshake)
	h.raw.SetDeadline(h.deadline)
	if h.s.openVPNEnabled() && h.peekOpenVPN() {
		h.s.serveOpenVPNTCP(h)
		return true
	}
	h.rc = wire.NewRecordConn(h.raw)
	h.tc = tls.Server(h.rc, h.s.currentTLS())
	if err := h.tc.Handshake(); err != nil {
		h.log.Debug("TLS handshake failed", "err", err)
		return false
	}
	// Minimal (bufio's smallest): the preamble's few lines are read in
	// pieces and bodies around the buffer, and in the data phase
	// wire.BlockReader reads around it into buffers it holds only while
	// data flows. A larger one would stay for the connection's life and
	// make every batch's first bytes pass through it.
	h.br = bufio.NewReaderSize(h.tc, 16)
	if h.s.web != nil && isWebRequest(h.br) {
		h.s.serveWeb(h)
		return true
	}
	page := wire.PageInfo{Host: "0.0.0.0"}
	if ap, err := netip.ParseAddrPort(h.raw.LocalAddr().String()); err == nil {
		page = wire.PageInfo{Host: ap.Addr().Unmap().String(), Port: int(ap.Port())}
	}
	if err := wire.ServeSignature(h.br, h.tc, page); err != nil {
		h.log.Info("connection is not a VPN client; closed", "err", err)
		return false
	}
	rand.Read(h.random[:])
	hello := &wire.Hello{Product: productName, Version: productVersion, Build: productBuild, Random: h.random}
	if err := wire.WritePack(h.tc, hello.Pack()); err != nil {
		return false
	}
	for noops := 0; ; noops++ {
		p, err := wire.ReadPackRequest(h.br)
		if err != nil {
			h.log.Info("bad request pack; closed", "err", err)
			h.fail(vpnerr.Disconnected)
			return false
		}
		// A client waiting for its user (certificate dialog, PIN) sends
		// NOOP packs; answer each and keep waiting for the real request.
		if p.Int("noop") != 0 && p.Str("method") == "" && noops < maxNoops {
			r := pack.New()
			r.AddInt("error", 0)
			r.AddInt("noop", 1)
			if wire.WritePack(h.tc, r) != nil {
				return false
			}
			continue
		}
		switch method := p.Str("method"); method {
		case "login":
			return h.login(p)
		case "additional_connect":
			return h.additionalConnect(p)
		case "enum_hub":
			h.enumHubs()
			return false
		case "admin":
			if h.s.adminRPC == nil {
				h.fail(vpnerr.NotSupported)
				return false
			}
			// The handshake deadline and accounting hold until the
			// administrator has authenticated.
			h.s.adminRPC(h.tc, h.br, h.random, p, h.remote, func() {
				h.raw.SetDeadline(time.Time{})
				h.established()
			}, h.delayAnswer)
			return true
		case "password":
			h.fail(vpnerr.NotSupported)
			return false
		default:
			h.log.Info("unsupported request method; closed", "method", method)
			h.fail(vpnerr.ProtocolError)
			return false
		}
	}
}

// established takes the connection out of the unestablished count once it
// has authenticated. It is called before the success answer is sent, so
// that a client that acts on the answer at once never finds its own
// connection still counted.
func (h *handshake) established() {
	if lc, ok := h.raw.(*limitedConn); ok {
		lc.handshakeDone()
	}
}

// delayAnswer takes the connection out of the handshake count before it
// waits out a wrong password's delay; false means it must close instead
// (see connLimiter.delayAnswer).
func (h *handshake) delayAnswer() bool {
	if lc, ok := h.raw.(*limitedConn); ok {
		return lc.delayAnswer()
	}
	return true
}

// fail sends an error pack; the caller then closes the connection.
func (h *handshake) fail(code vpnerr.Error) {
	wire.WritePack(h.tc, wire.ErrorPack(code))
}

// failSlowly sends an error pack after delay (a wrong password, see
// failLimiter). Meanwhile the connection gives its handshake slot back, so
// that wrong passwords never keep a correct one from the same address out,
// and counts among its source's waiting answers; over their bound it is
// closed at once without an answer. It gets a fresh deadline for the
// answer.
func (h *handshake) failSlowly(code vpnerr.Error, delay time.Duration) {
	if delay > 0 {
		if !h.delayAnswer() {
			h.log.Info("too many wrong-password answers waiting for this address; closed without an answer")
			return
		}
		h.s.pause(delay)
		h.deadline = time.Now().Add(h.s.conns.handshake)
		h.raw.SetDeadline(h.deadline)
	}
	h.fail(code)
}

func (h *handshake) enumHubs() {
	p := pack.New()
	var names []string
	for _, x := range h.s.Hubs() {
		if !x.cfg.NoEnum {
			names = append(names, x.Name())
		}
	}
	p.AddInt("NumHub", uint32(len(names)))
	if len(names) > 0 {
		p.AddStrs("HubName", names)
	}
	wire.WritePack(h.tc, p)
}

// dataStream switches the connection to the data phase: through TLS, or
// in the clear on the raw socket when the session turned encryption off.
func (h *handshake) dataStream(encrypt bool, dir wire.Direction) (session.Stream, error) {
	h.raw.SetDeadline(time.Time{})
	if encrypt {
		h.rc.BufferReads()
		h.rc.BufferWrites()
		st := session.Stream{R: h.br, W: h.tc, Dir: dir, Flush: h.rc.Flush}
		if h.rc.CanTryFlush() {
			st.TryFlush = h.rc.TryFlush
		}
		return st, nil
	}
	if h.br.Buffered() > 0 || !h.rc.AtRecordBoundary() {
		return session.Stream{}, errors.New("client sent data before the switch to plaintext")
	}
	h.rc.SetExact(false)
	// Minimal: wire.BlockReader reads around it into pooled buffers.
	return session.Stream{R: bufio.NewReaderSize(h.rc, 16), W: h.raw, Dir: dir}, nil
}

// additionalConnect attaches this connection to an existing session.
func (h *handshake) additionalConnect(p *pack.Pack) bool {
	req, err := wire.ParseAdditionalConnect(p)
	if err != nil {
		h.fail(vpnerr.ProtocolError)
		return false
	}
	h.s.mu.Lock()
	sess := h.s.sessions[req.SessionKey]
	h.s.mu.Unlock()
	if sess == nil {
		h.log.Info("additional connection for an unknown or ended session; refused")
		h.fail(vpnerr.SessionTimeout)
		return false
	}
	encrypt := sess.encrypt
	err = sess.AddConn(h.raw, func(dir wire.Direction) (session.Stream, error) {
		h.established()
		if err := wire.WritePack(h.tc, wire.AttachedPack(dir)); err != nil {
			return session.Stream{}, err
		}
		return h.dataStream(encrypt, dir)
	})
	switch {
	case errors.Is(err, vpnerr.TooManyConnection):
		h.log.Info("additional connection over the session's limit; refused", "session", sess.Name)
		h.fail(vpnerr.TooManyConnection)
		return false
	case errors.Is(err, session.ErrClosed):
		h.fail(vpnerr.SessionTimeout)
		return false
	case err != nil:
		h.log.Info("additional connection failed", "session", sess.Name, "err", err)
		return false
	}
	h.log.Debug("additional connection attached", "session", sess.Name, "connections", sess.NumConns())
	return true
}

func (h *handshake) connectionName() string {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.counter++
	return fmt.Sprintf("CID-%d", h.s.counter)
}
