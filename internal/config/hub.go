package config

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Hub types in a server farm (SoftEther Hub.h, HUB_TYPE_FARM_*): a static
// hub runs on every node and takes sessions on any; a dynamic hub runs on
// one node at a time. A standalone hub in a farm counts as dynamic, as
// SoftEther's controller makes it (Server.c:5107-5114).
const (
	HubStandalone = 0
	HubStatic     = 1
	HubDynamic    = 2
)

// Hub is the typed view of one VirtualHUB/<name> folder.
type Hub struct {
	Name   string
	Online bool
	// Type is the hub's kind in a server farm (VirtualHUB/<name>/Type):
	// HubStandalone, HubStatic or HubDynamic.
	Type uint32

	// Hub admin password hashes: HashedPassword = SHA0(pw),
	// SecurePassword = SHA0(pw || "ADMINISTRATOR").
	HashedPassword, SecurePassword []byte

	MaxSession uint32 // Option/MaxSession, 0 = unlimited
	NoEnum     bool   // Option/NoEnum: hide the hub from anonymous enumeration

	// The hub's own times and login count (items of its folder), which
	// EnumHub and GetHubStatus report; zero = never.
	CreatedTime, LastCommTime, LastLoginTime time.Time
	NumLogin                                 uint32

	Users  []*User  // SecurityAccountDatabase/UserList
	Groups []*Group // SecurityAccountDatabase/GroupList

	SecureNAT SecureNAT

	LogSecurity bool // LogSetting/SaveSecurityLog
	LogPacket   bool // LogSetting/SavePacketLog

	// AcList is the Source IP Address Limit List
	// (SecurityAccountDatabase/IPAccessControlList), in file order.
	AcList []AcEntry
	// AccessList is the access list (AccessList/<n>), in file order.
	AccessList []Access
	// AdminOptions is the AdminOption folder, by name (as the file keeps
	// them; ToTree sorts them so).
	AdminOptions []AdminOption
	// Options is the Option folder (but MaxSession and NoEnum, above).
	Options HubOptions
	// Log is the LogSetting folder (but SaveSecurityLog and SavePacketLog).
	Log LogSetting
	// Cascades is the CascadeList, in file order.
	Cascades []*Cascade

	folder *Folder // the hub's folder in the tree; nil until written

	// loaded holds the parts that ToTree writes whole as they were last
	// read from or written to the tree: a part equal to its loaded value
	// is not written, so an unchanged model leaves the tree as it was,
	// and a part the server still edits in the tree directly is not
	// overwritten by a stale model value.
	loaded hubParts
}

// hubParts are the snapshots behind Hub.loaded. The parts the server
// still edits in the tree directly (access list, admin options, options,
// log settings) are written only when the model changed them, and then
// item by item where they differ.
type hubParts struct {
	acList       []AcEntry
	accessList   []Access
	adminOptions []AdminOption
	options      HubOptions
	log          LogSetting
	cascades     []Cascade
}

// User is one SecurityAccountDatabase/UserList/<name> folder.
type User struct {
	Name, RealName, Note string
	GroupName            string // "" = no group

	// AuthType: 0 anonymous, 1 password, 2 user certificate, 3 root
	// certificate (CA-signed), 4 RADIUS, 5 NT domain.
	AuthType     uint32
	PasswordHash []byte // AuthPassword = SHA0(pw || UPPER(name)), 20 bytes
	NTLMHash     []byte // AuthNtLmSecureHash, 16 bytes (MD4 of the password)

	CreatedTime, UpdatedTime, ExpireTime, LastLoginTime time.Time // zero = never
	NumLogin                                            uint32

	Policy *Policy // nil = no own policy (the group's or the default applies)

	// folder is where the user was read from or last written to. Once
	// toFolder has written it, it is final (Folder.final) until a copy of
	// the user replaces this one (EditUserAt): a user of a published
	// configuration never changes, so a save of a hub of 10,000 users
	// writes and encodes only the users that changed.
	folder *Folder
}

// Group is one SecurityAccountDatabase/GroupList/<name> folder.
type Group struct {
	Name, RealName, Note string
	Policy               *Policy // nil = no group policy

	folder *Folder
}

