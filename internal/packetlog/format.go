// Package packetlog writes the Virtual Hubs' packet logs as SoftEther does
// (docs/protocol/hub.md#packet-log): one CSV line per logged frame in
// DIR/packet_log/<HUB>/pkt_<date>.log. The hub decides which frames to log
// (hub.PacketLog); this package formats and writes their records off the
// forwarding path.
package packetlog

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/hub"
)

// Services names well-known ports, as /etc/services does ("http" for TCP
// 80); SoftEther writes a port as "name(port)" when it has a name.
type Services map[serviceKey]string

type serviceKey struct {
	port uint16
	udp  bool
}

// ParseServices reads an /etc/services file; the first name of a port wins.
func ParseServices(text string) Services {
	s := Services{}
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		portStr, proto, ok := strings.Cut(f[1], "/")
		port, err := strconv.ParseUint(portStr, 10, 16)
		if !ok || err != nil || (proto != "tcp" && proto != "udp") {
			continue
		}
		k := serviceKey{uint16(port), proto == "udp"}
		if _, dup := s[k]; !dup {
			s[k] = f[0]
		}
	}
	return s
}

func (s Services) port(p uint16, udp bool) string {
	if name, ok := s[serviceKey{p, udp}]; ok {
		return fmt.Sprintf("%s(%d)", name, p)
	}
	return strconv.Itoa(int(p))
}

// Fields is the number of CSV fields after the date and time.
const Fields = 18

// Format returns the CSV fields of a record (without date and time), "-"
// for the empty ones, commas inside a field turned into "_" as SoftEther
// does.
func Format(r *hub.PacketRecord, svc Services) string {
	var t [Fields]string
	t[0] = r.SrcSession
	t[1] = r.DstSession
	b := r.Frame
	if len(b) >= 14 {
		t[2] = strings.ToUpper(hex.EncodeToString(b[6:12]))
		t[3] = strings.ToUpper(hex.EncodeToString(b[0:6]))
		et := binary.BigEndian.Uint16(b[12:14])
		t[4] = fmt.Sprintf("0x%04X", et)
		l3, inner := b[14:], et
		if et == 0x8100 && len(b) >= 18 {
			l3, inner = b[18:], binary.BigEndian.Uint16(b[16:18])
		}
		switch {
		case inner == 0x0806:
			formatARP(&t, l3)
		case inner == 0x0800:
			formatIPv4(&t, l3, svc)
		case inner == 0x86DD:
			formatIPv6(&t, l3, svc)
		case inner >= 0x0600:
			t[6] = fmt.Sprintf("Proto=0x%04X", inner)
		}
	}
	t[5] = strconv.Itoa(r.Length)
	if r.Level >= hub.PacketLogAll {
		t[15] = strings.ToUpper(hex.EncodeToString(b))
	}
	if r.SrcPhysical.IsValid() {
		t[16] = r.SrcPhysical.String()
	}
	if r.DstPhysical.IsValid() {
		t[17] = r.DstPhysical.String()
	}
	var sb strings.Builder
	for i, f := range t {
		if i > 0 {
			sb.WriteByte(',')
		}
		if f == "" {
			f = "-"
		}
		sb.WriteString(fieldCleaner.Replace(f))
	}
	return sb.String()
}

// fieldCleaner keeps a field inside its column and its line: a DNS name
// from the network may hold anything.
var fieldCleaner = strings.NewReplacer(",", "_", "\r", "_", "\n", "_", "\x00", "_")

func formatARP(t *[Fields]string, p []byte) {
	t[6] = "ARPv4"
	if len(p) < 28 {
		return
	}
	ethIPv4 := binary.BigEndian.Uint16(p[0:2]) == 1 && binary.BigEndian.Uint16(p[2:4]) == 0x0800 && p[4] == 6 && p[5] == 4
	senderMAC := strings.ToUpper(hex.EncodeToString(p[8:14]))
	sender := netip.AddrFrom4([4]byte(p[14:18]))
	target := netip.AddrFrom4([4]byte(p[24:28]))
	switch binary.BigEndian.Uint16(p[6:8]) {
	case 1:
		t[7] = "Request"
		if ethIPv4 {
			t[14] = fmt.Sprintf("Who has %s? Please Tell %s(%s)", target, senderMAC, sender)
		}
	case 2:
		t[7] = "Response"
		if ethIPv4 {
			t[14] = fmt.Sprintf("%s has %s", senderMAC, sender)
		}
	}
}

