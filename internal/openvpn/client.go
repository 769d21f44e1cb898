package openvpn

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The client side of the protocol, as OpenVPN 2.6 speaks it over UDP: the
// client's hard reset, TLS as client on the same reliable layer the server
// uses, key method 2 with username and password, PUSH_REQUEST/PUSH_REPLY,
// and the data channel with the pushed cipher, peer id and key derivation.
// It is made for load generation and tests: no certificate of its own, no
// tls-crypt, no renegotiation (a server's soft reset is dropped; OpenVPN's
// servers renegotiate after an hour by default).

// ClientOptions configures a Client (ClientConfig is the client file
// OpenVpnMakeConfig writes).
type ClientOptions struct {
	// TLS is the client's TLS configuration: RootCAs and ServerName, or
	// InsecureSkipVerify with VerifyPeerCertificate pinning the server's
	// certificate (as openvpn's peer-fingerprint does).
	TLS                *tls.Config
	Username, Password string
	// DevType is "tun" (IP packets) or "tap" (Ethernet frames); "" is tun.
	DevType string
	// Ciphers are offered in IV_CIPHERS, most preferred first; the first
	// is also the options string's "cipher", which servers without
	// negotiation (SoftEther's "poor man's NCP") take. nil means
	// AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305, OpenVPN 2.6's default.
	Ciphers []string
	// NoEKM leaves IV_PROTO's key-export bit out, so that the server
	// derives the data keys with OpenVPN's PRF.
	NoEKM bool
	// HandshakeTimeout bounds the reset, TLS, key method 2 and the push;
	// 0 means 30 s.
	HandshakeTimeout time.Duration
	// OnData receives each decrypted data packet other than pings, on the
	// goroutine that called HandlePacket; pkt is valid during the call.
	OnData func(pkt []byte)
	// Logf, if set, receives one line per notable event.
	Logf func(format string, args ...any)
}

// ClientStats counts a client's data packets and drops; atomic.
type ClientStats struct {
	DataIn, DataOut, Pings  atomic.Uint64
	DropNoKey, DropAuth     atomic.Uint64
	DropReplay, DropControl atomic.Uint64
}

// Errors of the client's handshake.
var (
	ErrHandshakeTimeout = errors.New("openvpn: client handshake timed out")
	ErrClientClosed     = errors.New("openvpn: client closed")
)

// Client is one OpenVPN client session: Start it, feed it every packet the
// server sends (HandlePacket), and send data with SendData or SealData once
// Handshake returned. Safe for concurrent use; HandlePacket's callers
// serialise.
type Client struct {
	cfg      *ClientOptions
	output   func([]byte)
	localSID uint64
	rel      *reliable

	mu        sync.Mutex
	remoteSID uint64
	gotReset  bool
	closed    bool
	err       error
	push      *PushReply

	tx   sealer
	done chan struct{} // closed when the handshake ends, err tells how

	Stats ClientStats
}

// NewClient makes a client that sends its packets (UDP datagrams, or TCP
// frames without their length) through output, which must not block and
// must not keep the slice.
func NewClient(cfg *ClientOptions, output func(pkt []byte)) *Client {
	c := &Client{cfg: cfg, output: output, done: make(chan struct{})}
	c.tx.send, c.tx.sent = output, &c.Stats.DataOut
	var b [8]byte
	rand.Read(b[:])
	c.localSID = binary.BigEndian.Uint64(b[:])
	c.rel = newReliable(0, c.localSID, 0, output)
	return c
}

func (c *Client) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// Start sends the client's hard reset (retransmitted until the server
// answers) and runs the handshake on a goroutine of its own.
func (c *Client) Start() {
	timeout := c.cfg.HandshakeTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	t := time.AfterFunc(timeout, func() { c.failHandshake(ErrHandshakeTimeout) })
	go func() {
		defer t.Stop()
		c.rel.send(OpHardResetClientV2, nil)
		if err := c.handshake(); err != nil {
			c.failHandshake(err)
		}
	}()
}

