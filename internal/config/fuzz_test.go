package config

import (
	"bytes"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse (text and binary): it must not
// panic; whatever it accepts must come back as the same tree when written
// and read again (text and binary) and encode to a fixed point; and, the
// strictness that keeps a damaged file from loading, no shorter prefix of
// an accepted input may be accepted as a different tree, and no text with
// a raw control byte is accepted.
func FuzzParse(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input, and a 20 KB file
	// makes each step slow. The real file is covered by the unit tests.
	small := NewFolder(RootName)
	small.SetUint("ConfigRevision", 3)
	small.Ensure("ServerConfiguration").SetBytes("HashedPassword", make([]byte, 20))
	hub := small.Ensure("VirtualHUB").Ensure("H")
	hub.SetBool("Online", true)
	hub.SetUint64("CreatedTime", 1795209357395)
	hub.SetString("Note", "a b$")
	f.Add(small.Encode())
	f.Add(small.EncodeBinary())
	f.Add([]byte("declare root\n{\n\tstring a $20$24$\n\tbyte b AQ\n\tdeclare x\n\t{\n\t}\n}\n"))
	f.Add([]byte("declare root\r{\ruint64 x 18446744073709551615\r}"))
	f.Add([]byte("# c\ndeclare root\n{\nbool b 1\n\tdeclare ServerConfiguration\n{\nbyte HashedPassword AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n}\n}\n// end"))
	f.Add([]byte("SEVPN_DB"))
	// one of each part of the model, as the real server writes them
	parts := NewFolder(RootName)
	parts.Ensure("ServerConfiguration").Ensure("SyslogSettings").SetUint("Port", 514)
	sw := parts.Ensure("VirtualLayer3SwitchList").Ensure("S")
	r := sw.Ensure("RoutingTable").Ensure("Entry0")
	r.SetString("NetworkAddress", "10.1.0.0")
	r.SetString("SubnetMask", "255.255.0.0")
	sw.Ensure("InterfaceList").Ensure("Interface0").SetString("HubName", "H")
	b := parts.Ensure("LocalBridgeList").Ensure("LocalBridge0")
	b.SetString("HubName", "H")
	b.SetString("DeviceName", "eth1")
	ph := parts.Ensure("VirtualHUB").Ensure("H")
	ac := ph.Ensure("SecurityAccountDatabase").Ensure("IPAccessControlList").Ensure("Acl1")
	ac.SetBool("Deny", true)
	ac.SetString("IpAddress", "10.250.0.0")
	ac.SetString("NetMask", "255.255.0.0")
	rule := ph.Ensure("AccessList").Ensure("1")
	rule.SetBool("IsIPv6", true)
	rule.SetString("SrcIpAddress6", "2001:db8::")
	rule.SetUint("Delay", 100)
	ph.Ensure("AdminOption").SetUint("max_users", 5)
	ph.Ensure("Option").SetString("VlanTypeId", "0x8100")
	ph.Ensure("LogSetting").SetUint("PACKET_LOG_TCP", 1)
	f.Add(parts.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := Parse(b)
		if err != nil {
			return
		}
		// no accepted text file holds a raw control byte other than TAB,
		// CR and LF: one is damage, such as zeros from a disk error
		if !bytes.HasPrefix(b, []byte(binaryMagic)) {
			if i := bytes.IndexFunc(b, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\r' && r != '\n' }); i >= 0 {
				t.Fatalf("text with raw byte 0x%02X at offset %d accepted", b[i], i)
			}
		}
		text := root.Encode()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("re-parse of our own output failed: %v\n%q", err, text)
		}
		if !again.Equal(root) {
			t.Fatalf("parse -> write -> parse changed the tree:\n%q", text)
		}
		if text2 := again.Encode(); !bytes.Equal(text, text2) {
			t.Fatalf("encode is not stable:\n%q\n%q", text, text2)
		}
		bin, err := Parse(root.EncodeBinary())
		if err != nil {
			t.Fatalf("binary re-parse failed: %v", err)
		}
		if !bin.Equal(root) {
			t.Fatal("binary round trip changed the tree")
		}
		// A cut input is refused or the same tree (only line ends and
		// comments may follow the root folder).
		for _, n := range []int{len(b) - 1, len(b) - 2, len(b) / 2, len(b) / 3, 2 * len(b) / 3} {
			if n <= 0 || n >= len(b) {
				continue
			}
			if cut, err := Parse(b[:n]); err == nil && !cut.Equal(root) {
				t.Fatalf("the first %d of %d bytes parse as a different tree", n, len(b))
			}
		}
		// the typed model accepts whatever the tree holds, and an unchanged
		// model leaves the tree as it was
		s, err := FromTree(again)
		if err != nil {
			return
		}
		if got := s.ToTree().Encode(); !bytes.Equal(got, text) {
			t.Fatalf("unchanged model rewrote the tree:\n%q\n%q", text, got)
		}
		// a model changed in every part is written so that it reads back
		// as the same model
		changeEveryPart(s)
		out := s.ToTree().Encode()
		tree, err := Parse(out)
		if err != nil {
			t.Fatalf("our output does not parse: %v\n%q", err, out)
		}
		back, err := FromTree(tree)
		if err != nil {
			t.Fatalf("our output is refused: %v\n%q", err, out)
		}
		if !s.Equal(back) {
			t.Fatalf("changed model reads back different (Server.Equal):\n%q", out)
		}
		if da, db := detach(s), detach(back); !reflect.DeepEqual(da, db) {
			t.Fatalf("changed model reads back different:\n%+v\n%+v\n%q", da, db, out)
		}
	})
}

// changeEveryPart changes each part of the model that ToTree writes
// whole, deriving the new values from the old ones.
func changeEveryPart(s *Server) {
	a := netip.MustParseAddr
	for _, h := range s.Hubs {
		h.AcList = append(slices.Clone(h.AcList), AcEntry{Deny: true, Priority: uint32(len(h.AcList)), IP: a("10.250.0.0"), Mask: a("255.255.0.0")})
		slices.Reverse(h.AcList)
		h.AccessList = append(slices.Clone(h.AccessList), Access{Note: h.Name, Active: true, IPv6: true, SrcIP: a("2001:db8::"), SrcMask: a("ffff::"), Delay: 7})
		slices.Reverse(h.AccessList)
		h.SetAdminOption("max_users", uint32(len(h.AdminOptions)))
		h.Options.NoIpTable = !h.Options.NoIpTable
		h.Options.VlanTypeId++
		h.Log.PacketLog.TCP++
	}
	s.Syslog.Port++
	s.KeepConnect.Use = !s.KeepConnect.Use
	s.Options.MaxConnectionsPerIP++
	s.L3Switches = append(cloneL3(s.L3Switches), L3Switch{
		L3SwitchSettings: L3SwitchSettings{Name: "FUZZ" + strconv.Itoa(len(s.L3Switches))},
		Routes:           []L3Route{{Network: a("10.1.0.0"), Mask: a("255.255.0.0"), Gateway: a("10.0.0.1"), Metric: 1}},
	})
	s.LocalBridges.DoNotDisableOffloading = !s.LocalBridges.DoNotDisableOffloading
}
