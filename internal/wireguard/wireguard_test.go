package wireguard

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/blake2s"
	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/conn/bindtest"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/tuntest"
)

func newKey(t testing.TB) Key {
	var k Key
	rand.Read(k[:])
	// Clamped as wg(8) does, so that the library keeps it as it is.
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return k
}

// initiation has the WireGuard library (as a client with key client)
// make a handshake initiation to server, and returns it as sent.
func initiation(t testing.TB, client, server Key) []byte {
	t.Helper()
	binds := bindtest.NewChannelBinds()
	ct := tuntest.NewChannelTUN()
	dev := device.NewDevice(ct.TUN(), binds[0], device.NewLogger(device.LogLevelSilent, ""))
	defer dev.Close()
	pub := server.PublicKey()
	cfg := fmt.Sprintf("private_key=%s\npublic_key=%s\nendpoint=127.0.0.1:1\nallowed_ip=0.0.0.0/0\n",
		hex.EncodeToString(client[:]), hex.EncodeToString(pub[:]))
	if err := dev.IpcSet(cfg); err != nil {
		t.Fatal(err)
	}
	if err := dev.Up(); err != nil {
		t.Fatal(err)
	}
	fns, _, err := binds[1].Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer binds[1].Close()
	got := make(chan []byte, 1)
	go func() {
		bufs, sizes, eps := [][]byte{make([]byte, 2048)}, make([]int, 1), make([]conn.Endpoint, 1)
		if n, err := fns[0](bufs, sizes, eps); err == nil && n == 1 {
			got <- bufs[0][:sizes[0]]
		}
	}()
	dev.LookupPeer(device.NoisePublicKey(pub)).SendHandshakeInitiation(false)
	select {
	case m := <-got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("the library sent no initiation")
		return nil
	}
}

// The responder learns the initiator's static key from the library's
// initiation; a wrong server key fails MAC1; a damaged static key with a
// good MAC1 fails to decrypt; the indices are read at their places.
func TestInitiator(t *testing.T) {
	server, client := newKey(t), newKey(t)
	msg := initiation(t, client, server)
	if Type(msg) != TypeInitiation {
		t.Fatalf("type %d of a %d-byte initiation", Type(msg), len(msg))
	}
	r := NewResponder(server)
	got, err := r.Initiator(msg)
	if err != nil || got != client.PublicKey() {
		t.Fatalf("Initiator: %v, %v; want the client's public key %v", got, err, client.PublicKey())
	}
	if _, err := NewResponder(newKey(t)).Initiator(msg); !errors.Is(err, ErrBadMAC1) {
		t.Fatalf("another server's key: %v, want ErrBadMAC1", err)
	}
	bad := append([]byte(nil), msg...)
	bad[50] ^= 1 // inside the encrypted static key
	mac, _ := blake2s.New128(r.mac1Key[:])
	mac.Write(bad[:116])
	copy(bad[116:132], mac.Sum(nil))
	if _, err := r.Initiator(bad); !errors.Is(err, ErrBadStatic) {
		t.Fatalf("a damaged static key: %v, want ErrBadStatic", err)
	}
	if idx, ok := SenderIndex(msg); !ok || idx == 0 && msg[4]|msg[5]|msg[6]|msg[7] != 0 {
		t.Fatalf("SenderIndex %d %v", idx, ok)
	}
	if _, ok := ReceiverIndex(msg); ok {
		t.Fatal("an initiation has no receiver index")
	}
}

func TestType(t *testing.T) {
	transport := make([]byte, 48)
	transport[0] = TypeTransport
	transport[4] = 7
	for _, c := range []struct {
		pkt  []byte
		want int
	}{
		{nil, 0},
		{[]byte{1, 0, 0}, 0},
		{make([]byte, InitiationSize), 0}, // type 0
		{append([]byte{1, 0, 0, 0}, make([]byte, InitiationSize-4)...), TypeInitiation},
		{append([]byte{1, 0, 0, 0}, make([]byte, InitiationSize-3)...), 0}, // one byte long
		{append([]byte{1, 0, 1, 0}, make([]byte, InitiationSize-4)...), 0}, // reserved byte set
		{append([]byte{2, 0, 0, 0}, make([]byte, ResponseSize-4)...), TypeResponse},
		{append([]byte{3, 0, 0, 0}, make([]byte, CookieReplySize-4)...), TypeCookieReply},
		{append([]byte{4, 0, 0, 0}, make([]byte, MinTransportSize-5)...), 0},
		{transport, TypeTransport},
		{[]byte{0x38, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0}, // OpenVPN's hard reset
	} {
		if got := Type(c.pkt); got != c.want {
			t.Errorf("Type(% x...) = %d, want %d", c.pkt[:min(len(c.pkt), 4)], got, c.want)
		}
	}
	if idx, ok := ReceiverIndex(transport); !ok || idx != 7 {
		t.Fatalf("ReceiverIndex = %d %v, want 7", idx, ok)
	}
}

// FuzzParse: no datagram makes the parsers panic, and what Type refuses
// has no index and no initiator.
func FuzzParse(f *testing.F) {
	server := newKey(f)
	r := NewResponder(server)
	f.Add(initiation(f, newKey(f), server))
	f.Add(append([]byte{2, 0, 0, 0}, make([]byte, ResponseSize-4)...))
	f.Add(append([]byte{4, 0, 0, 0}, make([]byte, 60)...))
	f.Add([]byte{0x38, 1, 2, 3})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		typ := Type(pkt)
		_, rok := ReceiverIndex(pkt)
		_, sok := SenderIndex(pkt)
		_, err := r.Initiator(pkt)
		if typ == 0 && (rok || sok || err == nil) {
			t.Fatalf("a refused datagram has an index or an initiator")
		}
		if typ != TypeInitiation && err == nil {
			t.Fatal("Initiator accepted a non-initiation")
		}
	})
}
