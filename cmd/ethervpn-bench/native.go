package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/testrig"
)

// The native benchmark: iperf3 TCP through an OpenVPN tunnel (tun mode,
// one data cipher for all) served by
//   - ethervpn's OpenVPN server,
//   - the real vpnserver 5.01's OpenVPN server,
//   - Debian's openvpn 2.6 in --server mode,
//
// and through a plain wireguard-go peer-to-peer tunnel as the WireGuard
// reference, with the server process's CPU time.
//
//	ethervpn-bench native [-t 10] [-runs 3] [-servers ethervpn,softether,openvpn,wireguard-go]
//
// A row "ethervpn@PATH" runs the ethervpn binary at PATH, so that two
// builds are compared in one run (-servers ethervpn@/tmp/a,ethervpn@/tmp/b),
// their runs taken in turns.
//
// For ethervpn and vpnserver the path is the same: the openvpn client's
// tun address comes from the hub's SecureNAT DHCP server with its NAT off
// (SecureNAT only hands out addresses), and the iperf3 server is a LAN
// host on a veth that the hub bridges with a local bridge, so every
// tunnelled packet crosses the hub and the bridge. openvpn --server routes
// its tun to the same kind of LAN veth with the kernel's forwarding.
//
// The cipher is AES-256-GCM: vpnserver 5.01 accepts AEAD ciphers
// (SoftEther 5.01 Proto_OpenVPN.c, OvsEncrypt and OvsDecrypt take the
// IsAeadCipher branch), ethervpn and openvpn 2.6 prefer it.

const (
	// DEFAULT, so that the plain user name works on every server: vpnserver
	// 5.01 passes "user@hub" to the hub's user check whole.
	nativeHub     = "DEFAULT"
	nativeUser    = "user1"
	nativeUDPPort = 1194
	nativeCipher  = "AES-256-GCM"
	nativeLANHost = "192.168.30.250" // outside SecureNAT's pool (.10-.200)
	nativeWGSrv   = "10.9.0.1"
	nativeWGCli   = "10.9.0.2"
	// nativeWGHubClient is the WireGuard client's address on the hub's LAN.
	nativeWGHubClient = "192.168.30.240"
)

// The rows besides the two VPN servers testrig knows.
const (
	kindOpenVPN     testrig.ServerKind = "openvpn"
	kindWireGuardGo testrig.ServerKind = "wireguard-go"
	// kindEthervpnWG is ethervpn's WireGuard server, with the same hub,
	// bridge and LAN as its OpenVPN row.
	kindEthervpnWG testrig.ServerKind = "ethervpn-wg"
)

// runNative is "ethervpn-bench native".
func runNative(args []string) int {
	fs := newFlags("native", "iperf3 runs per server", "servers")
	fs.Set("servers", "ethervpn,softether,openvpn,ethervpn-wg,wireguard-go")
	// Three runs by default: on a small shared machine one run says little.
	fs.Set("runs", "3")
	fs.Parse(args)
	opt := fs.options()
	var kinds []testrig.ServerKind
	for _, name := range strings.Split(*fs.servers, ",") {
		k := testrig.ServerKind(strings.TrimSpace(name))
		if _, ok := ethervpnBuild(k); ok {
			kinds = append(kinds, k)
			continue
		}
		switch k {
		case testrig.Ethervpn, testrig.SoftEther, kindOpenVPN, kindWireGuardGo, kindEthervpnWG:
			kinds = append(kinds, k)
		default:
			fmt.Fprintf(os.Stderr, "unknown server %q (want ethervpn, softether, openvpn, ethervpn-wg or wireguard-go)\n", name)
			return 2
		}
	}
	miss := testrig.Missing()
	for _, bin := range []string{"openvpn", "wireguard-go", "wg"} {
		if _, err := exec.LookPath(bin); err != nil {
			miss = append(miss, bin)
		}
	}
	if len(miss) > 0 {
		fmt.Fprintf(os.Stderr, "ethervpn-bench native needs: %s (apt-get install openvpn wireguard-go wireguard-tools)\n", strings.Join(miss, ", "))
		return 1
	}
	return measureKinds(kinds, opt, setupNative, printNativeTable)
}

