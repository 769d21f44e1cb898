package openvpn

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// tapSwitch is a tiny OpenVPN server of this package's Sessions on
// loopback UDP: it logs in any user "name-<dev type>" with password
// "secret" and hands each packet a client sends to every other client.
type tapSwitch struct {
	pc  net.PacketConn
	cfg Config
	mu  sync.Mutex
	by  map[string]*Session
	wg  sync.WaitGroup
}

func newTapSwitch(t *testing.T, ciphers []string, disableEKM bool) *tapSwitch {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logf, _ := afterTestSafe(t)
	sw := &tapSwitch{pc: pc, by: map[string]*Session{}}
	sw.cfg = Config{
		TLS:        &tls.Config{Certificates: []tls.Certificate{testCert(t, t.TempDir())}},
		Ciphers:    ciphers,
		DisableEKM: disableEKM,
		Authenticate: func(r *AuthRequest) (*PushOptions, error) {
			if r.Password != "secret" || r.DevType != r.Username[strings.IndexByte(r.Username, '-')+1:] {
				return nil, errors.New("bad password")
			}
			return &PushOptions{Ping: 10, PingRestart: 60}, nil
		},
		OnData: func(from *Session, p []byte) {
			sw.mu.Lock()
			defer sw.mu.Unlock()
			for _, s := range sw.by {
				if s != from {
					s.SendData(p)
				}
			}
		},
		Logf: logf,
	}
	sw.wg.Add(1)
	go sw.serve()
	t.Cleanup(func() {
		pc.Close()
		sw.wg.Wait()
		sw.mu.Lock()
		defer sw.mu.Unlock()
		for _, s := range sw.by {
			s.Close()
		}
	})
	return sw
}

func (sw *tapSwitch) serve() {
	defer sw.wg.Done()
	buf := make([]byte, 4096)
	for peer := 1; ; {
		n, addr, err := sw.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		sw.mu.Lock()
		s := sw.by[addr.String()]
		if s == nil && IsNewSession(buf[:n]) {
			s = NewSession(&sw.cfg, peer, func(p []byte) { sw.pc.WriteTo(p, addr) })
			peer++
			sw.by[addr.String()] = s
		}
		sw.mu.Unlock()
		if s != nil {
			s.HandlePacket(buf[:n])
		}
	}
}

// frameSink collects the test frames (EtherType 0x88b5) a client
// receives; a server may pass on others (openvpn floods multicast).
type frameSink struct {
	mu     sync.Mutex
	frames [][]byte
}

func (f *frameSink) add(p []byte) {
	if len(p) < 14 || p[12] != 0x88 || p[13] != 0xb5 {
		return
	}
	f.mu.Lock()
	f.frames = append(f.frames, append([]byte(nil), p...))
	f.mu.Unlock()
}

func (f *frameSink) wait(n int, d time.Duration) [][]byte {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		f.mu.Lock()
		got := len(f.frames)
		f.mu.Unlock()
		if got >= n {
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.frames...)
}

// testFrame is Ethernet frame i from src to dst, 1514 bytes.
func testFrame(src, dst byte, i int) []byte {
	f := make([]byte, 1514)
	copy(f, []byte{2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, src, 0x88, 0xb5})
	binary.BigEndian.PutUint32(f[14:], uint32(i))
	for j := 18; j < len(f); j++ {
		f[j] = byte(j + i)
	}
	return f
}

