package config

import (
	"bytes"
	"slices"
)

// Whole-value comparison of the model, for the code that compares the
// wanted configuration with what runs. Parts made only of comparable
// fields compare with == (a new field is covered by construction, and the
// compiler refuses == once a part gets a slice); the Equal methods below
// cover the others field by field, and TestEqualCoversEveryField fails
// when a field is added to one of these structs but not to its Equal.
// Nothing here looks at the tree the model was read from.

// Equal reports whether two configurations hold the same settings.
func (s *Server) Equal(o *Server) bool {
	return bytes.Equal(s.AdminPasswordHash, o.AdminPasswordHash) && s.ListenIP == o.ListenIP &&
		slices.Equal(s.Listeners, o.Listeners) && bytes.Equal(s.CertDER, o.CertDER) && bytes.Equal(s.KeyDER, o.KeyDER) &&
		s.CipherName == o.CipherName && s.NoHighPriorityProcess == o.NoHighPriorityProcess &&
		slices.EqualFunc(s.Hubs, o.Hubs, (*Hub).Equal) &&
		s.Syslog == o.Syslog && s.KeepConnect == o.KeepConnect && s.Options == o.Options &&
		slices.EqualFunc(s.L3Switches, o.L3Switches, L3Switch.Equal) && s.LocalBridges.Equal(o.LocalBridges) &&
		slices.Equal(s.PortsUDP, o.PortsUDP) && s.UsernameHubSeparator == o.UsernameHubSeparator &&
		s.Proto == o.Proto && slices.Equal(s.WireGuardKeys, o.WireGuardKeys)
}

// Equal reports whether two hubs hold the same settings, their users,
// groups and cascades included.
func (h *Hub) Equal(o *Hub) bool {
	return h.Name == o.Name && h.Online == o.Online && h.Type == o.Type &&
		bytes.Equal(h.HashedPassword, o.HashedPassword) && bytes.Equal(h.SecurePassword, o.SecurePassword) &&
		h.MaxSession == o.MaxSession && h.NoEnum == o.NoEnum &&
		h.CreatedTime.Equal(o.CreatedTime) && h.LastCommTime.Equal(o.LastCommTime) &&
		h.LastLoginTime.Equal(o.LastLoginTime) && h.NumLogin == o.NumLogin &&
		slices.EqualFunc(h.Users, o.Users, (*User).Equal) && slices.EqualFunc(h.Groups, o.Groups, (*Group).Equal) &&
		h.SecureNAT.Equal(o.SecureNAT) && h.LogSecurity == o.LogSecurity && h.LogPacket == o.LogPacket &&
		slices.Equal(h.AcList, o.AcList) && slices.Equal(h.AccessList, o.AccessList) &&
		slices.Equal(h.AdminOptions, o.AdminOptions) && h.Options == o.Options && h.Log == o.Log &&
		slices.EqualFunc(h.Cascades, o.Cascades, (*Cascade).Equal)
}

// Equal reports whether two users hold the same settings and counters.
func (u *User) Equal(o *User) bool {
	return u.Name == o.Name && u.RealName == o.RealName && u.Note == o.Note && u.GroupName == o.GroupName &&
		u.AuthType == o.AuthType && bytes.Equal(u.PasswordHash, o.PasswordHash) && bytes.Equal(u.NTLMHash, o.NTLMHash) &&
		u.CreatedTime.Equal(o.CreatedTime) && u.UpdatedTime.Equal(o.UpdatedTime) &&
		u.ExpireTime.Equal(o.ExpireTime) && u.LastLoginTime.Equal(o.LastLoginTime) &&
		u.NumLogin == o.NumLogin && samePolicy(u.Policy, o.Policy)
}

// Equal reports whether two groups hold the same settings.
func (g *Group) Equal(o *Group) bool {
	return g.Name == o.Name && g.RealName == o.RealName && g.Note == o.Note && samePolicy(g.Policy, o.Policy)
}

// Equal reports whether two SecureNAT settings are the same.
func (n SecureNAT) Equal(o SecureNAT) bool {
	return n.Enabled == o.Enabled && n.SaveLog == o.SaveLog && bytes.Equal(n.MAC, o.MAC) &&
		n.IP == o.IP && n.Mask == o.Mask && n.NatEnabled == o.NatEnabled && n.MTU == o.MTU &&
		n.TCPTimeout == o.TCPTimeout && n.UDPTimeout == o.UDPTimeout && n.DHCPEnabled == o.DHCPEnabled &&
		n.DHCPStart == o.DHCPStart && n.DHCPEnd == o.DHCPEnd && n.DHCPMask == o.DHCPMask &&
		n.DHCPGateway == o.DHCPGateway && n.DHCPDNS == o.DHCPDNS && n.DHCPDNS2 == o.DHCPDNS2 &&
		n.DHCPDomain == o.DHCPDomain && n.DHCPExpire == o.DHCPExpire && n.DHCPPushRoutes == o.DHCPPushRoutes
}

// samePolicy reports whether two optional policies are the same.
func samePolicy(a, b *Policy) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// writeChanged calls write when a part's value cur differs from last, what
// was last read from or written to the tree, and then remembers cur: a part
// the model did not change is left in the tree exactly as it was.
func writeChanged[T comparable](cur T, last *T, write func()) {
	if cur != *last {
		write()
		*last = cur
	}
}
