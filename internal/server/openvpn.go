package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/native"
	"github.com/ethervpn/ethervpn/internal/openvpn"
	"github.com/ethervpn/ethervpn/internal/pack"
)

// The OpenVPN service: each OpenVPN client is an openvpn.Session whose
// login is a native session of a hub (LoginNative). A tun client gets a
// layer-3 adapter on its port that leases an address from the hub's DHCP
// server (SecureNAT or a real one) and is pushed that lease; a tap client's
// Ethernet frames go to and from the port as they are, in bridge mode
// (SoftEther Proto_OpenVPN.c, OvsBeginIPCAsyncConnectionIfEmpty and
// OvsProcessData: OPENVPN_L3 with an IPC in L3 mode, OPENVPN_L2 in L2
// mode).

// UDP limits. A client that has not authenticated yet costs a TLS
// handshake: bound how many of those one source and all sources may have
// at once (beyond, hard resets are dropped and counted).
const (
	ovpnHalfOpenPerSource = 8
	ovpnHalfOpenTotal     = 256
	// ovpnLoginTimeout bounds the DHCP lease a tun client waits for.
	ovpnLoginTimeout = 15 * time.Second
)

// ovpnStats counts what the OpenVPN service dropped (and the clients that
// moved).
type ovpnStats struct {
	// HalfOpenDropped: hard resets refused by the half-open limits.
	HalfOpenDropped atomic.Uint64
	// Unknown: packets from a source without a session that do not open
	// one.
	Unknown atomic.Uint64
	// Malformed: datagrams truncated by the kernel or from an address of
	// an unknown family.
	Malformed atomic.Uint64
	// Roamed: clients moved to a new address (UDP); RoamRefused: data
	// packets from a new address naming a session under whose keys they
	// do not decrypt.
	Roamed, RoamRefused atomic.Uint64
	// Idle: sessions ended because the client went silent.
	Idle atomic.Uint64
	// SendDropped: packets to clients the kernel refused.
	SendDropped atomic.Uint64
	// Packets of a known session dropped by its protocol core: data
	// packets that do not authenticate (a wrong key, forged, truncated),
	// replays, data for a key id the session lacks, control packets that
	// do not parse or fit the session.
	BadData, Replayed, NoKey, BadControl atomic.Uint64
	// BadTCP: OpenVPN TCP connections closed for a bad frame length or
	// ended inside a frame.
	BadTCP atomic.Uint64
	// StormHeld: data packets of UDP clients the hub holds back for their
	// floods (hub.Port.StormHeld), dropped before decryption.
	StormHeld atomic.Uint64

	// logMu guards the drop log's rate limit.
	logMu   sync.Mutex
	logNext time.Time
	logHeld int // drops not logged since the last line

	report sync.Once // starts ovpnReport
}

// ovpnCounter is one counter of ovpnStats by the name it is reported
// under (slog key and GetServerStatus field).
type ovpnCounter struct {
	name string
	v    *atomic.Uint64
}

// counters lists the counters in report order.
func (st *ovpnStats) counters() []ovpnCounter {
	return []ovpnCounter{
		{"OpenVpnHalfOpenDropped", &st.HalfOpenDropped}, {"OpenVpnUnknownSource", &st.Unknown},
		{"OpenVpnMalformed", &st.Malformed}, {"OpenVpnBadData", &st.BadData}, {"OpenVpnReplayed", &st.Replayed},
		{"OpenVpnNoKey", &st.NoKey}, {"OpenVpnBadControl", &st.BadControl}, {"OpenVpnBadTcp", &st.BadTCP},
		{"OpenVpnRoamed", &st.Roamed}, {"OpenVpnRoamRefused", &st.RoamRefused}, {"OpenVpnIdle", &st.Idle},
		{"OpenVpnSendDropped", &st.SendDropped}, {"OpenVpnStormHeld", &st.StormHeld},
	}
}

// addTo adds the counters to a GetServerStatus answer (fields SoftEther
// does not have: vpncmd ignores them, JSON-RPC shows them).
func (st *ovpnStats) addTo(p *pack.Pack) {
	for _, c := range st.counters() {
		p.AddInt64(c.name, c.v.Load())
	}
}

// ovpnReportEvery is how often the counters are logged when they changed.
const ovpnReportEvery = time.Minute

