package wire

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
)

// ErrorPack builds the pack that reports code to the peer. Login errors
// also carry no_save_password, as the real server sends it.
func ErrorPack(code vpnerr.Error) *pack.Pack {
	p := pack.New()
	p.AddInt("error", uint32(code))
	p.AddInt("no_save_password", 0)
	return p
}

// PackError returns the error carried in p, or nil.
func PackError(p *pack.Pack) error {
	if c := p.Int("error"); c != 0 {
		return vpnerr.Error(c)
	}
	return nil
}

// Hello is the server's answer to the signature.
type Hello struct {
	Product string
	Version uint32 // major*100+minor, e.g. 501
	Build   uint32
	Random  [20]byte
}

// Pack encodes h.
func (h *Hello) Pack() *pack.Pack {
	p := pack.New()
	p.AddStr("hello", h.Product)
	p.AddInt("version", h.Version)
	p.AddInt("build", h.Build)
	p.AddData("random", h.Random[:])
	return p
}

// ParseHello decodes a hello pack with the real client's checks.
func ParseHello(p *pack.Pack) (*Hello, error) {
	if err := PackError(p); err != nil {
		return nil, err
	}
	h := &Hello{Product: p.Str("hello"), Version: p.Int("version"), Build: p.Int("build")}
	r := p.Data("random")
	if h.Product == "" || len(r) != len(h.Random) {
		return nil, fmt.Errorf("%w: hello without product string or 20-byte random", ErrNotVPN)
	}
	copy(h.Random[:], r)
	return h, nil
}

// Auth types on the wire (client numbering).
const (
	AuthAnonymous     = 0
	AuthPassword      = 1
	AuthPlainPassword = 2
	AuthCert          = 3
	AuthTicket        = 99
)

// Login is the client's login request.
type Login struct {
	Hub, User      string
	AuthType       uint32
	SecurePassword []byte // authtype 1: SHA0(HashedPassword || hello random)
	PlainPassword  string // authtype 2
	Ticket         []byte // authtype 99: the ticket of a farm's redirect (20 bytes)
	ClientStr      string
	ClientVer      uint32
	ClientBuild    uint32
	ClientHost     string // from NODE_INFO, for logs
	ClientOS       string

	MaxConnection        uint32
	UseEncrypt           bool
	UseCompress          bool
	HalfConnection       bool
	QoS                  bool
	RequireBridgeRouting bool
	RequireMonitor       bool
	UniqueID             []byte
}

// ParseLogin decodes a "login" pack. Missing hub or user name is a
// protocol error (4), as on the real server.
func ParseLogin(p *pack.Pack) (*Login, error) {
	l := &Login{
		Hub:                  p.Str("hubname"),
		User:                 p.Str("username"),
		AuthType:             p.Int("authtype"),
		SecurePassword:       p.Data("secure_password"),
		PlainPassword:        p.Str("plain_password"),
		Ticket:               p.Data("ticket"),
		ClientStr:            p.Str("client_str"),
		ClientVer:            p.Int("client_ver"),
		ClientBuild:          p.Int("client_build"),
		ClientHost:           p.Str("ClientHostname"),
		ClientOS:             strings.TrimSpace(p.Str("ClientOsName") + " " + p.Str("ClientOsVer")),
		MaxConnection:        p.Int("max_connection"),
		UseEncrypt:           p.Bool("use_encrypt"),
		UseCompress:          p.Bool("use_compress"),
		HalfConnection:       p.Bool("half_connection"),
		QoS:                  p.Bool("qos"),
		RequireBridgeRouting: p.Bool("require_bridge_routing_mode"),
		RequireMonitor:       p.Bool("require_monitor_mode"),
		UniqueID:             p.Data("unique_id"),
	}
	if h := p.Str("hello"); h != "" && l.ClientStr == "" {
		l.ClientStr = h
	}
	if l.Hub == "" || l.User == "" {
		return nil, vpnerr.ProtocolError
	}
	return l, nil
}

