package control

import (
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Local bridges (docs/protocol/admin.md#local-bridges): a hub bridged to
// a network device of the host, or to a TAP device the server makes.

// findBridge is the index of the hub's bridge to device in list, or -1.
func findBridge(list []config.LocalBridge, hubName, device string) int {
	return slices.IndexFunc(list, func(b config.LocalBridge) bool {
		return strings.EqualFold(b.HubName, hubName) && strings.EqualFold(b.DeviceName, device)
	})
}

// AddLocalBridge bridges hub b.HubName to device b.DeviceName. Adding a
// pair that is there already changes nothing and is no error, as in
// SoftEther. A TAP bridge without a MAC address gets a new one.
func (o *Owner) AddLocalBridge(b config.LocalBridge) error {
	if b.HubName == "" || b.DeviceName == "" {
		return vpnerr.InvalidParameter
	}
	return o.Update(func(next *config.Server) error {
		bl := &next.LocalBridges
		if findBridge(bl.List, b.HubName, b.DeviceName) >= 0 {
			return nil
		}
		if b.TapMode && len(b.TapMAC) == 0 {
			b.TapMAC = config.DefaultSecureNAT().MAC // 00:AC + random, as our other virtual MACs
		}
		bl.List = append(bl.List, b.Clone())
		return nil
	})
}

// DeleteLocalBridge removes the bridge of hubName to device (what runs
// stops it; a TAP device the server made disappears).
func (o *Owner) DeleteLocalBridge(hubName, device string) error {
	if hubName == "" || device == "" {
		return vpnerr.InvalidParameter
	}
	return o.Update(func(next *config.Server) error {
		bl := &next.LocalBridges
		i := findBridge(bl.List, hubName, device)
		if i < 0 {
			return vpnerr.ObjectNotFound
		}
		bl.List = slices.Delete(bl.List, i, i+1)
		return nil
	})
}
