package server

import (
	"bytes"
	"context"
	"errors"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/farm"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// A hub's sessions, MAC and IP tables listed farm-wide: each node
// publishes its own in etcd (farm.Node.Publish, from the report loop),
// and EnumSession, EnumMacTable and EnumIpTable on any node add the other
// nodes' rows, marked as SoftEther's controller marks its members' rows:
// RemoteSession / RemoteItem set, RemoteHostname the node's name (Admin.c,
// StEnumSession; Server.c, SiEnumSessionMain). DeleteSession of another
// node's session is a command that node carries out (farm.Node.Send).

// portMode is how a port kind is published.
var portMode = map[hub.Kind]string{
	hub.KindCascade: "link", hub.KindSecureNAT: "securenat", hub.KindLocalBridge: "bridge",
	hub.KindL3: "layer3", hub.KindBridge: "client-bridge",
}

// portRecord is port p of h (and its session x, nil for a port without
// one) as the farm lists it; EnumSession writes this node's rows from it
// too (sessionRow).
func portRecord(h *Hub, p hub.PortInfo, x *Session) farm.SessionRecord {
	r := farm.SessionRecord{Hub: h.Name(), Name: p.Name, User: p.User, Mode: portMode[p.Kind],
		Monitor: p.Monitor, Created: p.Created}
	if x != nil {
		r.Host = ipString(addrOf(x.Remote))
		r.TCP, r.MaxTCP = uint32(x.NumConns()), uint32(x.Params().MaxConnections)
	}
	st := p.Stats
	r.Sent, r.Recv = st.Send.BroadcastBytes+st.Send.UnicastBytes, st.Recv.BroadcastBytes+st.Recv.UnicastBytes
	r.Packets = st.Send.BroadcastCount + st.Send.UnicastCount + st.Recv.BroadcastCount + st.Recv.UnicastCount
	return r
}

// sessionRow writes r as one row of an EnumSession answer; remote says
// that it is another node's (SoftEther's RemoteSession), whose name is
// node.
func sessionRow(l *list, r farm.SessionRecord, remote bool, node string) {
	client, _ := netip.ParseAddr(r.Host)
	ip4 := netip.IPv4Unspecified()
	if client.Is4() {
		ip4 = client
	}
	l.row()
	l.str("Name", r.Name)
	l.str("Username", r.User)
	l.ip("Ip", ip4)
	l.ip("ClientIP", client)
	l.str("Hostname", r.Host)
	l.int("MaxNumTcp", r.MaxTCP)
	l.int("CurrentNumTcp", r.TCP)
	l.int64("PacketSize", r.Sent+r.Recv)
	l.int64("PacketNum", r.Packets)
	l.bool("RemoteSession", remote)
	l.str("RemoteHostname", node)
	l.bool("LinkMode", r.Mode == "link")
	l.bool("SecureNATMode", r.Mode == "securenat")
	l.bool("BridgeMode", r.Mode == "bridge")
	l.bool("Layer3Mode", r.Mode == "layer3")
	l.bool("Client_BridgeMode", r.Mode == "client-bridge")
	l.bool("Client_MonitorMode", r.Monitor)
	l.int("VLanId", 0)
	l.data("UniqueId", make([]byte, 16))
	l.bool("IsDormantEnabled", false)
	l.bool("IsDormant", false)
	l.time("LastCommDormant", time.Time{})
	l.time("CreatedTime", r.Created)
	l.time("LastCommTime", time.Now())
}

// farmRecords are the node's sessions and tables as the farm lists them.
func (s *Server) farmRecords() ([]farm.SessionRecord, []farm.HubTables) {
	var sessions []farm.SessionRecord
	var tables []farm.HubTables
	for _, h := range s.Hubs() {
		sess := s.sessionsOf(h)
		for _, p := range h.Ports() {
			sessions = append(sessions, portRecord(h, p, sess[strings.ToUpper(p.Name)]))
		}
		t := farm.HubTables{Hub: h.Name()}
		for _, e := range h.MACTable() {
			t.MACs = append(t.MACs, farm.MACRecord{Session: e.Port, MAC: farm.HexBytes(e.MAC), VLAN: e.VLAN, Created: e.Created, Updated: e.Updated})
		}
		for _, e := range h.IPTable() {
			t.IPs = append(t.IPs, farm.IPRecord{Session: e.Port, IP: e.IP, DHCP: e.DHCP, Created: e.Created, Updated: e.Updated})
		}
		tables = append(tables, t)
	}
	return sessions, tables
}

// farmCommand carries out a command another node gave this one.
func (s *Server) farmCommand(c farm.Command) {
	h := s.LookupHub(c.Hub)
	if h == nil {
		return
	}
	switch c.Op {
	case farm.CmdDeleteSession:
		if p, ok := findPort(h, c.Name); ok && (p.Kind == hub.KindClient || p.Kind == hub.KindBridge) {
			h.Disconnect(p.Name)
			s.log.Info("session disconnected by an administrator on another node", "hub", c.Hub, "session", p.Name)
		}
	case farm.CmdDeleteMAC:
		for _, e := range h.MACTable() {
			if bytes.Equal(e.MAC, c.MAC) && e.VLAN == c.VLAN {
				h.DeleteMAC(e.ID)
			}
		}
	case farm.CmdDeleteIP:
		for _, e := range h.IPTable() {
			if e.IP == c.IP {
				h.DeleteIP(e.ID)
			}
		}
	default:
		s.log.Warn("a farm command this node does not know; ignored", "op", c.Op)
	}
}

// farmNodeFor is the node for a farm-wide list, nil for a server not in a
// farm or a node out of it (the list is then this node's alone).
func (a *adminCall) farmNodeFor() *farm.Node {
	if a.s.farm == nil {
		return nil
	}
	return a.s.farm.node.Load()
}

// addFarmSessions adds the other nodes' sessions of hub to an EnumSession
// answer, with the columns admEnumSession writes.
func (a *adminCall) addFarmSessions(hubName string, l *list) {
	node := a.farmNodeFor()
	if node == nil {
		return
	}
	recs, err := node.HubSessions(a.ctx, hubName)
	if err != nil {
		a.s.log.Warn("listing the farm's sessions; showing this node's", "hub", hubName, "err", err)
		return
	}
	for _, r := range recs {
		if r.Node == node.Name() {
			continue // this node's rows are the live ones
		}
		sessionRow(l, r, true, r.Node)
	}
}

// farmTables reads the other nodes' tables of hub.
func (a *adminCall) farmTables(hubName string) []farm.HubTables {
	node := a.farmNodeFor()
	if node == nil {
		return nil
	}
	ts, err := node.HubTables(a.ctx, hubName)
	if err != nil {
		a.s.log.Warn("listing the farm's MAC and IP tables; showing this node's", "hub", hubName, "err", err)
		return nil
	}
	out := ts[:0]
	for _, t := range ts {
		if t.Node != node.Name() {
			out = append(out, t)
		}
	}
	return out
}

// remoteKey is the Key of another node's table row: a hash with the top
// bit set, so that it never equals a local row's (a small counter);
// DeleteMacTable and DeleteIpTable act on this node's rows only.
func remoteKey(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32() | 1<<31
}

func macKey(node string, e farm.MACRecord) uint32 {
	return remoteKey(node, "mac", string(e.MAC), strconv.Itoa(int(e.VLAN)))
}

func ipKey(node string, e farm.IPRecord) uint32 { return remoteKey(node, "ip", e.IP.String()) }

// deleteFarmRow deletes the MAC (mac set) or IP table row key of another
// node: that node deletes its row of the same address.
func (a *adminCall) deleteFarmRow(mac bool, key uint32) error {
	node := a.farmNodeFor()
	if node == nil || key&(1<<31) == 0 {
		return vpnerr.ObjectNotFound
	}
	for _, t := range a.farmTables(a.hub) {
		c := farm.Command{Hub: a.hub}
		switch {
		case mac:
			i := slices.IndexFunc(t.MACs, func(e farm.MACRecord) bool { return macKey(t.Node, e) == key })
			if i < 0 {
				continue
			}
			c.Op, c.MAC, c.VLAN = farm.CmdDeleteMAC, t.MACs[i].MAC, t.MACs[i].VLAN
		default:
			i := slices.IndexFunc(t.IPs, func(e farm.IPRecord) bool { return ipKey(t.Node, e) == key })
			if i < 0 {
				continue
			}
			c.Op, c.IP = farm.CmdDeleteIP, t.IPs[i].IP
		}
		if err := node.Send(a.ctx, t.Node, c); err != nil {
			a.s.log.Warn("node did not delete its table row", "node", t.Node, "hub", a.hub, "err", err)
			return vpnerr.SessionTimeout
		}
		return nil
	}
	return vpnerr.ObjectNotFound
}

// addFarmMACs adds the other nodes' MAC rows of hub to an EnumMacTable
// answer, with the columns admEnumMacTable writes.
func (a *adminCall) addFarmMACs(hubName string, l *list) {
	for _, t := range a.farmTables(hubName) {
		for _, e := range t.MACs {
			l.row()
			l.int("Key", macKey(t.Node, e))
			l.str("SessionName", e.Session)
			l.data("MacAddress", e.MAC)
			l.int("VlanId", uint32(e.VLAN))
			l.time("CreatedTime", e.Created)
			l.time("UpdatedTime", e.Updated)
			l.bool("RemoteItem", true)
			l.str("RemoteHostname", t.Node)
		}
	}
}

// addFarmIPs adds the other nodes' IP rows of hub to an EnumIpTable
// answer, with the columns admEnumIpTable writes.
func (a *adminCall) addFarmIPs(hubName string, l *list) {
	for _, t := range a.farmTables(hubName) {
		for _, e := range t.IPs {
			v4 := netip.IPv4Unspecified()
			if e.IP.Is4() {
				v4 = e.IP
			}
			l.row()
			l.int("Key", ipKey(t.Node, e))
			l.str("SessionName", e.Session)
			l.ip("Ip", v4)
			l.ip("IpV6", e.IP)
			l.ip("IpAddress", e.IP)
			l.bool("DhcpAllocated", e.DHCP)
			l.time("CreatedTime", e.Created)
			l.time("UpdatedTime", e.Updated)
			l.bool("RemoteItem", true)
			l.str("RemoteHostname", t.Node)
		}
	}
}

// deleteFarmSession disconnects session name of hub on the node that
// carries it, when that is another node of the farm.
func (a *adminCall) deleteFarmSession(hubName, name string) error {
	node := a.farmNodeFor()
	if node == nil {
		return vpnerr.ObjectNotFound
	}
	recs, err := node.Session(a.ctx, hubName, name)
	if err != nil {
		a.s.log.Warn("looking a session up in the farm", "hub", hubName, "session", name, "err", err)
		return vpnerr.ObjectNotFound
	}
	found := false
	for _, r := range recs {
		if r.Node == node.Name() {
			continue // gone here since it was published
		}
		switch r.Mode {
		case "link":
			return vpnerr.LinkCantDisconnect
		case "securenat":
			return vpnerr.SNATCantDisconnect
		case "bridge":
			return vpnerr.BridgeCantDisconnect
		case "layer3":
			return vpnerr.Layer3CantDisconnect
		}
		err := node.Send(a.ctx, r.Node, farm.Command{Op: farm.CmdDeleteSession, Hub: hubName, Name: r.Name})
		if err != nil {
			a.s.log.Warn("node did not disconnect its session", "node", r.Node, "hub", hubName, "session", name, "err", err)
			if errors.Is(err, farm.ErrCommandTimeout) || errors.Is(err, context.DeadlineExceeded) {
				return vpnerr.SessionTimeout
			}
			return vpnerr.InternalError
		}
		found = true
	}
	if !found {
		return vpnerr.ObjectNotFound
	}
	return nil
}

// otherSessions counts the sessions other nodes of the farm carry, by
// hub name in upper case (nil when not in a farm): a hub list counts the
// whole farm's sessions, as SoftEther's controller adds its members'
// (Admin.c, StEnumHub).
func (a *adminCall) otherSessions() map[string]int {
	node := a.farmNodeFor()
	if node == nil {
		return nil
	}
	counts, err := node.OtherSessionCounts(a.ctx)
	if err != nil {
		a.s.log.Warn("counting the farm's sessions; showing this node's", "err", err)
	}
	return counts
}

// remoteSessionStatus answers GetSessionStatus for a session another node
// carries, from what that node publishes (SoftEther's controller asks the
// member, Admin.c StGetSessionStatus): who, from where, since when, how
// many connections and how much traffic, as of the node's last publish.
func (a *adminCall) remoteSessionStatus(name string) (*pack.Pack, error) {
	node := a.farmNodeFor()
	if node == nil {
		return nil, vpnerr.ObjectNotFound
	}
	recs, err := node.Session(a.ctx, a.hub, name)
	if err != nil {
		a.s.log.Warn("looking a session up in the farm", "hub", a.hub, "session", name, "err", err)
	}
	i := slices.IndexFunc(recs, func(r farm.SessionRecord) bool { return r.Node != node.Name() })
	if i < 0 {
		return nil, vpnerr.ObjectNotFound
	}
	r := recs[i]
	group := ""
	a.s.ctl.ReadHub(a.hub, func(hc *config.Hub) error {
		if u := hc.User(r.User); u != nil {
			group = u.GroupName
		}
		return nil
	})
	client, _ := netip.ParseAddr(r.Host)
	var v6 [16]byte
	if client.Is6() {
		v6 = client.As16()
	}
	out := pack.New()
	out.AddStr("HubName", r.Hub)
	out.AddStr("Name", r.Name)
	out.AddStr("Username", r.User)
	out.AddStr("RealUsername", r.User)
	out.AddStr("GroupName", group)
	out.AddIP("SessionStatus_ClientIp", client)
	out.AddData("SessionStatus_ClientIp6", v6[:])
	out.AddStr("SessionStatus_ClientHostName", r.Host)
	out.AddIP("Client_Ip_Address", client)
	out.AddUniStr("AccountName", "")
	out.AddStr("ServerName", r.Node)
	out.AddStr("ServerProductName", productName)
	out.AddInt("ServerProductVer", productVersion)
	out.AddInt("ServerProductBuild", productBuild)
	out.AddStr("SessionName", r.Name)
	out.AddStr("ConnectionName", "")
	out.AddBool("Active", true)
	out.AddBool("Connected", true)
	out.AddInt("SessionStatus", 3) // established
	out.AddBool("IsBridgeMode", r.Mode == "client-bridge")
	out.AddBool("IsMonitorMode", r.Monitor)
	out.AddInt64("StartTime", seTime(r.Created))
	out.AddInt64("FirstConnectionEstablisiedTime", seTime(r.Created)) // sic
	out.AddInt64("CurrentConnectionEstablishTime", seTime(r.Created))
	out.AddInt64("TotalSendSize", r.Sent)
	out.AddInt64("TotalRecvSize", r.Recv)
	out.AddInt64("TotalSendSizeReal", r.Sent)
	out.AddInt64("TotalRecvSizeReal", r.Recv)
	out.AddInt("MaxTcpConnections", r.MaxTCP)
	out.AddInt("NumTcpConnections", r.TCP)
	out.AddInt("NumConnectionsEstablished", r.TCP)
	return out, nil
}
