package config

import (
	"bytes"
	"testing"
	"time"
)

// The hub's own times and login count are model fields (EnumHub and
// GetHubStatus read them without the tree), and they go back to the file.
func TestHubTimes(t *testing.T) {
	s, _ := loadReal(t)
	h := s.Hub("TESTHUB")
	if want := time.UnixMilli(1795209357982 + seTimeOffset).UTC(); !h.CreatedTime.Equal(want) {
		t.Errorf("CreatedTime %v, want %v", h.CreatedTime, want)
	}
	if want := time.UnixMilli(1795209359027 + seTimeOffset).UTC(); !h.LastCommTime.Equal(want) {
		t.Errorf("LastCommTime %v, want %v", h.LastCommTime, want)
	}
	c := s.Clone()
	e := c.EditHub("TESTHUB")
	e.NumLogin, e.LastLoginTime = 7, time.UnixMilli(1795209400000+seTimeOffset).UTC()
	back, err := FromTree(c.ToTree().Clone())
	if err != nil {
		t.Fatal(err)
	}
	if b := back.Hub("TESTHUB"); b.NumLogin != 7 || !b.LastLoginTime.Equal(e.LastLoginTime) || !b.Equal(e) {
		t.Errorf("read back NumLogin %d LastLoginTime %v", b.NumLogin, b.LastLoginTime)
	}
	if n := NewHub("X"); n.CreatedTime.IsZero() || time.Since(n.CreatedTime) > time.Minute {
		t.Errorf("new hub created at %v", n.CreatedTime)
	}
}

// A hand-written hub whose LogSetting lacks the switch types logs daily
// (as ethervpn always ran it), and the unchanged model leaves the file
// as it was.
func TestLogSwitchTypeAbsentIsDaily(t *testing.T) {
	in := "declare root\r\n{\r\n\tuint ConfigRevision 1\r\n\r\n" +
		"\tdeclare ServerConfiguration\r\n\t{\r\n\t\tuint ServerType 0\r\n\t}\r\n" +
		"\tdeclare VirtualHUB\r\n\t{\r\n\t\tdeclare VPN\r\n\t\t{\r\n" +
		"\t\t\tdeclare LogSetting\r\n\t\t\t{\r\n\t\t\t\tuint PacketLogSwitchType 1\r\n\t\t\t\tbool SavePacketLog true\r\n\t\t\t}\r\n" +
		"\t\t\tbool Online true\r\n\t\t}\r\n\t}\r\n}\r\n"
	root, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := root.Encode()
	s, err := FromTree(root)
	if err != nil {
		t.Fatal(err)
	}
	if l := s.Hub("VPN").Log; l.SecurityLogSwitchType != SwitchDaily || l.PacketLogSwitchType != 1 {
		t.Errorf("log settings %+v, want security daily, packet 1", l)
	}
	if got := s.ToTree().Encode(); !bytes.Equal(got, want) {
		t.Fatalf("unchanged model changed the file:\n%s", firstDiff(got, want))
	}
}
