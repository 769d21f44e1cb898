package tap

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"

	"github.com/ethervpn/ethervpn/internal/ether"
	"github.com/ethervpn/ethervpn/internal/offload"
)

// Port connects a Device to a VPN session (it satisfies session.Port):
// frames the host sends into the TAP are queued for Output, and frames from
// the session given to Input are written into the TAP.
//
// The queue is a ring of fixed buffers allocated once. The reader (Run)
// fills free slots with a batch of frames per wake-up; the session's
// writers empty them under a short lock. When the ring is full the reader
// waits, so the kernel's own queue of the device fills and drops (counted
// as the interface's tx_dropped) instead of this process.
//
// On a device created with Config.Offload, the reader cuts the kernel's
// super-frames into wire frames as it queues them, and Input merges runs of
// TCP segments into one write each (internal/offload does both).
//
// Once a session has called SetPush, the reader sends what it queued
// itself while the session's writer is idle (session.Session.Push), and
// wakes the writer only when the socket is full: a goroutine hand-over per
// batch saved on each side of the client.
type Port struct {
	dev   *Device
	ready chan struct{}
	space chan struct{}
	push  atomic.Pointer[func() bool] // see SetPush
	done  chan struct{}
	once  sync.Once

	mu         sync.Mutex
	slots      [][]byte // each ether.MaxFrameSize bytes, reused forever
	lens       []int
	head, tail uint64 // frames [head, tail) are queued; guarded by mu

	// coalescers is a free list for Input, which the session's connection
	// readers call concurrently; nil without offload.
	coalescers chan *offload.Coalescer

	readFrames, oversize, written, writeErrors atomic.Uint64
	superFrames, mergedWrites                  atomic.Uint64
}

// Frame limits. The SoftEther data phase carries frames of up to
// ether.MaxFrameSize bytes; the slots are a little larger so that an
// oversize frame is noticed and dropped rather than silently truncated.
const (
	slotSize  = 2048
	readBatch = 64
)

// A slot must hold any segment the offload reader cuts (this fails to
// compile otherwise).
const _ = uint(slotSize - offload.MaxSegmentLen)

// NewPort makes a port for dev with a queue of queueLen frames (0 means
// DefaultQueueLen). Start moving frames with Run.
func NewPort(dev *Device, queueLen int) *Port {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	p := &Port{
		dev:   dev,
		ready: make(chan struct{}, 1),
		space: make(chan struct{}, 1),
		done:  make(chan struct{}),
		slots: make([][]byte, queueLen),
		lens:  make([]int, queueLen),
	}
	backing := make([]byte, queueLen*slotSize)
	for i := range p.slots {
		p.slots[i] = backing[i*slotSize : (i+1)*slotSize : (i+1)*slotSize]
	}
	if dev.offload {
		p.coalescers = make(chan *offload.Coalescer, maxCoalescers)
	}
	return p
}

// DefaultQueueLen is the ring's length when NewPort is given none. The ring
// only stages frames between the reader and the session: the reader sends
// them itself while the socket takes them (see SetPush), and while it does
// not, the kernel's queue of the device (TxQueueLen) holds the rest, with
// offload in 64 KiB super-frames. A short ring (256 KiB of slots) stays in
// the CPU's cache from the reader's copy to the encryption; one of 1024
// frames (2 MiB) did not, and cost the sending client about an eighth more
// CPU per GB in ethervpn-bench client (64 to 128 frames measured best).
const DefaultQueueLen = 128

// maxCoalescers is how many Inputs at a time keep their write buffer for
// the next call; more concurrent ones allocate (one per connection of a
// session is the most there can be, and sessions have up to 32).
const maxCoalescers = 32

