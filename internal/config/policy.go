package config

import "reflect"

// Policy is a security policy of a user or group: the 38 items of
// docs/protocol/hub.md#policies. Each field name is the item's name in the
// configuration file (and, with a "policy:" prefix, in admin PACKs); bool
// fields are "bool" items, uint32 fields "uint" items. For the uint32
// limits 0 means "no limit".
type Policy struct {
	Access                          bool   // login allowed
	DHCPFilter                      bool   // drop DHCPv4 in both directions
	DHCPNoServer                    bool   // session may not act as a DHCPv4 server
	DHCPForce                       bool   // IPv4 addresses must come from DHCP
	NoBridge                        bool   // no bridging (at most 3 MACs)
	NoRouting                       bool   // no routing (at most 4 IPv4 addresses)
	CheckMac                        bool   // no MAC spoofing
	CheckIP                         bool   // no IPv4 spoofing
	ArpDhcpOnly                     bool   // only ARP/DHCP/ICMPv6 broadcasts
	PrivacyFilter                   bool   // privacy separation mode
	NoServer                        bool   // may not accept IPv4 TCP connections
	NoBroadcastLimiter              bool   // no broadcast storm limiter
	MonitorPort                     bool   // monitor mode allowed
	MaxConnection                   uint32 // TCP connections per session (1-32)
	TimeOut                         uint32 // session time-out, seconds
	MaxMac                          uint32 // MAC addresses per session
	MaxIP                           uint32 // IPv4 addresses per session
	MaxUpload                       uint32 // bits per second
	MaxDownload                     uint32 // bits per second
	FixPassword                     bool   // user may not change the password
	MultiLogins                     uint32 // concurrent sessions of the user
	NoQoS                           bool   // no VoIP/QoS priority
	RSandRAFilter                   bool   // drop router solicitations/advertisements
	RAFilter                        bool   // drop router advertisements from the session
	DHCPv6Filter                    bool   // drop DHCPv6
	DHCPv6NoServer                  bool   // session may not act as a DHCPv6 server
	NoRoutingV6                     bool   // no IPv6 routing
	CheckIPv6                       bool   // no IPv6 spoofing
	NoServerV6                      bool   // may not accept IPv6 TCP connections
	MaxIPv6                         uint32 // IPv6 addresses per session
	NoSavePassword                  bool   // client must not store the password
	AutoDisconnect                  uint32 // disconnect after this many seconds
	FilterIPv4                      bool   // drop IPv4 and ARP
	FilterIPv6                      bool   // drop IPv6
	FilterNonIP                     bool   // drop non-IP frames
	NoIPv6DefaultRouterInRA         bool   // zero router lifetime in RAs
	NoIPv6DefaultRouterInRAWhenIPv6 bool   // the same, only over an IPv6 transport
	VLanId                          uint32 // VLAN tag (1-4095)
}

// DefaultPolicy returns the built-in policy used when neither a user nor
// its group has one: access allowed, 32 connections, 20 s time-out.
func DefaultPolicy() Policy {
	return Policy{Access: true, MaxConnection: 32, TimeOut: 20}
}

// PolicyNames lists the policy item names in the order of docs/protocol/hub.md#policies.
func PolicyNames() []string {
	t := reflect.TypeFor[Policy]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Name
	}
	return names
}

// readPolicy decodes a Policy folder; nil in, nil out.
func readPolicy(f *Folder) *Policy {
	if f == nil {
		return nil
	}
	p := new(Policy)
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		switch fv := v.Field(i); fv.Kind() {
		case reflect.Bool:
			fv.SetBool(f.GetBool(name))
		case reflect.Uint32:
			fv.SetUint(uint64(f.GetUint(name)))
		}
	}
	return p
}

// writePolicy stores p as parent's "Policy" folder, or removes that folder
// when p is nil. A new folder gets every item, as the real writer does;
// an existing one is updated in place so that unknown items survive.
func writePolicy(parent *Folder, p *Policy) {
	if p == nil {
		parent.Remove("Policy")
		return
	}
	f := parent.Folder("Policy")
	full := f == nil
	if full {
		f = parent.Ensure("Policy")
	}
	v := reflect.ValueOf(p).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		switch fv := v.Field(i); fv.Kind() {
		case reflect.Bool:
			if full {
				f.SetBool(name, fv.Bool())
			} else {
				putBool(f, name, fv.Bool())
			}
		case reflect.Uint32:
			if full {
				f.SetUint(name, uint32(fv.Uint()))
			} else {
				putUint(f, name, uint32(fv.Uint()))
			}
		}
	}
}
