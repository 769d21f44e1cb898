package hub

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// httpSegment is an IPv4 TCP segment carrying an HTTP request.
func httpSegment(dst, src [6]byte, flags byte) []byte {
	seg := tcp(40000, 80, flags)
	binary.BigEndian.PutUint32(seg[4:], 1000) // seq
	binary.BigEndian.PutUint32(seg[8:], 5000) // ack
	seg = append(seg, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"...)
	return withChecksum(eth(dst, src, etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, seg)))
}

func TestRedirect(t *testing.T) {
	h, clk := testHub(t, nil)
	phys := netip.MustParseAddr("192.0.2.9")
	a, err := h.Attach(PortConfig{Name: "SID-ALICE-1", User: "alice", Kind: KindClient, Physical: phys})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := attach(t, h, "B", Policy{})
	nat := attachKind(t, h, "SID-SECURENAT-1", KindSecureNAT, Policy{})
	send(b, raw(bcast, mac(2)))
	drain(a)
	drain(nat)
	h.SetAccessList([]AccessRule{{Active: true, Protocol: protoTCP, DstPortStart: 80,
		RedirectURL: " http://portal.example/login?i=<INFO>|s3cret "}})

	// The handshake passes: the rule is a pass rule.
	send(a, withChecksum(eth(mac(2), mac(1), etherIPv4, ipv4("10.0.0.1", "10.0.0.2", protoTCP, 0, tcp(40000, 80, tcpSYN)))))
	expectFrames(t, map[*Port]int{b: 1, a: 0})

	// The request is answered by the hub and goes nowhere.
	req := httpSegment(mac(2), mac(1), tcpACK|0x08)
	send(a, req)
	expectFrames(t, map[*Port]int{b: 0})
	got := drain(a)
	if len(got) != 1 {
		t.Fatalf("%d frames back to the sender, want the redirect", len(got))
	}
	r := got[0]
	if !checksumOK(r) {
		t.Error("bad TCP checksum")
	}
	ip := r[14:34]
	if binary.BigEndian.Uint16(ip[6:])&0x4000 == 0 || ip[8] != 128 || netip.AddrFrom4([4]byte(ip[12:16])).String() != "10.0.0.2" ||
		netip.AddrFrom4([4]byte(ip[16:20])).String() != "10.0.0.1" {
		t.Errorf("IP header %x", ip)
	}
	if v := ^foldIP(ip); v != 0 {
		t.Errorf("bad IPv4 header checksum")
	}
	seg := r[34:]
	payloadLen := uint32(len("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if binary.BigEndian.Uint16(seg[0:]) != 80 || binary.BigEndian.Uint16(seg[2:]) != 40000 ||
		binary.BigEndian.Uint32(seg[4:]) != 5000 || binary.BigEndian.Uint32(seg[8:]) != 1000+payloadLen || seg[13] != tcpACK|0x08 {
		t.Errorf("TCP header %x", seg[:20])
	}
	if [6]byte(r[0:6]) != mac(1) || [6]byte(r[6:12]) != mac(2) {
		t.Errorf("Ethernet %x", r[:12])
	}
	info := "alice|SID-ALICE-1|192.0.2.9|" + clk.Now().UTC().Format("20060102150405") + "|"
	sum := sha1.Sum([]byte(info + "s3cret"))
	url := "http://portal.example/login?i=" + info + strings.ToUpper(hex.EncodeToString(sum[:]))
	http := string(seg[20:])
	head, body, _ := strings.Cut(http, "\r\n\r\n")
	if !strings.HasPrefix(http, "HTTP/1.1 302 Found\r\nLocation: "+url+"\r\n") ||
		!strings.Contains(head, "Content-Length: "+strconv.Itoa(len(body))) || !strings.Contains(body, `<a href="`+url+`">`) {
		t.Errorf("response:\n%s", http)
	}

	// An internal session's request is dropped without an answer.
	send(nat, httpSegment(mac(2), mac(9), tcpACK))
	expectFrames(t, map[*Port]int{b: 0, nat: 0})

	// Without <INFO> or a secret the URL is used as it is.
	p := &Port{name: "S", user: "u"}
	for in, want := range map[string]string{
		"http://x/":        "http://x/",
		"http://x/<INFO>":  "http://x/<INFO>",
		"http://x/a|b":     "http://x/a|b",
		"http://x/<INFO>|": "http://x/<INFO>",
	} {
		if got := expandInfo(in, p, clk.Now()); got != want {
			t.Errorf("expandInfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func foldIP(h []byte) uint16 {
	var s uint32
	for i := 0; i < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
