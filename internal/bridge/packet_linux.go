package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/hub"
	"github.com/ethervpn/ethervpn/internal/offload"
)

// The raw socket's reads and writes are raw system calls (no runtime
// bookkeeping): the socket is non-blocking and MSG_DONTWAIT never waits,
// and an ordinary call wakes the runtime's monitor thread whenever the
// process was idle before it, a futex wake and a thread switch per batch.

// Batch sizes of the raw-socket data path.
const (
	rxSlots    = 32          // frames per recvmmsg
	rxSlotSize = 64<<10 + 64 // a whole GRO/GSO super-frame behind its virtio header
	txBatch    = 64          // frames per sendmmsg
	rxArena    = 256 << 10   // scratch for segments of super-frames
	rxFrames   = 256         // frames per hub Input call
)

// sizeofAuxdata is sizeof(struct tpacket_auxdata).
const sizeofAuxdata = int(unsafe.Sizeof(unix.TpacketAuxdata{}))

// ctrlLen is the control buffer per message: one PACKET_AUXDATA message.
var ctrlLen = unix.CmsgSpace(sizeofAuxdata)

// packetConn is an AF_PACKET raw socket bound to one interface, with
// PACKET_VNET_HDR (offload metadata per frame) and PACKET_AUXDATA (the VLAN
// tag the kernel took out of the frame).
type packetConn struct {
	name string
	mac  net.HardwareAddr
	f    *os.File
	rc   syscall.RawConn

	// Receive side, used by one reader goroutine.
	slots  []byte // rxSlots * rxSlotSize
	ctrl   []byte // rxSlots * ctrlLen
	iovs   []unix.Iovec
	msgs   []unix.Mmsghdr
	frames [][]byte
	arena  []byte
	used   int
	seg    offload.Segmenter
	input  func([][]byte)
	bad    uint64 // frames dropped: truncated or inconsistent offload data

	// Send side, used by one writer at a time.
	vnetZero [offload.VnetHdrLen]byte
	txIovs   []unix.Iovec
	txMsgs   []unix.Mmsghdr
	txSpan   []int    // frames per message
	txBytes  [][]byte // the batch's frames
	txArena  []byte   // merged runs of a batch
	co       *offload.Coalescer
	merged   *atomic.Uint64 // counts the frames merged, when set

	// The system calls' functions for RawConn, bound once (a closure made
	// per call would be allocated per call), with their arguments and
	// results: rxN and rxErr for recvFn; txFrom, txTo, txWait, txN and
	// txErr for sendFn (the messages txMsgs[txFrom:txTo]).
	recvFn, sendFn func(fd uintptr) bool
	rxN            int
	rxErr          syscall.Errno
	txFrom, txTo   int
	txWait         bool
	txN            int
	txErr          syscall.Errno
}

// openPacket opens a raw socket on the interface called name, in
// promiscuous mode unless promisc is false. The promiscuous membership
// belongs to the socket, so the kernel drops it when the socket closes.
func openPacket(name string, promisc bool) (*packetConn, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("network interface %q: %w", name, err)
	}
	// Protocol 0 first, so no frame of another interface is queued before
	// bind narrows the socket down to this one.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, privilege(err, "CAP_NET_RAW", "opening a raw socket on "+name)
	}
	fail := func(what string, err error) (*packetConn, error) {
		unix.Close(fd)
		return nil, privilege(err, "CAP_NET_RAW", what+" on "+name)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fail("enabling PACKET_VNET_HDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fail("enabling PACKET_AUXDATA", err)
	}
	// A bigger receive buffer absorbs bursts while the hub is busy; the
	// kernel caps it at net.core.rmem_max, which is fine.
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fail("binding the raw socket", err)
	}
	if promisc {
		mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("setting promiscuous mode", err)
		}
	}
	f := os.NewFile(uintptr(fd), "packet:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &packetConn{
		name:    name,
		mac:     ifi.HardwareAddr,
		f:       f,
		rc:      rc,
		slots:   make([]byte, rxSlots*rxSlotSize),
		ctrl:    make([]byte, rxSlots*ctrlLen),
		iovs:    make([]unix.Iovec, rxSlots),
		msgs:    make([]unix.Mmsghdr, rxSlots),
		frames:  make([][]byte, 0, rxFrames),
		arena:   make([]byte, rxArena),
		txIovs:  make([]unix.Iovec, 2*txBatch),
		txMsgs:  make([]unix.Mmsghdr, txBatch),
		txSpan:  make([]int, txBatch),
		txBytes: make([][]byte, 0, txBatch),
		// Merging adds a virtio header per run and takes none away.
		txArena: make([]byte, txBatch*(offload.VnetHdrLen+ether.MaxFrameSize)),
		co:      offload.NewCoalescer(),
	}
	for i := range c.msgs {
		c.iovs[i].Base = &c.slots[i*rxSlotSize]
		c.iovs[i].SetLen(rxSlotSize)
		h := &c.msgs[i].Hdr
		h.Iov = &c.iovs[i]
		h.Iovlen = 1
		h.Control = &c.ctrl[i*ctrlLen]
	}
	c.recvFn, c.sendFn = c.recv, c.sendmmsg
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *packetConn) hwAddr() net.HardwareAddr { return c.mac }
func (c *packetConn) close() error             { return c.f.Close() }
func (c *packetConn) dropped() uint64          { return c.bad }

