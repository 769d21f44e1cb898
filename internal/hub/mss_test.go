package hub

import (
	"encoding/binary"
	"testing"
)

// synOpts builds a TCP header with flags and options (padded to 4 bytes).
func synOpts(flags byte, opts ...byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	b := tcp(40000, 443, flags)
	b[12] = byte((20+len(opts))/4) << 4
	return append(b, opts...)
}

func mssOpt(v uint16) []byte { return []byte{2, 4, byte(v >> 8), byte(v)} }

// withChecksum fills in the TCP checksum of an untagged or tagged IPv4/IPv6
// frame and returns it.
func withChecksum(f []byte) []byte {
	ip, tcpOff, _ := l4Of(f)
	binary.BigEndian.PutUint16(f[tcpOff+16:], 0)
	binary.BigEndian.PutUint16(f[tcpOff+16:], ^tcpSum(f, ip, tcpOff))
	return f
}

// l4Of finds the IP header, TCP header and frame end of a TCP frame.
func l4Of(f []byte) (ip, tcpOff, end int) {
	ip = 14
	if binary.BigEndian.Uint16(f[12:]) == etherVLAN {
		ip = 18
	}
	if f[ip]>>4 == 4 {
		return ip, ip + int(f[ip]&0xf)*4, ip + int(binary.BigEndian.Uint16(f[ip+2:]))
	}
	return ip, ip + 40, ip + 40 + int(binary.BigEndian.Uint16(f[ip+4:]))
}

// tcpSum is the one's-complement sum of the pseudo-header and segment.
func tcpSum(f []byte, ip, tcpOff int) uint16 {
	_, _, end := l4Of(f)
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	if f[ip]>>4 == 4 {
		add(f[ip+12 : ip+20])
	} else {
		add(f[ip+8 : ip+40])
	}
	sum += protoTCP + uint32(end-tcpOff)
	add(f[tcpOff:end])
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

func checksumOK(f []byte) bool {
	ip, tcpOff, _ := l4Of(f)
	return tcpSum(f, ip, tcpOff) == 0xffff
}

// mssOf returns the MSS option's value, 0 if there is none.
func mssOf(t *testing.T, f []byte) uint16 {
	t.Helper()
	_, tcpOff, _ := l4Of(f)
	for o := tcpOff + 20; o < tcpOff+int(f[tcpOff+12]>>4)*4; {
		switch f[o] {
		case 0:
			return 0
		case 1:
			o++
			continue
		case 2:
			return binary.BigEndian.Uint16(f[o+2:])
		}
		o += int(f[o+1])
	}
	return 0
}

func syn4(l4 []byte) []byte {
	return withChecksum(eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, l4)))
}

func TestClampMSS(t *testing.T) {
	tagged := func(f []byte) []byte { return withChecksum(insertVLAN(make([]byte, len(f)+4), f, etherVLAN, 7)) }
	syn6 := withChecksum(eth(mac(2), mac(1), etherIPv6, ipv6("fe80::1", "fe80::2", protoTCP, synOpts(tcpSYN, mssOpt(1440)...))))
	frag := syn4(synOpts(tcpSYN, mssOpt(1460)...))
	frag[14+6] = 0x20 // more fragments
	tests := []struct {
		name   string
		frame  []byte
		target int
		want   uint16 // 0: unchanged
	}{
		{"SYN lowered", syn4(synOpts(tcpSYN, mssOpt(1460)...)), 1400, 1400},
		{"SYN+ACK lowered", syn4(synOpts(tcpSYN|tcpACK, mssOpt(1460)...)), 1400, 1400},
		{"smaller MSS kept", syn4(synOpts(tcpSYN, mssOpt(1300)...)), 1400, 0},
		{"equal MSS kept", syn4(synOpts(tcpSYN, mssOpt(1400)...)), 1400, 0},
		{"floor of 64", syn4(synOpts(tcpSYN, mssOpt(1460)...)), 10, 64},
		{"MSS not first [GO]", syn4(synOpts(tcpSYN, append([]byte{1, 3, 3, 7}, mssOpt(1460)...)...)), 1400, 1400},
		{"MSS at odd offset", syn4(synOpts(tcpSYN, append([]byte{1}, mssOpt(1460)...)...)), 1000, 1000},
		{"tagged: target - 4", tagged(syn4(synOpts(tcpSYN, mssOpt(1460)...))), 1400, 1396},
		{"IPv6: target - 20", syn6, 1400, 1380},
		{"ACK left alone", syn4(synOpts(tcpACK, mssOpt(1460)...)), 1400, 0},
		{"SYN+RST left alone", syn4(synOpts(tcpSYN|tcpRST, mssOpt(1460)...)), 1400, 0},
		{"no MSS option", syn4(synOpts(tcpSYN, 1, 1, 1, 1)), 1400, 0},
		{"fragment left alone", withChecksum(frag), 1400, 0},
		{"target 0 is off", syn4(synOpts(tcpSYN, mssOpt(1460)...)), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := append([]byte(nil), tc.frame...)
			before := mssOf(t, f)
			changed := clampMSS(f, tc.target)
			if changed != (tc.want != 0) {
				t.Fatalf("clampMSS changed = %v, want %v", changed, tc.want != 0)
			}
			want := tc.want
			if want == 0 {
				want = before
			}
			if got := mssOf(t, f); got != want {
				t.Errorf("MSS = %d, want %d", got, want)
			}
			if !checksumOK(f) {
				t.Error("TCP checksum invalid after clamping")
			}
		})
	}
}

