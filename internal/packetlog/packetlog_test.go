package packetlog

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/logfile"
)

var svc = ParseServices("# test\nhttp\t80/tcp\twww # web\nhttp 80/udp\ndomain 53/tcp\ndomain 53/udp\nbootps 67/udp\nbootpc 68/udp\nbad line\n")

func eth(dst, src string, et uint16, payload []byte) []byte {
	b := make([]byte, 14, 14+len(payload))
	d, _ := hexMAC(dst)
	s, _ := hexMAC(src)
	copy(b[0:6], d)
	copy(b[6:12], s)
	binary.BigEndian.PutUint16(b[12:], et)
	return append(b, payload...)
}

func hexMAC(s string) ([]byte, error) { return hex.DecodeString(s) }

func ipv4(src, dst string, proto byte, l4 []byte) []byte {
	b := make([]byte, 20, 20+len(l4))
	b[0], b[8], b[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(l4)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	return append(b, l4...)
}

func tcpSeg(sport, dport uint16, seq, ack uint32, flags byte, win uint16) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[8:], ack)
	b[12], b[13] = 5<<4, flags
	binary.BigEndian.PutUint16(b[14:], win)
	return b
}

func udpDgram(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	return append(b, payload...)
}

func dnsQuery(name string) []byte {
	m := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(name, ".") {
		m = append(m, byte(len(l)))
		m = append(m, l...)
	}
	return append(m, 0, 0, 1, 0, 1)
}

func TestFormat(t *testing.T) {
	arp := make([]byte, 28)
	binary.BigEndian.PutUint16(arp[0:], 1)
	binary.BigEndian.PutUint16(arp[2:], 0x0800)
	arp[4], arp[5] = 6, 4
	binary.BigEndian.PutUint16(arp[6:], 1)
	copy(arp[8:14], []byte{0x5e, 0, 0, 0, 0, 1})
	copy(arp[14:18], []byte{10, 0, 0, 1})
	copy(arp[24:28], []byte{10, 0, 0, 2})

	dhcp := make([]byte, 240)
	dhcp[0] = 1
	binary.BigEndian.PutUint32(dhcp[4:], 77)

	phys := netip.MustParseAddr("192.0.2.7")
	cases := []struct {
		name string
		r    hub.PacketRecord
		want string
	}{
		{"tcp syn", hub.PacketRecord{SrcSession: "SID-A-1", DstSession: "SID-B-2", SrcPhysical: phys, Level: hub.PacketLogHeader,
			Frame: eth("5E0000000002", "5E0000000001", 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcpSeg(40000, 80, 1000, 0, 0x02, 64240)))},
			"SID-A-1,SID-B-2,5E0000000001,5E0000000002,0x0800,-,TCP_CONNECTv4,SYN,10.0.0.1,40000,10.0.0.2,http(80),1000,0,WindowSize=64240,-,192.0.2.7,-"},
		{"tcp data", hub.PacketRecord{SrcSession: "SID-A-1", DstSession: "SID-B-2", Level: hub.PacketLogHeader,
			Frame: eth("5E0000000002", "5E0000000001", 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcpSeg(40000, 80, 5, 6, 0x18, 501)))},
			"SID-A-1,SID-B-2,5E0000000001,5E0000000002,0x0800,-,TCP_DATAv4,PSH+ACK,10.0.0.1,40000,10.0.0.2,http(80),5,6,WindowSize=501,-,-,-"},
		{"arp flood", hub.PacketRecord{SrcSession: "SID-A-1", Level: hub.PacketLogHeader,
			Frame: eth("FFFFFFFFFFFF", "5E0000000001", 0x0806, arp)},
			"SID-A-1,-,5E0000000001,FFFFFFFFFFFF,0x0806,-,ARPv4,Request,-,-,-,-,-,-,Who has 10.0.0.2? Please Tell 5E0000000001(10.0.0.1),-,-,-"},
		{"dhcp", hub.PacketRecord{SrcSession: "SID-A-1", Level: hub.PacketLogHeader,
			Frame: eth("FFFFFFFFFFFF", "5E0000000001", 0x0800, ipv4("0.0.0.0", "255.255.255.255", 17, udpDgram(68, 67, dhcp)))},
			"SID-A-1,-,5E0000000001,FFFFFFFFFFFF,0x0800,-,DHCPv4,Request,0.0.0.0,bootpc(68),255.255.255.255,bootps(67),-,-,TransactionId=77 ClientIP=0.0.0.0 YourIP=0.0.0.0 ServerIP=0.0.0.0 RelayIP=0.0.0.0,-,-,-"},
		{"dns, a comma in the name", hub.PacketRecord{SrcSession: "SID-A-1", DstSession: "SID-SECURENAT-1", Level: hub.PacketLogHeader,
			Frame: eth("5E0000000002", "5E0000000001", 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udpDgram(5000, 53, dnsQuery("a,b.example.org"))))},
			"SID-A-1,SID-SECURENAT-1,5E0000000001,5E0000000002,0x0800,-,DNSv4,DNS_Query,10.0.0.1,5000,10.0.0.2,domain(53),-,-,a_b.example.org,-,-,-"},
		{"http request", hub.PacketRecord{SrcSession: "S", DstSession: "D", Level: hub.PacketLogHeader,
			Frame: eth("5E0000000002", "5E0000000001", 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6,
				append(tcpSeg(40000, 8080, 7, 8, 0x18, 100), "get /a,b HTTP/1.1\r\nHost: x.org\r\nUser-Agent: curl/8 (x, y)\r\nReferer: http://r.org/a b\r\n\r\n"...)))},
			"S,D,5E0000000001,5E0000000002,0x0800,-,TCP_DATAv4,PSH+ACK,10.0.0.1,40000,10.0.0.2,8080,7,8," +
				"WindowSize=100 HttpMethod=GET HttpUrl=http://x.org:8080/a.b HttpProtocol=HTTP/1.1 HttpReferer=http://r.org/a b HttpUserAgent=curl/8_(x._y) ,-,-,-"},
		{"other ethertype, all", hub.PacketRecord{SrcSession: "S", DstSession: "D", Level: hub.PacketLogAll,
			Frame: eth("5E0000000002", "5E0000000001", 0x88B5, []byte{0xab})},
			"S,D,5E0000000001,5E0000000002,0x88B5,-,Proto=0x88B5,-,-,-,-,-,-,-,-,5E00000000025E000000000188B5AB,-,-"},
	}
	for _, c := range cases {
		// The wanted lines leave the length (the sixth field) as "-".
		c.r.Length = len(c.r.Frame)
		f := strings.Split(c.want, ",")
		f[5] = strconv.Itoa(len(c.r.Frame))
		want := strings.Join(f, ",")
		if got := Format(&c.r, svc); got != want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}

