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

// withHandshakeTimeout sets how long a connection may stay unauthenticated.
func withHandshakeTimeout(d time.Duration) func(*Server) {
	return func(s *Server) { s.conns.handshake = d }
}
