package openvpn

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is what a server gives each Session. The callbacks run on the
// session's goroutines: Authenticate on the control goroutine (it may block,
// e.g. while the hub obtains a DHCP lease), OnData on the goroutine that
// called HandlePacket.
type Config struct {
	// TLS holds the server's certificate. ClientAuth RequestClientCert
	// lets a client send one for the caller to check.
	TLS *tls.Config
	// TCP selects the TCP flavour: "proto TCPv4_SERVER" in the options
	// string and strictly rising packet ids on the data channel.
	TCP bool
	// Ciphers lists the data-channel ciphers the server accepts, most
	// preferred first; nil means DefaultCiphers.
	Ciphers []string
	// TLSCrypt, if set, is the tls-crypt (v1) key: every control packet
	// is authenticated and encrypted with it, and a packet that fails is
	// dropped before it costs any state.
	TLSCrypt *StaticKey
	// DisableEKM keeps OpenVPN's PRF key derivation even when the client
	// offers key-derivation tls-ekm.
	DisableEKM bool
	// HandshakeTimeout bounds TLS plus key method 2; 0 means 30 s
	// (SoftEther OPENVPN_NEW_SESSION_DEADLINE_TIMEOUT).
	HandshakeTimeout time.Duration

	// Authenticate checks the client's username and password and returns
	// what to push. An error sends AUTH_FAILED and closes the session.
	Authenticate func(*AuthRequest) (*PushOptions, error)
	// OnData receives each decrypted data packet: an IP packet (tun) or an
	// Ethernet frame (tap). pkt is only valid during the call.
	OnData func(s *Session, pkt []byte)
	// OnClose is called once when the session ends.
	OnClose func(s *Session, err error)
	// Logf, if set, receives one line per notable event.
	Logf func(format string, args ...any)
}

// AuthRequest is what the client sent in key method 2.
type AuthRequest struct {
	Session  *Session
	Username string
	Password string
	// Options is the client's options string; DevType is its dev-type
	// ("tun" or "tap").
	Options string
	DevType string
	// PeerInfo holds IV_VER, IV_PLAT, IV_HWADDR, UV_* and so on.
	PeerInfo PeerInfo
	// PeerCertificates is the client's certificate chain, if it sent one.
	PeerCertificates []*x509.Certificate
	// Renegotiation is true for a key renegotiation of a running session:
	// check the password again but do not allocate anything.
	Renegotiation bool
}

// PushOptions is what PUSH_REPLY tells the client. Zero values are left out.
type PushOptions struct {
	IP, Netmask     netip.Addr // ifconfig (topology subnet)
	Gateway         netip.Addr // route-gateway
	DNS             []netip.Addr
	Domain          string
	Routes          []netip.Prefix // route <net> <mask> (via the gateway)
	RedirectGateway bool
	Ping            int // seconds; the caller sends pings (Session.SendPing)
	PingRestart     int
	Extra           []string // further options, pushed as they are
}

// Stats counts what a session dropped; read with atomic loads.
type Stats struct {
	DataIn, DataOut         atomic.Uint64
	DropNoKey, DropAuth     atomic.Uint64
	DropReplay, DropControl atomic.Uint64
}

// ErrAuthFailed closes a session whose Authenticate refused it.
var ErrAuthFailed = errors.New("openvpn: authentication failed")

// Session is the server side of one OpenVPN client: feed it every packet
// the client sends (HandlePacket) and it answers through its output
// function. Safe for concurrent use.
type Session struct {
	cfg      *Config
	output   func([]byte) // data packets
	ctlOut   func([]byte) // control packets (wrapped with tls-crypt if set)
	peerID   int
	localSID uint64

	mu        sync.Mutex
	remoteSID uint64
	started   bool
	keys      [8]*keyState
	cipher    string // negotiated on key id 0, kept on renegotiation
	auth      string
	ekm       bool
	v2        bool
	push      *PushOptions
	closed    bool
	latest    *keyState // the last key state whose handshake finished

	data  [8]atomic.Pointer[DataKeys]
	tx    sealer        // with the current keys
	ready chan struct{} // closed when key id 0's data keys are in place

	crypt  *tlsCrypt // nil without tls-crypt
	ctlBuf []byte    // unwrapped control packet; HandlePacket's caller serialises
	ctlMu  sync.Mutex

	Stats Stats
}

type keyState struct {
	id      byte
	created time.Time
	rel     *reliable
	conn    atomic.Pointer[tls.Conn] // set when key method 2 is done
}

