package server

import (
	"bytes"
	"cmp"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/securenat"
	"github.com/ethervpn/ethervpn/internal/securenat/dhcpd"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Hub-level methods: hubs, users, groups, sessions, MAC/IP tables,
// SecureNAT and logging settings.

// --- hubs (docs/protocol/admin.md#hubs) ---

// checkHubName validates a hub name as CreateHub does.
func checkHubName(name string) error {
	if !validName(name, false) || strings.TrimSpace(name) != name ||
		strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		return vpnerr.InvalidParameter
	}
	return nil
}

// hubPasswords reads the hub password of a CreateHub or SetHub request:
// the plain text when given, else the two hashes.
func hubPasswords(in *pack.Pack) (hashed, secure []byte) {
	if plain := in.Str("AdminPasswordPlainText"); plain != "" {
		return control.HubPasswordHashes(plain)
	}
	return in.Data("HashedPassword"), in.Data("SecurePassword")
}

func admCreateHub(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("HubName")
	if err := checkHubName(name); err != nil {
		return nil, err
	}
	typ, err := a.s.requestedHubType(a.in.Int("HubType"))
	if err != nil {
		return nil, err
	}
	hashed, secure := hubPasswords(a.in)
	if isZero(hashed) && isZero(secure) { // none given: the empty password
		hashed, secure = control.HubPasswordHashes("")
	}
	// SoftEther keeps one all-zero hash when the other is set; the owner
	// refuses that.
	_, err = a.s.ctl.CreateHub(a.actor(), name, control.HubSettings{
		Online: a.in.Bool("Online"), MaxSession: a.in.Int("MaxSession"), NoEnum: a.in.Bool("NoEnum"),
		HashedPassword: hashed, SecurePassword: secure, Type: typ,
	})
	if err != nil {
		return nil, err
	}
	out := echo(a.in)
	out.AddData("HashedPassword", hashed)
	out.AddData("SecurePassword", secure)
	return out, nil
}

func admSetHub(a *adminCall) (*pack.Pack, error) {
	typ, err := a.s.requestedHubType(a.in.Int("HubType"))
	if err != nil {
		return nil, err
	}
	hashed, secure := hubPasswords(a.in)
	err = a.s.ctl.SetHub(a.actor(), a.hub, control.HubSettings{
		Online: a.in.Bool("Online"), MaxSession: a.in.Int("MaxSession"), NoEnum: a.in.Bool("NoEnum"),
		HashedPassword: hashed, SecurePassword: secure, Type: typ, ChangeType: true,
		NoEmptyPassword: !a.c.Remote.IsLoopback(),
	})
	if err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admGetHub(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		out.AddStr("HubName", h.Name)
		out.AddData("HashedPassword", make([]byte, sha0.Size)) // never disclosed
		out.AddData("SecurePassword", make([]byte, sha0.Size))
		out.AddStr("AdminPasswordPlainText", "")
		out.AddBool("Online", h.Online)
		out.AddInt("MaxSession", h.MaxSession)
		out.AddBool("NoEnum", h.NoEnum)
		out.AddInt("HubType", a.s.shownHubType(h))
		out.AddInt("DefaultGateway", 0)
		out.AddInt("DefaultSubnet", 0)
		return nil
	})
	return out, err
}

// hubCounts are a hub's runtime counters that EnumHub and GetHubStatus
// report; a hub that does not run (yet) has none.
type hubCounts struct {
	ports     []hub.PortInfo
	macs, ips int
	stats     hub.Stats
}

// hubCounts reads the running hub name's counters.
func (s *Server) hubCounts(name string) hubCounts {
	h := s.LookupHub(name)
	if h == nil {
		return hubCounts{}
	}
	return hubCounts{ports: h.Ports(), macs: len(h.MACTable()), ips: len(h.IPTable()), stats: h.Stats()}
}

