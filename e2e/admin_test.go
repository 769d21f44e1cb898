package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// Administration scenarios: the real vpncmd and curl manage the server
// under test (ethervpn, or the real vpnserver with
// ETHERVPN_E2E_SERVER=softether, which validates the expectations), and
// the configuration file travels between ethervpn and the real vpnserver.

const (
	adminPort = 25600
	adminPW   = "adminpw"
)

func adminServerConfig() *testrig.ServerConfig {
	return &testrig.ServerConfig{
		Port:          adminPort,
		AdminPassword: adminPW,
		Hubs:          []testrig.HubConfig{{Name: "DEFAULT", Password: "hubpw"}},
	}
}

// vpncmd runs the real vpncmd in the server namespace with lines as its
// /IN: script, in server admin mode (extra options such as /HUB: may be
// added), and returns the output split per command.
func vpncmd(t *testing.T, r *testrig.Rig, port int, opts []string, lines ...string) []cmdOutput {
	t.Helper()
	dir := filepath.Join(r.Server.Dir, "vpncmd-admin")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script.txt")
	if err := os.WriteFile(script, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{testrig.VpncmdPath, "127.0.0.1:" + strconv.Itoa(port), "/SERVER", "/IN:" + script}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmdline := r.Server.SoftEtherCmd(dir, args...)
	cmd := exec.CommandContext(ctx, cmdline[0], cmdline[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // stdin stays closed: vpncmd must never prompt
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("vpncmd timed out; output:\n%s", out.String())
	}
	if err != nil {
		t.Logf("vpncmd exit: %v", err)
	}
	return splitVpncmd(out.String())
}

// cmdOutput is what vpncmd printed for one command line.
type cmdOutput struct {
	Line, Text string
}

// OK reports whether the command completed successfully.
func (c cmdOutput) OK() bool { return strings.Contains(c.Text, "The command completed successfully.") }

// Value returns the value column of the first "Item |Value" row called item.
func (c cmdOutput) Value(item string) string {
	for _, l := range strings.Split(c.Text, "\n") {
		k, v, ok := strings.Cut(l, "|")
		if ok && strings.TrimSpace(k) == item {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// splitVpncmd cuts vpncmd's output at its prompts ("VPN Server>",
// "VPN Server/HUB>").
func splitVpncmd(out string) []cmdOutput {
	var cmds []cmdOutput
	// A prompt starts a line: "VPN Server>" or "VPN Server/HUB>". (Help
	// texts mention "VPN Server" too, so the words alone do not split.)
	locs := vpncmdPrompt.FindAllStringIndex(out, -1)
	for i, loc := range locs {
		end := len(out)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		line, text, _ := strings.Cut(out[loc[1]:end], "\n")
		cmds = append(cmds, cmdOutput{Line: strings.TrimSpace(line), Text: text})
	}
	return cmds
}

var vpncmdPrompt = regexp.MustCompile(`(?m)^VPN Server(/[^>\n]*)?>`)

// ranAll fails the test unless vpncmd's output has a part for every line
// of script, and returns those parts.
func ranAll(t *testing.T, cmds []cmdOutput, script []string) []cmdOutput {
	t.Helper()
	if len(cmds) < len(script) {
		t.Fatalf("vpncmd ran %d of %d commands; output:\n%+v", len(cmds), len(script), cmds)
	}
	return cmds[:len(script)]
}

// byCommand finds the output of the command line that starts with prefix.
func byCommand(t *testing.T, cmds []cmdOutput, prefix string) cmdOutput {
	t.Helper()
	for _, c := range cmds {
		if strings.HasPrefix(c.Line, prefix) {
			return c
		}
	}
	t.Fatalf("no output for %q", prefix)
	return cmdOutput{}
}

func TestAdminVpncmd(t *testing.T) {
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	r.StartServer(kind, adminServerConfig())

	script := []string{
		"HubCreate TEST /PASSWORD:testpw",
		"HubList",
		"Hub TEST",
		"UserCreate alice /GROUP:none /REALNAME:Alice /NOTE:e2e",
		"UserPasswordSet alice /PASSWORD:secret1",
		"UserList",
		"ExtOptionSet FilterPPPoE /VALUE:1",
		"ExtOptionList",
		"SecureNatEnable",
		"NatSet /MTU:1400 /TCPTIMEOUT:3600 /UDPTIMEOUT:300 /LOG:no",
		"SecureNatHostSet /MAC:none /IP:10.9.0.1 /MASK:255.255.255.0",
		"DhcpSet /START:10.9.0.10 /END:10.9.0.100 /MASK:255.255.255.0 /EXPIRE:3600 /GW:10.9.0.1 /DNS:10.9.0.1 /DNS2:none /DOMAIN:example.org /LOG:yes /PUSHROUTE:none",
		"NatGet",
		"DhcpGet",
		"NatTable",
		"DhcpTable",
		"SessionList",
		"StatusGet",
		"UserDelete alice",
		"UserList",
		"Hub",
		"HubDelete TEST",
		"HubList",
	}
	cmds := ranAll(t, vpncmd(t, r, adminPort, []string{"/PASSWORD:" + adminPW}, script...), script)
	for _, c := range cmds {
		if !c.OK() {
			t.Errorf("%s: did not complete:\n%s", c.Line, c.Text)
		}
	}
	if c := byCommand(t, cmds, "HubList"); !strings.Contains(c.Text, "|TEST") || !strings.Contains(c.Text, "|DEFAULT") {
		t.Errorf("HubList after HubCreate:\n%s", c.Text)
	}
	if c := byCommand(t, cmds, "UserList"); c.Value("User Name") != "alice" || c.Value("Full Name") != "Alice" ||
		c.Value("Auth Method") != "Password Authentication" {
		t.Errorf("UserList:\n%s", c.Text)
	}
	if c := byCommand(t, cmds, "ExtOptionList"); !regexp.MustCompile(`Item +\|FilterPPPoE\nValue +\|1\n`).MatchString(c.Text) {
		t.Errorf("ExtOptionList after ExtOptionSet FilterPPPoE /VALUE:1:\n%s", c.Text)
	}
	nat := byCommand(t, cmds, "NatGet")
	if nat.Value("MTU Value") != "1400" || nat.Value("TCP Session Timeout (Seconds)") != "3600" || nat.Value("UDP Session Timeout (Seconds)") != "300" {
		t.Errorf("NatGet after NatSet:\n%s", nat.Text)
	}
	dhcp := byCommand(t, cmds, "DhcpGet")
	for item, want := range map[string]string{
		"Start Distribution Address Band": "10.9.0.10", "End Distribution Address Band": "10.9.0.100",
		"Lease Limit (Seconds)": "3600", "Default Gateway Address": "10.9.0.1", "Domain Name": "example.org",
	} {
		if got := dhcp.Value(item); got != want {
			t.Errorf("DhcpGet %s = %q, want %q", item, got, want)
		}
	}
	if c := byCommand(t, cmds, "SessionList"); !strings.Contains(c.Text, "SID-SECURENAT-") {
		t.Errorf("SessionList after SecureNatEnable: no SecureNAT session:\n%s", c.Text)
	}
	if c := byCommand(t, cmds, "StatusGet"); c.Value("SecureNAT") != "Enabled" || c.Value("Users") != "1" {
		t.Errorf("StatusGet:\n%s", c.Text)
	}
	last := cmds[len(script)-1]
	if strings.Contains(last.Text, "|TEST") {
		t.Errorf("HubList after HubDelete still lists TEST:\n%s", last.Text)
	}

	// Hub admin mode: its own hub works, server-wide commands are refused.
	hubCmds := vpncmd(t, r, adminPort, []string{"/HUB:DEFAULT", "/PASSWORD:hubpw"}, "UserList", "HubCreate X /PASSWORD:x")
	if len(hubCmds) < 2 || !hubCmds[0].OK() {
		t.Fatalf("hub admin UserList failed: %+v", hubCmds)
	}
	if hubCmds[1].OK() || !strings.Contains(hubCmds[1].Text, "Error code: 52") {
		t.Errorf("hub admin HubCreate: want error 52:\n%+v", hubCmds)
	}
}

// mustJSONRPC returns a function that makes one JSON-RPC call as the
// server's administrator and fails the test on an error.
func mustJSONRPC(t *testing.T, r *testrig.Rig) func(method string, params map[string]any) map[string]any {
	return func(method string, params map[string]any) map[string]any {
		t.Helper()
		res, code := jsonRPC(t, r, "", adminPW, method, params)
		if code != 0 {
			t.Fatalf("%s: error code %d", method, code)
		}
		return res
	}
}

// jsonRPC posts one JSON-RPC call with curl inside the server namespace.
func jsonRPC(t *testing.T, r *testrig.Rig, hub, password, method string, params map[string]any) (result map[string]any, code int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "e2e", "method": method, "params": params})
	out, err := r.Server.Run(30*time.Second, "curl", "-sk", "--max-time", "20", "-X", "POST",
		fmt.Sprintf("https://127.0.0.1:%d/api/", adminPort),
		"-H", "X-VPNADMIN-HUBNAME: "+hub, "-H", "X-VPNADMIN-PASSWORD: "+password, "-d", string(body))
	if err != nil {
		t.Fatalf("curl %s: %v: %s", method, err, out)
	}
	var resp struct {
		Result map[string]any `json:"result"`
		Error  *struct {
			Code int `json:"code"`
		} `json:"error"`
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("%s: not a JSON-RPC answer: %v: %q", method, err, out)
	}
	if resp.ID != "e2e" {
		t.Errorf("%s: id %q, want e2e", method, resp.ID)
	}
	if resp.Error != nil {
		return nil, resp.Error.Code
	}
	return resp.Result, 0
}

func TestAdminJSONRPC(t *testing.T) {
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	r.StartServer(kind, adminServerConfig())

	must := mustJSONRPC(t, r)
	res := must("CreateHub", map[string]any{"HubName_str": "JHUB", "AdminPasswordPlainText_str": "hubpass", "Online_bool": true, "HubType_u32": 0})
	if res["HashedPassword_bin"] != "oR/HhTVRxuqrSh2+ZCGkagCbOX8=" {
		t.Errorf("CreateHub HashedPassword_bin = %v", res["HashedPassword_bin"])
	}
	if _, code := jsonRPC(t, r, "", adminPW, "CreateHub", map[string]any{"HubName_str": "JHUB"}); code != 57 {
		t.Errorf("CreateHub again: code %d, want 57", code)
	}
	must("CreateUser", map[string]any{"HubName_str": "JHUB", "Name_str": "bob", "AuthType_u32": 1, "Auth_Password_str": "pw"})
	must("EnableSecureNAT", map[string]any{"HubName_str": "JHUB"})
	opt := must("GetSecureNATOption", map[string]any{"RpcHubName_str": "JHUB"})
	opt["Mtu_u32"] = 1300
	opt["DhcpDomainName_str"] = "json.example"
	must("SetSecureNATOption", opt)
	if got := must("GetSecureNATOption", map[string]any{"RpcHubName_str": "JHUB"}); got["Mtu_u32"] != float64(1300) || got["DhcpDomainName_str"] != "json.example" {
		t.Errorf("GetSecureNATOption after Set: Mtu %v domain %v", got["Mtu_u32"], got["DhcpDomainName_str"])
	}
	bad := map[string]any{"RpcHubName_str": "JHUB", "Ip_ip": "10.20.0.0", "Mask_ip": "255.255.255.0", "MacAddress_bin": "AAy3AAAB"}
	if _, code := jsonRPC(t, r, "", adminPW, "SetSecureNATOption", bad); code != 38 {
		t.Errorf("SetSecureNATOption with a network address: code %d, want 38", code)
	}
	for _, m := range []string{"EnumNAT", "EnumDHCP"} {
		res := must(m, map[string]any{"HubName_str": "JHUB"})
		if _, ok := res["NumItem_u32"]; !ok {
			t.Errorf("%s: no NumItem_u32 in %v", m, res)
		}
	}
	must("EnumSession", map[string]any{"HubName_str": "JHUB"})
	hubs := must("EnumHub", map[string]any{})
	if list, _ := hubs["HubList"].([]any); len(list) != 2 {
		t.Errorf("EnumHub: %v", hubs["HubList"])
	}
	// The hub admin of JHUB: its hub only.
	if _, code := jsonRPC(t, r, "JHUB", "hubpass", "EnumUser", map[string]any{"HubName_str": "JHUB"}); code != 0 {
		t.Errorf("hub admin EnumUser: code %d", code)
	}
	if _, code := jsonRPC(t, r, "JHUB", "hubpass", "EnumUser", map[string]any{"HubName_str": "DEFAULT"}); code != 52 {
		t.Errorf("hub admin on another hub: code %d, want 52", code)
	}
	if _, code := jsonRPC(t, r, "JHUB", "hubpass", "DeleteHub", map[string]any{"HubName_str": "JHUB"}); code != 52 {
		t.Errorf("hub admin DeleteHub: code %d, want 52", code)
	}
	must("DeleteUser", map[string]any{"HubName_str": "JHUB", "Name_str": "bob"})
	must("DeleteHub", map[string]any{"HubName_str": "JHUB"})

	// Wrong credentials: 401 before any method runs.
	out, err := r.Server.Run(30*time.Second, "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
		"-X", "POST", fmt.Sprintf("https://127.0.0.1:%d/api/", adminPort), "-H", "X-VPNADMIN-PASSWORD: wrong",
		"-d", `{"jsonrpc":"2.0","id":"x","method":"EnumHub","params":{}}`)
	if err != nil || strings.TrimSpace(out) != "401" {
		t.Errorf("wrong password: HTTP %q (%v), want 401", out, err)
	}
}

// TestAdminConfigRoundTrip moves vpn_server.config from ethervpn to the
// real vpnserver and back, managing each with vpncmd.
func TestAdminConfigRoundTrip(t *testing.T) {
	testrig.Require(t)
	r := testrig.New(t)
	ev := r.StartServer(testrig.Ethervpn, adminServerConfig())
	cmds := vpncmd(t, r, adminPort, []string{"/PASSWORD:" + adminPW},
		"HubCreate TRIP /PASSWORD:trippw", "Hub TRIP",
		"UserCreate carol /GROUP:none /REALNAME:Carol /NOTE:none", "UserPasswordSet carol /PASSWORD:pw1",
		"SecureNatEnable", "NatSet /MTU:1400 /TCPTIMEOUT:3600 /UDPTIMEOUT:300 /LOG:no")
	for _, c := range cmds {
		if !c.OK() {
			t.Fatalf("%s on ethervpn:\n%s", c.Line, c.Text)
		}
	}
	if err := ev.Stop(); err != nil {
		t.Logf("stopping ethervpn: %v", err)
	}
	text, err := ev.ConfigText()
	if err != nil {
		t.Fatal(err)
	}

	// The real vpnserver loads what ethervpn wrote.
	se := r.StartServerText(testrig.SoftEther, adminPort, adminPW, text)
	cmds = vpncmd(t, r, adminPort, []string{"/PASSWORD:" + adminPW},
		"HubList", "Hub TRIP", "UserList", "NatGet", "UserCreate dave /GROUP:none /REALNAME:Dave /NOTE:none")
	if c := byCommand(t, cmds, "HubList"); !c.OK() || !strings.Contains(c.Text, "|TRIP") {
		t.Fatalf("real vpnserver HubList:\n%s", c.Text)
	}
	if c := byCommand(t, cmds, "UserList"); c.Value("User Name") != "carol" || c.Value("Full Name") != "Carol" {
		t.Errorf("real vpnserver UserList:\n%s", c.Text)
	}
	if c := byCommand(t, cmds, "NatGet"); c.Value("MTU Value") != "1400" {
		t.Errorf("real vpnserver NatGet:\n%s", c.Text)
	}
	if c := byCommand(t, cmds, "UserCreate"); !c.OK() {
		t.Fatalf("real vpnserver UserCreate:\n%s", c.Text)
	}
	if err := se.Stop(); err != nil {
		t.Logf("stopping vpnserver: %v", err)
	}
	text, err = se.ConfigText()
	if err != nil {
		t.Fatal(err)
	}

	// And back: ethervpn loads what the real vpnserver wrote.
	r.StartServerText(testrig.Ethervpn, adminPort, adminPW, text)
	cmds = vpncmd(t, r, adminPort, []string{"/PASSWORD:" + adminPW}, "Hub TRIP", "UserList", "UserGet carol", "UserGet dave")
	for _, c := range cmds {
		if !c.OK() {
			t.Errorf("%s on ethervpn after the real vpnserver:\n%s", c.Line, c.Text)
		}
	}
	if c := byCommand(t, cmds, "UserGet dave"); c.Value("Full Name") != "Dave" {
		t.Errorf("UserGet dave:\n%s", c.Text)
	}
}