// SecureNAT is the SecureNAT folder of a hub (virtual host, NAT, DHCP).
// Times are in seconds. A loaded file's values are kept as they are, even
// zero ones (the consumer applies SoftEther's run-time clamps).
type SecureNAT struct {
	Enabled bool // stored inverted, as "Disabled"
	SaveLog bool

	MAC      net.HardwareAddr // VirtualHost/VirtualHostMacAddress
	IP, Mask netip.Addr       // VirtualHost/VirtualHostIp, VirtualHostIpSubnetMask

	NatEnabled             bool   // VirtualRouter/NatEnabled
	MTU                    uint32 // VirtualRouter/NatMtu
	TCPTimeout, UDPTimeout uint32 // VirtualRouter/NatTcpTimeout, NatUdpTimeout

	DHCPEnabled                    bool       // VirtualDhcpServer/DhcpEnabled
	DHCPStart, DHCPEnd, DHCPMask   netip.Addr // DhcpLeaseIPStart, DhcpLeaseIPEnd, DhcpSubnetMask
	DHCPGateway, DHCPDNS, DHCPDNS2 netip.Addr // DhcpGatewayAddress, DhcpDnsServerAddress(2)
	DHCPDomain                     string     // DhcpDomainName
	DHCPExpire                     uint32     // DhcpExpireTimeSpan
	DHCPPushRoutes                 string     // DhcpPushRoutes (classless static routes)
}

// User returns the user called name (case-insensitive), or nil.
func (h *Hub) User(name string) *User {
	for _, u := range h.Users {
		if strings.EqualFold(u.Name, name) {
			return u
		}
	}
	return nil
}

// Group returns the group called name (case-insensitive), or nil.
func (h *Hub) Group(name string) *Group {
	for _, g := range h.Groups {
		if strings.EqualFold(g.Name, name) {
			return g
		}
	}
	return nil
}

// RemoveUser deletes the user called name; it reports whether it existed.
func (h *Hub) RemoveUser(name string) bool {
	for i, u := range h.Users {
		if strings.EqualFold(u.Name, name) {
			h.Users = append(h.Users[:i], h.Users[i+1:]...)
			return true
		}
	}
	return false
}

// RemoveGroup deletes the group called name; it reports whether it existed.
func (h *Hub) RemoveGroup(name string) bool {
	for i, g := range h.Groups {
		if strings.EqualFold(g.Name, name) {
			h.Groups = append(h.Groups[:i], h.Groups[i+1:]...)
			return true
		}
	}
	return false
}

func readHub(f *Folder) *Hub {
	opt, logs := f.Folder("Option"), f.Folder("LogSetting")
	h := &Hub{
		Name:           f.Name,
		Online:         f.GetBool("Online"),
		Type:           f.GetUint("Type"),
		HashedPassword: f.GetBytes("HashedPassword"),
		SecurePassword: f.GetBytes("SecurePassword"),
		MaxSession:     opt.GetUint("MaxSession"),
		NoEnum:         opt.GetBool("NoEnum"),
		CreatedTime:    fromSETime(f.GetUint64("CreatedTime")),
		LastCommTime:   fromSETime(f.GetUint64("LastCommTime")),
		LastLoginTime:  fromSETime(f.GetUint64("LastLoginTime")),
		NumLogin:       f.GetUint("NumLogin"),
		SecureNAT:      readSecureNAT(f.Folder("SecureNAT")),
		LogSecurity:    logs.GetBool("SaveSecurityLog"),
		LogPacket:      logs.GetBool("SavePacketLog"),
		folder:         f,
	}
	acl, legacy := readAcList(f)
	h.AcList = acl
	if !legacy { // a list found at the legacy place is written at the right one
		h.loaded.acList = slices.Clone(acl)
	}
	h.AccessList = readAccessList(f)
	h.AdminOptions = readAdminOptions(f)
	h.Options = readHubOptions(opt)
	h.Log = readLogSetting(f)
	h.loaded.accessList = slices.Clone(h.AccessList)
	h.loaded.adminOptions = slices.Clone(h.AdminOptions)
	h.loaded.options, h.loaded.log = h.Options, h.Log
	h.Cascades = Cascades(f)
	h.loaded.cascades = snapshotCascades(h.Cascades)
	db := f.Folder("SecurityAccountDatabase")
	for _, g := range db.Folder("GroupList").subfolders() {
		h.Groups = append(h.Groups, &Group{
			Name: g.Name, RealName: g.GetString("RealName"), Note: g.GetString("Note"),
			Policy: readPolicy(g.Folder("Policy")), folder: g,
		})
	}
	for _, u := range db.Folder("UserList").subfolders() {
		h.Users = append(h.Users, readUser(u))
	}
	return h
}

