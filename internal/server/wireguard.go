package server

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ratelimiter"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/native"
	"github.com/ethervpn/ethervpn/internal/wireguard"
)

// The WireGuard service. Every client key in WireGuardKeyList that
// completes a handshake gets its own device of the WireGuard library
// (golang.zx2c4.com/wireguard/device) with that one peer and AllowedIPs
// 0.0.0.0/0: the library keeps one AllowedIPs table per device and drops
// inner packets from sources outside the sender's entry, while SoftEther
// learns each client's address from its first packet (Proto_WireGuard.c,
// WgsProcessTransportData), so clients cannot share a device. The device
// runs the handshake, the keys, the replay window and the timers; its
// "UDP socket" is the server's UDP port through the demultiplexer below
// (wgBind), and its "tun" is the hub session (wgTun): the first inner
// packet logs the user the key maps to in (LoginNative) and attaches a
// layer-3 adapter with that packet's source address, the hub's
// DefaultSubnet and DefaultGateway (native.Attach).
//
// The demultiplexer (wgService.handle) finds the device of a datagram:
// an initiation by the client key it carries (checked MAC1, then the
// first Noise steps, wireguard.Responder), the other messages by their
// receiver index, learnt from the indices the devices send.

// Limits and timings of the WireGuard service.
const (
	// wgHalfOpenPerSource and wgHalfOpenTotal bound the devices whose
	// client has not sent a transport packet yet (a replayed initiation
	// makes one that never completes).
	wgHalfOpenPerSource = 8
	wgHalfOpenTotal     = 256
	// wgInitiationRate and wgInitiationBurst bound the initiations of all
	// sources together, per second, beyond the library's per-source
	// limit (ratelimiter: 20 a second, bursts of 5).
	wgInitiationRate  = 200
	wgInitiationBurst = 100
	// wgHandshakeTimeout ends a device whose client sent no transport
	// packet (SoftEther drops a session whose handshake does not
	// complete in 30 s).
	wgHandshakeTimeout = 30 * time.Second
	// wgIdleTimeout ends a client that sent nothing for as long as a key
	// pair lives: it would have made a new handshake after 120 s
	// (SoftEther Proto_WireGuard.h, WG_REJECT_AFTER_TIME, 180 s).
	wgIdleTimeout = 180 * time.Second
	// wgQueue bounds the datagrams queued for one device and the packets
	// queued for one client; beyond, they are dropped and counted. As
	// deep as the library's own queues: with 256, SecureNAT's TCP bursts
	// toward a client overflowed it and its throughput collapsed (the
	// e2e rig, iperf3 through SecureNAT).
	wgQueue = 1024
	// wgBatch is the batch size of the virtual bind and tun. The library
	// keeps 2 x wgBatch buffers of 64 KiB for each device: 8 costs about
	// 1 MiB a client (1 about 250 KiB, but its throughput toward the
	// client was erratic in the rig).
	wgBatch = 8
	// wgMTU is the inner MTU the device assumes (wg-quick's default).
	wgMTU = 1420
	// wgBuf holds one datagram or inner packet: the UDP ports read at most
	// 2048 bytes.
	wgBuf = 2048
	// wgLogEvery limits each kind of warning about bad datagrams to one
	// line in this period.
	wgLogEvery = 10 * time.Second
)

// The hub's options DefaultGateway and DefaultSubnet, which SoftEther
// uses for the IPC of a WireGuard client (IPC.c, NewIPC), at SoftEther's
// defaults (Server.c, SiSetDefaultHubOption: 192.168.30.1 and
// 255.255.255.0, SecureNAT's subnet).
var (
	wgDefaultGateway = netip.AddrFrom4([4]byte{192, 168, 30, 1})
	wgDefaultBits    = 24
)

// wgStats counts what the WireGuard service dropped and why.
type wgStats struct {
	// RateLimited: initiations beyond the per-source or total rate.
	RateLimited atomic.Uint64
	// BadMAC1: initiations without the MAC1 of the server's key.
	BadMAC1 atomic.Uint64
	// BadStatic: initiations whose static key did not decrypt.
	BadStatic atomic.Uint64
	// UnknownKey: initiations from keys not in WireGuardKeyList.
	UnknownKey atomic.Uint64
	// UnknownIndex: other messages whose receiver index no device has.
	UnknownIndex atomic.Uint64
	// HalfOpenDropped: initiations refused by the half-open limits.
	HalfOpenDropped atomic.Uint64
	// QueueFull: datagrams and packets dropped because a device's or a
	// client's queue was full; TooLong those that do not fit a buffer.
	QueueFull, TooLong atomic.Uint64
	// LoginFailed: clients whose hub session could not be made.
	LoginFailed atomic.Uint64
	// Idle: clients ended for silence or an unfinished handshake.
	Idle atomic.Uint64
	// Disabled: WireGuard datagrams that came while WireGuard is
	// disabled; NotWireGuard: other datagrams while OpenVPN is disabled.
	Disabled, NotWireGuard atomic.Uint64
	// StormHeld: transport messages of clients the hub holds back for
	// their floods (hub.Port.StormHeld), dropped before decryption, as
	// for OpenVPN over UDP.
	StormHeld atomic.Uint64
}

