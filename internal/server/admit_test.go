package server

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// loginBurst starts n logins with o at the same instant and counts those
// that got in; a refusal other than want is a test error.
func loginBurst(t *testing.T, addr string, o client.Options, n int, want vpnerr.Error) int {
	t.Helper()
	errs := make(chan error, n)
	var ready sync.WaitGroup
	start := make(chan struct{})
	for range n {
		ready.Add(1)
		go func() {
			ready.Done()
			<-start
			_, err := tryLogin(addr, o)
			errs <- err
		}()
	}
	ready.Wait()
	close(start)
	ok := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !errors.Is(err, want):
			t.Errorf("login %s: %v, want success or %v", o.User, err, want)
		}
	}
	return ok
}

// The hub's MaxSession and a user's policy MultiLogins hold under 50
// logins at once: the count and the attach of the new session are one
// step under the hub's admission lock (see admit), so logins racing each
// other cannot all pass the check before any of them is counted.
func TestConcurrentLoginsMaxSessionMultiLogins(t *testing.T) {
	const n = 50
	srv, addr := testServer(t,
		withPolicy("alice", func(p *config.Policy) { p.MultiLogins = 2 }),
		func(s *Server) {
			s.mu.Lock()
			s.hubs["DEFAULT"].cfg.MaxSession = 5
			s.mu.Unlock()
			// 50 handshakes from one address at once: more than the
			// DoS protection lets through, and not what this tests.
			s.conns = noDosProtection()
			// Every login that passes the limits lingers before its
			// attach, so that a login checked in that window without
			// counting this one would get in.
			s.testAdmitted = func() { time.Sleep(20 * time.Millisecond) }
		})
	if got := loginBurst(t, addr, alice(), n, vpnerr.TooManyUserSession); got != 2 {
		t.Errorf("%d of %d concurrent logins of a user with MultiLogins 2 got in, want 2", got, n)
	}
	if got := loginBurst(t, addr, client.Options{User: "guest", Anonymous: true}, n, vpnerr.HubIsBusy); got != 3 {
		t.Errorf("%d of %d concurrent logins got in with 2 sessions open and MaxSession 5, want 3", got, n)
	}
	if got := len(srv.Sessions()); got != 5 {
		t.Errorf("%d sessions registered, want MaxSession = 5", got)
	}
}
