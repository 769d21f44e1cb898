package openvpn

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The interop tests run the real OpenVPN 2.6 client (Debian openvpn) in a
// network namespace against a tiny server made of this package on the host
// end of a veth pair. They need root; without the openvpn binary they skip,
// unless CI=true (testrig.RequireOpenVPN).
func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// testNet makes a namespace joined to the host by a veth pair: host side
// 10.251.x.1/30, namespace side 10.251.x.2/30.
func testNet(t *testing.T) (ns string, hostIP, nsIP string) {
	id := os.Getpid()%200 + 20
	ns = fmt.Sprintf("ovpn-t%d", os.Getpid())
	veth := fmt.Sprintf("ovt%d", os.Getpid())
	hostIP = fmt.Sprintf("10.251.%d.1", id)
	nsIP = fmt.Sprintf("10.251.%d.2", id)
	exec.Command("ip", "netns", "del", ns).Run()
	exec.Command("ip", "link", "del", veth+"a").Run()
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "link", "del", veth+"a").Run()
	})
	run(t, "ip", "link", "add", veth+"a", "type", "veth", "peer", "name", veth+"b")
	run(t, "ip", "link", "set", veth+"b", "netns", ns)
	run(t, "ip", "addr", "add", hostIP+"/30", "dev", veth+"a")
	run(t, "ip", "link", "set", veth+"a", "up")
	run(t, "ip", "-n", ns, "addr", "add", nsIP+"/30", "dev", veth+"b")
	run(t, "ip", "-n", ns, "link", "set", veth+"b", "up")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns, hostIP, nsIP
}

// testCert writes a CA to dir/ca.pem and returns a server certificate it
// signed, with EKU serverAuth for "remote-cert-tls server".
func testCert(t testing.TB, dir string) tls.Certificate {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// echoServer is the test server: it authenticates alice/secret, pushes
// 10.8.0.2/24 with gateway 10.8.0.1, and answers ICMP echo requests to
// 10.8.0.1 by encrypting the reply back.
type echoServer struct {
	cfg      Config
	tap      bool
	auth     chan AuthRequest
	echoes   atomic.Int64
	mu       sync.Mutex
	sessions []*Session
}

// afterTestSafe returns t.Logf and t.Errorf wrapped to do nothing once
// the test has finished: a session's goroutines log their end after the
// test closed them, and the testing package races (and panics) on a
// finished test's log.
func afterTestSafe(t *testing.T) (logf, errorf func(string, ...any)) {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() {
		mu.Lock()
		done = true
		mu.Unlock()
	})
	guard := func(f func(string, ...any)) func(string, ...any) {
		return func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if !done {
				f(format, args...)
			}
		}
	}
	return guard(t.Logf), guard(t.Errorf)
}

func newEchoServer(t *testing.T, dir string, tcp bool) *echoServer {
	e := &echoServer{auth: make(chan AuthRequest, 4)}
	logf, errorf := afterTestSafe(t)
	e.cfg = Config{
		TLS: &tls.Config{Certificates: []tls.Certificate{testCert(t, dir)}, ClientAuth: tls.RequestClientCert},
		TCP: tcp,
		Authenticate: func(r *AuthRequest) (*PushOptions, error) {
			e.auth <- *r
			if r.Username != "alice" || r.Password != "secret" {
				return nil, errors.New("bad password")
			}
			return &PushOptions{IP: netip.MustParseAddr("10.8.0.2"), Netmask: netip.MustParseAddr("255.255.255.0"),
				Gateway: netip.MustParseAddr("10.8.0.1"), DNS: []netip.Addr{netip.MustParseAddr("10.8.0.1")}}, nil
		},
		OnData: func(s *Session, p []byte) {
			if e.tap {
				e.onFrame(errorf, s, p)
				return
			}
			if echoReply(p) {
				e.echoes.Add(1)
				if err := s.SendData(p); err != nil {
					errorf("SendData: %v", err)
				}
			}
		},
		Logf: logf,
	}
	return e
}

// gwMAC is the test server's MAC address in tap mode.
var gwMAC = [6]byte{0x02, 0xe7, 0x0e, 0x00, 0x00, 0x01}

