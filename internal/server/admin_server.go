package server

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/control"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// Server-wide methods: information, listeners, passwords, TLS, the
// configuration file and capabilities.

func admTest(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	v := a.in.Int("IntValue")
	out.AddInt("IntValue", v)
	out.AddInt64("Int64Value", a.in.Int64("Int64Value"))
	out.AddStr("StrValue", strconv.FormatUint(uint64(v), 10))
	out.AddUniStr("UniStrValue", a.in.UniStr("UniStrValue"))
	return out, nil
}

// buildDate is reported as the server's build date.
var buildDate = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func admGetServerInfo(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	host, _ := os.Hostname()
	out.AddStr("ServerProductName", productName)
	out.AddStr("ServerVersionString", "Version 5.01 Build 9674 (ethervpn)")
	out.AddStr("ServerBuildInfoString", "ethervpn, a SoftEther-compatible VPN server written in Go ("+runtime.Version()+")")
	out.AddInt("ServerVerInt", productVersion)
	out.AddInt("ServerBuildInt", productBuild)
	out.AddStr("ServerHostName", host)
	out.AddInt("ServerType", a.s.serverType())
	out.AddInt64("ServerBuildDate", seTime(buildDate))
	out.AddStr("ServerFamilyName", "SoftEtherDev")
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	out.AddInt("OsType", 3100) // Linux
	out.AddInt("OsServicePack", 0)
	out.AddStr("OsSystemName", "Linux")
	out.AddStr("OsProductName", "Linux")
	out.AddStr("OsVendorName", "Unknown Vendor")
	out.AddStr("OsVersion", strings.TrimSpace(string(kernel)))
	out.AddStr("KernelName", "Linux")
	out.AddStr("KernelVersion", strings.TrimSpace(string(kernel)))
	return out, nil
}

func admGetServerStatus(a *adminCall) (*pack.Pack, error) {
	s := a.s
	var users, groups int
	s.ctl.View(func(cur *config.Server) {
		for _, hc := range cur.Hubs {
			users += len(hc.Users)
			groups += len(hc.Groups)
		}
	})
	hubs := s.Hubs()
	nconn := s.numConns()
	var sessions, macs, ips int
	var total hubStatsSum
	for _, h := range hubs {
		sessions += len(h.Ports())
		macs += len(h.MACTable())
		ips += len(h.IPTable())
		total.add(h.Stats())
	}
	out := pack.New()
	out.AddInt("ServerType", a.s.serverType())
	out.AddInt("NumTcpConnections", uint32(nconn))
	out.AddInt("NumTcpConnectionsLocal", uint32(nconn))
	out.AddInt("NumTcpConnectionsRemote", 0)
	byType, remote := a.farmStatus() // admin_farm.go
	out.AddInt("NumHubTotal", uint32(len(hubs)))
	out.AddInt("NumHubStandalone", uint32(max(0, len(hubs)-byType[config.HubStatic]-byType[config.HubDynamic])))
	out.AddInt("NumHubStatic", uint32(byType[config.HubStatic]))
	out.AddInt("NumHubDynamic", uint32(byType[config.HubDynamic]))
	out.AddInt("NumSessionsTotal", uint32(sessions+remote))
	out.AddInt("NumSessionsLocal", uint32(sessions))
	out.AddInt("NumSessionsRemote", uint32(remote))
	out.AddInt("NumMacTables", uint32(macs))
	out.AddInt("NumIpTables", uint32(ips))
	out.AddInt("NumUsers", uint32(users))
	out.AddInt("NumGroups", uint32(groups))
	for _, n := range []string{"AssignedBridgeLicenses", "AssignedClientLicenses", "AssignedBridgeLicensesTotal", "AssignedClientLicensesTotal"} {
		out.AddInt(n, 0)
	}
	now := time.Now()
	out.AddInt64("CurrentTime", seTime(now))
	out.AddInt64("CurrentTick", uint64(now.Sub(s.adm.started).Milliseconds()))
	out.AddInt64("StartTime", seTime(s.adm.started))
	addTraffic(out, total.Stats)
	s.ovpn.addTo(out)
	for _, n := range []string{"TotalMemory", "UsedMemory", "FreeMemory", "TotalPhys", "UsedPhys", "FreePhys"} {
		out.AddInt64(n, 0) // what SoftEther's Linux build reports
	}
	return out, nil
}

