package server

import (
	"errors"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/openvpn"
	"github.com/ethervpn/ethervpn/internal/runset"
	"github.com/ethervpn/ethervpn/internal/wireguard"
)

// The UDP ports (PortsUDP) carry the native protocols that run over UDP:
// each datagram goes to its protocol by its first bytes, as SoftEther's
// Proto framework does (Proto.c, ProtoHandleDatagrams: a known source
// tuple goes to its session, an unknown one to the first protocol whose
// detector accepts the datagram).

// udpListeners are the UDP ports (PortsUDP), open while Serve runs and a
// UDP protocol (OpenVPN) is enabled; keyed by port, the value is the address to bind.
type udpListeners = runset.Set[uint16, string, *udpListener]

// syncUDP opens and closes the UDP ports to match PortsUDP.
func (s *Server) syncUDP() {
	s.udp.Sync(func() map[uint16]string {
		// s.cfg under s.mu: what runs, read with the serving flags.
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.adm.serving || !s.openConfigured || !s.cfg.Proto.OpenVPN.Enabled && !s.cfg.Proto.WireGuard.Enabled {
			return nil
		}
		ip := s.cfg.ListenIP
		if ip == "0.0.0.0" {
			ip = ""
		}
		want := map[uint16]string{}
		for _, p := range s.cfg.PortsUDP {
			if p != 0 {
				want[p] = ip
			}
		}
		return want
	})
}

// udpListener demultiplexes one UDP port's datagrams to their sessions
// by source address.
type udpListener struct {
	s    *Server
	pc   *net.UDPConn
	wg   sync.WaitGroup
	stop chan struct{}

	// table is what the read loop looks sessions up in, without a lock: a
	// snapshot of clients (and of them by peer id) that the writers
	// below replace whole under mu.
	table atomic.Pointer[udpTable]

	mu       sync.Mutex
	clients  map[netip.AddrPort]*ovpnClient
	byPeer   map[uint32]*ovpnClient
	halfOpen map[netip.Addr]int // unauthenticated sessions by source
	nHalf    int
	peerIDs  int
}

// udpTable is an immutable snapshot of a port's sessions.
type udpTable struct {
	byAddr map[netip.AddrPort]*ovpnClient
	byPeer map[uint32]*ovpnClient
}

// publishLocked makes the current maps the read loop's snapshot; under mu.
func (u *udpListener) publishLocked() {
	u.table.Store(&udpTable{byAddr: maps.Clone(u.clients), byPeer: maps.Clone(u.byPeer)})
}

// listenUDP opens one UDP port.
func (s *Server) listenUDP(port uint16, ip string) (*udpListener, error) {
	addr := net.JoinHostPort(ip, strconv.Itoa(int(port)))
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenUDP("udp", ua)
	if err != nil {
		s.log.Warn("cannot listen on a UDP port; is it free?", "addr", addr, "err", err)
		return nil, err
	}
	tuneUDP(pc)
	rd, err := newUDPReader(pc)
	if err != nil {
		pc.Close()
		return nil, err
	}
	s.log.Info("listening for UDP protocols", "udp", pc.LocalAddr().String(),
		"openvpn", s.openVPNEnabled(), "wireguard", s.wireGuardEnabled())
	s.startOVPNReport()
	u := &udpListener{s: s, pc: pc, stop: make(chan struct{}),
		clients: map[netip.AddrPort]*ovpnClient{}, byPeer: map[uint32]*ovpnClient{}, halfOpen: map[netip.Addr]int{}}
	u.publishLocked()
	u.wg.Add(2)
	go u.readLoop(rd)
	go u.reaper()
	return u, nil
}

// Stop closes the port and ends its clients.
func (u *udpListener) Stop() {
	close(u.stop)
	u.pc.Close()
	u.wg.Wait()
	for _, c := range u.table.Load().byAddr {
		c.sess.Close()
	}
}

// Addr is the port's local address.
func (u *udpListener) Addr() net.Addr { return u.pc.LocalAddr() }

