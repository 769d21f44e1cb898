// Package client is the client end of the SoftEther SSL-VPN protocol: it
// dials a server, runs the preamble and login, and opens the additional
// connections of a session.
package client

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/session"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// ClientString is what this client calls itself in the login.
const ClientString = "SoftEther VPN Client Developer Edition (ethervpn)"

// Options say where and how to connect.
type Options struct {
	Server   string // host:port
	Hub      string
	User     string
	Password string // empty with Anonymous
	// PasswordHash, when 20 bytes long, is used instead of Password: it is
	// SoftEther's hashed password (sha0.HashPassword), which is all the
	// login needs, so saved accounts never hold the password itself.
	PasswordHash []byte

	Anonymous bool
	// PlainPassword sends Password itself (auth type 2, protected by TLS
	// only) instead of the hashed challenge response: servers that check
	// users against RADIUS or an NT domain need it.
	PlainPassword  bool
	MaxConnections int
	HalfDuplex     bool
	Compress       bool
	NoEncrypt      bool
	BridgeMode     bool
	MonitorMode    bool
	QoS            bool

	// PinSHA256 is the hex SHA-256 of the server certificate (DER). Empty:
	// the certificate is not verified, as with the real client's default.
	PinSHA256 string
	Timeout   time.Duration // per handshake step, default 15 s
	// NoRedirect makes Login return a farm's redirect (a *wire.Redirect
	// error) instead of following it.
	NoRedirect bool

	// clientStr replaces ClientString in the login (a Link sets it for
	// cascades, whose peers recognise SoftEther's cascade string).
	clientStr string
}

func (o *Options) clientString() string {
	if o.clientStr != "" {
		return o.clientStr
	}
	return ClientString
}

// Conn is one TCP connection in its data phase.
type Conn struct {
	Raw    net.Conn
	Stream session.Stream
	cert   []byte // server certificate (DER)

	// Server is the server's hello (product name, version, build) and
	// Cipher the TLS cipher suite; set on the first connection of a login.
	Server wire.Hello
	Cipher string
}

// Login dials the server, logs in and returns the welcome and the first
// connection of the new session. A server farm may redirect the login to
// the node that carries the session: Login follows, as the real client
// does (SoftEther Protocol.c:4611-4686): it answers with an empty pack,
// then logs in to the node with the ticket, on the port it used if the
// node has it, else the node's first, and accepts only the certificate
// the redirect names.
func Login(ctx context.Context, o *Options) (*wire.Welcome, *Conn, error) {
	w, c, err := login(ctx, o, nil)
	var r *wire.Redirect
	if !errors.As(err, &r) || o.NoRedirect {
		return w, c, err
	}
	to := *o
	_, port, _ := net.SplitHostPort(o.Server)
	if !slices.ContainsFunc(r.Ports, func(p uint32) bool { return strconv.Itoa(int(p)) == port }) {
		port = strconv.Itoa(int(r.Ports[0]))
	}
	to.Server = net.JoinHostPort(r.Addr.String(), port)
	sum := sha256.Sum256(r.Cert)
	to.PinSHA256 = hex.EncodeToString(sum[:])
	w, c, err = login(ctx, &to, &r.Ticket)
	if err != nil {
		return nil, nil, fmt.Errorf("after the farm's redirect to %s: %w", to.Server, err)
	}
	return w, c, nil
}

// LoginTicket logs in with the ticket of a farm's redirect (o names the
// node, hub and user); Login does this itself when it is redirected.
func LoginTicket(ctx context.Context, o *Options, ticket [20]byte) (*wire.Welcome, *Conn, error) {
	return login(ctx, o, &ticket)
}

