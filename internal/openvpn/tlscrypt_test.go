package openvpn

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

func testStaticKey() (*StaticKey, *StaticKey) {
	var k, client StaticKey
	rand.Read(k[:])
	// The client's view: keys swapped (KEY_DIRECTION_INVERSE).
	copy(client[:128], k[128:])
	copy(client[128:], k[:128])
	return &k, &client
}

func TestTLSCryptWrapUnwrap(t *testing.T) {
	k, ck := testStaticKey()
	srv, cli := newTLSCrypt(k), newTLSCrypt(ck)
	plain := AppendControl(nil, &Control{Opcode: OpHardResetClientV2, SessionID: 7, PacketID: 0, Payload: []byte("x")})
	w := append([]byte(nil), cli.wrap(plain)...)
	if len(w) != len(plain)+tlsCryptOverhead {
		t.Fatalf("wrapped length %d", len(w))
	}
	if !CheckTLSCrypt(k, w) {
		t.Fatal("CheckTLSCrypt refuses a good packet")
	}
	got, err := srv.unwrap(nil, w)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("unwrap: %x %v", got, err)
	}
	if _, err := srv.unwrap(nil, w); err != ErrTLSCrypt {
		t.Fatalf("replay: %v", err)
	}
	w2 := append([]byte(nil), cli.wrap(plain)...)
	w2[len(w2)-1] ^= 1
	if _, err := srv.unwrap(nil, w2); err != ErrTLSCrypt {
		t.Fatalf("tampered: %v", err)
	}
	other, _ := testStaticKey()
	if CheckTLSCrypt(other, w) {
		t.Fatal("CheckTLSCrypt takes a packet made with another key")
	}
	// And the server's packets open at the client.
	back := append([]byte(nil), srv.wrap(plain)...)
	if got, err := cli.unwrap(nil, back); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("back: %v", err)
	}
}

func TestParseStaticKey(t *testing.T) {
	k, _ := testStaticKey()
	var b strings.Builder
	b.WriteString("#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n")
	for i := 0; i < 256; i += 16 {
		b.WriteString(hex.EncodeToString(k[i:i+16]) + "\n")
	}
	b.WriteString("-----END OpenVPN Static key V1-----\n")
	got, err := ParseStaticKey(b.String())
	if err != nil || *got != *k {
		t.Fatalf("%v", err)
	}
	if _, err := ParseStaticKey(strings.Replace(b.String(), "-----END", "00\n-----END", 1)); err == nil {
		t.Fatal("took 257 bytes")
	}
}

func FuzzTLSCryptUnwrap(f *testing.F) {
	k, ck := testStaticKey()
	plain := AppendControl(nil, &Control{Opcode: OpHardResetClientV2, SessionID: 7})
	f.Add(append([]byte(nil), newTLSCrypt(ck).wrap(plain)...))
	f.Add(make([]byte, 49))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := newTLSCrypt(k).unwrap(nil, b); err == nil && len(b) < 9+tlsCryptOverhead {
			t.Fatal("short packet unwrapped")
		}
	})
}