// readLoop reads the port in batches (recvmmsg). The data packets of one
// batch for one client reach its adapter or hub port together, in one
// call, after the batch: one hand-over (and goroutine wake-up) per batch
// rather than per packet.
func (u *udpListener) readLoop(rd *udpReader) {
	defer u.wg.Done()
	defer guard.Recover(u.s.log, "openvpn udp", nil)
	touched := make([]*ovpnClient, 0, udpBatchLen)
	for {
		n, err := rd.read()
		if err != nil {
			select {
			case <-u.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. an ICMP error reported on the socket
		}
		for i := range n {
			pkt, from := rd.datagram(i)
			if !from.IsValid() {
				u.s.ovpn.Malformed.Add(1)
				u.s.ovpnDropLog("a truncated datagram or one from an unknown address family", "?")
				continue
			}
			if c := u.dispatch(from, pkt); c != nil && len(c.pend) > 0 && !c.touched {
				c.touched = true
				touched = append(touched, c)
			}
		}
		for i, c := range touched {
			c.touched = false
			c.flushIn()
			touched[i] = nil
		}
		touched = touched[:0]
	}
}

// dispatch hands one datagram to its protocol's session and returns that
// session's OpenVPN client (nil when the datagram was WireGuard's or was
// dropped).
func (u *udpListener) dispatch(from netip.AddrPort, pkt []byte) *ovpnClient {
	if wireguard.IsMessage(pkt) || !u.s.openVPNEnabled() {
		u.s.wguard.handle(u, from, pkt) // WireGuard's (see wireguard.go); it drops the rest
		return nil
	}
	t := u.table.Load()
	c := t.byAddr[from]
	if c == nil {
		if !openvpn.IsNewSession(pkt) {
			return u.roam(t, from, pkt)
		}
		if c = u.newClient(from); c == nil {
			return nil
		}
	}
	if c.stormHeld(pkt) {
		u.s.ovpn.StormHeld.Add(1)
		return nil
	}
	if c.handle(pkt) != nil && openvpn.IsNewSession(pkt) {
		// A hard reset of another session from a known address: the
		// client restarted on the same port (a retransmitted reset of
		// the running session is acked without error). The old
		// session goes; the new one starts.
		c.flushIn()
		c.sess.Close()
		if c = u.newClient(from); c != nil {
			c.handle(pkt)
		}
	}
	return c
}

// roam handles a datagram from a source without a session. A P_DATA_V2
// packet whose peer id names a logged-in client and which decrypts
// under that client's keys (authentic and not a replay) moves the client
// to the new source: its NAT mapping changed. OpenVPN 2.6 servers "float"
// the same way (OpenVPN multi.c, multi_process_float); SoftEther makes a
// new session per source tuple instead (Proto.c, ProtoHandleDatagrams).
// Anything else is dropped and counted.
func (u *udpListener) roam(t *udpTable, from netip.AddrPort, pkt []byte) *ovpnClient {
	if len(pkt) < 4 || pkt[0]>>3 != openvpn.OpDataV2 {
		u.s.ovpn.Unknown.Add(1)
		u.s.ovpnDropLog("a packet from an address without a session", from.String())
		return nil
	}
	c := t.byPeer[uint32(pkt[1])<<16|uint32(pkt[2])<<8|uint32(pkt[3])]
	if c == nil || !c.authed.Load() {
		u.s.ovpn.Unknown.Add(1)
		u.s.ovpnDropLog("a data packet with an unknown peer id", from.String())
		return nil
	}
	// Not c.handle: a refusal here counts as a refused move, not as the
	// session's bad packet.
	if err := c.sess.HandlePacket(pkt); err != nil {
		u.s.ovpn.RoamRefused.Add(1)
		u.s.ovpnDropLog("a data packet for a session from another address that does not decrypt under its keys", from.String())
		return nil
	}
	c.lastSeen.Store(time.Now().UnixNano())
	u.mu.Lock()
	old := c.addr()
	if u.clients[old] == c {
		delete(u.clients, old)
	}
	if prev := u.clients[from]; prev != nil && prev != c {
		u.mu.Unlock()
		return c // another session took the address meanwhile: no move
	}
	u.clients[from] = c
	c.to.Store(&from)
	u.publishLocked()
	u.mu.Unlock()
	u.s.ovpn.Roamed.Add(1)
	u.s.log.Info("an OpenVPN client moved to a new address", "from", old.String(), "to", from.String(), "peer_id", c.sess.PeerID())
	return c
}

// newClient makes the session of a new source, within the half-open
// limits.
func (u *udpListener) newClient(from netip.AddrPort) *ovpnClient {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.nHalf >= ovpnHalfOpenTotal || u.halfOpen[from.Addr()] >= ovpnHalfOpenPerSource {
		u.s.ovpn.HalfOpenDropped.Add(1)
		u.s.ovpnDropLog("a new session beyond the half-open limits", from.String())
		return nil
	}
	u.halfOpen[from.Addr()]++
	u.nHalf++
	u.peerIDs = (u.peerIDs + 1) & 0xFFFFFF
	peerID := uint32(u.peerIDs)
	var c *ovpnClient
	c = u.s.newOpenVPNClient(net.UDPAddrFromAddrPort(from), false, u.peerIDs, func(p []byte) {
		u.pc.WriteToUDPAddrPort(p, c.addr())
	})
	c.to.Store(&from)
	c.tx = newUDPSender(u.pc)
	c.batchIn = true
	var once sync.Once
	notHalf := func() {
		once.Do(func() {
			u.mu.Lock()
			u.nHalf--
			if u.halfOpen[from.Addr()]--; u.halfOpen[from.Addr()] <= 0 {
				delete(u.halfOpen, from.Addr())
			}
			u.mu.Unlock()
		})
	}
	c.onAuth = func(*ovpnClient) { notHalf() }
	c.onEnd = func(c *ovpnClient) {
		notHalf()
		u.mu.Lock()
		if at := c.addr(); u.clients[at] == c {
			delete(u.clients, at)
		}
		if u.byPeer[peerID] == c {
			delete(u.byPeer, peerID)
		}
		u.publishLocked()
		u.mu.Unlock()
	}
	u.clients[from] = c
	u.byPeer[peerID] = c
	u.publishLocked()
	return c
}

// reaper ends the sessions of clients that went silent for longer than
// the OpenVPN Timeout (they ping every PingSendInterval).
func (u *udpListener) reaper() {
	defer u.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var idle []*ovpnClient
	for {
		select {
		case <-u.stop:
			return
		case now := <-t.C:
			timeout := ovpnTimeout(u.s.ctl.Current().Proto.OpenVPN)
			idle = idle[:0]
			for _, c := range u.table.Load().byAddr {
				if now.Sub(time.Unix(0, c.lastSeen.Load())) > timeout {
					idle = append(idle, c)
				}
			}
			for _, c := range idle {
				u.s.ovpn.Idle.Add(1)
				c.sess.Close()
			}
		}
	}
}