func readUser(f *Folder) *User {
	return &User{
		Name:          f.Name,
		RealName:      f.GetString("RealName"),
		Note:          f.GetString("Note"),
		GroupName:     f.GetString("GroupName"),
		AuthType:      f.GetUint("AuthType"),
		PasswordHash:  f.GetBytes("AuthPassword"),
		NTLMHash:      f.GetBytes("AuthNtLmSecureHash"),
		CreatedTime:   fromSETime(f.GetUint64("CreatedTime")),
		UpdatedTime:   fromSETime(f.GetUint64("UpdatedTime")),
		ExpireTime:    fromSETime(f.GetUint64("ExpireTime")),
		LastLoginTime: fromSETime(f.GetUint64("LastLoginTime")),
		NumLogin:      f.GetUint("NumLogin"),
		Policy:        readPolicy(f.Folder("Policy")),
		folder:        f,
	}
}

func readSecureNAT(f *Folder) SecureNAT {
	vh, vr, dh := f.Folder("VirtualHost"), f.Folder("VirtualRouter"), f.Folder("VirtualDhcpServer")
	return SecureNAT{
		Enabled:        f != nil && !f.GetBool("Disabled"),
		SaveLog:        f.GetBool("SaveLog"),
		MAC:            getMAC(vh, "VirtualHostMacAddress"),
		IP:             getAddr(vh, "VirtualHostIp"),
		Mask:           getAddr(vh, "VirtualHostIpSubnetMask"),
		NatEnabled:     vr.GetBool("NatEnabled"),
		MTU:            vr.GetUint("NatMtu"),
		TCPTimeout:     vr.GetUint("NatTcpTimeout"),
		UDPTimeout:     vr.GetUint("NatUdpTimeout"),
		DHCPEnabled:    dh.GetBool("DhcpEnabled"),
		DHCPStart:      getAddr(dh, "DhcpLeaseIPStart"),
		DHCPEnd:        getAddr(dh, "DhcpLeaseIPEnd"),
		DHCPMask:       getAddr(dh, "DhcpSubnetMask"),
		DHCPGateway:    getAddr(dh, "DhcpGatewayAddress"),
		DHCPDNS:        getAddr(dh, "DhcpDnsServerAddress"),
		DHCPDNS2:       getAddr(dh, "DhcpDnsServerAddress2"),
		DHCPDomain:     dh.GetString("DhcpDomainName"),
		DHCPExpire:     dh.GetUint("DhcpExpireTimeSpan"),
		DHCPPushRoutes: dh.GetString("DhcpPushRoutes"),
	}
}

// toFolder writes h into its folder (a complete new one for a new hub) and
// returns it.
func (h *Hub) toFolder() *Folder {
	if h.folder == nil {
		h.folder = newHubFolder()
	}
	f := h.folder
	f.Name = h.Name
	putBool(f, "Online", h.Online)
	putUint(f, "Type", h.Type)
	putBytes(f, "HashedPassword", h.HashedPassword)
	putBytes(f, "SecurePassword", h.SecurePassword)
	putTime(f, "CreatedTime", h.CreatedTime)
	putTime(f, "LastCommTime", h.LastCommTime)
	putTime(f, "LastLoginTime", h.LastLoginTime)
	putUint(f, "NumLogin", h.NumLogin)
	child(f, "Option", func(opt *Folder) {
		putUint(opt, "MaxSession", h.MaxSession)
		putBool(opt, "NoEnum", h.NoEnum)
	})
	child(f, "LogSetting", func(logs *Folder) {
		putBool(logs, "SaveSecurityLog", h.LogSecurity)
		putBool(logs, "SavePacketLog", h.LogPacket)
	})
	h.SecureNAT.write(f)
	if !slices.Equal(h.AcList, h.loaded.acList) || (len(h.AcList) == 0 && len(f.Folder(acListFolder).subfolders()) > 0) {
		writeAcList(f, h.AcList)
		h.loaded.acList = slices.Clone(h.AcList)
	}
	if !slices.Equal(h.AccessList, h.loaded.accessList) {
		writeAccessList(f, h.AccessList)
		h.loaded.accessList = slices.Clone(h.AccessList)
	}
	slices.SortStableFunc(h.AdminOptions, func(a, b AdminOption) int { return compareNames(a.Name, b.Name) })
	if !slices.Equal(h.AdminOptions, h.loaded.adminOptions) {
		writeAdminOptions(f, h.AdminOptions)
		h.loaded.adminOptions = slices.Clone(h.AdminOptions)
	}
	writeChanged(h.Options, &h.loaded.options, func() { h.Options.write(f) })
	writeChanged(h.Log, &h.loaded.log, func() { h.Log.write(f) })
	h.writeCascades(f)
	child(f, "SecurityAccountDatabase", func(db *Folder) {
		child(db, "GroupList", func(gl *Folder) {
			gl.Folders = gl.Folders[:0]
			for _, g := range h.Groups {
				gl.Folders = append(gl.Folders, g.toFolder())
			}
		})
		child(db, "UserList", func(ul *Folder) {
			ul.Folders = ul.Folders[:0]
			for _, u := range h.Users {
				ul.Folders = append(ul.Folders, u.toFolder())
			}
		})
	})
	return f
}

