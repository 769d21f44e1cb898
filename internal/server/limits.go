package server

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/config"
)

// Connection limits against floods. The numbers and config items
// (ServerConfiguration/DisableDosProtection, MaxConnectionsPerIP,
// MaxUnestablishedConnections) are SoftEther's (Cedar.h, Listener.c
// TCPAccepted); the per-source cap on connections still in the handshake is
// ethervpn's own, so that one source can never take all the handshake slots.
const (
	defaultMaxConnsPerIP    = 256  // SoftEther Cedar.h DEFAULT_MAX_CONNECTIONS_PER_IP
	defaultMaxUnestablished = 1000 // SoftEther Cedar.h DEFAULT_MAX_UNESTABLISHED_CONNECTIONS
	// defaultMaxPendingPerSource is how many connections one source may
	// have in the handshake at once: as many as the connection-rate check
	// lets through in one burst.
	defaultMaxPendingPerSource = dosMaxPerEntry
	// defaultHandshakeTimeout bounds the unauthenticated phase of every
	// connection: TLS, the VPN preamble and login, the admin RPC login, and
	// a JSON-RPC connection until one of its requests authenticates.
	defaultHandshakeTimeout = 15 * time.Second
	// defaultMaxWebConns caps the authenticated JSON-RPC connections (kept
	// alive between requests); unauthenticated ones count as handshakes.
	defaultMaxWebConns = 64
	refusalLogInterval = 10 * time.Second
)

// The connection-rate check of SoftEther's Listener.c CheckDosAttack, with
// its numbers (Cedar.h DOS_TABLE_*): a source's entry lives while new
// connections keep coming within its span, which starts at 250 ms and
// doubles with each connection up to 1 s; the list is swept every 10 s and
// an entry ends at the latest 3000 s after it began. Connections beyond the
// 16th of one entry are refused, and refused ones prolong the entry, so a
// source that keeps hammering stays refused until it pauses. As SoftEther
// does for JSON-RPC, an authenticated connection clears its source's entry;
// ethervpn does so for every kind of login, so that a client opening many
// connections of one session is never refused.
const (
	dosMaxPerEntry   = 16
	dosExpiresFirst  = 250 * time.Millisecond
	dosExpiresMax    = time.Second
	dosSweepInterval = 10 * time.Second
	dosExpiresTotal  = 3000 * time.Second
)

// sourceKey is the unit the per-source limits count: an IPv4 address, or
// the /64 an IPv6 address belongs to (one host usually holds a whole /64,
// so counting single IPv6 addresses would limit nothing).
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.Addr()
	}
	return a
}

// connLimiter counts live TCP connections per source address and those
// still in the handshake, in total and per source, and refuses new ones
// over the limits or over the connection rate. A refused connection is
// closed at once, before TLS, so a flood costs little.
type connLimiter struct {
	perIP, unestablished, pendingPerSource int // limits; 0 = none
	rateCheck                              bool
	handshake                              time.Duration // unauthenticated phase; see defaultHandshakeTimeout
	maxWeb                                 int           // authenticated JSON-RPC connections; 0 = none

	mu      sync.Mutex
	live    map[netip.Addr]int // live connections per address
	sources map[netip.Addr]*sourceState
	pending int // connections still in the handshake
	swept   time.Time

	webSlots admin.WebSlots // places of the authenticated JSON-RPC connections (maxWeb)
	lastLog  atomic.Int64   // unix nanoseconds of the last refusal log line
}

// sourceState is what connLimiter keeps per source (see sourceKey).
type sourceState struct {
	pending int
	// The connection-rate entry; count 0 means none.
	count       int
	first, last time.Time
	span        time.Duration
}

// newConnLimiter returns a limiter with SoftEther's rate check and the
// default per-source, handshake and JSON-RPC limits; perIP and
// unestablished are the two SoftEther config items (0 = no limit).
func newConnLimiter(perIP, unestablished int) *connLimiter {
	return &connLimiter{
		perIP: perIP, unestablished: unestablished, pendingPerSource: defaultMaxPendingPerSource,
		rateCheck: true, handshake: defaultHandshakeTimeout, maxWeb: defaultMaxWebConns,
		live: map[netip.Addr]int{}, sources: map[netip.Addr]*sourceState{},
	}
}

// noDosProtection is a limiter that only counts, for DisableDosProtection.
// Handshakes still time out.
func noDosProtection() *connLimiter {
	l := newConnLimiter(0, 0)
	l.pendingPerSource, l.rateCheck, l.maxWeb = 0, false, 0
	return l
}

// admit reserves a slot for a new connection from addr; ok is false when a
// limit is reached, with the reason.
func (l *connLimiter) admit(addr netip.Addr) (ok bool, reason string) {
	return l.admitAt(addr, time.Now())
}

