package server

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ethervpn/ethervpn/internal/client"
)

// A hub's security events land in security_log/<HUB>/sec_YYYYMMDD.log in
// SoftEther's line format.
func TestSecurityLogFile(t *testing.T) {
	srv, addr := testServer(t)
	a := connect(t, addr, client.Options{Hub: "DEFAULT", User: "alice", Password: "alicepw"})
	for i := byte(1); i <= 4; i++ { // the 4th MAC of a client-mode session is refused
		a.port.send(ethFrame(bcast, mac(0x20+i), i, 60))
	}
	path := filepath.Join(srv.dir, "security_log", "DEFAULT", "sec_"+time.Now().Format("20060102")+".log")
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if text = string(b); strings.Contains(text, "02-00-00-00-00-24") {
			break
		}
	}
	var line string
	for _, l := range strings.Split(text, "\r\n") {
		if strings.Contains(l, "02-00-00-00-00-24") {
			line = l
		}
	}
	if len(line) < 23 || !strings.Contains(line, `Session "SID-ALICE-`) || !strings.Contains(line, `MAC address "02-00-00-00-00-24"`) || !strings.HasSuffix(text, "\r\n") {
		t.Fatalf("security log %s: %q", path, text)
	}
	if _, err := time.ParseInLocation("2006-01-02 15:04:05.000", line[:23], time.Local); err != nil {
		t.Fatalf("line does not start with SoftEther's timestamp: %q", line)
	}
}

func TestSecurityLogOnlyForKnownHubs(t *testing.T) {
	srv, addr := testServer(t)
	client.Login(context.Background(), &client.Options{Server: addr, Hub: "NOSUCHHUB", User: "alice", Password: "x"})
	client.Login(context.Background(), &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "wrong"})
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(srv.dir, "security_log", "NOSUCHHUB")); err == nil {
		t.Fatal("a log directory was created for a hub name a client made up")
	}
	b, _ := os.ReadFile(filepath.Join(srv.dir, "security_log", "DEFAULT", "sec_"+time.Now().Format("20060102")+".log"))
	if !strings.Contains(string(b), `user authentication failed for user "alice"`) {
		t.Fatalf("failed login not in the DEFAULT hub's security log: %q", b)
	}
}

// SecurityLogSwitchType decides when a new file begins: hourly here.
func TestSecurityLogSwitchType(t *testing.T) {
	srv, addr := testServer(t)
	d := srv.Dispatcher()
	in := call(t, d, serverAdm, "GetHubLog", params("HubName", "DEFAULT"))
	in.Delete("SecurityLogSwitchType")
	in.AddInt("SecurityLogSwitchType", 3)
	call(t, d, serverAdm, "SetHubLog", in)
	client.Login(context.Background(), &client.Options{Server: addr, Hub: "DEFAULT", User: "alice", Password: "wrong"})
	name := filepath.Join(srv.dir, "security_log", "DEFAULT", "sec_"+time.Now().Format("20060102_15")+".log")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(name); strings.Contains(string(b), `user authentication failed for user "alice"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hourly file %s with the failed login", name)
		}
	}
}

// A user name sent before authentication cannot forge security-log or
// syslog lines: control characters in peer text are escaped.
func TestSecurityLogEscapesPeerText(t *testing.T) {
	srv, addr := testServer(t)
	const forged = "2001-01-01 00:00:00.000 forged"
	user := "mallory\r\n" + forged + "\n\x1b[2J\u2028" // a PACK string ends at NUL
	escaped := `mallory\r\n` + forged + `\n\x1b[2J\u2028`
	client.Login(context.Background(), &client.Options{Server: addr, Hub: "DEFAULT", User: user, Password: "x"})
	path := filepath.Join(srv.dir, "security_log", "DEFAULT", "sec_"+time.Now().Format("20060102")+".log")
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(text, "mallory"); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		text = string(b)
	}
	if !strings.Contains(text, `for user "`+escaped+`"`) {
		t.Errorf("security log without the escaped name: %q", text)
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n") {
		if strings.HasPrefix(line, "2001-") || strings.ContainsAny(line, "\r\n\x00\x1b\u2028") {
			t.Errorf("forged or broken security-log line: %q", line)
		}
	}

	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	call(t, srv.Dispatcher(), serverAdm, "SetSysLog", params("SaveType", 2, "Hostname", "127.0.0.1", "Port", udp.LocalAddr().(*net.UDPAddr).Port))
	client.Login(context.Background(), &client.Options{Server: addr, Hub: "DEFAULT", User: user, Password: "x"})
	buf := make([]byte, 2048)
	udp.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no syslog line with the name: %v", err)
		}
		if line := string(buf[:n]); strings.Contains(line, "mallory") {
			if !strings.Contains(line, escaped) || strings.ContainsAny(line, "\r\n\x00\x1b\u2028") {
				t.Errorf("syslog line: %q", line)
			}
			break
		}
	}
}

func TestLogSafe(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "",
		`plain "text" CORP\bob`: `plain "text" CORP\bob`,
		"é ü 日本":                "é ü 日本",
		"a\r\nb\tc":             `a\r\nb\tc`,
		"\x00\x1b\x7f":          `\x00\x1b\x7f`,
		"\u0085\u2028\u2029":    `\u0085\u2028\u2029`,
		"bad \xff\xfe utf-8":    `bad \xff\xfe utf-8`,
	} {
		if got := logSafe(in); got != want {
			t.Errorf("logSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLogSafe: the output is valid UTF-8 without a character that could
// break a line, and text that had none comes out unchanged.
func FuzzLogSafe(f *testing.F) {
	f.Add("user\r\nforged line")
	f.Add("caf\xc3\xa9 \xe2\x80\xa8 \xff")
	f.Fuzz(func(t *testing.T, s string) {
		out := logSafe(s)
		if !utf8.ValidString(out) {
			t.Fatalf("%q: invalid UTF-8 out: %q", s, out)
		}
		for _, r := range out {
			if unsafeInLog(r) {
				t.Fatalf("%q: %q left in %q", s, r, out)
			}
		}
		if !strings.ContainsFunc(s, unsafeInLog) && utf8.ValidString(s) && out != s {
			t.Fatalf("clean %q changed to %q", s, out)
		}
	})
}