// write stores n in the hub folder's SecureNAT sub-folder. A hub without
// that folder (possible in hand-written files) only gets one if a value
// differs from the zero values it was read as.
func (n *SecureNAT) write(hub *Folder) {
	existed := hub.Folder("SecureNAT") != nil
	child(hub, "SecureNAT", func(f *Folder) {
		// a missing folder reads as disabled; only write it to enable
		if existed || n.Enabled {
			putBool(f, "Disabled", !n.Enabled)
		}
		putBool(f, "SaveLog", n.SaveLog)
		child(f, "VirtualHost", func(c *Folder) {
			putAddr(c, "VirtualHostIp", n.IP)
			putAddr(c, "VirtualHostIpSubnetMask", n.Mask)
			if len(n.MAC) > 0 {
				putMAC(c, "VirtualHostMacAddress", n.MAC)
			}
		})
		child(f, "VirtualRouter", func(c *Folder) {
			putBool(c, "NatEnabled", n.NatEnabled)
			putUint(c, "NatMtu", n.MTU)
			putUint(c, "NatTcpTimeout", n.TCPTimeout)
			putUint(c, "NatUdpTimeout", n.UDPTimeout)
		})
		child(f, "VirtualDhcpServer", func(c *Folder) {
			putAddr(c, "DhcpDnsServerAddress", n.DHCPDNS)
			putAddr(c, "DhcpDnsServerAddress2", n.DHCPDNS2)
			putString(c, "DhcpDomainName", n.DHCPDomain)
			putBool(c, "DhcpEnabled", n.DHCPEnabled)
			putUint(c, "DhcpExpireTimeSpan", n.DHCPExpire)
			putAddr(c, "DhcpGatewayAddress", n.DHCPGateway)
			putAddr(c, "DhcpLeaseIPEnd", n.DHCPEnd)
			putAddr(c, "DhcpLeaseIPStart", n.DHCPStart)
			putString(c, "DhcpPushRoutes", n.DHCPPushRoutes)
			putAddr(c, "DhcpSubnetMask", n.DHCPMask)
		})
	})
}

// authItems are the user items that belong to each AuthType; switching a
// user's type removes the items of the other types.
var authItems = map[uint32][]string{
	1: {"AuthPassword", "AuthNtLmSecureHash"},
	2: {"AuthUserCert"},
	3: {"AuthSerial", "AuthCommonName"},
	4: {"AuthRadiusUsername"},
	5: {"AuthNtUserName"},
}

func (u *User) toFolder() *Folder {
	if u.folder != nil && u.folder.final {
		return u.folder
	}
	if u.folder == nil {
		u.folder = newUserFolder()
	}
	f := u.folder
	defer func() { f.final = true }()
	f.Name = u.Name
	putString(f, "RealName", u.RealName)
	putString(f, "Note", u.Note)
	if u.GroupName == "" {
		f.Remove("GroupName")
	} else {
		putString(f, "GroupName", u.GroupName)
	}
	if f.GetUint("AuthType") != u.AuthType {
		for t, names := range authItems {
			if t != u.AuthType {
				for _, n := range names {
					f.Remove(n)
				}
			}
		}
		f.SetUint("AuthType", u.AuthType)
	}
	if u.AuthType == 1 {
		putOptionalBytes(f, "AuthPassword", u.PasswordHash)
		putOptionalBytes(f, "AuthNtLmSecureHash", u.NTLMHash)
	}
	putTime(f, "CreatedTime", u.CreatedTime)
	putTime(f, "UpdatedTime", u.UpdatedTime)
	putTime(f, "ExpireTime", u.ExpireTime)
	putTime(f, "LastLoginTime", u.LastLoginTime)
	putUint(f, "NumLogin", u.NumLogin)
	writePolicy(f, u.Policy)
	return f
}

func (g *Group) toFolder() *Folder {
	if g.folder == nil {
		g.folder = NewFolder("")
		g.folder.SetString("Note", "")
		g.folder.SetString("RealName", "")
		g.folder.Folders = append(g.folder.Folders, newTrafficFolder("Traffic"))
	}
	f := g.folder
	f.Name = g.Name
	putString(f, "RealName", g.RealName)
	putString(f, "Note", g.Note)
	writePolicy(f, g.Policy)
	return f
}
