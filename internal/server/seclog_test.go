package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
