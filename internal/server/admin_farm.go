package server

import (
	"cmp"
	"hash/fnv"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/farm"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// The farm's admin methods (SoftEther Admin.c: StGetFarmSetting,
// StEnumFarmMember, StGetFarmInfo, StGetFarmConnectionStatus), answered
// with the PACK fields of OutRpcFarm, OutRpcEnumFarm, OutRpcFarmInfo and
// OutRpcFarmConnectionStatus, so that vpncmd's Cluster* commands work
// against any node.
//
// A node of an ethervpn farm reports itself as a cluster controller
// (ServerType 1): like SoftEther's controller it takes logins, redirects
// sessions, administers every hub and lists the members, and vpncmd then
// shows what is true of it (weight, "controller only" = --farm-no-sessions)
// and nothing false (a member would show a controller name and port, which
// an etcd farm does not have). It also makes vpncmd's HubCreate create
// dynamic hubs, as on SoftEther's controller. Since every node is a
// controller, EnumFarmMember marks as "Controller" the node answering, so
// vpncmd's list says which row is the server it talks to. The link a
// SoftEther member keeps to its controller is here the node's link to
// etcd, which GetFarmConnectionStatus reports on every node.

// serverType is SoftEther's ServerType of this server: 1 (controller) in
// a farm, 0 (standalone) otherwise.
func (s *Server) serverType() uint32 {
	if s.farm != nil {
		return 1
	}
	return 0
}

// memberID is a member's Id in the farm's lists: a hash of its name, so
// that every node gives a member the same Id and vpncmd's
// ClusterMemberInfoGet takes an Id listed by any node (SoftEther's Id is a
// pointer on the controller, which a farm without one cannot share).
func memberID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return cmp.Or(h.Sum32(), 1) // 0 is "no member" to vpncmd
}

// farmMembers lists the farm's live nodes, sorted by when they joined.
func (a *adminCall) farmMembers() ([]farm.Member, *farm.Node, error) {
	fm := a.s.farm
	if fm == nil {
		return nil, nil, vpnerr.NotFarmController
	}
	node := fm.node.Load()
	if node == nil { // out of the farm: etcd cannot be reached
		return nil, nil, vpnerr.Disconnected
	}
	ms, err := node.Members(a.ctx)
	if err != nil {
		a.s.log.Warn("could not list the farm's nodes", "err", err)
		return nil, nil, vpnerr.Disconnected
	}
	slices.SortFunc(ms, func(x, y farm.Member) int {
		return cmp.Or(x.Joined.Compare(y.Joined), strings.Compare(x.Name, y.Name))
	})
	return ms, node, nil
}

func admGetFarmSetting(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	out.AddInt("ServerType", a.s.serverType())
	weight, noSessions, addr := uint32(100), false, netip.IPv4Unspecified()
	if fm := a.s.farm; fm != nil {
		weight, noSessions, addr = cmp.Or(fm.opts.Weight, 100), fm.opts.NoSessions, fm.opts.Address
		// A controller's answer has no ports in SoftEther; the ports
		// clients are sent to are true and useful to a JSON-RPC reader.
		ports := fm.opts.Ports
		if len(ports) == 0 {
			ports = a.s.listenerPorts()
		}
		out.AddInts("Ports", ports32(ports))
	}
	out.AddIP("PublicIp", addr)
	out.AddStr("ControllerName", "")
	out.AddInt("ControllerPort", 0)
	out.AddData("MemberPassword", make([]byte, 20))
	out.AddStr("MemberPasswordPlaintext", "")
	out.AddInt("Weight", weight)
	out.AddBool("ControllerOnly", noSessions)
	return out, nil
}

// admSetFarmSetting refuses: whether a server is in a farm, and how, is
// set where it starts (ethervpn server --farm ..., or the EtherVPNFarm
// folder of its vpn_server.config), since joining means taking the
// configuration from etcd, which a running server cannot do half-way.
func admSetFarmSetting(a *adminCall) (*pack.Pack, error) {
	a.s.log.Warn("SetFarmSetting refused: a server joins or leaves a farm when it starts, with ethervpn server --farm URLS --farm-address IP or the EtherVPNFarm folder of vpn_server.config")
	return nil, vpnerr.NotSupported
}