// read receives one batch of frames and passes it to input, in one or
// more calls; the slices are valid only during each call. It blocks until
// at least one frame arrives.
func (c *packetConn) read(input func([][]byte)) error {
	if err := c.rc.Read(c.recvFn); err != nil {
		return err
	}
	n, errno := c.rxN, c.rxErr
	if errno != 0 {
		return fmt.Errorf("reading from %s: %w", c.name, errno)
	}
	c.input = input
	for i := range n {
		m := &c.msgs[i]
		slot := c.slots[i*rxSlotSize : (i+1)*rxSlotSize]
		if m.Hdr.Flags&unix.MSG_TRUNC != 0 || int(m.Len) < offload.VnetHdrLen+ether.MinFrameSize {
			c.bad++
			continue
		}
		c.frame(slot[:m.Len], c.ctrl[i*ctrlLen:i*ctrlLen+int(m.Hdr.Controllen)])
	}
	c.flush()
	return nil
}

// recv is one recvmmsg for read; false asks RawConn to wait for data.
func (c *packetConn) recv(fd uintptr) bool {
	for i := range c.msgs {
		c.msgs[i].Hdr.SetControllen(ctrlLen)
		c.msgs[i].Hdr.Flags = 0
	}
	r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.msgs[0])),
		uintptr(len(c.msgs)), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	c.rxN, c.rxErr = int(r), e
	return true
}

// sendmmsg is one sendmmsg of txMsgs[txFrom:txTo] for send; false asks
// RawConn to wait for room (only with txWait).
func (c *packetConn) sendmmsg(fd uintptr) bool {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.txMsgs[c.txFrom])),
		uintptr(c.txTo-c.txFrom), unix.MSG_DONTWAIT, 0, 0)
	if e == unix.EINTR || (e == unix.EAGAIN && c.txWait) {
		return false
	}
	c.txN, c.txErr = int(r), e
	return true
}

// frame handles one received message: virtio header, then the frame. The
// offload work the NIC left undone (a partial checksum, a GRO/GSO
// super-frame to cut) is done here, so that every frame entering the hub
// is a real wire frame, without changing the host NIC's offload settings
// (docs/protocol/hub.md#local-bridge [GO]).
func (c *packetConn) frame(msg, ctrl []byte) {
	h := offload.DecodeVnetHdr(msg)
	f := msg[offload.VnetHdrLen:]
	tag := vlanTag(ctrl)
	if h.GSOType != offload.GSONone {
		if c.seg.Reset(f, h, tag) != nil {
			c.bad++
			return
		}
		for c.seg.More() {
			out := c.alloc(c.seg.NextLen())
			c.seg.Next(out)
			c.add(out)
		}
		return
	}
	if h.Flags&offload.NeedsCsum != 0 {
		if offload.CompleteChecksum(f, int(h.CsumStart), int(h.CsumOffset)) != nil {
			c.bad++
			return
		}
	}
	if tag != 0 {
		// The virtio header in front of the frame is spent: the MAC
		// addresses move 4 bytes into it to make room for the tag.
		f = msg[offload.VnetHdrLen-4:]
		copy(f, msg[offload.VnetHdrLen:offload.VnetHdrLen+12])
		binary.BigEndian.PutUint32(f[12:], tag)
	}
	c.add(f)
}

// vlanTag returns TPID<<16|TCI of the tag the kernel stripped from the
// frame (PACKET_AUXDATA), or 0.
func vlanTag(ctrl []byte) uint32 {
	for len(ctrl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(ctrl) {
			return 0
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l >= unix.CmsgLen(sizeofAuxdata) {
			aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&ctrl[unix.CmsgLen(0)]))
			if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 {
				return 0
			}
			tpid := uint32(unix.ETH_P_8021Q)
			if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && aux.Vlan_tpid != 0 {
				tpid = uint32(aux.Vlan_tpid)
			}
			return tpid<<16 | uint32(aux.Vlan_tci)
		}
		ctrl = ctrl[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(ctrl)):]
	}
	return 0
}

// add queues a finished frame for the hub.
func (c *packetConn) add(f []byte) {
	if len(c.frames) == cap(c.frames) {
		c.flush()
	}
	c.frames = append(c.frames, f)
}