// setupNative brings up one row's topology; each run is iperf3 from the
// client namespace through the tunnel.
func setupNative(r *testrig.Runner, kind testrig.ServerKind, opt options) (result, func(int) run) {
	rig := testrig.New(r)
	if kind == kindWireGuardGo {
		return setupWireGuardGo(r, rig, opt)
	}
	cert, key := benchCert(r)
	cli := rig.AddClient()
	lan := rig.AddClient() // its underlay is unused; eth1 is its LAN
	must(r, "ip", "link", "add", "lb0", "netns", rig.Server.Name, "type", "veth", "peer", "name", "eth1", "netns", lan.Name)
	nsMust(r, rig.Server, "ip", "link", "set", "lb0", "up")
	nsMust(r, lan, "ip", "addr", "add", nativeLANHost+"/24", "dev", "eth1")
	nsMust(r, lan, "ip", "link", "set", "eth1", "up")
	rig.StartIperfServer(lan)

	var srvProc *testrig.Proc
	if bin, ok := ethervpnBuild(kind); ok {
		// testrig takes the binary from the environment; the rows are set
		// up one after the other.
		old, had := os.LookupEnv("ETHERVPN_BIN")
		os.Setenv("ETHERVPN_BIN", bin)
		srvProc = startNativeVPNServer(r, rig, testrig.Ethervpn, cert, key).Proc
		if had {
			os.Setenv("ETHERVPN_BIN", old)
		} else {
			os.Unsetenv("ETHERVPN_BIN")
		}
	}
	var client *testrig.Proc
	switch kind {
	case testrig.Ethervpn, testrig.SoftEther:
		srvProc = startNativeVPNServer(r, rig, kind, cert, key).Proc
	case kindOpenVPN:
		srvProc = startOpenVPNServer(r, rig, lan, cert, key)
	case kindEthervpnWG:
		srvKey, srvPub := wgKeyPair(r)
		cliKey, cliPub := wgKeyPair(r)
		srvProc = startNativeVPNServer(r, rig, testrig.Ethervpn, cert, key, wgServer{priv: srvKey, clientPub: cliPub}).Proc
		// A static address in the LAN's subnet, as WireGuard clients of
		// SoftEther have (the server learns it from the first packet).
		client = startWireGuardGo(r, cli, rig.Prefix+"c", cliKey, srvPub, nativeWGHubClient, "192.168.30.0/24", fmt.Sprintf("%s:%d", cli.ServerIP, nativeUDPPort))
	}
	if client == nil {
		client = startOpenVPNClient(r, cli, kind, cert)
	}
	if p, err := cli.Ping(nativeLANHost, 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through %s before the benchmark: %+v %v\nclient log: %s", kind, p, err, tail(client.Log(), 15))
	}
	procs := []*testrig.Proc{srvProc, client}
	return result{server: kind, costed: 1}, func(i int) run {
		rn := iperfRun(r, cli, nativeLANHost, opt.duration, procs)
		r.Logf("%s run %d: %.0f Mbit/s, %d bytes, %d TCP retransmissions, CPU s: server %.2f, client %.2f",
			kind, i, rn.mbps, rn.bytes, rn.retr, rn.cpu[0], rn.cpu[1])
		return rn
	}
}

// startNativeVPNServer starts ethervpn or vpnserver with hub DEFAULT
// (SecureNAT's DHCP without its NAT, a local bridge to lb0), OpenVPN on
// UDP port 1194 and the benchmark's certificate.
func startNativeVPNServer(r *testrig.Runner, rig *testrig.Rig, kind testrig.ServerKind, cert, key []byte, wg ...wgServer) *testrig.Server {
	root := openVPNConfig(r, &testrig.ServerConfig{Port: 25555, Hubs: []testrig.HubConfig{{
		Name: nativeHub, Password: "hubpw",
		Users:     []testrig.UserConfig{{Name: nativeUser, Password: benchPassword}},
		SecureNAT: &testrig.SecureNATConfig{},
	}}}, cert, key)
	sc := root.Ensure("ServerConfiguration")
	hub := root.Ensure("VirtualHUB").Ensure(nativeHub)
	hub.Ensure("SecureNAT").Ensure("VirtualRouter").SetBool("NatEnabled", false)
	for _, w := range wg {
		sc.Ensure("Proto").Ensure("WireGuard").SetBool("Enabled", true)
		sc.Ensure("Proto").Ensure("WireGuard").SetString("PrivateKey", w.priv)
		k := root.Ensure("WireGuardKeyList").Ensure(w.clientPub)
		k.SetString("Hub", nativeHub)
		k.SetString("User", nativeUser)
	}
	b := root.Ensure("LocalBridgeList").Ensure("LocalBridge0")
	b.SetString("DeviceName", "lb0")
	b.SetString("HubName", nativeHub)
	b.SetBool("LimitBroadcast", false)
	b.SetBool("MonitorMode", false)
	b.SetBool("NoPromiscuousMode", false)
	b.SetBool("TapMode", false)
	return rig.StartServerText(kind, 25555, "", root.Encode())
}

