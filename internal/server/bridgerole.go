package server

import (
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
)

// BridgeHub is the one Virtual Hub of a VPN Bridge.
const BridgeHub = "BRIDGE"

// SetBridgeRole turns the server into a VPN Bridge, as SoftEther's
// vpnbridge: one hub called BRIDGE (created if missing; any other hub is
// removed), which reaches other servers through cascades and the local
// network through local bridges; VPN client logins are refused with error
// 33 (docs/protocol/session.md#server-roles). The admin interface stays available.
// Call it after Open and before Run or Serve.
func (s *Server) SetBridgeRole() error {
	s.bridgeRole.Store(true)
	var removed []*Hub
	s.mu.Lock()
	for _, h := range s.hubs {
		if !strings.EqualFold(h.cfg.Name, BridgeHub) {
			s.log.Info("a VPN Bridge has only the BRIDGE hub: removing virtual hub", "hub", h.cfg.Name)
			s.cfg.RemoveHub(h.cfg.Name)
			delete(s.hubs, strings.ToUpper(h.cfg.Name))
			h.Close()
			removed = append(removed, h)
		}
	}
	if s.hubs[BridgeHub] == nil {
		hc := config.NewHub(BridgeHub)
		s.cfg.Hubs = append(s.cfg.Hubs, hc)
		s.addHub(hc)
	}
	s.mu.Unlock()
	for _, h := range append(removed, s.Hubs()...) {
		s.ApplySecureNAT(h) // stops the removed hubs' SecureNAT
	}
	return s.Save()
}

// BridgeRole reports whether the server runs as a VPN Bridge.
func (s *Server) BridgeRole() bool { return s.bridgeRole.Load() }
