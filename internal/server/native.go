package server

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/native"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// NativeLogin is the login of a client of a native protocol (OpenVPN,
// WireGuard) that joins a hub as an ordinary session: listed, counted
// against the hub's and the user's limits, with the user's policy, the
// hub's access lists and logs (docs/protocol/native.md#the-session;
// SoftEther's IPC.c logs such clients in through its own SSL-VPN code).
type NativeLogin struct {
	// Protocol names the session: SID-<USER>-[<Protocol>]-<n>, as
	// SoftEther does (OPENVPN_L3, OPENVPN_L2, WIREGUARD).
	Protocol string
	// Username is what the client sent: "user@hub", "hub\user" or a user
	// of the default hub (native.SplitUsername).
	Username string
	// Password is the client's plain password, checked against the
	// user's stored hash.
	Password string
	// Bridge asks for bridge/routing mode: the protocol carries Ethernet
	// frames of more than one MAC (OpenVPN tap).
	Bridge bool
	// Remote is the client's address (source-address list, logs).
	Remote net.Addr
	// Hub, when set, names the hub, and Username is then the user as it
	// is: the protocol found both in the configuration (WireGuardKeyList).
	Hub string
	// KeyAuthenticated: the protocol authenticated the client by a key
	// the configuration maps to the user, so no password is checked; the
	// user must exist (SoftEther Protocol.c, ServerAccept with
	// AUTHTYPE_WIREGUARD_KEY).
	KeyAuthenticated bool
	// MSS, when not 0, clamps the MSS of TCP SYNs both ways for the
	// protocol's overhead (SoftEther Proto_WireGuard.c, WgsMSS).
	MSS int
}

// NativeSession is a native client's session on a hub. The protocol
// moves its frames through Port (for a layer-3 protocol, through a
// native.Adapter on it) and calls Close when the client goes.
type NativeSession struct {
	Name, User string
	Hub        *Hub
	Port       *hub.Port
	// Ended is closed when the hub ends the session (an administrator's
	// DeleteSession, the hub going offline or away): the protocol then
	// tells its client and calls Close.
	Ended <-chan struct{}
	s     *Server
}

// defaultNativeHub is the hub of a native login that names none
// (SoftEther Proto_PPP.c, PPPParseUsername: L2TP_DefaultHub, else DEFAULT).
const defaultNativeHub = "DEFAULT"

// LoginNative authenticates a native client and attaches its session to
// the hub its user name names, with the checks of an SSL-VPN login: the
// hub exists and is online, the source address is allowed, the password
// is right (a wrong one is answered slowly and counted, as for VPN
// logins), the policy allows access and the mode, and the hub's and the
// user's session limits hold. The error is the SoftEther error the
// protocol should report.
func (s *Server) LoginNative(l NativeLogin) (*NativeSession, error) {
	remote := addrOf(l.Remote)
	sep := byte('@')
	if v := s.ctl.Current().UsernameHubSeparator; v != "" {
		sep = v[0]
	}
	hubName, userName := native.SplitUsername(l.Username, sep, defaultNativeHub, func(name string) bool { return s.LookupHub(name) != nil })
	if l.Hub != "" {
		hubName, userName = l.Hub, l.Username
	}
	h := &handshake{s: s, remote: remote, log: s.log.With("remote", remote.String(), "protocol", l.Protocol)}
	log := h.log.With("hub", hubName, "user", userName)
	if s.bridgeRole.Load() {
		return nil, vpnerr.NotSupported
	}
	hb := s.LookupHub(hubName)
	switch {
	case hb == nil:
		log.Info("native login to an unknown virtual hub; refused")
		return nil, vpnerr.HubNotFound
	case !hb.Online():
		log.Info("native login to an offline virtual hub; refused")
		return nil, vpnerr.HubStopping
	case hb.sourceDenied(remote):
		log.Warn(fmt.Sprintf(`Native client from %s: The source IP address "%s" of the client has refused based on the Source IP Address Limit List defined for the Virtual Hub.`, remote, remote),
			"event", "LS_IP_DENIED")
		return nil, vpnerr.IPAddressDenied
	}
	req := &wire.Login{Hub: hubName, User: userName, AuthType: wire.AuthPlainPassword, PlainPassword: l.Password,
		RequireBridgeRouting: l.Bridge}
	var user *config.User
	code := vpnerr.NoError
	if l.KeyAuthenticated {
		// Not a password login (deny_empty_password then looks at the
		// stored password only).
		req.AuthType = wire.AuthCert
		if user = s.hubConfig(hb).User(userName); user == nil {
			code = vpnerr.AuthFailed
		}
	} else {
		user, code = h.authenticatePassword(hb, req)
	}
	if code != vpnerr.NoError {
		var delay time.Duration
		if code == vpnerr.AuthFailed {
			delay = s.limiter.vpn.fail(remote, time.Now())
		}
		log.Warn(fmt.Sprintf(`Native client from %s: user authentication failed for user "%s": %v.`, remote, userName, code),
			"event", "LH_AUTH_NG", "code", uint32(code), "answer_delay", delay.String())
		return nil, code
	}
	pol, code := h.effectivePolicy(hb, user, req, log)
	if code != vpnerr.NoError {
		return nil, code
	}
	kind := hub.KindClient
	if l.Bridge {
		kind = hub.KindBridge
	}
	ended := make(chan struct{})
	var endOnce sync.Once
	ns := &NativeSession{
		Name:  fmt.Sprintf("SID-%s-[%s]-%d", strings.ToUpper(user.Name), l.Protocol, hb.counter.Add(1)),
		User:  user.Name,
		Hub:   hb,
		Ended: ended,
		s:     s,
	}
	attached, code := h.admit(hb, user.Name, kind, pol, log)
	if code != vpnerr.NoError {
		return nil, code
	}
	port, err := func() (*hub.Port, error) {
		defer attached()
		return hb.Attach(hub.PortConfig{
			Name:      ns.Name,
			User:      user.Name,
			Group:     user.GroupName,
			Kind:      kind,
			Policy:    hubPolicy(pol, false, false),
			Physical:  physicalIP(kind, l.Remote),
			AdjustMSS: l.MSS,
			Disconnect: func(reason error) {
				endOnce.Do(func() { close(ended) })
				log.Info("the hub ends the native session", "session", ns.Name, "reason", reason)
			},
		})
	}()
	if err != nil {
		log.Warn("cannot attach the native session to the hub", "err", err)
		return nil, vpnerr.HubStopping
	}
	ns.Port = port
	log.Info(fmt.Sprintf(`Session "%s": created for user "%s" from %s (%s, %s mode).`, ns.Name, user.Name, remote, l.Protocol, kind),
		"event", "LH_NEW_SESSION", "session", ns.Name, "mode", kind.String())
	return ns, nil
}

// Close ends the session: its port leaves the hub (a layer-3 adapter on
// it releases its lease first).
func (ns *NativeSession) Close(reason error) {
	ns.Port.Close()
	ns.s.log.Info(fmt.Sprintf(`Session "%s": ended (%v).`, ns.Name, reason), "event", "LH_END_SESSION",
		"hub", ns.Hub.Name(), "session", ns.Name)
}
