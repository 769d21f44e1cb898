package server

import (
	"net/netip"
	"sync"
	"time"
)

// loginLimiter refuses logins from a source address that failed too often
// recently, so that password guessing over the VPN port is slow and loud.
// It keeps a sliding window of failure times per address and forgets
// addresses that have been quiet for a window.
type loginLimiter struct {
	window   time.Duration
	maxFails int

	mu    sync.Mutex
	fails map[netip.Addr][]time.Time
	swept time.Time
}

func newLoginLimiter(window time.Duration, maxFails int) *loginLimiter {
	return &loginLimiter{window: window, maxFails: maxFails, fails: map[netip.Addr][]time.Time{}}
}

// blocked reports whether addr has used up its failed attempts.
func (l *loginLimiter) blocked(addr netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recentLocked(addr, now)) >= l.maxFails
}

// fail records one failed login from addr.
func (l *loginLimiter) fail(addr netip.Addr, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fails[addr] = append(l.recentLocked(addr, now), now)
	if now.Sub(l.swept) > l.window {
		for a := range l.fails {
			if len(l.recentLocked(a, now)) == 0 {
				delete(l.fails, a)
			}
		}
		l.swept = now
	}
}

func (l *loginLimiter) recentLocked(addr netip.Addr, now time.Time) []time.Time {
	ts := l.fails[addr]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, addr)
		return nil
	}
	l.fails[addr] = ts
	return ts
}