func admEnumHub(a *adminCall) (*pack.Pack, error) {
	var hubs []config.Hub // copies of the settings read: the counters are read after
	a.s.ctl.Hubs(a.actor(), func(list []*config.Hub) {
		for _, h := range list {
			hubs = append(hubs, *h)
		}
	})
	slices.SortFunc(hubs, func(x, y config.Hub) int { return cmp.Compare(strings.ToUpper(x.Name), strings.ToUpper(y.Name)) })
	others := a.otherSessions() // the farm's other nodes (admin_farm_tables.go)
	out := pack.New()
	l := newList(out)
	for _, h := range hubs {
		c := a.s.hubCounts(h.Name)
		l.row()
		l.str("HubName", h.Name)
		l.bool("Online", h.Online)
		l.int("HubType", a.s.shownHubType(&h))
		l.int("NumSessions", uint32(len(c.ports)+others[strings.ToUpper(h.Name)]))
		l.int("NumUsers", uint32(len(h.Users)))
		l.int("NumGroups", uint32(len(h.Groups)))
		l.int("NumMacTables", uint32(c.macs))
		l.int("NumIpTables", uint32(c.ips))
		l.time("LastCommTime", h.LastCommTime)
		l.time("CreatedTime", h.CreatedTime)
		l.time("LastLoginTime", h.LastLoginTime)
		l.int("NumLogin", h.NumLogin)
		l.bool("IsTrafficFilled", true)
		l.traffic(c.stats)
	}
	l.done()
	return out, nil
}

func admDeleteHub(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("HubName")
	if checkHubName(name) != nil {
		return nil, vpnerr.InvalidParameter
	}
	if err := a.s.ctl.DeleteHub(a.actor(), name); err != nil {
		return nil, err
	}
	a.s.log.Info("virtual hub deleted", "hub", name)
	return echo(a.in), nil
}

func admSetHubOnline(a *adminCall) (*pack.Pack, error) {
	if err := a.s.ctl.SetHubOnline(a.actor(), a.hub, a.in.Bool("Online")); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admGetHubStatus(a *adminCall) (*pack.Pack, error) {
	var hc config.Hub // a copy of the settings read: the counters are read after
	if err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error { hc = *h; return nil }); err != nil {
		return nil, err
	}
	c := a.s.hubCounts(hc.Name)
	var clients, bridges int
	for _, p := range c.ports {
		switch p.Kind {
		case hub.KindClient:
			clients++
		case hub.KindBridge:
			bridges++
		}
	}
	out := pack.New()
	out.AddStr("HubName", hc.Name)
	out.AddBool("Online", hc.Online)
	out.AddInt("HubType", a.s.shownHubType(&hc))
	out.AddInt("NumSessions", uint32(len(c.ports)))
	out.AddInt("NumSessionsClient", uint32(clients))
	out.AddInt("NumSessionsBridge", uint32(bridges))
	out.AddInt("NumAccessLists", uint32(len(hc.AccessList)))
	out.AddInt("NumUsers", uint32(len(hc.Users)))
	out.AddInt("NumGroups", uint32(len(hc.Groups)))
	out.AddInt("NumMacTables", uint32(c.macs))
	out.AddInt("NumIpTables", uint32(c.ips))
	out.AddBool("SecureNATEnabled", hc.SecureNAT.Enabled)
	addTraffic(out, c.stats)
	out.AddInt64("LastCommTime", seTime(hc.LastCommTime))
	out.AddInt64("CreatedTime", seTime(hc.CreatedTime))
	out.AddInt64("LastLoginTime", seTime(hc.LastLoginTime))
	out.AddInt("NumLogin", hc.NumLogin)
	return out, nil
}

// --- policies (docs/protocol/admin.md#policy-block) ---

// addPolicy writes pol as "policy:<Name>" elements plus policy:Ver3.
func addPolicy(p *pack.Pack, pol *config.Policy) {
	v := reflect.ValueOf(pol).Elem()
	for i := range v.NumField() {
		name := "policy:" + v.Type().Field(i).Name
		switch f := v.Field(i); f.Kind() {
		case reflect.Bool:
			p.AddBool(name, f.Bool())
		case reflect.Uint32:
			p.AddInt(name, uint32(f.Uint()))
		}
	}
	p.AddBool("policy:Ver3", true)
}

// readPolicyPack reads the policy of a request when UsePolicy is set.
func readPolicyPack(p *pack.Pack) *config.Policy {
	if !p.Bool("UsePolicy") {
		return nil
	}
	return policyFromPack(p)
}

// policyFromPack reads the "policy:<Name>" elements of p (absent ones are
// zero).
func policyFromPack(p *pack.Pack) *config.Policy {
	pol := new(config.Policy)
	v := reflect.ValueOf(pol).Elem()
	for i := range v.NumField() {
		name := "policy:" + v.Type().Field(i).Name
		switch f := v.Field(i); f.Kind() {
		case reflect.Bool:
			f.SetBool(p.Bool(name))
		case reflect.Uint32:
			f.SetUint(uint64(p.Int(name)))
		}
	}
	return pol
}

// --- users (docs/protocol/admin.md#users-and-groups) ---

