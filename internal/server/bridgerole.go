package server

import (
	"slices"
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
	// The owner's change closes the other hubs and starts BRIDGE (see
	// reconcile).
	return s.ctl.Update(func(next *config.Server) error {
		for _, h := range slices.Clone(next.Hubs) {
			if !strings.EqualFold(h.Name, BridgeHub) {
				s.log.Info("a VPN Bridge has only the BRIDGE hub: removing virtual hub", "hub", h.Name)
				next.RemoveHub(h.Name)
			}
		}
		if next.Hub(BridgeHub) == nil {
			next.Hubs = append(next.Hubs, config.NewHub(BridgeHub))
		}
		return nil
	})
}

// BridgeRole reports whether the server runs as a VPN Bridge.
func (s *Server) BridgeRole() bool { return s.bridgeRole.Load() }