// numConns is the number of TCP connections of all sessions.
func (s *Server) numConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.sessions {
		n += x.NumConns()
	}
	return n
}

// --- listeners (docs/protocol/admin.md#server-and-listeners) ---

func admCreateListener(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.CreateListener(a.in.Int("Port"), a.in.Bool("Enable")))
}

func admDeleteListener(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.DeleteListener(a.in.Int("Port")))
}

func admEnableListener(a *adminCall) (*pack.Pack, error) {
	return echoOr(a, a.s.ctl.EnableListener(a.in.Int("Port"), a.in.Bool("Enable")))
}

func admEnumListener(a *adminCall) (*pack.Pack, error) {
	s := a.s
	var ls []config.Listener
	s.ctl.View(func(cur *config.Server) { ls = cur.Listeners }) // published: never changed
	serving := s.isServing()
	open := s.listening()
	out := pack.New()
	l := newList(out)
	for _, x := range ls {
		l.row()
		l.int("Ports", uint32(x.Port))
		l.bool("Enables", x.Enabled)
		l.bool("Errors", serving && x.Enabled && !open[x.Port])
	}
	l.done()
	return out, nil
}

// --- passwords ---

func admSetServerPassword(a *adminCall) (*pack.Pack, error) {
	hash := a.in.Data("HashedPassword")
	if len(hash) != sha0.Size || isZero(hash) {
		h := sha0.AdminHash(a.in.Str("PlainTextPassword"))
		hash = h[:]
	}
	if err := a.s.ctl.SetServerPassword(hash); err != nil {
		return nil, err
	}
	if config.IsEmptyPasswordHash(hash) {
		a.s.log.Warn("the server administrator password is now empty: administration is allowed from localhost only")
	}
	out := pack.New()
	out.AddData("HashedPassword", hash)
	out.AddStr("PlainTextPassword", a.in.Str("PlainTextPassword"))
	return out, nil
}

// --- TLS: cipher and certificate ---

// serverCiphers are the TLS cipher suites the server offers, by their
// OpenSSL names (what SoftEther's CipherName holds).
var serverCiphers = []string{
	"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305",
	"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305",
}

const defaultCipher = "~DEFAULT~"

func admGetServerCipher(a *adminCall) (*pack.Pack, error) {
	var name string
	a.s.ctl.View(func(cur *config.Server) { name = cur.CipherName })
	if name == "" {
		name = defaultCipher
	}
	out := pack.New()
	out.AddStr("String", name)
	return out, nil
}

// admSetServerCipher accepts only what the server really offers: the
// default (every modern AEAD suite) or one or more of serverCiphers.
// Legacy names (RC4, CBC, ...) are refused rather than stored and ignored.
func admSetServerCipher(a *adminCall) (*pack.Pack, error) {
	name := strings.ToUpper(strings.TrimSpace(a.in.Str("String")))
	if name == "" {
		return nil, vpnerr.InvalidParameter
	}
	if name != defaultCipher {
		for _, c := range strings.Split(name, ":") {
			if !slices.Contains(serverCiphers, c) {
				return nil, vpnerr.CipherNotSupported
			}
		}
	}
	if err := a.s.ctl.SetServerCipher(name); err != nil {
		return nil, err
	}
	out := pack.New()
	out.AddStr("String", name)
	return out, nil
}

func admGetServerCipherList(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	out.AddStr("String", strings.Join(serverCiphers, ";"))
	return out, nil
}

func admGetServerCert(a *adminCall) (*pack.Pack, error) {
	var cert, key []byte
	a.s.ctl.View(func(cur *config.Server) { cert, key = cur.CertDER, cur.KeyDER })
	out := pack.New()
	out.AddData("Cert", cert)
	if a.c.ServerAdmin {
		out.AddData("Key", key)
	}
	out.AddInt("Flag1", 0)
	return out, nil
}

// derOf accepts DER or PEM (the first block) as the spec asks readers to.
func derOf(b []byte) []byte {
	if blk, _ := pem.Decode(b); blk != nil {
		return blk.Bytes
	}
	return b
}

