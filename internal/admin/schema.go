package admin

import "strings"

// The JSON form of a PACK needs facts the binary form does not carry
// (docs/protocol/admin.md#pack-to-json): whether an INT is a bool,
// whether an INT64 is a time, and which arrays are the columns of a list of
// records. They are properties of the field definitions of docs/protocol/admin.md#method-table; this file
// holds them. IP addresses need no table: they are recognised by their
// "@ipv6_bool" companion element.

// boolFields are the INT fields of the catalogue that JSON shows as _bool.
// A name means the same thing in every structure that has it.
var boolFields = nameSet(
	// listeners, hubs, users, groups
	"Enable", "Enables", "Errors", "Online", "NoEnum", "IsTrafficFilled", "IsExpiresFilled",
	"DenyAccess", "UsePolicy", "SecureNATEnabled", "SaveSecurityLog", "SavePacketLog",
	// sessions, MAC and IP tables
	"RemoteSession", "LinkMode", "SecureNATMode", "BridgeMode", "Layer3Mode", "Client_BridgeMode",
	"Client_MonitorMode", "IsDormantEnabled", "IsDormant", "RemoteItem", "DhcpAllocated",
	// SecureNAT
	"UseNat", "UseDhcp", "SaveLog", "ApplyDhcpPushRoutes", "IsKernelMode", "IsRawIpMode",
	// cascades: link, ClientOption, ConnectionStatus
	"CheckServerCert", "AddDefaultCA", "Connected", "UseEncrypt", "UseCompress", "HalfConnection",
	"NoRoutingTracking", "HideStatusWindow", "HideNicInfoWindow", "DisableQoS", "RequireMonitorMode",
	"RequireBridgeRoutingMode", "FromAdminPack", "NoUdpAcceleration", "QoS", "IsRUDPSession",
	"IsUdpAccelerationEnabled", "IsUsingUdpAcceleration", "IsBridgeMode", "IsMonitorMode",
	// local bridges, L3 switches, keep-alive
	"TapMode", "Active", "IsBridgeSupportedOs", "IsWinPcapNeeded", "UseKeepConnect",
	// server farm (RPC_FARM, RPC_ENUM_FARM, RPC_FARM_INFO, RPC_FARM_CONNECTION_STATUS)
	"ControllerOnly", "Controller", "DynamicHub",
	// native protocols (OPENVPN_SSTP_CONFIG)
	"EnableOpenVPN", "EnableSSTP",
	// access lists
	"Discard", "IsIPv6", "CheckSrcMac", "CheckDstMac", "CheckTcpState", "Established",
	// source IP address limit list (RPC_AC_LIST)
	"Deny", "Masked",
	// policy items (docs/protocol/admin.md#policy-block)
	"policy:Access", "policy:DHCPFilter", "policy:DHCPNoServer", "policy:DHCPForce", "policy:NoBridge",
	"policy:NoRouting", "policy:CheckMac", "policy:CheckIP", "policy:ArpDhcpOnly", "policy:PrivacyFilter",
	"policy:NoServer", "policy:NoBroadcastLimiter", "policy:MonitorPort", "policy:FixPassword",
	"policy:NoQoS", "policy:RSandRAFilter", "policy:RAFilter", "policy:DHCPv6Filter",
	"policy:DHCPv6NoServer", "policy:NoRoutingV6", "policy:CheckIPv6", "policy:NoServerV6",
	"policy:NoSavePassword", "policy:FilterIPv4", "policy:FilterIPv6", "policy:FilterNonIP",
	"policy:NoIPv6DefaultRouterInRA", "policy:NoIPv6DefaultRouterInRAWhenIPv6", "policy:Ver3",
)

// timeFields are the INT64 fields that hold an SE-time (JSON _dt).
var timeFields = nameSet(
	"ServerBuildDate", "CurrentTime", "StartTime", "CreatedTime", "UpdatedTime", "ExpireTime",
	"LastCommTime", "LastLoginTime", "Expires", "LastCommDormant", "ConnectedTime", "LeasedTime",
	"FirstConnectionEstablisiedTime", "CurrentConnectionEstablishTime",
	"StartedTime", "CurrentConnectedTime", "FirstConnectedTime",
)

// arrayFields are scalar arrays without a group that JSON shows as arrays
// even with a single value.
var arrayFields = nameSet("PacketLogConfig", "Chain", "Ports")

