package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ethervpn/ethervpn/internal/client"
	"github.com/ethervpn/ethervpn/internal/config"
	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// Cascade administration (docs/protocol/admin.md#cascades): the
// methods translate requests into the owner's cascade operations
// (internal/control), whose changes reach the running links through
// reconcile, and read the running links' state through the Server.

// The ClientOption values SoftEther forces on every cascade (docs/protocol/admin.md#clientoption).
const (
	linkDeviceName    = "_SEHUBLINKCLI_"
	linkNumRetry      = 0xFFFFFFFF
	linkRetryInterval = 10
)

// cascadeFromPack reads the settings of an RPC_CREATE_LINK request
// (everything but Online); the owner checks and normalises them.
func cascadeFromPack(in *pack.Pack) (config.Cascade, error) {
	if in.Int("ProxyType") != 0 {
		return config.Cascade{}, vpnerr.NotSupported // the cascade client connects directly only
	}
	host, _, _ := strings.Cut(in.Str("Hostname"), "/") // drop the SNI hint
	c := config.Cascade{CascadeSettings: config.CascadeSettings{
		AccountName:                  in.UniStr("AccountName"),
		Hostname:                     host,
		Port:                         in.Int("Port"),
		HubName:                      in.Str("HubName"),
		MaxConnection:                in.Int("MaxConnection"),
		UseEncrypt:                   in.Int("UseEncrypt") != 0,
		UseCompress:                  in.Int("UseCompress") != 0,
		HalfConnection:               in.Int("HalfConnection") != 0,
		DisableQoS:                   in.Bool("DisableQoS"),
		AdditionalConnectionInterval: in.Int("AdditionalConnectionInterval"),
		ConnectionDisconnectSpan:     in.Int("ConnectionDisconnectSpan"),
		AuthType:                     in.Int("AuthType"),
		Username:                     in.Str("Username"),
		PlainPassword:                in.Str("PlainPassword"),
		CheckServerCert:              in.Bool("CheckServerCert"),
	}}
	c.HashedPassword = bytes.Clone(in.Data("HashedPassword"))
	c.ServerCert = bytes.Clone(in.Data("ServerCert"))
	// A JSON client may leave the policy out: the owner then gives the
	// cascade the default one.
	if in.Has("policy:Ver3") || in.Has("policy:Access") {
		c.Policy = policyFromPack(in)
	}
	return c, nil
}

// cascadePack is the full RPC_CREATE_LINK of a cascade (GetLink), with the
// credentials, as vpncmd needs them to write the settings back.
func cascadePack(hubName string, c *config.Cascade) *pack.Pack {
	p := pack.New()
	p.AddStr("HubName_Ex", hubName)
	p.AddBool("Online", c.Online)

	// ClientOption
	p.AddUniStr("AccountName", c.AccountName)
	p.AddStr("Hostname", c.Hostname)
	p.AddStr("ProxyName", "")
	p.AddStr("ProxyUsername", "")
	p.AddStr("ProxyPassword", "")
	p.AddStr("CustomHttpHeader", "")
	p.AddStr("HubName", c.HubName)
	p.AddStr("DeviceName", linkDeviceName)
	p.AddInt("Port", c.Port)
	p.AddInt("PortUDP", 0)
	p.AddInt("ProxyType", 0)
	p.AddInt("ProxyPort", 0)
	p.AddInt("NumRetry", linkNumRetry)
	p.AddInt("RetryInterval", linkRetryInterval)
	p.AddInt("MaxConnection", c.MaxConnection)
	p.AddBool("UseEncrypt", c.UseEncrypt)
	p.AddBool("UseCompress", c.UseCompress)
	p.AddBool("HalfConnection", c.HalfConnection)
	p.AddBool("NoRoutingTracking", true)
	p.AddInt("AdditionalConnectionInterval", c.AdditionalConnectionInterval)
	p.AddInt("ConnectionDisconnectSpan", c.ConnectionDisconnectSpan)
	p.AddBool("HideStatusWindow", false)
	p.AddBool("HideNicInfoWindow", false)
	p.AddBool("RequireMonitorMode", false)
	p.AddBool("RequireBridgeRoutingMode", true)
	p.AddBool("DisableQoS", c.DisableQoS)
	p.AddBool("FromAdminPack", false)
	p.AddBool("NoUdpAcceleration", false)
	p.AddData("HostUniqueKey", make([]byte, sha0.Size))
	p.AddIP("BindLocalIP", netip.IPv4Unspecified())
	p.AddInt("BindLocalPort", 0)

	// ClientAuth
	p.AddInt("AuthType", c.AuthType)
	p.AddStr("Username", c.Username)
	switch c.AuthType {
	case config.CascadeAuthPassword:
		h := c.HashedPassword
		if len(h) != sha0.Size {
			h = make([]byte, sha0.Size)
		}
		p.AddData("HashedPassword", h)
	case config.CascadeAuthPlain:
		p.AddStr("PlainPassword", c.PlainPassword)
	}

	pol := config.DefaultPolicy()
	if c.Policy != nil {
		pol = *c.Policy
	}
	addPolicy(p, &pol)

	p.AddBool("CheckServerCert", c.CheckServerCert)
	p.AddBool("AddDefaultCA", false)
	if len(c.ServerCert) > 0 {
		p.AddData("ServerCert", c.ServerCert)
	}
	return p
}

