package cli

import (
	"strings"
	"testing"
)

// TestACListCommands runs AcAdd, AcAdd6, AcList and AcDel against
// ethervpn's method table; the table reads as vpncmd 5.01's.
func TestACListCommands(t *testing.T) {
	_, dial := localServer(t)
	out := runScript(t, dial, strings.Join([]string{
		"Hub DEFAULT",
		"AcList",
		"AcAdd deny /PRIORITY:10 /IP:10.0.0.0/255.0.0.0",
		"AcAdd6 allow /PRIORITY:5 /IP:2001:db8::/32",
		"AcAdd maybe /PRIORITY:1 /IP:10.0.0.1/32",
		"AcAdd allow /PRIORITY:1 /IP:10.0.0.1",
		"AcList",
		"AcDel 1",
		"AcDel 7",
		"AcList",
	}, "\n"))
	for _, want := range []string{
		"AcAdd command - Add Rule to Source IP Address Limit List (IPv4)\nThe command completed successfully.",
		"Specify allow or deny.",
		"Specify in the format of \"IPv4 address/mask\".",
		"ID|Priority|Action|Contents\n" +
			"--+--------+------+-------------\n" +
			" 1|       5|Pass  |2001:db8::/32\n" +
			" 2|      10|Deny  |10.0.0.0/8\n",
		"Error occurred. (Error code: 29)",
		"ID|Priority|Action|Contents\n" +
			"--+--------+------+----------\n" +
			" 1|      10|Deny  |10.0.0.0/8\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
