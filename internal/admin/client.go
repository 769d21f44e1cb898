package admin

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ethervpn/ethervpn/internal/pack"
	"github.com/ethervpn/ethervpn/internal/sha0"
	"github.com/ethervpn/ethervpn/internal/vpnerr"
	"github.com/ethervpn/ethervpn/internal/wire"
)

// ClientString is what ethervpn's admin client calls itself in the login.
const ClientString = "SoftEther VPN Command-Line Admin Tool (ethervpn)"

// handshakeTimeout bounds each step of the login.
const handshakeTimeout = 15 * time.Second

// Client is an authenticated binary admin RPC connection to a SoftEther
// compatible server (ethervpn or the real vpnserver), as vpncmd opens it.
// Calls are serialized: the protocol has one call outstanding at a time.
type Client struct {
	// Hub is the hub of a hub-admin login, "" for server admin.
	Hub string
	// ServerProduct, ServerVersion and ServerBuild come from the hello.
	ServerProduct              string
	ServerVersion, ServerBuild uint32
	// EmptyPassword reports that the server said the password is empty.
	EmptyPassword bool

	mu   sync.Mutex
	conn net.Conn
	tc   *tls.Conn
	br   *bufio.Reader
	buf  []byte
}

// Dial connects to addr (host:port), runs the signature, hello and admin
// login of docs/protocol/admin.md#admin-login with password, in hub-admin mode when hub
// is not empty, and returns the client in RPC mode. A refused login
// returns the server's Error (vpnerr.AccessDenied for a wrong password,
// vpnerr.HubNotFound, ...).
//
// Like vpncmd, the client does not verify the server certificate: SoftEther
// servers use self-signed ones, and the password never crosses the wire
// (only a response to the server's random challenge does).
func Dial(ctx context.Context, addr, hub, password string) (*Client, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", vpnerr.ConnectFailed, err)
	}
	c := &Client{Hub: hub, conn: conn}
	if err := c.login(ctx, addr, hub, password); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) login(ctx context.Context, addr, hub, password string) error {
	host, _, _ := net.SplitHostPort(addr)
	sni := strings.Trim(host, "[]")
	// The real client sends the server's address as text in Host.
	if ap, err := netip.ParseAddrPort(c.conn.RemoteAddr().String()); err == nil {
		host = ap.Addr().Unmap().String()
	}
	c.conn.SetDeadline(time.Now().Add(handshakeTimeout))
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	if _, err := netip.ParseAddr(sni); err != nil {
		cfg.ServerName = sni
	}
	c.tc = tls.Client(c.conn, cfg)
	if err := c.tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("%w: TLS handshake with %s: %v", vpnerr.ConnectFailed, addr, err)
	}
	c.br = bufio.NewReaderSize(c.tc, 64<<10)
	if err := wire.WriteSignature(c.tc, host); err != nil {
		return fmt.Errorf("%w: %v", vpnerr.Disconnected, err)
	}
	p, err := c.response()
	if err != nil {
		return err
	}
	hello, err := wire.ParseHello(p)
	if err != nil {
		return fmt.Errorf("%w: %v", vpnerr.ServerIsNotVPN, err)
	}
	c.ServerProduct, c.ServerVersion, c.ServerBuild = hello.Product, hello.Version, hello.Build

	auth := pack.New()
	auth.AddStr("method", "admin")
	if hub != "" {
		auth.AddStr("hubname", hub)
	}
	sp := sha0.SecurePassword(sha0.AdminHash(password), hello.Random)
	auth.AddData("secure_password", sp[:])
	auth.AddInt("accept_empty_password", 1)
	auth.AddStr("client_str", ClientString)
	auth.AddInt("client_ver", 501)
	auth.AddInt("client_build", 9674)
	if err := wire.WritePackRequest(c.tc, host, auth); err != nil {
		return fmt.Errorf("%w: %v", vpnerr.Disconnected, err)
	}
	res, err := c.response()
	if err != nil {
		return err
	}
	if code := res.Int("error"); code != 0 {
		return vpnerr.Error(code)
	}
	c.EmptyPassword = res.Int("empty_password") != 0
	c.conn.SetDeadline(time.Time{})
	return nil
}

// response reads a handshake response, skipping keep-alive noops.
func (c *Client) response() (*pack.Pack, error) {
	for range 31 {
		p, err := wire.ReadPackResponse(c.br)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", vpnerr.ServerIsNotVPN, err)
		}
		if p.Int("noop") == 0 {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: too many noop packs", vpnerr.ProtocolError)
}

// Call runs method with the arguments in (which is not modified) and
// returns the result. A failed call returns the server's Error; a broken
// connection returns an error wrapping vpnerr.Disconnected, after which the
// Client is unusable.
func (c *Client) Call(ctx context.Context, method string, in *pack.Pack) (*pack.Pack, error) {
	req := pack.New()
	if in != nil {
		for _, e := range in.Elements() {
			req.AddElement(e)
		}
	}
	req.AddStr("function_name", method)

	c.mu.Lock()
	defer c.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
		defer c.conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()
	c.buf = AppendFrame(c.buf[:0], req)
	if _, err := c.tc.Write(c.buf); err != nil {
		return nil, c.broken(ctx, err)
	}
	// A reply is a PACK of at most MaxFrameSize, as a request: the real
	// vpncmd accepts 512 MiB, far more than any reply (the largest, GetConfig,
	// is the configuration file), and a rogue server could make it hold that.
	res, err := ReadFrame(c.br, MaxFrameSize)
	if err != nil {
		return nil, c.broken(ctx, err)
	}
	if code := res.Int("error"); code != 0 {
		return nil, vpnerr.Error(code)
	}
	return res, nil
}

func (c *Client) broken(ctx context.Context, err error) error {
	c.conn.Close()
	if ctx.Err() != nil {
		err = errors.Join(ctx.Err(), err)
	}
	return fmt.Errorf("%w: %v", vpnerr.Disconnected, err)
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
