package server

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/openvpn"
)

// Batched UDP: one recvmmsg brings up to udpBatchLen datagrams and one
// sendmmsg sends a client's batch, so that a busy port costs a system call
// (and a goroutine wake-up further on) per batch rather than per packet.
// Every buffer, iovec and address is allocated once per port or client.
//
// The calls are raw system calls (no runtime bookkeeping): the socket is
// non-blocking and MSG_DONTWAIT never waits, and an ordinary call wakes
// the runtime's monitor thread whenever the process was idle before it,
// which at one datagram per wake-up cost a futex wake and a thread switch
// per packet (as for wire.RecordConn's reads and writes).

const (
	udpBatchLen = 32 // datagrams per recvmmsg and per sendmmsg
	// udpSocketBuf is the socket buffer asked for, capped by the kernel
	// at net.core.rmem_max and wmem_max (the administrator's say). Not
	// forced beyond: a deep queue in front of the read loop only delays a
	// tunnelled TCP flow (a 4 MB buffer measured 10 ms of RTT under
	// load) where a drop would slow it down in time.
	udpSocketBuf = 1 << 20
)

// udpReader receives datagrams in batches on one socket (one goroutine).
type udpReader struct {
	rc    syscall.RawConn
	bufs  []byte // udpBatchLen * openvpn.MaxPacket
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // room for either family
	msgs  []unix.Mmsghdr
	// recvFn is recv bound once, and n and errno its results: a closure
	// made per call would be allocated per call (it escapes to RawConn).
	recvFn func(fd uintptr) bool
	n      int
	errno  syscall.Errno
}

// tuneUDP enlarges the socket buffers of pc (best effort).
func tuneUDP(pc *net.UDPConn) {
	rc, err := pc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpSocketBuf)
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, udpSocketBuf)
	})
}

func newUDPReader(pc *net.UDPConn) (*udpReader, error) {
	rc, err := pc.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &udpReader{
		rc:    rc,
		bufs:  make([]byte, udpBatchLen*openvpn.MaxPacket),
		iovs:  make([]unix.Iovec, udpBatchLen),
		names: make([]unix.RawSockaddrInet6, udpBatchLen),
		msgs:  make([]unix.Mmsghdr, udpBatchLen),
	}
	for i := range r.msgs {
		r.iovs[i].Base = &r.bufs[i*openvpn.MaxPacket]
		r.iovs[i].SetLen(openvpn.MaxPacket)
		h := &r.msgs[i].Hdr
		h.Iov = &r.iovs[i]
		h.Iovlen = 1
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	}
	r.recvFn = r.recv
	return r, nil
}

// read blocks until at least one datagram arrives and returns how many
// arrived; datagram(i) gives each.
func (r *udpReader) read() (int, error) {
	if err := r.rc.Read(r.recvFn); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		return 0, r.errno
	}
	return r.n, nil
}

// recv is one recvmmsg for read; false asks RawConn to wait for data.
func (r *udpReader) recv(fd uintptr) bool {
	for i := range r.msgs {
		r.msgs[i].Hdr.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		r.msgs[i].Hdr.Flags = 0
	}
	v, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])),
		uintptr(len(r.msgs)), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	r.n, r.errno = int(v), e
	return true
}

// datagram returns datagram i of the last read and its source (invalid
// for an unknown address family or a truncated datagram). The bytes stay
// valid until the next read.
func (r *udpReader) datagram(i int) ([]byte, netip.AddrPort) {
	m := &r.msgs[i]
	if m.Hdr.Flags&unix.MSG_TRUNC != 0 {
		return nil, netip.AddrPort{}
	}
	b := r.bufs[i*openvpn.MaxPacket : i*openvpn.MaxPacket+int(m.Len)]
	return b, sockaddrToAddrPort(&r.names[i])
}

// sockaddrToAddrPort reads a kernel sockaddr_in or sockaddr_in6 (IPv4
// mapped addresses unmapped).
func sockaddrToAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// udpSender sends one client's packets in batches with sendmmsg; one
// goroutine at a time (whoever delivers the client's packets) uses it. It
// never waits: it may run on a goroutine the hub lent (hub.Port.SetPush),
// and a full socket buffer drops, as a full interface queue would.
type udpSender struct {
	rc    syscall.RawConn
	v6    bool // the socket is AF_INET6
	arena []byte
	pkts  [][]byte
	iovs  []unix.Iovec
	msgs  []unix.Mmsghdr
	name4 unix.RawSockaddrInet4
	name6 unix.RawSockaddrInet6
	to    netip.AddrPort // the address name4/name6 hold
	// sendFn is send bound once (no closure per call); sent counts the
	// messages of the batch done, n and errno are the last call's result.
	sendFn  func(fd uintptr) bool
	sent, n int
	errno   syscall.Errno

	// UDP GSO (UDP_SEGMENT, Linux 4.18): a run of the batch's packets of
	// one size (the last of a run may be shorter) goes to the kernel as one
	// message that it cuts into those datagrams after the routing,
	// netfilter and device work, done once per run instead of once per
	// packet (wireguard-go and quic-go send the same way). Measured with
	// `ethervpn-bench ovload`: sendmmsg was two thirds of the server's CPU
	// under load. noGSO is set for good once the kernel or the route
	// refuses it (a path MTU below the packet size, an old kernel); the
	// batch then goes out one datagram per message as before.
	noGSO   bool
	cmsgs   []byte // one UDP_SEGMENT control message per message
	msgPkts []int  // packets in each message
	nmsgs   int
}

// The most a GSO message carries: the kernel's UDP_MAX_SEGMENTS (64
// before Linux 6.2) and an IPv4 datagram's payload, with room.
const (
	udpGSOMaxSegs  = 64
	udpGSOMaxBytes = 65000
)