func formatIPv4(t *[Fields]string, p []byte, svc Services) {
	if len(p) < 20 || p[0]>>4 != 4 {
		return
	}
	ihl := int(p[0]&0x0f) * 4
	proto := p[9]
	t[8] = netip.AddrFrom4([4]byte(p[12:16])).String()
	t[10] = netip.AddrFrom4([4]byte(p[16:20])).String()
	if binary.BigEndian.Uint16(p[6:8])&0x1fff != 0 {
		t[6] = fmt.Sprintf("IPv4_Fragment(0x%02X)", proto)
		return
	}
	if ihl < 20 || len(p) < ihl {
		t[6] = fmt.Sprintf("IPv4(0x%02X)", proto)
		return
	}
	formatL4(t, proto, p[ihl:], "v4", svc)
}

func formatIPv6(t *[Fields]string, p []byte, svc Services) {
	if len(p) < 40 || p[0]>>4 != 6 {
		return
	}
	t[8] = netip.AddrFrom16([16]byte(p[8:24])).String()
	t[10] = netip.AddrFrom16([16]byte(p[24:40])).String()
	next, rest := p[6], p[40:]
	for { // extension headers
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) < 8 {
				t[6] = fmt.Sprintf("IPv6(0x%02X)", next)
				return
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				t[6] = fmt.Sprintf("IPv6(0x%02X)", next)
				return
			}
			next, rest = rest[0], rest[n:]
			continue
		case 44: // fragment
			if len(rest) < 8 {
				t[6] = "IPv6(0x2C)"
				return
			}
			if binary.BigEndian.Uint16(rest[2:4])&0xfff8 != 0 {
				t[6] = fmt.Sprintf("IPv6_Fragment(0x%02X)", rest[0])
				return
			}
			next, rest = rest[0], rest[8:]
			continue
		}
		break
	}
	formatL4(t, next, rest, "v6", svc)
}

// formatL4 fills the transport fields; v is "v4" or "v6".
func formatL4(t *[Fields]string, proto uint8, p []byte, v string, svc Services) {
	switch {
	case proto == 1 && v == "v4" && len(p) >= 8:
		t[6] = "ICMPv4"
		switch p[0] {
		case 8:
			t[7] = "Echo Request"
		case 0:
			t[7] = "Echo Reply"
		}
	case proto == 58 && v == "v6" && len(p) >= 4:
		t[6] = "ICMPv6"
		switch p[0] {
		case 128:
			t[7], t[14] = "Echo Request", fmt.Sprintf("EchoDataSize=%d", max(len(p)-8, 0))
		case 129:
			t[7], t[14] = "Echo Reply", fmt.Sprintf("EchoDataSize=%d", max(len(p)-8, 0))
		case 133:
			t[7] = "Router Soliciation" // sic, as SoftEther spells it
		case 134:
			t[7] = "Router Advertisement"
		case 135:
			t[7] = "Neighbor Soliciation" // sic
		case 136:
			t[7] = "Neighbor Advertisement"
		default:
			t[7] = fmt.Sprintf("Type=%d", p[0])
		}
	case proto == 6 && len(p) >= 20:
		flags := p[13]
		if flags&0x07 != 0 { // FIN, SYN or RST
			t[6] = "TCP_CONNECT" + v
		} else {
			t[6] = "TCP_DATA" + v
		}
		t[7] = tcpFlags(flags)
		t[9] = svc.port(binary.BigEndian.Uint16(p[0:2]), false)
		t[11] = svc.port(binary.BigEndian.Uint16(p[2:4]), false)
		t[12] = strconv.FormatUint(uint64(binary.BigEndian.Uint32(p[4:8])), 10)
		t[13] = strconv.FormatUint(uint64(binary.BigEndian.Uint32(p[8:12])), 10)
		t[14] = fmt.Sprintf("WindowSize=%d", binary.BigEndian.Uint16(p[14:16]))
		if hl := int(p[12]>>4) * 4; hl >= 20 && hl < len(p) {
			if h := httpFields(p[hl:], binary.BigEndian.Uint16(p[2:4])); h != "" {
				t[14] += " " + h
			}
		}
	case proto == 17 && len(p) >= 8:
		sport, dport := binary.BigEndian.Uint16(p[0:2]), binary.BigEndian.Uint16(p[2:4])
		t[9], t[11] = svc.port(sport, true), svc.port(dport, true)
		payload := p[8:]
		switch {
		case v == "v4" && (sport == 67 || sport == 68) && (dport == 67 || dport == 68) && len(payload) >= 28:
			t[6] = "DHCPv4"
			if payload[0] == 1 {
				t[7] = "Request"
			} else {
				t[7] = "Response"
			}
			ip := func(o int) string { return netip.AddrFrom4([4]byte(payload[o : o+4])).String() }
			t[14] = fmt.Sprintf("TransactionId=%d ClientIP=%s YourIP=%s ServerIP=%s RelayIP=%s",
				binary.BigEndian.Uint32(payload[4:8]), ip(12), ip(16), ip(20), ip(24))
		case dport == 53:
			if host, ok := dnsQueryHost(payload); ok {
				t[6], t[7], t[14] = "DNS"+v, "DNS_Query", host
				break
			}
			t[6] = "UDP" + v
		default:
			t[6] = "UDP" + v
		}
	default:
		t[6] = fmt.Sprintf("IP%s(0x%02X)", v, proto)
	}
}

