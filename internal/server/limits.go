package server

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
)

// Connection limits against floods, with SoftEther's defaults and config
// items (ServerConfiguration/MaxConnectionsPerIP, MaxUnestablishedConnections,
// DisableDosProtection).
const (
	defaultMaxConnsPerIP    = 256
	defaultMaxUnestablished = 1000
	refusalLogInterval      = 10 * time.Second
)

// connLimiter counts live TCP connections per source address and those
// still in the handshake, and refuses new ones over the limits. A refused
// connection is closed at once, before TLS, so a flood costs little.
type connLimiter struct {
	perIP, unestablished int // limits; 0 = none

	mu      sync.Mutex
	live    map[netip.Addr]int
	pending atomic.Int64

	lastLog atomic.Int64 // unix nanoseconds of the last refusal log line
}

func newConnLimiter(perIP, unestablished int) *connLimiter {
	return &connLimiter{perIP: perIP, unestablished: unestablished, live: map[netip.Addr]int{}}
}

// admit reserves a slot for a new connection from addr; ok is false when a
// limit is reached, with the reason.
func (l *connLimiter) admit(addr netip.Addr) (ok bool, reason string) {
	if l.unestablished > 0 && l.pending.Load() >= int64(l.unestablished) {
		return false, "too many connections still in the handshake"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP > 0 && l.live[addr] >= l.perIP {
		return false, "too many connections from this address"
	}
	l.live[addr]++
	l.pending.Add(1)
	return true, ""
}

// established marks a reserved connection as past its handshake.
func (l *connLimiter) established() { l.pending.Add(-1) }

// release frees the slot of a closed connection.
func (l *connLimiter) release(addr netip.Addr, wasPending bool) {
	if wasPending {
		l.pending.Add(-1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live[addr]--; l.live[addr] <= 0 {
		delete(l.live, addr)
	}
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

// handshakeDone is called when the connection joins a session or the admin
// RPC: it no longer counts as unestablished.
func (c *limitedConn) handshakeDone() {
	if c.pending.CompareAndSwap(true, false) {
		c.l.established()
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
// absent) means SoftEther's default.
func newConnLimiterFromConfig(cfg *config.Server) *connLimiter {
	sc := cfg.Tree.Folder("ServerConfiguration")
	if sc == nil {
		return newConnLimiter(defaultMaxConnsPerIP, defaultMaxUnestablished)
	}
	if sc.GetBool("DisableDosProtection") {
		return newConnLimiter(0, 0)
	}
	perIP, pending := int(sc.GetUint("MaxConnectionsPerIP")), int(sc.GetUint("MaxUnestablishedConnections"))
	if perIP == 0 {
		perIP = defaultMaxConnsPerIP
	}
	if pending == 0 {
		pending = defaultMaxUnestablished
	}
	return newConnLimiter(perIP, pending)
}
