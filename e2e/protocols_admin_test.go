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

const protoPort = 25680

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
	cfg := adminServerConfig()
	cfg.Port = protoPort
	r.StartServer(kind, cfg)

	script := []string{
		"PortsUDPGet",
		"PortsUDPSet 5555,1194",
		"PortsUDPGet",
		"PortsUDPSet 0",
		"ProtoOptionsGet OpenVPN",
		"ProtoOptionsSet OpenVPN /NAME:ObfuscationMask /VALUE:e2emask",
		"ProtoOptionsSet OpenVPN /NAME:Timeout /VALUE:45000",
		"ProtoOptionsSet OpenVPN /NAME:NoSuchOption /VALUE:1",
		"ProtoOptionsSet L2TP /NAME:Enabled /VALUE:no",
		"ProtoOptionsGet OpenVPN",
		"ProtoOptionsGet SSTP",
	}
	cmds := vpncmd(t, r, protoPort, []string{"/PASSWORD:" + adminPW}, script...)
	if len(cmds) < len(script) {
		t.Fatalf("vpncmd ran %d of %d commands; output:\n%+v", len(cmds), len(script), cmds)
	}
	cmds = cmds[:len(script)]
	if c := cmds[0]; !c.OK() || c.Value("UDP ports") != "443, 992, 1194, 5555" {
		t.Errorf("PortsUDPGet at first:\n%s", c.Text)
	}
	if c := cmds[2]; !cmds[1].OK() || c.Value("UDP ports") != "1194, 5555" {
		t.Errorf("PortsUDPGet after PortsUDPSet 5555,1194:\n%s\n%s", cmds[1].Text, c.Text)
	}
	if c := cmds[3]; !strings.Contains(c.Text, "Error code: 38") {
		t.Errorf("PortsUDPSet 0:\n%s", c.Text)
	}
	first := cmds[4]
	for _, want := range []string{"Name       |DefaultClientOption", "Name       |Enabled\nType       |Boolean\nValue      |True",
		"Name       |ObfuscationMask\nType       |String\nValue      |\n"} {
		if !strings.Contains(first.Text, want) {
			t.Errorf("ProtoOptionsGet OpenVPN lacks %q:\n%s", want, first.Text)
		}
	}
	if !cmds[5].OK() {
		t.Errorf("ProtoOptionsSet ObfuscationMask:\n%s", cmds[5].Text)
	}
	timeoutOK := cmds[6].OK()
	if kind == testrig.SoftEther {
		timeoutOK = strings.Contains(cmds[6].Text, "Error code: 29") // 5.01 has no Timeout option
	}
	if !timeoutOK {
		t.Errorf("ProtoOptionsSet Timeout:\n%s", cmds[6].Text)
	}
	if !strings.Contains(cmds[7].Text, "Error code: 29") {
		t.Errorf("ProtoOptionsSet of an unknown option:\n%s", cmds[7].Text)
	}
	if !strings.Contains(cmds[8].Text, "Error code: 38") {
		t.Errorf("ProtoOptionsSet of an unknown protocol:\n%s", cmds[8].Text)
	}
	after := cmds[9].Text
	if !strings.Contains(after, "Name       |ObfuscationMask\nType       |String\nValue      |e2emask\n") {
		t.Errorf("ProtoOptionsGet after the set:\n%s", after)
	}
	if kind == testrig.Ethervpn && !strings.Contains(after, "Name       |Timeout\nType       |32 bit unsigned integer\nValue      |45000\n") {
		t.Errorf("ProtoOptionsGet after setting Timeout:\n%s", after)
	}
	if !strings.Contains(cmds[10].Text, "Name       |Enabled\nType       |Boolean\nValue      |True") {
		t.Errorf("ProtoOptionsGet SSTP:\n%s", cmds[10].Text)
	}

	// ethervpn cmd, against whichever server
	bin := testrig.EthervpnBinary(t)
	evcmd := func(line string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		argv := r.Server.Cmd(append([]string{bin, "cmd", "127.0.0.1:" + strconv.Itoa(protoPort), "/SERVER",
			"/PASSWORD:" + adminPW, "/CMD"}, strings.Fields(line)...)...)
		out, _ := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		return string(out)
	}
	// the same table as vpncmd's
	if out := evcmd("ProtoOptionsGet OpenVPN"); !strings.Contains(out, strings.TrimSpace(after)) {
		t.Errorf("ethervpn cmd ProtoOptionsGet OpenVPN:\n%s\nvpncmd:\n%s", out, after)
	}
	if out := evcmd("OpenVpnEnable no"); !strings.Contains(out, "The command completed successfully.") {
		t.Errorf("OpenVpnEnable no:\n%s", out)
	}
	if out := evcmd("OpenVpnGet"); !strings.Contains(out, "OpenVPN Clone Server Enabled|No\n") {
		t.Errorf("OpenVpnGet after OpenVpnEnable no:\n%s", out)
	}
	if out := evcmd("SstpGet"); !strings.Contains(out, "SSTP VPN Clone Server Enabled|Yes\n") {
		t.Errorf("SstpGet:\n%s", out)
	}
	// the real vpncmd reads the change through ProtoOptionsGet
	if c := vpncmd(t, r, protoPort, []string{"/PASSWORD:" + adminPW}, "ProtoOptionsGet OpenVPN"); len(c) == 0 ||
		!strings.Contains(c[0].Text, "Name       |Enabled\nType       |Boolean\nValue      |False") {
		t.Errorf("vpncmd ProtoOptionsGet after OpenVpnEnable no:\n%+v", c)
	}
	if out := evcmd("OpenVpnEnable yes"); !strings.Contains(out, "The command completed successfully.") {
		t.Errorf("OpenVpnEnable yes:\n%s", out)
	}

	if kind == testrig.SoftEther {
		return // 5.01 has no WireGuard key list
	}
	const key = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
	if out := evcmd("WgkAdd " + key + " /HUB:DEFAULT /USER:alice"); !strings.Contains(out, "The command completed successfully.") {
		t.Errorf("WgkAdd:\n%s", out)
	}
	if out := evcmd("WgkAdd " + key + " /HUB:DEFAULT /USER:alice"); !strings.Contains(out, "Error code: 112") {
		t.Errorf("WgkAdd of a key already there:\n%s", out)
	}
	if out := evcmd("WgkEnum"); !strings.Contains(out, key+"|DEFAULT|alice\n") {
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