// startOVPNReport starts the counters' log (once per server).
func (s *Server) startOVPNReport() {
	s.ovpn.report.Do(func() { go s.ovpnReport(ovpnReportEvery) })
}

// ovpnReport logs the OpenVPN service's counters every interval in which
// one changed, until the server's life ends.
func (s *Server) ovpnReport(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	cs := s.ovpn.counters()
	last := make([]uint64, len(cs))
	attrs := make([]any, 0, 2*len(cs))
	for {
		select {
		case <-s.life.Done():
			return
		case <-t.C:
		}
		changed := false
		attrs = attrs[:0]
		for i, c := range cs {
			v := c.v.Load()
			changed = changed || v != last[i]
			last[i] = v
			attrs = append(attrs, c.name, v)
		}
		if changed {
			s.log.Info("OpenVPN counters (dropped packets and moves since the start)", attrs...)
		}
	}
}

// ovpnCount counts a packet a session's protocol core refused, by why
// (err from HandlePacket), and logs it (rate-limited).
func (s *Server) ovpnCount(err error, pkt []byte, from string) {
	var why string
	var op byte
	if len(pkt) > 0 {
		op, _ = openvpn.Opcode(pkt[0])
	}
	switch {
	case errors.Is(err, openvpn.ErrReplay):
		s.ovpn.Replayed.Add(1)
		why = "a replayed data packet"
	case errors.Is(err, openvpn.ErrNoKey):
		s.ovpn.NoKey.Add(1)
		why = "a data packet for a key the session does not have"
	case op == openvpn.OpDataV1 || op == openvpn.OpDataV2:
		s.ovpn.BadData.Add(1)
		why = "a data packet that does not authenticate (wrong key, forged or truncated)"
	default:
		s.ovpn.BadControl.Add(1)
		why = "a control packet that does not parse or fit its session"
	}
	s.ovpnDropLog(why, from)
}

// ovpnDropLogEvery is the least time between two drop log lines: a flood
// of bad datagrams costs one line per interval, with the count held back.
const ovpnDropLogEvery = 10 * time.Second

// ovpnDropLog logs one dropped datagram and why, at most once per
// ovpnDropLogEvery (the counters in ovpnStats count every one).
func (s *Server) ovpnDropLog(why, from string) {
	st := &s.ovpn
	now := time.Now()
	st.logMu.Lock()
	if now.Before(st.logNext) {
		st.logHeld++
		st.logMu.Unlock()
		return
	}
	held := st.logHeld
	st.logHeld, st.logNext = 0, now.Add(ovpnDropLogEvery)
	st.logMu.Unlock()
	s.log.Info("OpenVPN: dropped "+why, "from", from, "dropped_unlogged_before", held)
}

// ovpnClient is one OpenVPN client: its protocol session and, once it has
// logged in, its hub session (and adapter, for tun).
type ovpnClient struct {
	s      *Server
	sess   *openvpn.Session
	remote net.Addr
	// lastSeen is when the client last sent a packet (unix nanoseconds).
	lastSeen atomic.Int64
	// authed is set once the hub session is up (no longer half-open).
	authed atomic.Bool
	// onAuth and onEnd tell the transport (UDP demultiplexer, TCP
	// connection) about the login and the end; either may be nil.
	onAuth, onEnd func(c *ovpnClient)

	// ns and ad are set by the login and read on the data path.
	ns atomic.Pointer[NativeSession]
	ad atomic.Pointer[native.Adapter]

	mu     sync.Mutex
	closed bool
	push   *openvpn.PushOptions // kept for renegotiations
	done   chan struct{}        // closed when the client ends
	macID  uint32               // taken from Server.ovpnMACs for tun

	// slot passes one packet or frame as a batch without allocating;
	// HandlePacket's caller serialises OnData, so one slot is enough.
	slot [1][]byte

	// UDP only. to is the client's current address (it changes when the
	// client roams); tx sends the client's data packets in batches.
	to atomic.Pointer[netip.AddrPort]
	tx *udpSender
	// batchIn makes onData collect a read batch's packets in pend, which
	// the UDP read loop hands on with flushIn after the batch; touched
	// marks the client as holding some. The read loop owns all three.
	batchIn bool
	pend    [][]byte
	touched bool
}

// addr is a UDP client's current address.
func (c *ovpnClient) addr() netip.AddrPort {
	if p := c.to.Load(); p != nil {
		return *p
	}
	return netip.AddrPort{}
}