// dialTest connects user-<dev type> (tap unless opts says otherwise) to
// the test server.
func dialTest(t *testing.T, sw *tapSwitch, user, password string, opts ClientOptions, sink *frameSink) (*UDPClient, error) {
	logf, _ := afterTestSafe(t)
	opts.TLS = &tls.Config{InsecureSkipVerify: true}
	if opts.DevType == "" {
		opts.DevType = "tap"
	}
	opts.Username, opts.Password = user+"-"+opts.DevType, password
	opts.HandshakeTimeout = 10 * time.Second
	opts.Logf = logf
	if sink != nil {
		opts.OnData = sink.add
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return DialUDP(ctx, sw.pc.LocalAddr().String(), &opts)
}

// TestClientRoundTrip connects two clients to the in-process server in tap
// mode and sends frames both ways through it, with each cipher and both
// key derivations.
func TestClientRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name       string
		server     []string
		client     []string
		noEKM      bool
		wantCipher string
		devType    string
	}{
		{"AES-256-GCM EKM", nil, nil, false, "AES-256-GCM", "tap"},
		{"AES-128-GCM PRF", nil, []string{"AES-128-GCM"}, true, "AES-128-GCM", "tap"},
		{"CHACHA20-POLY1305", []string{"CHACHA20-POLY1305", "AES-256-GCM"}, nil, false, "CHACHA20-POLY1305", "tap"},
		{"AES-256-CBC PRF", []string{"AES-256-CBC"}, []string{"AES-256-CBC"}, true, "AES-256-CBC", "tap"},
		// tun carries IP packets; the test's packets only look like frames.
		{"tun", nil, nil, false, "AES-256-GCM", "tun"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sw := newTapSwitch(t, tc.server, false)
			var sa, sb frameSink
			a, err := dialTest(t, sw, "alice", "secret", ClientOptions{Ciphers: tc.client, NoEKM: tc.noEKM, DevType: tc.devType}, &sa)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := dialTest(t, sw, "bob", "secret", ClientOptions{Ciphers: tc.client, NoEKM: tc.noEKM, DevType: tc.devType}, &sb)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			p := a.Push()
			if a.Cipher() != tc.wantCipher || p.Cipher != tc.wantCipher || p.PeerID < 1 || p.EKM == tc.noEKM || p.Ping != 10 {
				t.Fatalf("cipher %q, push %+v", a.Cipher(), p)
			}
			const n = 50
			for i := range n {
				if err := a.SendData(testFrame(1, 2, i)); err != nil {
					t.Fatal(err)
				}
				if err := b.SendData(testFrame(2, 1, i)); err != nil {
					t.Fatal(err)
				}
				if i%10 == 9 {
					time.Sleep(5 * time.Millisecond) // loopback UDP buffers are finite
				}
			}
			for _, c := range []struct {
				sink     *frameSink
				src, dst byte
			}{{&sb, 1, 2}, {&sa, 2, 1}} {
				got := c.sink.wait(n, 5*time.Second)
				if len(got) < n*9/10 {
					t.Fatalf("%d of %d frames arrived", len(got), n)
				}
				for _, f := range got {
					i := int(binary.BigEndian.Uint32(f[14:]))
					if !bytes.Equal(f, testFrame(c.src, c.dst, i)) {
						t.Fatalf("frame %d changed on the way", i)
					}
				}
			}
			if a.Stats.DropAuth.Load()+b.Stats.DropAuth.Load()+a.Stats.DropReplay.Load() != 0 {
				t.Fatal("a client dropped data packets")
			}
		})
	}
}