func admCreateLink(a *adminCall) (*pack.Pack, error) {
	set, err := cascadeFromPack(a.in)
	if err != nil {
		return nil, err
	}
	c, err := a.s.ctl.CreateCascade(a.actor(), a.hub, set)
	if err != nil {
		return nil, err
	}
	a.s.log.Info("cascade connection created", "hub", a.hub, "cascade", c.AccountName,
		"server", net.JoinHostPort(c.Hostname, strconv.Itoa(int(c.Port))), "remote_hub", c.HubName, "user", c.Username)
	return echo(a.in), nil
}

func admGetLink(a *adminCall) (*pack.Pack, error) {
	var out *pack.Pack
	err := a.s.ctl.ReadHub(a.hub, func(h *config.Hub) error {
		c := h.Cascade(a.in.UniStr("AccountName"))
		if c == nil {
			return vpnerr.ObjectNotFound
		}
		out = cascadePack(h.Name, c)
		return nil
	})
	return out, err
}

func admSetLink(a *adminCall) (*pack.Pack, error) {
	set, err := cascadeFromPack(a.in)
	if err != nil {
		return nil, err
	}
	if _, err := a.s.ctl.SetCascade(a.actor(), a.hub, set.AccountName, set); err != nil {
		return nil, err
	}
	a.s.log.Info("cascade connection settings changed", "hub", a.hub, "cascade", set.AccountName)
	return echo(a.in), nil
}

func admEnumLink(a *adminCall) (*pack.Pack, error) {
	hubName, links, err := a.s.Links(a.hub)
	if err != nil {
		return nil, err
	}
	out := pack.New()
	out.AddStr("HubName", hubName)
	l := newList(out)
	for _, li := range links {
		l.row()
		l.uni("AccountName", li.AccountName)
		l.str("ConnectedHubName", li.RemoteHub)
		l.str("Hostname", li.Hostname)
		l.bool("Online", li.Online)
		var since uint64
		if li.Connected {
			since = seTime(li.Since)
		}
		l.int64("ConnectedTime", since)
		l.bool("Connected", li.Connected)
		l.int("LastError", linkErrorCode(li))
		l.str("TargetHubName", li.RemoteHub)
	}
	l.done()
	return out, nil
}

// linkErrorCode is the SoftEther error number of a cascade's last failure
// (0 while it is established or has not failed).
func linkErrorCode(li LinkInfo) uint32 {
	err := li.LastError
	if err == nil || li.Connected || errors.Is(err, context.Canceled) {
		return 0
	}
	var we vpnerr.Error
	var ne net.Error
	switch {
	case errors.As(err, &we):
		return uint32(we)
	case errors.As(err, &ne):
		return uint32(vpnerr.ConnectFailed)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return uint32(vpnerr.Disconnected)
	}
	return uint32(vpnerr.ProtocolError)
}

// admSetLinkOnline is SetLinkOnline and SetLinkOffline.
func admSetLinkOnline(online bool) func(a *adminCall) (*pack.Pack, error) {
	return func(a *adminCall) (*pack.Pack, error) {
		account := a.in.UniStr("AccountName")
		if err := a.s.ctl.SetCascadeOnline(a.actor(), a.hub, account, online); err != nil {
			return nil, err
		}
		state := "offline"
		if online {
			state = "online"
		}
		a.s.log.Info("cascade connection switched "+state, "hub", a.hub, "cascade", account)
		return echo(a.in), nil
	}
}

func admDeleteLink(a *adminCall) (*pack.Pack, error) {
	account := a.in.UniStr("AccountName")
	if err := a.s.ctl.DeleteCascade(a.actor(), a.hub, account); err != nil {
		return nil, err
	}
	a.s.log.Info("cascade connection deleted", "hub", a.hub, "cascade", account)
	return echo(a.in), nil
}

func admRenameLink(a *adminCall) (*pack.Pack, error) {
	oldName, newName := a.in.UniStr("OldAccountName"), a.in.UniStr("NewAccountName")
	if err := a.s.ctl.RenameCascade(a.actor(), a.hub, oldName, newName); err != nil {
		return nil, err
	}
	if !strings.EqualFold(oldName, newName) {
		a.s.log.Info("cascade connection renamed", "hub", a.hub, "cascade", oldName, "new_name", newName)
	}
	return echo(a.in), nil
}

