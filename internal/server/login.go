package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/guard"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// login authenticates a "login" request and, on success, creates the
// session with this connection as its first one (docs/protocol/session.md#login-checks). Every refusal answers the real error code and logs why.
func (h *handshake) login(p *pack.Pack) bool {
	req, err := wire.ParseLogin(p)
	if err != nil {
		h.log.Info("login without hub or user name; refused")
		h.fail(vpnerr.ProtocolError)
		return false
	}
	log := h.log.With("hub", req.Hub, "user", req.User, "client", req.ClientStr)
	if h.s.bridgeRole.Load() {
		log.Info("login to a VPN Bridge; refused (a bridge only makes cascade connections)")
		h.fail(vpnerr.NotSupported)
		return false
	}
	now := time.Now()
	hb := h.s.LookupHub(req.Hub)
	if hb == nil {
		log.Info("login to an unknown virtual hub; refused")
		h.fail(vpnerr.HubNotFound)
		return false
	}
	if !hb.Online() {
		log.Info("login to an offline virtual hub; refused")
		h.fail(vpnerr.HubStopping)
		return false
	}
	if hb.sourceDenied(h.remote) {
		log.Warn(fmt.Sprintf(`Connection "%s": The source IP address "%s" of the client has refused based on the Source IP Address Limit List defined for the Virtual Hub.`, h.connectionName(), h.remote),
			"event", "LS_IP_DENIED")
		h.fail(vpnerr.IPAddressDenied)
		return false
	}
	user, byTicket, code := h.authenticate(hb, req)
	if code != vpnerr.NoError {
		var delay time.Duration
		if code == vpnerr.AuthFailed {
			delay = h.s.limiter.vpn.fail(h.remote, now)
		}
		log.Warn(fmt.Sprintf(`Connection from %s: user authentication failed for user "%s" (auth type %d): %v.`, h.remote, req.User, req.AuthType, code),
			"event", "LH_AUTH_NG", "authtype", req.AuthType, "code", uint32(code), "answer_delay", delay.String())
		h.failSlowly(code, delay)
		return false
	}
	pol, code := h.effectivePolicy(hb, user, req, log)
	if code != vpnerr.NoError {
		h.fail(code)
		return false
	}
	params, welcome := negotiate(req, pol)

	// Send the session to another node of a farm if it goes there (a
	// ticket login was sent here), then name it and attach it to the hub.
	// The session's number comes from the hub's farm-wide counter, so
	// that the names of a hub's sessions never meet (sessionNumber).
	if h.s.farm != nil && !byTicket {
		done, code := h.farmRedirect(hb, user, req, log)
		if code != vpnerr.NoError {
			h.fail(code)
			return false
		}
		if done {
			return false
		}
	}
	var key [20]byte
	rand.Read(key[:])
	sess := &Session{
		Name:    fmt.Sprintf("SID-%s-%d", strings.ToUpper(user.Name), h.sessionNumber(hb)),
		User:    user.Name,
		Hub:     hb,
		Created: now,
		Remote:  h.raw.RemoteAddr(),
		key:     key,
		encrypt: welcome.UseEncrypt,
	}
	kind := hub.KindClient
	if req.WantsBridgeMode() {
		kind = hub.KindBridge
	}
	attached, code := h.admit(hb, user.Name, kind, pol, log)
	if code != vpnerr.NoError {
		h.fail(code)
		return false
	}
	port, err := func() (*hub.Port, error) {
		defer attached() // even if Attach panics: the hub's logins must not stall
		if h.s.testAdmitted != nil {
			h.s.testAdmitted()
		}
		return hb.Attach(hub.PortConfig{
			Name:       sess.Name,
			User:       user.Name,
			Group:      user.GroupName, // access-list rules match the group too
			Kind:       kind,
			Policy:     hubPolicy(pol, req.RequireMonitor, welcome.QoS),
			Physical:   physicalIP(kind, h.raw.RemoteAddr()),
			Disconnect: func(reason error) { sess.Close(reason) },
		})
	}()
	if err != nil {
		log.Warn("cannot attach the session to the hub", "err", err)
		h.fail(vpnerr.HubStopping)
		return false
	}
	sess.port = port
	params.Log = log
	sess.Session = session.New(&portAdapter{port}, params)

	welcome.SessionName = sess.Name
	welcome.ConnectionName = h.connectionName()
	welcome.SessionKey = key
	welcome.SessionKey32 = binary.BigEndian.Uint32(key[:4])
	h.s.mu.Lock()
	if !h.s.adm.serving {
		h.s.mu.Unlock()
		port.Close()
		h.fail(vpnerr.HubStopping)
		return false
	}
	h.s.sessions[key] = sess
	// Registered under the lock that shutdown takes before it waits, so the
	// wait never races with a session being added.
	h.s.sessWG.Add(1)
	h.s.mu.Unlock()

	err = sess.AddConn(h.raw, func(dir wire.Direction) (session.Stream, error) {
		h.established()
		if err := wire.WritePack(h.tc, welcome.Pack()); err != nil {
			return session.Stream{}, err
		}
		return h.dataStream(welcome.UseEncrypt, dir)
	})
	if err != nil {
		log.Info("connection lost while sending the welcome", "err", err)
		h.s.endSession(sess, err)
		h.s.sessWG.Done()
		return false
	}
	log.Info(fmt.Sprintf(`Session "%s": created for user "%s" from %s (%s mode, %d TCP connections at most, encryption %s, compression %s).`,
		sess.Name, user.Name, h.remote, kind, welcome.MaxConnection, onOff(welcome.UseEncrypt), onOff(welcome.UseCompress)),
		"event", "LH_NEW_SESSION", "session", sess.Name, "mode", kind.String(),
		"max_connection", welcome.MaxConnection, "encrypt", welcome.UseEncrypt,
		"compress", welcome.UseCompress, "half_duplex", welcome.HalfConnection, "qos", welcome.QoS)
	go func() {
		defer h.s.sessWG.Done()
		defer guard.Recover(log, "session "+sess.Name, func(err error) { h.s.endSession(sess, err) })
		err := sess.Wait()
		h.s.endSession(sess, err)
	}()
	return true
}

