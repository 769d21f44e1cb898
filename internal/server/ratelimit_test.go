package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

func TestFailLimiterDelays(t *testing.T) {
	l := newFailLimiter()
	a := netip.MustParseAddr("192.0.2.1")
	t0 := time.Now()
	var got []time.Duration
	for i := range 8 {
		got = append(got, l.fail(a, t0.Add(time.Duration(i)*time.Second)))
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	if n := l.failures(netip.MustParseAddr("192.0.2.2"), t0); n != 0 {
		t.Errorf("another address has %d failures", n)
	}
	// Quiet for failForget: starts again.
	if d := l.fail(a, t0.Add(8*time.Second+failForget)); d != failBaseDelay {
		t.Errorf("after %v without failures: delay %v, want %v", failForget, d, failBaseDelay)
	}
	// A full table gives newcomers the longest delay, and stays bounded.
	l = newFailLimiter()
	l.maxSources = 2
	l.fail(netip.MustParseAddr("192.0.2.1"), t0)
	l.fail(netip.MustParseAddr("192.0.2.2"), t0)
	if d := l.fail(netip.MustParseAddr("192.0.2.3"), t0); d != failMaxDelay || len(l.fails) != 2 {
		t.Errorf("full table: delay %v, %d sources, want %v and 2", d, len(l.fails), failMaxDelay)
	}
}

// IPv6 failures count per /64: a host holds a whole /64.
func TestFailLimiterIPv6Per64(t *testing.T) {
	l := newFailLimiter()
	now := time.Now()
	l.fail(netip.MustParseAddr("2001:db8:1:2::1"), now)
	if d := l.fail(netip.MustParseAddr("2001:db8:1:2:ffff:ffff:ffff:ffff"), now); d != 2*failBaseDelay {
		t.Errorf("second failure in one /64: delay %v, want %v", d, 2*failBaseDelay)
	}
	if n := l.failures(netip.MustParseAddr("2001:db8:1:2::abcd"), now); n != 2 {
		t.Errorf("the /64 has %d failures, want 2", n)
	}
	if n := l.failures(netip.MustParseAddr("2001:db8:1:3::1"), now); n != 0 {
		t.Errorf("the next /64 has %d failures, want 0", n)
	}
	l.fail(netip.MustParseAddr("::ffff:192.0.2.1"), now)
	if n := l.failures(netip.MustParseAddr("192.0.2.1"), now); n != 1 {
		t.Errorf("an IPv4-mapped address and its IPv4 address: %d failures, want 1", n)
	}
}

func vpnLogin(addr, user, password string) error {
	_, c, err := client.Login(context.Background(), &client.Options{Server: addr, Hub: "DEFAULT", User: user, Password: password})
	if err == nil {
		c.Raw.Close()
	}
	return err
}

// Many wrong VPN passwords from an address slow the wrong ones down; the
// right password from that address is still accepted, at once.
func TestVPNLoginAfterFailures(t *testing.T) {
	const delay = 2 * time.Second
	s, addr := testServer(t, failDelays(10*time.Millisecond, 40*time.Millisecond))
	for i := range 15 {
		if err := vpnLogin(addr, "carol", "guess"); !errors.Is(err, vpnerr.AuthFailed) {
			t.Fatalf("wrong password %d: %v, want error 9", i+1, err)
		}
	}
	// With long delays now: a wrong password waits, the right one does not.
	failDelays(delay, delay)(s)
	start := time.Now()
	if err := vpnLogin(addr, "carol", "carolpw"); err != nil {
		t.Fatalf("right password after 15 wrong ones: %v", err)
	}
	if d := time.Since(start); d >= delay/2 {
		t.Errorf("the right password took %v: the failure delay is on its path", d)
	}
	start = time.Now()
	if err := vpnLogin(addr, "carol", "guess"); !errors.Is(err, vpnerr.AuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	if d := time.Since(start); d < delay {
		t.Errorf("the wrong password was answered after %v, want at least %v", d, delay)
	}
}

// VPN and admin logins keep separate counts: failing one kind neither
// slows nor refuses the other, and neither kind refuses a right password.
func TestLoginLimitersSeparate(t *testing.T) {
	s, addr := testServer(t, withAdmin, setAdminPassword("adminpw"), failDelays(time.Millisecond, 10*time.Millisecond))
	auth := s.AdminAuthenticator()
	for range 15 {
		if _, err := auth("", "wrong", loopback); !errors.Is(err, vpnerr.AccessDenied) {
			t.Fatalf("wrong JSON-RPC password: %v", err)
		}
		if c, err := admin.Dial(context.Background(), addr, "", "wrong"); err == nil {
			c.Close()
			t.Fatal("wrong admin password accepted")
		}
	}
	if err := vpnLogin(addr, "alice", "alicepw"); err != nil {
		t.Fatalf("VPN login after 30 wrong admin passwords: %v", err)
	}
	if n := s.limiter.vpn.failures(loopback, time.Now()); n != 0 {
		t.Errorf("admin failures counted %d VPN failures", n)
	}
	for range 15 {
		vpnLogin(addr, "alice", "wrong")
	}
	if n := s.limiter.admin.failures(loopback, time.Now()); n != 30 {
		t.Errorf("admin failures: %d, want 30 (VPN failures must not count)", n)
	}
	// The local administrator is not kept out by local wrong passwords,
	// over either admin protocol.
	c, err := admin.Dial(context.Background(), addr, "", "adminpw")
	if err != nil {
		t.Fatalf("admin RPC with the right password: %v", err)
	}
	c.Close()
	if code := dialWeb(t, addr).get("adminpw"); code != http.StatusOK {
		t.Fatalf("JSON-RPC with the right password: %d", code)
	}
}

// A flood of wrong passwords from one address never keeps the right one
// out: while 100 wrong VPN and admin passwords from 127.0.0.1 wait for their
// answer, a VPN login and an admin login from 127.0.0.1 with the right
// passwords go through at once.
func TestRightPasswordDuringWrongPasswordFlood(t *testing.T) {
	const wrong, delay = 100, 10 * time.Second
	s, addr := testServer(t, withAdmin, setAdminPassword("adminpw"), failDelays(delay, delay), func(s *Server) {
		// SoftEther's rate check refuses the 17th connection of a burst from
		// one address whatever it carries (see TestConnLimiterRate); this
		// is about handshake slots.
		s.conns.rateCheck = false
		s.conns.delayedPerSource = wrong
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	// In waves of 10, each once the previous one waits for its answer: the
	// handshakes of a wave take handshake slots (16 per source) until they
	// have sent their password.
	deadline := time.Now().Add(delay / 2)
	for i := range wrong {
		wg.Go(func() {
			if i%2 == 0 {
				vpnLogin(addr, "alice", "wrong")
			} else if c, err := admin.Dial(context.Background(), addr, "", "wrong"); err == nil {
				c.Close()
			}
		})
		if (i+1)%10 == 0 {
			for s.conns.delayedCount() < i+1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	if n := s.conns.delayedCount(); n != wrong {
		t.Errorf("%d wrong passwords waiting for their answer, want %d", n, wrong)
	}
	start := time.Now()
	if err := vpnLogin(addr, "alice", "alicepw"); err != nil {
		t.Errorf("right VPN password from the flooding address: %v", err)
	}
	c, err := admin.Dial(context.Background(), addr, "", "adminpw")
	if err != nil {
		t.Errorf("right admin password from the flooding address: %v", err)
	} else {
		c.Close()
	}
	if n := s.conns.delayedCount(); n != wrong {
		t.Errorf("after the right logins, %d wrong ones still waiting, want %d: the test did not overlap", n, wrong)
	}
	t.Logf("right logins during the flood took %v", time.Since(start).Round(time.Millisecond))
}

// Wrong passwords beyond a source's bound of waiting answers are closed at
// once without an answer, never held.
func TestWrongPasswordsBeyondBoundClosed(t *testing.T) {
	const delay = 5 * time.Second
	s, addr := testServer(t, failDelays(delay, delay), func(s *Server) { s.conns.delayedPerSource = 2 })
	type result struct {
		err  error
		took time.Duration
	}
	results := make(chan result, 3)
	for range 3 {
		go func() {
			start := time.Now()
			err := vpnLogin(addr, "alice", "wrong")
			results <- result{err, time.Since(start)}
		}()
	}
	first := <-results
	if first.took > delay/2 || first.err == nil || errors.Is(first.err, vpnerr.AuthFailed) {
		t.Errorf("3rd wrong password with 2 waiting: %v after %v, want closed at once without an answer", first.err, first.took)
	}
	if n := s.conns.delayedCount(); n != 2 {
		t.Errorf("%d waiting, want 2", n)
	}
	for range 2 {
		if r := <-results; r.took < delay || !errors.Is(r.err, vpnerr.AuthFailed) {
			t.Errorf("wrong password within the bound: %v after %v, want error 9 after %v", r.err, r.took, delay)
		}
	}
}
