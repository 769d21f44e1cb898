package server

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
)

// BenchmarkAdminLoop10k is one round of ethervpn-bench ctl's admin loop
// (SetUser, AddAccess, DeleteAccess) on a hub of 10,000 users and 1,000
// access rules, in process, saved to a file as the server does: where an
// administrator's change costs the server's CPU.
func BenchmarkAdminLoop10k(b *testing.B) {
	s, d, _ := openAdmin(b)
	if err := s.ctl.Update(func(next *config.Server) error {
		h := next.EditHub("DEFAULT")
		for i := range 10000 {
			name := fmt.Sprintf("user%05d", i)
			hash := sha0.HashPassword(name, "pw")
			h.Users = append(h.Users, &config.User{Name: name, AuthType: userAuthPassword, PasswordHash: hash[:]})
		}
		for i := range 1000 {
			h.AccessList = append(h.AccessList, config.Access{Active: true, Priority: uint32(i + 1), Protocol: 6,
				SrcIP: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), SrcMask: netip.MustParseAddr("255.255.255.0"),
				DstIP: netip.IPv4Unspecified(), DstMask: netip.IPv4Unspecified(), DstPortStart: 443, DstPortEnd: 443})
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	add := params("HubName", "DEFAULT", "Active", true, "Priority", 100000, "Protocol", 6,
		"SrcIpAddress", netip.MustParseAddr("10.99.0.0"), "SrcSubnetMask", netip.MustParseAddr("255.255.0.0"))
	del := params("HubName", "DEFAULT", "Id", 1001)
	for i := 0; b.Loop(); i++ {
		set := params("HubName", "DEFAULT", "Name", fmt.Sprintf("user%05d", i%10000), "AuthType", 1, "Auth_Password", "pw2")
		for _, c := range []struct {
			method string
			in     *pack.Pack
		}{{"SetUser", set}, {"AddAccess", add}, {"DeleteAccess", del}} {
			if _, err := d.Call(ctx, serverAdm, c.method, c.in); err != nil {
				b.Fatal(c.method, err)
			}
		}
	}
}
