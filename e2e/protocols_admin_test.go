package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/testrig"
)

// TestAdminProtocols drives the native protocols' settings with the real
// vpncmd 5.01 (PortsUDPSet/Get, ProtoOptionsGet/Set) and, for the
// commands vpncmd 5.01 no longer or not yet has (OpenVpnEnable/Get, the
// Wgk* list), with `ethervpn cmd`. With ETHERVPN_E2E_SERVER=softether
// the same script runs against the real vpnserver, which checks the
// expectations themselves (5.01 has no Timeout option and no Wgk RPC).
func TestAdminProtocols(t *testing.T) {
	testrig.Require(t)
	kind := testrig.SelectedServer(t)
	r := testrig.New(t)
	r.StartServer(kind, adminServerConfig()) // its own namespace: the port is free

	script := []string{
		"PortsUDPGet",
		"PortsUDPSet 5555,1194",
		"PortsUDPGet",
		"PortsUDPSet 0",
		"PortsUDPGet",
		"ProtoOptionsGet OpenVPN",
		"ProtoOptionsSet OpenVPN /NAME:ObfuscationMask /VALUE:e2emask",
		"ProtoOptionsSet OpenVPN /NAME:Timeout /VALUE:45000",
		"ProtoOptionsSet OpenVPN /NAME:NoSuchOption /VALUE:1",
		"ProtoOptionsSet L2TP /NAME:Enabled /VALUE:no",
		"ProtoOptionsGet OpenVPN",
		"ProtoOptionsGet SSTP",
	}
	cmds := ranAll(t, vpncmd(t, r, adminPort, []string{"/PASSWORD:" + adminPW}, script...), script)
	// the rig's configuration has no UDP ports and OpenVPN and SSTP off
	// (internal/testrig/config.go), as a test server should
	if !cmds[0].OK() || cmds[0].Value("UDP ports") != "" {
		t.Errorf("PortsUDPGet at first:\n%s", cmds[0].Text)
	}
	if c := cmds[2]; !cmds[1].OK() || c.Value("UDP ports") != "5555, 1194" { // as given, once each
		t.Errorf("PortsUDPGet after PortsUDPSet 5555,1194:\n%s\n%s", cmds[1].Text, c.Text)
	}
	// vpncmd 5.01 sends no port for "0" (its way to switch the UDP
	// listener off), which both servers take
	if !cmds[3].OK() || cmds[4].Value("UDP ports") != "" {
		t.Errorf("PortsUDPSet 0, then PortsUDPGet:\n%s\n%s", cmds[3].Text, cmds[4].Text)
	}
	cmds = append(cmds[:4], cmds[5:]...) // the option commands below keep their numbers
	first := cmds[4]
	// an option missing from a protocol's folder keeps its default (true
	// here) in SoftEther since 2021 (Server.c, SiLoadProtoCfg checks
	// CfgIsItem), which ethervpn follows; 5.01 reads it as false
	pushDummy := "True"
	if kind == testrig.SoftEther {
		pushDummy = "False"
	}
	for name, want := range map[string][]string{
		"DefaultClientOption":          {"String", "dev-type tun,link-mtu 1500,tun-mtu 1500,cipher AES-128-CBC,auth SHA1,keysize 128,key-method 2,tls-client"},
		"Enabled":                      {"Boolean", "False"},
		"Obfuscation":                  {"Boolean", "False"},
		"ObfuscationMask":              {"String", ""},
		"PushDummyIPv4AddressOnL2Mode": {"Boolean", pushDummy},
	} {
		if got := optionRow(first.Text, name); len(got) < 3 || got[1] != want[0] || got[2] != want[1] {
			t.Errorf("ProtoOptionsGet OpenVPN, %s = %q, want %q:\n%s", name, got, want, first.Text)
		}
	}
	// vpncmd 5.01 knows no uint32 options: ethervpn leaves them out for it
	// (5.01 has none), so it cannot name Timeout either
	if optionRow(first.Text, "Timeout") != nil {
		t.Errorf("vpncmd 5.01 was sent a uint32 option:\n%s", first.Text)
	}
	if !cmds[5].OK() {
		t.Errorf("ProtoOptionsSet ObfuscationMask:\n%s", cmds[5].Text)
	}
	for _, i := range []int{6, 7} {
		if !strings.Contains(cmds[i].Text, "Error code: 29") {
			t.Errorf("%s (an option vpncmd 5.01 does not see):\n%s", cmds[i].Line, cmds[i].Text)
		}
	}
	if !strings.Contains(cmds[8].Text, "Error code: 38") {
		t.Errorf("ProtoOptionsSet of an unknown protocol:\n%s", cmds[8].Text)
	}
	if got := optionRow(cmds[9].Text, "ObfuscationMask"); len(got) < 3 || got[2] != "e2emask" {
		t.Errorf("ProtoOptionsGet after the set:\n%s", cmds[9].Text)
	}
	if got := optionRow(cmds[10].Text, "Enabled"); len(got) < 3 || got[1] != "Boolean" || got[2] != "False" {
		t.Errorf("ProtoOptionsGet SSTP:\n%s", cmds[10].Text)
	}

	// ethervpn cmd, against whichever server
	bin := testrig.EthervpnBinary(t)
	evcmd := func(line string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		argv := r.Server.Cmd(append([]string{bin, "cmd", "127.0.0.1:" + strconv.Itoa(adminPort), "/SERVER",
			"/PASSWORD:" + adminPW, "/CMD"}, strings.Fields(line)...)...)
		out, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		return string(out)
	}
	// ethervpn cmd sets and shows the uint32 options (the real 5.01 has none)
	timeout := evcmd("ProtoOptionsSet OpenVPN /NAME:Timeout /VALUE:45000")
	if kind == testrig.Ethervpn {
		if !strings.Contains(timeout, "The command completed successfully.") {
			t.Errorf("ethervpn cmd ProtoOptionsSet Timeout:\n%s", timeout)
		}
		if out := evcmd("ProtoOptionsGet OpenVPN"); !strings.Contains(out, "Name       |Timeout\nType       |32 bit unsigned integer\nValue      |45000\n") ||
			!strings.Contains(out, "Name       |ObfuscationMask\nType       |String\nValue      |e2emask\n") {
			t.Errorf("ethervpn cmd ProtoOptionsGet OpenVPN after the sets:\n%s", out)
		}
	} else if !strings.Contains(timeout, "Error code: 29") {
		t.Errorf("ethervpn cmd ProtoOptionsSet Timeout on 5.01:\n%s", timeout)
	}
	if out := evcmd("OpenVpnEnable no"); !strings.Contains(out, "The command completed successfully.") {
		t.Errorf("OpenVpnEnable no:\n%s", out)
	}
	if out := evcmd("OpenVpnGet"); !strings.Contains(out, "OpenVPN Clone Server Enabled|No\n") {
		t.Errorf("OpenVpnGet after OpenVpnEnable no:\n%s", out)
	}
	if out := evcmd("SstpGet"); !strings.Contains(out, "SSTP VPN Clone Server Enabled|No\n") {
		t.Errorf("SstpGet:\n%s", out)
	}
	// the real vpncmd reads the change through ProtoOptionsGet
	if out := evcmd("OpenVpnEnable yes"); !strings.Contains(out, "The command completed successfully.") {
		t.Errorf("OpenVpnEnable yes:\n%s", out)
	}
	if c := vpncmd(t, r, adminPort, []string{"/PASSWORD:" + adminPW}, "ProtoOptionsGet OpenVPN"); len(c) == 0 ||
		strings.Join(optionRow(c[0].Text, "Enabled"), "|") != "Enabled|Boolean|True|" {
		t.Errorf("vpncmd ProtoOptionsGet after OpenVpnEnable yes:\n%+v", c)
	}

	// JSON-RPC: the option columns are arrays even with one option, as
	// the real server writes them
	res, code := jsonRPC(t, r, "", adminPW, "GetProtoOptions", map[string]any{"Protocol_str": "SSTP"})
	if code != 0 || res["Protocol_str"] != "SSTP" {
		t.Errorf("JSON-RPC GetProtoOptions SSTP: code %d, %v", code, res)
	}
	for _, k := range []string{"Name_str", "Type_u32", "Value_bin"} {
		if a, ok := res[k].([]any); !ok || len(a) != 1 {
			t.Errorf("JSON-RPC GetProtoOptions SSTP: %s = %#v, want an array of one", k, res[k])
		}
	}
	res, code = jsonRPC(t, r, "", adminPW, "GetOpenVpnSstpConfig", map[string]any{})
	if code != 0 || res["EnableOpenVPN_bool"] != true || res["EnableSSTP_bool"] != false {
		t.Errorf("JSON-RPC GetOpenVpnSstpConfig: code %d, %v", code, res)
	}

	if kind == testrig.SoftEther {
		return // 5.01 has no WireGuard key list
	}
	res, code = jsonRPC(t, r, "", adminPW, "AddWgk", map[string]any{
		"Key_str": []string{"2c8Ftd6C1ev9lTvsYnxQUEQ1kbpxiM3wcNWtOFNnmGk="}, "Hub_str": []string{"DEFAULT"}, "User_str": []string{"bob"}})
	if code != 0 {
		t.Errorf("JSON-RPC AddWgk: code %d, %v", code, res)
	}
	const key = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
	if out := evcmd("WgkAdd " + key + " /HUB:DEFAULT /USER:alice"); !strings.Contains(out, "The command completed successfully.") {
		t.Errorf("WgkAdd:\n%s", out)
	}
	if out := evcmd("WgkAdd " + key + " /HUB:DEFAULT /USER:alice"); !strings.Contains(out, "Error code: 112") {
		t.Errorf("WgkAdd of a key already there:\n%s", out)
	}
	if out := evcmd("WgkEnum"); !strings.Contains(out, key+"|DEFAULT|alice\n") ||
		!strings.Contains(out, "2c8Ftd6C1ev9lTvsYnxQUEQ1kbpxiM3wcNWtOFNnmGk=|DEFAULT|bob\n") {
		t.Errorf("WgkEnum:\n%s", out)
	}
	if out := evcmd("WgkDelete " + key); !strings.Contains(out, "The command completed successfully.") {
		t.Errorf("WgkDelete:\n%s", out)
	}
	if out := evcmd("WgkEnum"); strings.Contains(out, key) {
		t.Errorf("WgkEnum after WgkDelete:\n%s", out)
	}
	if out := evcmd("WgkDelete " + key); !strings.Contains(out, "Error code: 29") {
		t.Errorf("WgkDelete of a key not there:\n%s", out)
	}
}

// optionRow is the row of ProtoOptionsGet's table (vpncmd's, one line per
// option) whose first column is name, split at "|" and trimmed, or nil.
func optionRow(text, name string) []string {
	for _, l := range strings.Split(text, "\n") {
		f := strings.Split(l, "|")
		if len(f) == 4 && strings.TrimSpace(f[0]) == name {
			for i := range f {
				f[i] = strings.TrimSpace(f[i])
			}
			return f
		}
	}
	return nil
}