// Run reads frames from the device into the queue until Close (it then
// returns nil) or a read error.
func (p *Port) Run() error {
	if p.dev.offload {
		return p.runOffload()
	}
	q := uint64(len(p.slots))
	var bufs [readBatch][]byte
	var sizes [readBatch]int
	for {
		p.mu.Lock()
		free := q - (p.tail - p.head)
		tail := p.tail
		p.mu.Unlock()
		if free == 0 {
			select {
			case <-p.space:
				continue
			case <-p.done:
				return nil
			}
		}
		k := int(min(free, readBatch))
		for i := 0; i < k; i++ {
			bufs[i] = p.slots[(tail+uint64(i))%q]
		}
		n, err := p.dev.ReadBatch(bufs[:k], sizes[:k])
		if err != nil {
			select {
			case <-p.done:
				return nil
			default:
			}
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		// Oversize frames are skipped by compacting the batch in place.
		kept := 0
		for i := 0; i < n; i++ {
			if sizes[i] > ether.MaxFrameSize || sizes[i] < ether.MinFrameSize {
				p.oversize.Add(1)
				continue
			}
			if kept != i {
				dst := p.slots[(tail+uint64(kept))%q]
				copy(dst, bufs[i][:sizes[i]])
			}
			p.lens[(tail+uint64(kept))%q] = sizes[i]
			kept++
		}
		if kept == 0 {
			continue
		}
		p.readFrames.Add(uint64(kept))
		p.mu.Lock()
		p.tail += uint64(kept)
		p.mu.Unlock()
		p.wakeOutput()
	}
}

// Batch of reads of the offload reader: each buffer holds a 64 KiB
// super-frame.
const offloadReadBatch = 4

// runOffload is Run for a device with virtio_net_hdr: each frame read is
// checked, completed or cut into wire frames, and queued.
func (p *Port) runOffload() error {
	var bufs [offloadReadBatch][]byte
	var sizes [offloadReadBatch]int
	backing := make([]byte, offloadReadBatch*offload.SuperBufSize)
	for i := range bufs {
		bufs[i] = backing[i*offload.SuperBufSize : (i+1)*offload.SuperBufSize : (i+1)*offload.SuperBufSize]
	}
	var q queueFiller
	q.p = p
	var seg offload.Segmenter
	for {
		n, err := p.dev.ReadBatch(bufs[:], sizes[:])
		if err != nil {
			select {
			case <-p.done:
				return nil
			default:
			}
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		for i := range n {
			b := bufs[i][:sizes[i]]
			// A read that fills the buffer may have been cut short.
			if len(b) < offload.VnetHdrLen+14 || len(b) == offload.SuperBufSize {
				p.oversize.Add(1)
				continue
			}
			h, f := offload.DecodeVnetHdr(b), b[offload.VnetHdrLen:]
			if h.GSOType == offload.GSONone {
				if h.Flags&offload.NeedsCsum != 0 && offload.CompleteChecksum(f, int(h.CsumStart), int(h.CsumOffset)) != nil ||
					len(f) > ether.MaxFrameSize {
					p.oversize.Add(1)
					continue
				}
				slot := q.slot()
				if slot == nil {
					return nil
				}
				q.commit(copy(slot, f))
				continue
			}
			if seg.Reset(f, h, 0) != nil {
				p.oversize.Add(1)
				continue
			}
			p.superFrames.Add(1)
			for seg.More() {
				slot := q.slot()
				if slot == nil {
					return nil
				}
				q.commit(seg.Next(slot))
			}
		}
		q.publish()
	}
}

// queueFiller appends frames to a Port's ring for the reader, publishing
// them in groups and waiting for room when the ring is full.
type queueFiller struct {
	p          *Port
	tail, free uint64 // where the next frame goes; room known to be left
	pending    uint64 // frames filled since the last publish
}

// slot returns the buffer for the next frame, waiting for room if needed;
// nil means the port was closed.
func (q *queueFiller) slot() []byte {
	p := q.p
	for q.free == 0 {
		q.publish()
		p.mu.Lock()
		q.tail, q.free = p.tail, uint64(len(p.slots))-(p.tail-p.head)
		p.mu.Unlock()
		if q.free > 0 {
			break
		}
		select {
		case <-p.space:
		case <-p.done:
			return nil
		}
	}
	return p.slots[(q.tail+q.pending)%uint64(len(p.slots))]
}

// commit queues the frame of n bytes just written into the slot.
func (q *queueFiller) commit(n int) {
	q.p.lens[(q.tail+q.pending)%uint64(len(q.p.slots))] = n
	q.pending++
	q.free--
}

// publish hands the frames filled so far to Output.
func (q *queueFiller) publish() {
	if q.pending == 0 {
		return
	}
	p := q.p
	p.readFrames.Add(q.pending)
	p.mu.Lock()
	p.tail += q.pending
	p.mu.Unlock()
	q.tail += q.pending
	q.pending = 0
	p.wakeOutput()
}

// SetPush lets the reader send the frames it queued through push (a
// session's Push) instead of waking the session's writer; push reports
// whether the writer may stay asleep. session.New calls it (the Port is a
// session.PushPort).
func (p *Port) SetPush(push func() bool) { p.push.Store(&push) }

// wakeOutput hands newly queued frames on: pushed out by the reader itself
// when the session can take them at once, else signalled to the writers.
func (p *Port) wakeOutput() {
	if push := p.push.Load(); push == nil || !(*push)() {
		select {
		case p.ready <- struct{}{}:
		default:
		}
	}
}

// Close stops Run and removes the device.
func (p *Port) Close() error {
	var err error
	p.once.Do(func() {
		close(p.done)
		err = p.dev.Close()
	})
	return err
}

// Input writes frames received from the VPN into the device.
func (p *Port) Input(frames [][]byte) {
	if p.coalescers != nil {
		p.inputOffload(frames)
		return
	}
	for _, f := range frames {
		if err := p.dev.Write(f); err != nil {
			p.writeErrors.Add(1)
			continue
		}
		p.written.Add(1)
	}
}

// inputOffload writes frames behind a virtio_net_hdr, runs of one TCP
// flow merged into one write.
func (p *Port) inputOffload(frames [][]byte) {
	var c *offload.Coalescer
	select {
	case c = <-p.coalescers:
	default:
		c = offload.NewCoalescer()
	}
	written, merged, failed := c.WriteBatch(frames, p.dev.Write)
	select {
	case p.coalescers <- c:
	default:
	}
	p.written.Add(uint64(written))
	if merged > 0 {
		p.mergedWrites.Add(uint64(merged))
	}
	if failed > 0 {
		p.writeErrors.Add(uint64(failed))
	}
}

// Ready is signalled when frames are queued for Output.
func (p *Port) Ready() <-chan struct{} { return p.ready }

// Output passes up to limit queued frames to emit and returns how many.
func (p *Port) Output(limit int, emit func(frame []byte)) int {
	q := uint64(len(p.slots))
	p.mu.Lock()
	n := min(uint64(limit), p.tail-p.head)
	for i := uint64(0); i < n; i++ {
		j := (p.head + i) % q
		emit(p.slots[j][:p.lens[j]])
	}
	p.head += n
	p.mu.Unlock()
	if n > 0 {
		select {
		case p.space <- struct{}{}:
		default:
		}
		// More may be left for another writer.
		if n == uint64(limit) {
			select {
			case p.ready <- struct{}{}:
			default:
			}
		}
	}
	return int(n)
}

// PortStats count the frames that went through a Port.
type PortStats struct {
	FromDevice  uint64 // frames read from the TAP and queued
	Dropped     uint64 // frames read from the TAP that were too short, over 1600 bytes or had bad offload headers
	ToDevice    uint64 // frames written into the TAP
	WriteErrors uint64 // frames the TAP refused
	// With offload: super-frames read and cut into FromDevice frames, and
	// writes that carried several of the ToDevice frames at once.
	SuperFrames  uint64
	MergedWrites uint64
}

// Stats returns the port's counters.
func (p *Port) Stats() PortStats {
	return PortStats{
		FromDevice: p.readFrames.Load(), Dropped: p.oversize.Load(),
		ToDevice: p.written.Load(), WriteErrors: p.writeErrors.Load(),
		SuperFrames: p.superFrames.Load(), MergedWrites: p.mergedWrites.Load(),
	}
}