func admEnumFarmMember(a *adminCall) (*pack.Pack, error) {
	ms, node, err := a.farmMembers()
	if err != nil {
		return nil, err
	}
	statics := a.s.staticHubs()
	out := pack.New()
	l := newList(out)
	for _, m := range ms {
		l.row()
		l.int("Id", memberID(m.Name))
		l.bool("Controller", m.Name == node.Name())
		l.time("ConnectedTime", m.Joined)
		l.ip("Ip", m.Address)
		l.str("Hostname", m.Name)
		l.int("Point", m.Point())
		l.int("NumSessions", m.Sessions)
		l.int("NumTcpConnections", m.TCPConnections)
		l.int("NumHubs", uint32(len(statics)+len(m.Hubs)))
		l.int("AssignedClientLicense", 0)
		l.int("AssignedBridgeLicense", 0)
	}
	l.done()
	return out, nil
}

func admGetFarmInfo(a *adminCall) (*pack.Pack, error) {
	ms, node, err := a.farmMembers()
	if err != nil {
		return nil, err
	}
	id := a.in.Int("Id")
	i := slices.IndexFunc(ms, func(m farm.Member) bool { return memberID(m.Name) == id })
	if i < 0 {
		return nil, vpnerr.ObjectNotFound
	}
	m := ms[i]
	var cert []byte
	a.s.ctl.View(func(cur *config.Server) { cert = cur.CertDER }) // one certificate for the whole farm
	out := pack.New()
	out.AddInt("Id", id)
	out.AddBool("Controller", m.Name == node.Name())
	out.AddInt64("ConnectedTime", seTime(m.Joined))
	out.AddIP("Ip", m.Address)
	out.AddStr("Hostname", m.Name)
	out.AddInt("Point", m.Point())
	out.AddInts("Ports", ports32(m.Ports))
	out.AddData("ServerCert", cert)
	l := newList(out)
	for _, h := range a.s.staticHubs() {
		l.row()
		l.str("HubName", h)
		l.bool("DynamicHub", false)
	}
	for _, h := range m.Hubs {
		l.row()
		l.str("HubName", h)
		l.bool("DynamicHub", true)
	}
	l.done()
	out.AddInt("NumSessions", m.Sessions)
	out.AddInt("NumTcpConnections", m.TCPConnections)
	out.AddInt("Weight", cmp.Or(m.Weight, 100))
	return out, nil
}

func admGetFarmConnectionStatus(a *adminCall) (*pack.Pack, error) {
	fm := a.s.farm
	if fm == nil {
		return nil, vpnerr.NotFarmMember
	}
	st := fm.status.snapshot()
	ip, port := endpointAddr(fm.opts.Endpoints)
	out := pack.New()
	out.AddIP("Ip", ip)
	out.AddInt("Port", port)
	out.AddBool("Online", st.online)
	var code vpnerr.Error
	if !st.online && st.lastErr != nil {
		code = vpnerr.Code(st.lastErr)
		if code == vpnerr.InternalError { // an etcd error has no SoftEther number
			code = vpnerr.ConnectFailed
		}
	}
	out.AddInt("LastError", uint32(code))
	out.AddInt64("StartedTime", seTime(st.started))
	current := st.current
	if !st.online { // SoftEther reports it only while connected
		current = time.Time{}
	}
	out.AddInt64("CurrentConnectedTime", seTime(current))
	out.AddInt64("FirstConnectedTime", seTime(st.first))
	out.AddInt("NumConnected", st.joined)
	out.AddInt("NumTry", st.tries)
	out.AddInt("NumFailed", st.failures)
	return out, nil
}

// endpointAddr is the address and port of the first etcd endpoint, which
// vpncmd shows as the "controller" the node is connected to (0.0.0.0 when
// the endpoint is a host name: the field holds an IPv4 address).
func endpointAddr(endpoints []string) (netip.Addr, uint32) {
	if len(endpoints) == 0 {
		return netip.IPv4Unspecified(), 0
	}
	host := endpoints[0]
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Host
	}
	h, p, ok := strings.Cut(host, ":")
	if i := strings.LastIndex(host, ":"); i >= 0 && strings.HasPrefix(host, "[") {
		h, p, ok = strings.Trim(host[:i], "[]"), host[i+1:], true
	}
	port, _ := strconv.ParseUint(p, 10, 16)
	if !ok {
		port = 2379
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		ip = netip.IPv4Unspecified()
	}
	return ip, uint32(port)
}

