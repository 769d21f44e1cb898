package control

import (
	"bytes"
	"net"
	"net/netip"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// SetSecureNATEnabled turns the SecureNAT of the hub name on or off and
// reports whether it was on. A hub without a virtual host MAC gets one
// (see SecureNATOption).
func (o *Owner) SetSecureNATEnabled(who Actor, name string, on bool) (was bool, err error) {
	err = o.Update(func(next *config.Server) error {
		h, err := who.editHub(next, name, "no_securenat")
		if err != nil {
			return err
		}
		if on {
			if err := secureNATAllowed(h); err != nil {
				return err
			}
		}
		was = h.SecureNAT.Enabled
		h.SecureNAT.Enabled = on
		if len(h.SecureNAT.MAC) != 6 {
			h.SecureNAT.MAC = config.DefaultSecureNAT().MAC
		}
		return nil
	})
	return was, err
}

// SecureNATOption returns the SecureNAT settings of the hub name. A hub
// whose file has no virtual host MAC gets a random one, as on SoftEther;
// it is chosen once and saved, so that every reader sees the same MAC and
// a read never changes the published configuration.
func (o *Owner) SecureNATOption(name string) (config.SecureNAT, error) {
	var n config.SecureNAT
	err := o.ReadHub(name, func(h *config.Hub) error {
		n = h.SecureNAT
		return nil
	})
	if err != nil || len(n.MAC) == 6 {
		return n, err
	}
	err = o.Update(func(next *config.Server) error {
		h := next.Hub(name)
		if h == nil {
			return vpnerr.HubNotFound
		}
		if len(h.SecureNAT.MAC) != 6 { // another reader may have chosen it
			h = next.EditHub(name)
			h.SecureNAT.MAC = config.DefaultSecureNAT().MAC
		}
		n = h.SecureNAT
		return nil
	})
	return n, err
}

// NATOptions are what SetSecureNATOption sets: every setting of
// config.SecureNAT but Enabled (SetSecureNATEnabled), and DHCPPushRoutes
// only with SetPushRoutes.
type NATOptions struct {
	config.SecureNAT
	SetPushRoutes bool
}

// SetSecureNATOption changes the SecureNAT settings of the hub name; a
// running SecureNAT restarts with them. The virtual host needs a unicast
// MAC and a host address of its subnet. A hub administrator needs the
// right to change SecureNAT, and to turn NAT or DHCP on, the rights
// no_securenat_enablenat and no_securenat_enabledhcp do not take away.
func (o *Owner) SetSecureNATOption(who Actor, name string, n NATOptions) error {
	switch {
	case len(n.MAC) != 6 || bytes.Equal(n.MAC, make([]byte, 6)):
		return vpnerr.InvalidParameter
	case !ValidHost(n.IP, n.Mask):
		return vpnerr.InvalidParameter
	case n.SetPushRoutes && !validPushRoutes(n.DHCPPushRoutes):
		return vpnerr.InvalidParameter
	}
	return o.Update(func(next *config.Server) error {
		cur := next.Hub(name)
		if cur == nil {
			return vpnerr.HubNotFound
		}
		was := cur.SecureNAT
		if who.denied(cur, "no_securenat") ||
			(n.NatEnabled && !was.NatEnabled && who.denied(cur, "no_securenat_enablenat")) ||
			(n.DHCPEnabled && !was.DHCPEnabled && who.denied(cur, "no_securenat_enabledhcp")) {
			return vpnerr.NotEnoughRight
		}
		set := n.SecureNAT
		set.MAC = net.HardwareAddr(bytes.Clone(n.MAC))
		set.Enabled = was.Enabled
		if !n.SetPushRoutes {
			set.DHCPPushRoutes = was.DHCPPushRoutes
		}
		next.EditHub(name).SecureNAT = set
		return nil
	})
}

// MaskLen returns the prefix length of a contiguous IPv4 mask, or -1.
func MaskLen(m netip.Addr) int {
	if !m.Is4() {
		return -1
	}
	b := m.As4()
	ones, bits := net.IPMask(b[:]).Size()
	if bits == 0 {
		return -1
	}
	return ones
}

// ValidHost reports whether ip is a usable host address in ip/mask: IPv4,
// not 0.0.0.0, multicast or broadcast, with a non-zero host part, and a
// contiguous mask.
func ValidHost(ip, mask netip.Addr) bool {
	bits := MaskLen(mask)
	if !ip.Is4() || bits < 0 || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	if bits == 32 {
		return true
	}
	return ip != netip.PrefixFrom(ip, bits).Masked().Addr()
}

// validPushRoutes checks a DhcpPushRoutes text: items separated by spaces
// or commas, each network/mask/gateway with the mask as a prefix length
// or dotted.
func validPushRoutes(s string) bool {
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		parts := strings.Split(item, "/")
		if len(parts) != 3 {
			return false
		}
		if _, err := netip.ParseAddr(parts[0]); err != nil {
			return false
		}
		if _, err := netip.ParseAddr(parts[2]); err != nil {
			return false
		}
		if m, err := netip.ParseAddr(parts[1]); err == nil {
			if MaskLen(m) < 0 {
				return false
			}
		} else if _, err := netip.ParsePrefix("0.0.0.0/" + parts[1]); err != nil {
			return false
		}
	}
	return true
}
