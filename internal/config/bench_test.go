package config

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/ethervpn/ethervpn/internal/sha0"
)

// BenchmarkToTree measures ToTree of an unchanged model (what the server
// pays on every admin call) for a hub with 10,000 users and 1,000 access
// rules.
func BenchmarkToTree(b *testing.B) {
	s := Default()
	h := s.Hub("DEFAULT")
	for i := range 10000 {
		u := NewUser("user" + strconv.Itoa(i))
		u.AuthType = 1
		pw := sha0.HashPassword(u.Name, "pw")
		u.PasswordHash = pw[:]
		h.Users = append(h.Users, u)
	}
	acl := s.ToTree().Folder("VirtualHUB").Folder("DEFAULT").Ensure("AccessList")
	for i := range 1000 {
		f := NewFolder(strconv.Itoa(i + 1))
		f.SetBool("Active", true)
		f.SetUint("Priority", uint32(i))
		f.SetString("SrcIpAddress", netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}).String())
		f.SetString("SrcSubnetMask", "255.255.255.0")
		acl.Folders = append(acl.Folders, f)
	}
	s, err := FromTree(s.Tree)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.ToTree()
	}
}