// login is one login: with a password, or with the ticket of a farm's
// redirect.
func login(ctx context.Context, o *Options, ticket *[20]byte) (*wire.Welcome, *Conn, error) {
	hs, hello, err := dial(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	req := &wire.Login{
		Hub:                  o.Hub,
		User:                 o.User,
		ClientStr:            o.clientString(),
		ClientVer:            501,
		ClientBuild:          9674,
		MaxConnection:        uint32(max(o.MaxConnections, 1)),
		UseEncrypt:           !o.NoEncrypt,
		UseCompress:          o.Compress,
		HalfConnection:       o.HalfDuplex,
		QoS:                  o.QoS,
		RequireBridgeRouting: o.BridgeMode,
		RequireMonitor:       o.MonitorMode,
	}
	switch {
	case ticket != nil:
		req.AuthType = wire.AuthTicket
		req.Ticket = ticket[:]
	case o.Anonymous:
		req.AuthType = wire.AuthAnonymous
	case o.PlainPassword:
		req.AuthType = wire.AuthPlainPassword
		req.PlainPassword = o.Password
	default:
		req.AuthType = wire.AuthPassword
		hash := sha0.HashPassword(o.User, o.Password)
		if len(o.PasswordHash) == len(hash) {
			copy(hash[:], o.PasswordHash)
		}
		sp := sha0.SecurePassword(hash, hello.Random)
		req.SecurePassword = sp[:]
	}
	resp, err := hs.request(req.Pack())
	if err != nil {
		hs.raw.Close()
		return nil, nil, err
	}
	w, err := wire.ParseWelcome(resp)
	if r := (*wire.Redirect)(nil); errors.As(err, &r) && ticket == nil {
		wire.WritePackRequest(hs.tc, hs.host, pack.New()) // the real client's goodbye
		hs.raw.Close()
		return nil, nil, r
	}
	if err != nil {
		hs.raw.Close()
		return nil, nil, fmt.Errorf("login to hub %q as %q: %w", o.Hub, o.User, err)
	}
	dir := wire.Both
	if w.HalfConnection {
		dir = wire.ClientToServer
	}
	c := hs.dataConn(w.UseEncrypt, dir)
	c.Server = *hello
	c.Cipher = tls.CipherSuiteName(hs.tc.ConnectionState().CipherSuite)
	return w, c, nil
}

// errCertChanged means an additional connection met another certificate
// than the session's first one: the real client then resets the session.
var errCertChanged = errors.New("server presented a different certificate on an additional connection")

// AdditionalConnect opens one more connection of the session with the
// given key. cert is the certificate of the session's first connection:
// every connection of a session must see the same one.
func AdditionalConnect(ctx context.Context, o *Options, w *wire.Welcome, cert []byte) (*Conn, error) {
	hs, _, err := dial(ctx, o)
	if err != nil {
		return nil, err
	}
	if cert != nil && string(cert) != string(hs.cert) {
		hs.raw.Close()
		return nil, errCertChanged
	}
	resp, err := hs.request((&wire.AdditionalConnect{SessionKey: w.SessionKey, ClientStr: o.clientString()}).Pack())
	if err != nil {
		hs.raw.Close()
		return nil, err
	}
	if err := wire.PackError(resp); err != nil {
		hs.raw.Close()
		return nil, err
	}
	return hs.dataConn(w.UseEncrypt, wire.Direction(resp.Int("direction"))), nil
}

// Cert returns the DER certificate the server presented.
func (c *Conn) Cert() []byte { return c.cert }

type handshake struct {
	raw  net.Conn
	rc   *wire.RecordConn
	tc   *tls.Conn
	br   *bufio.Reader
	host string
	cert []byte
}

func dial(ctx context.Context, o *Options) (*handshake, *wire.Hello, error) {
	step := o.Timeout
	if step == 0 {
		step = 15 * time.Second
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", o.Server)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", o.Server, err)
	}
	hs := &handshake{raw: raw, rc: wire.NewRecordConn(raw)}
	host, _, _ := net.SplitHostPort(o.Server)
	hs.host = host
	if ap, err := netip.ParseAddrPort(raw.RemoteAddr().String()); err == nil {
		hs.host = ap.Addr().Unmap().String()
	}
	raw.SetDeadline(time.Now().Add(step))
	hs.tc = tls.Client(hs.rc, &tls.Config{
		ServerName:         strings.Trim(host, "[]"),
		InsecureSkipVerify: true, // SoftEther servers use self-signed certificates; see PinSHA256
		MinVersion:         tls.VersionTLS12,
	})
	if err := hs.tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, nil, fmt.Errorf("TLS handshake with %s: %w", o.Server, err)
	}
	hs.cert = hs.tc.ConnectionState().PeerCertificates[0].Raw
	if o.PinSHA256 != "" {
		sum := sha256.Sum256(hs.cert)
		if !strings.EqualFold(hex.EncodeToString(sum[:]), strings.ReplaceAll(o.PinSHA256, ":", "")) {
			raw.Close()
			return nil, nil, fmt.Errorf("server certificate SHA-256 %x does not match the pinned one", sum)
		}
	}
	// Minimal (bufio's smallest): the preamble's few lines are read in
	// pieces and bodies around the buffer, and in the data phase
	// wire.BlockReader reads around it into buffers it holds only while
	// data flows. A larger one would stay for the connection's life and
	// make every batch's first bytes pass through it.
	hs.br = bufio.NewReaderSize(hs.tc, 16)
	if err := wire.WriteSignature(hs.tc, hs.host); err != nil {
		raw.Close()
		return nil, nil, err
	}
	p, err := hs.response()
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	hello, err := wire.ParseHello(p)
	if err != nil {
		raw.Close()
		return nil, nil, err
	}
	return hs, hello, nil
}

func (hs *handshake) request(p *pack.Pack) (*pack.Pack, error) {
	if err := wire.WritePackRequest(hs.tc, hs.host, p); err != nil {
		return nil, err
	}
	return hs.response()
}

// response reads the next response pack, skipping NOOPs (noop=2) that newer
// servers push while an authentication is slow.
func (hs *handshake) response() (*pack.Pack, error) {
	for {
		p, err := wire.ReadPackResponse(hs.br)
		if err != nil {
			return nil, err
		}
		if p.Int("noop") == 2 {
			continue
		}
		return p, nil
	}
}

func (hs *handshake) dataConn(encrypt bool, dir wire.Direction) *Conn {
	hs.raw.SetDeadline(time.Time{})
	c := &Conn{Raw: hs.raw, cert: hs.cert}
	if encrypt {
		hs.rc.BufferReads()
		hs.rc.BufferWrites()
		c.Stream = session.Stream{R: hs.br, W: hs.tc, Dir: dir, Flush: hs.rc.Flush}
		if hs.rc.CanTryFlush() {
			// The TAP reader may then send its frames itself while the
			// writer is idle (session.Session.Push, tap.Port.SetPush).
			c.Stream.TryFlush = hs.rc.TryFlush
		}
	} else {
		hs.rc.SetExact(false)
		// Minimal: wire.BlockReader reads around it into pooled buffers.
		c.Stream = session.Stream{R: bufio.NewReaderSize(hs.rc, 16), W: hs.raw, Dir: dir}
	}
	return c
}
