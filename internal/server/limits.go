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
// TCPAccepted); the rest is ethervpn's own: the per-source cap on
// connections still in the handshake, so that one source can never take all
// the handshake slots; the eviction that keeps the slots fair when many
// sources fill them all (SoftEther refuses every newcomer then); and the
// separate bound on wrong-password answers waiting out their delay.
const (
	defaultMaxConnsPerIP    = 256  // SoftEther Cedar.h DEFAULT_MAX_CONNECTIONS_PER_IP
	defaultMaxUnestablished = 1000 // SoftEther Cedar.h DEFAULT_MAX_UNESTABLISHED_CONNECTIONS
	// defaultMaxPendingPerSource is how many connections one source may
	// have in the handshake at once: as many as the connection-rate check
	// lets through in one burst.
	defaultMaxPendingPerSource = dosMaxPerEntry
	// defaultMaxDelayedPerSource is how many wrong-password answers one
	// source may have waiting out their delay (see failLimiter); beyond it
	// a wrong password is closed without an answer. Waiting answers hold no
	// handshake slot, so they never keep a correct login out.
	defaultMaxDelayedPerSource = dosMaxPerEntry
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
// source that keeps hammering stays refused until it pauses. As in
// SoftEther, the server's own addresses (localhost) are checked like any
// other: a local program that hammers the server keeps the local
// administrator out too until it pauses. As SoftEther does for JSON-RPC, an
// authenticated connection clears its source's entry; ethervpn does so for
// every kind of login, so that a client opening many connections of one
// session is never refused.
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
//
// When every handshake slot is taken, a connection from a source that holds
// fewer of them than the heaviest source takes the slot of that source's
// oldest connection, which is closed. So sources that fill the pool can
// never starve a new one: a legitimate login needs its slot only for a
// round trip or two, while an attacker can take it back only from a source
// holding fewer slots still.
type connLimiter struct {
	perIP, unestablished, pendingPerSource int // limits; 0 = none
	delayedPerSource, maxDelayed           int // waiting wrong-password answers, per source and in all; 0 = none
	rateCheck                              bool
	handshake                              time.Duration // unauthenticated phase; see defaultHandshakeTimeout
	maxWeb                                 int           // authenticated JSON-RPC connections; 0 = none

	mu      sync.Mutex
	live    map[netip.Addr]int // live connections per address
	sources map[netip.Addr]*sourceState
	pending int // connections still in the handshake
	delayed int // wrong-password answers waiting out their delay
	// tiers[n] lists the sources with n connections in the handshake (n >=
	// 1), in the order they got there; top is the highest non-empty tier.
	tiers   []tier
	top     int
	evicted uint64 // connections closed to make room for a lighter source
	swept   time.Time

	webSlots admin.WebSlots // places of the authenticated JSON-RPC connections (maxWeb)
	lastLog  atomic.Int64   // unix nanoseconds of the last refusal log line
}

// tier is a list of sources with the same number of pending connections.
type tier struct{ head, tail *sourceState }

// sourceState is what connLimiter keeps per source (see sourceKey).
type sourceState struct {
	pending, delayed int
	// The source's connections in the handshake, oldest first.
	oldest, newest *connSlot
	// Neighbours in tiers[pending].
	tprev, tnext *sourceState
	// The connection-rate entry; count 0 means none.
	count       int
	first, last time.Time
	span        time.Duration
}

// slotState is where an admitted connection stands in the limiter.
type slotState uint8

const (
	slotPending slotState = iota // in the handshake
	slotDelayed                  // waiting out a wrong password's delay
	slotDone                     // authenticated, evicted or closed: only its address still counts
)

// connSlot is one admitted connection's place in the limiter.
type connSlot struct {
	addr       netip.Addr
	src        *sourceState
	state      slotState
	prev, next *connSlot // in src's pending list
	// evict closes the connection when its slot goes to a lighter source;
	// it is called without the limiter's lock.
	evict func()
}

// newConnLimiter returns a limiter with SoftEther's rate check and the
// default per-source, handshake and JSON-RPC limits; perIP and
// unestablished are the two SoftEther config items (0 = no limit).
func newConnLimiter(perIP, unestablished int) *connLimiter {
	return &connLimiter{
		perIP: perIP, unestablished: unestablished, pendingPerSource: defaultMaxPendingPerSource,
		delayedPerSource: defaultMaxDelayedPerSource, maxDelayed: unestablished,
		rateCheck: true, handshake: defaultHandshakeTimeout, maxWeb: defaultMaxWebConns,
		live: map[netip.Addr]int{}, sources: map[netip.Addr]*sourceState{},
	}
}

// noDosProtection is a limiter that only counts, for DisableDosProtection.
// Handshakes still time out.
func noDosProtection() *connLimiter {
	l := newConnLimiter(0, 0)
	l.pendingPerSource, l.delayedPerSource, l.rateCheck, l.maxWeb = 0, 0, false, 0
	return l
}

// accept admits the connection c from addr, or returns the reason it must
// be refused (the caller then closes c).
func (l *connLimiter) accept(c net.Conn, addr netip.Addr) (*limitedConn, string) {
	lc := &limitedConn{Conn: c, l: l}
	slot, reason := l.admitAt(addr, time.Now(), func() { c.Close() })
	if slot == nil {
		return nil, reason
	}
	lc.slot = slot
	return lc, ""
}

// admitAt reserves a handshake slot for a new connection from addr, or
// returns nil and the reason it is refused. evict closes the connection
// should its slot go to a lighter source later.
func (l *connLimiter) admitAt(addr netip.Addr, now time.Time, evict func()) (*connSlot, string) {
	l.mu.Lock()
	slot, victim, reason := l.admitLocked(addr, now, evict)
	l.mu.Unlock()
	if victim != nil {
		victim()
	}
	return slot, reason
}

func (l *connLimiter) admitLocked(addr netip.Addr, now time.Time, evict func()) (slot *connSlot, victim func(), reason string) {
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
			return nil, nil, "too many new connections from this address in a short time"
		}
	}
	switch {
	case l.perIP > 0 && l.live[addr] >= l.perIP:
		return nil, nil, "too many connections from this address"
	case l.pendingPerSource > 0 && src.pending >= l.pendingPerSource:
		return nil, nil, "too many connections from this address still in the handshake"
	case l.unestablished > 0 && l.pending >= l.unestablished:
		if l.top <= src.pending {
			// This source holds as many as any: taking from another
			// would be no fairer.
			return nil, nil, "too many connections still in the handshake"
		}
		old := l.tiers[l.top].head.oldest
		l.unpendLocked(old)
		old.state = slotDone
		l.forgetLocked(old)
		l.evicted++
		victim = old.evict
	}
	l.live[addr]++
	slot = &connSlot{addr: addr, src: src, evict: evict}
	l.pendLocked(slot)
	return slot, victim, ""
}

