package server

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

func TestAdminSyslogForwarding(t *testing.T) {
	s, d, _ := openAdmin(t)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	port := udp.LocalAddr().(*net.UDPAddr).Port
	wantCode(t, d, serverAdm, "SetSysLog", params("SaveType", 2), vpnerr.InvalidParameter) // no host
	call(t, d, serverAdm, "SetSysLog", params("SaveType", 2, "Hostname", "127.0.0.1", "Port", port))
	got := call(t, d, serverAdm, "GetSysLog", params())
	if got.Int("SaveType") != 2 || got.Str("Hostname") != "127.0.0.1" || got.Int("Port") != uint32(port) {
		t.Fatalf("GetSysLog: %v", got.Elements())
	}
	s.log.Warn(`Session "SID-X-1": something the hub logs.`, "event", "LH_TEST", "hub", "DEFAULT")
	buf := make([]byte, 2048)
	udp.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no hub security line reached syslog: %v", err)
		}
		line := string(buf[:n])
		if strings.Contains(line, "/VPN/DEFAULT] (") && strings.HasSuffix(line, `SECURITY_LOG: Session "SID-X-1": something the hub logs.`) {
			break
		}
	}
	call(t, d, serverAdm, "SetSysLog", params("SaveType", 0))
	if s.seclog.w.syslog.Load() != nil {
		t.Fatal("forwarding still on after SaveType 0")
	}
}

func TestAdminKeepAndReboot(t *testing.T) {
	_, d, _ := openAdmin(t)
	call(t, d, serverAdm, "SetKeep", params("UseKeepConnect", true, "KeepConnectHost", "keep.example", "KeepConnectPort", 80, "KeepConnectProtocol", 1, "KeepConnectInterval", 1))
	got := call(t, d, serverAdm, "GetKeep", params())
	if !got.Bool("UseKeepConnect") || got.Str("KeepConnectHost") != "keep.example" || got.Int("KeepConnectInterval") != 5 {
		t.Fatalf("GetKeep: %v", got.Elements())
	}
	wantCode(t, d, serverAdm, "SetKeep", params("UseKeepConnect", true), vpnerr.InvalidParameter)
	wantCode(t, d, hubAdm("DEFAULT"), "SetKeep", params("UseKeepConnect", false), vpnerr.NotEnoughRight)
	wantCode(t, d, serverAdm, "RebootServer", params("IntValue", 1), vpnerr.NotSupported)
}

// TestAdminSyslogUnreachableHost: the real vpnserver stores syslog
// settings whatever the host (SoftEther's JSON-RPC sample sets 1.2.3.4,
// which no route reaches from a network namespace); ethervpn stores them
// too, warns, and forwards to no host, not even the previous one.
func TestAdminSyslogUnreachableHost(t *testing.T) {
	s, d, _ := openAdmin(t)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	call(t, d, serverAdm, "SetSysLog", params("SaveType", 2, "Hostname", "127.0.0.1", "Port", udp.LocalAddr().(*net.UDPAddr).Port))
	if s.seclog.w.syslog.Load() == nil {
		t.Fatal("forwarding off after SetSysLog to 127.0.0.1")
	}
	// A link-local address without a zone: connect fails on every host.
	call(t, d, serverAdm, "SetSysLog", params("SaveType", 2, "Hostname", "fe80::1", "Port", 123))
	got := call(t, d, serverAdm, "GetSysLog", params())
	if got.Int("SaveType") != 2 || got.Str("Hostname") != "fe80::1" || got.Int("Port") != 123 {
		t.Fatalf("GetSysLog: %v", got.Elements())
	}
	if s.seclog.w.syslog.Load() != nil {
		t.Fatal("still forwarding to the previous host")
	}
	call(t, d, serverAdm, "SetSysLog", params("SaveType", 0, "Hostname", "fe80::1", "Port", 123))
	if got := call(t, d, serverAdm, "GetSysLog", params()); got.Int("SaveType") != 0 {
		t.Fatalf("GetSysLog after SaveType 0: %v", got.Elements())
	}
}