// TestMSSThroughHub: the hub option clamps SYNs entering the hub, a port's
// negotiated MSS clamps both ways, and the sender's buffer is not touched.
func TestMSSThroughHub(t *testing.T) {
	h, _ := testHub(t, func(o *Options) { o.AdjustTCPMSS = 1400 })
	a := attach(t, h, "A", Policy{})
	b, err := h.Attach(PortConfig{Name: "B", User: "b", AdjustMSS: 1300})
	if err != nil {
		t.Fatal(err)
	}
	send(b, raw(bcast, mac(2)))
	drain(a)
	in := syn4(synOpts(tcpSYN, mssOpt(1460)...))
	orig := append([]byte(nil), in...)
	send(a, in)
	got := drain(b)
	if len(got) != 1 || mssOf(t, got[0]) != 1300 || !checksumOK(got[0]) {
		t.Fatalf("B got %d frames, want one SYN with MSS 1300 and a valid checksum", len(got))
	}
	if string(in) != string(orig) {
		t.Error("Input changed the caller's frame")
	}
	send(b, withChecksum(eth(mac(1), mac(2), etherIPv4, ipv4("10.0.0.2", "10.0.0.1", protoTCP, 0, synOpts(tcpSYN|tcpACK, mssOpt(1460)...)))))
	got = drain(a)
	if len(got) != 1 || mssOf(t, got[0]) != 1300 || !checksumOK(got[0]) {
		t.Fatalf("A got %d frames, want one SYN+ACK with MSS 1300", len(got))
	}

	off, _ := testHub(t, func(o *Options) { o.AdjustTCPMSS, o.DisableAdjustTCPMSS = 1400, true })
	a2 := attach(t, off, "A", Policy{})
	b2 := attach(t, off, "B", Policy{})
	send(b2, raw(bcast, mac(2)))
	send(a2, in)
	if got := drain(b2); len(got) != 1 || mssOf(t, got[0]) != 1460 {
		t.Error("DisableAdjustTcpMss must turn clamping off")
	}
}

func FuzzClampMSS(f *testing.F) {
	f.Add(syn4(synOpts(tcpSYN, mssOpt(1460)...)), uint16(1400))
	f.Add(withChecksum(eth(mac(2), mac(1), etherIPv6, ipv6("fe80::1", "fe80::2", protoTCP, synOpts(tcpSYN, append([]byte{1}, mssOpt(9000)...)...)))), uint16(1280))
	f.Fuzz(func(t *testing.T, b []byte, target uint16) {
		valid := len(b) >= 14 && func() bool { off, _, _ := mssOption(b, int(target)); return off >= 0 }()
		if valid && checksumOK(b) {
			clampMSS(b, int(target))
			if !checksumOK(b) {
				t.Fatal("a valid checksum became invalid")
			}
			return
		}
		clampMSS(b, int(target))
	})
}
