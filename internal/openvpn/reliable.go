package openvpn

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Reliability parameters. OpenVPN's defaults are a window of 4..8 packets
// (reliable.h TLS_RELIABLE_N_SEND_BUFFERS / N_REC_BUFFERS) and a 2 s initial
// retransmit with doubling (reliable.c reliable_send_timeout); SoftEther
// retransmits every 500 ms and carries at most 1200 bytes of TLS per packet
// (Proto_OpenVPN.h OPENVPN_CONTROL_PACKET_RESEND_INTERVAL,
// OPENVPN_CONTROL_PACKET_MAX_DATASIZE).
const (
	sendWindow    = 8
	recvWindow    = 8
	maxCtlPayload = 1100 // under OpenVPN 2.6's default tls-mtu of 1250
	rtoInitial    = 500 * time.Millisecond
	rtoMax        = 8 * time.Second
	maxTries      = 12
	maxReadBuf    = 64 << 10
	maxPendAcks   = 16
)

// ErrRetransmit is the error a control channel fails with when the peer
// stops acknowledging.
var ErrRetransmit = errors.New("openvpn: control packet not acknowledged")

// reliable is one key id's control channel: it acknowledges and delivers
// the peer's control payloads in order, dropping duplicates, and
// retransmits its own with backoff until acknowledged (OpenVPN reliable.c).
// The TLS bytes it delivers are read through ctlConn.
type reliable struct {
	keyID     byte
	localSID  uint64
	remoteSID uint64
	output    func([]byte) // sends one packet to the peer

	mu       sync.Mutex
	cond     *sync.Cond
	err      error // set once: closed or failed
	recvNext uint32
	recvBuf  [recvWindow]struct {
		ok      bool
		op      byte
		payload []byte
	}
	readBuf []byte
	acks    []uint32 // ids to acknowledge
	sendID  uint32
	unacked []*outPacket
	timer   *time.Timer
	scratch []byte
	now     func() time.Time

	// Stats, read with the lock held.
	retransmits, duplicates, outOfWindow uint64
}

type outPacket struct {
	id      uint32
	op      byte
	payload []byte
	due     time.Time
	rto     time.Duration
	tries   int
}

func newReliable(keyID byte, local, remote uint64, output func([]byte)) *reliable {
	r := &reliable{keyID: keyID, localSID: local, remoteSID: remote, output: output, now: time.Now}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// onPacket processes a parsed control packet of this key id.
func (r *reliable) onPacket(c *Control) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	for _, a := range c.Acks {
		for i, p := range r.unacked {
			if p.id == a {
				r.unacked = append(r.unacked[:i], r.unacked[i+1:]...)
				r.cond.Broadcast()
				break
			}
		}
	}
	if c.Opcode == OpAckV1 {
		return
	}
	id := c.PacketID
	switch {
	case id-r.recvNext >= 1<<31: // before recvNext: a duplicate whose ack was lost
		r.duplicates++
		r.queueAck(id)
	case id-r.recvNext >= recvWindow, len(r.readBuf) > maxReadBuf:
		r.outOfWindow++ // the peer will retransmit; no ack
	default:
		slot := &r.recvBuf[id%recvWindow]
		if slot.ok {
			r.duplicates++
		} else {
			slot.ok, slot.op = true, c.Opcode
			slot.payload = append(slot.payload[:0], c.Payload...)
		}
		r.queueAck(id)
		for {
			s := &r.recvBuf[r.recvNext%recvWindow]
			if !s.ok {
				break
			}
			// Only P_CONTROL_V1 carries TLS; the resets' payloads are
			// early-negotiation TLVs this server does not use.
			if s.op == OpControlV1 {
				r.readBuf = append(r.readBuf, s.payload...)
			}
			s.ok = false
			r.recvNext++
		}
		r.cond.Broadcast()
	}
	if c.Opcode == OpHardResetClientV2 {
		if r.sendID == 0 {
			return // the server's hard reset, sent next, carries the ack
		}
		// A repeated client reset: our reset was lost. Answer it once
		// more (it carries the ack); the timer never resends it, so one
		// spoofed packet never draws more than one answer (SoftEther
		// Proto_OpenVPN.c, issue #1001).
		for _, p := range r.unacked {
			if p.op == OpHardResetServerV2 {
				r.transmit(p)
				return
			}
		}
	}
	r.flushAcks()
}

func (r *reliable) queueAck(id uint32) {
	for _, a := range r.acks {
		if a == id {
			return
		}
	}
	if len(r.acks) < maxPendAcks {
		r.acks = append(r.acks, id)
	}
}

