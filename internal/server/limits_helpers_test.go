package server

import (
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
)

// withAdmin installs the admin front-ends as cmd/ethervpn does.
func withAdmin(s *Server) {
	d := s.Dispatcher()
	s.SetAdmin(s.AdminRPC(d), admin.NewWebHandler(d, s.AdminAuthenticator(), nil))
}

// failDelays sets the answer delays of wrong passwords (see failLimiter),
// VPN and admin alike, so that tests of many failures run fast.
func failDelays(base, max time.Duration) func(*Server) {
	return func(s *Server) {
		for _, l := range []*failLimiter{s.limiter.vpn, s.limiter.admin} {
			l.base, l.max = base, max
		}
	}
}

// withHandshakeTimeout sets how long a connection may stay unauthenticated.
func withHandshakeTimeout(d time.Duration) func(*Server) {
	return func(s *Server) { s.conns.handshake = d }
}