var udpCmsgSpace = unix.CmsgSpace(2)

func newUDPSender(pc *net.UDPConn) *udpSender {
	rc, err := pc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &udpSender{
		rc:      rc,
		arena:   make([]byte, udpBatchLen*openvpn.MaxPacket),
		pkts:    make([][]byte, 0, udpBatchLen),
		iovs:    make([]unix.Iovec, udpBatchLen),
		msgs:    make([]unix.Mmsghdr, udpBatchLen),
		cmsgs:   make([]byte, udpBatchLen*udpCmsgSpace),
		msgPkts: make([]int, udpBatchLen),
	}
	rc.Control(func(fd uintptr) {
		d, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		s.v6 = err == nil && d == unix.AF_INET6
	})
	s.sendFn = s.send
	return s
}

// slot returns the buffer for the next packet of the batch (empty, with
// openvpn.MaxPacket capacity), or nil when the batch is full.
func (s *udpSender) slot() []byte {
	i := len(s.pkts)
	if i == udpBatchLen {
		return nil
	}
	return s.arena[i*openvpn.MaxPacket : i*openvpn.MaxPacket : (i+1)*openvpn.MaxPacket]
}

// add queues p, which must be the last slot's buffer.
func (s *udpSender) add(p []byte) { s.pkts = append(s.pkts, p) }

// flush sends the queued packets to to; packets the kernel refuses or has
// no room for are dropped (UDP) and counted in the return value.
func (s *udpSender) flush(to netip.AddrPort) (dropped int) {
	if len(s.pkts) == 0 {
		return 0
	}
	defer func() { s.pkts = s.pkts[:0] }()
	if to != s.to {
		s.to = to
		s.name4, s.name6 = unix.RawSockaddrInet4{}, unix.RawSockaddrInet6{}
		port := (*[2]byte)(unsafe.Pointer(&s.name6.Port))
		if s.v6 {
			s.name6.Family = unix.AF_INET6
			s.name6.Addr = to.Addr().As16()
		} else {
			s.name4.Family = unix.AF_INET
			s.name4.Addr = to.Addr().Unmap().As4()
			port = (*[2]byte)(unsafe.Pointer(&s.name4.Port))
		}
		binary.BigEndian.PutUint16(port[:], to.Port())
	}
	name, namelen := (*byte)(unsafe.Pointer(&s.name4)), uint32(unsafe.Sizeof(s.name4))
	if s.v6 {
		name, namelen = (*byte)(unsafe.Pointer(&s.name6)), uint32(unsafe.Sizeof(s.name6))
	}
	for i, p := range s.pkts {
		s.iovs[i].Base = &p[0]
		s.iovs[i].SetLen(len(p))
	}
	s.build(0, name, namelen)
	for s.sent = 0; s.sent < s.nmsgs; {
		err := s.rc.Write(s.sendFn)
		switch {
		case err != nil, s.errno == unix.EAGAIN:
			for _, n := range s.msgPkts[s.sent:s.nmsgs] {
				dropped += n
			}
			return dropped
		case s.msgPkts[s.sent] > 1 && (s.errno == unix.EINVAL || s.errno == unix.EIO || s.errno == unix.ENOPROTOOPT):
			// GSO refused (EINVAL for a route's MTU below the packet
			// size, EIO or ENOPROTOOPT without kernel support): send the
			// rest one datagram per message, from now on. Other errors
			// (no route) are the destination's, not GSO's.
			s.noGSO = true
			first := 0
			for _, n := range s.msgPkts[:s.sent] {
				first += n
			}
			s.build(first, name, namelen)
			s.sent = 0
		case s.errno != 0:
			dropped += s.msgPkts[s.sent] // refused (e.g. no route): drop it, go on
			s.sent++
		default:
			s.sent += s.n
		}
	}
	return dropped
}

// build lays out the messages for packets first.. of the batch (their
// iovecs set): runs of one size as GSO messages, unless noGSO.
func (s *udpSender) build(first int, name *byte, namelen uint32) {
	s.nmsgs = 0
	for i := first; i < len(s.pkts); {
		j := i + 1
		if !s.noGSO {
			size, total := len(s.pkts[i]), len(s.pkts[i])
			for j < len(s.pkts) && j-i < udpGSOMaxSegs {
				l := len(s.pkts[j])
				if l > size || total+l > udpGSOMaxBytes {
					break
				}
				total += l
				j++
				if l < size {
					break // only the last segment may be shorter
				}
			}
		}
		k := s.nmsgs
		h := &s.msgs[k].Hdr
		h.Iov = &s.iovs[i]
		h.SetIovlen(j - i)
		h.Name, h.Namelen = name, namelen
		h.Control = nil
		h.SetControllen(0)
		if j-i > 1 {
			cm := s.cmsgs[k*udpCmsgSpace : (k+1)*udpCmsgSpace]
			c := (*unix.Cmsghdr)(unsafe.Pointer(&cm[0]))
			c.Level, c.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			c.SetLen(unix.CmsgLen(2))
			*(*uint16)(unsafe.Pointer(&cm[unix.CmsgLen(0)])) = uint16(len(s.pkts[i]))
			h.Control = &cm[0]
			h.SetControllen(udpCmsgSpace)
		}
		s.msgPkts[k] = j - i
		s.nmsgs++
		i = j
	}
}

// send is one sendmmsg of the messages from s.sent on, for flush.
func (s *udpSender) send(fd uintptr) bool {
	v, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.msgs[s.sent])),
		uintptr(s.nmsgs-s.sent), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EINTR {
		return false
	}
	s.n, s.errno = int(v), e
	return true
}