// wgService is the WireGuard server of a Server.
type wgService struct {
	s     *Server
	once  sync.Once
	stats wgStats

	limiter ratelimiter.Ratelimiter // per source: the library's
	total   tokenBucket

	resp atomic.Pointer[wgResponder]
	keys atomic.Pointer[wgKeys]

	mu       sync.Mutex
	byKey    map[wireguard.Key]*wgPeer
	halfOpen map[netip.Addr]int
	nHalf    int
	// byIndex is copied on write (handshakes) and read on every
	// datagram without a lock.
	byIndex atomic.Pointer[map[uint32]*wgPeer]

	closers sync.WaitGroup // devices being closed

	logMu   sync.Mutex
	logLast map[string]time.Time
	logSkip map[string]int
}

// wgResponder is the responder of one private key (as configured).
type wgResponder struct {
	keys string // PrivateKey/PresharedKey as configured
	r    *wireguard.Responder
	key  wireguard.Key
	psk  string // hex, for the devices; empty when none
}

// wgKeys is WireGuardKeyList of one configuration, by key.
type wgKeys struct {
	cfg *config.Server
	m   map[string]config.WireGuardKey
}

func (w *wgService) init(s *Server) {
	w.once.Do(func() {
		w.s = s
		w.limiter.Init()
		w.total = tokenBucket{rate: wgInitiationRate, burst: wgInitiationBurst, tokens: wgInitiationBurst}
		w.byKey = map[wireguard.Key]*wgPeer{}
		w.halfOpen = map[netip.Addr]int{}
		w.byIndex.Store(&map[uint32]*wgPeer{})
		w.logLast = map[string]time.Time{}
		w.logSkip = map[string]int{}
	})
}

// wireGuardEnabled reports whether the WireGuard server is on.
func (s *Server) wireGuardEnabled() bool { return s.ctl.Current().Proto.WireGuard.Enabled }

// responder returns the responder of the configured private key, nil if
// it is unusable.
func (w *wgService) responder(cfg *config.Server) *wgResponder {
	wc := cfg.Proto.WireGuard
	if r := w.resp.Load(); r != nil && r.keys == wc.PrivateKey+"/"+wc.PresharedKey {
		return r
	}
	priv, err := wireguard.ParseKey(wc.PrivateKey)
	if err != nil {
		w.warn("key", "the WireGuard private key of the configuration is unusable", "err", err)
		return nil
	}
	r := &wgResponder{keys: wc.PrivateKey + "/" + wc.PresharedKey, r: wireguard.NewResponder(priv), key: priv}
	if wc.PresharedKey != "" {
		psk, err := wireguard.ParseKey(wc.PresharedKey)
		if err != nil {
			w.warn("psk", "the WireGuard preshared key of the configuration is unusable", "err", err)
			return nil
		}
		r.psk = hex.EncodeToString(psk[:])
	}
	w.resp.Store(r)
	return r
}

// keyEntry looks a client key up in WireGuardKeyList.
func (w *wgService) keyEntry(cfg *config.Server, key string) (config.WireGuardKey, bool) {
	k := w.keys.Load()
	if k == nil || k.cfg != cfg {
		k = &wgKeys{cfg: cfg, m: make(map[string]config.WireGuardKey, len(cfg.WireGuardKeys))}
		for _, e := range cfg.WireGuardKeys {
			k.m[e.Key] = e
		}
		w.keys.Store(k)
	}
	e, ok := k.m[key]
	return e, ok
}

