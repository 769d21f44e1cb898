package config

import (
	"crypto/rand"
	_ "embed"
	"net"
	"net/netip"
	"time"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

// defaultConfig is the file a fresh real vpnserver 5.01 writes, with the
// phone-home features switched off (DDNS client, NAT traversal, keep-alive
// to keepalive.softether.org), no certificate (the server generates one),
// no DDNS key, listeners 443/992/5555, and our SecureNAT defaults in the
// DEFAULT hub, which also serves as the template for new hubs.
//
//go:embed default.config
var defaultConfig []byte

// defaultTree parses defaultConfig; it is a build-time constant, so a
// failure is a bug in the package.
func defaultTree() *Folder {
	root, err := Parse(defaultConfig)
	if err != nil {
		panic("config: embedded default.config: " + err.Error())
	}
	return root
}

// Default returns the configuration for a first start: listeners 443, 992
// and 5555, hub "DEFAULT" (online, no users), no admin password, no
// certificate, and every other item as a fresh real vpnserver writes it,
// except that DDNS, NAT traversal and keep-alive are off.
func Default() *Server {
	s, err := FromTree(defaultTree())
	if err != nil {
		panic("config: embedded default.config: " + err.Error())
	}
	s.Hubs = []*Hub{NewHub("DEFAULT")}
	s.ToTree()
	return s
}

// NewHub returns what a newly created hub gets: online, logging on, an
// empty admin password (the hashes of ""), SecureNAT with DefaultSecureNAT
// but disabled, and the complete folder tree the real server writes
// (options, admin options, log settings, account database, traffic).
func NewHub(name string) *Hub {
	f := defaultTree().Folder("VirtualHUB").Folder("DEFAULT")
	now := toSETime(time.Now())
	for _, n := range []string{"CreatedTime", "LastCommTime", "LastLoginTime"} {
		f.SetUint64(n, now)
	}
	h := readHub(f)
	h.Name = name
	hashed := sha0.AdminHash("")
	secure := sha0.AdminHash("ADMINISTRATOR") // SHA0("" || "ADMINISTRATOR")
	h.HashedPassword, h.SecurePassword = hashed[:], secure[:]
	h.SecureNAT = DefaultSecureNAT()
	return h
}

// NewUser returns a new anonymous-auth user called name, created now.
// Set AuthType and PasswordHash (sha0.HashPassword) for a password user.
func NewUser(name string) *User {
	now := time.UnixMilli(time.Now().UnixMilli()).UTC()
	return &User{Name: name, CreatedTime: now, UpdatedTime: now}
}

// NewGroup returns a new group called name with no policy.
func NewGroup(name string) *Group { return &Group{Name: name} }

// DefaultSecureNAT returns the SecureNAT settings for a hub we create:
// SoftEther's addresses (192.168.30.1/24, DHCP .10-.200, lease 7200 s),
// NAT TCP time-out 7200 s and UDP 600 s, and a MAC 00:AC + 4 random bytes
// (the project's choices, see DESIGN.md). It is disabled.
func DefaultSecureNAT() SecureNAT {
	mac := net.HardwareAddr{0x00, 0xAC, 0, 0, 0, 0}
	rand.Read(mac[2:])
	gw := netip.AddrFrom4([4]byte{192, 168, 30, 1})
	mask := netip.AddrFrom4([4]byte{255, 255, 255, 0})
	return SecureNAT{
		Enabled:     false,
		SaveLog:     true,
		MAC:         mac,
		IP:          gw,
		Mask:        mask,
		NatEnabled:  true,
		MTU:         1500,
		TCPTimeout:  7200,
		UDPTimeout:  600,
		DHCPEnabled: true,
		DHCPStart:   netip.AddrFrom4([4]byte{192, 168, 30, 10}),
		DHCPEnd:     netip.AddrFrom4([4]byte{192, 168, 30, 200}),
		DHCPMask:    mask,
		DHCPGateway: gw,
		DHCPDNS:     gw,
		DHCPDNS2:    netip.AddrFrom4([4]byte{0, 0, 0, 0}),
		DHCPExpire:  7200,
		DHCPDomain:  HostDomain(),
	}
}

// newHubFolder returns the complete folder of a new hub (values are filled
// in by Hub.toFolder).
func newHubFolder() *Folder {
	return NewHub("").folder
}

// newUserFolder returns the complete folder of a new user, item set as the
// real server writes it for an anonymous user.
func newUserFolder() *Folder {
	f := NewFolder("")
	f.SetUint("AuthType", 0)
	f.SetUint64("CreatedTime", 0)
	f.SetUint64("ExpireTime", 0)
	f.SetUint64("LastLoginTime", 0)
	f.SetString("Note", "")
	f.SetUint("NumLogin", 0)
	f.SetString("RealName", "")
	f.SetUint64("UpdatedTime", 0)
	f.Folders = append(f.Folders, newTrafficFolder("Traffic"))
	return f
}

// newTrafficFolder returns a zeroed traffic counter folder (docs/protocol/config.md#traffic-folders).
func newTrafficFolder(name string) *Folder {
	f := NewFolder(name)
	for _, dir := range []string{"RecvTraffic", "SendTraffic"} {
		d := f.Ensure(dir)
		for _, n := range []string{"BroadcastBytes", "BroadcastCount", "UnicastBytes", "UnicastCount"} {
			d.SetUint64(n, 0)
		}
	}
	return f
}