func TestDNSQueryHost(t *testing.T) {
	if h, ok := dnsQueryHost(dnsQuery("www.example.com")); !ok || h != "www.example.com" {
		t.Errorf("got %q %v", h, ok)
	}
	resp := dnsQuery("x.org")
	resp[2] |= 0x80
	for _, bad := range [][]byte{nil, resp, dnsQuery("x.org")[:14], {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12}} {
		if h, ok := dnsQueryHost(bad); ok {
			t.Errorf("%x read as a query for %q", bad, h)
		}
	}
}

func TestWriter(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir, svc, 16, nil)
	sink := w.Sink("HUB1", logfile.SwitchDay)
	when := time.Date(2026, 11, 21, 10, 20, 30, 456e6, time.Local)
	f := eth("5E0000000002", "5E0000000001", 0x88B5, []byte{1})
	for range 3 {
		sink(hub.PacketRecord{Time: when, SrcSession: "S", DstSession: "D", Level: hub.PacketLogHeader, Length: len(f), Frame: f})
	}
	w.Close()
	sink(hub.PacketRecord{Time: when}) // after Close: ignored, no panic
	b, err := os.ReadFile(filepath.Join(dir, "HUB1", "pkt_20261121.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "2026-11-21,10:20:30.456,S,D,5E0000000001,") {
		t.Fatalf("log file:\n%s", b)
	}
	if n := len(strings.Split(lines[0], ",")); n != 2+Fields {
		t.Errorf("%d fields, want %d", n, 2+Fields)
	}
	// A full queue drops records and counts them, without blocking.
	w2 := NewWriter(t.TempDir(), svc, 1, nil)
	defer w2.Close()
	s2 := w2.Sink("H", logfile.SwitchDay)
	for range 1000 {
		s2(hub.PacketRecord{Time: when, Frame: f, Length: len(f)})
	}
	t.Logf("%d of 1000 records dropped with a queue of 1", w2.Dropped())
}

func FuzzFormat(f *testing.F) {
	f.Add(eth("5E0000000002", "5E0000000001", 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udpDgram(5000, 53, dnsQuery("a.b")))))
	f.Add(eth("5E0000000002", "5E0000000001", 0x86DD, make([]byte, 60)))
	f.Add(eth("5E0000000002", "5E0000000001", 0x8100, []byte{0, 1, 0x08, 0x06}))
	f.Fuzz(func(t *testing.T, frame []byte) {
		r := hub.PacketRecord{SrcSession: "S", Level: hub.PacketLogAll, Length: len(frame), Frame: frame}
		line := Format(&r, svc)
		if n := len(strings.Split(line, ",")); n != Fields {
			t.Fatalf("%d fields in %q", n, line)
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("a line break in %q", line)
		}
	})
}

func TestDivertAndUDPDestination(t *testing.T) {
	dir := t.TempDir()
	var got []string
	w := NewWriter(dir, svc, 16, func(h string, r *hub.PacketRecord, _ time.Time, csv string) bool {
		if dst, ok := UDPDestination(r.Frame); ok && dst == netip.MustParseAddrPort("10.0.0.2:514") {
			got = append(got, h+" "+csv)
			return true
		}
		return false
	})
	sink := w.Sink("H", logfile.SwitchDay)
	toSyslog := eth("5E0000000002", "5E0000000001", 0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, udpDgram(999, 514, []byte("x"))))
	other := eth("5E0000000002", "5E0000000001", 0x0800, ipv4("10.0.0.1", "10.0.0.3", 17, udpDgram(999, 514, []byte("x"))))
	now := time.Now()
	sink(hub.PacketRecord{Time: now, Frame: toSyslog, Length: len(toSyslog)})
	sink(hub.PacketRecord{Time: now, Frame: other, Length: len(other)})
	w.Close()
	if len(got) != 1 || !strings.HasPrefix(got[0], "H -,-,5E0000000001") {
		t.Errorf("diverted: %q", got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "H", "pkt_*.log"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	if b, _ := os.ReadFile(files[0]); strings.Count(string(b), "\r\n") != 1 || !strings.Contains(string(b), "10.0.0.3") {
		t.Errorf("file:\n%s", b)
	}
	if _, ok := UDPDestination(eth("5E0000000002", "5E0000000001", 0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcpSeg(1, 2, 0, 0, 2, 0)))); ok {
		t.Error("a TCP segment has a UDP destination")
	}
}