// pendLocked counts slot as in the handshake, the newest of its source.
func (l *connLimiter) pendLocked(slot *connSlot) {
	src := slot.src
	if src.newest == nil {
		src.oldest = slot
	} else {
		src.newest.next, slot.prev = slot, src.newest
	}
	src.newest = slot
	l.moveLocked(src, src.pending+1)
	l.pending++
}

// unpendLocked takes a pending slot out of the handshake count.
func (l *connLimiter) unpendLocked(slot *connSlot) {
	src := slot.src
	if slot.prev == nil {
		src.oldest = slot.next
	} else {
		slot.prev.next = slot.next
	}
	if slot.next == nil {
		src.newest = slot.prev
	} else {
		slot.next.prev = slot.prev
	}
	slot.prev, slot.next = nil, nil
	l.moveLocked(src, src.pending-1)
	l.pending--
}

// moveLocked sets src's pending count to n and moves it to the end of
// tiers[n].
func (l *connLimiter) moveLocked(src *sourceState, n int) {
	if old := src.pending; old > 0 {
		t := &l.tiers[old]
		if src.tprev == nil {
			t.head = src.tnext
		} else {
			src.tprev.tnext = src.tnext
		}
		if src.tnext == nil {
			t.tail = src.tprev
		} else {
			src.tnext.tprev = src.tprev
		}
		src.tprev, src.tnext = nil, nil
	}
	src.pending = n
	if n > 0 {
		for len(l.tiers) <= n {
			l.tiers = append(l.tiers, tier{})
		}
		t := &l.tiers[n]
		if t.tail == nil {
			t.head = src
		} else {
			t.tail.tnext, src.tprev = src, t.tail
		}
		t.tail = src
		l.top = max(l.top, n)
	}
	for l.top > 0 && l.tiers[l.top].head == nil {
		l.top--
	}
}