// Pack encodes l as the real client does (without NODE_INFO details).
func (l *Login) Pack() *pack.Pack {
	p := pack.New()
	p.AddStr("method", "login")
	p.AddStr("hubname", l.Hub)
	p.AddStr("username", l.User)
	p.AddInt("authtype", l.AuthType)
	switch l.AuthType {
	case AuthPassword:
		p.AddData("secure_password", l.SecurePassword)
	case AuthPlainPassword:
		p.AddStr("plain_password", l.PlainPassword)
	case AuthTicket:
		p.AddData("ticket", l.Ticket)
	}
	p.AddStr("client_str", l.ClientStr)
	p.AddStr("hello", l.ClientStr)
	p.AddInt("client_ver", l.ClientVer)
	p.AddInt("client_build", l.ClientBuild)
	p.AddInt("version", l.ClientVer)
	p.AddInt("build", l.ClientBuild)
	p.AddInt("protocol", 0)
	p.AddInt("max_connection", l.MaxConnection)
	p.AddBool("use_encrypt", l.UseEncrypt)
	p.AddBool("use_compress", l.UseCompress)
	p.AddBool("half_connection", l.HalfConnection)
	p.AddBool("qos", l.QoS)
	p.AddBool("require_bridge_routing_mode", l.RequireBridgeRouting)
	p.AddBool("require_monitor_mode", l.RequireMonitor)
	if len(l.UniqueID) > 0 {
		p.AddData("unique_id", l.UniqueID)
	}
	return p
}

// WantsBridgeMode reports whether the session asks for bridge/router mode:
// explicitly, or implicitly because the client is a server or bridge
// (cascade), as the real server decides.
func (l *Login) WantsBridgeMode() bool {
	s := strings.ToLower(l.ClientStr)
	return l.RequireBridgeRouting || strings.Contains(s, "server") || strings.Contains(s, "bridge")
}

// Welcome is the server's successful answer to a login.
type Welcome struct {
	SessionName    string
	ConnectionName string
	SessionKey     [20]byte
	SessionKey32   uint32
	Timeout        time.Duration
	MaxConnection  uint32
	UseEncrypt     bool
	UseCompress    bool
	HalfConnection bool
	QoS            bool
	Policy         map[string]uint32 // policy item name (without "policy:") -> value
	Msg            string
}

// Pack encodes w with every element the real client requires.
func (w *Welcome) Pack() *pack.Pack {
	p := pack.New()
	p.AddStr("session_name", w.SessionName)
	p.AddStr("connection_name", w.ConnectionName)
	p.AddData("session_key", w.SessionKey[:])
	p.AddInt("session_key_32", w.SessionKey32)
	p.AddInt("timeout", uint32(w.Timeout/time.Millisecond))
	p.AddInt("max_connection", w.MaxConnection)
	p.AddBool("use_encrypt", w.UseEncrypt)
	p.AddBool("use_compress", w.UseCompress)
	p.AddBool("half_connection", w.HalfConnection)
	p.AddBool("qos", w.QoS)
	p.AddInt("vlan_id", 0)
	p.AddInt("is_azure_session", 0)
	p.AddInt("enable_udp_recovery", 0)
	p.AddInt("suppress_client_update_notification", 0)
	p.AddData("Msg", []byte(w.Msg))
	for name, v := range w.Policy {
		p.AddInt("policy:"+name, v)
	}
	p.AddInt("policy:Ver3", 1)
	return p
}

// ParseWelcome decodes a welcome (client side) with the real client's
// checks: session name, connection name, a 20-byte key and a timeout.
func ParseWelcome(p *pack.Pack) (*Welcome, error) {
	if err := PackError(p); err != nil {
		return nil, err
	}
	if p.Int("Redirect") != 0 {
		r, err := ParseRedirect(p)
		if err != nil {
			return nil, err
		}
		return nil, r
	}
	w := &Welcome{
		SessionName:    p.Str("session_name"),
		ConnectionName: p.Str("connection_name"),
		SessionKey32:   p.Int("session_key_32"),
		Timeout:        time.Duration(p.Int("timeout")) * time.Millisecond,
		MaxConnection:  p.Int("max_connection"),
		UseEncrypt:     p.Bool("use_encrypt"),
		UseCompress:    p.Bool("use_compress"),
		HalfConnection: p.Bool("half_connection"),
		QoS:            p.Bool("qos"),
		Msg:            string(p.Data("Msg")),
		Policy:         map[string]uint32{},
	}
	key := p.Data("session_key")
	if w.SessionName == "" || w.ConnectionName == "" || len(key) != 20 || w.Timeout == 0 {
		return nil, fmt.Errorf("%w: welcome lacks session name, connection name, key or timeout", vpnerr.ProtocolError)
	}
	copy(w.SessionKey[:], key)
	for _, e := range p.Elements() {
		if name, ok := strings.CutPrefix(e.Name, "policy:"); ok && e.Type == pack.TypeInt && len(e.Ints) > 0 {
			w.Policy[name] = uint32(e.Ints[0])
		}
	}
	return w, nil
}