func admSetServerCert(a *adminCall) (*pack.Pack, error) {
	certDER, keyDER := derOf(a.in.Data("Cert")), derOf(a.in.Data("Key"))
	kp, err := parseKeyPair(certDER, keyDER)
	if err != nil {
		a.s.log.Info("SetServerCert: certificate and key refused", "err", err)
		return nil, vpnerr.ProtocolError
	}
	// what runs takes the new pair up when the change is applied
	if err := a.s.ctl.SetServerCert(certDER, keyDER); err != nil {
		return nil, err
	}
	out := echo(a.in)
	selfSigned := kp.Leaf.CheckSignatureFrom(kp.Leaf) == nil
	out.AddInt("Flag1", b2u(selfSigned))
	return out, nil
}

// currentTLS returns the TLS configuration for a new connection; admins
// may replace the certificate at any time.
func (s *Server) currentTLS() *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tls
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// --- configuration file (docs/protocol/admin.md#configuration-methods) ---

func admGetConfig(a *adminCall) (*pack.Pack, error) {
	data := a.s.ctl.ConfigText()
	out := pack.New()
	out.AddStr("FileName", ConfigFile)
	out.AddData("FileData", data)
	return out, nil
}

// admSetConfig replaces the whole configuration, as SoftEther does by
// restarting its core: every session ends, hubs are rebuilt from the new
// file, the certificate and listeners follow it. Unlike SoftEther, a file
// the server would not start with is refused before anything changes.
func admSetConfig(a *adminCall) (*pack.Pack, error) {
	data := a.in.Data("FileData")
	if err := a.s.ctl.SetConfig(data, a.s.readReplacement); err != nil {
		a.s.log.Info("SetConfig: configuration not replaced", "err", err)
		return nil, err
	}
	a.s.log.Warn("configuration replaced by an administrator: all sessions were disconnected")
	out := pack.New()
	out.AddStr("FileName", ConfigFile)
	out.AddData("FileData", data)
	return out, nil
}

// readReplacement reads a configuration that SetConfig is about to
// publish in place of the running one, with the checks of a start (those
// of readConfig), and makes a certificate for it when it has none, as a
// start does. It runs under the owner's lock.
func (s *Server) readReplacement(root *config.Folder) (*config.Server, error) {
	cfg, err := config.FromTree(root)
	if err != nil {
		return nil, err
	}
	if _, _, err := configuredCert(cfg); err != nil {
		return nil, fmt.Errorf("its server certificate is unusable: %w", err)
	}
	if len(cfg.CertDER) == 0 { // and no key: readConfig refuses one without the other
		if cfg.CertDER, cfg.KeyDER, err = newSelfSignedCert(); err != nil {
			return nil, fmt.Errorf("generating a server certificate: %w", err)
		}
		s.log.Info("the new configuration has no certificate: generated a self-signed one")
	}
	return cfg, nil
}

func admFlush(a *adminCall) (*pack.Pack, error) {
	if err := a.s.Save(); err != nil {
		a.s.log.Error("Flush: cannot save the configuration", "err", err)
		return nil, vpnerr.InternalError
	}
	n := len(a.s.ctl.ConfigText())
	out := pack.New()
	out.AddInt("IntValue", uint32(n))
	out.AddInt64("Int64Value", 0)
	out.AddStr("StrValue", "")
	out.AddUniStr("UniStrValue", "")
	return out, nil
}

// --- capabilities (docs/protocol/admin.md#capabilities) ---

// capability is one GetCaps entry. Only what this server really does is
// listed: clients read a missing b_* capability as false.
type capability struct {
	name  string
	value uint32
	desc  string
}

