package server

import "github.com/ethervpn/ethervpn/internal/pack"

// adminMethods is the method table of docs/protocol/admin.md#method-table, keyed by
// the upper-cased method name (names are case-insensitive).
var adminMethods = map[string]adminMethod{}

func init() {
	add := func(name string, r right, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		adminMethods[upperASCII(name)] = adminMethod{right: r, write: write, fn: fn}
	}
	// addHub adds a method of the hub named in the request's HubName.
	addHub := func(name string, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		add(name, rightHub, write, fn)
	}
	// addHubAt adds a method of the hub named in the request's hubKey.
	addHubAt := func(name, hubKey string, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		adminMethods[upperASCII(name)] = adminMethod{right: rightHub, hubKey: hubKey, write: write, fn: fn}
	}
	const ro, rw = false, true

	// Server
	add("Test", rightAny, ro, admTest)
	add("GetServerInfo", rightAny, ro, admGetServerInfo)
	add("GetServerStatus", rightAny, ro, admGetServerStatus)
	add("CreateListener", rightServer, rw, admCreateListener)
	add("DeleteListener", rightServer, rw, admDeleteListener)
	add("EnableListener", rightServer, rw, admEnableListener)
	add("EnumListener", rightAny, ro, admEnumListener)
	add("SetServerPassword", rightServer, rw, admSetServerPassword)
	add("GetServerCipher", rightAny, ro, admGetServerCipher)
	add("SetServerCipher", rightServer, rw, admSetServerCipher)
	add("GetServerCipherList", rightAny, ro, admGetServerCipherList)
	add("GetServerCert", rightAny, ro, admGetServerCert)
	add("SetServerCert", rightServer, rw, admSetServerCert)
	add("GetConfig", rightServer, ro, admGetConfig)
	add("SetConfig", rightServer, rw, admSetConfig)
	add("Flush", rightServer, ro, admFlush)
	add("GetCaps", rightAny, ro, admGetCaps)
	add("GetKeep", rightAny, ro, admGetKeep)
	add("SetKeep", rightServer, rw, admSetKeep)
	add("GetSysLog", rightAny, ro, admGetSysLog)
	add("SetSysLog", rightServer, rw, admSetSysLog)
	add("RebootServer", rightServer, ro, admRebootServer)

	// Native protocols (admin_protocols.go); the rights are SoftEther's
	// (Admin.c: the Get of ports and of OpenVPN/SSTP is open to hub
	// admins, the rest is SERVER_ADMIN_ONLY).
	add("GetPortsUDP", rightAny, ro, admGetPortsUDP)
	add("SetPortsUDP", rightServer, rw, admSetPortsUDP)
	add("GetProtoOptions", rightServer, ro, admGetProtoOptions)
	add("SetProtoOptions", rightServer, rw, admSetProtoOptions)
	add("GetOpenVpnSstpConfig", rightAny, ro, admGetOpenVpnSstpConfig)
	add("SetOpenVpnSstpConfig", rightServer, rw, admSetOpenVpnSstpConfig)
	add("AddWgk", rightServer, rw, admAddWgk)
	add("DeleteWgk", rightServer, rw, admDeleteWgk)
	add("EnumWgk", rightServer, ro, admEnumWgk)
	add("MakeOpenVpnConfigFile", rightServer, ro, notOnBridge(admMakeOpenVpnConfigFile))

	// Server farm (admin_farm.go)
	add("GetFarmSetting", rightAny, ro, admGetFarmSetting)
	add("SetFarmSetting", rightServer, rw, admSetFarmSetting)
	add("EnumFarmMember", rightAny, ro, admEnumFarmMember)
	add("GetFarmInfo", rightAny, ro, admGetFarmInfo)
	add("GetFarmConnectionStatus", rightAny, ro, admGetFarmConnectionStatus)

	// Hubs
	add("CreateHub", rightServer, rw, notOnBridge(admCreateHub)) // a VPN Bridge has one hub
	addHub("SetHub", rw, admSetHub)
	addHub("GetHub", ro, admGetHub)
	add("EnumHub", rightAny, ro, admEnumHub)
	add("DeleteHub", rightServer, rw, notOnBridge(admDeleteHub))
	addHub("SetHubOnline", rw, admSetHubOnline)
	addHub("GetHubStatus", ro, admGetHubStatus)
	addHub("GetHubLog", ro, admGetHubLog)
	addHub("SetHubLog", rw, admSetHubLog)

	// Users and groups
	addHub("CreateUser", rw, admCreateUser)
	addHub("SetUser", rw, admSetUser)
	addHub("GetUser", ro, admGetUser)
	addHub("DeleteUser", rw, admDeleteUser)
	addHub("EnumUser", ro, admEnumUser)
	addHub("CreateGroup", rw, admCreateGroup)
	addHub("SetGroup", rw, admSetGroup)
	addHub("GetGroup", ro, admGetGroup)
	addHub("DeleteGroup", rw, admDeleteGroup)
	addHub("EnumGroup", ro, admEnumGroup)

	// Sessions and tables
	addHub("EnumSession", ro, admEnumSession)
	addHub("GetSessionStatus", ro, admGetSessionStatus)
	addHub("DeleteSession", ro, admDeleteSession)
	addHub("EnumMacTable", ro, admEnumMacTable)
	addHub("DeleteMacTable", ro, admDeleteTable("no_delete_mactable", func(h *Hub, id uint32) bool { return h.DeleteMAC(id) }))
	addHub("EnumIpTable", ro, admEnumIpTable)
	addHub("DeleteIpTable", ro, admDeleteTable("no_delete_iptable", func(h *Hub, id uint32) bool { return h.DeleteIP(id) }))

	// SecureNAT
	addHub("EnableSecureNAT", rw, admSetSecureNAT(true))
	addHub("DisableSecureNAT", rw, admSetSecureNAT(false))
	addHubAt("GetSecureNATOption", "RpcHubName", ro, admGetSecureNATOption)
	addHubAt("SetSecureNATOption", "RpcHubName", rw, admSetSecureNATOption)
	addHub("EnumNAT", ro, admSecureNATTable(fillNATTable))
	addHub("EnumDHCP", ro, admSecureNATTable(fillDHCPTable))
	addHub("GetSecureNATStatus", ro, admSecureNATTable(fillNATStatus))

	// Cascades (admin_cascade.go); the hub of the Link methods is the
	// local one, named in HubName_Ex where the structure also carries the
	// remote hub in HubName.
	addHubAt("CreateLink", "HubName_Ex", rw, admCreateLink)
	addHubAt("GetLink", "HubName_Ex", ro, admGetLink)
	addHubAt("SetLink", "HubName_Ex", rw, admSetLink)
	addHub("EnumLink", ro, admEnumLink)
	addHub("SetLinkOnline", rw, admSetLinkOnline(true))
	addHub("SetLinkOffline", rw, admSetLinkOnline(false))
	addHub("DeleteLink", rw, admDeleteLink)
	addHub("RenameLink", rw, admRenameLink)
	addHubAt("GetLinkStatus", "HubName_Ex", ro, admGetLinkStatus)

	// Local bridges (admin_l3bridge.go; run by localbridge.go). EnumEthernet
	// lists the host's interfaces: server admins only, as in SoftEther.
	add("AddLocalBridge", rightServer, rw, admAddLocalBridge)
	add("DeleteLocalBridge", rightServer, rw, admDeleteLocalBridge)
	add("EnumLocalBridge", rightAny, ro, admEnumLocalBridge)
	add("EnumEthernet", rightServer, ro, admEnumEthernet)
	add("GetBridgeSupport", rightAny, ro, admGetBridgeSupport)

	// Stored, not yet run (admin_store.go).
	addHub("AddAccess", rw, admAddAccess)
	addHub("DeleteAccess", rw, admDeleteAccess)
	addHub("EnumAccess", ro, admEnumAccess)
	addHub("SetAccessList", rw, admSetAccessList)
	add("AddL3Switch", rightServer, rw, admAddL3Switch)
	add("DelL3Switch", rightServer, rw, admDelL3Switch)
	add("StartL3Switch", rightServer, rw, admStartL3Switch)
	add("StopL3Switch", rightServer, rw, admStopL3Switch)
	add("EnumL3Switch", rightAny, ro, admEnumL3Switch)
	add("AddL3If", rightServer, rw, admAddL3If)
	add("DelL3If", rightServer, rw, admDelL3If)
	add("EnumL3If", rightAny, ro, admEnumL3If)
	add("AddL3Table", rightServer, rw, admAddL3Table)
	add("DelL3Table", rightServer, rw, admDelL3Table)
	add("EnumL3Table", rightAny, ro, admEnumL3Table)
	addHub("GetHubAdminOptions", ro, admGetHubAdminOptions)
	addHub("SetHubAdminOptions", rw, admSetHubAdminOptions)
	addHub("GetHubExtOptions", ro, admGetHubExtOptions)
	addHub("GetAcList", ro, admGetAcList)
	addHub("SetAcList", rw, admSetAcList)
	addHub("SetHubExtOptions", rw, admSetHubExtOptions)
	add("GetDefaultHubAdminOptions", rightAny, ro, admGetDefaultHubAdminOptions)
}

// upperASCII upper-cases a-z only, as SoftEther compares method names.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