// TestClientAuthFailed checks that a wrong password ends the handshake
// with ErrAuthFailed and the server keeps no data keys for it.
func TestClientAuthFailed(t *testing.T) {
	sw := newTapSwitch(t, nil, false)
	start := time.Now()
	c, err := dialTest(t, sw, "alice", "wrong", ClientOptions{}, nil)
	if !errors.Is(err, ErrAuthFailed) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("wrong password: %v", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("AUTH_FAILED took %v", d)
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for _, s := range sw.by {
		if s.KeyID() >= 0 {
			t.Fatal("the server holds data keys for a refused client")
		}
	}
}

// TestClientHandshakeTimeout checks that a client facing no server gives
// up after its timeout.
func TestClientHandshakeTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx := context.Background()
	_, err = DialUDP(ctx, pc.LocalAddr().String(), &ClientOptions{TLS: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrHandshakeTimeout) {
		t.Fatalf("no server: %v", err)
	}
}

// TestClientDropsForeign checks that the client drops control packets of
// another session and data before its keys, counting them.
func TestClientDropsForeign(t *testing.T) {
	var sent [][]byte
	c := NewClient(&ClientOptions{TLS: &tls.Config{InsecureSkipVerify: true}}, func(p []byte) { sent = append(sent, append([]byte(nil), p...)) })
	defer c.Close()
	if err := c.HandlePacket(AppendControl(nil, &Control{Opcode: OpControlV1, SessionID: 9, PacketID: 1})); err == nil {
		t.Fatal("took P_CONTROL_V1 before the server's reset")
	}
	if err := c.HandlePacket(AppendControl(nil, &Control{Opcode: OpHardResetServerV2, SessionID: 9, Acks: []uint32{0}, RemoteSessionID: c.localSID + 1})); err == nil {
		t.Fatal("took a reset acking another client session")
	}
	if err := c.HandlePacket([]byte{OpDataV2 << 3, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}); err != ErrNoKey {
		t.Fatalf("data before keys: %v", err)
	}
	if c.Stats.DropControl.Load() != 2 || c.Stats.DropNoKey.Load() != 1 {
		t.Fatalf("counters: control %d nokey %d", c.Stats.DropControl.Load(), c.Stats.DropNoKey.Load())
	}
}

func TestParsePushReply(t *testing.T) {
	p, err := ParsePushReply("PUSH_REPLY,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 120,ifconfig 10.8.0.2 255.255.255.0,peer-id 3,cipher AES-256-GCM,protocol-flags cc-exit tls-ekm dyn-tls-crypt")
	if err != nil {
		t.Fatal(err)
	}
	want := PushReply{Cipher: "AES-256-GCM", PeerID: 3, EKM: true, IP: netip.MustParseAddr("10.8.0.2"),
		Netmask: netip.MustParseAddr("255.255.255.0"), Gateway: netip.MustParseAddr("10.8.0.1"), Ping: 10, PingRestart: 120}
	if len(p.Options) != 8 || p.Options[1] != "topology subnet" {
		t.Fatalf("options %q", p.Options)
	}
	p.Options = nil
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("got %+v", p)
	}
	// What this package's server builds, read back.
	msg := BuildPushReply(&PushOptions{IP: netip.MustParseAddr("192.168.30.10"), Ping: 3}, "AES-128-GCM", 7, true)
	if p, err = ParsePushReply(msg); err != nil || p.Cipher != "AES-128-GCM" || p.PeerID != 7 || !p.EKM || p.IP != netip.MustParseAddr("192.168.30.10") || p.Ping != 3 {
		t.Fatalf("%q: %+v %v", msg, p, err)
	}
	if p, err = ParsePushReply("PUSH_REPLY"); err != nil || p.PeerID != -1 || p.EKM {
		t.Fatalf("empty reply: %+v %v", p, err)
	}
	for _, bad := range []string{"", "PUSH_REQUEST", "PUSH_REPLYX", "PUSH_REPLY,peer-id 16777216", "PUSH_REPLY,peer-id -1",
		"PUSH_REPLY,cipher BF-CBC", "PUSH_REPLY,ifconfig 10.8.0.2", "PUSH_REPLY,ping x", "PUSH_REPLY,route-gateway 300.1.1.1"} {
		if _, err := ParsePushReply(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParsePushReply(f *testing.F) {
	f.Add("PUSH_REPLY,route-gateway 10.8.0.1,ping 10,ifconfig 10.8.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM,key-derivation tls-ekm")
	f.Add("PUSH_REPLY,protocol-flags tls-ekm,,  ,ping-restart 60")
	f.Add("PUSH_REPLY,push-continuation 2")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePushReply(s)
		if err != nil {
			return
		}
		if p.PeerID < -1 || p.PeerID > 0xffffff || p.Ping < 0 || p.PingRestart < 0 {
			t.Fatalf("%q: %+v", s, p)
		}
		if p.Cipher != "" {
			if _, ok := lookupCipher(p.Cipher); !ok {
				t.Fatalf("%q: cipher %q", s, p.Cipher)
			}
		}
	})
}

// FuzzClientHandlePacket feeds arbitrary packets to a client that sent its
// reset: each is dropped with an error or taken, never a panic.
func FuzzClientHandlePacket(f *testing.F) {
	f.Add(AppendControl(nil, &Control{Opcode: OpHardResetServerV2, SessionID: 7, Acks: []uint32{0}, RemoteSessionID: 1}))
	f.Add(AppendControl(nil, &Control{Opcode: OpControlV1, SessionID: 7, PacketID: 1, Payload: []byte{0x16, 3, 3, 0, 5}}))
	f.Add([]byte{OpDataV2 << 3, 0, 0, 1, 2, 3, 4, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewClient(&ClientOptions{TLS: &tls.Config{InsecureSkipVerify: true}}, func([]byte) {})
		defer c.Close()
		c.HandlePacket(b)
	})
}

// startRealServer runs the real openvpn 2.6 as a tap server with
// client-to-client (it switches the clients' frames itself), checking
// passwords with authScript, on the loopback of a namespace of its own
// (openvpn makes its tap device there). It returns the namespace and the
// server's address in it. Without openvpn or root the test skips, or
// fails when CI=true.
func startRealServer(t *testing.T, authScript string) (*testrig.Netns, string) {
	bin := testrig.RequireOpenVPN(t)
	dir := t.TempDir()
	ns := &testrig.Netns{Name: fmt.Sprintf("ovcl%d-%d", os.Getpid(), nsSeq.Add(1))}
	exec.Command("ip", "netns", "del", ns.Name).Run()
	run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns.Name).Run() })
	run(t, "ip", "-n", ns.Name, "link", "set", "lo", "up")
	cert := testCert(t, dir)
	key, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "server.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key}), 0o600)
	p := testrig.StartProc(t, "openvpn --server", filepath.Join(dir, "server.log"), "ip", "netns", "exec", ns.Name, bin,
		"--dev", "tap", "--proto", "udp", "--local", "127.0.0.1", "--port", "1194",
		"--server", "10.8.0.0", "255.255.255.0", "--client-to-client", "--duplicate-cn",
		"--data-ciphers", "AES-256-GCM:AES-128-GCM", "--ca", filepath.Join(dir, "ca.pem"),
		"--cert", filepath.Join(dir, "server.pem"), "--key", filepath.Join(dir, "key.pem"), "--dh", "none",
		"--verify-client-cert", "none", "--script-security", "2", "--auth-user-pass-verify", authScript, "via-file",
		"--tmp-dir", dir, "--verb", "3")
	p.StopGrace = 3 * time.Second
	for end := time.Now().Add(15 * time.Second); !strings.Contains(p.Log(), "Initialization Sequence Completed"); time.Sleep(50 * time.Millisecond) {
		if p.Exited() || time.Now().After(end) {
			t.Fatalf("openvpn --server did not start:\n%s", p.Log())
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("openvpn --server log:\n%s", p.Log())
		}
	})
	return ns, "127.0.0.1:1194"
}