// reservedUserNames are the names of internal sessions.
var reservedUserNames = []string{"link", "cascade", "securenat", "localbridge", "local bridge", "administrator"}

func checkUserName(name string) error {
	if name == "*" {
		return nil
	}
	if !validName(name, true) {
		return vpnerr.InvalidParameter
	}
	l := strings.ToLower(name)
	if slices.Contains(reservedUserNames, l) || strings.HasPrefix(l, "l3sw_") {
		return vpnerr.InvalidParameter
	}
	return nil
}

// userSettings reads the settings of a CreateUser or SetUser request for
// the user name. Only the kinds of authentication the server implements
// are accepted: anonymous and password. Certificates, RADIUS and NT domain
// logins are refused with SoftEther's open-source answer instead of being
// stored and never working.
func userSettings(in *pack.Pack, name string) (control.UserSettings, error) {
	s := control.UserSettings{
		GroupName:  in.Str("GroupName"),
		RealName:   in.UniStr("Realname"),
		Note:       in.UniStr("Note"),
		ExpireTime: fromSETime(in.Int64("ExpireTime")),
		Policy:     readPolicyPack(in),
		AuthType:   in.Int("AuthType"),
	}
	switch s.AuthType {
	case userAuthAnonymous:
	case userAuthPassword:
		hash, nt := in.Data("HashedKey"), in.Data("NtLmSecureHash")
		if plain := in.Str("Auth_Password"); (len(hash) != sha0.Size || isZero(hash)) && plain != "" {
			h := sha0.HashPassword(name, plain)
			n := sha0.NTPasswordHash(plain)
			hash, nt = h[:], n[:]
		}
		if len(hash) != sha0.Size || isZero(hash) {
			break // none given: SetUser keeps the current one
		}
		if len(nt) != 16 || isZero(nt) {
			nt = nil
		}
		s.PasswordHash, s.NTLMHash = bytes.Clone(hash), bytes.Clone(nt)
	case 2, 3, 4, 5:
		return s, vpnerr.NotSupportedAuthOnOpensource
	default:
		return s, vpnerr.InvalidParameter
	}
	return s, nil
}

func admCreateUser(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("Name")
	if err := checkUserName(name); err != nil {
		return nil, err
	}
	set, err := userSettings(a.in, name)
	if err != nil {
		return nil, err
	}
	u, err := a.s.ctl.CreateUser(a.actor(), a.hub, name, set)
	if err != nil {
		return nil, err
	}
	return userPack(a.hub, u), nil
}

func admSetUser(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("Name")
	set, err := userSettings(a.in, name)
	if err != nil {
		return nil, err
	}
	u, err := a.s.ctl.SetUser(a.actor(), a.hub, name, set)
	if err != nil {
		return nil, err
	}
	return userPack(a.hub, u), nil
}

func admGetUser(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("Name")
	if checkUserName(name) != nil {
		return nil, vpnerr.InvalidParameter
	}
	var out *pack.Pack
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		u := h.User(name)
		if u == nil {
			return vpnerr.ObjectNotFound
		}
		out = userPack(h.Name, u)
		return nil
	})
	return out, err
}

// userPack is RPC_SET_USER for u.
func userPack(hubName string, u *config.User) *pack.Pack {
	out := pack.New()
	out.AddStr("HubName", hubName)
	out.AddStr("Name", u.Name)
	out.AddStr("GroupName", u.GroupName)
	out.AddUniStr("Realname", u.RealName)
	out.AddUniStr("Note", u.Note)
	out.AddInt64("CreatedTime", seTime(u.CreatedTime))
	out.AddInt64("UpdatedTime", seTime(u.UpdatedTime))
	out.AddInt64("ExpireTime", seTime(u.ExpireTime))
	out.AddInt("AuthType", u.AuthType)
	if u.AuthType == userAuthPassword {
		out.AddData("HashedKey", u.PasswordHash)
		nt := u.NTLMHash
		if len(nt) != 16 {
			nt = make([]byte, 16)
		}
		out.AddData("NtLmSecureHash", nt)
	}
	out.AddInt("NumLogin", u.NumLogin)
	addTraffic(out, hub.Stats{})
	if u.Policy != nil {
		out.AddBool("UsePolicy", true)
		addPolicy(out, u.Policy)
	}
	return out
}