// handle takes one datagram of a UDP port that is WireGuard's (or that
// arrived while OpenVPN is off): an initiation goes to its key's device,
// made if need be; the others to the device of their receiver index.
func (w *wgService) handle(u *udpListener, from netip.AddrPort, pkt []byte) {
	w.init(u.s)
	cfg := u.s.ctl.Current()
	typ := wireguard.Type(pkt)
	switch {
	case typ == 0:
		w.stats.NotWireGuard.Add(1)
		return
	case !cfg.Proto.WireGuard.Enabled:
		w.stats.Disabled.Add(1)
		return
	}
	if typ != wireguard.TypeInitiation {
		idx, _ := wireguard.ReceiverIndex(pkt)
		if p := (*w.byIndex.Load())[idx]; p != nil {
			if typ == wireguard.TypeTransport {
				if ns := p.ns.Load(); ns != nil && ns.Port != nil && ns.Port.StormHeld() {
					w.stats.StormHeld.Add(1)
					return
				}
			}
			p.deliver(u, from, pkt)
			return
		}
		w.stats.UnknownIndex.Add(1)
		return
	}
	r := w.responder(cfg)
	if r == nil {
		return
	}
	// MAC1 first: it is cheap, and junk without it must not use up the
	// rate that the initiations of real clients need.
	if !r.r.CheckMAC1(pkt) {
		w.stats.BadMAC1.Add(1)
		w.warn("mac1", "a WireGuard initiation for another server key (bad MAC1) dropped", "remote", from.String())
		return
	}
	if !w.limiter.Allow(from.Addr()) || !w.total.allow(time.Now()) {
		w.stats.RateLimited.Add(1)
		w.warn("rate", "WireGuard initiations beyond the rate limit dropped", "remote", from.String())
		return
	}
	key, err := r.r.Initiator(pkt) // a Diffie-Hellman and a decryption
	if err != nil {
		w.stats.BadStatic.Add(1)
		w.warn("static", "a WireGuard initiation whose static key does not decrypt dropped", "remote", from.String())
		return
	}
	w.mu.Lock()
	p := w.byKey[key]
	w.mu.Unlock()
	if p == nil {
		e, ok := w.keyEntry(cfg, key.String())
		if !ok {
			w.stats.UnknownKey.Add(1)
			w.warn("unknown", "a WireGuard initiation from a key that is not in WireGuardKeyList dropped",
				"remote", from.String(), "key", key.String())
			return
		}
		if p = w.newPeer(key, e, r, from); p == nil {
			return
		}
	}
	p.deliver(u, from, pkt)
}

// newPeer makes the device of a client key, within the half-open limits.
func (w *wgService) newPeer(key wireguard.Key, e config.WireGuardKey, r *wgResponder, from netip.AddrPort) *wgPeer {
	w.mu.Lock()
	if p := w.byKey[key]; p != nil {
		w.mu.Unlock()
		return p
	}
	src := from.Addr()
	if w.nHalf >= wgHalfOpenTotal || w.halfOpen[src] >= wgHalfOpenPerSource {
		w.mu.Unlock()
		w.stats.HalfOpenDropped.Add(1)
		w.warn("halfopen", "a WireGuard initiation beyond the half-open limits dropped", "remote", from.String())
		return nil
	}
	p := &wgPeer{w: w, key: key, entry: e, keys: r.keys, src: src, half: true, done: make(chan struct{})}
	p.bind.p, p.tun.p = p, p
	p.bind.in = make(chan wgDatagram, wgQueue)
	p.tun.q = make(chan wgDatagram, wgQueue)
	p.tun.closed = make(chan struct{})
	p.tun.events = make(chan tun.Event, 1)
	p.tun.events <- tun.EventUp
	now := time.Now()
	p.created = now
	p.lastSeen.Store(now.UnixNano())
	w.byKey[key] = p
	w.halfOpen[src]++
	w.nHalf++
	w.mu.Unlock()

	log := w.s.log.With("protocol", "WIREGUARD", "key", key.String())
	logf := func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) }
	p.dev = device.NewDevice(&p.tun, &p.bind, &device.Logger{Verbosef: logf, Errorf: logf})
	pub := key
	cfg := fmt.Sprintf("private_key=%s\npublic_key=%s\nallowed_ip=0.0.0.0/0\n",
		hex.EncodeToString(r.key[:]), hex.EncodeToString(pub[:]))
	if r.psk != "" {
		cfg += "preshared_key=" + r.psk + "\n"
	}
	if err := p.dev.IpcSet(cfg); err != nil {
		log.Warn("cannot configure the WireGuard device", "err", err)
		p.end("device setup failed")
		return nil
	}
	if err := p.dev.Up(); err != nil {
		log.Warn("cannot start the WireGuard device", "err", err)
		p.end("device setup failed")
		return nil
	}
	log.Info("WireGuard handshake from a known key", "remote", from.String(), "hub", e.Hub, "user", e.User)
	go p.watch()
	return p
}

