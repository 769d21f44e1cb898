package server

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethervpn/ethervpn/internal/hub"
)

// icmpFrame is an ICMPv4 echo request from MAC ..:01 10.0.0.1 to MAC ..:02.
func icmpFrame() []byte {
	b := make([]byte, 14+20+8)
	copy(b[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(b[6:12], []byte{2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(ip[2:], 28)
	copy(ip[12:16], []byte{10, 0, 0, 1})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	ip[20] = 8
	return b
}

// delivered sends frame from a to b and reports whether b got it.
func delivered(a, b *hub.Port, frame []byte) bool {
	a.Input([][]byte{frame})
	fs := b.Drain(nil, 0)
	for _, f := range fs {
		f.Release()
	}
	return len(fs) > 0
}

func TestApplyAccessLists(t *testing.T) {
	s, d, dir := openAdmin(t)
	h := s.LookupHub("DEFAULT")
	a := probe(t, h, "A")
	b := probe(t, h, "B")
	b.Input([][]byte{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x88, 0xb5}})
	a.Drain(nil, 0)
	if !delivered(a, b, icmpFrame()) {
		t.Fatal("ICMP not delivered without an access list")
	}
	call(t, d, hubAdm("DEFAULT"), "AddAccess", params("HubName", "DEFAULT", "Priority", 10, "Discard", true, "Active", true,
		"Protocol", 1, "SrcIpAddress", netip.MustParseAddr("10.0.0.0"), "SrcSubnetMask", netip.MustParseAddr("255.0.0.0"),
		"Delay", 20000))
	rules := h.AccessList()
	if len(rules) != 1 || !rules[0].Discard || rules[0].Protocol != 1 || rules[0].SrcMask != netip.MustParseAddr("255.0.0.0") ||
		rules[0].Delay != 10*time.Second {
		t.Fatalf("rules in effect: %+v", rules)
	}
	if delivered(a, b, icmpFrame()) {
		t.Error("ICMP delivered despite the discard rule")
	}

	// The list is in effect again after a restart.
	s2, err := Open(dir, s.log)
	if err != nil {
		t.Fatal(err)
	}
	if rules := s2.LookupHub("DEFAULT").AccessList(); len(rules) != 1 {
		t.Errorf("after restart: %d rules in effect, want 1", len(rules))
	}

	call(t, d, hubAdm("DEFAULT"), "DeleteAccess", params("HubName", "DEFAULT", "Id", 1))
	if !delivered(a, b, icmpFrame()) {
		t.Error("ICMP not delivered after DeleteAccess")
	}

	// SetAccessList, with an include: file in the user-list directory.
	writeUserList(t, dir, "users.txt", "# staff\nalice\n\n; old\nCORP\\bob\n")
	call(t, d, hubAdm("DEFAULT"), "SetAccessList", params("HubName", "DEFAULT", "Protocol", 0, "Active", true,
		"SrcUsername", "include:users.txt", "DestUsername", "carol"))
	rules = h.AccessList()
	if len(rules) != 1 || !slices.Equal(rules[0].SrcUserList, []string{"alice", `CORP\bob`}) || rules[0].DstUsername != "carol" {
		t.Errorf("rules in effect: %+v", rules)
	}
	call(t, d, hubAdm("DEFAULT"), "SetAccessList", params("HubName", "DEFAULT"))
	if rules := h.AccessList(); len(rules) != 0 {
		t.Errorf("an empty SetAccessList left %d rules", len(rules))
	}
}

func TestDataPathOptions(t *testing.T) {
	s, _, _ := openAdmin(t)
	hc := *s.ctl.Current().Hub("DEFAULT")
	hc.Options.AdjustTcpMssValue = 1300
	hc.Options.ApplyIPv4AccessListOnArpPacket = true
	hc.Options.VlanTypeId = 0x88a8
	var opt hub.Options
	s.mu.Lock()
	s.dataPathOptions(&opt, &hc)
	s.mu.Unlock()
	if opt.AdjustTCPMSS != 1300 || !opt.ApplyAccessListOnARP || opt.VLANTypeID != 0x88a8 || opt.DisableAdjustTCPMSS {
		t.Errorf("options: %+v", opt)
	}
}

func TestVLANIDPolicy(t *testing.T) {
	for in, want := range map[uint32]uint16{0: 0, 1: 1, 4095: 4095, 4096: 0} {
		if got := vlanID(in); got != want {
			t.Errorf("vlanID(%d) = %d, want %d", in, got, want)
		}
	}
}

// FuzzParseUserList checks the user list file parser: every name is one
// trimmed, non-empty line that is no comment and holds no line break or
// NUL, names come out in file order, and a file written back from the
// names reads the same.
func FuzzParseUserList(f *testing.F) {
	for _, seed := range []string{
		"alice\r\n# c\n// c\n; c\n  bob  \n",
		"\xef\xbb\xbfalice\rbob\r\rcarol", // byte order mark, CR-only lines, no final newline
		"CORP\\dave\nerin@example\ninclude:x\n\tfrank\t\n",
		"gr\x00ace\n\x00\n#\n//\n;\n",
		"",
		"\n\xef\xbb\xbfhenry", // a byte order mark after the start is part of the name
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		names := parseUserList(data)
		rest := string(data)
		for _, n := range names {
			switch {
			case n == "" || n != strings.TrimSpace(n) || strings.ContainsAny(n, "\r\n\x00"):
				t.Fatalf("bad name %q", n)
			case strings.HasPrefix(n, "#") || strings.HasPrefix(n, "//") || strings.HasPrefix(n, ";"):
				t.Fatalf("comment read as a name: %q", n)
			}
			i := strings.Index(rest, n)
			if i < 0 {
				t.Fatalf("name %q is not in the file, or out of order", n)
			}
			rest = rest[i+len(n):]
		}
		// (after a first empty line: a byte order mark counts only at the start)
		if again := parseUserList([]byte("\n" + strings.Join(names, "\n"))); !slices.Equal(again, names) {
			t.Fatalf("names %q read back as %q", names, again)
		}
	})
}
