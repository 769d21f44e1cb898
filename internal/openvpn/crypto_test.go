package openvpn

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// TestPRFVector checks the TLS 1.0 PRF against OpenSSL:
//
//	openssl kdf -keylen 48 -kdfopt digest:MD5-SHA1 -kdfopt hexsecret:aa..(48) \
//	  -kdfopt hexseed:<"OpenVPN master secret" bb..(32) cc..(32)> TLS1-PRF
func TestPRFVector(t *testing.T) {
	secret := bytes.Repeat([]byte{0xaa}, 48)
	out := make([]byte, 48)
	prf(out, secret, "OpenVPN master secret", bytes.Repeat([]byte{0xbb}, 32), bytes.Repeat([]byte{0xcc}, 32))
	want := "A927474976928B5147058E665466E8FBD0FCCA8DC21CA9E3753800A4A1A7CC596E02EE2C0F321E6BAF275A8903352359"
	if got := strings.ToUpper(hex.EncodeToString(out)); got != want {
		t.Fatalf("PRF\n got %s\nwant %s", got, want)
	}
}

func TestKeyMethod2RoundTrip(t *testing.T) {
	k := &KeyMethod2{Options: "V4,dev-type tun,cipher AES-256-GCM", Username: "alice@hub", Password: "pw", PeerInfo: "IV_VER=2.6.14\nIV_PROTO=990\nIV_CIPHERS=AES-256-GCM:AES-128-GCM\n"}
	rand.Read(k.PreMaster[:])
	rand.Read(k.Random1[:])
	rand.Read(k.Random2[:])
	got, err := ParseKeyMethod2(k.AppendClient(nil), true)
	if err != nil || *got != *k {
		t.Fatalf("got %+v, %v", got, err)
	}
	if PeerInfo(got.PeerInfo).Proto() != 990 || PeerInfo(got.PeerInfo).Get("IV_CIPHERS") != "AES-256-GCM:AES-128-GCM" {
		t.Fatal("peer info")
	}
	s, err := ParseKeyMethod2(k.AppendServer(nil), false)
	if err != nil || s.Options != k.Options || s.Random1 != k.Random1 || s.Username != "" {
		t.Fatalf("server message: %+v %v", s, err)
	}
	// Truncations are errors, never panics; a message without the
	// trailing strings (old clients) parses.
	b := k.AppendClient(nil)
	for n := range len(b) {
		ParseKeyMethod2(b[:n], true)
	}
	if _, err := ParseKeyMethod2(b[:5+48+64+2+len(k.Options)+1], true); err != nil {
		t.Fatalf("options only: %v", err)
	}
}

func TestNegotiateCipher(t *testing.T) {
	for _, tc := range []struct {
		server []string
		pi     string
		opts   string
		want   string
	}{
		{nil, "IV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305", "", "AES-256-GCM"},
		{nil, "IV_CIPHERS=CHACHA20-POLY1305:AES-128-GCM", "", "AES-128-GCM"}, // the server's order wins
		{[]string{"CHACHA20-POLY1305"}, "IV_CIPHERS=AES-128-GCM:chacha20-poly1305", "", "CHACHA20-POLY1305"},
		{nil, "IV_VER=2.3", "V4,cipher AES-256-CBC,auth SHA1", "AES-256-CBC"},
		{nil, "", "", "AES-128-CBC"},
		{nil, "", "V4,cipher BF-CBC", "AES-128-CBC"},
	} {
		if got := negotiateCipher(tc.server, PeerInfo(tc.pi), tc.opts); got != tc.want {
			t.Errorf("%v %q %q: got %s want %s", tc.server, tc.pi, tc.opts, got, tc.want)
		}
	}
}

