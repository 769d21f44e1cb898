package config

import (
	"fmt"
	"reflect"
	"strings"
)

// The model reads a missing or mistyped item as its zero value, as the
// real server does (Cfg.c, CfgGetInt and friends). That is right for
// items a file may leave out, but a value that is there and unusable
// must not quietly become "no password", "offline" or "port 0": FromTree
// refuses a tree whose modelled items have the wrong type, or a length
// no hash of that kind has, and names the item (and its line in a text
// file).

// rule is what one modelled item must be when it is present.
type rule struct {
	t    ItemType
	size int // for Byte items: the only valid length; 0 = any
}

// schema lists the modelled items by folder path; "*" matches any one
// folder (a hub, a user, a listener, ...).
var schema = []struct {
	path  string
	items map[string]rule
}{
	{"ServerConfiguration", map[string]rule{
		"HashedPassword": {Byte, 20}, "ServerCert": {t: Byte}, "ServerKey": {t: Byte},
		"ListenIP": {t: String}, "CipherName": {t: String}, "NoHighPriorityProcess": {t: Bool},
	}},
	{"ListenerList/*", map[string]rule{"Port": {t: Uint}, "Enabled": {t: Bool}, "DisableDos": {t: Bool}}},
	{"LocalBridgeList/*", map[string]rule{
		"HubName": {t: String}, "DeviceName": {t: String}, "NoPromiscuousMode": {t: Bool},
		"MonitorMode": {t: Bool}, "LimitBroadcast": {t: Bool}, "TapMode": {t: Bool}, "TapMacAddress": {t: String},
	}},
	{"VirtualHUB/*", map[string]rule{"Online": {t: Bool}, "HashedPassword": {Byte, 20}, "SecurePassword": {Byte, 20}}},
	{"VirtualHUB/*/Option", map[string]rule{"MaxSession": {t: Uint}, "NoEnum": {t: Bool}}},
	{"VirtualHUB/*/LogSetting", map[string]rule{"SaveSecurityLog": {t: Bool}, "SavePacketLog": {t: Bool}}},
	{"VirtualHUB/*/SecureNAT", map[string]rule{"Disabled": {t: Bool}, "SaveLog": {t: Bool}}},
	{"VirtualHUB/*/SecureNAT/VirtualHost", map[string]rule{
		"VirtualHostIp": {t: String}, "VirtualHostIpSubnetMask": {t: String}, "VirtualHostMacAddress": {t: String},
	}},
	{"VirtualHUB/*/SecureNAT/VirtualRouter", map[string]rule{
		"NatEnabled": {t: Bool}, "NatMtu": {t: Uint}, "NatTcpTimeout": {t: Uint}, "NatUdpTimeout": {t: Uint},
	}},
	{"VirtualHUB/*/SecureNAT/VirtualDhcpServer", map[string]rule{
		"DhcpEnabled": {t: Bool}, "DhcpLeaseIPStart": {t: String}, "DhcpLeaseIPEnd": {t: String},
		"DhcpSubnetMask": {t: String}, "DhcpGatewayAddress": {t: String}, "DhcpDnsServerAddress": {t: String},
		"DhcpDnsServerAddress2": {t: String}, "DhcpDomainName": {t: String}, "DhcpExpireTimeSpan": {t: Uint},
		"DhcpPushRoutes": {t: String},
	}},
	{"VirtualHUB/*/SecurityAccountDatabase/UserList/*", map[string]rule{
		"AuthType": {t: Uint}, "AuthPassword": {Byte, 20}, "AuthNtLmSecureHash": {Byte, 16},
		"RealName": {t: String}, "Note": {t: String}, "GroupName": {t: String},
		"CreatedTime": {t: Uint64}, "UpdatedTime": {t: Uint64}, "ExpireTime": {t: Uint64},
		"LastLoginTime": {t: Uint64}, "NumLogin": {t: Uint},
	}},
	{"VirtualHUB/*/SecurityAccountDatabase/UserList/*/Policy", policyRules()},
	{"VirtualHUB/*/SecurityAccountDatabase/GroupList/*", map[string]rule{"RealName": {t: String}, "Note": {t: String}}},
	{"VirtualHUB/*/SecurityAccountDatabase/GroupList/*/Policy", policyRules()},
	{"VirtualHUB/*/CascadeList/*", map[string]rule{"Online": {t: Bool}, "CheckServerCert": {t: Bool}, "ServerCert": {t: Byte}}},
	{"VirtualHUB/*/CascadeList/*/ClientAuth", map[string]rule{
		"AuthType": {t: Uint}, "Username": {t: String}, "HashedPassword": {Byte, 20},
		"EncryptedPassword": {t: Byte}, "ClientCert": {t: Byte}, "ClientKey": {t: Byte},
	}},
	{"VirtualHUB/*/CascadeList/*/ClientOption", map[string]rule{
		"AccountName": {t: String}, "Hostname": {t: String}, "Port": {t: Uint}, "HubName": {t: String},
		"MaxConnection": {t: Uint}, "UseEncrypt": {t: Bool}, "UseCompress": {t: Bool},
		"HalfConnection": {t: Bool}, "DisableQoS": {t: Bool}, "AdditionalConnectionInterval": {t: Uint},
		"ConnectionDisconnectSpan": {t: Uint},
	}},
	{"VirtualHUB/*/CascadeList/*/Policy", policyRules()},
}

