package dhcpd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandleFrame feeds arbitrary frames to a server: it must never panic,
// and every reply it makes must be a well-formed frame.
func FuzzHandleFrame(f *testing.F) {
	var src [6]byte
	copy(src[:], macA)
	frame := func(m *dhcpv4.DHCPv4) []byte {
		return buildFrame(src, broadcastMAC, false, 0, zeroIP, bcastIP, 68, 67, 1, m.ToBytes())
	}
	f.Add(frame(discover(macA, dhcpv4.WithOption(dhcpv4.OptHostName("seed")))))
	f.Add(frame(requestFor(macA, ip4("192.168.30.10"), serverIP)))
	f.Add(frame(newMsg(dhcpv4.MessageTypeInform, macA, dhcpv4.WithClientIP(net.IPv4(192, 168, 30, 77)))))
	f.Add(frame(newMsg(dhcpv4.MessageTypeRelease, macA, dhcpv4.WithClientIP(net.IPv4(192, 168, 30, 10)))))
	f.Add(frame(newMsg(dhcpv4.MessageTypeDecline, macA, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 30, 10))))))
	f.Add(buildFrame(src, broadcastMAC, true, 7, zeroIP, bcastIP, 68, 67, 1, discover(macB).ToBytes()))
	f.Add([]byte{})
	f.Add(make([]byte, 64))

	cfg := defaultConfig()
	cfg.RangeEnd = ip4("192.168.30.13") // small, so exhaustion paths run too
	cfg.PushRoutes = "10.0.0.0/8/192.168.30.254"
	cfg.Static = map[string]netip.Addr{"02-00-00-00-00-09": ip4("192.168.30.250")}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg.Clock = func() time.Time { now = now.Add(time.Second); return now }
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, ok := s.HandleFrame(b, nil)
		if !ok && len(out) != 0 {
			t.Fatalf("replies to a frame that was not taken")
		}
		for _, r := range out {
			decodeReply(t, r)
		}
		s.ExpireNow()
		_ = s.Leases()
	})
}

// FuzzParsePushRoutes checks that any text either fails cleanly or
// round-trips through the normalised form.
func FuzzParsePushRoutes(f *testing.F) {
	f.Add("10.0.0.0/8/192.168.30.254, 0.0.0.0/0.0.0.0/192.168.30.1")
	f.Add("1.2.3.4/255.255.255.255/5.6.7.8\n")
	f.Add("//")
	f.Fuzz(func(t *testing.T, text string) {
		routes, err := ParsePushRoutes(text)
		if err != nil {
			return
		}
		again, err := ParsePushRoutes(FormatPushRoutes(routes))
		if err != nil || FormatPushRoutes(again) != FormatPushRoutes(routes) {
			t.Fatalf("%q does not round-trip: %v", text, err)
		}
		if len(routes) > 0 && len(encodeRoutes(routes)) == 0 {
			t.Fatal("routes encode to nothing")
		}
	})
}