// newOpenVPNClient makes the session of one client; output sends one
// packet to it (framed for TCP) and must not block for long.
func (s *Server) newOpenVPNClient(remote net.Addr, tcp bool, peerID int, output func([]byte)) *ovpnClient {
	c := &ovpnClient{s: s, remote: remote, done: make(chan struct{})}
	c.lastSeen.Store(time.Now().UnixNano())
	opts := s.ctl.Current().Proto.OpenVPN
	cfg := &openvpn.Config{
		TLS:          s.currentTLS(),
		TCP:          tcp,
		Authenticate: c.authenticate,
		OnData:       c.onData,
		OnClose:      func(_ *openvpn.Session, err error) { c.close(err) },
		Logf:         func(format string, args ...any) { s.log.Debug(fmt.Sprintf(format, args...), "remote", remote.String()) },
	}
	if opts.Timeout > 0 { // else the protocol's own handshake timeout
		cfg.HandshakeTimeout = ovpnTimeout(opts)
	}
	c.sess = openvpn.NewSession(cfg, peerID, output)
	return c
}

// handle feeds one packet from the client to its session; a packet the
// session refuses is counted (it does not count as a sign of life).
func (c *ovpnClient) handle(pkt []byte) error {
	if err := c.sess.HandlePacket(pkt); err != nil {
		if !openvpn.IsNewSession(pkt) { // else a restart, which the caller handles
			c.s.ovpnCount(err, pkt, c.remote.String())
		}
		return err
	}
	c.lastSeen.Store(time.Now().UnixNano())
	return nil
}

// stormHeld reports whether pkt is a data packet of a client whose hub
// port owes a storm pause: the UDP read loop, shared by every client,
// cannot wait it out as an SSL-VPN session's reader does, so it drops the
// packet before decrypting it (UDP has no flow control; the client's own
// TCP streams slow down on the loss).
func (c *ovpnClient) stormHeld(pkt []byte) bool {
	ns := c.ns.Load()
	if ns == nil || ns.Port == nil || len(pkt) == 0 {
		return false
	}
	if op, _ := openvpn.Opcode(pkt[0]); openvpn.IsControl(op) {
		return false
	}
	return ns.Port.StormHeld()
}

// authenticate logs the client in to its hub (on the session's control
// goroutine; it may block while the adapter leases an address).
func (c *ovpnClient) authenticate(r *openvpn.AuthRequest) (*openvpn.PushOptions, error) {
	c.mu.Lock()
	push := c.push
	c.mu.Unlock()
	if r.Renegotiation && push != nil {
		// The hub session stays; the password was checked at login.
		return push, nil
	}
	tap := r.DevType == "tap"
	proto := "OPENVPN_L3"
	if tap {
		proto = "OPENVPN_L2"
	}
	ns, err := c.s.LoginNative(NativeLogin{Protocol: proto, Username: r.Username, Password: r.Password, Bridge: tap, Remote: c.remote})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		ns.Close(errors.New("the OpenVPN client left during its login"))
		return nil, errors.New("closed")
	}
	c.ns.Store(ns)
	c.mu.Unlock()
	push = &openvpn.PushOptions{}
	if tap {
		go c.pumpFrames(ns)
	} else {
		id := c.s.ovpnMACs.Take()
		c.mu.Lock()
		c.macID = id
		c.mu.Unlock()
		// The hub's options for its native clients' DHCP (SoftEther IPC.c:
		// DhcpDiscoverTimeoutMs, UseHubNameAsDhcpUserClassOption).
		hubOpts := c.s.hubConfig(ns.Hub).Options
		userClass := ""
		if hubOpts.UseHubNameAsDhcpUserClassOption {
			userClass = ns.Hub.Name()
		}
		ctx, cancel := context.WithTimeout(c.s.life, ovpnLoginTimeout)
		ad, lease, err := native.Open(ctx, ns.Port, native.Config{
			MAC:      native.VirtualMAC(native.MachineName(), ns.Hub.Name(), id),
			Hostname: ns.User,
			Deliver:  c.deliver,
			// UDP: deliver seals and sends without waiting, so the
			// goroutine that switched the frames may run it.
			DeliverInline:   c.tx != nil,
			UserClass:       userClass,
			DiscoverTimeout: time.Duration(hubOpts.DhcpDiscoverTimeoutMs) * time.Millisecond,
		})
		cancel()
		if err != nil {
			c.s.log.Info("an OpenVPN (tun) client got no address from the hub's DHCP server", "session", ns.Name, "err", err)
			return nil, err // the session's close ends ns
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			ad.Close()
			return nil, errors.New("closed")
		}
		c.ad.Store(ad)
		c.mu.Unlock()
		push.IP = lease.Addr.Addr()
		push.Netmask = maskOf(lease.Addr.Bits())
		push.Gateway = lease.Gateway
		push.DNS = lease.DNS
		push.Domain = lease.Domain
	}
	if opts := c.s.ctl.Current().Proto.OpenVPN; opts.PingSendInterval > 0 {
		// The client pings as often as the server does and restarts after
		// the timeout (SoftEther Proto_OpenVPN.c, OvsProcessRecvPacket
		// pushes "ping" and "ping-restart").
		push.Ping = max(1, int(opts.PingSendInterval/1000))
		push.PingRestart = max(push.Ping*2, int(opts.Timeout/1000))
		go c.pinger(time.Duration(opts.PingSendInterval) * time.Millisecond)
	}
	c.mu.Lock()
	c.push = push
	c.mu.Unlock()
	go c.watch(ns)
	c.authed.Store(true)
	if c.onAuth != nil {
		c.onAuth(c)
	}
	return push, nil
}

