package testrig

import (
	"strings"
	"testing"
	"time"
)

func TestRenderConfig(t *testing.T) {
	cfg := &ServerConfig{Port: 5555, AdminPassword: "adminpw", Hubs: []HubConfig{{
		Name: "VPN", Password: "hubpw",
		Users: []UserConfig{
			{Name: "u1", Password: "secret1"},
			{Name: "mon", Password: "x", Policy: map[string]any{"MonitorPort": true, "MaxMac": 5}},
			{Name: "anon", Anonymous: true},
		},
	}}}
	text := string(cfg.Render())
	for _, want := range []string{
		"\ufeff# Software Configuration File\r\n",
		"\t\tuint Port 5555\r\n",
		"byte HashedPassword 26KDTH2woEqTBgoNUfFv6JdtxxE=\r\n", // SHA0("adminpw")
		"byte SecurePassword BRMigfrjn0ljyJ7d23wBQ2pyaz8=\r\n", // SHA0("hubpwADMINISTRATOR")
		"byte AuthPassword AX17cG3ZdMa/VuOUY9dhjjlFB2k=\r\n",   // SHA0("secret1U1")
		"bool MonitorPort true\r\n", "uint MaxMac 5\r\n", "bool Access true\r\n",
		"string PortsUDP $\r\n",
		"bool DisableNatTraversal true\r\n",
		"bool UseKeepConnect false\r\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	// Items come before folders, separated by one blank line, and the
	// DDNS client folder (first in order) is disabled.
	if !strings.Contains(text, "\tstring Region $\r\n\r\n\tdeclare DDnsClient\r\n\t{\r\n\t\tbool Disabled true\r\n") {
		t.Errorf("unexpected layout:\n%s", text)
	}
	if strings.Count(text, "{") != strings.Count(text, "}") {
		t.Error("unbalanced braces")
	}
}

func TestCfgEscape(t *testing.T) {
	for in, want := range map[string]string{"": "$", "a b": "a$20b", "$": "$24", "x\r\n": "x$0D$0A", "ü": "ü"} {
		if got := cfgEscape(in); got != want {
			t.Errorf("cfgEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

const statusSample = `VPN Client>AccountStatusGet acc
AccountStatusGet command - Get Current VPN Connection Setting Status
Item                                      |Value
------------------------------------------+------------------------------------------
VPN Connection Setting Name               |acc
Session Status                            |Connection Completed (Session Established)
Encryption                                |Enabled (Algorithm: TLS_AES_256_GCM_SHA384)
Use of Compression                        |No (No Compression)
Half Duplex TCP Connection Mode           |No (Full Duplex Mode)
Number of TCP Connections                 |2
UDP Acceleration is Active                |No
Monitoring Mode                           |No
The command completed successfully.
`

func TestParseAccountStatus(t *testing.T) {
	st := ParseAccountStatus(statusSample)
	if n := st.Int(StatusTCPConnections); n != 2 {
		t.Errorf("TCP connections = %d, want 2", n)
	}
	if !st.Yes(StatusEncryption) || st.Yes(StatusCompression) || st.Yes(StatusHalfDuplex) || st.Yes(StatusMonitorMode) {
		t.Errorf("flags wrong: %v", st)
	}
	if _, ok := st["Item"]; ok {
		t.Error("header row parsed as an item")
	}
	if st.Int("missing") != -1 {
		t.Error("missing item should give -1")
	}
}

func TestParsePing(t *testing.T) {
	out := "PING 192.168.77.2 (192.168.77.2): 56 data bytes\n\n--- 192.168.77.2 ping statistics ---\n" +
		"5 packets transmitted, 4 packets received, 20% packet loss\nround-trip min/avg/max = 0.358/0.729/1.417 ms\n"
	r, err := ParsePing(out)
	if err != nil || r.Sent != 5 || r.Received != 4 || r.AvgRTT != 729*time.Microsecond {
		t.Fatalf("ParsePing = %+v, %v", r, err)
	}
	if l := r.Loss(); l < 0.199 || l > 0.201 {
		t.Errorf("loss = %v", r.Loss())
	}
	if _, err := ParsePing("ping: bad address"); err == nil {
		t.Error("want an error for output without a summary")
	}
}

func TestParseIperfJSON(t *testing.T) {
	r, err := ParseIperfJSON([]byte(`{"end":{"sum_sent":{"bytes":1000,"seconds":1},"sum_received":{"bytes":900,"seconds":1.5,"bits_per_second":4800}}}`))
	if err != nil || r.SentBytes != 1000 || r.ReceivedBytes != 900 || r.BitsPerSecond != 4800 || r.Seconds != 1.5 {
		t.Fatalf("ParseIperfJSON = %+v, %v", r, err)
	}
	if _, err := ParseIperfJSON([]byte(`{"error":"unable to connect to server"}`)); err == nil {
		t.Error("want the iperf3 error")
	}
}

func TestParseStatCPU(t *testing.T) {
	stat := "1234 (vpn server) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 1000 10 18446744073709551615"
	if s, err := parseStatCPU(stat); err != nil || s != 3 {
		t.Fatalf("parseStatCPU = %v, %v; want 3 s", s, err)
	}
	if _, err := parseStatCPU("1234 (x) S 1"); err == nil {
		t.Error("want an error for a short line")
	}
}

func TestParseClientCause(t *testing.T) {
	log := `2026-11-21 06:21:29.070 VPN Connection Setting "acc": The connection has been either disconnected or it failed. Cause: The command has been canceled by user. (code 6)
2026-11-21 06:22:29.070 VPN Connection Setting "acc": The connection has been either disconnected or it failed. Cause: User authentication failed. (code 9)`
	if code, msg := ParseClientCause(log); code != 9 || msg != "User authentication failed." {
		t.Errorf("ParseClientCause = %d %q", code, msg)
	}
	if code, _ := ParseClientCause("nothing"); code != 0 {
		t.Errorf("code %d for a log without a cause", code)
	}
}

// The parsers read other programs' output; none may panic on any input.

func FuzzParseAccountStatus(f *testing.F) {
	f.Add(statusSample)
	f.Add("|\n||\n-+-\nNumber of TCP Connections|99999999999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		st := ParseAccountStatus(s)
		_ = st.Int(StatusTCPConnections)
		_ = st.Yes(StatusEncryption)
	})
}

func FuzzParsePing(f *testing.F) {
	f.Add("5 packets transmitted, 5 packets received\nround-trip min/avg/max = 1/2/3 ms")
	f.Add("1 packets transmitted, 0 received = 1/1e999/")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParsePing(s) })
}

func FuzzParseIperfJSON(f *testing.F) {
	f.Add([]byte(`{"end":{"sum_received":{"bytes":1}}}`))
	f.Add([]byte(`{"end":null}`))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseIperfJSON(b) })
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add("1 (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0")
	f.Add("1 ((x)) ) S")
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseStatCPU(s) })
}

func FuzzParseClientCause(f *testing.F) {
	f.Add("Cause: x (code 9)")
	f.Add("Cause: x (code 99999999999999999999999)")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseClientCause(s) })
}