// endSession detaches a finished session from its hub and forgets its key.
func (s *Server) endSession(sess *Session, reason error) {
	sess.Close(reason)
	sess.port.Close()
	s.mu.Lock()
	delete(s.sessions, sess.key)
	s.mu.Unlock()
	st, ss := sess.port.Stats(), sess.Stats()
	s.log.Info(fmt.Sprintf(`Session "%s": ended (%v) after %s; %d frames sent into the hub, %d received.`,
		sess.Name, reason, time.Since(sess.Created).Round(time.Second), st.Send.UnicastCount+st.Send.BroadcastCount, st.Recv.UnicastCount+st.Recv.BroadcastCount),
		"event", "LH_END_SESSION", "hub", sess.Hub.Name(), "session", sess.Name, "reason", fmt.Sprint(reason),
		"duration", time.Since(sess.Created).Round(time.Second).String(),
		"frames_sent", st.Send.UnicastCount+st.Send.BroadcastCount, "frames_received", st.Recv.UnicastCount+st.Recv.BroadcastCount,
		"dropped_queue_full", st.DroppedQueueFull, "dropped_policy", st.DroppedPolicy,
		"frames_per_read", perBatch(ss.RecvFrames, ss.RecvBatches), "frames_per_write", perBatch(ss.SentFrames, ss.SentBatches), "batches_by_helpers", ss.HelperBatches)
}

// hubConfig is hb's configuration as last published. The owner never
// changes a published configuration, so it is read without s.mu: a login
// does not hold the server lock while it scans the users and hashes.
func (s *Server) hubConfig(hb *Hub) *config.Hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return hb.cfg
}

// User database auth types (server numbering, as stored in the config).
const (
	userAuthAnonymous = 0
	userAuthPassword  = 1
)

// authenticate checks the credentials of req against the hub's users. As
// the real server does, an anonymous user of that name lets anyone in
// whatever the request's auth type.
//
// A ticket login (a client a farm node redirected here) is checked
// against etcd instead (byTicket).
func (h *handshake) authenticate(hb *Hub, req *wire.Login) (u *config.User, byTicket bool, code vpnerr.Error) {
	if req.AuthType == wire.AuthTicket {
		u, code = h.ticketUser(hb, req)
		return u, true, code
	}
	u, code = h.authenticatePassword(hb, req)
	return u, false, code
}

// authenticatePassword checks anonymous and password logins.
func (h *handshake) authenticatePassword(hb *Hub, req *wire.Login) (*config.User, vpnerr.Error) {
	u := h.s.hubConfig(hb).User(req.User) // published: read without the lock
	if u != nil && u.AuthType == userAuthAnonymous {
		return u, vpnerr.NoError
	}
	switch req.AuthType {
	case wire.AuthAnonymous:
		return nil, vpnerr.AuthFailed
	case wire.AuthPassword:
		if u == nil || u.AuthType != userAuthPassword || len(u.PasswordHash) != 20 || len(req.SecurePassword) != 20 {
			return nil, vpnerr.AuthFailed
		}
		var stored [20]byte
		copy(stored[:], u.PasswordHash)
		want := sha0.SecurePassword(stored, h.random)
		if subtle.ConstantTimeCompare(want[:], req.SecurePassword) != 1 {
			return nil, vpnerr.AuthFailed
		}
		return u, vpnerr.NoError
	case wire.AuthPlainPassword:
		// Checked against the local password database only (no RADIUS).
		if u == nil || u.AuthType != userAuthPassword {
			return nil, vpnerr.AuthFailed
		}
		got := sha0.HashPassword(u.Name, req.PlainPassword)
		if subtle.ConstantTimeCompare(got[:], u.PasswordHash) != 1 {
			return nil, vpnerr.AuthFailed
		}
		return u, vpnerr.NoError
	default:
		// Certificates, tickets and the in-process types 96-98 are not
		// accepted from the network.
		return nil, vpnerr.AuthTypeNotSupported
	}
}