// alloc hands out segment scratch, flushing the batch when it runs out.
func (c *packetConn) alloc(n int) []byte {
	if c.used+n > len(c.arena) {
		c.flush()
	}
	b := c.arena[c.used : c.used+n]
	c.used += n
	return b
}

func (c *packetConn) flush() {
	if len(c.frames) > 0 {
		c.input(c.frames)
	}
	clear(c.frames)
	c.frames = c.frames[:0]
	c.used = 0
}

// write sends frames with sendmmsg: each run of consecutive segments of
// one TCP flow as one GSO packet (offload.Coalescer, as the kernel's GRO
// would merge them; the device or the kernel cuts it again, and a local
// receiver takes it whole), every other frame as it is behind an all-zero
// virtio header. One packet instead of many saves the receiving stack a
// pass per segment and the sender acknowledgments. Frames the device
// refuses (too big for its MTU) are skipped and counted; it returns how
// many were skipped.
func (c *packetConn) write(frames []*hub.Frame) (skipped int, err error) {
	_, skipped, err = c.send(frames, true)
	return skipped, err
}

// writeNow is write that never waits: when the socket's send buffer is
// full it stops and reports how many frames it took (sent or skipped),
// and the caller keeps the rest.
func (c *packetConn) writeNow(frames []*hub.Frame) (done, skipped int, err error) {
	return c.send(frames, false)
}

// send is write and writeNow: with wait false it returns at the first
// EAGAIN, done counting the frames taken before it.
func (c *packetConn) send(frames []*hub.Frame, wait bool) (done, skipped int, err error) {
	for len(frames) > 0 {
		batch := frames[:min(len(frames), txBatch)]
		frames = frames[len(batch):]
		msgs := c.prepare(batch)
		// span[i]: the frames of message i.
		taken := func(msgs int) int {
			n := 0
			for _, k := range c.txSpan[:msgs] {
				n += k
			}
			return n
		}
		for sent := 0; sent < msgs; {
			c.txFrom, c.txTo, c.txWait = sent, msgs, wait
			err := c.rc.Write(c.sendFn)
			n, errno := c.txN, c.txErr
			switch {
			case err != nil:
				return done + taken(sent), skipped, err
			case errno == unix.EAGAIN: // !wait
				return done + taken(sent), skipped, nil
			case errno == unix.EMSGSIZE || errno == unix.EINVAL:
				// This frame does not fit the device: drop it, go on.
				skipped += c.txSpan[sent]
				sent++
			case errno == unix.ENOBUFS:
				// The device queue is full: drop the rest of this batch,
				// as a switch port would.
				skipped += len(batch) - taken(sent)
				sent = msgs
			case errno != 0:
				return done + taken(sent), skipped, fmt.Errorf("writing to %s: %w", c.name, errno)
			default:
				sent += n
			}
		}
		done += len(batch)
	}
	return done, skipped, nil
}

// prepare builds the messages of one batch (at most txBatch frames) in
// txMsgs and their frame counts in txSpan, and returns how many there are.
// A merged run is built in txArena, which holds a whole batch's bytes; a
// single frame is sent from where it lies.
func (c *packetConn) prepare(batch []*hub.Frame) int {
	bs := c.txBytes[:0]
	for _, f := range batch {
		bs = append(bs, f.Bytes())
	}
	used, m := 0, 0
	for i := 0; i < len(bs); m++ {
		k := c.co.Run(bs[i:])
		if k > 1 && used+c.co.MergedLen() > len(c.txArena) {
			k = 1 // cannot happen (the arena holds the batch); be safe
		}
		iov := c.txIovs[2*m : 2*m+2]
		h := &c.txMsgs[m].Hdr
		h.Iov = &iov[0]
		if k > 1 {
			p := c.co.Merge(c.txArena[used:])
			used += len(p)
			if c.merged != nil {
				c.merged.Add(uint64(k))
			}
			iov[0].Base = &p[0]
			iov[0].SetLen(len(p))
			h.Iovlen = 1
		} else {
			iov[0].Base = &c.vnetZero[0]
			iov[0].SetLen(offload.VnetHdrLen)
			iov[1].Base = &bs[i][0]
			iov[1].SetLen(len(bs[i]))
			h.Iovlen = 2
		}
		c.txSpan[m] = k
		i += k
	}
	clear(bs)
	return m
}

// privilege wraps a permission error with the capability that is missing.
func privilege(err error, capability, what string) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return &PrivilegeError{Capability: capability, Op: what, Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// PrivilegeError says which Linux capability an operation needed.
type PrivilegeError struct {
	Capability string // "CAP_NET_RAW" or "CAP_NET_ADMIN"
	Op         string
	Err        error
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("%s: %v: the local bridge needs %s (run as root, or grant it with `setcap cap_net_raw,cap_net_admin+ep` on the ethervpn binary)",
		e.Op, e.Err, e.Capability)
}

func (e *PrivilegeError) Unwrap() error { return e.Err }