func TestPushReply(t *testing.T) {
	p := &PushOptions{IP: mustAddr("10.8.0.2"), Netmask: mustAddr("255.255.255.0"), Gateway: mustAddr("10.8.0.1"),
		DNS: []netipAddr{mustAddr("10.8.0.1")}, Routes: []netipPrefix{mustPrefix("192.168.10.0/23")}, Ping: 10, PingRestart: 60}
	got := BuildPushReply(p, "AES-256-GCM", 7, true)
	want := "PUSH_REPLY,topology subnet,ifconfig 10.8.0.2 255.255.255.0,route-gateway 10.8.0.1,route 192.168.10.0 255.255.254.0," +
		"dhcp-option DNS 10.8.0.1,ping 10,ping-restart 60,peer-id 7,cipher AES-256-GCM,key-derivation tls-ekm"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

// pair returns the server's data keys and the matching client's (the
// client encrypts with key 0 and decrypts with key 1: swap the halves).
func pair(t testing.TB, name, auth string, peer int, tcp bool) (srv, cli *DataKeys) {
	var km, ckm [KeyMaterialLen]byte
	rand.Read(km[:])
	copy(ckm[:128], km[128:])
	copy(ckm[128:], km[:128])
	srv, err := NewDataKeys(1, name, auth, &km, peer, tcp)
	if err != nil {
		t.Fatal(err)
	}
	cli, err = NewDataKeys(1, name, auth, &ckm, peer, tcp)
	if err != nil {
		t.Fatal(err)
	}
	return srv, cli
}

var testCiphers = []struct{ cipher, auth string }{
	{"AES-128-GCM", ""}, {"AES-256-GCM", ""}, {"CHACHA20-POLY1305", ""},
	{"AES-128-CBC", "SHA1"}, {"AES-256-CBC", "SHA256"}, {"AES-256-CBC", "SHA512"},
}

func TestDataRoundTrip(t *testing.T) {
	for _, c := range testCiphers {
		for _, peer := range []int{-1, 0x123456} {
			srv, cli := pair(t, c.cipher, c.auth, peer, false)
			for _, n := range []int{0, 1, 15, 16, 17, 1400} {
				msg := make([]byte, n)
				rand.Read(msg)
				pkt, err := cli.Seal(nil, msg)
				if err != nil {
					t.Fatal(err)
				}
				if op, kid := Opcode(pkt[0]); kid != 1 || (peer < 0) != (op == OpDataV1) {
					t.Fatalf("%s: header %x", c.cipher, pkt[:4])
				}
				if id, ok := PeerIDOf(pkt); peer >= 0 && (!ok || int(id) != peer) {
					t.Fatalf("peer id %x", id)
				}
				replay := append([]byte(nil), pkt...)
				tamper := append([]byte(nil), pkt...)
				tamper[len(tamper)-1] ^= 1
				got, err := srv.Open(pkt)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("%s/%s n=%d: %v", c.cipher, c.auth, n, err)
				}
				if _, err := srv.Open(replay); err != ErrReplay {
					t.Fatalf("%s: replay gave %v", c.cipher, err)
				}
				if _, err := srv.Open(tamper); err != ErrAuth && err != ErrReplay {
					t.Fatalf("%s: tampered gave %v", c.cipher, err)
				}
				// And back: the server's packets open at the client.
				back, _ := srv.Seal(nil, msg)
				if got, err := cli.Open(back); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("%s back: %v", c.cipher, err)
				}
			}
			// A tampered packet with a fresh id fails authentication.
			pkt, _ := cli.Seal(nil, []byte("hello"))
			pkt[len(pkt)-1] ^= 0x80
			if _, err := srv.Open(pkt); err != ErrAuth {
				t.Fatalf("%s: tampered fresh packet gave %v", c.cipher, err)
			}
		}
	}
}

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	accept := func(id uint32) bool {
		if !w.check(id) {
			return false
		}
		w.update(id)
		return true
	}
	for _, step := range []struct {
		id   uint32
		want bool
	}{{0, false}, {1, true}, {1, false}, {5, true}, {3, true}, {3, false}, {2, true}, {100, true}, {37, true}, {36, false}, {99, true}, {99, false}, {200, true}, {100, false}} {
		if got := accept(step.id); got != step.want {
			t.Fatalf("id %d: got %v want %v", step.id, got, step.want)
		}
	}
	tcp := replayWindow{tcp: true}
	w = tcp
	for _, step := range []struct {
		id   uint32
		want bool
	}{{1, true}, {3, true}, {2, false}, {3, false}, {4, true}} {
		if got := accept(step.id); got != step.want {
			t.Fatalf("tcp id %d: got %v want %v", step.id, got, step.want)
		}
	}
}

func TestDataNoAllocs(t *testing.T) {
	for _, c := range testCiphers {
		srv, cli := pair(t, c.cipher, c.auth, 5, false)
		msg := make([]byte, 1400)
		buf := make([]byte, 0, 2048)
		wire := make([]byte, 2048)
		allocs := testing.AllocsPerRun(100, func() {
			pkt, _ := cli.Seal(buf[:0], msg)
			n := copy(wire, pkt)
			if _, err := srv.Open(wire[:n]); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s/%s: %.1f allocations per Seal+Open", c.cipher, c.auth, allocs)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	for _, c := range testCiphers {
		b.Run(c.cipher+c.auth, func(b *testing.B) {
			_, cli := pair(b, c.cipher, c.auth, 5, false)
			msg := make([]byte, 1400)
			buf := make([]byte, 0, 2048)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				cli.Seal(buf[:0], msg)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, c := range testCiphers {
		b.Run(c.cipher+c.auth, func(b *testing.B) {
			srv, cli := pair(b, c.cipher, c.auth, 5, false)
			msg := make([]byte, 1400)
			// Pre-seal packets so that each Open sees a fresh packet id.
			const n = 4096
			pkts := make([][]byte, n)
			for i := range pkts {
				pkts[i], _ = cli.Seal(nil, msg)
			}
			work := make([]byte, 2048)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == n {
					// Refill: the replay window would refuse old ids.
					b.StopTimer()
					for j := range pkts {
						pkts[j], _ = cli.Seal(pkts[j][:0], msg)
					}
					i = 0
					b.StartTimer()
				}
				k := copy(work, pkts[i])
				if _, err := srv.Open(work[:k]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func FuzzParseKeyMethod2(f *testing.F) {
	k := &KeyMethod2{Options: "V4,dev-type tun", Username: "u", Password: "p", PeerInfo: "IV_VER=2.6"}
	f.Add(k.AppendClient(nil))
	f.Add(k.AppendServer(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := ParseKeyMethod2(b, true); err == nil {
			if len(k.Options) > maxOptions || len(k.PeerInfo) > maxPeerInfo {
				t.Fatal("limit ignored")
			}
			PeerInfo(k.PeerInfo).Proto()
		}
		ParseKeyMethod2(b, false)
	})
}

// FuzzDataOpen feeds arbitrary packets to each cipher's Open: errors, never
// panics, and nothing forged opens.
func FuzzDataOpen(f *testing.F) {
	keys := make([]*DataKeys, 0, len(testCiphers))
	seeds := map[string]bool{}
	for _, c := range testCiphers {
		srv, cli := pair(f, c.cipher, c.auth, 3, false)
		keys = append(keys, srv)
		p, _ := cli.Seal(nil, []byte("seed packet"))
		seeds[string(p)] = true
		f.Add(p)
	}
	f.Add([]byte{OpDataV1 << 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range keys {
			w := append([]byte(nil), b...)
			if _, err := k.Open(w); err == nil && !seeds[string(b)] {
				t.Fatalf("%s opened a forged packet %x", k.Cipher, b)
			}
		}
	})
}

type (
	netipAddr   = netip.Addr
	netipPrefix = netip.Prefix
)

func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