// tcpFlags names the flags in SoftEther's order: FIN+SYN+RST+PSH+ACK+URG.
func tcpFlags(f uint8) string {
	var parts []string
	for _, x := range []struct {
		bit  uint8
		name string
	}{{0x01, "FIN"}, {0x02, "SYN"}, {0x04, "RST"}, {0x08, "PSH"}, {0x10, "ACK"}, {0x20, "URG"}} {
		if f&x.bit != 0 {
			parts = append(parts, x.name)
		}
	}
	return strings.Join(parts, "+")
}

// dnsQueryHost returns the name of the first question of a DNS query.
func dnsQueryHost(m []byte) (string, bool) {
	if len(m) < 12 || m[2]&0x80 != 0 || binary.BigEndian.Uint16(m[4:6]) == 0 {
		return "", false // too short, a response, or no question
	}
	var labels []string
	for i := 12; i < len(m); {
		n := int(m[i])
		if n == 0 {
			return strings.Join(labels, "."), len(labels) > 0
		}
		if n&0xc0 != 0 || i+1+n > len(m) || len(labels) > 127 {
			return "", false // compression in a question, or truncated
		}
		labels = append(labels, string(m[i+1:i+1+n]))
		i += 1 + n
	}
	return "", false
}

// UDPDestination returns the destination of an untagged IPv4 or IPv6 UDP
// datagram in frame b.
func UDPDestination(b []byte) (netip.AddrPort, bool) {
	if len(b) < 14 {
		return netip.AddrPort{}, false
	}
	p := b[14:]
	switch binary.BigEndian.Uint16(b[12:14]) {
	case 0x0800:
		if len(p) < 20 || p[9] != 17 || binary.BigEndian.Uint16(p[6:8])&0x1fff != 0 {
			return netip.AddrPort{}, false
		}
		ihl := int(p[0]&0x0f) * 4
		if ihl < 20 || len(p) < ihl+4 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[16:20])), binary.BigEndian.Uint16(p[ihl+2:])), true
	case 0x86DD:
		if len(p) < 44 || p[6] != 17 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[24:40])), binary.BigEndian.Uint16(p[42:])), true
	}
	return netip.AddrPort{}, false
}

// httpFields describes an HTTP request as SoftEther's packet log does
// ("HttpMethod=GET HttpUrl=http://host/path HttpProtocol=HTTP/1.1
// HttpReferer=... HttpUserAgent=... "): a payload that starts with GET, HEAD
// or POST, has a three-part request line and a Host header. dport is the
// TCP destination port (part of the URL unless 80).
func httpFields(payload []byte, dport uint16) string {
	lines := strings.Split(string(payload), "\n")
	first := strings.Fields(strings.TrimRight(lines[0], "\r"))
	if len(first) != 3 {
		return ""
	}
	method := strings.ToUpper(first[0])
	if method != "GET" && method != "HEAD" && method != "POST" {
		return ""
	}
	var host, referer, agent string
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(strings.TrimRight(l, "\r"), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "host":
			host = value
		case "referer":
			referer = value
		case "user-agent":
			agent = value
		}
	}
	if host == "" {
		return ""
	}
	url := first[1]
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		if dport == 80 {
			url = "http://" + host + url
		} else {
			url = fmt.Sprintf("http://%s:%d%s", host, dport, url)
		}
	}
	var sb strings.Builder
	for _, f := range [][2]string{{"HttpMethod", method}, {"HttpUrl", url}, {"HttpProtocol", first[2]},
		{"HttpReferer", referer}, {"HttpUserAgent", agent}} {
		if f[1] != "" {
			sb.WriteString(f[0] + "=" + safeLogValue(f[1]) + " ")
		}
	}
	return sb.String()
}

// safeLogValue is SoftEther's MakeSafeLogStr: unprintable characters become
// "?", commas ".", and spaces "_" unless the value is a URL.
func safeLogValue(v string) string {
	url := strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:")
	b := []byte(v)
	for i, c := range b {
		switch {
		case c < 0x20 || c > 0x7e:
			b[i] = '?'
		case c == ',':
			b[i] = '.'
		case c == ' ' && !url:
			b[i] = '_'
		}
	}
	return string(b)
}
