package tap

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
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
type Port struct {
	dev   *Device
	ready chan struct{}
	space chan struct{}
	done  chan struct{}
	once  sync.Once

	mu         sync.Mutex
	slots      [][]byte // each maxFrame bytes, reused forever
	lens       []int
	head, tail uint64 // frames [head, tail) are queued; guarded by mu

	readFrames, oversize, written, writeErrors atomic.Uint64
}

// Frame limits. The SoftEther data phase carries frames of up to 1600 bytes;
// the slots are a little larger so that an oversize frame is noticed and
// dropped rather than silently truncated.
const (
	maxFrame  = 1600
	slotSize  = 2048
	readBatch = 64
)

// NewPort makes a port for dev with a queue of queueLen frames (0 means
// 1024). Start moving frames with Run.
func NewPort(dev *Device, queueLen int) *Port {
	if queueLen <= 0 {
		queueLen = 1024
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
	return p
}

// Run reads frames from the device into the queue until Close (it then
// returns nil) or a read error.
func (p *Port) Run() error {
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
			if sizes[i] > maxFrame || sizes[i] < 14 {
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
	for _, f := range frames {
		if err := p.dev.Write(f); err != nil {
			p.writeErrors.Add(1)
			continue
		}
		p.written.Add(1)
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
	Dropped     uint64 // frames read from the TAP that were too short or over 1600 bytes
	ToDevice    uint64 // frames written into the TAP
	WriteErrors uint64 // frames the TAP refused
}

// Stats returns the port's counters.
func (p *Port) Stats() PortStats {
	return PortStats{
		FromDevice: p.readFrames.Load(), Dropped: p.oversize.Load(),
		ToDevice: p.written.Load(), WriteErrors: p.writeErrors.Load(),
	}
}