// methodArrays are the arrays of a method's request and result that JSON
// shows as arrays even with a single value, where the name alone is too
// common to say so (a "Name" is a scalar elsewhere). SoftEther adds them
// with PackAdd*Ex and no group (Admin.c, OutRpcProtoOptions, OutRpcWgk),
// so they are top-level arrays.
var methodArrays = func() map[string]map[string]bool {
	options := nameSet("Name", "Type", "Value")
	wgk := nameSet("Key", "Hub", "User")
	return map[string]map[string]bool{
		"GETPROTOOPTIONS": options, "SETPROTOOPTIONS": options,
		"ADDWGK": wgk, "DELETEWGK": wgk, "ENUMWGK": wgk,
	}
}()

// isArrayField reports whether element name of method's PACK is shown as
// a JSON array even with one value.
func isArrayField(method, name string) bool {
	return inSet(arrayFields, name) || inSet(methodArrays[strings.ToUpper(method)], name)
}

// listGroup describes one list of records in a method's result: the
// elements that are its columns (all but Scalars, or exactly Fields).
type listGroup struct {
	Name    string
	Fields  []string // the columns; nil means every element not in Scalars
	Scalars []string // elements that stay top-level keys
}

func (g *listGroup) has(name string) bool {
	if g.Fields != nil {
		return containsFold(g.Fields, name)
	}
	return !containsFold(g.Scalars, name)
}

// methodGroups gives the lists of records of each method's result, keyed by
// upper-case method name (docs/protocol/admin.md#structures).
var methodGroups = func() map[string]listGroup {
	hub := []string{"HubName"}
	numHub := []string{"NumItem", "HubName"}
	numName := []string{"NumItem", "Name"}
	m := map[string]listGroup{
		"EnumListener":              {Name: "ListenerList"},
		"EnumHub":                   {Name: "HubList"},
		"EnumFarmMember":            {Name: "FarmMemberList"},
		"GetFarmInfo":               {Name: "HubsList", Fields: []string{"HubName", "DynamicHub"}},
		"EnumUser":                  {Name: "UserList", Scalars: hub},
		"EnumGroup":                 {Name: "GroupList", Scalars: hub},
		"EnumSession":               {Name: "SessionList", Scalars: hub},
		"EnumMacTable":              {Name: "MacTable", Scalars: hub},
		"EnumIpTable":               {Name: "IpTable", Scalars: hub},
		"EnumNAT":                   {Name: "NatTable", Scalars: numHub},
		"EnumDHCP":                  {Name: "DhcpTable", Scalars: numHub},
		"EnumLink":                  {Name: "LinkList", Scalars: hub},
		"EnumLocalBridge":           {Name: "LocalBridgeList", Scalars: []string{"NumItem"}},
		"EnumEthernet":              {Name: "EthList", Scalars: []string{"NumItem"}},
		"EnumL3Switch":              {Name: "L3SWList", Scalars: []string{"NumItem"}},
		"EnumL3If":                  {Name: "L3IFList", Scalars: numName},
		"EnumL3Table":               {Name: "L3Table", Scalars: numName},
		"AddAccess":                 {Name: "AccessListSingle", Scalars: hub},
		"EnumAccess":                {Name: "AccessList", Scalars: hub},
		"SetAccessList":             {Name: "AccessList", Scalars: hub},
		"GetAcList":                 {Name: "ACList", Scalars: numHub},
		"SetAcList":                 {Name: "ACList", Scalars: numHub},
		"GetCaps":                   {Name: "CapsList", Fields: []string{"CapsName", "CapsValue", "CapsDescrption"}},
		"GetHubAdminOptions":        {Name: "AdminOptionList", Scalars: numHub},
		"SetHubAdminOptions":        {Name: "AdminOptionList", Scalars: numHub},
		"GetDefaultHubAdminOptions": {Name: "AdminOptionList", Scalars: numHub},
		"GetHubExtOptions":          {Name: "AdminOptionList", Scalars: numHub},
		"SetHubExtOptions":          {Name: "AdminOptionList", Scalars: numHub},
	}
	out := make(map[string]listGroup, len(m))
	for k, v := range m {
		out[strings.ToUpper(k)] = v
	}
	return out
}()

// groupOf returns the list of records of method's result, if it has one.
func groupOf(method string) (listGroup, bool) {
	g, ok := methodGroups[strings.ToUpper(method)]
	return g, ok
}

// nameSet builds a case-insensitive set of element names.
func nameSet(names ...string) map[string]bool {
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[strings.ToUpper(n)] = true
	}
	return s
}

func inSet(s map[string]bool, name string) bool { return s[strings.ToUpper(name)] }

func containsFold(list []string, name string) bool {
	for _, n := range list {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}