var nsSeq atomic.Int32

// dialIn connects a client to addr from a socket made in ns.
func dialIn(t *testing.T, ns *testrig.Netns, addr string, opts *ClientOptions) (*UDPClient, error) {
	var conn net.Conn
	if err := ns.Do(func() (err error) {
		conn, err = net.Dial("udp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c := RunUDP(conn, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Handshake(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// TestClientAgainstRealOpenVPN connects two clients to the real openvpn
// 2.6 server (tap, client-to-client) and sends frames both ways through
// it; with a password check that refuses, the client gets AUTH_FAILED.
func TestClientAgainstRealOpenVPN(t *testing.T) {
	ns, addr := startRealServer(t, "/bin/true")
	logf, _ := afterTestSafe(t)
	dial := func(user string, sink *frameSink) *UDPClient {
		c, err := dialIn(t, ns, addr, &ClientOptions{TLS: &tls.Config{InsecureSkipVerify: true}, Username: user, Password: "pw",
			DevType: "tap", Ciphers: []string{"AES-256-GCM"}, HandshakeTimeout: 15 * time.Second, OnData: sink.add, Logf: logf})
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var sa, sb frameSink
	a, b := dial("alice", &sa), dial("bob", &sb)
	if p := a.Push(); a.Cipher() != "AES-256-GCM" || p.PeerID < 0 || !p.EKM {
		t.Fatalf("cipher %s, push %+v", a.Cipher(), p)
	}
	// openvpn learns a client's MAC from the frames it sends: both send
	// first, then the counted frames follow.
	const n = 40
	for i := range n {
		a.SendData(testFrame(1, 2, i))
		b.SendData(testFrame(2, 1, i))
		time.Sleep(2 * time.Millisecond)
	}
	for _, c := range []struct {
		sink     *frameSink
		src, dst byte
	}{{&sb, 1, 2}, {&sa, 2, 1}} {
		got := c.sink.wait(n*8/10, 5*time.Second)
		if len(got) < n*8/10 {
			t.Fatalf("%d of %d frames arrived through openvpn", len(got), n)
		}
		for _, f := range got {
			i := int(binary.BigEndian.Uint32(f[14:]))
			if !bytes.Equal(f, testFrame(c.src, c.dst, i)) {
				t.Fatalf("frame %d changed on the way: % x", i, f[:min(len(f), 40)])
			}
		}
	}

	rns, raddr := startRealServer(t, "/bin/false")
	c, err := dialIn(t, rns, raddr, &ClientOptions{TLS: &tls.Config{InsecureSkipVerify: true}, Username: "alice", Password: "wrong",
		DevType: "tap", HandshakeTimeout: 15 * time.Second, Logf: logf})
	if !errors.Is(err, ErrAuthFailed) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("refused password: %v", err)
	}
}