// learn records that p's device sent a message with sender index idx: the
// client will address p by it. Each device keeps a few recent indices (a
// current, a previous and a next key pair, a handshake in flight).
func (w *wgService) learn(p *wgPeer, idx uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p.ended {
		return
	}
	old := *w.byIndex.Load()
	m := make(map[uint32]*wgPeer, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if gone := p.indices[p.next]; gone != 0 && m[gone] == p {
		delete(m, gone)
	}
	p.indices[p.next] = idx
	p.next = (p.next + 1) % len(p.indices)
	m[idx] = p
	w.byIndex.Store(&m)
}

// forgetLocked removes p from the tables (under w.mu).
func (w *wgService) forgetLocked(p *wgPeer) {
	if w.byKey[p.key] == p {
		delete(w.byKey, p.key)
	}
	w.notHalfLocked(p)
	old := *w.byIndex.Load()
	m := make(map[uint32]*wgPeer, len(old))
	for k, v := range old {
		if v != p {
			m[k] = v
		}
	}
	w.byIndex.Store(&m)
}

func (w *wgService) notHalfLocked(p *wgPeer) {
	if !p.half {
		return
	}
	p.half = false
	w.nHalf--
	if w.halfOpen[p.src]--; w.halfOpen[p.src] <= 0 {
		delete(w.halfOpen, p.src)
	}
}

// warn logs a warning of one kind at most once per wgLogEvery, with the
// number of the ones left out since.
func (w *wgService) warn(kind, msg string, args ...any) {
	now := time.Now()
	w.logMu.Lock()
	if now.Sub(w.logLast[kind]) < wgLogEvery {
		w.logSkip[kind]++
		w.logMu.Unlock()
		return
	}
	skipped := w.logSkip[kind]
	w.logLast[kind], w.logSkip[kind] = now, 0
	w.logMu.Unlock()
	w.s.log.Warn(msg, append(args, "protocol", "WIREGUARD", "similar_suppressed", skipped)...)
}

// closeAll ends every client and waits for their devices to close
// (tests; a stopping server ends them through its life context).
func (w *wgService) closeAll(reason string) {
	w.mu.Lock()
	ps := make([]*wgPeer, 0, len(w.byKey))
	for _, p := range w.byKey {
		ps = append(ps, p)
	}
	w.mu.Unlock()
	for _, p := range ps {
		p.end(reason)
	}
	w.closers.Wait()
}

// tokenBucket is a rate limit: rate tokens a second, at most burst.
type tokenBucket struct {
	mu          sync.Mutex
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (b *tokenBucket) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// wgPeer is one client key's device and, once it sent a packet, its hub
// session.
type wgPeer struct {
	w     *wgService
	key   wireguard.Key
	entry config.WireGuardKey // hub and user, as when the device was made
	keys  string              // the server keys it was made with (wgResponder.keys)
	src   netip.Addr          // the source that made it (half-open count)
	dev   *device.Device
	bind  wgBind
	tun   wgTun

	created  time.Time
	lastSeen atomic.Int64 // unix nanoseconds of the last datagram
	ep       atomic.Pointer[wgEndpoint]

	// guarded by w.mu
	half    bool
	ended   bool
	indices [8]uint32
	next    int

	ns      atomic.Pointer[NativeSession]
	ad      atomic.Pointer[native.Adapter]
	macID   uint32
	loginMu sync.Mutex // serialises the login (the first packets)
	failed  atomic.Bool
	once    sync.Once
	done    chan struct{}
}

// deliver queues a datagram for the device: copied, since the port's
// buffer is reused.
func (p *wgPeer) deliver(u *udpListener, from netip.AddrPort, pkt []byte) {
	p.lastSeen.Store(time.Now().UnixNano())
	if len(pkt) > wgBuf {
		p.w.stats.TooLong.Add(1)
		return
	}
	ep := p.ep.Load()
	if ep == nil || ep.u != u || ep.addr != from {
		// The first datagram or the client roamed; the library takes the
		// endpoint of authenticated datagrams as its peer's.
		ep = &wgEndpoint{u: u, addr: from}
		p.ep.Store(ep)
	}
	b := wgBufs.Get().(*[wgBuf]byte)
	n := copy(b[:], pkt)
	select {
	case p.bind.in <- wgDatagram{b: b, n: n, ep: ep}:
	default:
		wgBufs.Put(b)
		p.w.stats.QueueFull.Add(1)
	}
}

// fromClient takes the device's decrypted inner packets to the hub. The
// first IPv4 packet logs the client in, with its source as the address.
func (p *wgPeer) fromClient(bufs [][]byte, offset int) {
	ad := p.ad.Load()
	if ad == nil {
		if p.failed.Load() {
			return
		}
		for _, b := range bufs {
			if pkt := b[offset:]; len(pkt) >= 20 && pkt[0]>>4 == 4 {
				ad = p.login(netip.AddrFrom4([4]byte(pkt[12:16])))
				break
			}
		}
		if ad == nil {
			return
		}
	}
	p.tun.slots = p.tun.slots[:0]
	for _, b := range bufs {
		p.tun.slots = append(p.tun.slots, b[offset:])
	}
	ad.Send(p.tun.slots)
	clear(p.tun.slots)
}

// login makes the client's hub session (SoftEther Proto_WireGuard.c,
// WgsProcessTransportData and WgsIPCNew): the user the key maps to, no
// password, the address from the first packet.
func (p *wgPeer) login(addr netip.Addr) *native.Adapter {
	p.loginMu.Lock()
	defer p.loginMu.Unlock()
	if ad := p.ad.Load(); ad != nil || p.failed.Load() {
		return ad
	}
	s := p.w.s
	var remote net.Addr
	mss := wgMSS(false)
	if ep := p.ep.Load(); ep != nil {
		remote = net.UDPAddrFromAddrPort(ep.addr)
		mss = wgMSS(ep.addr.Addr().Is6())
	}
	fail := func(reason string) *native.Adapter {
		p.failed.Store(true)
		p.w.stats.LoginFailed.Add(1)
		go p.end(reason) // not on the device's goroutine: Close waits for it
		return nil
	}
	if addr.IsUnspecified() || addr.IsMulticast() {
		return fail("the first packet has no usable source address")
	}
	ns, err := s.LoginNative(NativeLogin{Protocol: "WIREGUARD", Hub: p.entry.Hub, Username: p.entry.User,
		KeyAuthenticated: true, MSS: mss, Remote: remote})
	if err != nil {
		s.log.Info("a WireGuard client's hub session was refused", "key", p.key.String(), "hub", p.entry.Hub, "user", p.entry.User, "err", err)
		return fail("login refused")
	}
	// The native sessions' MAC numbers are shared with OpenVPN's tun
	// clients, so that no two native sessions of a hub share a MAC.
	id := s.ovpnMACs.Take()
	ad, err := native.Attach(ns.Port, native.Config{
		MAC:      native.VirtualMAC(native.MachineName(), ns.Hub.Name(), id),
		Hostname: ns.User,
		Deliver:  p.toClient,
	}, native.Lease{Addr: netip.PrefixFrom(addr, wgDefaultBits), Gateway: wgDefaultGateway})
	if err != nil {
		s.ovpnMACs.Put(id)
		ns.Close(err)
		return fail("cannot attach the adapter")
	}
	p.w.mu.Lock()
	ended := p.ended
	if !ended {
		p.macID = id
		p.ns.Store(ns)
		p.ad.Store(ad)
		p.w.notHalfLocked(p)
	}
	p.w.mu.Unlock()
	if ended {
		ad.Close()
		ns.Close(errors.New("the WireGuard client left during its login"))
		s.ovpnMACs.Put(id)
		return nil
	}
	s.log.Info("WireGuard client logged in", "session", ns.Name, "address", addr.String(), "remote", fmt.Sprint(remote))
	return ad
}

// wgMSS is the MSS that fits a full TCP segment in one WireGuard datagram
// of a PPPoE-sized path (SoftEther Proto_WireGuard.c, WgsMSS: 1454 less
// the outer IP and UDP headers, the 16-byte transport header, inner IPv4
// and TCP headers).
func wgMSS(ipv6 bool) int {
	outer := 20
	if ipv6 {
		outer = 40
	}
	return 1500 - 46 - outer - 8 - 16 - 20 - 20
}

// toClient queues the hub's packets for the device (on the adapter's
// goroutine; copied, the slices are the adapter's).
func (p *wgPeer) toClient(pkts [][]byte) {
	for _, pkt := range pkts {
		if len(pkt) > wgBuf {
			p.w.stats.TooLong.Add(1)
			continue
		}
		b := wgBufs.Get().(*[wgBuf]byte)
		n := copy(b[:], pkt)
		select {
		case p.tun.q <- wgDatagram{b: b, n: n}:
		default:
			wgBufs.Put(b)
			p.w.stats.QueueFull.Add(1)
		}
	}
}

// watch ends the client when it goes silent, its handshake does not
// complete, its key leaves WireGuardKeyList (or maps elsewhere), the
// server key changes, WireGuard is disabled, the hub ends its session or
// the server stops.
func (p *wgPeer) watch() {
	defer guard.Recover(p.w.s.log, "wireguard peer", nil)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var ended <-chan struct{}
	for {
		select {
		case <-p.done:
			return
		case <-p.w.s.life.Done():
			p.end("the server stops")
			return
		case <-ended:
			p.end("the hub ended the session")
			return
		case now := <-t.C:
			if ns := p.ns.Load(); ns != nil {
				ended = ns.Ended
			}
			if reason := p.check(now); reason != "" {
				p.end(reason)
				return
			}
		}
	}
}

// check returns why the client should end now, or "".
func (p *wgPeer) check(now time.Time) string {
	cfg := p.w.s.ctl.Current()
	wc := cfg.Proto.WireGuard
	e, ok := p.w.keyEntry(cfg, p.key.String())
	switch {
	case !wc.Enabled:
		return "WireGuard was disabled"
	case !ok || !strings.EqualFold(e.Hub, p.entry.Hub) || !strings.EqualFold(e.User, p.entry.User):
		return "the key was removed from WireGuardKeyList or changed"
	case wc.PrivateKey+"/"+wc.PresharedKey != p.keys:
		return "the server's WireGuard keys changed"
	case now.Sub(time.Unix(0, p.lastSeen.Load())) > wgIdleTimeout:
		p.w.stats.Idle.Add(1)
		return "silent for longer than a key pair lives"
	case p.ns.Load() != nil && now.Sub(p.lastHandshake()) > wgIdleTimeout:
		// Datagrams still come (perhaps replayed ones, which the library
		// drops), but the newest key pair has expired (SoftEther
		// Proto_WireGuard.c, WgsProcessTransportData: LW_KEYPAIR_EXPIRED).
		p.w.stats.Idle.Add(1)
		return "its newest key pair is older than a key pair lives"
	case p.ns.Load() == nil && now.Sub(p.created) > wgHandshakeTimeout:
		p.w.stats.Idle.Add(1)
		return "no packet within the handshake timeout"
	}
	return ""
}

// lastHandshake is when the device last completed a handshake (the
// library's last_handshake_time_sec); the device's creation before.
func (p *wgPeer) lastHandshake() time.Time {
	var w handshakeTimeWriter
	if p.dev != nil {
		p.dev.IpcGetOperation(&w)
	}
	if w.sec == 0 {
		return p.created
	}
	return time.Unix(w.sec, 0)
}

// handshakeTimeWriter picks last_handshake_time_sec out of the
// library's configuration dump ("key=value" lines).
type handshakeTimeWriter struct{ sec int64 }

func (h *handshakeTimeWriter) Write(b []byte) (int, error) {
	const key = "last_handshake_time_sec="
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(key)); ok {
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				h.sec = n
			}
		}
	}
	return len(b), nil
}