func admDeleteUser(a *adminCall) (*pack.Pack, error) {
	if err := a.s.ctl.DeleteUser(a.actor(), a.hub, a.in.Str("Name")); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admEnumUser(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		users := slices.Clone(h.Users)
		slices.SortFunc(users, func(x, y *config.User) int { return cmp.Compare(strings.ToUpper(x.Name), strings.ToUpper(y.Name)) })
		out.AddStr("HubName", h.Name)
		l := newList(out)
		for _, u := range users {
			l.row()
			l.str("Name", u.Name)
			l.str("GroupName", u.GroupName)
			l.uni("Realname", u.RealName)
			l.uni("Note", u.Note)
			l.int("AuthType", u.AuthType)
			l.time("LastLoginTime", u.LastLoginTime)
			l.int("NumLogin", u.NumLogin)
			l.bool("DenyAccess", u.Policy != nil && !u.Policy.Access)
			l.bool("IsTrafficFilled", true)
			l.traffic(hub.Stats{})
			l.bool("IsExpiresFilled", true)
			l.time("Expires", u.ExpireTime)
		}
		l.done()
		return nil
	})
	return out, err
}

// --- groups (docs/protocol/admin.md#users-and-groups) ---

// groupSettings reads the settings of a CreateGroup or SetGroup request.
func groupSettings(in *pack.Pack) control.GroupSettings {
	return control.GroupSettings{RealName: in.UniStr("Realname"), Note: in.UniStr("Note"), Policy: readPolicyPack(in)}
}

func admCreateGroup(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("Name")
	if !validName(name, false) {
		return nil, vpnerr.InvalidParameter
	}
	g, err := a.s.ctl.CreateGroup(a.actor(), a.hub, name, groupSettings(a.in))
	if err != nil {
		return nil, err
	}
	return groupPack(a.hub, g), nil
}

func admSetGroup(a *adminCall) (*pack.Pack, error) {
	g, err := a.s.ctl.SetGroup(a.actor(), a.hub, a.in.Str("Name"), groupSettings(a.in))
	if err != nil {
		return nil, err
	}
	return groupPack(a.hub, g), nil
}

func admGetGroup(a *adminCall) (*pack.Pack, error) {
	var out *pack.Pack
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		g := h.Group(a.in.Str("Name"))
		if g == nil {
			return vpnerr.ObjectNotFound
		}
		out = groupPack(h.Name, g)
		return nil
	})
	return out, err
}

func groupPack(hubName string, g *config.Group) *pack.Pack {
	out := pack.New()
	out.AddStr("HubName", hubName)
	out.AddStr("Name", g.Name)
	out.AddUniStr("Realname", g.RealName)
	out.AddUniStr("Note", g.Note)
	addTraffic(out, hub.Stats{})
	if g.Policy != nil {
		out.AddBool("UsePolicy", true)
		addPolicy(out, g.Policy)
	}
	return out
}

func admDeleteGroup(a *adminCall) (*pack.Pack, error) {
	if err := a.s.ctl.DeleteGroup(a.actor(), a.hub, a.in.Str("Name")); err != nil {
		return nil, err
	}
	return echo(a.in), nil
}

func admEnumGroup(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		members := map[string]uint32{}
		for _, u := range h.Users {
			members[strings.ToUpper(u.GroupName)]++
		}
		out.AddStr("HubName", h.Name)
		l := newList(out)
		for _, g := range h.Groups {
			l.row()
			l.str("Name", g.Name)
			l.uni("Realname", g.RealName)
			l.uni("Note", g.Note)
			l.int("NumUsers", members[strings.ToUpper(g.Name)])
			l.bool("DenyAccess", g.Policy != nil && !g.Policy.Access)
		}
		l.done()
		return nil
	})
	return out, err
}

// --- sessions (docs/protocol/admin.md#sessions) ---

// sessionsOf maps the VPN sessions of h by name.
func (s *Server) sessionsOf(h *Hub) map[string]*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]*Session{}
	for _, x := range s.sessions {
		if x.Hub == h {
			m[strings.ToUpper(x.Name)] = x
		}
	}
	return m
}

// runningHub is the running hub the request names, once the owner has
// allowed the caller what the hub's administration option option forbids
// hub admins ("" = nothing).
func (a *adminCall) runningHub(option string) (*Hub, error) {
	if err := a.s.ctl.Allow(a.actor(), a.hub, option); err != nil {
		return nil, err
	}
	h := a.s.LookupHub(a.hub)
	if h == nil {
		return nil, vpnerr.HubNotFound // deleted meanwhile
	}
	return h, nil
}