// staticHubs are the names of the static hubs, which every node hosts.
func (s *Server) staticHubs() []string {
	var names []string
	s.ctl.View(func(cur *config.Server) {
		for _, h := range cur.Hubs {
			if h.Type == config.HubStatic {
				names = append(names, h.Name)
			}
		}
	})
	slices.SortFunc(names, func(x, y string) int { return strings.Compare(strings.ToUpper(x), strings.ToUpper(y)) })
	return names
}

// ports32 widens ports for a PACK.
func ports32(ports []uint16) []uint32 {
	out := make([]uint32, len(ports))
	for i, p := range ports {
		out[i] = uint32(p)
	}
	return out
}

// requestedHubType checks the HubType of a CreateHub or SetHub request
// against the server's type, as SoftEther's StCreateHub and StSetHub do:
// a standalone server has standalone hubs only, a farm static and dynamic
// hubs only (ERR_INVALID_PARAMETER otherwise).
func (s *Server) requestedHubType(t uint32) (uint32, error) {
	if s.farm == nil {
		if t != config.HubStandalone {
			return 0, vpnerr.InvalidParameter
		}
		return t, nil
	}
	if t != config.HubStatic && t != config.HubDynamic {
		return 0, vpnerr.InvalidParameter
	}
	return t, nil
}

// shownHubType is the type of hub h as the admin methods report it: in a
// farm a standalone hub (one made before the server joined) runs as a
// dynamic hub, as SoftEther's controller turns standalone hubs into
// dynamic ones when it loads its configuration (Server.c,
// SiLoadHubCfg), so vpncmd's GetHub-then-SetHub keeps working.
func (s *Server) shownHubType(h *config.Hub) uint32 {
	if s.farm != nil && h.Type == config.HubStandalone {
		return config.HubDynamic
	}
	return h.Type
}

// farmStatus is what GetServerStatus reports of a farm: the hubs by type
// as shown (none in a standalone server) and the sessions other nodes
// carry, as SoftEther's controller counts its members' (Admin.c,
// StGetServerStatus).
func (a *adminCall) farmStatus() (byType map[uint32]int, remote int) {
	if a.s.farm == nil {
		return nil, 0
	}
	byType = map[uint32]int{}
	a.s.ctl.View(func(cur *config.Server) {
		for _, h := range cur.Hubs {
			byType[a.s.shownHubType(h)]++
		}
	})
	for _, n := range a.otherSessions() {
		remote += n
	}
	return byType, remote
}

// farmStatus is the history of the node's membership, what SoftEther's
// GetFarmConnectionStatus reports of a member's link to its controller
// (Admin.c, StGetFarmConnectionStatus): here the link is to etcd, and a
// "connection" is a lease the node joined on.
type farmStatus struct {
	mu sync.Mutex
	farmStatusData
}

// farmStatusData is what farmStatus keeps.
type farmStatusData struct {
	started                 time.Time // run began
	first, current          time.Time // first and latest join (current zero while out)
	online                  bool
	tries, joined, failures uint32 // joins attempted, made, failed
	lastErr                 error  // why the latest join failed or the lease was lost
}

// snapshot copies the status.
func (st *farmStatus) snapshot() farmStatusData {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.farmStatusData
}

// joinDone records the outcome of one attempt to join.
func (st *farmStatus) joinDone(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tries++
	if err != nil {
		st.failures++
		st.lastErr = err
		return
	}
	st.joined++
	st.online = true
	st.current = time.Now()
	if st.first.IsZero() {
		st.first = st.current
	}
}

// left records that the node is out of the farm (its lease is gone);
// current keeps the time of the last join, as SoftEther's member keeps it.
func (st *farmStatus) left(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.online = false
	if err != nil {
		st.lastErr = err
	}
}