// onFrame answers ARP requests for 10.8.0.1 and ICMP echo requests to it
// in Ethernet frames (tap).
func (e *echoServer) onFrame(errorf func(string, ...any), s *Session, p []byte) {
	if len(p) < 14 {
		return
	}
	switch binary.BigEndian.Uint16(p[12:14]) {
	case 0x0806: // ARP
		a := p[14:]
		if len(a) < 28 || binary.BigEndian.Uint16(a[6:8]) != 1 || [4]byte(a[24:28]) != [4]byte{10, 8, 0, 1} {
			return
		}
		var sha [6]byte
		var spa [4]byte
		copy(sha[:], a[8:14])
		copy(spa[:], a[14:18])
		copy(p[0:6], sha[:])
		copy(p[6:12], gwMAC[:])
		binary.BigEndian.PutUint16(a[6:8], 2)
		copy(a[8:14], gwMAC[:])
		copy(a[14:18], []byte{10, 8, 0, 1})
		copy(a[18:24], sha[:])
		copy(a[24:28], spa[:])
		if err := s.SendData(p[:42]); err != nil {
			errorf("SendData: %v", err)
		}
	case 0x0800:
		if !echoReply(p[14:]) {
			return
		}
		e.echoes.Add(1)
		copy(p[0:6], p[6:12])
		copy(p[6:12], gwMAC[:])
		if err := s.SendData(p); err != nil {
			errorf("SendData: %v", err)
		}
	}
}

// echoReply turns an IPv4 ICMP echo request to 10.8.0.1 into its reply in
// place and reports whether it did.
func echoReply(p []byte) bool {
	if len(p) < 28 || p[0]>>4 != 4 || p[9] != 1 || [4]byte(p[16:20]) != [4]byte{10, 8, 0, 1} {
		return false
	}
	ihl := int(p[0]&15) * 4
	if len(p) < ihl+8 || p[ihl] != 8 {
		return false
	}
	var src [4]byte
	copy(src[:], p[12:16])
	copy(p[12:16], p[16:20])
	copy(p[16:20], src[:])
	p[ihl] = 0 // echo reply
	p[ihl+2], p[ihl+3] = 0, 0
	binary.BigEndian.PutUint16(p[ihl+2:], checksum(p[ihl:]))
	return true
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func (e *echoServer) serveUDP(pc net.PacketConn) {
	bySrc := map[string]*Session{}
	buf := make([]byte, 4096)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		s := bySrc[addr.String()]
		if s == nil {
			s = NewSession(&e.cfg, 7, func(p []byte) { pc.WriteTo(p, addr) })
			bySrc[addr.String()] = s
			e.mu.Lock()
			e.sessions = append(e.sessions, s)
			e.mu.Unlock()
		}
		s.HandlePacket(buf[:n])
	}
}

func (e *echoServer) serveTCP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var wmu sync.Mutex
			var wbuf []byte
			s := NewSession(&e.cfg, 7, func(p []byte) {
				wmu.Lock()
				wbuf = AppendFrame(wbuf[:0], p)
				c.Write(wbuf)
				wmu.Unlock()
			})
			e.mu.Lock()
			e.sessions = append(e.sessions, s)
			e.mu.Unlock()
			fr := NewFrameReader(bufio.NewReader(c))
			for {
				p, err := fr.Next()
				if err != nil {
					s.Close()
					return
				}
				s.HandlePacket(p)
			}
		}()
	}
}

// pingFromNetns sends ICMP echo requests to dst from a socket made inside
// namespace ns and reports whether a reply came back.
func pingFromNetns(t *testing.T, ns, dst string, count int) int {
	type result struct {
		replies int
		err     error
	}
	ch := make(chan result, 1)
	go func() {
		// This goroutine's thread moves to ns and is never given back to
		// the scheduler (no UnlockOSThread: the thread exits with it).
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer c.Close()
		replies := 0
		for i := range count {
			m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0x4242, Seq: i + 1, Data: []byte("ethervpn openvpn interop")}}
			wb, _ := m.Marshal(nil)
			if _, err := c.WriteTo(wb, &net.IPAddr{IP: net.ParseIP(dst)}); err != nil {
				ch <- result{err: err}
				return
			}
			// generous: CI runs this beside other packages' race tests
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			rb := make([]byte, 1500)
			for {
				n, _, err := c.ReadFrom(rb)
				if err != nil {
					break
				}
				if rm, err := icmp.ParseMessage(1, rb[:n]); err == nil && rm.Type == ipv4.ICMPTypeEchoReply {
					if e, ok := rm.Body.(*icmp.Echo); ok && e.ID == 0x4242 && e.Seq == i+1 {
						replies++
						break
					}
				}
			}
		}
		ch <- result{replies: replies}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("ping from %s: %v", ns, r.err)
	}
	return r.replies
}