// NewSession makes the session of one client. peerID (0..0xFFFFFF, or -1
// for none) is pushed to clients that support P_DATA_V2 so that a UDP
// server can find the session when the client's address changes; output
// sends one packet to the client (frame it for TCP) and must not block.
func NewSession(cfg *Config, peerID int, output func(pkt []byte)) *Session {
	s := &Session{cfg: cfg, output: output, peerID: peerID, ready: make(chan struct{})}
	s.tx.send, s.tx.sent = output, &s.Stats.DataOut
	s.ctlOut = output
	if cfg.TLSCrypt != nil {
		s.crypt = newTLSCrypt(cfg.TLSCrypt)
		s.ctlOut = func(p []byte) { output(s.crypt.wrap(p)) }
	}
	var b [8]byte
	rand.Read(b[:])
	s.localSID = binary.BigEndian.Uint64(b[:])
	return s
}

// IsNewSession reports whether pkt opens a session: a
// P_CONTROL_HARD_RESET_CLIENT_V2 on key id 0. A UDP server makes a Session
// for an unknown source only on such a packet (and counts it against its
// half-open limits); anything else from an unknown source is dropped.
func IsNewSession(pkt []byte) bool {
	return len(pkt) >= 14 && pkt[0] == OpHardResetClientV2<<3
}

// CheckTLSCrypt reports whether a packet from an unknown source passes
// tls-crypt's authentication, so that a server makes no Session for
// packets without the key. It does not touch any replay state.
func CheckTLSCrypt(k *StaticKey, pkt []byte) bool {
	_, err := newTLSCrypt(k).unwrap(nil, pkt)
	return err == nil
}

// PeerID returns the peer id the session was made with.
func (s *Session) PeerID() int { return s.peerID }

// Ready is closed when the data channel is up.
func (s *Session) Ready() <-chan struct{} { return s.ready }

// KeyID returns the key id data is sent with (0, then 1..7 after each
// renegotiation), or -1 before the data channel is up.
func (s *Session) KeyID() int {
	if dk := s.tx.keys.Load(); dk != nil {
		return int(dk.KeyID)
	}
	return -1
}

// Cipher returns the negotiated data-channel cipher.
func (s *Session) Cipher() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cipher
}

// EKM reports whether the data keys come from TLS-EKM rather than the PRF.
func (s *Session) EKM() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ekm
}

func (s *Session) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// HandlePacket processes one packet from the client (a UDP datagram or one
// TCP frame without its length). Data packets are decrypted in place and
// given to OnData before it returns. The error says why a packet was
// dropped; the session carries on.
func (s *Session) HandlePacket(pkt []byte) error {
	if len(pkt) == 0 {
		return ErrShort
	}
	op, kid := Opcode(pkt[0])
	if op == OpDataV1 || op == OpDataV2 {
		dk := s.data[kid].Load()
		if dk == nil {
			s.Stats.DropNoKey.Add(1)
			return ErrNoKey
		}
		p, err := dk.Open(pkt)
		if err != nil {
			if err == ErrReplay {
				s.Stats.DropReplay.Add(1)
			} else {
				s.Stats.DropAuth.Add(1)
			}
			return err
		}
		s.Stats.DataIn.Add(1)
		if IsPing(p) {
			return nil
		}
		if occ, exit := isOCC(p); occ {
			if exit {
				s.logf("openvpn: session %016x: client exits (OCC_EXIT)", s.remoteSID)
				go s.close(errClosed) // not under the caller's loop
			}
			return nil
		}
		if s.cfg.OnData != nil {
			s.cfg.OnData(s, p)
		}
		return nil
	}
	if s.crypt != nil {
		s.ctlMu.Lock()
		defer s.ctlMu.Unlock()
		p, err := s.crypt.unwrap(s.ctlBuf, pkt)
		if err != nil {
			s.Stats.DropControl.Add(1)
			return err
		}
		s.ctlBuf, pkt = p, p
	}
	var c Control
	if err := ParseControl(pkt, &c); err != nil {
		s.Stats.DropControl.Add(1)
		return err
	}
	err := s.handleControl(&c)
	if err != nil {
		s.Stats.DropControl.Add(1)
	}
	return err
}

