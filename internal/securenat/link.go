package securenat

import (
	"sync"
	"sync/atomic"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/hub"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

const (
	// maxBatch is how many frames move between the hub and the stack at once.
	maxBatch = 256
	// outQueueFrames bounds the frames the stack may queue for the hub while
	// the flusher is busy; beyond it frames are dropped and counted.
	outQueueFrames = 1024
	// frameRoom is the per-frame slot in the outbound arena: the hub never
	// switches frames above ether.MaxFrameSize.
	frameRoom = ether.MaxFrameSize
)

// linkEndpoint is the virtual host's Ethernet interface: a gVisor link
// endpoint whose wire is a hub port. Frames the stack sends are copied into
// a preallocated arena and handed to the hub in batches by one flusher
// goroutine; frames from the hub are read in batches by one reader goroutine
// that first gives the SecureNAT helpers (DHCP, ICMP relay) a look and then
// injects the rest into the stack.
type linkEndpoint struct {
	mac tcpip.LinkAddress
	mtu atomic.Uint32

	dmu        sync.RWMutex
	dispatcher stack.NetworkDispatcher

	// Outbound: the stack fills cur under omu; the flusher swaps it with
	// spare and sends it to the hub outside the lock.
	omu       sync.Mutex
	cur       *outBatch
	spare     *outBatch
	wake      chan struct{}
	outDrops  atomic.Uint64
	onCloseFn func()
}

// outBatch is a reusable batch of frames backed by one arena.
type outBatch struct {
	arena  []byte
	frames [][]byte
}

func newOutBatch() *outBatch {
	return &outBatch{arena: make([]byte, outQueueFrames*frameRoom), frames: make([][]byte, 0, outQueueFrames)}
}

func newLinkEndpoint(mac tcpip.LinkAddress, mtu uint32) *linkEndpoint {
	e := &linkEndpoint{mac: mac, cur: newOutBatch(), spare: newOutBatch(), wake: make(chan struct{}, 1)}
	e.mtu.Store(mtu)
	return e
}

// MTU implements stack.LinkEndpoint: the IP MTU.
func (e *linkEndpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU implements stack.LinkEndpoint.
func (e *linkEndpoint) SetMTU(mtu uint32) { e.mtu.Store(mtu) }

// MaxHeaderLength implements stack.LinkEndpoint: an untagged Ethernet header.
func (e *linkEndpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress implements stack.LinkEndpoint.
func (e *linkEndpoint) LinkAddress() tcpip.LinkAddress { return e.mac }

// SetLinkAddress implements stack.LinkEndpoint. The MAC is fixed for the
// life of the virtual host.
func (e *linkEndpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.LinkEndpoint: Ethernet needs ARP; checksums
// are computed and verified by the stack.
func (e *linkEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}

// Attach implements stack.LinkEndpoint.
func (e *linkEndpoint) Attach(d stack.NetworkDispatcher) {
	e.dmu.Lock()
	e.dispatcher = d
	e.dmu.Unlock()
}

// IsAttached implements stack.LinkEndpoint.
func (e *linkEndpoint) IsAttached() bool {
	e.dmu.RLock()
	defer e.dmu.RUnlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint; the goroutines are owned by SecureNAT.
func (e *linkEndpoint) Wait() {}

// ARPHardwareType implements stack.LinkEndpoint.
func (e *linkEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.LinkEndpoint.
func (e *linkEndpoint) AddHeader(pkt *stack.PacketBuffer) {
	src := pkt.EgressRoute.LocalLinkAddress
	if src == "" {
		src = e.mac
	}
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{SrcAddr: src, DstAddr: pkt.EgressRoute.RemoteLinkAddress, Type: pkt.NetworkProtocolNumber})
}

// ParseHeader implements stack.LinkEndpoint.
func (e *linkEndpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// Close implements stack.LinkEndpoint.
func (e *linkEndpoint) Close() {
	if e.onCloseFn != nil {
		e.onCloseFn()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *linkEndpoint) SetOnCloseAction(f func()) { e.onCloseFn = f }

// WritePackets implements stack.LinkEndpoint: it copies the frames into the
// outbound arena and wakes the flusher. It never blocks on the hub; when the
// arena is full the frame is dropped and counted (TCP recovers).
func (e *linkEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	e.omu.Lock()
	b := e.cur
	for _, pkt := range pkts.AsSlice() {
		if len(b.frames) == cap(b.frames) || pkt.Size() > frameRoom {
			e.outDrops.Add(1)
			continue
		}
		off := len(b.frames) * frameRoom
		dst := b.arena[off : off+frameRoom]
		m := 0
		for _, s := range pkt.AsSlices() {
			m += copy(dst[m:], s)
		}
		b.frames = append(b.frames, dst[:m])
		n++
	}
	e.omu.Unlock()
	if n > 0 {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return n, nil
}

// appendOut queues frames built outside the stack (DHCP, ICMP replies) on the
// same ordered outbound path.
func (e *linkEndpoint) appendOut(frames ...[]byte) {
	e.omu.Lock()
	b := e.cur
	for _, f := range frames {
		if len(b.frames) == cap(b.frames) || len(f) > frameRoom {
			e.outDrops.Add(1)
			continue
		}
		off := len(b.frames) * frameRoom
		b.frames = append(b.frames, b.arena[off:off+copy(b.arena[off:off+frameRoom], f)])
	}
	e.omu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// flush runs until done is closed, handing queued frames to the hub port in
// batches of up to maxBatch; what is queued when done closes is still sent.
func (e *linkEndpoint) flush(port *hub.Port, done <-chan struct{}) {
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		case <-e.wake:
		}
		for {
			e.omu.Lock()
			b := e.cur
			if len(b.frames) == 0 {
				e.omu.Unlock()
				break
			}
			e.cur, e.spare = e.spare, b
			e.omu.Unlock()
			for f := b.frames; len(f) > 0; {
				k := min(len(f), maxBatch)
				port.Input(f[:k])
				f = f[k:]
			}
			clear(b.frames) // drop references into the arena
			b.frames = b.frames[:0]
		}
	}
}

// deliver injects one Ethernet frame into the stack. The frame is copied, so
// the caller may release its buffer afterwards.
func (e *linkEndpoint) deliver(frame []byte) {
	e.dmu.RLock()
	d := e.dispatcher
	e.dmu.RUnlock()
	if d == nil || len(frame) < header.EthernetMinimumSize {
		return
	}
	eth := header.Ethernet(frame)
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	if !e.ParseHeader(pkt) {
		return
	}
	switch dst := eth.DestinationAddress(); {
	case dst == header.EthernetBroadcastAddress:
		pkt.PktType = tcpip.PacketBroadcast
	case header.IsMulticastEthernetAddress(dst):
		pkt.PktType = tcpip.PacketMulticast
	default:
		pkt.PktType = tcpip.PacketHost
	}
	d.DeliverNetworkPacket(eth.Type(), pkt)
}
