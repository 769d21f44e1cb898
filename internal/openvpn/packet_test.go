package openvpn

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

func TestControlRoundTrip(t *testing.T) {
	for _, c := range []Control{
		{Opcode: OpHardResetClientV2, SessionID: 0x0102030405060708},
		{Opcode: OpHardResetServerV2, KeyID: 0, SessionID: 9, Acks: []uint32{0}, RemoteSessionID: 0x1122334455667788, PacketID: 0},
		{Opcode: OpControlV1, KeyID: 3, SessionID: 1, Acks: []uint32{1, 2, 3, 4}, RemoteSessionID: 2, PacketID: 7, Payload: []byte("tls bytes")},
		{Opcode: OpAckV1, KeyID: 1, SessionID: 1, Acks: []uint32{5}, RemoteSessionID: 2},
	} {
		b := AppendControl(nil, &c)
		var got Control
		if err := ParseControl(b, &got); err != nil {
			t.Fatalf("%x: %v", b, err)
		}
		got.Acks = append([]uint32(nil), got.Acks...)
		if len(got.Acks) == 0 {
			got.Acks = nil
		}
		if len(got.Payload) == 0 {
			got.Payload = nil
		}
		got.ackBuf = [MaxAcks]uint32{}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip: got %+v want %+v", got, c)
		}
	}
}

// TestParseRealHardReset parses the first packet an OpenVPN 2.6 client
// sends without tls-auth: opcode 7 key 0, session id, no acks, packet id 0,
// and an early-negotiation TLV (EARLY_NEG_FLAGS) as payload.
func TestParseRealHardReset(t *testing.T) {
	b, _ := hex.DecodeString("38a1b2c3d4e5f6071800" + "00000000" + "000100020001")
	var c Control
	if err := ParseControl(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Opcode != OpHardResetClientV2 || c.KeyID != 0 || c.SessionID != 0xa1b2c3d4e5f60718 || c.PacketID != 0 || len(c.Acks) != 0 || len(c.Payload) != 6 {
		t.Fatalf("parsed %+v", c)
	}
	if !LooksLikeTCP(AppendFrame(nil, b)) {
		t.Fatal("LooksLikeTCP refuses a framed hard reset")
	}
	if LooksLikeTCP([]byte{0x16, 0x03, 0x01}) {
		t.Fatal("LooksLikeTCP takes a TLS ClientHello")
	}
}

func TestParseControlErrors(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want error
	}{
		{"", ErrShort},
		{"38", ErrShort},
		{"30" + "0000000000000000" + "00", ErrNotCtl},             // P_DATA_V1
		{"20" + "0000000000000000" + "09", ErrTooMany},            // 9 acks
		{"20" + "0000000000000000" + "01" + "00000001", ErrShort}, // no remote session id
		{"20" + "0000000000000000" + "00" + "000000", ErrShort},   // short packet id
		{"20" + "0000000000000000" + "02" + "0000000100000002" + "", ErrShort},
	} {
		b, _ := hex.DecodeString(tc.hex)
		var c Control
		if err := ParseControl(b, &c); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v want %v", tc.hex, err, tc.want)
		}
	}
}

func TestParseData(t *testing.T) {
	var d Data
	if err := ParseData([]byte{OpDataV2<<3 | 1, 0, 1, 2, 9, 9}, &d); err != nil || d.PeerID != 0x102 || d.KeyID != 1 || len(d.Header) != 4 || len(d.Payload) != 2 {
		t.Fatalf("%+v %v", d, err)
	}
	if err := ParseData([]byte{OpDataV2 << 3, 0}, &d); err != ErrShort {
		t.Fatal(err)
	}
	if id, ok := PeerIDOf([]byte{OpDataV2 << 3, 0xab, 0xcd, 0xef}); !ok || id != 0xabcdef {
		t.Fatal(id, ok)
	}
}

func TestFrameReader(t *testing.T) {
	var s []byte
	s = AppendFrame(s, []byte("one"))
	s = AppendFrame(s, []byte("second"))
	s = append(s, 0, 5, 'x')
	f := NewFrameReader(bytes.NewReader(s))
	for _, want := range []string{"one", "second"} {
		p, err := f.Next()
		if err != nil || string(p) != want {
			t.Fatalf("got %q %v want %q", p, err, want)
		}
	}
	if _, err := f.Next(); err == nil {
		t.Fatal("truncated frame accepted")
	}
	if _, err := NewFrameReader(bytes.NewReader([]byte{0xff, 0xff})).Next(); err != ErrBadLength {
		t.Fatal(err)
	}
}

func FuzzParseControl(f *testing.F) {
	f.Add([]byte{0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0})
	f.Add(AppendControl(nil, &Control{Opcode: OpControlV1, SessionID: 1, Acks: []uint32{1, 2}, RemoteSessionID: 3, PacketID: 4, Payload: []byte("x")}))
	f.Add(AppendControl(nil, &Control{Opcode: OpAckV1, SessionID: 1, Acks: []uint32{1}, RemoteSessionID: 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Control
		if err := ParseControl(b, &c); err != nil {
			return
		}
		// What parses re-encodes to the same bytes (P_ACK_V1 ignores a tail).
		if out := AppendControl(nil, &c); !bytes.HasPrefix(b, out) || (c.Opcode != OpAckV1 && len(out) != len(b)) {
			t.Fatalf("re-encoded %x from %x", out, b)
		}
		var d Data
		_ = ParseData(b, &d)
	})
}

func FuzzFrameReader(f *testing.F) {
	f.Add(AppendFrame(AppendFrame(nil, []byte("ab")), []byte{0x38, 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := NewFrameReader(bytes.NewReader(b))
		for range 100 {
			p, err := fr.Next()
			if err != nil {
				return
			}
			if len(p) == 0 || len(p) > MaxPacket {
				t.Fatalf("frame of %d bytes", len(p))
			}
		}
	})
}