func (s *Session) handleControl(c *Control) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	if !s.started {
		if c.Opcode != OpHardResetClientV2 || c.KeyID != 0 {
			s.mu.Unlock()
			return fmt.Errorf("openvpn: session starts with opcode %d", c.Opcode)
		}
		s.started, s.remoteSID = true, c.SessionID
		ks := s.newKeyStateLocked(0)
		s.mu.Unlock()
		ks.rel.onPacket(c)
		ks.rel.send(OpHardResetServerV2, nil)
		go s.run(ks)
		return nil
	}
	if c.SessionID != s.remoteSID || (len(c.Acks) > 0 && c.RemoteSessionID != s.localSID) {
		s.mu.Unlock()
		return errors.New("openvpn: control packet of another session")
	}
	ks := s.keys[c.KeyID]
	if c.Opcode == OpControlSoftResetV1 && c.PacketID == 0 && (ks == nil || s.staleLocked(ks)) {
		// The client renegotiates on a new key id (OpenVPN ssl.c
		// key_state_soft_reset; SoftEther serves these too). A soft reset
		// on a key id in use is a retransmission, acked below.
		ks = s.newKeyStateLocked(c.KeyID)
		s.mu.Unlock()
		ks.rel.onPacket(c)
		ks.rel.send(OpControlSoftResetV1, nil)
		go s.run(ks)
		return nil
	}
	s.mu.Unlock()
	if ks == nil {
		return ErrNoKey
	}
	ks.rel.onPacket(c)
	return nil
}

// staleLocked reports whether ks is an old key state whose key id the
// client is reusing (ids cycle 1..7): not the current key and older than a
// handshake.
func (s *Session) staleLocked(ks *keyState) bool {
	cur := s.tx.keys.Load()
	return (cur == nil || cur.KeyID != ks.id) && time.Since(ks.created) > s.timeout()
}

func (s *Session) timeout() time.Duration {
	if s.cfg.HandshakeTimeout > 0 {
		return s.cfg.HandshakeTimeout
	}
	return 30 * time.Second
}

func (s *Session) newKeyStateLocked(id byte) *keyState {
	if old := s.keys[id]; old != nil {
		old.rel.close(errClosed)
	}
	ks := &keyState{id: id, created: time.Now(), rel: newReliable(id, s.localSID, s.remoteSID, s.ctlOut)}
	s.keys[id] = ks
	return ks
}

// Close ends the session and calls OnClose.
func (s *Session) Close() { s.close(errClosed) }

func (s *Session) close(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, ks := range s.keys {
		if ks != nil {
			ks.rel.close(errClosed)
		}
	}
	s.mu.Unlock()
	if s.cfg.OnClose != nil {
		s.cfg.OnClose(s, err)
	}
}

// SendData encrypts an IP packet (tun) or Ethernet frame (tap) with the
// current key and sends it. It reuses one buffer per session.
func (s *Session) SendData(pkt []byte) error { return s.tx.sendData(pkt) }

// SealData encrypts pkt with the current key as SendData does, appending
// the packet to dst, but returns it instead of sending it: for a
// transport that sends in batches. It allocates nothing when dst has
// room for len(pkt) plus the keys' Overhead.
func (s *Session) SealData(dst, pkt []byte) ([]byte, error) { return s.tx.sealData(dst, pkt) }

// SendControl sends a control message (a string such as "RESTART" or
// "AUTH_FAILED,reason") on the newest control channel, as SoftEther does
// when the hub drops a session (Proto_OpenVPN.c OvsSendRestart...).
// OpenVPN adds the terminating NUL; so does this.
func (s *Session) SendControl(msg string) error {
	s.mu.Lock()
	ks := s.latest
	s.mu.Unlock()
	if ks == nil {
		return ErrNoKey
	}
	_, err := ks.conn.Load().Write([]byte(msg + "\x00"))
	return err
}

// Closed reports whether the session has ended.
func (s *Session) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// SendPing sends OpenVPN's keepalive ping on the data channel.
func (s *Session) SendPing() error { return s.SendData(pingMagic[:]) }

// run drives one key id's control channel: TLS, key method 2, then
// control messages (PUSH_REQUEST, EXIT).
func (s *Session) run(ks *keyState) {
	err := s.handshake(ks)
	if err == nil || err == errClosed {
		return
	}
	s.logf("openvpn: session %016x key %d: %v", s.remoteSID, ks.id, err)
	if ks.id == 0 || err == ErrAuthFailed {
		s.close(err)
	}
}

