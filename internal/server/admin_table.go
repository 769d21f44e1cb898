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
	// typedHubKey is typedHub for a method that names its hub in hubKey.
	typedHubKey := func(name, hubKey string, write bool, fn func(a *adminCall) (*pack.Pack, error)) {
		adminMethods[upperASCII(name)] = adminMethod{right: rightHub, hubKey: hubKey, write: write, typed: true, fn: fn}
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
	typed("Flush", rightServer, ro, admFlush)
	add("GetCaps", rightAny, ro, admGetCaps)
	add("GetKeep", rightAny, ro, admGetKeep)
	add("SetKeep", rightServer, rw, admSetKeep)
	add("GetSysLog", rightAny, ro, admGetSysLog)
	add("SetSysLog", rightServer, rw, admSetSysLog)
	add("RebootServer", rightServer, ro, admRebootServer)

	// Hubs
	typed("CreateHub", rightServer, rw, notOnBridge(admCreateHub)) // a VPN Bridge has one hub
	typedHub("SetHub", rw, admSetHub)
	typedHub("GetHub", ro, admGetHub)
	typed("EnumHub", rightAny, ro, admEnumHub)
	typed("DeleteHub", rightServer, rw, notOnBridge(admDeleteHub))
	typedHub("SetHubOnline", rw, admSetHubOnline)
	typedHub("GetHubStatus", ro, admGetHubStatus)
	typedHub("GetHubLog", ro, admGetHubLog)
	typedHub("SetHubLog", rw, admSetHubLog)

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
	addHub("EnumSession", "", ro, admEnumSession)
	addHub("GetSessionStatus", "", ro, admGetSessionStatus)
	addHub("DeleteSession", "", ro, admDeleteSession)
	addHub("EnumMacTable", "", ro, admEnumMacTable)
	addHub("DeleteMacTable", "", ro, admDeleteTable("no_delete_mactable", func(h *Hub, id uint32) bool { return h.DeleteMAC(id) }))
	addHub("EnumIpTable", "", ro, admEnumIpTable)
	addHub("DeleteIpTable", "", ro, admDeleteTable("no_delete_iptable", func(h *Hub, id uint32) bool { return h.DeleteIP(id) }))

	// SecureNAT
	typedHub("EnableSecureNAT", rw, admSetSecureNAT(true))
	typedHub("DisableSecureNAT", rw, admSetSecureNAT(false))
	typedHubKey("GetSecureNATOption", "RpcHubName", ro, admGetSecureNATOption)
	typedHubKey("SetSecureNATOption", "RpcHubName", rw, admSetSecureNATOption)
	addHub("EnumNAT", "", ro, admSecureNATTable(fillNATTable))
	addHub("EnumDHCP", "", ro, admSecureNATTable(fillDHCPTable))
	addHub("GetSecureNATStatus", "", ro, admSecureNATTable(fillNATStatus))

	// Cascades (admin_cascade.go); the hub of the Link methods is the
	// local one, named in HubName_Ex where the structure also carries the
	// remote hub in HubName.
	addHub("CreateLink", "HubName_Ex", rw, admCreateLink)
	addHub("GetLink", "HubName_Ex", ro, admGetLink)
	addHub("SetLink", "HubName_Ex", rw, admSetLink)
	addHub("EnumLink", "", ro, admEnumLink)
	addHub("SetLinkOnline", "", rw, admSetLinkOnline(true))
	addHub("SetLinkOffline", "", rw, admSetLinkOnline(false))
	addHub("DeleteLink", "", rw, admDeleteLink)
	addHub("RenameLink", "", rw, admRenameLink)
	addHub("GetLinkStatus", "HubName_Ex", ro, admGetLinkStatus)

	// Local bridges (admin_store.go; run by localbridge.go). EnumEthernet
	// lists the host's interfaces: server admins only, as in SoftEther.
	add("AddLocalBridge", rightServer, rw, admAddLocalBridge)
	add("DeleteLocalBridge", rightServer, rw, admDeleteLocalBridge)
	add("EnumLocalBridge", rightAny, ro, admEnumLocalBridge)
	add("EnumEthernet", rightServer, ro, admEnumEthernet)
	add("GetBridgeSupport", rightAny, ro, admGetBridgeSupport)

	// Stored, not yet run (admin_store.go).
	addHub("AddAccess", "", rw, admAddAccess)
	addHub("DeleteAccess", "", rw, admDeleteAccess)
	addHub("EnumAccess", "", ro, admEnumAccess)
	addHub("SetAccessList", "", rw, admSetAccessList)
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
	addHub("GetHubAdminOptions", "", ro, admGetHubAdminOptions)
	addHub("SetHubAdminOptions", "", rw, admSetHubAdminOptions)
	addHub("GetHubExtOptions", "", ro, admGetHubExtOptions)
	addHub("GetAcList", "", ro, admGetAcList)
	addHub("SetAcList", "", rw, admSetAcList)
	addHub("SetHubExtOptions", "", rw, admSetHubExtOptions)
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