// Direction of one TCP connection of a half-duplex session.
type Direction uint32

// Directions as numbered on the wire.
const (
	Both           Direction = 0
	ServerToClient Direction = 1
	ClientToServer Direction = 2
)

// ServerSends reports whether the server may send on a connection with
// direction d.
func (d Direction) ServerSends() bool { return d != ClientToServer }

// ClientSends reports whether the client may send on a connection with
// direction d.
func (d Direction) ClientSends() bool { return d != ServerToClient }

// AdditionalConnect is a request to attach one more TCP connection to a
// session identified by its key.
type AdditionalConnect struct {
	SessionKey [20]byte
	ClientStr  string
}

// ParseAdditionalConnect decodes an "additional_connect" pack.
func ParseAdditionalConnect(p *pack.Pack) (*AdditionalConnect, error) {
	k := p.Data("session_key")
	if len(k) != 20 {
		return nil, vpnerr.ProtocolError
	}
	a := &AdditionalConnect{ClientStr: p.Str("client_str")}
	copy(a.SessionKey[:], k)
	return a, nil
}

// Pack encodes a.
func (a *AdditionalConnect) Pack() *pack.Pack {
	p := pack.New()
	p.AddStr("method", "additional_connect")
	p.AddData("session_key", a.SessionKey[:])
	p.AddStr("client_str", a.ClientStr)
	return p
}

// AttachedPack is the server's answer to a successful additional_connect.
func AttachedPack(d Direction) *pack.Pack {
	p := pack.New()
	p.AddInt("error", 0)
	p.AddInt("direction", uint32(d))
	return p
}

// Redirect is a farm node's answer to a login whose session another node
// carries: the client sends an empty pack back, closes, and logs in to
// Addr on one of Ports with the ticket (authtype 99), expecting the
// server certificate Cert (SoftEther Protocol.c:2615-2660 sends it,
// Protocol.c:4611-4686 follows it). As an error, it is what a client's
// login returns to say where to go.
type Redirect struct {
	Addr   netip.Addr // IPv4: the real client reads it with PackGetIp32
	Ports  []uint32
	Ticket [20]byte
	Msg    string // the hub's message
	Cert   []byte // the node's certificate, DER
}

func (r *Redirect) Error() string {
	return fmt.Sprintf("the farm redirected the login to %s (ports %v)", r.Addr, r.Ports)
}

// Pack encodes r as the real server sends it: no error element.
func (r *Redirect) Pack() *pack.Pack {
	p := pack.New()
	p.AddInt("Redirect", 1)
	p.AddIP("Ip", r.Addr)
	p.AddInts("Port", r.Ports)
	p.AddData("Ticket", r.Ticket[:])
	p.AddData("Msg", []byte(r.Msg))
	p.AddData("Cert", r.Cert)
	return p
}

// ParseRedirect decodes a redirect with the real client's checks: an
// IPv4 address, at least one port, a 20-byte ticket.
func ParseRedirect(p *pack.Pack) (*Redirect, error) {
	r := &Redirect{Addr: p.IP("Ip"), Msg: string(p.Data("Msg")), Cert: p.Data("Cert")}
	for i := range p.Count("Port") {
		if port := p.IntAt("Port", i); port != 0 && port < 65536 {
			r.Ports = append(r.Ports, port)
		}
	}
	t := p.Data("Ticket")
	if !r.Addr.Is4() || len(r.Ports) == 0 || len(t) != len(r.Ticket) {
		return nil, fmt.Errorf("%w: a redirect without an IPv4 address, a port or a 20-byte ticket", vpnerr.ProtocolError)
	}
	copy(r.Ticket[:], t)
	return r, nil
}
