package server

import (
	"bufio"
	"crypto/subtle"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/admin"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// Administrator authentication, stricter than SoftEther's: with no server
// admin password set, administration is only possible from the server
// machine itself (SoftEther lets anyone in over JSON-RPC), and wrong admin
// passwords are answered slowly (see failLimiter; admin logins have their
// own count, apart from VPN logins).

// AdminRPC returns the handler for vpncmd's binary admin protocol (method
// "admin" after the hello) that runs d for authenticated administrators.
// Install it with SetAdmin.
func (s *Server) AdminRPC(d admin.Dispatcher) AdminRPC {
	return func(conn net.Conn, r *bufio.Reader, random [20]byte, p *pack.Pack, remote netip.Addr, authenticated func(), delayAnswer func() bool) {
		defer conn.Close()
		log := s.log.With("remote", remote.String())
		c, empty, delay, err := s.adminLogin(p, random, remote)
		reply := admin.AuthResult(err)
		if err == nil {
			authenticated()
			reply = admin.AuthOK(empty && p.Int("accept_empty_password") != 0)
		} else if delay > 0 {
			if !delayAnswer() {
				log.Info("too many wrong administrator passwords waiting for their answer from this address; closed without an answer")
				return
			}
			s.pause(delay) // a wrong password: answered slowly, holding no lock nor handshake slot
			conn.SetDeadline(time.Now().Add(s.conns.handshake))
		}
		if werr := wire.WritePack(conn, reply); werr != nil || err != nil {
			if err != nil {
				log.Warn("administrator login refused", "hub", p.Str("hubname"), "client", p.Str("client_str"), "err", err.Error())
				// As SoftEther does, give the client a moment to read the
				// answer before the connection closes.
				s.pause(100 * time.Millisecond)
			}
			return
		}
		log.Info("administrator logged in", "mode", callerName(c), "client", p.Str("client_str"))
		if err := admin.ServeRPC(s.life, conn, r, c, d, log); err != nil {
			log.Info("admin connection ended", "err", err)
		}
	}
}

// adminLogin checks vpncmd's "admin" request (docs/protocol/admin.md#auth-pack).
// empty reports that the stored password is the empty one; delay is how
// long to hold a failure's answer.
func (s *Server) adminLogin(p *pack.Pack, random [20]byte, remote netip.Addr) (c admin.Caller, empty bool, delay time.Duration, err error) {
	hubName, secure, err := admin.ParseAdminAuth(p)
	if err != nil {
		return c, false, 0, vpnerr.ProtocolError
	}
	now := time.Now()
	c = admin.Caller{ServerAdmin: hubName == "", Remote: remote, Via: "rpc",
		Client: p.Str("client_str"), ClientBuild: p.Int("client_build")}
	cur := s.ctl.Current()
	var stored []byte
	if c.ServerAdmin {
		stored = cur.AdminPasswordHash
	} else if h := cur.Hub(hubName); h != nil {
		c.Hub = h.Name
		stored = h.HashedPassword
	} else {
		// Probing for hub names is a failure too.
		return c, false, s.limiter.admin.fail(remote, now), vpnerr.HubNotFound
	}

	if len(stored) == sha0.Size && isZero(stored) { // no password hashes to zero: JSON-RPC refuses it too
		return c, false, s.limiter.admin.fail(remote, now), vpnerr.AccessDenied
	}
	empty = config.IsEmptyPasswordHash(stored)
	if empty {
		if !remote.IsLoopback() {
			return c, true, 0, vpnerr.NullPasswordLocalOnly
		}
		e := sha0.AdminHash("")
		stored = e[:]
	}
	if !checkSecure(stored, random, secure) {
		return c, empty, s.limiter.admin.fail(remote, now), vpnerr.AccessDenied
	}
	return c, empty, 0, nil
}

// AdminAuthenticator returns the credential check of the JSON-RPC API
// (docs/protocol/admin.md#json-rpc-login): the user name "" or "administrator" with the
// server password is a server admin, a hub name with that hub's password
// is its hub admin (hubs without a password cannot be administered this
// way). With no server password set, any credentials from localhost make a
// server admin and nothing is accepted from elsewhere. A wrong password is
// answered slowly (see failLimiter).
func (s *Server) AdminAuthenticator() admin.Authenticator {
	return func(hubName, password string, remote netip.Addr) (admin.Caller, error) {
		remote = remote.Unmap()
		c := admin.Caller{Remote: remote, Via: "json-rpc"}
		now := time.Now()
		got := sha0.AdminHash(password)
		cur := s.ctl.Current()
		server := cur.AdminPasswordHash
		var hubHash []byte
		if h := cur.Hub(hubName); h != nil && hubName != "" {
			c.Hub, hubHash = h.Name, h.HashedPassword
		}

		serverEmpty := config.IsEmptyPasswordHash(server)
		asServer := hubName == "" || strings.EqualFold(hubName, "administrator")
		switch {
		case asServer && !serverEmpty && subtle.ConstantTimeCompare(server, got[:]) == 1:
			c.ServerAdmin, c.Hub = true, ""
			return c, nil
		case !asServer && c.Hub != "" && !config.IsEmptyPasswordHash(hubHash) && !isZero(hubHash) &&
			subtle.ConstantTimeCompare(hubHash, got[:]) == 1:
			return c, nil
		case serverEmpty && remote.IsLoopback():
			c.ServerAdmin, c.Hub = true, ""
			return c, nil
		case serverEmpty && asServer:
			s.log.Warn("JSON-RPC administrator login refused", "remote", remote.String(), "err", errNoAdminPassword.Error())
			return c, vpnerr.NullPasswordLocalOnly
		}
		delay := s.limiter.admin.fail(remote, now)
		s.log.Warn("JSON-RPC administrator login refused", "remote", remote.String(), "hub", hubName, "err", "wrong password", "answer_delay", delay.String())
		time.Sleep(delay) // holding no lock
		return c, vpnerr.AccessDenied
	}
}

func callerName(c admin.Caller) string {
	if c.ServerAdmin {
		return "server admin"
	}
	return "hub admin of " + c.Hub
}
