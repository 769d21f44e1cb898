package server

import (
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
)

// hubPolicy is the part of a session's effective policy that the hub
// enforces on frames.
func hubPolicy(p config.Policy, monitor, qos bool) hub.Policy {
	return hub.Policy{
		NoBridge:           p.NoBridge,
		NoRouting:          p.NoRouting,
		MaxMAC:             int(p.MaxMac),
		MaxIP:              int(p.MaxIP),
		MaxIPv6:            int(p.MaxIPv6),
		CheckMAC:           p.CheckMac,
		CheckIP:            p.CheckIP,
		Monitor:            monitor && p.MonitorPort,
		PrivacyFilter:      p.PrivacyFilter,
		NoBroadcastLimiter: p.NoBroadcastLimiter,
		ArpDHCPOnly:        p.ArpDhcpOnly,
		DHCPFilter:         p.DHCPFilter,
		DHCPNoServer:       p.DHCPNoServer,
		NoServer:           p.NoServer,
		NoServerV6:         p.NoServerV6,
		FilterIPv4:         p.FilterIPv4,
		FilterIPv6:         p.FilterIPv6,
		FilterNonIP:        p.FilterNonIP,
		RSandRAFilter:      p.RSandRAFilter,
		RAFilter:           p.RAFilter,
		DHCPv6Filter:       p.DHCPv6Filter,
		DHCPv6NoServer:     p.DHCPv6NoServer,
		MaxUpload:          uint64(p.MaxUpload),
		MaxDownload:        uint64(p.MaxDownload),
		QoS:                qos,
		VLanID:             vlanID(p.VLanId),
	}
}

// welcomePolicy lists the policy as the welcome's "policy:*" elements; the
// real client reads AutoDisconnect and NoSavePassword from it.
func welcomePolicy(p config.Policy) map[string]uint32 {
	b := func(v bool) uint32 {
		if v {
			return 1
		}
		return 0
	}
	return map[string]uint32{
		"Access": b(p.Access), "DHCPFilter": b(p.DHCPFilter), "DHCPNoServer": b(p.DHCPNoServer),
		"DHCPForce": b(p.DHCPForce), "NoBridge": b(p.NoBridge), "NoRouting": b(p.NoRouting),
		"PrivacyFilter": b(p.PrivacyFilter), "NoServer": b(p.NoServer), "CheckMac": b(p.CheckMac),
		"CheckIP": b(p.CheckIP), "ArpDhcpOnly": b(p.ArpDhcpOnly), "MonitorPort": b(p.MonitorPort),
		"NoBroadcastLimiter": b(p.NoBroadcastLimiter), "FixPassword": b(p.FixPassword), "NoQoS": b(p.NoQoS),
		"RSandRAFilter": b(p.RSandRAFilter), "RAFilter": b(p.RAFilter), "DHCPv6Filter": b(p.DHCPv6Filter),
		"DHCPv6NoServer": b(p.DHCPv6NoServer), "NoRoutingV6": b(p.NoRoutingV6), "CheckIPv6": b(p.CheckIPv6),
		"NoServerV6": b(p.NoServerV6), "NoSavePassword": b(p.NoSavePassword), "FilterIPv4": b(p.FilterIPv4),
		"FilterIPv6": b(p.FilterIPv6), "FilterNonIP": b(p.FilterNonIP),
		"NoIPv6DefaultRouterInRA":         b(p.NoIPv6DefaultRouterInRA),
		"NoIPv6DefaultRouterInRAWhenIPv6": b(p.NoIPv6DefaultRouterInRAWhenIPv6),
		"MaxConnection":                   p.MaxConnection, "TimeOut": p.TimeOut, "MaxMac": p.MaxMac, "MaxIP": p.MaxIP,
		"MaxUpload": p.MaxUpload, "MaxDownload": p.MaxDownload, "MultiLogins": p.MultiLogins,
		"MaxIPv6": p.MaxIPv6, "AutoDisconnect": p.AutoDisconnect, "VLanId": p.VLanId,
	}
}