// flushAcks sends the pending acks in P_ACK_V1 packets.
func (r *reliable) flushAcks() {
	for len(r.acks) > 0 {
		c := Control{Opcode: OpAckV1, KeyID: r.keyID, SessionID: r.localSID, RemoteSessionID: r.remoteSID}
		c.Acks = r.takeAcks(MaxAcks)
		r.scratch = AppendControl(r.scratch[:0], &c)
		r.output(r.scratch)
	}
}

func (r *reliable) takeAcks(n int) []uint32 {
	n = min(n, len(r.acks))
	a := append([]uint32(nil), r.acks[:n]...)
	r.acks = append(r.acks[:0], r.acks[n:]...)
	return a
}

// send queues one control payload under opcode op, waiting for room in the
// send window, and transmits it.
func (r *reliable) send(op byte, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.unacked) >= sendWindow && r.err == nil {
		r.cond.Wait()
	}
	if r.err != nil {
		return r.err
	}
	p := &outPacket{id: r.sendID, op: op, payload: append([]byte(nil), payload...), rto: rtoInitial}
	r.sendID++
	r.unacked = append(r.unacked, p)
	r.transmit(p)
	return nil
}

// transmit sends p with up to 4 piggybacked acks (SoftEther's limit for
// packets other than P_ACK_V1) and schedules its retransmission.
func (r *reliable) transmit(p *outPacket) {
	c := Control{Opcode: p.op, KeyID: r.keyID, SessionID: r.localSID, PacketID: p.id, Payload: p.payload}
	if len(r.acks) > 0 {
		c.Acks, c.RemoteSessionID = r.takeAcks(4), r.remoteSID
	} else if p.op == OpHardResetServerV2 || p.op == OpControlSoftResetV1 {
		c.RemoteSessionID = r.remoteSID
	}
	r.scratch = AppendControl(r.scratch[:0], &c)
	r.output(r.scratch)
	p.due = r.now().Add(p.rto)
	p.tries++
	if r.timer == nil {
		r.timer = time.AfterFunc(p.rto, r.onTimer)
	} else {
		r.timer.Reset(r.nextDue())
	}
}

func (r *reliable) nextDue() time.Duration {
	d := rtoMax
	now := r.now()
	for _, p := range r.unacked {
		if p.op != OpHardResetServerV2 {
			d = min(d, p.due.Sub(now))
		}
	}
	return max(d, 10*time.Millisecond)
}

func (r *reliable) onTimer() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || len(r.unacked) == 0 {
		return
	}
	now := r.now()
	for _, p := range r.unacked {
		if p.due.After(now) || p.op == OpHardResetServerV2 {
			continue
		}
		if p.tries >= maxTries {
			r.failLocked(ErrRetransmit)
			return
		}
		r.retransmits++
		p.rto = min(2*p.rto, rtoMax)
		r.transmit(p)
	}
	r.timer.Reset(r.nextDue())
}

func (r *reliable) failLocked(err error) {
	if r.err == nil {
		r.err = err
		if r.timer != nil {
			r.timer.Stop()
		}
		r.cond.Broadcast()
	}
}

func (r *reliable) close(err error) {
	r.mu.Lock()
	r.failLocked(err)
	r.mu.Unlock()
}

// idle reports whether everything sent has been acknowledged.
func (r *reliable) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.unacked) == 0
}

// ctlConn is the net.Conn over a reliable control channel that crypto/tls
// runs on. Deadlines are not supported: the session bounds the handshake
// by closing the channel, and crypto/tls only sets a deadline for its
// close_notify, which may as well wait.
type ctlConn struct {
	r      *reliable
	local  net.Addr
	remote net.Addr
}

func (c *ctlConn) Read(b []byte) (int, error) {
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.readBuf) == 0 && r.err == nil {
		r.cond.Wait()
	}
	if len(r.readBuf) == 0 {
		if r.err == errClosed {
			return 0, io.EOF
		}
		return 0, r.err
	}
	n := copy(b, r.readBuf)
	r.readBuf = append(r.readBuf[:0], r.readBuf[n:]...)
	return n, nil
}

func (c *ctlConn) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), maxCtlPayload)
		if err := c.r.send(OpControlV1, b[:k]); err != nil {
			return n, err
		}
		n += k
		b = b[k:]
	}
	return n, nil
}

var errClosed = errors.New("openvpn: control channel closed")

func (c *ctlConn) Close() error                     { c.r.close(errClosed); return nil }
func (c *ctlConn) LocalAddr() net.Addr              { return c.local }
func (c *ctlConn) RemoteAddr() net.Addr             { return c.remote }
func (c *ctlConn) SetDeadline(time.Time) error      { return nil }
func (c *ctlConn) SetReadDeadline(time.Time) error  { return nil }
func (c *ctlConn) SetWriteDeadline(time.Time) error { return nil }