func (s *Session) handshake(ks *keyState) error {
	timeout := s.timeout()
	var done atomic.Bool
	t := time.AfterFunc(timeout, func() {
		if !done.Load() {
			ks.rel.close(errors.New("openvpn: handshake timeout"))
		}
	})
	defer t.Stop()
	conn := tls.Server(&ctlConn{r: ks.rel}, s.cfg.TLS)
	if err := conn.HandshakeContext(context.Background()); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	buf := make([]byte, 8192)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	ckm, err := ParseKeyMethod2(buf[:n], true)
	if err != nil {
		return err
	}
	pi := PeerInfo(ckm.PeerInfo)
	devType := optionValue(ckm.Options, "dev-type")
	if devType == "" {
		devType = "tun"
	}
	req := &AuthRequest{Session: s, Username: ckm.Username, Password: ckm.Password, Options: ckm.Options,
		DevType: devType, PeerInfo: pi, PeerCertificates: conn.ConnectionState().PeerCertificates, Renegotiation: ks.id != 0 || s.tx.keys.Load() != nil}
	var push *PushOptions
	if s.cfg.Authenticate != nil {
		push, err = s.cfg.Authenticate(req)
	}
	if err != nil {
		// The client wants the server's key method 2 message first, and
		// reads AUTH_FAILED as a control message after it (OpenVPN's server
		// defers the failure the same way, ssl_verify.c). Random material
		// and no data keys: nothing the client sends is accepted. Give the
		// reliable layer a moment to deliver it before closing.
		skm := &KeyMethod2{Options: s.optionsString(devType, "AES-128-CBC", "SHA1")}
		rand.Read(skm.Random1[:])
		rand.Read(skm.Random2[:])
		conn.Write(skm.AppendServer(nil))
		conn.Write([]byte("AUTH_FAILED\x00"))
		for i := 0; i < 40 && !ks.rel.idle(); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		return ErrAuthFailed
	}

	s.mu.Lock()
	if !req.Renegotiation {
		s.cipher = negotiateCipher(s.cfg.Ciphers, pi, ckm.Options)
		s.auth = "SHA1"
		if a, _, ok := lookupAuth(optionValue(ckm.Options, "auth")); ok {
			s.auth = a
		}
		s.ekm = !s.cfg.DisableEKM && pi.Proto()&ivProtoTLSKeyExp != 0
		s.v2 = s.peerID >= 0 && pi.Proto()&ivProtoDataV2 != 0
		s.push = push
	}
	cipherName, authName, ekm, v2 := s.cipher, s.auth, s.ekm, s.v2
	s.mu.Unlock()

	skm := &KeyMethod2{Options: s.optionsString(devType, cipherName, authName)}
	rand.Read(skm.Random1[:])
	rand.Read(skm.Random2[:])
	if _, err := conn.Write(skm.AppendServer(nil)); err != nil {
		return err
	}
	var km [KeyMaterialLen]byte
	if ekm {
		st := conn.ConnectionState()
		b, err := st.ExportKeyingMaterial(EKMLabel, nil, KeyMaterialLen)
		if err != nil {
			return fmt.Errorf("TLS-EKM: %w", err)
		}
		copy(km[:], b)
	} else {
		km = DeriveKeysPRF(ckm, skm, s.remoteSID, s.localSID)
	}
	peer := -1
	if v2 {
		peer = s.peerID
	}
	dk, err := NewDataKeys(ks.id, cipherName, authName, &km, peer, s.cfg.TCP)
	if err != nil {
		return err
	}
	s.data[ks.id].Store(dk)
	if req.Renegotiation {
		// Send on the new key only once the client has acknowledged our
		// key method 2 message and so holds the key too (OpenVPN ssl.c
		// moves a key state to S_ACTIVE when its send buffer is empty).
		for i := 0; i < 100 && !ks.rel.idle(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	s.tx.keys.Store(dk)
	ks.conn.Store(conn)
	// Keep the new key and the one before it (OpenVPN's "lame duck", which
	// still decrypts packets in flight); end the older control channels and
	// their goroutines.
	s.mu.Lock()
	prev := s.latest
	s.latest = ks
	for i, k := range s.keys {
		if k != nil && k != ks && k != prev {
			k.rel.close(errClosed)
			s.keys[i] = nil
			s.data[i].Store(nil)
		}
	}
	s.mu.Unlock()
	done.Store(true)
	if ks.id == 0 {
		close(s.ready)
	}
	s.logf("openvpn: session %016x key %d up: user %q cipher %s ekm %v", s.remoteSID, ks.id, ckm.Username, cipherName, ekm)

	cr := newControlReader(conn, buf, 4096)
	for {
		msg, err := cr.next()
		if err != nil {
			return err
		}
		switch {
		case msg == "PUSH_REQUEST":
			if _, err := conn.Write([]byte(s.pushReply() + "\x00")); err != nil {
				return err
			}
		case msg == "EXIT" || strings.HasPrefix(msg, "EXIT,"):
			s.close(errClosed)
			return nil
		default:
			s.logf("openvpn: session %016x: control message %q ignored", s.remoteSID, msg)
		}
	}
}

// negotiateCipher picks the first of the server's ciphers that the client
// lists in IV_CIPHERS (OpenVPN 2.5+ NCP, ssl_ncp.c
// ncp_get_best_cipher); without IV_CIPHERS the client's own "cipher"
// option if the server takes it (SoftEther's "poor man's NCP"), else
// AES-128-CBC as SoftEther's default option string.
func negotiateCipher(server []string, pi PeerInfo, options string) string {
	if server == nil {
		server = DefaultCiphers
	}
	if list := pi.Get("IV_CIPHERS"); list != "" {
		for _, c := range server {
			for cc := range strings.SplitSeq(list, ":") {
				if strings.EqualFold(c, cc) {
					return c
				}
			}
		}
	}
	if c := optionValue(options, "cipher"); c != "" {
		for _, sc := range server {
			if strings.EqualFold(sc, c) {
				return sc
			}
		}
	}
	return "AES-128-CBC"
}

// optionsString is the server's options string, checked by the client only
// for warnings (OpenVPN options.c options_string).
func (s *Session) optionsString(devType, cipherName, authName string) string {
	proto := "UDPv4"
	if s.cfg.TCP {
		proto = "TCPv4_SERVER"
	}
	cs, _ := lookupCipher(cipherName)
	if cs.aead {
		authName = "[null-digest]"
	}
	return fmt.Sprintf("V4,dev-type %s,link-mtu 1559,tun-mtu 1500,proto %s,cipher %s,auth %s,keysize %d,key-method 2,tls-server",
		devType, proto, cipherName, authName, cs.keyLen*8)
}

func (s *Session) pushReply() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	peer := -1
	if s.v2 {
		peer = s.peerID
	}
	return BuildPushReply(s.push, s.cipher, peer, s.ekm)
}

// BuildPushReply returns the PUSH_REPLY message (without its NUL) for the
// given options, negotiated cipher, peer id (-1: none) and key derivation
// (OpenVPN push.c send_push_reply; SoftEther Proto_OpenVPN.c
// OvsSendPushReply).
func BuildPushReply(p *PushOptions, cipherName string, peerID int, ekm bool) string {
	var b strings.Builder
	b.WriteString("PUSH_REPLY")
	add := func(format string, args ...any) {
		b.WriteByte(',')
		fmt.Fprintf(&b, format, args...)
	}
	if p != nil {
		if p.IP.IsValid() {
			add("topology subnet")
			mask := p.Netmask
			if !mask.IsValid() {
				mask = netip.AddrFrom4([4]byte{255, 255, 255, 0})
			}
			add("ifconfig %s %s", p.IP, mask)
		}
		if p.Gateway.IsValid() {
			add("route-gateway %s", p.Gateway)
		}
		if p.RedirectGateway {
			add("redirect-gateway def1")
		}
		for _, r := range p.Routes {
			add("route %s %s", r.Masked().Addr(), prefixMask(r))
		}
		for _, d := range p.DNS {
			add("dhcp-option DNS %s", d)
		}
		if p.Domain != "" {
			add("dhcp-option DOMAIN %s", p.Domain)
		}
		if p.Ping > 0 {
			add("ping %d", p.Ping)
		}
		if p.PingRestart > 0 {
			add("ping-restart %d", p.PingRestart)
		}
		for _, e := range p.Extra {
			add("%s", e)
		}
	}
	if peerID >= 0 {
		add("peer-id %d", peerID)
	}
	if cipherName != "" {
		add("cipher %s", cipherName)
	}
	if ekm {
		add("key-derivation tls-ekm")
	}
	return b.String()
}

func prefixMask(p netip.Prefix) netip.Addr {
	var m [4]byte
	bits := p.Bits()
	for i := range m {
		n := min(max(bits-8*i, 0), 8)
		m[i] = byte(0xff << (8 - n))
	}
	return netip.AddrFrom4(m)
}