var capabilities = []capability{
	{"i_max_packet_size", 1600, "Maximum Ethernet Packet Size"},
	{"i_max_hubs", control.MaxHubs, "Maximum Virtual Hubs"},
	{"i_max_sessions", 100000, "Maximum Total Sessions"},
	{"i_max_user_creation", 0xFFFFFFFF, "Maximum Users on Entire VPN Server"},
	{"i_max_clients", 0xFFFFFFFF, "Maximum Client Sessions"},
	{"i_max_bridges", 0xFFFFFFFF, "Maximum Bridge Sessions"},
	{"i_max_users_per_hub", control.MaxUsersPerHub, "Maximum Users per Virtual Hub"},
	{"i_max_groups_per_hub", control.MaxGroupsOfHub, "Maximum Groups per Virtual Hub"},
	{"i_max_access_lists", control.MaxAccessLists, "Maximum Access Lists per Virtual Hub"},
	{"b_support_limit_multilogin", 1, "Limits for Multiple Login by Same User is Supported"},
	{"b_support_qos", 1, "VoIP / QoS Functions is Supported"},
	{"i_max_mac_tables", 65536, "Maximum MAC Address Entries per Virtual Hub"},
	{"i_max_ip_tables", 65536, "Maximum IP Address Entries per Virtual Hub"},
	{"b_support_securenat", 1, "SecureNAT is Supported"},
	{"b_suppport_push_route", 1, "Static Routing Table Pushing Function"},
	{"b_suppport_push_route_config", 1, "Static Routing Table Pushing Function (Configurable)"},
	{"i_max_secnat_tables", 4096, "Maximum SecureNAT Entries per Virtual Hub"},
	{"b_standalone", 1, "Standalone Mode"},
	{"b_support_config_hub", 1, "Changing Virtual Hub Settings is Supported"},
	{"b_vpn_client_connect", 1, "Accepting Connection from VPN Client / Bridge"},
	{"b_support_config_rw", 1, "Remote Reading and Writing of Config File is Supported"},
	{"b_support_hub_admin_option", 1, "Virtual Hub Administration Options is Supported"},
	{"b_support_hide_hub", 1, "Virtual Hub Enumeration Setting is Supported"},
	{"b_is_softether", 1, "Either Free or Open-Source Version of SoftEther VPN"},
	{"b_support_config_log", 1, "Changing Settings for Saving Log is Supported"},
	{"b_support_autodelete", 1, "Automatic Deletion of Log Files is Supported"},
	{"b_support_layer3", 1, "The Virtual Layer 3 Switch is Supported"},
	{"b_support_ac", 1, "Virtual Hub-Specific Source IP Address Limit Lists is Supported"},
	{"b_support_rename_cascade", 1, "Renaming of Cascade Connection is Supported"},
	{"b_support_check_mac", 1, "Specifing MAC Address in Access Lists is Supported"},
	{"b_support_check_tcp_state", 1, "Checking TCP Connection State Filtering is Supported"},
	{"b_support_vlan", 1, "Tagged VLAN ID is Supported in MAC Address Table"},
	{"b_support_hub_ext_options", 1, "Virtual Hub Extended Option is Supported"},
	{"b_support_policy_ver_3", 1, "Security Policy version 3 is Supported"},
	{"b_support_ipv6_acl", 1, "IPv6 Access List is Supported"},
	{"b_support_ex_acl", 1, "Delay, Jitter and Packet Loss is Supported in Access List"},
	{"b_support_redirect_url_acl", 1, "HTTP URL Redirection in Access List is Supported"},
	{"b_support_acl_group", 1, "Conditioning by Group name is Supported in Access List"},
	{"b_support_ipv6_ac", 1, "IPv6 IP Access Control Lists is Supported"},
	{"b_vpn3", 1, "Internal Version 3.0 functions are Supported"},
	{"b_vpn4", 1, "Internal Version 4.0 functions are Supported"},
}

func admGetCaps(a *adminCall) (*pack.Pack, error) {
	out := pack.New()
	l := newList(out)
	for _, c := range capabilities {
		out.AddInt("caps_"+c.name, c.value)
		l.row()
		l.str("CapsName", c.name)
		l.int("CapsValue", c.value)
		l.uni("CapsDescrption", c.desc) // sic
	}
	l.done()
	return out, nil
}

// --- authentication of administrators ---

// checkSecure compares a client's challenge response with
// SHA0(stored || random) in constant time.
func checkSecure(stored []byte, random [20]byte, got []byte) bool {
	if len(stored) != sha0.Size || len(got) != sha0.Size {
		return false
	}
	want := sha0.SecurePassword([20]byte(stored), random)
	return subtle.ConstantTimeCompare(want[:], got) == 1
}

// errNoAdminPassword is logged when a remote client tries the server admin
// with no password set.
var errNoAdminPassword = errors.New("no server administrator password is set: administration is allowed from localhost only")