// end ends the client: its device, adapter and hub session (once; the
// device is closed on another goroutine, as end may run on one of its
// own).
func (p *wgPeer) end(reason string) {
	p.once.Do(func() {
		w := p.w
		w.mu.Lock()
		p.ended = true
		w.forgetLocked(p)
		// Under w.mu, so that whoever sees p gone from the tables can
		// wait for its device to close.
		w.closers.Add(1)
		w.mu.Unlock()
		close(p.done)
		go func() {
			defer w.closers.Done()
			if p.dev != nil {
				p.dev.Close()
			}
			if ad := p.ad.Load(); ad != nil {
				ad.Close()
			}
			if ns := p.ns.Load(); ns != nil {
				ns.Close(errors.New(reason))
				w.s.ovpnMACs.Put(p.macID)
			}
			st := &w.stats
			w.s.log.Info("WireGuard client ended", "key", p.key.String(), "reason", reason,
				"all_clients_queue_full", st.QueueFull.Load(), "all_clients_too_long", st.TooLong.Load())
		}()
	})
}

// wgBufs are the buffers of queued datagrams and packets.
var wgBufs = sync.Pool{New: func() any { return new([wgBuf]byte) }}

// wgDatagram is one queued datagram (with its endpoint) or inner packet.
type wgDatagram struct {
	b  *[wgBuf]byte
	n  int
	ep *wgEndpoint
}