// openVPNConfig is cfg's configuration tree with OpenVPN on, on UDP port
// nativeUDPPort, and cert as the server's certificate.
func openVPNConfig(r *testrig.Runner, cfg *testrig.ServerConfig, cert, key []byte) *config.Folder {
	root, err := config.Parse(cfg.Render())
	if err != nil {
		r.Fatalf("%v", err)
	}
	sc := root.Ensure("ServerConfiguration")
	sc.SetString("PortsUDP", fmt.Sprint(nativeUDPPort))
	sc.SetBytes("ServerCert", cert)
	sc.SetBytes("ServerKey", key)
	sc.Ensure("Proto").Ensure("OpenVPN").SetBool("Enabled", true)
	return root
}

// wgServer is the WireGuard setting of ethervpn's row: its private key
// and the one client's public key (mapped to hub DEFAULT, user1).
type wgServer struct{ priv, clientPub string }

// startOpenVPNServer starts openvpn --server in the server namespace,
// routing its tun to the LAN (lb0, 192.168.30.1/24) with the kernel.
func startOpenVPNServer(r *testrig.Runner, rig *testrig.Rig, lan *testrig.Netns, cert, key []byte) *testrig.Proc {
	srv := rig.Server
	nsMust(r, srv, "ip", "addr", "add", "192.168.30.1/24", "dev", "lb0")
	nsMust(r, srv, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	nsMust(r, lan, "ip", "route", "add", "10.8.0.0/24", "via", "192.168.30.1")
	return startOpenVPNd(r, srv, cert, key, "tun", "--topology", "subnet", "--push", "route 192.168.30.0 255.255.255.0")
}

// startOpenVPNd starts openvpn --server in the server namespace srv on
// UDP port nativeUDPPort, subnet 10.8.0.0/24, cipher nativeCipher, with
// device dev ("tun" or "tap"), the options extra, and cert as its
// certificate and CA; it waits until the server is up.
func startOpenVPNd(r *testrig.Runner, srv *testrig.Netns, cert, key []byte, dev string, extra ...string) *testrig.Proc {
	certPath, keyPath := writePEM(r, srv.Dir, cert, key)
	args := append([]string{"openvpn", "--dev", dev, "--proto", "udp", "--port", fmt.Sprint(nativeUDPPort), "--server", "10.8.0.0", "255.255.255.0"}, extra...)
	args = append(args,
		"--cipher", nativeCipher, "--data-ciphers", nativeCipher,
		"--ca", certPath, "--cert", certPath, "--key", keyPath, "--dh", "none", "--verify-client-cert", "none",
		// Every name and password is good: the benchmarks measure the data path.
		"--script-security", "2", "--auth-user-pass-verify", "/bin/true", "via-file", "--tmp-dir", srv.Dir,
		"--verb", "3")
	p := testrig.StartProc(r, "openvpn --server", filepath.Join(srv.Dir, "openvpn-server.log"), srv.Cmd(args...)...)
	if !waitLog(p, "Initialization Sequence Completed", 20*time.Second) {
		r.Fatalf("openvpn --server did not start: %s", tail(p.Log(), 15))
	}
	return p
}

// startOpenVPNClient starts the openvpn 2.6 client in ns against the
// server namespace's UDP port and waits for its tunnel, logged in as
// user1 (of hub DEFAULT).
func startOpenVPNClient(r *testrig.Runner, ns *testrig.Netns, kind testrig.ServerKind, cert []byte) *testrig.Proc {
	sum := sha256.Sum256(cert)
	fp := make([]string, len(sum))
	for i, b := range sum {
		fp[i] = fmt.Sprintf("%02X", b)
	}
	conf := []string{"client", "dev tun", "proto udp", fmt.Sprintf("remote %s %d", ns.ServerIP, nativeUDPPort), "nobind",
		"peer-fingerprint " + strings.Join(fp, ":"), "cipher " + nativeCipher, "data-ciphers " + nativeCipher,
		// The test LAN is reached by its own route; the underlay has none to replace.
		"pull-filter ignore redirect-gateway", "pull-filter ignore block-outside-dns",
		"verb 3", "connect-retry 1", "auth-retry none"}
	authPath := filepath.Join(ns.Dir, "auth.txt")
	if err := os.WriteFile(authPath, []byte(nativeUser+"\n"+benchPassword+"\n"), 0o600); err != nil {
		r.Fatalf("%v", err)
	}
	conf = append(conf, "auth-user-pass "+authPath)
	confPath := filepath.Join(ns.Dir, "client.ovpn")
	if err := os.WriteFile(confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		r.Fatalf("%v", err)
	}
	p := testrig.StartProc(r, "openvpn client", filepath.Join(ns.Dir, "openvpn-client.log"), ns.Cmd("openvpn", "--config", confPath)...)
	if !waitLog(p, "Initialization Sequence Completed", 60*time.Second) {
		r.Fatalf("the openvpn client did not connect to %s in 60 s: %s", kind, tail(p.Log(), 20))
	}
	if kind != kindOpenVPN {
		// The hub's tun session must own an address on the LAN's subnet.
		out, _ := ns.Run(5*time.Second, "ip", "-4", "-o", "addr", "show", "dev", "tun0")
		if !strings.Contains(out, "inet 192.168.30.") {
			r.Fatalf("tun0 has no address from the hub's DHCP: %q", out)
		}
	}
	return p
}

// setupWireGuardGo is the WireGuard reference: wireguard-go in the server
// namespace and in a client namespace, peers over the veth underlay, the
// iperf3 server on the server's tunnel address.
func setupWireGuardGo(r *testrig.Runner, rig *testrig.Rig, opt options) (result, func(int) run) {
	cli := rig.AddClient()
	srvKey, srvPub := wgKeyPair(r)
	cliKey, cliPub := wgKeyPair(r)
	srvProc := startWireGuardGo(r, rig.Server, rig.Prefix+"s", srvKey, cliPub, nativeWGSrv, nativeWGCli+"/32", "")
	cliProc := startWireGuardGo(r, cli, rig.Prefix+"c", cliKey, srvPub, nativeWGCli, nativeWGSrv+"/32", cli.ServerIP+":51820")
	rig.StartIperfServer(rig.Server)
	if p, err := cli.Ping(nativeWGSrv, 3); err != nil || p.Received == 0 {
		r.Fatalf("no ping through wireguard-go: %+v %v", p, err)
	}
	procs := []*testrig.Proc{srvProc, cliProc}
	return result{server: kindWireGuardGo, costed: 1}, func(i int) run {
		rn := iperfRun(r, cli, nativeWGSrv, opt.duration, procs)
		r.Logf("wireguard-go run %d: %.0f Mbit/s, %d bytes, %d TCP retransmissions, CPU s: server side %.2f, client side %.2f",
			i, rn.mbps, rn.bytes, rn.retr, rn.cpu[0], rn.cpu[1])
		return rn
	}
}

// startWireGuardGo runs wireguard-go in ns as device dev (wireguard-go's
// control sockets, /var/run/wireguard/<dev>.sock, are shared by all
// namespaces: each device gets a name of its own) with key priv, one peer
// (its public key, allowed IPs and endpoint, if any) and address addr/24.
func startWireGuardGo(r *testrig.Runner, ns *testrig.Netns, dev, priv, peerPub, addr, allowed, endpoint string) *testrig.Proc {
	p := testrig.StartProc(r, "wireguard-go "+ns.Name, filepath.Join(ns.Dir, "wireguard-go.log"),
		ns.Cmd("env", "LOG_LEVEL=error", "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1", "wireguard-go", "-f", dev)...)
	ok := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := ns.Run(5*time.Second, "ip", "link", "show", dev); err == nil {
			ok = true
			break
		}
	}
	if !ok {
		r.Fatalf("wireguard-go made no %s in %s: %s", dev, ns.Name, tail(p.Log(), 10))
	}
	keyPath := filepath.Join(ns.Dir, "wg.key")
	if err := os.WriteFile(keyPath, []byte(priv+"\n"), 0o600); err != nil {
		r.Fatalf("%v", err)
	}
	args := []string{"wg", "set", dev, "private-key", keyPath, "listen-port", "51820", "peer", peerPub, "allowed-ips", allowed}
	if endpoint != "" {
		args = append(args, "endpoint", endpoint)
	}
	nsMust(r, ns, args...)
	nsMust(r, ns, "ip", "addr", "add", addr+"/24", "dev", dev)
	nsMust(r, ns, "ip", "link", "set", dev, "up")
	return p
}