func admEnumSession(a *adminCall) (*pack.Pack, error) {
	h, err := a.runningHub("no_enum_session")
	if err != nil {
		return nil, err
	}
	sess := a.s.sessionsOf(h)
	host, _ := os.Hostname()
	out := pack.New()
	out.AddStr("HubName", h.Name())
	l := newList(out)
	for _, p := range h.Ports() {
		sessionRow(l, portRecord(h, p, sess[strings.ToUpper(p.Name)]), false, host)
	}
	a.addFarmSessions(h.Name(), l) // the farm's other nodes (admin_farm_tables.go)
	l.done()
	return out, nil
}

// findPort returns the port of h called name.
func findPort(h *Hub, name string) (hub.PortInfo, bool) {
	for _, p := range h.Ports() {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return hub.PortInfo{}, false
}

func admGetSessionStatus(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("Name")
	if name == "" {
		return nil, vpnerr.InvalidParameter
	}
	h, err := a.runningHub("no_query_session")
	if err != nil {
		return nil, err
	}
	p, ok := findPort(h, name)
	if !ok {
		return a.remoteSessionStatus(name) // on another node of the farm (admin_farm_tables.go)
	}
	x := a.s.sessionsOf(h)[strings.ToUpper(p.Name)]
	out := pack.New()
	out.AddStr("HubName", h.Name())
	out.AddStr("Name", p.Name)
	out.AddStr("Username", p.User)
	out.AddStr("RealUsername", p.User)
	group := ""
	a.s.ctl.ReadHub(a.hub, func(hc *config.Hub) error {
		if u := hc.User(p.User); u != nil {
			group = u.GroupName
		}
		return nil
	})
	out.AddStr("GroupName", group)
	var remote netip.Addr
	if x != nil {
		remote = addrOf(x.Remote)
	}
	out.AddIP("SessionStatus_ClientIp", remote)
	var v6 [16]byte
	if remote.Is6() {
		v6 = remote.As16()
	}
	out.AddData("SessionStatus_ClientIp6", v6[:])
	out.AddStr("SessionStatus_ClientHostName", ipString(remote))
	out.AddIP("Client_Ip_Address", remote)

	// ConnectionStatus (docs/protocol/admin.md#connectionstatus), from the server's side.
	out.AddUniStr("AccountName", "")
	out.AddStr("ServerName", "")
	out.AddStr("ServerProductName", productName)
	out.AddInt("ServerProductVer", productVersion)
	out.AddInt("ServerProductBuild", productBuild)
	out.AddStr("SessionName", p.Name)
	out.AddStr("ConnectionName", "")
	out.AddBool("Active", true)
	out.AddBool("Connected", true)
	out.AddInt("SessionStatus", 3) // established
	out.AddBool("IsBridgeMode", p.Kind == hub.KindBridge)
	out.AddBool("IsMonitorMode", p.Monitor)
	out.AddInt64("StartTime", seTime(p.Created))
	out.AddInt64("FirstConnectionEstablisiedTime", seTime(p.Created)) // sic
	out.AddInt64("CurrentConnectionEstablishTime", seTime(p.Created))
	st := p.Stats
	sent := st.Send.BroadcastBytes + st.Send.UnicastBytes
	recv := st.Recv.BroadcastBytes + st.Recv.UnicastBytes
	out.AddInt64("TotalSendSize", sent)
	out.AddInt64("TotalRecvSize", recv)
	out.AddInt64("TotalSendSizeReal", sent)
	out.AddInt64("TotalRecvSizeReal", recv)
	addTraffic(out, st)
	if x != nil {
		prm := x.Params()
		s2c, c2s := x.Directions()
		out.AddStr("CipherName", "TLS AEAD")
		out.AddStr("ProtocolVersion", "TLS 1.2+")
		out.AddStr("UnderlayProtocol", "Standard TCP/IP")
		out.AddBool("UseEncrypt", x.encrypt)
		out.AddBool("UseCompress", prm.Compress)
		out.AddBool("HalfConnection", prm.HalfDuplex)
		out.AddInt("MaxTcpConnections", uint32(prm.MaxConnections))
		out.AddInt("NumTcpConnections", uint32(x.NumConns()))
		out.AddInt("NumConnectionsEstablished", uint32(x.NumConns()))
		out.AddInt("NumTcpConnectionsUpload", uint32(c2s))
		out.AddInt("NumTcpConnectionsDownload", uint32(s2c))
	}
	return out, nil
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func admDeleteSession(a *adminCall) (*pack.Pack, error) {
	name := a.in.Str("Name")
	if name == "" {
		return nil, vpnerr.InvalidParameter
	}
	h, err := a.runningHub("no_disconnect_session")
	if err != nil {
		return nil, err
	}
	p, ok := findPort(h, name)
	if !ok { // maybe on another node of the farm (admin_farm_tables.go)
		if err := a.deleteFarmSession(h.Name(), name); err != nil {
			return nil, err
		}
		return echo(a.in), nil
	}
	switch p.Kind {
	case hub.KindCascade:
		return nil, vpnerr.LinkCantDisconnect
	case hub.KindSecureNAT:
		return nil, vpnerr.SNATCantDisconnect
	case hub.KindLocalBridge:
		return nil, vpnerr.BridgeCantDisconnect
	case hub.KindL3:
		return nil, vpnerr.Layer3CantDisconnect
	}
	if !h.Disconnect(p.Name) {
		return nil, vpnerr.ObjectNotFound
	}
	return echo(a.in), nil
}

// --- MAC and IP tables (docs/protocol/admin.md#mac-and-ip-tables) ---

func admEnumMacTable(a *adminCall) (*pack.Pack, error) {
	h, err := a.runningHub("")
	if err != nil {
		return nil, err
	}
	out := pack.New()
	out.AddStr("HubName", h.Name())
	l := newList(out)
	for _, e := range h.MACTable() {
		l.row()
		l.int("Key", e.ID)
		l.str("SessionName", e.Port)
		l.data("MacAddress", e.MAC)
		l.int("VlanId", uint32(e.VLAN))
		l.time("CreatedTime", e.Created)
		l.time("UpdatedTime", e.Updated)
		l.bool("RemoteItem", false)
		l.str("RemoteHostname", "")
	}
	a.addFarmMACs(h.Name(), l)
	l.done()
	return out, nil
}

func admEnumIpTable(a *adminCall) (*pack.Pack, error) {
	h, err := a.runningHub("")
	if err != nil {
		return nil, err
	}
	out := pack.New()
	out.AddStr("HubName", h.Name())
	l := newList(out)
	for _, e := range h.IPTable() {
		v4 := netip.IPv4Unspecified()
		if e.IP.Is4() {
			v4 = e.IP
		}
		l.row()
		l.int("Key", e.ID)
		l.str("SessionName", e.Port)
		l.ip("Ip", v4)
		l.ip("IpV6", e.IP)
		l.ip("IpAddress", e.IP)
		l.bool("DhcpAllocated", e.DHCP)
		l.time("CreatedTime", e.Created)
		l.time("UpdatedTime", e.Updated)
		l.bool("RemoteItem", false)
		l.str("RemoteHostname", "")
	}
	a.addFarmIPs(h.Name(), l)
	l.done()
	return out, nil
}

func admDeleteTable(option string, del func(h *Hub, id uint32) bool) func(a *adminCall) (*pack.Pack, error) {
	return func(a *adminCall) (*pack.Pack, error) {
		h, err := a.runningHub(option)
		if err != nil {
			return nil, err
		}
		if !del(h, a.in.Int("Key")) {
			// Maybe another farm node's row (admin_farm_tables.go).
			if err := a.deleteFarmRow(option == "no_delete_mactable", a.in.Int("Key")); err != nil {
				return nil, err
			}
		}
		return echo(a.in), nil
	}
}

// --- SecureNAT (docs/protocol/admin.md#securenat-methods) ---
//
// The settings live in the configuration whether or not SecureNAT runs;
// enabling, disabling and changing them (re)starts the hub's SecureNAT.

func admSetSecureNAT(enable bool) func(a *adminCall) (*pack.Pack, error) {
	return func(a *adminCall) (*pack.Pack, error) {
		s := a.s
		was, err := s.ctl.SetSecureNATEnabled(a.actor(), a.hub, enable)
		if err != nil {
			return nil, err
		}
		if h := s.LookupHub(a.hub); enable && h != nil {
			// The owner's apply started it; a start that failed (settings
			// loaded from a file that cannot run) is tried once more for
			// its error, and the setting is put back: it cannot run.
			if err := s.ApplySecureNAT(h); err != nil {
				if _, rerr := s.ctl.SetSecureNATEnabled(a.actor(), a.hub, was); rerr != nil {
					s.log.Error("SecureNAT could not start and stays enabled", "hub", a.hub, "err", rerr)
				}
				return nil, vpnerr.InternalError
			}
		}
		out := pack.New()
		out.AddStr("HubName", a.hub)
		return out, nil
	}
}

func admGetSecureNATOption(a *adminCall) (*pack.Pack, error) {
	var name string
	if err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error { name = h.Name; return nil }); err != nil {
		return nil, err
	}
	n, err := a.s.ctl.SecureNATOption(a.hub)
	if err != nil {
		return nil, err
	}
	out := pack.New()
	out.AddStr("RpcHubName", name)
	out.AddData("MacAddress", n.MAC)
	out.AddIP("Ip", n.IP)
	out.AddIP("Mask", n.Mask)
	out.AddBool("UseNat", n.NatEnabled)
	out.AddInt("Mtu", n.MTU)
	out.AddInt("NatTcpTimeout", n.TCPTimeout)
	out.AddInt("NatUdpTimeout", n.UDPTimeout)
	out.AddBool("UseDhcp", n.DHCPEnabled)
	out.AddIP("DhcpLeaseIPStart", n.DHCPStart)
	out.AddIP("DhcpLeaseIPEnd", n.DHCPEnd)
	out.AddIP("DhcpSubnetMask", n.DHCPMask)
	out.AddInt("DhcpExpireTimeSpan", n.DHCPExpire)
	out.AddIP("DhcpGatewayAddress", n.DHCPGateway)
	out.AddIP("DhcpDnsServerAddress", n.DHCPDNS)
	out.AddIP("DhcpDnsServerAddress2", n.DHCPDNS2)
	out.AddStr("DhcpDomainName", n.DHCPDomain)
	out.AddBool("SaveLog", n.SaveLog)
	out.AddBool("ApplyDhcpPushRoutes", true)
	out.AddStr("DhcpPushRoutes", n.DHCPPushRoutes)
	return out, nil
}

// v4 reads an IPv4 field of a request ("not present" reads as 0.0.0.0).
func v4(p *pack.Pack, name string) netip.Addr {
	a := p.IP(name).Unmap()
	if !a.Is4() {
		return netip.IPv4Unspecified()
	}
	return a
}

func admSetSecureNATOption(a *adminCall) (*pack.Pack, error) {
	in := a.in
	mac := in.Data("MacAddress")
	n := control.NATOptions{SecureNAT: config.SecureNAT{
		MAC: net.HardwareAddr(mac), IP: v4(in, "Ip"), Mask: v4(in, "Mask"),
		NatEnabled: in.Bool("UseNat"), MTU: in.Int("Mtu"),
		TCPTimeout: in.Int("NatTcpTimeout"), UDPTimeout: in.Int("NatUdpTimeout"),
		DHCPEnabled: in.Bool("UseDhcp"),
		DHCPStart:   v4(in, "DhcpLeaseIPStart"), DHCPEnd: v4(in, "DhcpLeaseIPEnd"), DHCPMask: v4(in, "DhcpSubnetMask"),
		DHCPExpire:  in.Int("DhcpExpireTimeSpan"),
		DHCPGateway: v4(in, "DhcpGatewayAddress"), DHCPDNS: v4(in, "DhcpDnsServerAddress"), DHCPDNS2: v4(in, "DhcpDnsServerAddress2"),
		DHCPDomain:     in.Str("DhcpDomainName"),
		SaveLog:        in.Bool("SaveLog"),
		DHCPPushRoutes: in.Str("DhcpPushRoutes"),
	}, SetPushRoutes: in.Bool("ApplyDhcpPushRoutes")}
	if err := a.s.ctl.SetSecureNATOption(a.actor(), a.hub, n); err != nil {
		return nil, err
	}
	return echo(in), nil
}

// admSecureNATTable answers EnumNAT, EnumDHCP and GetSecureNATStatus
// from the hub's running SecureNAT; as on SoftEther, a hub whose
// SecureNAT is not running has empty tables (n is nil then).
func admSecureNATTable(fill func(out *pack.Pack, n *securenat.SecureNAT, mask netip.Addr)) func(a *adminCall) (*pack.Pack, error) {
	return func(a *adminCall) (*pack.Pack, error) {
		h, err := a.runningHub("")
		if err != nil {
			return nil, err
		}
		out := pack.New()
		out.AddStr("HubName", h.Name())
		var mask netip.Addr
		a.s.ctl.ReadHub(a.hub, func(hc *config.Hub) error {
			mask = hc.SecureNAT.DHCPMask
			return nil
		})
		fill(out, h.SecureNAT(), mask)
		return out, nil
	}
}

// natProtocols are the Protocol numbers of RPC_ENUM_NAT.
var natProtocols = map[string]uint32{securenat.ProtoTCP: 0, securenat.ProtoUDP: 1, securenat.ProtoDNS: 2, securenat.ProtoICMP: 3}

func fillNATTable(out *pack.Pack, n *securenat.SecureNAT, _ netip.Addr) {
	var entries []securenat.NATEntry
	if n != nil {
		entries = n.NATTable()
	}
	out.AddInt("NumItem", uint32(len(entries)))
	l := newList(out)
	for _, e := range entries {
		tcpStatus := uint32(3) // established
		if e.State == "Connecting" {
			tcpStatus = 0
		}
		l.row()
		l.int("Id", e.ID)
		l.int("Protocol", natProtocols[e.Protocol])
		l.ip("SrcIp", e.ClientIP)
		l.str("SrcHost", ipString(e.ClientIP))
		l.int("SrcPort", uint32(e.ClientPort))
		l.ip("DestIp", e.DestIP)
		l.str("DestHost", e.DestHost)
		l.int("DestPort", uint32(e.DestPort))
		l.time("CreatedTime", e.Created)
		l.time("LastCommTime", e.LastComm)
		l.int64("SendSize", e.SentBytes)
		l.int64("RecvSize", e.RecvBytes)
		l.int("TcpStatus", tcpStatus)
	}
	l.done()
}

func fillDHCPTable(out *pack.Pack, n *securenat.SecureNAT, dhcpMask netip.Addr) {
	var leases []dhcpd.Lease
	mask := ipv4Int(dhcpMask) // INT form, not an IP field (docs/protocol/admin.md#structures)
	if n != nil {
		leases = n.DHCPTable()
	}
	out.AddInt("NumItem", uint32(len(leases)))
	l := newList(out)
	for _, e := range leases {
		l.row()
		l.int("Id", e.ID)
		l.time("LeasedTime", e.LeasedAt)
		l.time("ExpireTime", e.Expires)
		l.data("MacAddress", e.MAC)
		l.ip("IpAddress", e.IP)
		l.int("Mask", mask)
		l.str("Hostname", e.Hostname)
	}
	l.done()
}

func fillNATStatus(out *pack.Pack, n *securenat.SecureNAT, _ netip.Addr) {
	var st securenat.Status
	if n != nil {
		st = n.Status()
	}
	out.AddInt("NumTcpSessions", uint32(st.TCPSessions))
	out.AddInt("NumUdpSessions", uint32(st.UDPSessions))
	out.AddInt("NumIcmpSessions", uint32(st.ICMPSessions))
	out.AddInt("NumDnsSessions", uint32(st.DNSSessions))
	out.AddInt("NumDhcpClients", uint32(st.DHCPClients))
	out.AddBool("IsKernelMode", st.KernelModeNAT)
	out.AddBool("IsRawIpMode", st.RawIPModeNAT)
}

// --- hub log settings (docs/protocol/admin.md#hub-log) ---

// packetLogConfig is the PacketLogConfig array of GetHubLog and
// SetHubLog: the levels at SoftEther's PACKET_LOG_* indexes.
func packetLogConfig(p *config.PacketLogLevels) []*uint32 {
	return []*uint32{&p.TCPConn, &p.TCP, &p.DHCP, &p.UDP, &p.ICMP, &p.IP, &p.ARP, &p.Ethernet}
}

func admGetHubLog(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		l := control.HubLogOf(h)
		out.AddStr("HubName", h.Name)
		out.AddBool("SaveSecurityLog", l.SaveSecurityLog)
		out.AddInt("SecurityLogSwitchType", l.Log.SecurityLogSwitchType)
		out.AddBool("SavePacketLog", l.SavePacketLog)
		out.AddInt("PacketLogSwitchType", l.Log.PacketLogSwitchType)
		cfg := make([]uint32, 16)
		for i, v := range packetLogConfig(&l.Log.PacketLog) {
			cfg[i] = *v
		}
		out.AddInts("PacketLogConfig", cfg)
		return nil
	})
	return out, err
}

func admSetHubLog(a *adminCall) (*pack.Pack, error) {
	in := a.in
	l := control.HubLog{
		SaveSecurityLog: in.Bool("SaveSecurityLog"),
		SavePacketLog:   in.Bool("SavePacketLog"),
		Log: config.LogSetting{
			SecurityLogSwitchType: in.Int("SecurityLogSwitchType"),
			PacketLogSwitchType:   in.Int("PacketLogSwitchType"),
		},
	}
	for i, v := range packetLogConfig(&l.Log.PacketLog) {
		*v = in.IntAt("PacketLogConfig", i)
	}
	if err := a.s.ctl.SetHubLog(a.actor(), a.hub, l); err != nil {
		return nil, err
	}
	return echo(in), nil
}