// effectivePolicy picks the user's policy, else its group's, else the
// default, and applies the hub administration options that override it
// and the login-time rules (SoftEther Protocol.c, ServerAccept). The
// session limits are checked later, by admit.
func (h *handshake) effectivePolicy(hb *Hub, u *config.User, req *wire.Login, log *slog.Logger) (config.Policy, vpnerr.Error) {
	hc := h.s.hubConfig(hb) // published: read without the lock
	pol := config.DefaultPolicy()
	if u.Policy != nil {
		pol = *u.Policy
	} else if g := hc.Group(u.GroupName); u.GroupName != "" && g != nil && g.Policy != nil {
		pol = *g.Policy
	}
	expired := !u.ExpireTime.IsZero() && time.Now().After(u.ExpireTime)
	opts := readLoginOptions(hc)

	if opts.denyEmptyPassword && !h.remote.Unmap().IsLoopback() && emptyPassword(u, req) {
		log.Warn("empty password from a remote host refused (hub admin option deny_empty_password)")
		return pol, vpnerr.NullPasswordLocalOnly
	}
	opts.restrict(&pol, req.QoS)
	switch {
	case expired:
		log.Warn("user account has expired; refused")
		return pol, vpnerr.AccessDenied
	case !pol.Access:
		log.Warn("policy denies access; refused")
		return pol, vpnerr.AccessDenied
	case req.RequireMonitor && !pol.MonitorPort:
		log.Warn("monitor mode requested but not permitted by policy; refused")
		return pol, vpnerr.MonitorModeDenied
	}
	if !req.RequireMonitor {
		pol.MonitorPort = false
	}
	if req.WantsBridgeMode() {
		if pol.NoBridge && pol.NoRouting {
			log.Warn("bridge/router mode requested but not permitted by policy; refused")
			return pol, vpnerr.BridgeModeDenied
		}
	} else {
		// Client mode. Unlike SoftEther, a client on the server machine
		// itself gets no exemption: it asks for bridge mode if it needs it.
		pol.NoBridge, pol.NoRouting = true, true
	}
	return pol, vpnerr.NoError
}

// negotiate computes the session parameters from the request and policy
// exactly as the real server does (docs/protocol/session.md#parameter-negotiation).
func negotiate(req *wire.Login, pol config.Policy) (session.Params, *wire.Welcome) {
	timeout := time.Duration(pol.TimeOut) * time.Second
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	timeout = min(max(timeout, 5*time.Second), 60*time.Second)
	polMax := pol.MaxConnection
	if polMax == 0 {
		polMax = 32
	}
	maxConn := max(min(req.MaxConnection, polMax, 32), 1)
	qos := req.QoS && !pol.NoQoS && !req.RequireMonitor
	if req.HalfConnection {
		maxConn = max(maxConn, 2)
	}
	if qos {
		if req.HalfConnection {
			maxConn = max(maxConn, 4)
		} else {
			maxConn = max(maxConn, 2)
		}
	}
	w := &wire.Welcome{
		Timeout:        timeout,
		MaxConnection:  maxConn,
		UseEncrypt:     req.UseEncrypt,
		UseCompress:    req.UseCompress,
		HalfConnection: req.HalfConnection,
		QoS:            qos,
		Policy:         welcomePolicy(pol),
	}
	p := session.Params{
		Role:           session.Server,
		Timeout:        timeout,
		MaxConnections: int(maxConn),
		HalfDuplex:     req.HalfConnection,
		Compress:       req.UseCompress,
	}
	return p, w
}

// portAdapter lets a session drain a hub port.
type portAdapter struct{ p *hub.Port }

// Input runs on the reader of one of the session's own connections: a
// sender that owes time for its floods waits here, so that its TCP slows
// down (hub.Port.TakeStormPause).
func (a *portAdapter) Input(frames [][]byte) {
	a.p.Input(frames)
	if d := a.p.TakeStormPause(); d > 0 {
		time.Sleep(d)
	}
}

func (a *portAdapter) Ready() <-chan struct{} { return a.p.Ready() }

// SetPush lets the hub's inputting goroutines write to the session.
func (a *portAdapter) SetPush(push func() bool) { a.p.SetPush(push) }

func (a *portAdapter) Output(limit int, emit func([]byte)) int {
	if limit <= 0 {
		return 0
	}
	return a.p.DrainEach(limit, emit)
}

// perBatch is the average batch size, for the session-end log line.
func perBatch(frames, batches uint64) float64 {
	if batches == 0 {
		return 0
	}
	return float64(frames*10/batches) / 10
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// physicalIP is the client address the packet log records for a session:
// normal client sessions only, as SoftEther.
func physicalIP(kind hub.Kind, remote net.Addr) netip.Addr {
	if kind != hub.KindClient {
		return netip.Addr{}
	}
	if ta, ok := remote.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