func printNativeTable(w io.Writer, opt options, results []result) {
	tw := newTable(w, fmt.Sprintf("Native clients, tun, iperf3 TCP client -> LAN host -t %d, 1 stream, %d run(s), OpenVPN cipher %s over UDP",
		int(opt.duration/time.Second), opt.runs, nativeCipher),
		"row\tMbit/s\tserver CPU-s\tserver CPU-s per GB\tclient CPU-s per GB\truns (Mbit/s)\t")
	byKind := map[testrig.ServerKind]summary{}
	for _, res := range results {
		name := nativeRowName(res.server)
		if res.err != nil {
			fmt.Fprintf(tw, "%s\tfailed\t-\t-\t%s\t\t\n", name, res.err)
			continue
		}
		s := summarize(res)
		byKind[res.server] = s
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%s\t\n", name, s.mbps, s.cpuSec, s.cpuPerGB, s.otherPerGB, eachMbps(res.runs))
	}
	tw.Flush()
	if e, ok := byKind[kindEthervpnWG]; ok {
		if s, ok := byKind[kindWireGuardGo]; ok && s.mbps > 0 && s.cpuPerGB > 0 {
			fmt.Fprintf(w, "ethervpn WireGuard/wireguard-go: throughput %.2fx (target >= 0.8x), server CPU per GB %.2fx\n",
				e.mbps/s.mbps, e.cpuPerGB/s.cpuPerGB)
		}
	}
	e, ok := byKind[testrig.Ethervpn]
	if !ok {
		return
	}
	for _, ref := range []struct {
		kind   testrig.ServerKind
		target float64
	}{{testrig.SoftEther, 2}, {kindOpenVPN, 1}} {
		if s, ok := byKind[ref.kind]; ok && s.mbps > 0 && s.cpuPerGB > 0 {
			fmt.Fprintf(w, "ethervpn/%s: throughput %.2fx (target >= %.0fx), server CPU per GB %.2fx (lower is better)\n",
				nativeRowName(ref.kind), e.mbps/s.mbps, ref.target, e.cpuPerGB/s.cpuPerGB)
		}
	}
}

