package cli

import (
	"strings"
	"testing"
)

// TestRouterCommands runs the Router* commands against ethervpn's method
// table (a server that does not serve, so the switch starts but never
// comes online); the tables must read like vpncmd 5.01's against the real
// vpnserver.
func TestRouterCommands(t *testing.T) {
	_, dial := localServer(t)
	out := runScript(t, dial, strings.Join([]string{
		"RouterAdd r1",
		"RouterAdd r1",
		"RouterStart r1",
		"RouterIfAdd r1 /HUB:HUBA /IP:10.71.1.1/255.255.255.0",
		"RouterIfAdd r1 /HUB:HUBB /IP:10.71.2.1/24",
		"RouterIfAdd r1 /HUB:HUBC /IP:10.71.3.1/255.0.255.0",
		"RouterTableAdd r1 /NETWORK:10.99.0.0/255.255.0.0 /GATEWAY:10.71.2.254 /METRIC:1",
		"RouterTableAdd r1 /NETWORK:10.98.0.1/16 /GATEWAY:10.71.2.254 /METRIC:1",
		"RouterTableAdd r1 /NETWORK:10.98.0.0/16 /GATEWAY:10.71.2.254 /METRIC:0",
		"RouterList",
		"RouterIfList r1",
		"RouterTableList r1",
		"RouterStart r1",
		"RouterList",
		"RouterIfDel r1 /HUB:HUBB",
		"RouterStop r1",
		"RouterIfDel r1 /HUB:HUBB",
		"RouterTableDel r1 /NETWORK:10.99.0.0/16 /GATEWAY:10.71.2.254 /METRIC:1",
		"RouterDelete r1",
		"RouterList",
	}, "\n"))
	for _, want := range []string{
		"RouterAdd command - Define New Virtual Layer 3 Switch\nThe command completed successfully.",
		"Error occurred. (Error code: 92)",
		"RouterStart command - Start Virtual Layer 3 Switch Operation\nError occurred. (Error code: 102)",
		"Specify in the format of \"IPv4 address/mask\".",
		"The specified IP address is not a network address.",
		"You must specify an integer that is not less than 1.",
		"Layer 3 Switch Name|Running Status|Interfaces|Routing Tables\n" +
			"-------------------+--------------+----------+--------------\n" +
			"r1                 |Stop          |         2|             1\n",
		"RouterIfList command - Get List of Interfaces Registered on the Virtual Layer 3 Switch\n" +
			"IP Address|Subnet Mask  |Virtual Hub Name\n" +
			"----------+-------------+----------------\n" +
			"10.71.1.1 |255.255.255.0|HUBA\n" +
			"10.71.2.1 |255.255.255.0|HUBB\n",
		"RouterTableList command - Get List of Routing Tables of Virtual Layer 3 Switch \n" +
			"Network Address|Subnet Mask|Gateway Address|Metric\n" +
			"---------------+-----------+---------------+------\n" +
			"10.99.0.0      |255.255.0.0|10.71.2.254    |     1\n",
		"r1                 |Start (Error) |         2|             1\n",
		"RouterIfDel command - Delete Virtual Interface of Virtual Layer 3 Switch\nError occurred. (Error code: 96)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "The command completed successfully."); n != 14 {
		t.Errorf("%d commands succeeded, want 14:\n%s", n, out)
	}
}
