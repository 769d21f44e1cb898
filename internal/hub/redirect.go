package hub

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/ether"
)

// infoTag in a redirect URL stands for the session's identity (docs/protocol/hub.md#url-redirection).
const infoTag = "<INFO>"

// redirectable returns the TCP header offset, header length and payload
// length of frame b when it is what a redirect rule answers (docs/protocol/hub.md#url-redirection): an
// IPv4 or IPv6 TCP segment with ACK set, SYN, RST and URG clear, and data
// (an HTTP request once the connection is up).
func redirectable(b []byte, pk *packet) (l3, l4, payload int, ok bool) {
	if !pk.hasL4 || pk.proto != protoTCP || pk.tcpFlags&tcpACK == 0 || pk.tcpFlags&(tcpSYN|tcpRST|0x20) != 0 {
		return 0, 0, 0, false
	}
	l3 = 14
	if pk.outerType == etherVLAN {
		l3 = 18
	}
	var end int
	switch pk.l3 {
	case l3IPv4:
		if len(b) < l3+20 {
			return 0, 0, 0, false
		}
		ihl := int(b[l3]&0x0f) * 4
		l4, end = l3+ihl, l3+int(binary.BigEndian.Uint16(b[l3+2:]))
	case l3IPv6:
		if len(b) < l3+40 || b[l3+6] != protoTCP { // no extension headers
			return 0, 0, 0, false
		}
		l4, end = l3+40, l3+40+int(binary.BigEndian.Uint16(b[l3+4:]))
	default:
		return 0, 0, 0, false
	}
	if end > len(b) || l4+20 > end {
		return 0, 0, 0, false
	}
	hl := int(b[l4+12]>>4) * 4
	if hl < 20 || l4+hl > end || end-l4-hl == 0 {
		return 0, 0, 0, false
	}
	return l3, l4, end - l4 - hl, true
}

// redirectFrame builds the hub's answer to HTTP request segment b from port
// p for a rule redirecting to url: a segment back to the sender with an
// HTTP 302 to url (docs/protocol/hub.md#url-redirection; Content-Length is the body's, where SoftEther
// puts the URL's length). It returns nil if the answer does not fit in a
// frame.
func redirectFrame(b []byte, l3, l4, payload int, p *Port, url string, now time.Time) []byte {
	url = expandInfo(strings.TrimSpace(url), p, now)
	body := fmt.Sprintf("<html><head><title>Object moved</title></head><body>\r\n<h2>Object moved to <a href=\"%s\">here</a>.</h2>\r\n</body></html>\r\n\r\n", url)
	http := fmt.Sprintf("HTTP/1.1 302 Found\r\nLocation: %s\r\nCache-Control: private\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s", url, len(body), body)

	ipv6 := b[l3]>>4 == 6 // redirectable passed IPv4 or IPv6 only
	ipLen := 20
	if ipv6 {
		ipLen = 40
	}
	f := make([]byte, l3+ipLen+20+len(http))
	if len(f) > ether.MaxFrameSize {
		return nil
	}
	copy(f[0:6], b[6:12]) // back to the sender
	copy(f[6:12], b[0:6])
	copy(f[12:l3], b[12:l3]) // ethertype, or the VLAN tag and ethertype
	ip, tcp := f[l3:l3+ipLen], f[l3+ipLen:]
	srcTCP := b[l4:]
	if ipv6 {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(20+len(http)))
		ip[6], ip[7] = protoTCP, 64
		copy(ip[8:24], b[l3+24:l3+40])
		copy(ip[24:40], b[l3+8:l3+24])
	} else {
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(http)))
		binary.BigEndian.PutUint16(ip[4:], uint16(mrand.Uint32()))
		ip[6], ip[8], ip[9] = 0x40, 128, protoTCP // DF, TTL 128
		copy(ip[12:16], b[l3+16:l3+20])
		copy(ip[16:20], b[l3+12:l3+16])
		binary.BigEndian.PutUint16(ip[10:], ^ether.Fold(ether.Sum(ip[:20], 0)))
	}
	binary.BigEndian.PutUint16(tcp[0:], binary.BigEndian.Uint16(srcTCP[2:]))
	binary.BigEndian.PutUint16(tcp[2:], binary.BigEndian.Uint16(srcTCP[0:]))
	binary.BigEndian.PutUint32(tcp[4:], binary.BigEndian.Uint32(srcTCP[8:]))                 // seq = their ack
	binary.BigEndian.PutUint32(tcp[8:], binary.BigEndian.Uint32(srcTCP[4:])+uint32(payload)) // ack their data
	tcp[12], tcp[13] = 5<<4, tcpACK|0x08                                                     // ACK+PSH
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	copy(tcp[20:], http)
	binary.BigEndian.PutUint16(tcp[16:], ^ether.Fold(ether.Sum(tcp, ether.PseudoSum(ip, ipv6, protoTCP, len(tcp)))))
	return f
}

// expandInfo replaces <INFO> in url as SoftEther does when url ends in
// "|secret": user|session|clientip|YYYYMMDDhhmmss| and the upper-case hex
// SHA-1 of that text and the secret; the secret is cut off the URL.
// Without a secret the URL stays as it is.
func expandInfo(url string, p *Port, now time.Time) string {
	if !strings.Contains(url, infoTag) {
		return url
	}
	i := strings.LastIndexByte(url, '|')
	if i < 0 {
		return url
	}
	url, secret := url[:i], url[i+1:]
	if secret == "" {
		return url
	}
	ip := ""
	if p.physical.IsValid() {
		ip = p.physical.String()
	}
	info := fmt.Sprintf("%s|%s|%s|%s|", p.user, p.name, ip, now.UTC().Format("20060102150405"))
	h := sha1.Sum([]byte(info + secret))
	return strings.ReplaceAll(url, infoTag, info+strings.ToUpper(hex.EncodeToString(h[:])))
}