// maskOf is the IPv4 netmask of a prefix length.
func maskOf(bits int) netip.Addr {
	m := ^uint32(0) << (32 - bits)
	if bits <= 0 {
		m = 0
	}
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
}

// onData hands a packet from the client to the hub: an IPv4 packet to the
// adapter (tun), an Ethernet frame to the port (tap).
func (c *ovpnClient) onData(_ *openvpn.Session, pkt []byte) {
	if c.batchIn {
		if c.pend == nil {
			c.pend = make([][]byte, 0, udpBatchLen)
		}
		c.pend = append(c.pend, pkt)
		return
	}
	c.slot[0] = pkt
	c.input(c.slot[:])
	c.slot[0] = nil
}

// input hands packets from the client to its adapter (tun) or port (tap).
func (c *ovpnClient) input(pkts [][]byte) {
	if ad := c.ad.Load(); ad != nil {
		ad.Send(pkts)
	} else if ns := c.ns.Load(); ns != nil && ns.Port != nil {
		ns.Port.Input(pkts)
	}
}

// flushIn hands on the packets onData collected (UDP read loop).
func (c *ovpnClient) flushIn() {
	if len(c.pend) == 0 {
		return
	}
	c.input(c.pend)
	clear(c.pend)
	c.pend = c.pend[:0]
}

// deliver sends the adapter's packets for the client: sealed into the
// UDP sender's batch and sent with one system call, or one by one (TCP).
// The adapter makes one call at a time, on its goroutine or (UDP,
// DeliverInline) on one that switched frames to its port.
func (c *ovpnClient) deliver(pkts [][]byte) {
	if c.tx == nil {
		for _, p := range pkts {
			c.sess.SendData(p)
		}
		return
	}
	for _, p := range pkts {
		c.queueOut(p)
	}
	c.flushOut()
}

// queueOut seals p into the UDP sender's batch, sending the batch first
// when it is full.
func (c *ovpnClient) queueOut(p []byte) {
	buf := c.tx.slot()
	if buf == nil {
		c.flushOut()
		buf = c.tx.slot()
	}
	if out, err := c.sess.SealData(buf, p); err == nil {
		c.tx.add(out)
	}
}

// flushOut sends the UDP sender's batch.
func (c *ovpnClient) flushOut() {
	if n := c.tx.flush(c.addr()); n > 0 {
		c.s.ovpn.SendDropped.Add(uint64(n))
	}
}

// pumpFrames sends the hub's frames for a tap client until its port goes.
func (c *ovpnClient) pumpFrames(ns *NativeSession) {
	defer guard.Recover(c.s.log, "openvpn tap", nil)
	send := func(f []byte) { c.sess.SendData(f) }
	if c.tx != nil {
		send = c.queueOut
	}
	for {
		select {
		case <-ns.Port.Ready():
			ns.Port.DrainEach(0, send)
			if c.tx != nil {
				c.flushOut()
			}
		case <-ns.Port.Done():
			return
		case <-c.done:
			return
		}
	}
}

