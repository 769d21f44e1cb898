package cli

import (
	"strings"

	"github.com/ethervpn/ethervpn/internal/pack"
)

// logCommands are vpncmd's commands for a hub's log settings (GetHubLog /
// SetHubLog): LogGet, LogEnable, LogDisable, LogSwitchSet and
// LogPacketSaveType.
func logCommands() []*command {
	kind := arg("kind", "Select Security Log or Packet Log (security|packet):")
	return []*command{
		{name: "LogGet", needHub: true, run: logGet},
		{name: "LogEnable", needHub: true, params: []param{kind}, run: logEnable(true)},
		{name: "LogDisable", needHub: true, params: []param{kind}, run: logEnable(false)},
		{name: "LogSwitchSet", needHub: true, params: []param{kind, opt("SWITCH")}, run: logSwitchSet},
		{name: "LogPacketSaveType", needHub: true, params: []param{opt("TYPE"), opt("SAVE")}, run: logPacketSaveType},
	}
}

func init() {
	for k, v := range map[string]string{
		"LogGet":            "Get Log Save Setting of Virtual Hub",
		"LogEnable":         "Enable Security Log or Packet Log",
		"LogDisable":        "Disable Security Log or Packet Log",
		"LogSwitchSet":      "Set Log File Switch Cycle",
		"LogPacketSaveType": "Set Save Contents and Type of Packet to Save to Packet Log",
	} {
		commandDesc[k] = v
	}
}

// The switch cycles (SecurityLogSwitchType / PacketLogSwitchType values)
// with vpncmd's names and texts.
var (
	logSwitchNames = []string{"none", "sec", "min", "hour", "day", "month"}
	logSwitchText  = []string{"No Switching", "Switch in Every Second", "Switch in Every Minute",
		"Switch in Every Hour", "Switch in Every Day", "Switch in Every Month"}
	// The packet-log categories in PacketLogConfig order, vpncmd's names and
	// LogGet's row titles.
	logTypeNames = []string{"tcpconn", "tcpdata", "dhcp", "udp", "icmp", "ip", "arp", "ether"}
	logTypeText  = []string{"TCP Connection Log", "TCP Packet Log", "DHCP Log", "UDP Log", "ICMP Log",
		"IP Log", "ARP Log", "Ethernet Log"}
	logSaveNames = []string{"none", "header", "full"}
	logSaveText  = []string{"Do not Save", "Header Only", "Headers && Payloads"} // sic, as vpncmd prints it
)

const invalidSpec = "Invalid specification."

func (s *Session) hubLog() (*pack.Pack, error) { return s.call("GetHubLog", s.hubPack()) }

// setHubLog sends back the whole setting with change applied, as vpncmd does.
func (s *Session) setHubLog(cur *pack.Pack, change func(p *pack.Pack)) error {
	p := s.hubPack()
	p.AddBool("SaveSecurityLog", cur.Bool("SaveSecurityLog"))
	p.AddInt("SecurityLogSwitchType", cur.Int("SecurityLogSwitchType"))
	p.AddBool("SavePacketLog", cur.Bool("SavePacketLog"))
	p.AddInt("PacketLogSwitchType", cur.Int("PacketLogSwitchType"))
	cfg := make([]uint32, 16)
	for i := range cfg {
		cfg[i] = cur.IntAt("PacketLogConfig", i)
	}
	p.AddInts("PacketLogConfig", cfg)
	change(p)
	_, err := s.call("SetHubLog", p)
	return err
}

func textAt(texts []string, v uint32) string {
	if int(v) < len(texts) {
		return texts[v]
	}
	return ""
}

func logGet(s *Session, _ cmdArgs) error {
	p, err := s.hubLog()
	if err != nil {
		return err
	}
	t := newStandard()
	t.item("Save Security Log", enableText(p.Bool("SaveSecurityLog")))
	t.item("Log File Switch Cycle", textAt(logSwitchText, p.Int("SecurityLogSwitchType")))
	t.item("", "")
	t.item("Save Packet Log", enableText(p.Bool("SavePacketLog")))
	t.item("Log File Switch Cycle", textAt(logSwitchText, p.Int("PacketLogSwitchType")))
	for i, title := range logTypeText {
		t.item(title, textAt(logSaveText, p.IntAt("PacketLogConfig", i)))
	}
	s.show(t)
	return nil
}

func enableText(on bool) string {
	if on {
		return "Enable"
	}
	return "Disable"
}

// logKind reads the security|packet argument: the names of the pack's
// Save and SwitchType items.
func logKind(v string) (save, switchType string, ok bool) {
	switch strings.ToLower(v) {
	case "security":
		return "SaveSecurityLog", "SecurityLogSwitchType", true
	case "packet":
		return "SavePacketLog", "PacketLogSwitchType", true
	}
	return "", "", false
}

func logEnable(on bool) func(*Session, cmdArgs) error {
	return func(s *Session, a cmdArgs) error {
		save, _, ok := logKind(a[""])
		if !ok {
			return usageError(invalidSpec)
		}
		cur, err := s.hubLog()
		if err != nil {
			return err
		}
		return s.setHubLog(cur, func(p *pack.Pack) { p.Delete(save); p.AddBool(save, on) })
	}
}

func logSwitchSet(s *Session, a cmdArgs) error {
	_, item, ok := logKind(a[""])
	v := indexOf(logSwitchNames, a["SWITCH"])
	if !ok || v < 0 {
		return usageError(invalidSpec)
	}
	cur, err := s.hubLog()
	if err != nil {
		return err
	}
	return s.setHubLog(cur, func(p *pack.Pack) { p.Delete(item); p.AddInt(item, uint32(v)) })
}

func logPacketSaveType(s *Session, a cmdArgs) error {
	typ, save := indexOf(logTypeNames, a["TYPE"]), indexOf(logSaveNames, a["SAVE"])
	if typ < 0 || save < 0 {
		return usageError(invalidSpec)
	}
	cur, err := s.hubLog()
	if err != nil {
		return err
	}
	return s.setHubLog(cur, func(p *pack.Pack) {
		cfg := make([]uint32, 16)
		for i := range cfg {
			cfg[i] = p.IntAt("PacketLogConfig", i)
		}
		cfg[typ] = uint32(save)
		p.Delete("PacketLogConfig")
		p.AddInts("PacketLogConfig", cfg)
	})
}

// indexOf finds v among names, ignoring case; -1 if absent.
func indexOf(names []string, v string) int {
	for i, n := range names {
		if strings.EqualFold(n, strings.TrimSpace(v)) {
			return i
		}
	}
	return -1
}