type clientCase struct {
	name       string
	tcp        bool
	tap        bool
	disableEKM bool
	extra      []string // client config lines
	password   string
	reneg      bool // wait for a client-initiated renegotiation (reneg-sec)
	restart    bool // the server sends RESTART: the client must reconnect
	tlsCrypt   bool
	wantCipher string
	wantEKM    bool
}

func TestInteropOpenVPNClient(t *testing.T) {
	bin := testrig.RequireOpenVPN(t)
	for _, tc := range []clientCase{
		{name: "udp-aes256gcm-ekm", extra: []string{"explicit-exit-notify 1"}, wantCipher: "AES-256-GCM", wantEKM: true},
		{name: "udp-server-restart", restart: true, wantCipher: "AES-256-GCM", wantEKM: true},
		{name: "udp-aes128gcm-prf", disableEKM: true, extra: []string{"data-ciphers AES-128-GCM"}, wantCipher: "AES-128-GCM"},
		{name: "udp-chacha20", extra: []string{"data-ciphers CHACHA20-POLY1305"}, wantCipher: "CHACHA20-POLY1305", wantEKM: true},
		{name: "udp-aes256cbc-sha256", extra: []string{"data-ciphers AES-256-CBC", "cipher AES-256-CBC", "auth SHA256"}, wantCipher: "AES-256-CBC", wantEKM: true},
		// SoftEther's sample client file (openvpn_sample.ovpn).
		{name: "udp-aes128cbc-sha1-softether-sample", disableEKM: true, extra: []string{"data-ciphers AES-128-CBC", "cipher AES-128-CBC", "auth SHA1"}, wantCipher: "AES-128-CBC"},
		{name: "tcp-aes256gcm", tcp: true, wantCipher: "AES-256-GCM", wantEKM: true},
		{name: "udp-tls-crypt", tlsCrypt: true, wantCipher: "AES-256-GCM", wantEKM: true},
		{name: "tcp-tls-crypt", tcp: true, tlsCrypt: true, wantCipher: "AES-256-GCM", wantEKM: true},
		{name: "udp-tap", tap: true, wantCipher: "AES-256-GCM", wantEKM: true},
		{name: "udp-renegotiation", extra: []string{"reneg-sec 2"}, reneg: true, wantCipher: "AES-256-GCM", wantEKM: true},
		{name: "udp-wrong-password", password: "wrong"},
	} {
		t.Run(tc.name, func(t *testing.T) { interopCase(t, bin, tc) })
	}
}

