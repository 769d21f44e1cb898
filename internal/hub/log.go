package hub

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
)

// Security-log records. The message is SoftEther's English string-table text
// (so logs read like the real server's); the attributes carry the same facts
// for machines. Formatting only happens when a logger wants the record.

func (h *Hub) logOn() bool {
	return h.log != nil && h.log.Enabled(context.Background(), slog.LevelWarn)
}

func (h *Hub) emit(event, msg string, attrs ...slog.Attr) {
	attrs = append(attrs, slog.String("event", event), slog.String("hub", h.name))
	h.log.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// macString formats a MAC the way SoftEther's logs do: 00-11-22-AA-BB-CC.
func macString(m uint64) string {
	return fmt.Sprintf("%02X-%02X-%02X-%02X-%02X-%02X",
		byte(m>>40), byte(m>>32), byte(m>>24), byte(m>>16), byte(m>>8), byte(m))
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

func (h *Hub) logMACRegist(p *Port, mac uint64, vlan uint16) {
	if !h.logOn() {
		return
	}
	if vlan == 0 {
		h.emit("LH_MAC_REGIST",
			fmt.Sprintf(`Session "%s": A new MAC address "%s" has been assigned.`, p.name, macString(mac)),
			slog.String("session", p.name), slog.String("mac", macString(mac)))
		return
	}
	h.emit("LH_MAC_REGIST_VLAN",
		fmt.Sprintf(`Session "%s": A new MAC address "%s" (VLAN ID: %d) has been assigned.`, p.name, macString(mac), vlan),
		slog.String("session", p.name), slog.String("mac", macString(mac)), slog.Int("vlan", int(vlan)))
}

func (h *Hub) logMACLimit(p *Port, mac uint64, limit int) {
	if !h.logOn() {
		return
	}
	count := int(p.nMAC.Load())
	event, why := "LH_MAC_LIMIT", "is allowed to have a maximum of"
	if p.pol.NoBridge {
		event, why = "LH_BRIDGE_LIMIT", "is denied bridges and is therefore allowed to hold no more than"
	}
	h.emit(event, fmt.Sprintf(`Session "%s": Although the virtual hub has attempt to assign a new MAC address "%s" was made, %d MAC addresses have already been assigned for this service. According to the security policy, this session %s %d MAC addresses. The packet has been discarded.`,
		p.name, macString(mac), count, why, limit),
		slog.String("session", p.name), slog.String("mac", macString(mac)),
		slog.Int("count", count), slog.Int("limit", limit))
}

func (h *Hub) logIPLimit(p *Port, ip netip.Addr, count, limit int, routing bool) {
	if !h.logOn() {
		return
	}
	event, why := "LH_IP_LIMIT", "is allowed to have a maximum of"
	if routing {
		event, why = "LH_ROUTING_LIMIT", "is denied routing and is therefore allowed to hold no more than"
	}
	h.emit(event, fmt.Sprintf(`Session "%s": Although the virtual hub has attempt to assign a new IP address %s was made, %d IP addresses have already been assigned for this service. According to the security policy, this session %s %d IP addresses. The packet has been discarded.`,
		p.name, ip, count, why, limit),
		slog.String("session", p.name), slog.String("ip", ip.String()),
		slog.Int("count", count), slog.Int("limit", limit))
}

func (h *Hub) logIPConflict(p *Port, ip netip.Addr, owner *Port, e *entry[ipKey]) {
	if !h.logOn() {
		return
	}
	other := ""
	if owner != nil {
		other = owner.name
	}
	dhcp := 0
	if e.dhcp.Load() {
		dhcp = 1
	}
	// SoftEther prints raw ticks; ours are milliseconds of the hub clock.
	created, updated, now := e.created.Load()/1e6, e.updated.Load()/1e6, h.now()/1e6
	h.emit("LH_IP_CONFLICT", fmt.Sprintf(`Session "%s": Although the virtual hub has attempt to use the IP address %s was made, this IP address is already being used by another session "%s" (MAC Address: "%s"). The security policy for this session denies duplication of IP addresses that are used by other sessions. The packet has been discarded. Detailed Information: CreatedTime=%d, UpdatedTime=%d, DhcpAllocated=%d, Now=%d`,
		p.name, ip, other, macString(e.mac.Load()), created, updated, dhcp, now),
		slog.String("session", p.name), slog.String("ip", ip.String()),
		slog.String("other_session", other), slog.String("other_mac", macString(e.mac.Load())))
}

func (h *Hub) logNoServer(p *Port, pk *packet) {
	if !h.logOn() {
		return
	}
	// The SYN+ACK goes from this session (local) to the peer that asked to
	// connect (remote). [GO]: ports in host order (SoftEther swaps bytes).
	h.emit("LH_NO_SERVER", fmt.Sprintf(`Session "%s": Although TCP/IP connection request (from %s:%d to %s:%d) was made to this session, because of the security policy denies operation as a server, the packet has been discarded.`,
		p.name, ipString(pk.dstIP), pk.dstPort, ipString(pk.srcIP), pk.srcPort),
		slog.String("session", p.name),
		slog.String("remote", netip.AddrPortFrom(pk.dstIP, pk.dstPort).String()),
		slog.String("local", netip.AddrPortFrom(pk.srcIP, pk.srcPort).String()))
}

func (h *Hub) logNoDHCP(p *Port, pk *packet) {
	if !h.logOn() {
		return
	}
	h.emit("LH_NO_DHCP", fmt.Sprintf(`Session "%s": Although host %s on this session sent a packet that allocates an IP address as a DHCP server for host %s on another session, this session's security policy denies operation as a DHCP server. The packet has been discarded.`,
		p.name, ipString(pk.srcIP), ipString(pk.dstIP)),
		slog.String("session", p.name), slog.String("src_ip", ipString(pk.srcIP)), slog.String("dst_ip", ipString(pk.dstIP)))
}

func (h *Hub) logRegistDHCP(server *Port, pk *packet, client *Port) {
	if !h.logOn() {
		return
	}
	// Argument order as in SoftEther (client session and MAC appear swapped
	// relative to the English words; kept for identical lines).
	h.emit("LH_REGIST_DHCP", fmt.Sprintf(`Session "%s": The DHCP server of host "%s" (%s) on this session allocated, for host "%s" on another session "%s", the new IP address %s.`,
		server.name, macString(pk.src), ipString(pk.srcIP), client.name, macString(pk.chaddr), pk.yiaddr),
		slog.String("session", server.name), slog.String("client_session", client.name),
		slog.String("client_mac", macString(pk.chaddr)), slog.String("ip", pk.yiaddr.String()))
}

func (h *Hub) logStorm(p *Port, k stormKey, rate int64) {
	if !h.logOn() {
		return
	}
	h.emit("LH_BCAST_STORM", fmt.Sprintf(`Session "%s": A large volume of broadcast packets has been detected. There are cases where packets are discarded based on the policy. The source MAC address is %s, the source IP address is %s, the destination IP address is %s. The number of broadcast packets is equal to or larger than %d items per 1 second (note this information is the result of mechanical analysis of part of the packets and could be incorrect).`,
		p.name, macString(k.mac), ipString(k.src), ipString(k.dst), rate),
		slog.String("session", p.name), slog.String("mac", macString(k.mac)),
		slog.String("src_ip", ipString(k.src)), slog.String("dst_ip", ipString(k.dst)), slog.Int64("rate", rate))
}

// logQueueBudget says that the output queues hold their whole shared
// budget (an ethervpn record; SoftEther has no such bound).
func (h *Hub) logQueueBudget(p *Port) {
	if !h.logOn() {
		return
	}
	b := p.budget
	h.emit("QUEUE_BUDGET_FULL", fmt.Sprintf(`The output queues of the sessions hold their whole budget of %d MiB: frames to session "%s" and any other session beyond its first %d KiB queued are dropped. Sessions that do not read what they are sent cause this.`,
		b.limit>>20, p.name, QueueReserve>>10),
		slog.String("session", p.name), slog.Int64("budget_bytes", b.limit), slog.Uint64("dropped_total", b.dropped.Load()))
}
