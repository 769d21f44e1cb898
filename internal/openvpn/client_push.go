package openvpn

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// PushReply is what a client takes from the server's PUSH_REPLY.
type PushReply struct {
	Cipher string // "cipher"; "" when the server pushed none
	PeerID int    // "peer-id" (send P_DATA_V2 with it), -1 when not pushed
	// EKM is true when the data keys come from TLS-EKM: "key-derivation
	// tls-ekm", or "tls-ekm" among OpenVPN 2.6's "protocol-flags".
	EKM                  bool
	IP, Netmask, Gateway netip.Addr // "ifconfig", "route-gateway"
	Ping, PingRestart    int        // seconds
	// Options holds every option as it came, in order.
	Options []string
}

// maxPushReply bounds the PUSH_REPLY the parser takes (OpenVPN's server
// splits longer ones with push-continuation; the client joins them).
const maxPushReply = 64 << 10

var errPushReply = errors.New("openvpn: not a PUSH_REPLY")

// ParsePushReply parses a PUSH_REPLY message (without its NUL):
// "PUSH_REPLY,opt,opt,..." where each option is a name and its
// space-separated arguments (OpenVPN push.c, options.c apply_push_options).
// Options the client does not use are kept in Options only; a malformed
// value of one it uses is an error.
func ParsePushReply(msg string) (*PushReply, error) {
	rest, ok := strings.CutPrefix(msg, "PUSH_REPLY")
	if !ok || (rest != "" && rest[0] != ',') {
		return nil, errPushReply
	}
	if len(msg) > maxPushReply {
		return nil, fmt.Errorf("openvpn: PUSH_REPLY of %d bytes", len(msg))
	}
	p := &PushReply{PeerID: -1}
	for opt := range strings.SplitSeq(strings.TrimPrefix(rest, ","), ",") {
		opt = strings.TrimSpace(opt)
		if opt == "" {
			continue
		}
		p.Options = append(p.Options, opt)
		f := strings.Fields(opt)
		var err error
		switch f[0] {
		case "cipher":
			if len(f) != 2 {
				return nil, fmt.Errorf("openvpn: PUSH_REPLY: bad %q", opt)
			}
			if _, ok := lookupCipher(f[1]); !ok {
				return nil, fmt.Errorf("openvpn: PUSH_REPLY: cipher %q not supported", f[1])
			}
			p.Cipher = strings.ToUpper(f[1])
		case "peer-id":
			var id uint64
			if len(f) == 2 {
				id, err = strconv.ParseUint(f[1], 10, 32)
			}
			if len(f) != 2 || err != nil || id > 0xffffff {
				return nil, fmt.Errorf("openvpn: PUSH_REPLY: bad %q", opt)
			}
			p.PeerID = int(id)
		case "key-derivation":
			p.EKM = len(f) == 2 && f[1] == "tls-ekm"
		case "protocol-flags":
			for _, fl := range f[1:] {
				if fl == "tls-ekm" {
					p.EKM = true
				}
			}
		case "ifconfig":
			if len(f) != 3 {
				return nil, fmt.Errorf("openvpn: PUSH_REPLY: bad %q", opt)
			}
			if p.IP, err = netip.ParseAddr(f[1]); err == nil {
				p.Netmask, err = netip.ParseAddr(f[2])
			}
		case "route-gateway":
			if len(f) != 2 {
				return nil, fmt.Errorf("openvpn: PUSH_REPLY: bad %q", opt)
			}
			p.Gateway, err = netip.ParseAddr(f[1])
		case "ping":
			p.Ping, err = pushSeconds(f)
		case "ping-restart":
			p.PingRestart, err = pushSeconds(f)
		}
		if err != nil {
			return nil, fmt.Errorf("openvpn: PUSH_REPLY: bad %q: %w", opt, err)
		}
	}
	return p, nil
}

func pushSeconds(f []string) (int, error) {
	if len(f) != 2 {
		return 0, errors.New("want one number")
	}
	n, err := strconv.ParseUint(f[1], 10, 31)
	return int(n), err
}
