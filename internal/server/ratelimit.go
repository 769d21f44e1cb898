package server

import (
	"net/netip"
	"sync"
	"time"
)

// Failed logins are slowed down, never refused: a wrong password is answered
// only after a delay that grows with the recent failures of its source, so
// that guessing is slow and loud, while a correct password is answered at
// once whatever happened before (a lockout would let anyone keep a user or
// the administrator out by failing on purpose). SoftEther has no such
// limiter. VPN logins and administrator logins (binary RPC and JSON-RPC)
// keep separate counts. A connection that waits for its answer gives its
// handshake slot back (so that wrong passwords never keep a correct one from
// the same source out) but counts among its source's waiting answers, whose
// bound (see connLimiter.delayAnswer) caps the guesses one source can have
// in flight: at the longest delay, defaultMaxDelayedPerSource guesses per
// failMaxDelay; a wrong password beyond it is closed without an answer.
const (
	failBaseDelay = 250 * time.Millisecond // the first failure's delay; doubled by each further one
	failMaxDelay  = 10 * time.Second
	failForget    = 5 * time.Minute // a source without failures for this long starts again
	failSources   = 1 << 16         // sources remembered at most
)

// loginLimiters are the two failure counts of the server.
type loginLimiters struct {
	vpn   *failLimiter // VPN logins
	admin *failLimiter // administrator logins, binary RPC and JSON-RPC
}

func newLoginLimiters() *loginLimiters {
	return &loginLimiters{vpn: newFailLimiter(), admin: newFailLimiter()}
}

// failLimiter counts the failed logins of each source (see sourceKey: an
// IPv4 address or an IPv6 /64) and says how long to hold each failure's
// answer.
type failLimiter struct {
	base, max, forget time.Duration
	maxSources        int

	mu    sync.Mutex
	fails map[netip.Addr]failRecord
	swept time.Time
}

type failRecord struct {
	n    int // failures since the source was last quiet for forget
	last time.Time
}

func newFailLimiter() *failLimiter {
	return &failLimiter{base: failBaseDelay, max: failMaxDelay, forget: failForget, maxSources: failSources, fails: map[netip.Addr]failRecord{}}
}

// fail records a failed login from addr and returns how long the caller
// must wait before it answers: base for a source's first failure, doubled
// by each further one, at most max. The caller waits without holding any
// lock.
func (l *failLimiter) fail(addr netip.Addr, now time.Time) time.Duration {
	key := sourceKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= l.forget {
		for k, r := range l.fails {
			if now.Sub(r.last) >= l.forget {
				delete(l.fails, k)
			}
		}
		l.swept = now
	}
	r, ok := l.fails[key]
	if !ok && len(l.fails) >= l.maxSources {
		// Failures from more sources than the table holds: an attack from
		// very many addresses. Newcomers get the longest delay rather than
		// an unbounded table.
		return l.max
	}
	if now.Sub(r.last) >= l.forget {
		r.n = 0
	}
	r.n++
	r.last = now
	l.fails[key] = r
	return l.delay(r.n)
}

// delay is the wait for the n-th failure.
func (l *failLimiter) delay(n int) time.Duration {
	d := l.base
	for i := 1; i < n && d < l.max; i++ {
		d *= 2
	}
	return min(d, l.max)
}

// failures returns the failures on record for addr's source.
func (l *failLimiter) failures(addr netip.Addr, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.fails[sourceKey(addr)]
	if now.Sub(r.last) >= l.forget {
		return 0
	}
	return r.n
}
