package cli

import (
	"strings"
	"testing"
)

// TestExtOptionCommands runs ExtOptionList and ExtOptionSet against
// ethervpn's method table.
func TestExtOptionCommands(t *testing.T) {
	srv, dial := localServer(t)
	out := runScript(t, dial, strings.Join([]string{
		"Hub DEFAULT",
		"ExtOptionSet filterpppoe /VALUE:1",
		"ExtOptionSet NoSuchOption /VALUE:1",
		"ExtOptionSet FilterBPDU /VALUE:x",
		"ExtOptionList",
	}, "\n"))
	for _, want := range []string{
		"ExtOptionSet command - Set a Value of Virtual Hub Extended Options\nThe command completed successfully.",
		"Error occurred. (Error code: 29)",
		"FilterPPPoE                       |1",
		"FilterBPDU                        |0",
		"VlanTypeId                        |33024",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := srv.LookupHub("DEFAULT").Options().Filters; !got.PPPoE || got.BPDU {
		t.Errorf("filters in effect: %+v", got)
	}
}