// linkSessionStatus maps a link's state to ConnectionStatus.SessionStatus
// (0 connecting, 3 established, 4 retry, 5 idle).
func linkSessionStatus(st client.LinkState) uint32 {
	switch st {
	case client.LinkConnecting:
		return 0
	case client.LinkEstablished:
		return 3
	case client.LinkRetrying:
		return 4
	}
	return 5
}

func admGetLinkStatus(a *adminCall) (*pack.Pack, error) {
	account := a.in.UniStr("AccountName")
	if account == "" {
		return nil, vpnerr.InvalidParameter
	}
	hubName, li, err := a.s.Link(a.hub, account)
	switch {
	case err != nil:
		return nil, err
	case !li.Online || li.SessionName == "":
		return nil, vpnerr.LinkIsOffline // offline, or the server is not serving
	}
	return linkStatusPack(hubName, li), nil
}

// linkStatusPack is the RPC_LINK_STATUS of a running cascade.
func linkStatusPack(hubName string, li LinkInfo) *pack.Pack {
	p := pack.New()
	p.AddStr("HubName_Ex", hubName)
	p.AddUniStr("AccountName", li.AccountName)
	p.AddStr("ServerName", li.Hostname)
	w, server, cipher := li.Welcome, li.Server, li.Cipher
	if !li.Connected {
		w, server, cipher = nil, wire.Hello{}, ""
	}
	p.AddStr("ServerProductName", server.Product)
	p.AddStr("ProtocolVersion", "SoftEther SSL-VPN")
	p.AddStr("CipherName", cipher)
	var key [20]byte
	var sessionName, connName string
	var maxTCP uint32
	var half, qos, encrypt, compress bool
	if w != nil {
		key, sessionName, connName = w.SessionKey, w.SessionName, w.ConnectionName
		maxTCP, half, qos, encrypt, compress = w.MaxConnection, w.HalfConnection, w.QoS, w.UseEncrypt, w.UseCompress
	}
	p.AddStr("SessionName", sessionName)
	p.AddStr("ConnectionName", connName)
	p.AddData("SessionKey", key[:])
	p.AddBool("Active", true) // online: connected or trying to be
	p.AddBool("Connected", li.Connected)
	p.AddInt("SessionStatus", linkSessionStatus(li.State))
	p.AddInt("ServerPort", li.Port)
	p.AddInt("ServerProductVer", server.Version)
	p.AddInt("ServerProductBuild", server.Build)
	var established uint32
	if li.Connected {
		established = 1
	}
	p.AddInt("NumConnectionsEstablished", established)
	p.AddBool("HalfConnection", half)
	p.AddBool("QoS", qos)
	n := uint32(li.Connections)
	p.AddInt("MaxTcpConnections", maxTCP)
	p.AddInt("NumTcpConnections", n)
	up, down := uint32(0), uint32(0)
	if half {
		up = n / 2
		down = n - up
	}
	p.AddInt("NumTcpConnectionsUpload", up)
	p.AddInt("NumTcpConnectionsDownload", down)
	p.AddBool("UseEncrypt", encrypt)
	p.AddBool("UseCompress", compress)
	p.AddBool("IsRUDPSession", false)
	p.AddStr("UnderlayProtocol", "")
	p.AddStr("ProtocolDetails", "")
	p.AddBool("IsUdpAccelerationEnabled", false)
	p.AddBool("IsUsingUdpAcceleration", false)
	p.AddBool("IsBridgeMode", true)
	p.AddBool("IsMonitorMode", false)
	var since uint64
	if li.Connected {
		since = seTime(li.Since)
	}
	p.AddInt64("StartTime", seTime(li.Since))
	p.AddInt64("FirstConnectionEstablisiedTime", since) // sic
	p.AddInt64("CurrentConnectionEstablishTime", since)
	st := li.Stats
	sent := st.Send.UnicastBytes + st.Send.BroadcastBytes
	recv := st.Recv.UnicastBytes + st.Recv.BroadcastBytes
	p.AddInt64("TotalSendSize", sent)
	p.AddInt64("TotalRecvSize", recv)
	p.AddInt64("TotalSendSizeReal", sent)
	p.AddInt64("TotalRecvSizeReal", recv)
	p.AddInt("VLanId", 0)
	pol := config.DefaultPolicy()
	addPolicy(p, &pol)
	addTraffic(p, st)
	return p
}

// --- the VPN Bridge role ---

// notOnBridge refuses a method on a VPN Bridge, which has exactly one hub
// (SoftEther's NO_SUPPORT_FOR_BRIDGE).
func notOnBridge(fn func(a *adminCall) (*pack.Pack, error)) func(a *adminCall) (*pack.Pack, error) {
	return func(a *adminCall) (*pack.Pack, error) {
		if a.s.BridgeRole() {
			return nil, vpnerr.NotSupported
		}
		return fn(a)
	}
}
