package server

import "github.com/ethervpn/ethervpn/internal/pack"

// adminMethods is the method table of docs/protocol/admin.md#method-table, keyed by
// the upper-cased method name (names are case-insensitive).
var adminMethods = map[string]adminMethod{}

func init() {
	add := func(name string, r right, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		adminMethods[upperASCII(name)] = adminMethod{right: r, write: write, fn: fn}
	}
	addHub := func(name, hubKey string, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		adminMethods[upperASCII(name)] = adminMethod{right: rightHub, hubKey: hubKey, write: write, fn: fn}
	}
	// typed adds a method that only translates (see adminMethod.typed).
	typed := func(name string, r right, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		adminMethods[upperASCII(name)] = adminMethod{right: r, write: write, typed: true, fn: fn}
	}
	// typedHub adds a method that only translates to the owner's
	// operations (see adminMethod.typed).
	typedHub := func(name string, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		adminMethods[upperASCII(name)] = adminMethod{right: rightHub, write: write, typed: true, fn: fn}
	}
	const ro, rw = false, true

	// Server
	add("Test", rightAny, ro, admTest)
	typed("GetServerInfo", rightAny, ro, admGetServerInfo)
	typed("GetServerStatus", rightAny, ro, admGetServerStatus)
	typed("CreateListener", rightServer, rw, admCreateListener)
	typed("DeleteListener", rightServer, rw, admDeleteListener)
	typed("EnableListener", rightServer, rw, admEnableListener)
	typed("EnumListener", rightAny, ro, admEnumListener)
	typed("SetServerPassword", rightServer, rw, admSetServerPassword)
	typed("GetServerCipher", rightAny, ro, admGetServerCipher)
	typed("SetServerCipher", rightServer, rw, admSetServerCipher)
	add("GetServerCipherList", rightAny, ro, admGetServerCipherList)
	typed("GetServerCert", rightAny, ro, admGetServerCert)
	typed("SetServerCert", rightServer, rw, admSetServerCert)
	typed("GetConfig", rightServer, ro, admGetConfig)
	typed("SetConfig", rightServer, rw, admSetConfig)
	typed("Flush", rightServer, ro, admFlush)
	add("GetCaps", rightAny, ro, admGetCaps)
	typed("GetKeep", rightAny, ro, admGetKeep)
	typed("SetKeep", rightServer, rw, admSetKeep)
	typed("GetSysLog", rightAny, ro, admGetSysLog)
	typed("SetSysLog", rightServer, rw, admSetSysLog)
	add("RebootServer", rightServer, ro, admRebootServer)

	// Hubs
	add("CreateHub", rightServer, rw, notOnBridge(admCreateHub)) // a VPN Bridge has one hub
	addHub("SetHub", "", rw, admSetHub)
	addHub("GetHub", "", ro, admGetHub)
	add("EnumHub", rightAny, ro, admEnumHub)
	add("DeleteHub", rightServer, rw, notOnBridge(admDeleteHub))
	addHub("SetHubOnline", "", rw, admSetHubOnline)
	addHub("GetHubStatus", "", ro, admGetHubStatus)
	addHub("GetHubLog", "", ro, admGetHubLog)
	addHub("SetHubLog", "", rw, admSetHubLog)

	// Users and groups
	typedHub("CreateUser", rw, admCreateUser)
	typedHub("SetUser", rw, admSetUser)
	typedHub("GetUser", ro, admGetUser)
	typedHub("DeleteUser", rw, admDeleteUser)
	typedHub("EnumUser", ro, admEnumUser)
	typedHub("CreateGroup", rw, admCreateGroup)
	typedHub("SetGroup", rw, admSetGroup)
	typedHub("GetGroup", ro, admGetGroup)
	typedHub("DeleteGroup", rw, admDeleteGroup)
	typedHub("EnumGroup", ro, admEnumGroup)

	// Sessions and tables
	typedHub("EnumSession", ro, admEnumSession)
	typedHub("GetSessionStatus", ro, admGetSessionStatus)
	typedHub("DeleteSession", ro, admDeleteSession)
	typedHub("EnumMacTable", ro, admEnumMacTable)
	typedHub("DeleteMacTable", ro, admDeleteTable("no_delete_mactable", func(h *Hub, id uint32) bool { return h.DeleteMAC(id) }))
	typedHub("EnumIpTable", ro, admEnumIpTable)
	typedHub("DeleteIpTable", ro, admDeleteTable("no_delete_iptable", func(h *Hub, id uint32) bool { return h.DeleteIP(id) }))

	// SecureNAT
	addHub("EnableSecureNAT", "", rw, admSetSecureNAT(true))
	addHub("DisableSecureNAT", "", rw, admSetSecureNAT(false))
	addHub("GetSecureNATOption", "RpcHubName", ro, admGetSecureNATOption)
	addHub("SetSecureNATOption", "RpcHubName", rw, admSetSecureNATOption)
	addHub("EnumNAT", "", ro, admSecureNATTable(fillNATTable))
	addHub("EnumDHCP", "", ro, admSecureNATTable(fillDHCPTable))
	addHub("GetSecureNATStatus", "", ro, admSecureNATTable(fillNATStatus))

	// Cascades (admin_cascade.go); the hub of the Link methods is the
	// local one, named in HubName_Ex where the structure also carries the
	// remote hub in HubName.
	typedHubAt := func(name, hubKey string, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		adminMethods[upperASCII(name)] = adminMethod{right: rightHub, hubKey: hubKey, write: write, typed: true, fn: fn}
	}
	typedHubAt("CreateLink", "HubName_Ex", rw, admCreateLink)
	typedHubAt("GetLink", "HubName_Ex", ro, admGetLink)
	typedHubAt("SetLink", "HubName_Ex", rw, admSetLink)
	typedHub("EnumLink", ro, admEnumLink)
	typedHub("SetLinkOnline", rw, admSetLinkOnline(true))
	typedHub("SetLinkOffline", rw, admSetLinkOnline(false))
	typedHub("DeleteLink", rw, admDeleteLink)
	typedHub("RenameLink", rw, admRenameLink)
	typedHubAt("GetLinkStatus", "HubName_Ex", ro, admGetLinkStatus)

	// Local bridges (admin_l3bridge.go; run by localbridge.go). EnumEthernet
	// lists the host's interfaces: server admins only, as in SoftEther.
	typed("AddLocalBridge", rightServer, rw, admAddLocalBridge)
	typed("DeleteLocalBridge", rightServer, rw, admDeleteLocalBridge)
	typed("EnumLocalBridge", rightAny, ro, admEnumLocalBridge)
	add("EnumEthernet", rightServer, ro, admEnumEthernet)
	add("GetBridgeSupport", rightAny, ro, admGetBridgeSupport)

	// Stored, not yet run (admin_store.go).
	typedHub("AddAccess", rw, admAddAccess)
	typedHub("DeleteAccess", rw, admDeleteAccess)
	typedHub("EnumAccess", ro, admEnumAccess)
	typedHub("SetAccessList", rw, admSetAccessList)
	typed("AddL3Switch", rightServer, rw, admAddL3Switch)
	typed("DelL3Switch", rightServer, rw, admDelL3Switch)
	typed("StartL3Switch", rightServer, rw, admStartL3Switch)
	typed("StopL3Switch", rightServer, rw, admStopL3Switch)
	typed("EnumL3Switch", rightAny, ro, admEnumL3Switch)
	typed("AddL3If", rightServer, rw, admAddL3If)
	typed("DelL3If", rightServer, rw, admDelL3If)
	typed("EnumL3If", rightAny, ro, admEnumL3If)
	typed("AddL3Table", rightServer, rw, admAddL3Table)
	typed("DelL3Table", rightServer, rw, admDelL3Table)
	typed("EnumL3Table", rightAny, ro, admEnumL3Table)
	typedHub("GetHubAdminOptions", ro, admGetHubAdminOptions)
	typedHub("SetHubAdminOptions", rw, admSetHubAdminOptions)
	typedHub("GetHubExtOptions", ro, admGetHubExtOptions)
	typedHub("GetAcList", ro, admGetAcList)
	typedHub("SetAcList", rw, admSetAcList)
	typedHub("SetHubExtOptions", rw, admSetHubExtOptions)
	typed("GetDefaultHubAdminOptions", rightAny, ro, admGetDefaultHubAdminOptions)
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