func interopCase(t *testing.T, bin string, tc clientCase) {
	dir := t.TempDir()
	ns, hostIP, _ := testNet(t)
	e := newEchoServer(t, dir, tc.tcp)
	e.cfg.DisableEKM = tc.disableEKM
	e.tap = tc.tap
	if tc.tlsCrypt { // set before the server starts
		kp := filepath.Join(dir, "tc.key")
		run(t, bin, "--genkey", "tls-crypt", kp)
		b, _ := os.ReadFile(kp)
		k, err := ParseStaticKey(string(b))
		if err != nil {
			t.Fatal(err)
		}
		e.cfg.TLSCrypt = k
	}
	dev := "tun"
	if tc.tap {
		dev = "tap"
	}
	proto := "udp"
	var port int
	if tc.tcp {
		l, err := net.Listen("tcp4", hostIP+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		port = l.Addr().(*net.TCPAddr).Port
		go e.serveTCP(l)
		proto = "tcp-client"
	} else {
		pc, err := net.ListenPacket("udp4", hostIP+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		port = pc.LocalAddr().(*net.UDPAddr).Port
		go e.serveUDP(pc)
	}
	defer func() {
		e.mu.Lock()
		for _, s := range e.sessions {
			s.Close()
		}
		e.mu.Unlock()
	}()
	pass := tc.password
	if pass == "" {
		pass = "secret"
	}
	os.WriteFile(filepath.Join(dir, "auth.txt"), []byte("alice\n"+pass+"\n"), 0o600)
	conf := []string{"client", "dev " + dev, "proto " + proto, fmt.Sprintf("remote %s %d", hostIP, port), "nobind",
		"ca " + filepath.Join(dir, "ca.pem"), "remote-cert-tls server", "auth-user-pass " + filepath.Join(dir, "auth.txt"),
		"verb 4", "connect-retry 1", "auth-retry none", "pull"}
	conf = append(conf, tc.extra...)
	if tc.tlsCrypt {
		conf = append(conf, "tls-crypt "+filepath.Join(dir, "tc.key"))
	}
	o := testrig.StartOpenVPN(t, bin, ns, dir, "client", []byte(strings.Join(conf, "\n")+"\n"))
	defer func() {
		o.Stop()
		if t.Failed() {
			t.Logf("client log:\n%s", o.Proc.Log())
		}
	}()

	var req AuthRequest
	select {
	case req = <-e.auth:
	case <-o.Exited():
		t.Fatalf("client exited before authenticating:\n%s", o.Proc.Log())
	case <-time.After(30 * time.Second):
		t.Fatal("no key method 2 reached Authenticate in 30 s")
	}
	if req.Username != "alice" || req.Password != pass || req.DevType != dev || !strings.HasPrefix(req.PeerInfo.Get("IV_VER"), "2.6") {
		t.Fatalf("Authenticate got user %q password %q dev-type %q IV_VER %q", req.Username, req.Password, req.DevType, req.PeerInfo.Get("IV_VER"))
	}
	if tc.password == "wrong" {
		if !o.WaitLog("AUTH_FAILED", 15*time.Second) {
			t.Fatal("client never logged AUTH_FAILED")
		}
		return
	}
	if err := o.WaitUp(30 * time.Second); err != nil {
		t.Fatalf("%v (PUSH_REPLY not accepted?)", err)
	}
	e.mu.Lock()
	s := e.sessions[len(e.sessions)-1]
	e.mu.Unlock()
	s.mu.Lock()
	v2 := s.v2
	s.mu.Unlock()
	if !v2 {
		t.Fatal("the 2.6 client did not get P_DATA_V2 (peer-id)")
	}
	if s.Cipher() != tc.wantCipher || s.EKM() != tc.wantEKM {
		t.Fatalf("negotiated %s ekm %v, want %s ekm %v", s.Cipher(), s.EKM(), tc.wantCipher, tc.wantEKM)
	}
	if tc.reneg {
		if got := pingFromNetns(t, ns, "10.8.0.1", 2); got < 1 {
			t.Fatal("no echo on key id 0")
		}
		// Two renegotiations: key ids 1 then 2; key 0's control channel
		// is ended once two newer keys exist.
		for want := 1; want <= 2; want++ {
			var r AuthRequest
			select {
			case r = <-e.auth:
			case <-time.After(15 * time.Second):
				t.Fatalf("no renegotiation %d in 15 s", want)
			}
			if !r.Renegotiation || r.Password != "secret" {
				t.Fatalf("renegotiation request %+v", r)
			}
			deadline := time.Now().Add(5 * time.Second)
			for s.KeyID() != want && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if s.KeyID() != want {
				t.Fatalf("key id %d after renegotiation %d", s.KeyID(), want)
			}
			if got := pingFromNetns(t, ns, "10.8.0.1", 2); got < 1 {
				t.Fatalf("no echo on key id %d", want)
			}
		}
		s.mu.Lock()
		k0 := s.keys[0]
		s.mu.Unlock()
		if k0 != nil || s.data[0].Load() != nil {
			t.Fatal("key 0 still held after two renegotiations")
		}
		e.echoes.Store(0)
	}
	got := pingFromNetns(t, ns, "10.8.0.1", 3)
	if got != 3 || e.echoes.Load() < 3 {
		t.Fatalf("%d of 3 echo replies through the tunnel; server saw %d requests (drops: auth %d replay %d nokey %d)",
			got, e.echoes.Load(), s.Stats.DropAuth.Load(), s.Stats.DropReplay.Load(), s.Stats.DropNoKey.Load())
	}
	if tc.restart {
		if err := s.SendControl("RESTART"); err != nil {
			t.Fatal(err)
		}
		if !o.WaitLog("SIGUSR1[soft,server-pushed-connection-reset]", 10*time.Second) {
			t.Fatal("client did not restart on RESTART")
		}
	}
	if slices.Contains(tc.extra, "explicit-exit-notify 1") {
		o.Interrupt()
		deadline := time.Now().Add(5 * time.Second)
		for !s.Closed() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !s.Closed() {
			t.Fatal("the session did not end on the client's explicit exit notification")
		}
	}
	t.Logf("%s: 3/3 echoes through the real openvpn client; cipher %s ekm %v key id %d; data in %d out %d",
		tc.name, s.Cipher(), s.EKM(), s.KeyID(), s.Stats.DataIn.Load(), s.Stats.DataOut.Load())
}
