package cli

import (
	"archive/zip"
	"os"
	"strings"
	"testing"
)

// TestProtocolCommands runs the native protocols' commands against
// ethervpn's method table; the output must read like vpncmd's.
func TestProtocolCommands(t *testing.T) {
	_, dial := localServer(t)
	const key = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
	out := runScript(t, dial, strings.Join([]string{
		"PortsUDPGet",
		"PortsUDPSet 5555,1194",
		"PortsUDPSet 1194,x",
		"PortsUDPSet 0",
		"PortsUDPGet",
		"ProtoOptionsSet OpenVPN /NAME:Timeout /VALUE:45000",
		"ProtoOptionsSet OpenVPN /NAME:Obfuscation /VALUE:yes",
		"ProtoOptionsSet OpenVPN /NAME:NoSuchOption /VALUE:1",
		"ProtoOptionsSet L2TP /NAME:Enabled /VALUE:no",
		"ProtoOptionsGet OpenVPN",
		"OpenVpnEnable no",
		"OpenVpnGet",
		"SstpGet",
		"WgkAdd " + key + " /HUB:DEFAULT /USER:alice",
		"WgkAdd " + key + " /HUB:DEFAULT /USER:alice",
		"WgkEnum",
		"WgkDelete " + key,
		"WgkDelete " + key,
	}, "\n"))
	for _, want := range []string{
		"PortsUDPGet command - Lists the UDP ports that the server is listening on\n" +
			"Item     |Value\n---------+--------------------\nUDP ports|443, 992, 1194, 5555\n",
		"The port number list specification is invalid.",
		"PortsUDPSet command - Sets the UDP ports that the server should listen on\nError occurred. (Error code: 38)",
		"UDP ports|5555, 1194\n",
		"ProtoOptionsSet command - Sets an option's value for the specified protocol\nError occurred. (Error code: 29)",
		"Error occurred. (Error code: 38)",
		"Name       |Timeout\nType       |32 bit unsigned integer\nValue      |45000\n",
		"Name       |Obfuscation\nType       |Boolean\nValue      |True\n",
		"OpenVPN Clone Server Enabled|No\n",
		"SSTP VPN Clone Server Enabled|Yes\n",
		"Error occurred. (Error code: 112)",
		"Key                                         |Hub    |User\n" +
			"--------------------------------------------+-------+-----\n" +
			key + "|DEFAULT|alice\n",
		"WgkDelete command - Delete a WireGuard key\nError occurred. (Error code: 29)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// OpenVpnMakeConfig saves the zip under the name given plus ".zip", and
// says error 142 while OpenVPN is off.
func TestOpenVpnMakeConfigCommand(t *testing.T) {
	_, dial := localServer(t)
	// a relative name: one that starts with "/" reads as a /NAME: option, in vpncmd too
	t.Chdir(t.TempDir())
	base := "my_openvpn_config"
	out := runScript(t, dial, strings.Join([]string{
		"OpenVpnMakeConfig " + base,
		"OpenVpnEnable no",
		"OpenVpnMakeConfig " + base + "2.zip",
	}, "\n"))
	if want := `The sample setting file was saved as "` + base + `.zip".`; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if want := "OpenVpnMakeConfig command - Generate a Sample Setting File for OpenVPN Client\nError occurred. (Error code: 142)"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	zr, err := zip.OpenReader(base + ".zip")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if len(names) != 3 || names[0] != "readme.txt" || !strings.HasSuffix(names[1], "openvpn_remote_access_l3.ovpn") ||
		!strings.HasSuffix(names[2], "openvpn_site_to_site_bridge_l2.ovpn") {
		t.Errorf("zip holds %v", names)
	}
	if _, err := os.Stat(base + "2.zip"); err == nil {
		t.Error("a zip was saved while OpenVPN is off")
	}
}
