package server

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/pack"
)

// tcpFrame is an IPv4 TCP segment from src to dst with the given flags.
func tcpFrame(dst, src []byte, flags byte) []byte {
	f := make([]byte, 14+20+20)
	copy(f, dst)
	copy(f[6:], src)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	copy(ip[12:], []byte{10, 0, 0, 1})
	copy(ip[16:], []byte{10, 0, 0, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 8080)
	binary.BigEndian.PutUint32(tcp[4:], 1234)
	tcp[12], tcp[13] = 5<<4, flags
	return f
}

// With the default log settings (SavePacketLog, TCP connections and DHCP
// at header level) a SYN between two sessions is in the hub's packet log
// and a data segment is not; SetHubLog turns it off at once.
func TestPacketLog(t *testing.T) {
	srv, addr := testServer(t)
	a := connect(t, addr, client.Options{Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	b := connect(t, addr, client.Options{Hub: "DEFAULT", User: "bob", Password: "bobpw"})
	ma, mb := mac(1), mac(2)
	b.port.send(ethFrame(bcast, mb, 1, 60)) // the hub learns b
	a.port.expect(t, "b's broadcast", from(mb, 1))
	a.port.send(tcpFrame(mb, ma, 0x10)) // ACK only: not logged
	a.port.send(tcpFrame(mb, ma, 0x02)) // SYN
	b.port.expect(t, "the data segment", func(f []byte) bool { return len(f) > 47 && f[47] == 0x10 })
	b.port.expect(t, "the SYN", func(f []byte) bool { return len(f) > 47 && f[47] == 0x02 })

	file := filepath.Join(srv.dir, "packet_log", "DEFAULT", "pkt_"+time.Now().Format("20060102")+".log")
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && strings.Contains(string(b), "TCP_CONNECTv4") {
			text = string(b)
			break
		}
	}
	if text == "" {
		t.Fatalf("no TCP_CONNECTv4 record in %s", file)
	}
	lines := strings.Split(strings.TrimSpace(text), "\r\n")
	if len(lines) != 1 {
		t.Fatalf("%d records, want the SYN's only:\n%s", len(lines), text)
	}
	f := strings.Split(lines[0], ",")
	if len(f) != 20 || f[2] != a.welcome.SessionName || f[3] != b.welcome.SessionName ||
		f[4] != "020000000001" || f[8] != "TCP_CONNECTv4" || f[9] != "SYN" || f[10] != "10.0.0.1" ||
		f[14] != "1234" || f[18] != "127.0.0.1" || f[19] != "127.0.0.1" {
		t.Fatalf("record %q", lines[0])
	}

	// SetHubLog without SavePacketLog stops it.
	d := srv.Dispatcher()
	in := call(t, d, serverAdm, "GetHubLog", params("HubName", "DEFAULT"))
	off := pack.New()
	for _, e := range in.Elements() {
		off.AddElement(e)
	}
	off.Delete("SavePacketLog")
	off.AddBool("SavePacketLog", false)
	call(t, d, serverAdm, "SetHubLog", off)
	a.port.send(tcpFrame(mb, ma, 0x01)) // FIN
	b.port.expect(t, "the FIN", func(f []byte) bool { return len(f) > 47 && f[47] == 0x01 })
	time.Sleep(100 * time.Millisecond)
	if b, _ := os.ReadFile(file); strings.Count(string(b), "\r\n") != 1 {
		t.Fatalf("logged after SavePacketLog was turned off:\n%s", b)
	}
}

// With syslog SaveType 3 the records go to the syslog server instead of
// the file.
func TestPacketLogToSyslog(t *testing.T) {
	srv, addr := testServer(t)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	call(t, srv.Dispatcher(), serverAdm, "SetSysLog", params("SaveType", 3, "Hostname", "127.0.0.1", "Port", udp.LocalAddr().(*net.UDPAddr).Port))
	a := connect(t, addr, client.Options{Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	b := connect(t, addr, client.Options{Hub: "DEFAULT", User: "bob", Password: "bobpw"})
	ma, mb := mac(1), mac(2)
	b.port.send(ethFrame(bcast, mb, 1, 60))
	a.port.expect(t, "b's broadcast", from(mb, 1))
	a.port.send(tcpFrame(mb, ma, 0x02))
	b.port.expect(t, "the SYN", func(f []byte) bool { return len(f) > 47 && f[47] == 0x02 })
	buf := make([]byte, 2048)
	udp.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no packet-log record reached syslog: %v", err)
		}
		if line := string(buf[:n]); strings.Contains(line, "/VPN/DEFAULT] (") && strings.Contains(line, ") PACKET_LOG: SID-ALICE-") &&
			strings.Contains(line, ",TCP_CONNECTv4,SYN,") {
			break
		}
	}
	file := filepath.Join(srv.dir, "packet_log", "DEFAULT", "pkt_"+time.Now().Format("20060102")+".log")
	if _, err := os.Stat(file); err == nil {
		t.Errorf("%s written although the records went to syslog", file)
	}
}
