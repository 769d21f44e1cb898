package control

import (
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// HubLog are a hub's log settings: whether its security and packet logs
// are kept, and how (switch types, the packet log's levels).
type HubLog struct {
	SaveSecurityLog, SavePacketLog bool
	Log                            config.LogSetting
}

// maxSwitchType is the largest log switch type (a file a month).
const maxSwitchType = 5

// HubLogOf returns the log settings of h.
func HubLogOf(h *config.Hub) HubLog {
	return HubLog{SaveSecurityLog: h.LogSecurity, SavePacketLog: h.LogPacket, Log: h.Log}
}

// SetHubLog changes the log settings of the hub name; packet log levels
// above 2 (everything) are taken as 2. A hub administrator needs the
// right to change the log settings (no_change_log_config), and for the
// switch types the right no_change_log_switch_type does not take away.
func (o *Owner) SetHubLog(who Actor, name string, l HubLog) error {
	if l.Log.SecurityLogSwitchType > maxSwitchType || l.Log.PacketLogSwitchType > maxSwitchType {
		return vpnerr.InvalidParameter
	}
	p := &l.Log.PacketLog
	for _, v := range []*uint32{&p.Ethernet, &p.ARP, &p.IP, &p.ICMP, &p.TCP, &p.TCPConn, &p.UDP, &p.DHCP} {
		*v = min(*v, 2)
	}
	return o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, name, "no_change_log_config")
		if err != nil {
			return err
		}
		if (h.Log.SecurityLogSwitchType != l.Log.SecurityLogSwitchType || h.Log.PacketLogSwitchType != l.Log.PacketLogSwitchType) &&
			who.denied(h, "no_change_log_switch_type") {
			return vpnerr.NotEnoughRight
		}
		h.LogSecurity, h.LogPacket, h.Log = l.SaveSecurityLog, l.SavePacketLog, l.Log
		return nil
	})
}