// forgetLocked drops slot's source once nothing of it is left.
func (l *connLimiter) forgetLocked(slot *connSlot) {
	if src := slot.src; src.pending == 0 && src.delayed == 0 && src.count == 0 {
		key := sourceKey(slot.addr)
		if l.sources[key] == src {
			delete(l.sources, key)
		}
	}
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
		if src.count == 0 && src.pending == 0 && src.delayed == 0 {
			delete(l.sources, k)
		}
	}
}

// established marks a connection as past its handshake (authenticated):
// it no longer counts as unestablished, and its source's rate entry is
// cleared.
func (l *connLimiter) established(slot *connSlot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if slot.state != slotPending {
		return
	}
	l.unpendLocked(slot)
	slot.state = slotDone
	slot.src.count = 0
	l.forgetLocked(slot)
}

// delayAnswer moves a connection that is about to wait out a wrong
// password's delay from the handshake count to the count of waiting
// answers, so that it keeps no correct login from its source out. False
// means its source, or the server, has as many answers waiting as allowed:
// the caller closes the connection without an answer (and without
// waiting), so a source can never have more guesses in flight than that.
func (l *connLimiter) delayAnswer(slot *connSlot) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	src := slot.src
	if slot.state != slotPending ||
		l.delayedPerSource > 0 && src.delayed >= l.delayedPerSource ||
		l.maxDelayed > 0 && l.delayed >= l.maxDelayed {
		return false
	}
	l.unpendLocked(slot)
	slot.state = slotDelayed
	src.delayed++
	l.delayed++
	return true
}

// release frees the slot of a closed connection.
func (l *connLimiter) release(slot *connSlot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch slot.state {
	case slotPending:
		l.unpendLocked(slot)
	case slotDelayed:
		slot.src.delayed--
		l.delayed--
	}
	slot.state = slotDone
	l.forgetLocked(slot)
	if l.live[slot.addr]--; l.live[slot.addr] <= 0 {
		delete(l.live, slot.addr)
	}
}

// pendingCount is the number of connections still in the handshake.
func (l *connLimiter) pendingCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending
}

// delayedCount is the number of wrong-password answers waiting.
func (l *connLimiter) delayedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.delayed
}

// shouldLog rate-limits refusal log lines: a flood must not flood the log.
func (l *connLimiter) shouldLog(now time.Time) bool {
	last := l.lastLog.Load()
	return now.UnixNano()-last >= int64(refusalLogInterval) && l.lastLog.CompareAndSwap(last, now.UnixNano())
}

// limitedConn returns its limiter slot when closed, once.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	slot *connSlot
	once sync.Once
}

// handshakeDone is called when the connection has authenticated (joined a
// session, logged in to the admin RPC, or made an authenticated JSON-RPC
// request): it no longer counts as unestablished.
func (c *limitedConn) handshakeDone() { c.l.established(c.slot) }

// delayAnswer is called before the connection waits out a wrong
// password's delay; see connLimiter.delayAnswer.
func (c *limitedConn) delayAnswer() bool { return c.l.delayAnswer(c.slot) }

// SyscallConn exposes the socket, for the data phase's non-blocking writes.
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("server: connection has no descriptor")
	}
	return sc.SyscallConn()
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.slot) })
	return c.Conn.Close()
}

// newConnLimiterFromConfig applies ServerConfiguration's DoS items; 0 (or
// absent) means SoftEther's default, and, as SoftEther's
// SetMaxUnestablishedConnections does, the unestablished limit is never
// below the per-address one.
func newConnLimiterFromConfig(cfg *config.Server) *connLimiter {
	opt := cfg.Options
	if opt.DisableDosProtection {
		return noDosProtection()
	}
	perIP, pending := int(opt.MaxConnectionsPerIP), int(opt.MaxUnestablishedConnections)
	if perIP == 0 {
		perIP = defaultMaxConnsPerIP
	}
	if pending == 0 {
		pending = defaultMaxUnestablished
	}
	return newConnLimiter(perIP, max(pending, perIP))
}