// pinger sends OpenVPN's keepalive ping while the client lasts.
func (c *ovpnClient) pinger(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.sess.SendPing()
		case <-c.done:
			return
		}
	}
}

// watch ends the client when the hub ends its session: RESTART makes the
// real client reconnect, as SoftEther does (Proto_OpenVPN.c,
// OvsSendRestart... when the IPC is disconnected).
func (c *ovpnClient) watch(ns *NativeSession) {
	select {
	case <-ns.Ended:
		c.sess.SendControl("RESTART")
		c.sess.Close()
	case <-c.done:
	}
}

// close ends everything the client holds (once; OnClose).
func (c *ovpnClient) close(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	id := c.macID
	c.mu.Unlock()
	if ad := c.ad.Load(); ad != nil {
		ad.Close()
	}
	if ns := c.ns.Load(); ns != nil {
		if err == nil {
			err = errors.New("the OpenVPN client left")
		}
		ns.Close(err)
	}
	if id != 0 {
		c.s.ovpnMACs.Put(id)
	}
	if c.onEnd != nil {
		c.onEnd(c)
	}
}

// ovpnTimeout is how long an OpenVPN client may stay silent: the OpenVPN
// option Timeout (ms), 30 s when unset (SoftEther's default).
func ovpnTimeout(o config.OpenVPNOptions) time.Duration {
	if o.Timeout == 0 {
		return 30 * time.Second
	}
	return time.Duration(o.Timeout) * time.Millisecond
}

// openVPNEnabled reports whether the OpenVPN server is on.
func (s *Server) openVPNEnabled() bool { return s.ctl.Current().Proto.OpenVPN.Enabled }

// peekOpenVPN reports whether the connection's first bytes are an OpenVPN
// client's first packet, leaving them in the socket for whoever reads
// next (one listener serves both, as SoftEther's does: Proto_OpenVPN.c,
// OvsCheckTcpRecvBufIfOpenVPNProtocol looks for "00 0E" in the first
// bytes its accept path peeks). A TLS ClientHello's first
// byte (0x16, a handshake record) decides at once.
func (h *handshake) peekOpenVPN() bool {
	sc, ok := h.raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var b [3]byte
	for range 50 { // the three bytes come in one segment; allow a little
		var n int
		var perr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			return perr != syscall.EAGAIN
		})
		switch {
		case err != nil || perr != nil || n == 0 || b[0] == 0x16:
			return false
		case n == len(b):
			return openvpn.LooksLikeTCP(b[:])
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// serveOpenVPNTCP serves an OpenVPN client on a TCP connection of the
// SSL-VPN listener until it ends. Until it authenticates, the
// connection keeps the handshake's deadline and counts as unestablished;
// then it ends after the OpenVPN Timeout without a packet (the client
// pings).
func (s *Server) serveOpenVPNTCP(h *handshake) {
	raw := h.raw
	defer raw.Close()
	var wmu sync.Mutex
	var wbuf []byte
	c := s.newOpenVPNClient(raw.RemoteAddr(), true, 0, func(p []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		wbuf = openvpn.AppendFrame(wbuf[:0], p)
		raw.SetWriteDeadline(time.Now().Add(10 * time.Second))
		raw.Write(wbuf)
	})
	s.startOVPNReport()
	c.onAuth = func(*ovpnClient) { h.established() }
	c.onEnd = func(*ovpnClient) { raw.Close() }
	defer c.sess.Close()
	timeout := ovpnTimeout(s.ctl.Current().Proto.OpenVPN)
	fr := openvpn.NewFrameReader(bufio.NewReaderSize(raw, 4096))
	var set time.Time // when the read deadline was last moved
	for {
		if now := time.Now(); c.authed.Load() && now.Sub(set) > time.Second {
			raw.SetReadDeadline(now.Add(timeout))
			set = now
		}
		pkt, err := fr.Next()
		if err != nil {
			switch {
			case errors.Is(err, openvpn.ErrBadLength):
				s.ovpn.BadTCP.Add(1)
				s.ovpnDropLog("a TCP connection with a bad frame length", raw.RemoteAddr().String())
			case errors.Is(err, io.ErrUnexpectedEOF):
				s.ovpn.BadTCP.Add(1)
				s.ovpnDropLog("a TCP connection that ended inside a frame", raw.RemoteAddr().String())
			}
			return
		}
		c.handle(pkt)
	}
}
