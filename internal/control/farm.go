package control

import (
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Hub types in a server farm (config.Hub.Type): a static hub runs on every
// node, a dynamic hub on one node at a time. Which types a server offers
// (standalone only, or static and dynamic in a farm) is the admin
// front-end's to say, as SoftEther's StCreateHub and StSetHub decide by
// the server's type; the owner keeps what holds on any server.

// checkHubType validates the change of hub h (nil for a new hub) to type
// t by who.
func checkHubType(who Actor, h *config.Hub, t uint32) error {
	switch {
	case t > config.HubDynamic:
		return vpnerr.InvalidParameter
	case h == nil:
		return nil
	case h.Type == t, h.Type == config.HubStandalone && t == config.HubDynamic:
		// A standalone hub runs as a dynamic one in a farm, where the
		// admin methods show it as dynamic (SoftEther's controller turns
		// it into one): setting what was shown changes nothing.
		return nil
	case !who.ServerAdmin: // as SoftEther's StSetHub: only a server admin changes a hub's type
		return vpnerr.NotEnoughRight
	case t == config.HubStatic && h.SecureNAT.Enabled:
		// SecureNAT cannot run on a static hub: every node would hand
		// out the same addresses (SoftEther Admin.c, StEnableSecureNAT).
		return vpnerr.NotSupported
	}
	return nil
}

// secureNATAllowed reports whether SecureNAT may be enabled on h: not on
// a static hub (ERR_NOT_SUPPORTED, as SoftEther's StEnableSecureNAT).
func secureNATAllowed(h *config.Hub) error {
	if h.Type == config.HubStatic {
		return vpnerr.NotSupported
	}
	return nil
}
