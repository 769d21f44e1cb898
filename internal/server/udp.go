package server

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
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

	mu       sync.Mutex
	clients  map[netip.AddrPort]*ovpnClient
	halfOpen map[netip.Addr]int // unauthenticated sessions by source
	nHalf    int
	peerIDs  int
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
	s.log.Info("listening for OpenVPN", "udp", pc.LocalAddr().String())
	u := &udpListener{s: s, pc: pc, stop: make(chan struct{}),
		clients: map[netip.AddrPort]*ovpnClient{}, halfOpen: map[netip.Addr]int{}}
	u.wg.Add(2)
	go u.readLoop()
	go u.reaper()
	return u, nil
}

// Stop closes the port and ends its clients.
func (u *udpListener) Stop() {
	close(u.stop)
	u.pc.Close()
	u.wg.Wait()
	u.mu.Lock()
	cs := make([]*ovpnClient, 0, len(u.clients))
	for _, c := range u.clients {
		cs = append(cs, c)
	}
	u.mu.Unlock()
	for _, c := range cs {
		c.sess.Close()
	}
}

// Addr is the port's local address.
func (u *udpListener) Addr() net.Addr { return u.pc.LocalAddr() }

func (u *udpListener) readLoop() {
	defer u.wg.Done()
	defer guard.Recover(u.s.log, "openvpn udp", nil)
	var buf [openvpn.MaxPacket]byte
	for {
		n, from, err := u.pc.ReadFromUDPAddrPort(buf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		u.dispatch(from, buf[:n])
	}
}

// dispatch hands one datagram to its protocol's session.
func (u *udpListener) dispatch(from netip.AddrPort, pkt []byte) {
	if wireguard.IsMessage(pkt) || !u.s.openVPNEnabled() {
		u.s.wguard.handle(u, from, pkt) // WireGuard's (see wireguard.go); it drops the rest
		return
	}
	u.mu.Lock()
	c := u.clients[from]
	u.mu.Unlock()
	if c == nil {
		if !openvpn.IsNewSession(pkt) {
			u.s.ovpn.Unknown.Add(1)
			return
		}
		if c = u.newClient(from); c == nil {
			return
		}
	}
	if c.handle(pkt) != nil && openvpn.IsNewSession(pkt) {
		// A hard reset of another session from a known address: the
		// client restarted on the same port (a retransmitted reset of
		// the running session is acked without error). The old
		// session goes; the new one starts.
		c.sess.Close()
		if c = u.newClient(from); c != nil {
			c.handle(pkt)
		}
	}
}

// newClient makes the session of a new source, within the half-open
// limits.
func (u *udpListener) newClient(from netip.AddrPort) *ovpnClient {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.nHalf >= ovpnHalfOpenTotal || u.halfOpen[from.Addr()] >= ovpnHalfOpenPerSource {
		u.s.ovpn.HalfOpenDropped.Add(1)
		return nil
	}
	u.halfOpen[from.Addr()]++
	u.nHalf++
	u.peerIDs = (u.peerIDs + 1) & 0xFFFFFF
	c := u.s.newOpenVPNClient(net.UDPAddrFromAddrPort(from), false, u.peerIDs, func(p []byte) {
		u.pc.WriteToUDPAddrPort(p, from)
	})
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
		if u.clients[from] == c {
			delete(u.clients, from)
		}
		u.mu.Unlock()
	}
	u.clients[from] = c
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
			u.mu.Lock()
			for _, c := range u.clients {
				if now.Sub(time.Unix(0, c.lastSeen.Load())) > timeout {
					idle = append(idle, c)
				}
			}
			u.mu.Unlock()
			for _, c := range idle {
				u.s.ovpn.Idle.Add(1)
				c.sess.Close()
			}
		}
	}
}
