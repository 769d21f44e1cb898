package dhcpd

import (
	"fmt"
	"log/slog"
	"time"
)

// logCreated writes SoftEther's LH_NAT_DHCP_CREATED line (string table of
// 5.01, English), e.g. "SecureNAT: The DHCP entry 1 has been created. MAC
// address: 00-AC-85-40-B5-50, IP address: 192.168.30.10, host name: NT4,
// expiration span: 7200 seconds". An infinite lease prints 4294967, the
// C program's 0xFFFFFFFF ms / 1000.
func (s *Server) logCreated(b *binding) {
	span := int64(4294967)
	if s.cfg.lease > 0 {
		span = int64(s.cfg.lease / time.Second)
	}
	mac := FormatMAC(b.mac[:])
	s.cfg.log.Info(fmt.Sprintf("SecureNAT: The DHCP entry %d has been created. MAC address: %s, IP address: %s, host name: %s, expiration span: %d seconds",
		b.id, mac, b.ip, b.hostname, span),
		slog.Uint64("id", uint64(b.id)), slog.String("mac", mac), slog.String("ip", b.ip.String()),
		slog.String("hostname", b.hostname), slog.Int64("span_seconds", span))
}

// logExpired has no SoftEther counterpart (it does not log expiry); it
// follows the style of its "The TCP session %u has been deleted." line.
func (s *Server) logExpired(b *binding) {
	mac := FormatMAC(b.mac[:])
	s.cfg.log.Info(fmt.Sprintf("SecureNAT: The DHCP entry %d has expired and has been deleted. MAC address: %s, IP address: %s",
		b.id, mac, b.ip),
		slog.Uint64("id", uint64(b.id)), slog.String("mac", mac), slog.String("ip", b.ip.String()))
}

// exhaustedLogGap limits "pool exhausted" lines to one per gap: clients
// keep retrying DISCOVER, and the security log must not fill up.
const exhaustedLogGap = 10 * time.Second

func (s *Server) logExhausted(mac [6]byte, now time.Time) {
	if !s.lastExhausted.IsZero() && now.Sub(s.lastExhausted) < exhaustedLogGap {
		return
	}
	s.lastExhausted = now
	m := FormatMAC(mac[:])
	s.cfg.log.Warn(fmt.Sprintf("SecureNAT: The DHCP server has no free IP address for MAC address %s: the address pool %s-%s is exhausted.",
		m, s.cfg.start, s.cfg.end),
		slog.String("mac", m), slog.String("range_start", s.cfg.start.String()), slog.String("range_end", s.cfg.end.String()))
}
