package cli

import (
	"strings"
	"testing"
)

// TestLogCommands runs the Log* commands against ethervpn's method table;
// the LogGet tables are the real vpncmd 5.01's output for the same script
// against ethervpn.
func TestLogCommands(t *testing.T) {
	_, dial := localServer(t)
	out := runScript(t, dial, strings.Join([]string{
		"Hub DEFAULT",
		"LogGet",
		"LogDisable packet",
		"LogSwitchSet security /SWITCH:hour",
		"LogPacketSaveType /TYPE:icmp /SAVE:full",
		"LogPacketSaveType /TYPE:tcpconn /SAVE:none",
		"LogEnable packet",
		"LogGet",
		"LogSwitchSet security /SWITCH:x",
		"LogEnable nothing",
	}, "\n"))
	for _, want := range []string{
		"Item                 |Value\n" +
			"---------------------+-------------------\n" +
			"Save Security Log    |Enable\n" +
			"Log File Switch Cycle|Switch in Every Day\n" +
			"                     |\n" +
			"Save Packet Log      |Enable\n" +
			"Log File Switch Cycle|Switch in Every Day\n" +
			"TCP Connection Log   |Header Only\n" +
			"TCP Packet Log       |Do not Save\n" +
			"DHCP Log             |Header Only\n",
		"LogSwitchSet command - Set Log File Switch Cycle\nThe command completed successfully.",
		"Log File Switch Cycle|Switch in Every Hour\n",
		"TCP Connection Log   |Do not Save\n",
		"ICMP Log             |Headers && Payloads\n",
		"LogSwitchSet command - Set Log File Switch Cycle\nInvalid specification.",
		"LogEnable command - Enable Security Log or Packet Log\nInvalid specification.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