func (l *connLimiter) admitAt(addr netip.Addr, now time.Time) (ok bool, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	key := sourceKey(addr)
	src := l.sources[key]
	if src == nil {
		src = &sourceState{}
		l.sources[key] = src
	}
	if l.rateCheck {
		// Every attempt counts, refused ones too, as in CheckDosAttack.
		if src.count == 0 {
			src.count, src.first, src.last, src.span = 1, now, now, dosExpiresFirst
		} else {
			src.count++
			src.last = now
			src.span = min(2*src.span, dosExpiresMax)
		}
		if src.count > dosMaxPerEntry {
			return false, "too many new connections from this address in a short time"
		}
	}
	switch {
	case l.perIP > 0 && l.live[addr] >= l.perIP:
		return false, "too many connections from this address"
	case l.pendingPerSource > 0 && src.pending >= l.pendingPerSource:
		return false, "too many connections from this address still in the handshake"
	case l.unestablished > 0 && l.pending >= l.unestablished:
		return false, "too many connections still in the handshake"
	}
	l.live[addr]++
	src.pending++
	l.pending++
	return true, ""
}

// sweepLocked forgets rate entries that have ended, every dosSweepInterval
// as SoftEther's RefreshDosList does, and sources with nothing left.
func (l *connLimiter) sweepLocked(now time.Time) {
	if now.Sub(l.swept) < dosSweepInterval {
		return
	}
	l.swept = now
	for k, src := range l.sources {
		if src.count > 0 && (!now.Before(src.last.Add(src.span)) || !now.Before(src.first.Add(dosExpiresTotal))) {
			src.count = 0
		}
		if src.count == 0 && src.pending == 0 {
			delete(l.sources, k)
		}
	}
}

// established marks a reserved connection from addr as past its
// handshake (authenticated): it no longer counts as unestablished, and its
// source's rate entry is cleared.
func (l *connLimiter) established(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending--
	key := sourceKey(addr)
	if src := l.sources[key]; src != nil {
		src.pending--
		src.count = 0
		if src.pending == 0 {
			delete(l.sources, key)
		}
	}
}

// release frees the slot of a closed connection.
func (l *connLimiter) release(addr netip.Addr, wasPending bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wasPending {
		l.pending--
		key := sourceKey(addr)
		if src := l.sources[key]; src != nil {
			if src.pending--; src.pending == 0 && src.count == 0 {
				delete(l.sources, key)
			}
		}
	}
	if l.live[addr]--; l.live[addr] <= 0 {
		delete(l.live, addr)
	}
}

// pendingCount is the number of connections still in the handshake.
func (l *connLimiter) pendingCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending
}

// shouldLog rate-limits refusal log lines: a flood must not flood the log.
func (l *connLimiter) shouldLog(now time.Time) bool {
	last := l.lastLog.Load()
	return now.UnixNano()-last >= int64(refusalLogInterval) && l.lastLog.CompareAndSwap(last, now.UnixNano())
}

// limitedConn returns its limiter slot when closed, once.
type limitedConn struct {
	net.Conn
	l       *connLimiter
	addr    netip.Addr
	pending atomic.Bool
	once    sync.Once
}

// handshakeDone is called when the connection has authenticated (joined a
// session, logged in to the admin RPC, or made an authenticated JSON-RPC
// request): it no longer counts as unestablished.
func (c *limitedConn) handshakeDone() {
	if c.pending.CompareAndSwap(true, false) {
		c.l.established(c.addr)
	}
}

// SyscallConn exposes the socket, for the data phase's non-blocking writes.
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("server: connection has no descriptor")
	}
	return sc.SyscallConn()
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.addr, c.pending.Swap(false)) })
	return c.Conn.Close()
}

// newConnLimiterFromConfig applies ServerConfiguration's DoS items; 0 (or
// absent) means SoftEther's default, and, as SoftEther's
// SetMaxUnestablishedConnections does, the unestablished limit is never
// below the per-address one.
func newConnLimiterFromConfig(cfg *config.Server) *connLimiter {
	sc := cfg.Tree.Folder("ServerConfiguration")
	if sc == nil {
		return newConnLimiter(defaultMaxConnsPerIP, defaultMaxUnestablished)
	}
	if sc.GetBool("DisableDosProtection") {
		return noDosProtection()
	}
	perIP, pending := int(sc.GetUint("MaxConnectionsPerIP")), int(sc.GetUint("MaxUnestablishedConnections"))
	if perIP == 0 {
		perIP = defaultMaxConnsPerIP
	}
	if pending == 0 {
		pending = defaultMaxUnestablished
	}
	return newConnLimiter(perIP, max(pending, perIP))
}
