package testrig

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/ethervpn/ethervpn/internal/config"
)

// TestRenderSecureNAT checks that a rendered SecureNAT hub reads back, with
// ethervpn's own config loader, as the settings the rig promises.
func TestRenderSecureNAT(t *testing.T) {
	cfg := &ServerConfig{Port: 5555, Hubs: []HubConfig{
		{Name: "NAT", Password: "pw", SecureNAT: &SecureNATConfig{TCPTimeout: 60, UDPTimeout: 10}},
		{Name: "PLAIN", Password: "pw"},
	}}
	root, err := config.Parse(cfg.Render())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := config.FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	n := srv.Hub("NAT").SecureNAT
	ip := netip.MustParseAddr
	if !n.Enabled || !n.NatEnabled || !n.DHCPEnabled || n.TCPTimeout != 60 || n.UDPTimeout != 10 ||
		n.DHCPExpire != 7200 || n.MTU != 1500 || n.IP != ip(SecureNATIP) || n.Mask != ip(SecureNATMask) ||
		n.DHCPStart != ip(SecureNATFirstIP) || n.DHCPEnd != ip(SecureNATLastIP) ||
		n.DHCPGateway != ip(SecureNATIP) || n.DHCPDNS != ip(SecureNATIP) ||
		strings.ToUpper(strings.ReplaceAll(n.MAC.String(), ":", "-")) != SecureNATMAC {
		t.Errorf("SecureNAT read back as %+v", n)
	}
	if srv.Hub("PLAIN").SecureNAT.Enabled {
		t.Error("a hub without SecureNATConfig has SecureNAT enabled")
	}
}

func TestParseVpncmdCSV(t *testing.T) {
	out := "VPN Server>Hub NATHUB\r\n" +
		`The Virtual Hub "NATHUB" has been selected.` + "\r\n" +
		"VPN Server/NATHUB>NatTable\r\n" +
		"ID,Protocol,Source Host,Source Port,Destination Host,Destination Port,Session Created On,Last Communication Time,Receive / Send Size,TCP Connection Status\r\n" +
		`12,ICMP,192.168.30.10,14759,10.254.0.2,14759,2026-11-21 (Sat) 05:39:00,2026-11-21 (Sat) 05:39:01,"1,638 / 320",` + "\r\n" +
		"14,TCP/IP,192.168.30.10,51388,10.254.0.2,5201,2026-11-21 (Sat) 05:39:05,2026-11-21 (Sat) 05:39:05,4 / 185,Running\r\n" +
		"\r\nVPN Server/NATHUB>\r\n"
	rows, err := ParseVpncmdCSV(out, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][8] != "1,638 / 320" || rows[1][9] != "Running" {
		t.Errorf("rows %q", rows)
	}
	empty := "ID,Leased at,Expires at,MAC Address,Allocated IP,Client Host Name\r\n"
	if rows, err := ParseVpncmdCSV(empty, 6); err != nil || len(rows) != 0 {
		t.Errorf("empty table: %q, %v", rows, err)
	}
	for _, bad := range []string{"", "Error occurred. (Error code: 2)", empty + "1,2,3\r\n"} {
		if _, err := ParseVpncmdCSV(bad, 6); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseVpncmdCSV(f *testing.F) {
	f.Add("ID,a,b\r\n1,\"2,3\",4\r\n", 3)
	f.Add("x\nID,a\n\"", 2)
	f.Fuzz(func(t *testing.T, out string, cols int) {
		rows, err := ParseVpncmdCSV(out, cols%16)
		for _, r := range rows {
			if err == nil && len(r) != cols%16 {
				t.Fatalf("row %q has %d fields, want %d", r, len(r), cols%16)
			}
		}
	})
}

func TestParseDHCPEvent(t *testing.T) {
	ev, err := ParseDHCPEvent("event=bound ip=192.168.30.10 mask=255.255.255.0 router=192.168.30.1 dns=192.168.30.1,8.8.8.8 lease=7200 serverid=192.168.30.1 domain=")
	want := DHCPEvent{Event: "bound", IP: "192.168.30.10", Mask: "255.255.255.0", Router: "192.168.30.1",
		DNS: "192.168.30.1,8.8.8.8", ServerID: "192.168.30.1", LeaseSeconds: 7200}
	if err != nil || ev != want {
		t.Errorf("got %+v, %v; want %+v", ev, err, want)
	}
	if ev, err := ParseDHCPEvent("event=deconfig ip= mask= lease="); err != nil || ev.Event != "deconfig" {
		t.Errorf("deconfig: %+v, %v", ev, err)
	}
	for _, bad := range []string{"", "ip=1.2.3.4", "event=bound lease=x", "event=bound lease=-5", "event=bound junk"} {
		if _, err := ParseDHCPEvent(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseDHCPEvent(f *testing.F) {
	f.Add("event=bound ip=192.168.30.10 lease=7200")
	f.Add("event= lease=99999999999999999999")
	f.Fuzz(func(t *testing.T, line string) {
		if ev, err := ParseDHCPEvent(line); err == nil && (ev.Event == "" || ev.LeaseSeconds < 0) {
			t.Fatalf("accepted %q as %+v", line, ev)
		}
	})
}

func TestDNSAnswer(t *testing.T) {
	ip := net.ParseIP("10.254.0.2")
	ask := func(name string, qtype uint16) *dns.Msg {
		t.Helper()
		q := new(dns.Msg)
		q.SetQuestion(name, qtype)
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := DNSAnswer(b, ip)
		var m dns.Msg
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("%s: answer does not unpack: %v", name, err)
		}
		if m.Id != q.Id || !m.Response {
			t.Fatalf("%s: answer id %d response %v, query id %d", name, m.Id, m.Response, q.Id)
		}
		return &m
	}
	if m := ask("www.RIG.test.", dns.TypeA); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "10.254.0.2" {
		t.Errorf("A: %v", m)
	}
	if m := ask("www.rig.test.", dns.TypeAAAA); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
		t.Errorf("AAAA: %v", m)
	}
	if m := ask("example.com.", dns.TypeA); m.Rcode != dns.RcodeRefused || len(m.Answer) != 0 {
		t.Errorf("outside the zone: %v", m)
	}
	if resp, _ := DNSAnswer([]byte{1, 2, 3}, ip); resp != nil {
		t.Error("a 3-byte query got an answer")
	}
}

func FuzzDNSAnswer(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("a.rig.test.", dns.TypeA)
	b, _ := q.Pack()
	f.Add(b)
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0})
	f.Fuzz(func(t *testing.T, q []byte) {
		if resp, _ := DNSAnswer(q, net.IPv4(10, 254, 0, 2)); resp != nil && len(resp) < 12 {
			t.Fatalf("answer of %d bytes", len(resp))
		}
	})
}

func TestParseIperfUDPJSON(t *testing.T) {
	out := `{"end":{"sum":{"bits_per_second":1},"sum_received":{"bits_per_second":99300000,"lost_packets":3,"packets":25749,"lost_percent":0.0116}}}`
	res, err := ParseIperfUDPJSON([]byte(out))
	if err != nil || res.Packets != 25749 || res.LostPackets != 3 || res.BitsPerSecond != 99.3e6 {
		t.Errorf("got %+v, %v", res, err)
	}
	for _, bad := range []string{`{"error":"unable to connect"}`, `{"end":{}}`, `not json`} {
		if _, err := ParseIperfUDPJSON([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func FuzzParseIperfUDPJSON(f *testing.F) {
	f.Add([]byte(`{"end":{"sum_received":{"packets":1}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseIperfUDPJSON(b) // must not panic
	})
}