// ethervpnBuild reports whether k is a row "ethervpn@PATH" and its PATH.
func ethervpnBuild(k testrig.ServerKind) (string, bool) {
	bin, ok := strings.CutPrefix(string(k), "ethervpn@")
	return bin, ok && bin != ""
}

// nativeRowName is the table's name of a row.
func nativeRowName(k testrig.ServerKind) string {
	switch k {
	case testrig.Ethervpn:
		return "ethervpn OpenVPN"
	case testrig.SoftEther:
		return "vpnserver 5.01 OpenVPN"
	case kindOpenVPN:
		return "openvpn 2.6 --server"
	case kindWireGuardGo:
		return "wireguard-go peer to peer"
	case kindEthervpnWG:
		return "ethervpn WireGuard"
	}
	return string(k)
}

// benchCert makes the servers' self-signed RSA certificate (EKU
// serverAuth, for the client's checks) and its PKCS#1 key, both DER, as
// SoftEther stores them in ServerCert and ServerKey.
func benchCert(r *testrig.Runner) (cert, key []byte) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		r.Fatalf("%v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ethervpn-bench"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		r.Fatalf("%v", err)
	}
	return cert, x509.MarshalPKCS1PrivateKey(k)
}

// writePEM writes cert and key as PEM files in dir for openvpn.
func writePEM(r *testrig.Runner, dir string, cert, key []byte) (certPath, keyPath string) {
	certPath, keyPath = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{certPath, "CERTIFICATE", cert}, {keyPath, "RSA PRIVATE KEY", key}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			r.Fatalf("%v", err)
		}
	}
	return certPath, keyPath
}

// wgKeyPair returns a WireGuard private key and its public key, base64.
func wgKeyPair(r *testrig.Runner) (priv, pub string) {
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		r.Fatalf("%v", err)
	}
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		r.Fatalf("%v", err)
	}
	return base64.StdEncoding.EncodeToString(k[:]), base64.StdEncoding.EncodeToString(p)
}

// waitLog waits up to timeout for p's log to contain s.
func waitLog(p *testrig.Proc, s string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if strings.Contains(p.Log(), s) {
			return true
		}
		if p.Exited() {
			return false
		}
	}
	return false
}

// must runs a command in this namespace (only ones that create links in
// the rig's namespaces).
func must(r *testrig.Runner, args ...string) {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		r.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// nsMust runs a command in ns.
func nsMust(r *testrig.Runner, ns *testrig.Netns, args ...string) {
	if out, err := ns.Run(30*time.Second, args...); err != nil {
		r.Fatalf("%s in %s: %v\n%s", strings.Join(args, " "), ns.Name, err, out)
	}
}