// policyRules are the items of a Policy folder: the fields of Policy.
func policyRules() map[string]rule {
	m := map[string]rule{}
	t := reflect.TypeFor[Policy]()
	for i := range t.NumField() {
		switch t.Field(i).Type.Kind() {
		case reflect.Bool:
			m[t.Field(i).Name] = rule{t: Bool}
		case reflect.Uint32:
			m[t.Field(i).Name] = rule{t: Uint}
		}
	}
	return m
}

// ValueError is a modelled item whose value the server cannot use.
type ValueError struct {
	Path   string // folder path and item name, "VirtualHUB/DEFAULT/HashedPassword"
	Line   int    // its line in a text file; 0 for other sources
	Reason string
}

func (e *ValueError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s %s", e.Line, e.Path, e.Reason)
	}
	return fmt.Sprintf("%s %s", e.Path, e.Reason)
}

// schemaByPath is schema split into path elements, with the item names
// lower-cased for case-insensitive lookups (as in the tree).
var schemaByPath = func() (out []struct {
	path  []string
	items map[string]rule
}) {
	for _, s := range schema {
		m := make(map[string]rule, len(s.items))
		for n, r := range s.items {
			m[strings.ToLower(n)] = r
		}
		out = append(out, struct {
			path  []string
			items map[string]rule
		}{strings.Split(s.path, "/"), m})
	}
	return out
}()

// checkValues applies the schema to root; it returns the first problem.
func checkValues(root *Folder) error {
	for _, s := range schemaByPath {
		if err := checkPath(root, s.path, "", s.items); err != nil {
			return err
		}
	}
	return nil
}

func checkPath(f *Folder, path []string, at string, items map[string]rule) error {
	if len(path) == 0 {
		for _, it := range f.Items {
			r, ok := items[strings.ToLower(it.Name)]
			if !ok {
				continue
			}
			var reason string
			switch {
			case it.Type != r.t:
				reason = fmt.Sprintf("is a %s item, want %s", it.Type, r.t)
			case r.size > 0 && len(it.Bytes) != r.size:
				reason = fmt.Sprintf("holds %d bytes, want %d (a hash of that length)", len(it.Bytes), r.size)
			default:
				continue
			}
			return &ValueError{Path: at + it.Name, Line: it.line, Reason: reason}
		}
		return nil
	}
	for _, c := range f.Folders {
		if path[0] == "*" || strings.EqualFold(c.Name, path[0]) {
			if err := checkPath(c, path[1:], at+c.Name+"/", items); err != nil {
				return err
			}
		}
	}
	return nil
}