// Handshake waits until the data channel is up (nil) or the handshake
// failed (ErrAuthFailed for a refused password).
func (c *Client) Handshake(ctx context.Context) error {
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Push returns the server's PUSH_REPLY, or nil before it came.
func (c *Client) Push() *PushReply {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.push
}

// Cipher returns the data channel's cipher, or "" before it is up.
func (c *Client) Cipher() string {
	if dk := c.tx.keys.Load(); dk != nil {
		return dk.Cipher
	}
	return ""
}

// failHandshake ends a handshake still running with err and closes the
// control channel; once the data channel is up it does nothing.
func (c *Client) failHandshake(err error) { c.end(err, false) }

// fail ends the handshake (if still running) with err and closes the
// control channel.
func (c *Client) fail(err error) { c.end(err, true) }

func (c *Client) end(err error, always bool) {
	c.mu.Lock()
	select {
	case <-c.done:
		if !always {
			c.mu.Unlock()
			return
		}
	default:
		c.err = err
		close(c.done)
	}
	c.mu.Unlock()
	c.rel.close(errClosed)
}

// Close tells the server the client exits (OCC_EXIT on the data channel,
// as explicit-exit-notify does) and ends the session.
func (c *Client) Close() {
	c.mu.Lock()
	closed := c.closed
	c.closed = true
	c.mu.Unlock()
	if closed {
		return
	}
	var msg [17]byte
	copy(msg[:], occMagic[:])
	msg[16] = occExit
	c.SendData(msg[:])
	c.fail(ErrClientClosed)
}

// HandlePacket processes one packet from the server. Data packets are
// decrypted in place and given to OnData before it returns. The error says
// why a packet was dropped; the client carries on.
func (c *Client) HandlePacket(pkt []byte) error {
	if len(pkt) == 0 {
		return ErrShort
	}
	op, kid := Opcode(pkt[0])
	if op == OpDataV1 || op == OpDataV2 {
		dk := c.tx.keys.Load()
		if dk == nil || dk.KeyID != kid {
			c.Stats.DropNoKey.Add(1)
			return ErrNoKey
		}
		p, err := dk.Open(pkt)
		if err != nil {
			if err == ErrReplay {
				c.Stats.DropReplay.Add(1)
			} else {
				c.Stats.DropAuth.Add(1)
			}
			return err
		}
		if IsPing(p) {
			c.Stats.Pings.Add(1)
			return nil
		}
		c.Stats.DataIn.Add(1)
		if c.cfg.OnData != nil {
			c.cfg.OnData(p)
		}
		return nil
	}
	var ctl Control
	if err := ParseControl(pkt, &ctl); err != nil {
		c.Stats.DropControl.Add(1)
		return err
	}
	if err := c.handleControl(&ctl); err != nil {
		c.Stats.DropControl.Add(1)
		return err
	}
	return nil
}

func (c *Client) handleControl(ctl *Control) error {
	if ctl.KeyID != 0 {
		return fmt.Errorf("openvpn: client: control packet on key id %d (renegotiation is not supported)", ctl.KeyID)
	}
	if len(ctl.Acks) > 0 && ctl.RemoteSessionID != c.localSID {
		return errors.New("openvpn: client: control packet for another session")
	}
	c.mu.Lock()
	if !c.gotReset {
		// The server's session id comes with its hard reset (OpenVPN
		// ssl.c, the client learns session_id_remote from the first
		// packet it accepts).
		if ctl.Opcode != OpHardResetServerV2 {
			c.mu.Unlock()
			return fmt.Errorf("openvpn: client: opcode %d before the server's hard reset", ctl.Opcode)
		}
		c.gotReset, c.remoteSID = true, ctl.SessionID
		c.rel.mu.Lock()
		c.rel.remoteSID = ctl.SessionID
		c.rel.mu.Unlock()
	} else if ctl.SessionID != c.remoteSID {
		c.mu.Unlock()
		return errors.New("openvpn: client: control packet of another server session")
	}
	c.mu.Unlock()
	c.rel.onPacket(ctl)
	return nil
}

// SendData encrypts an IP packet (tun) or Ethernet frame (tap) and sends
// it, reusing one buffer.
func (c *Client) SendData(pkt []byte) error { return c.tx.sendData(pkt) }

// SealData appends the encrypted data packet carrying pkt to dst and
// returns it without sending it, for a transport that sends in batches.
// It allocates nothing when dst has room for len(pkt) plus 100 bytes.
func (c *Client) SealData(dst, pkt []byte) ([]byte, error) { return c.tx.sealData(dst, pkt) }

// SendPing sends OpenVPN's keepalive ping (the pushed "ping" interval is
// the caller's to keep).
func (c *Client) SendPing() error { return c.SendData(pingMagic[:]) }

// devType returns the configured device type.
func (c *Client) devType() string {
	if c.cfg.DevType == "tap" {
		return "tap"
	}
	return "tun"
}

func (c *Client) ciphers() []string {
	if len(c.cfg.Ciphers) > 0 {
		return c.cfg.Ciphers
	}
	return []string{"AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"}
}

// optionsString is the client's options string (OpenVPN options.c
// options_string): servers compare it only for warnings, but SoftEther
// takes dev-type (tun or tap) and cipher from it.
func (c *Client) optionsString() string {
	ciph := c.ciphers()[0]
	auth := "SHA1"
	if cs, ok := lookupCipher(ciph); ok && cs.aead {
		auth = "[null-digest]"
	}
	cs, _ := lookupCipher(ciph)
	return fmt.Sprintf("V4,dev-type %s,link-mtu 1559,tun-mtu 1500,proto UDPv4,cipher %s,auth %s,keysize %d,key-method 2,tls-client",
		c.devType(), ciph, auth, cs.keyLen*8)
}

// peerInfo is the client's peer-info block (OpenVPN ssl.c push_peer_info):
// IV_PROTO announces P_DATA_V2 and, unless NoEKM, TLS-EKM key derivation;
// IV_CIPHERS the ciphers it takes.
func (c *Client) peerInfo() string {
	proto := ivProtoDataV2
	if !c.cfg.NoEKM {
		proto |= ivProtoTLSKeyExp
	}
	return fmt.Sprintf("IV_VER=2.6.0\nIV_PLAT=linux\nIV_PROTO=%d\nIV_NCP=2\nIV_CIPHERS=%s\nIV_MTU=1600\nIV_GUI_VER=ethervpn-openvpn-client\n",
		proto, strings.Join(c.ciphers(), ":"))
}

func (c *Client) handshake() error {
	conn := tls.Client(&ctlConn{r: c.rel}, c.cfg.TLS)
	if err := conn.HandshakeContext(context.Background()); err != nil {
		return fmt.Errorf("openvpn: client: TLS handshake: %w", err)
	}
	ckm := &KeyMethod2{Options: c.optionsString(), Username: c.cfg.Username, Password: c.cfg.Password, PeerInfo: c.peerInfo()}
	rand.Read(ckm.PreMaster[:])
	rand.Read(ckm.Random1[:])
	rand.Read(ckm.Random2[:])
	if _, err := conn.Write(ckm.AppendClient(nil)); err != nil {
		return err
	}
	// The server's key method 2 message is one TLS record (OpenVPN and
	// this package's server write it with one write).
	buf := make([]byte, 16<<10)
	n, err := conn.Read(buf)
	if err != nil {
		return fmt.Errorf("openvpn: client: reading the server's key method 2: %w", err)
	}
	skm, err := ParseKeyMethod2(buf[:n], false)
	if err != nil {
		return err
	}

	// PUSH_REQUEST, repeated every second until the answer comes: a server
	// still checking the password ignores it (OpenVPN's client does the
	// same, push.c send_push_request).
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if _, err := conn.Write([]byte("PUSH_REQUEST\x00")); err != nil {
				return
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	var push *PushReply
	var parts []string
	cr := newControlReader(conn, buf, maxControlMessage)
	for push == nil {
		msg, err := cr.next()
		if err != nil {
			return fmt.Errorf("openvpn: client: waiting for PUSH_REPLY: %w", err)
		}
		switch {
		case strings.HasPrefix(msg, "AUTH_FAILED"):
			c.logf("openvpn: client %s: %s", c.cfg.Username, msg)
			return ErrAuthFailed
		case strings.HasPrefix(msg, "PUSH_REPLY"):
			// A long reply comes in parts, each but the last ending
			// in "push-continuation 2" (OpenVPN push.c).
			if strings.HasSuffix(msg, ",push-continuation 2") {
				parts = append(parts, strings.TrimSuffix(msg, ",push-continuation 2"))
				continue
			}
			if len(parts) > 0 {
				msg = strings.Join(append(parts, strings.TrimPrefix(msg, "PUSH_REPLY")), "")
			}
			p, err := ParsePushReply(msg)
			if err != nil {
				return err
			}
			push = p
		default:
			c.logf("openvpn: client %s: control message %q ignored", c.cfg.Username, msg)
		}
	}

	// The data keys: TLS-EKM when the server pushed it, else the PRF over
	// both key method 2 messages; the client encrypts with the first key
	// and decrypts with the second, the server's directions swapped
	// (OpenVPN ssl.c generate_key_expansion, key_direction NORMAL).
	ciph := push.Cipher
	if ciph == "" {
		ciph = c.ciphers()[0]
	}
	var km [KeyMaterialLen]byte
	if push.EKM {
		st := conn.ConnectionState()
		b, err := st.ExportKeyingMaterial(EKMLabel, nil, KeyMaterialLen)
		if err != nil {
			return fmt.Errorf("openvpn: client: TLS-EKM: %w", err)
		}
		copy(km[:], b)
	} else {
		km = DeriveKeysPRF(ckm, skm, c.localSID, c.remoteSID)
	}
	var swapped [KeyMaterialLen]byte
	copy(swapped[:128], km[128:])
	copy(swapped[128:], km[:128])
	dk, err := NewDataKeys(0, ciph, "SHA1", &swapped, push.PeerID, false)
	if err != nil {
		return err
	}
	c.tx.keys.Store(dk)
	c.mu.Lock()
	c.push = push
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil
	default:
		close(c.done)
	}
	c.mu.Unlock()
	c.logf("openvpn: client %s up: cipher %s ekm %v peer-id %d", c.cfg.Username, ciph, push.EKM, push.PeerID)

	// Later control messages: a server that ends the session says so.
	for {
		msg, err := cr.next()
		switch {
		case err == errControlTooLong:
			continue
		case err != nil:
			return nil
		}
		c.logf("openvpn: client %s: control message %q", c.cfg.Username, msg)
	}
}

// maxControlMessage bounds one control-channel message the client reads
// (OpenVPN's TLS_CHANNEL_BUF_SIZE is 2048; pushes come in parts of it).
const maxControlMessage = 16 << 10
