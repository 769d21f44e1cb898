package server

import (
	"bytes"
	"log/slog"

	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// The hub administration options (docs/protocol/admin.md#hub-admin-options) that
// act on VPN logins, applied where and as SoftEther applies them
// (Protocol.c, ServerAccept). 0 means "no limit" or "not denied".
type loginOptions struct {
	maxSessions       uint32 // client and bridge sessions together
	clientBridgeApply bool   // max_sessions_client_bridge_apply: the next two apply
	maxClients        uint32 // client-mode sessions (0 then means none)
	maxBridges        uint32 // bridge/router-mode sessions (0 then means none)
	maxMultiLogins    uint32 // sessions per user, with the policy's MultiLogins
	maxDownload       uint32 // bit/s, with the policy's MaxDownload
	maxUpload         uint32 // bit/s, with the policy's MaxUpload
	denyEmptyPassword bool
	denyBridge        bool
	denyRouting       bool
	denyQoS           bool
}

// readLoginOptions reads the options from a hub's admin options.
func readLoginOptions(hc *config.Hub) loginOptions {
	get := hc.AdminOption
	on := func(name string) bool { return get(name) != 0 }
	return loginOptions{
		maxSessions:       get("max_sessions"),
		clientBridgeApply: on("max_sessions_client_bridge_apply"),
		maxClients:        get("max_sessions_client"),
		maxBridges:        get("max_sessions_bridge"),
		maxMultiLogins:    get("max_multilogins_per_user"),
		maxDownload:       get("max_bitrates_download"),
		maxUpload:         get("max_bitrates_upload"),
		denyEmptyPassword: on("deny_empty_password"),
		denyBridge:        on("deny_bridge"),
		denyRouting:       on("deny_routing"),
		denyQoS:           on("deny_qos"),
	}
}

// restrict applies the options that override a session's policy before
// the login checks it, as SoftEther does: deny_qos turns off the QoS the
// client asks for, max_bitrates_* cap the bandwidth limits, deny_bridge
// and deny_routing set NoBridge and NoRouting (a bridge-mode login that
// may then neither bridge nor route is refused).
func (o loginOptions) restrict(pol *config.Policy, wantQoS bool) {
	if wantQoS && o.denyQoS {
		pol.NoQoS = true
	}
	capRate := func(limit *uint32, cap uint32) {
		if cap != 0 && (*limit == 0 || *limit > cap) {
			*limit = cap
		}
	}
	capRate(&pol.MaxDownload, o.maxDownload)
	capRate(&pol.MaxUpload, o.maxUpload)
	if o.denyBridge {
		pol.NoBridge = true
	}
	if o.denyRouting {
		pol.NoRouting = true
	}
}

// emptyPassword reports whether the user logged in with an empty password.
// As on SoftEther, an anonymous user counts as one.
func emptyPassword(u *config.User, req *wire.Login) bool {
	switch {
	case u.AuthType == userAuthAnonymous:
		return true
	case req.AuthType == wire.AuthPlainPassword:
		return req.PlainPassword == ""
	}
	empty := sha0.HashPassword(u.Name, "")
	return bytes.Equal(u.PasswordHash, empty[:]) // the client's password is the stored one
}

// admit checks the hub's session limits for a new session and, if it may
// join, returns a function to call once the session's port is attached.
// The hub's admission lock is held in between, so that logins racing each
// other cannot exceed a limit. As on SoftEther, only VPN sessions count
// (client and bridge mode; not SecureNAT, local bridges, cascades this
// server opens or layer-3 interfaces), and the limits are MaxSession (the
// hub's setting), max_sessions, max_sessions_client / max_sessions_bridge
// when max_sessions_client_bridge_apply is set, and the sessions per user
// (policy MultiLogins, max_multilogins_per_user: the smaller one).
// Unlike SoftEther, sessions from the server's own machine count too.
func (h *handshake) admit(hb *Hub, user string, kind hub.Kind, pol config.Policy, log *slog.Logger) (attached func(), code vpnerr.Error) {
	hc := h.s.hubConfig(hb)
	o, maxSession := readLoginOptions(hc), hc.MaxSession
	maxLogins := pol.MultiLogins
	if o.maxMultiLogins != 0 && (maxLogins == 0 || maxLogins > o.maxMultiLogins) {
		maxLogins = o.maxMultiLogins
	}

	hb.admitMu.Lock()
	clients, bridges, ofUser := hb.CountSessions(user)
	refuse := func(msg string, limit uint32, code vpnerr.Error) (func(), vpnerr.Error) {
		hb.admitMu.Unlock()
		log.Warn(msg, "limit", limit)
		return nil, code
	}
	switch {
	case maxLogins != 0 && ofUser >= maxLogins:
		return refuse("user already has the maximum number of sessions; refused", maxLogins, vpnerr.TooManyUserSession)
	case maxSession != 0 && clients+bridges >= maxSession:
		return refuse("virtual hub has reached its session limit (MaxSession); refused", maxSession, vpnerr.HubIsBusy)
	case o.maxSessions != 0 && clients+bridges >= o.maxSessions:
		return refuse("virtual hub has reached its session limit (admin option max_sessions); refused", o.maxSessions, vpnerr.HubIsBusy)
	case o.clientBridgeApply && kind == hub.KindClient && clients >= o.maxClients:
		return refuse("virtual hub has reached its client session limit (admin option max_sessions_client); refused", o.maxClients, vpnerr.HubIsBusy)
	case o.clientBridgeApply && kind == hub.KindBridge && bridges >= o.maxBridges:
		return refuse("virtual hub has reached its bridge session limit (admin option max_sessions_bridge); refused", o.maxBridges, vpnerr.HubIsBusy)
	}
	return hb.admitMu.Unlock, vpnerr.NoError
}
